//! Parsing of image URLs (`/{ops}/{hash}.{ext}`, optionally signed) and format negotiation.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use origami_engine::{ImageFormat, Op, Pipeline};
use origami_store::ContentHash;
use sha2::Sha256;

use crate::api_error::ApiError;
use crate::config::{ServerConfig, SigningKey, Size};

/// Length of a URL signature, in base64url characters (24 bytes of the HMAC).
pub const SIGNATURE_LEN: usize = 32;

/// A parsed transform URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRequest {
    /// The original's hash.
    pub hash: ContentHash,
    /// The operations (canonical).
    pub pipeline: Pipeline,
    /// The output format from the extension; `None` when the URL has none (negotiated).
    pub format: Option<ImageFormat>,
}

/// Signs the unsigned part of a URL: `rest` is the path after `/s/{signature}` (starting with
/// `/`, e.g. `/thumb/400/300/<hash>.jpg`). Returns the first [`SIGNATURE_LEN`] characters of the
/// unpadded base64url HMAC-SHA256 of `rest` under `key`.
pub fn sign(key: &SigningKey, rest: &str) -> String {
    let mut encoded = URL_SAFE_NO_PAD.encode(mac(key, rest).finalize().into_bytes());
    encoded.truncate(SIGNATURE_LEN);
    encoded
}

fn mac(key: &SigningKey, rest: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(rest.as_bytes());
    mac
}

/// Checks `signature` over `rest` against every key (constant-time per key).
pub fn verify(keys: &[SigningKey], signature: &str, rest: &str) -> bool {
    if signature.len() != SIGNATURE_LEN {
        return false;
    }
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    keys.iter()
        .any(|key| mac(key, rest).verify_truncated_left(&bytes).is_ok())
}

/// Parses an original's name: 64 lowercase hex digits, the BLAKE3 hash of its bytes.
pub(crate) fn parse_hash(hash: &str) -> Result<ContentHash, ApiError> {
    hash.parse().map_err(|_| {
        ApiError::bad_path("the image name must be a 64-character lowercase hex BLAKE3 hash")
    })
}

/// Parses `{hash}` or `{hash}.{ext}` (extension lowercase, one of the output formats).
pub fn parse_file(file: &str) -> Result<(ContentHash, Option<ImageFormat>), ApiError> {
    let (hash, ext) = match file.split_once('.') {
        Some((hash, ext)) => (hash, Some(ext)),
        None => (file, None),
    };
    let hash = parse_hash(hash)?;
    let format = match ext {
        None => None,
        Some(ext) => Some(
            ImageFormat::from_extension(ext)
                .filter(|f| f.is_output() && ext.bytes().all(|b| b.is_ascii_lowercase()))
                .ok_or_else(|| {
                    ApiError::bad_path(
                        "the extension must be one of jpg, jpeg, png, webp, avif, gif",
                    )
                })?,
        ),
    };
    Ok((hash, format))
}

/// Checks the signature of a signed path `/s/{signature}/{rest}` against `keys` and returns
/// `/{rest}`, the part that was signed; 403 when the path is unsigned or the signature wrong.
fn verify_signed<'a>(path: &'a str, keys: &[SigningKey]) -> Result<&'a str, ApiError> {
    let signed = path.strip_prefix("/s/").ok_or_else(|| {
        ApiError::forbidden("signature_required", "this server only serves signed URLs")
    })?;
    let (signature, unsigned) = signed
        .split_once('/')
        .ok_or_else(|| ApiError::forbidden("bad_signature", "missing signed path"))?;
    let rest = &signed[signature.len()..];
    debug_assert!(rest.starts_with('/') && unsigned.len() + 1 == rest.len());
    if !verify(keys, signature, rest) {
        return Err(ApiError::forbidden(
            "bad_signature",
            "the URL signature is invalid",
        ));
    }
    Ok(rest)
}

/// Applies the signing policy to a non-transform read (`/original/`, `/info/`,
/// `/thumbhash/`): with signing keys configured, only `/s/{signature}/...` is served (an
/// original is the full-resolution image, the very thing signing protects); without keys, a
/// signed form is unknown (404).
pub(crate) fn check_signed_read(path: &str, config: &ServerConfig) -> Result<(), ApiError> {
    if config.signing_keys.is_empty() {
        return match path.starts_with("/s/") {
            true => Err(ApiError::not_found(
                "signed URLs are not enabled on this server",
            )),
            false => Ok(()),
        };
    }
    verify_signed(path, &config.signing_keys).map(|_| ())
}

