//! [`ContentHash`]: the BLAKE3 hash that names every original.

use std::fmt;
use std::str::FromStr;

/// The BLAKE3 hash of an original's bytes: its key in every store and every region.
///
/// Rendered as 64 lowercase hexadecimal characters, exactly as `b3sum` prints it. Parsing is
/// strict: anything but 64 characters from `[0-9a-f]` is rejected, so a parsed hash is always safe
/// to use as a file name or an object key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash([u8; 32]);

/// The error returned when a string is not a valid [`ContentHash`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid content hash {shown:?}: expected 64 lowercase hex characters")]
pub struct ParseHashError {
    shown: String,
}

impl ContentHash {
    /// The length of the hex rendering.
    pub const HEX_LEN: usize = 64;

    /// Hashes `data` with BLAKE3.
    pub fn of(data: &[u8]) -> Self {
        Self(*blake3::hash(data).as_bytes())
    }

    /// Wraps 32 raw BLAKE3 output bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64-character lowercase hex rendering.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }

    /// Parses a hash, accepting only 64 lowercase hex characters (the same as [`FromStr`]).
    pub fn parse(s: &str) -> Result<Self, ParseHashError> {
        s.parse()
    }
}

impl From<blake3::Hash> for ContentHash {
    fn from(hash: blake3::Hash) -> Self {
        Self(*hash.as_bytes())
    }
}

/// Parses the 64-character lowercase hex rendering (what [`Display`](fmt::Display) prints).
///
/// Anything else is a [`ParseHashError`]: another length, uppercase digits, a sign, whitespace,
/// a path separator. Only one spelling is accepted so that a hash names exactly one file, object
/// key and URL (the server rejects `/THUMB/.../ABCD...` rather than caching it twice).
impl FromStr for ContentHash {
    type Err = ParseHashError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseHashError {
            shown: crate::error::shown(s),
        };
        // `blake3::Hash::from_hex` also takes uppercase digits: check the spelling first.
        let lowercase_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if s.len() != Self::HEX_LEN || !s.bytes().all(lowercase_hex) {
            return Err(err());
        }
        blake3::Hash::from_hex(s).map(Self::from).map_err(|_| err())
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&blake3::Hash::from_bytes(self.0).to_hex())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_b3sum() {
        // `printf abc | b3sum`
        let h = ContentHash::of(b"abc");
        assert_eq!(
            h.to_string(),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        assert_eq!(h.to_string().parse::<ContentHash>(), Ok(h));
    }

    #[test]
    fn strict_parsing() {
        let good = ContentHash::of(b"x").to_string();
        assert!(good.parse::<ContentHash>().is_ok());
        assert!(good.to_uppercase().parse::<ContentHash>().is_err());
        assert!(good[..63].parse::<ContentHash>().is_err());
        assert!(format!("{good}0").parse::<ContentHash>().is_err());
        assert!(format!("../{}", &good[3..]).parse::<ContentHash>().is_err());
        assert!(format!(" {}", &good[1..]).parse::<ContentHash>().is_err());
        assert!("".parse::<ContentHash>().is_err());
        // `from_str_radix` would take a sign: a hex pair like "+a" must not parse.
        assert!(format!("+a{}", &good[2..]).parse::<ContentHash>().is_err());
        let mut multibyte = good.clone();
        multibyte.replace_range(0..2, "é");
        assert!(multibyte.parse::<ContentHash>().is_err());
    }
}
