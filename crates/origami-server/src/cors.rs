//! [`CorsOrigins`]: which other origins may read images from scripts (`<canvas>`, `fetch`),
//! and the CORS layer of the read routes.

use std::time::Duration;

use axum::http::{header, HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::ServerError;

/// The origins allowed to read images cross-origin (`[server] cors_allow_origins`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CorsOrigins {
    /// No CORS headers at all (the default): browsers keep other origins' scripts out.
    #[default]
    None,
    /// `*`: any origin (images are public anyway; no credentials are involved).
    Any,
    /// These origins (`https://shop.example`), answered with the request's own origin and
    /// `Vary: Origin`.
    List(Vec<HeaderValue>),
}

impl CorsOrigins {
    /// Parses the configured list: empty (no CORS), `["*"]`, or origins such as
    /// `https://app.example` or `http://localhost:3000` (scheme, host and optional port; no
    /// path, no trailing slash). Errors name the entry and the expected form.
    pub fn parse(origins: &[String]) -> Result<Self, ServerError> {
        if origins.is_empty() {
            return Ok(Self::None);
        }
        if origins.iter().any(|o| o == "*") {
            if origins.len() > 1 {
                return Err(ServerError::Config(
                    "cors_allow_origins: \"*\" allows every origin and must stand alone".into(),
                ));
            }
            return Ok(Self::Any);
        }
        let list = origins
            .iter()
            .map(|origin| {
                let (scheme, rest) = origin.split_once("://").unwrap_or(("", ""));
                let valid = matches!(scheme, "http" | "https")
                    && !rest.is_empty()
                    && !rest.contains('/')
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
                if !valid {
                    return Err(ServerError::Config(format!(
                        "cors_allow_origins: {origin:?} is not an origin; write it as \
                         scheme://host[:port], such as \"https://app.example\", or use \"*\""
                    )));
                }
                HeaderValue::from_str(origin).map_err(|e| ServerError::Config(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self::List(list))
    }

    /// The layer for the read routes (images, originals, info, thumbhash): `None` when CORS is
    /// off. Preflight `OPTIONS` requests are answered by the layer itself.
    pub(crate) fn layer(&self) -> Option<CorsLayer> {
        let base = CorsLayer::new()
            .allow_methods([Method::GET, Method::HEAD])
            // What scripts may read besides the CORS-safelisted headers.
            .expose_headers([
                header::ETAG,
                header::CONTENT_LENGTH,
                HeaderName::from_static("x-origami-region"),
            ])
            .max_age(Duration::from_secs(86_400));
        match self {
            Self::None => None,
            // One answer for every origin: nothing for a cache to vary on.
            Self::Any => Some(base.allow_origin(AllowOrigin::any()).vary([])),
            Self::List(list) => Some(
                base.allow_origin(AllowOrigin::list(list.clone()))
                    .vary([header::ORIGIN]),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_parse_or_say_what_is_expected() {
        assert_eq!(CorsOrigins::parse(&[]).unwrap(), CorsOrigins::None);
        assert_eq!(CorsOrigins::parse(&["*".into()]).unwrap(), CorsOrigins::Any);
        assert!(matches!(
            CorsOrigins::parse(&["https://a.example".into(), "http://localhost:3000".into()]),
            Ok(CorsOrigins::List(list)) if list.len() == 2
        ));
        for bad in [
            "https://a.example/",
            "a.example",
            "ftp://a.example",
            "https://",
        ] {
            let err = CorsOrigins::parse(&[bad.into()]).unwrap_err().to_string();
            assert!(err.contains("scheme://host"), "{bad}: {err}");
        }
        assert!(CorsOrigins::parse(&["*".into(), "https://a.example".into()]).is_err());
    }
}
