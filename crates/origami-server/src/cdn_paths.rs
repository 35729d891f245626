//! [`cdn_paths`]: every public path a CDN may have cached for an original, for invalidating
//! them after a delete (URLs are immutable and cached for a year; no wildcard can pick one
//! original's paths out of `/thumb/*`).

use std::collections::BTreeSet;

use origami_store::ContentHash;

use crate::config::ServerConfig;
use crate::path::sign;

/// The public paths of the original `hash` whose derivatives had the derived-space `specs`
/// (from [`DeleteOutcome::derived`](origami_store::DeleteOutcome::derived)), as `config`
/// serves them: the original (under every extension), its info and ThumbHash routes, each derivative with its
/// extension and without (negotiated), each preset that expands to one, and with signing keys
/// the signed form of every path under each key. Sorted, one per line of an invalidation
/// batch. Working copies are not public and are left out.
pub fn cdn_paths(hash: &ContentHash, specs: &[String], config: &ServerConfig) -> Vec<String> {
    let mut paths = BTreeSet::new();
    for route in ["original", "info", "thumbhash"] {
        paths.insert(format!("/{route}/{hash}"));
    }
    paths.insert(format!("/thumbhash/{hash}.png"));
    // `/original/{hash}.{ext}` answers under the extension of the original's format, which
    // the store does not record: every one the server knows.
    for ext in ["jpg", "jpeg", "png", "webp", "avif", "gif"] {
        paths.insert(format!("/original/{hash}.{ext}"));
    }
    for spec in specs {
        let Some((ops, ext)) = public_rendition(spec) else {
            continue;
        };
        let mut forms = vec![ops.to_owned()];
        for (name, pipeline) in &config.presets {
            let preset = pipeline.to_string();
            if let Some(rest) = ops.strip_prefix(preset.as_str()) {
                if rest.is_empty() || rest.starts_with("/dpr/") || rest.starts_with("/q/") {
                    forms.push(format!("p/{name}{rest}"));
                }
            }
        }
        for form in forms {
            let prefix = if form.is_empty() {
                String::from("/")
            } else {
                format!("/{form}/")
            };
            paths.insert(format!("{prefix}{hash}.{ext}"));
            paths.insert(format!("{prefix}{hash}"));
        }
    }
    if config.signing_keys.is_empty() {
        return paths.into_iter().collect();
    }
    let mut all: BTreeSet<String> = BTreeSet::new();
    for path in &paths {
        for key in &config.signing_keys {
            all.insert(format!("/s/{}{path}", sign(key, path)));
        }
        all.insert(path.clone());
    }
    all.into_iter().collect()
}

/// The operations (empty for a plain conversion) and extension of a derived-space spec
/// `v<engine>/<ops>.<ext>` or `v<engine>/convert.<ext>`; `None` for what is not a public
/// rendition (a working copy, a spec of another shape).
fn public_rendition(spec: &str) -> Option<(&str, &str)> {
    let (version, rest) = spec.split_once('/')?;
    if !version.starts_with('v') || rest.starts_with("working-copy/") {
        return None;
    }
    let (ops, ext) = rest.rsplit_once('.')?;
    Some((if ops == "convert" { "" } else { ops }, ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_public_form_of_every_rendition() {
        let hash = ContentHash::of(b"x");
        let mut config = ServerConfig::default();
        config
            .presets
            .insert("avatar".into(), "thumb/128/128/g/smart".parse().unwrap());
        let specs = [
            "v3/thumb/128/128/g/smart/dpr/2.webp".to_owned(),
            "v3/fit/400/400.jpg".to_owned(),
            "v3/convert.png".to_owned(),
            "v3/working-copy/2048.ogwc".to_owned(),
        ];
        let paths = cdn_paths(&hash, &specs, &config);
        for expected in [
            format!("/thumb/128/128/g/smart/dpr/2/{hash}.webp"),
            format!("/thumb/128/128/g/smart/dpr/2/{hash}"),
            format!("/p/avatar/dpr/2/{hash}.webp"),
            format!("/p/avatar/dpr/2/{hash}"),
            format!("/fit/400/400/{hash}.jpg"),
            format!("/fit/400/400/{hash}"),
            format!("/{hash}.png"),
            format!("/{hash}"),
            format!("/original/{hash}"),
            format!("/original/{hash}.png"),
            format!("/info/{hash}"),
            format!("/thumbhash/{hash}"),
            format!("/thumbhash/{hash}.png"),
        ] {
            assert!(
                paths.contains(&expected),
                "{expected} missing from {paths:#?}"
            );
        }
        assert!(!paths.iter().any(|p| p.contains("working-copy")));
        // Signed forms, under every key.
        config.signing_keys = vec![
            crate::config::SigningKey::new(*b"0123456789abcdef"),
            crate::config::SigningKey::new(*b"fedcba9876543210"),
        ];
        let signed = cdn_paths(&hash, &specs, &config);
        let path = format!("/fit/400/400/{hash}.jpg");
        for key in &config.signing_keys {
            assert!(signed.contains(&format!("/s/{}{path}", sign(key, &path))));
        }
    }
}