/// Parses a transform URL path (`/{ops}/{hash}[.{ext}]`, or `/s/{signature}/{ops}/...` when
/// signing keys are configured) and applies the signature and size policies.
pub fn parse_transform(path: &str, config: &ServerConfig) -> Result<ImageRequest, ApiError> {
    let rest = if config.signing_keys.is_empty() {
        path
    } else {
        verify_signed(path, &config.signing_keys)?
    };
    let rest = rest
        .strip_prefix('/')
        .ok_or_else(|| ApiError::bad_path("bad path"))?;
    let (ops, file) = match rest.rsplit_once('/') {
        Some((ops, file)) => (ops, file),
        None => ("", rest),
    };
    let (hash, format) = parse_file(file)?;
    if ops.is_empty() && rest.contains('/') {
        return Err(ApiError::bad_path("empty path segment"));
    }
    if let Some(preset) = ops.strip_prefix("p/") {
        let pipeline = expand_preset(preset, config)?;
        return Ok(ImageRequest {
            hash,
            pipeline,
            format,
        });
    }
    if config.presets_only {
        return Err(ApiError::forbidden(
            "presets_only",
            "this server serves presets only: /p/{name}/{hash}.{ext}",
        ));
    }
    let pipeline: Pipeline = ops.parse().map_err(ApiError::from)?;
    if !displays_as(&pipeline, ops) {
        return Err(ApiError::bad_path(format!(
            "non-canonical operations; write {pipeline}"
        )));
    }
    if let Some(allowed) = &config.allowed_sizes {
        for op in pipeline.ops() {
            if let Op::Thumb { width, height, .. }
            | Op::Fit { width, height }
            | Op::Pad { width, height } = *op
            {
                let size = Size { width, height };
                if !allowed.contains(&size) {
                    return Err(ApiError::new(
                        axum::http::StatusCode::BAD_REQUEST,
                        "size_not_allowed",
                        format!("size {size} is not allowed on this server"),
                    ));
                }
            }
        }
    }
    Ok(ImageRequest {
        hash,
        pipeline,
        format,
    })
}

/// The pipeline of `p/{name}[/dpr/{n}][/q/{n}]` (`preset` is what follows `p/`): the preset's
/// expansion with the URL's `dpr` and `q`, if any. The expansion is what the cache key and the
/// ETag are made of, so editing a preset changes its outputs' ETags. Unknown name: 404.
fn expand_preset(preset: &str, config: &ServerConfig) -> Result<Pipeline, ApiError> {
    let (name, modifiers) = preset.split_once('/').unwrap_or((preset, ""));
    let expansion = config
        .presets
        .get(name)
        .ok_or_else(|| ApiError::not_found(format!("no preset named {name:?} on this server")))?;
    if modifiers.is_empty() {
        return Ok(expansion.clone());
    }
    let extra: Pipeline = modifiers.parse().map_err(ApiError::from)?;
    if !extra.ops().is_empty() || !displays_as(&extra, modifiers) {
        return Err(ApiError::bad_path(
            "a preset may be followed only by dpr/{n} and q/{n}, in that order",
        ));
    }
    let mut pipeline = expansion.clone();
    if extra.dpr() != 1 {
        if pipeline.dpr() != 1 {
            return Err(ApiError::bad_path(format!(
                "preset {name:?} already sets dpr"
            )));
        }
        pipeline = pipeline.with_dpr(extra.dpr()).map_err(ApiError::from)?;
    }
    if let Some(quality) = extra.quality() {
        if pipeline.quality().is_some() {
            return Err(ApiError::bad_path(format!(
                "preset {name:?} already sets q"
            )));
        }
        pipeline = pipeline.with_quality(quality).map_err(ApiError::from)?;
    }
    Ok(pipeline)
}

/// Whether `value` formats exactly as `text`, compared as it is written (no allocation: this
/// runs on every request).
fn displays_as(value: &impl std::fmt::Display, text: &str) -> bool {
    struct Compare<'a>(&'a str);
    impl std::fmt::Write for Compare<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            // A mismatch ends formatting early with an error.
            self.0 = self.0.strip_prefix(s).ok_or(std::fmt::Error)?;
            Ok(())
        }
    }
    let mut rest = Compare(text);
    std::fmt::write(&mut rest, format_args!("{value}")).is_ok() && rest.0.is_empty()
}

