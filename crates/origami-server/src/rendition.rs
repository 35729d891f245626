//! [`Rendition`]: the identity of one derivative (source hash, canonical operations, output
//! format, engine version), from which its result-cache key, derived-space spec and strong ETag
//! all come.

use origami_engine::{ImageFormat, Pipeline, ENGINE_VERSION};
use origami_store::ContentHash;

/// The derived-space spec (and cache key suffix) of a rendition: `v<engine>/<ops>.<ext>`, or
/// `v<engine>/convert.<ext>` for the empty pipeline.
pub fn rendition_spec(pipeline: &Pipeline, format: ImageFormat) -> String {
    let mut spec = String::with_capacity(48);
    push_spec(&mut spec, pipeline, format);
    spec
}

/// Appends the spec of [`rendition_spec`] to `out`.
fn push_spec(out: &mut String, pipeline: &Pipeline, format: ImageFormat) {
    use std::fmt::Write as _;
    // Writing to a String cannot fail.
    let _ = write!(out, "v{ENGINE_VERSION}/{pipeline}");
    if pipeline.ops().is_empty() {
        out.push_str("convert");
    }
    out.push('.');
    out.push_str(format.extension());
}

/// The strong ETag of a rendition: a digest of its cache key `<source hash>/<spec>`, which holds
/// the source hash, the canonical operations, the output format and the engine version.
pub fn rendition_etag(hash: &ContentHash, pipeline: &Pipeline, format: ImageFormat) -> String {
    Rendition::new(*hash, pipeline.clone(), format, false).etag()
}

/// One rendition's identity, computed once per request: the result-cache key, the derived-space
/// spec and the ETag all come from it.
#[derive(Debug, Clone)]
pub struct Rendition {
    hash: ContentHash,
    pipeline: Pipeline,
    format: ImageFormat,
    negotiated: bool,
    /// `<hash>/<spec>`, and `<hash>/<spec>;negotiated` for a negotiated format: the
    /// result-cache key.
    key: String,
    /// Where `<spec>` starts and ends in `key`.
    spec_at: usize,
    spec_end: usize,
}

/// What a negotiated rendition's key adds to its spec. A format named by `Accept` may fall back
/// (AVIF too large becomes WebP), so its answer is not always the explicit URL's: the two must
/// never share a cache entry or an ETag.
const NEGOTIATED: &str = ";negotiated";

impl Rendition {
    /// `pipeline` of `hash` as `format`; `negotiated` when the format came from `Accept` (an AVIF
    /// asked for that way falls back to WebP when the output is too large for AVIF).
    pub fn new(
        hash: ContentHash,
        pipeline: Pipeline,
        format: ImageFormat,
        negotiated: bool,
    ) -> Self {
        use std::fmt::Write as _;
        let mut key = String::with_capacity(112);
        // Writing to a String cannot fail.
        let _ = write!(key, "{hash}/");
        let spec_at = key.len();
        push_spec(&mut key, &pipeline, format);
        let spec_end = key.len();
        if negotiated {
            key.push_str(NEGOTIATED);
        }
        Self {
            hash,
            pipeline,
            format,
            negotiated,
            key,
            spec_at,
            spec_end,
        }
    }

    /// The original's hash.
    pub fn hash(&self) -> &ContentHash {
        &self.hash
    }

    /// The canonical operations.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The output format asked for.
    pub fn format(&self) -> ImageFormat {
        self.format
    }

    /// Whether the format was negotiated from `Accept` (rather than named by the URL).
    pub fn negotiated(&self) -> bool {
        self.negotiated
    }

    /// The result-cache key: `<hash>/<spec>`, with `;negotiated` when the format came from
    /// `Accept`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The derived-space spec, `v<engine>/<ops>.<ext>`, of the format asked for.
    pub fn spec(&self) -> &str {
        &self.key[self.spec_at..self.spec_end]
    }

    /// The strong ETag (quoted): the first 32 hex digits of the BLAKE3 digest of the key (so a
    /// negotiated answer's ETag differs from the explicit URL's).
    pub fn etag(&self) -> String {
        // 64 hex digits, of which the ETag keeps 32 (128 bits), in quotes: one allocation.
        let mut etag = ContentHash::of(self.key.as_bytes()).to_string();
        etag.truncate(32);
        etag.insert(0, '"');
        etag.push('"');
        etag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendition_key_names_source_ops_format_and_engine() {
        let hash = ContentHash::of(b"an original");
        let pipeline: Pipeline = "thumb/400/300".parse().unwrap();
        let r = Rendition::new(hash, pipeline.clone(), ImageFormat::WebP, false);
        assert_eq!(r.spec(), format!("v{ENGINE_VERSION}/thumb/400/300.webp"));
        assert_eq!(r.key(), format!("{hash}/{}", r.spec()));
        let convert = Rendition::new(hash, Pipeline::default(), ImageFormat::Png, false);
        assert_eq!(convert.spec(), format!("v{ENGINE_VERSION}/convert.png"));

        let etag = r.etag();
        assert_eq!(etag.len(), 34);
        assert!(etag.starts_with('"') && etag.ends_with('"'));
        assert_eq!(etag, rendition_etag(&hash, &pipeline, ImageFormat::WebP));
        // Every part of the identity changes the ETag.
        let others = [
            rendition_etag(&ContentHash::of(b"another"), &pipeline, ImageFormat::WebP),
            rendition_etag(&hash, &"thumb/400/301".parse().unwrap(), ImageFormat::WebP),
            rendition_etag(&hash, &pipeline, ImageFormat::Jpeg),
        ];
        for other in others {
            assert_ne!(other, etag);
        }

        // A negotiated AVIF may be a WebP fallback: its own cache entry and ETag, the same spec.
        let explicit = Rendition::new(hash, pipeline.clone(), ImageFormat::Avif, false);
        let negotiated = Rendition::new(hash, pipeline, ImageFormat::Avif, true);
        assert_eq!(negotiated.spec(), explicit.spec());
        assert_ne!(negotiated.key(), explicit.key());
        assert_ne!(negotiated.etag(), explicit.etag());
    }
}
