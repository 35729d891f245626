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

    /// Parses a hash, accepting only 64 lowercase hex characters.
    pub fn parse(s: &str) -> Result<Self, ParseHashError> {
        s.parse()
    }
}

impl From<blake3::Hash> for ContentHash {
    fn from(hash: blake3::Hash) -> Self {
        Self(*hash.as_bytes())
    }
}

impl FromStr for ContentHash {
    type Err = ParseHashError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseHashError {
            shown: s.chars().take(80).collect(),
        };
        let bytes = s.as_bytes();
        if bytes.len() != Self::HEX_LEN {
            return Err(err());
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = hex_value(pair[0]).ok_or_else(err)?;
            let lo = hex_value(pair[1]).ok_or_else(err)?;
            out[i] = (hi << 4) | lo;
        }
        Ok(Self(out))
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0u8; 64];
        for (i, b) in self.0.iter().enumerate() {
            buf[2 * i] = DIGITS[usize::from(b >> 4)];
            buf[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
        }
        // Every byte written above is ASCII.
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
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
        let mut multibyte = good.clone();
        multibyte.replace_range(0..2, "é");
        assert!(multibyte.parse::<ContentHash>().is_err());
    }
}