/// Picks the output format for a URL without extension from the `Accept` header: AVIF, then
/// WebP, then JPEG (PNG when the source has alpha). Only explicit media types count (`*/*` does
/// not promise AVIF or WebP support); `q=0` excludes a type.
pub fn negotiate(accept: Option<&str>, source_has_alpha: bool) -> ImageFormat {
    let accept = accept.unwrap_or("");
    let accepts = |mime: &str| {
        accept.split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let matches = parts.next().is_some_and(|m| m.eq_ignore_ascii_case(mime));
            let zero = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            matches && !zero
        })
    };
    if accepts("image/avif") {
        ImageFormat::Avif
    } else if accepts("image/webp") {
        ImageFormat::WebP
    } else if source_has_alpha {
        ImageFormat::Png
    } else {
        ImageFormat::Jpeg
    }
}

/// True when the negotiated format does not depend on the source (AVIF or WebP is accepted).
pub fn negotiation_needs_source(accept: Option<&str>) -> bool {
    !matches!(
        negotiate(accept, false),
        ImageFormat::Avif | ImageFormat::WebP
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";

    #[test]
    fn parses_canonical_paths() {
        let config = ServerConfig::default();
        let req = parse_transform(&format!("/thumb/400/300/{HASH}.webp"), &config).unwrap();
        assert_eq!(req.pipeline.to_string(), "thumb/400/300");
        assert_eq!(req.format, Some(ImageFormat::WebP));
        let req = parse_transform(&format!("/{HASH}"), &config).unwrap();
        assert!(req.pipeline.is_empty());
        assert_eq!(req.format, None);
        for bad in [
            format!("/thumb/0400/300/{HASH}.webp"),
            format!("/thumb/400/300/{HASH}.WEBP"),
            format!("/thumb/400/300/{HASH}.tiff"),
            format!("/thumb/400/300/{}.jpg", HASH.to_uppercase()),
            format!("/thumb/400/300/g/center/{HASH}.jpg"),
            format!("//{HASH}.jpg"),
            format!("/thumb/400/300//{HASH}.jpg"),
            "/thumb/400/300/abc.jpg".to_owned(),
        ] {
            let err = parse_transform(&bad, &config).unwrap_err();
            assert_eq!(err.status, 400, "{bad}");
        }
    }

    #[test]
    fn displays_as_compares_the_whole_text() {
        let pipeline: Pipeline = "thumb/400/300/q/80".parse().unwrap();
        assert!(displays_as(&pipeline, "thumb/400/300/q/80"));
        assert!(!displays_as(&pipeline, "thumb/400/300"));
        assert!(!displays_as(&pipeline, "thumb/400/300/q/80/"));
        assert!(!displays_as(&pipeline, "thumb/400/301/q/80"));
        assert!(displays_as(&Pipeline::default(), ""));
    }

    #[test]
    fn signatures_and_rotation() {
        let old = SigningKey::new(b"old-key-0123456789".to_vec());
        let new = SigningKey::new(b"new-key-0123456789".to_vec());
        let rest = format!("/thumb/400/300/{HASH}.jpg");
        let sig = sign(&old, &rest);
        assert_eq!(sig.len(), SIGNATURE_LEN);
        let config = ServerConfig {
            signing_keys: vec![new.clone(), old.clone()],
            ..ServerConfig::default()
        };
        assert!(parse_transform(&format!("/s/{sig}{rest}"), &config).is_ok());
        assert!(parse_transform(&format!("/s/{}{rest}", sign(&new, &rest)), &config).is_ok());
        let tampered = format!("/s/{sig}/thumb/400/301/{HASH}.jpg");
        assert_eq!(parse_transform(&tampered, &config).unwrap_err().status, 403);
        assert_eq!(parse_transform(&rest, &config).unwrap_err().status, 403);
        let short = &sig[..31];
        assert_eq!(
            parse_transform(&format!("/s/{short}{rest}"), &config)
                .unwrap_err()
                .status,
            403
        );
    }

    #[test]
    fn negotiates() {
        let chrome = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
        assert_eq!(negotiate(Some(chrome), true), ImageFormat::Avif);
        assert_eq!(negotiate(Some("image/webp,*/*"), false), ImageFormat::WebP);
        assert_eq!(
            negotiate(Some("image/avif;q=0, image/webp"), false),
            ImageFormat::WebP
        );
        assert_eq!(negotiate(Some("*/*"), false), ImageFormat::Jpeg);
        assert_eq!(negotiate(None, true), ImageFormat::Png);
        assert!(negotiation_needs_source(Some("*/*")));
        assert!(!negotiation_needs_source(Some(chrome)));
    }
}
