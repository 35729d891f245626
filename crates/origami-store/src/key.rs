//! [`DerivedKey`]: the key of a derived object (a rendition cached next to its original).

use std::fmt;

use crate::error::{shown, StoreError};
use crate::hash::ContentHash;

/// The key of a derived object: `derived/<hash>/<spec>`.
///
/// The spec is opaque to the store (the engine's canonical operation string, such as
/// `thumb/400/300/q/75.webp`) but validated, so that no odd key reaches a file system or a bucket:
/// 1 to [`DerivedKey::MAX_SPEC_LEN`] characters from `[a-z0-9/._-]`, made of non-empty `/`-separated
/// segments none of which is `.` or `..` (so no leading, trailing or doubled `/`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DerivedKey {
    hash: ContentHash,
    spec: String,
}

impl DerivedKey {
    /// The longest spec accepted, in bytes.
    pub const MAX_SPEC_LEN: usize = 256;

    /// Builds the key of the rendition `spec` of the original `hash`, validating `spec`.
    pub fn new(hash: ContentHash, spec: impl Into<String>) -> Result<Self, StoreError> {
        let spec = spec.into();
        validate_spec(&spec)?;
        Ok(Self { hash, spec })
    }

    /// The original's hash.
    pub fn hash(&self) -> &ContentHash {
        &self.hash
    }

    /// The validated spec.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// The key relative to a store's root: `derived/<hash>/<spec>`.
    pub fn path(&self) -> String {
        format!("derived/{}/{}", self.hash, self.spec)
    }
}

impl fmt::Display for DerivedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "derived/{}/{}", self.hash, self.spec)
    }
}

impl fmt::Debug for DerivedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DerivedKey({self})")
    }
}

fn validate_spec(spec: &str) -> Result<(), StoreError> {
    let invalid = |why: &str| {
        StoreError::InvalidInput(format!("invalid derived spec {:?}: {why}", shown(spec)))
    };
    if spec.is_empty() {
        return Err(invalid("empty"));
    }
    if spec.len() > DerivedKey::MAX_SPEC_LEN {
        return Err(invalid("too long"));
    }
    if let Some(c) = spec
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '/' | '.' | '_' | '-'))
    {
        return Err(invalid(&format!("character {c:?} outside [a-z0-9/._-]")));
    }
    for segment in spec.split('/') {
        match segment {
            "" => {
                return Err(invalid(
                    "empty path segment (leading, trailing or doubled '/')",
                ))
            }
            "." | ".." => return Err(invalid("'.' or '..' segment")),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_canonical_specs() {
        let h = ContentHash::of(b"x");
        for spec in [
            "thumb/400/300/q/75.webp",
            "w/100.avif",
            "a",
            "crop/0.5_0.5/blur-2.png",
            "x..y",
        ] {
            let key = DerivedKey::new(h, spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(key.path(), format!("derived/{h}/{spec}"));
        }
    }

    #[test]
    fn rejects_odd_specs() {
        let h = ContentHash::of(b"x");
        let long = "a".repeat(DerivedKey::MAX_SPEC_LEN + 1);
        for spec in [
            "",
            "/abs",
            "trailing/",
            "a//b",
            "..",
            "a/../b",
            "./a",
            "a/.",
            "UPPER",
            "sp ace",
            "a\\b",
            "a\0b",
            "é",
            "a?b",
            "%2e%2e",
            &long,
        ] {
            assert!(
                matches!(DerivedKey::new(h, spec), Err(StoreError::InvalidInput(_))),
                "{spec:?} should be rejected"
            );
        }
        assert!(DerivedKey::new(h, "a".repeat(DerivedKey::MAX_SPEC_LEN)).is_ok());
    }
}
