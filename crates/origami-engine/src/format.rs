//! Image formats: detection from magic bytes, file extensions and media types.

use std::fmt;
use std::str::FromStr;

use crate::error::EngineError;

/// An image format the engine knows about, as input or output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ImageFormat {
    /// JPEG (JFIF/EXIF), baseline or progressive.
    Jpeg,
    /// PNG, any bit depth and colour type.
    Png,
    /// WebP, lossy or lossless.
    WebP,
    /// AVIF (AV1 in HEIF).
    Avif,
    /// GIF; only the first frame is used.
    Gif,
}

impl ImageFormat {
    /// Every format, in the order used for documentation.
    pub const ALL: [ImageFormat; 5] = [
        ImageFormat::Jpeg,
        ImageFormat::Png,
        ImageFormat::WebP,
        ImageFormat::Avif,
        ImageFormat::Gif,
    ];

    /// Detects the format from the first bytes of a file (the first 32 are enough, when the
    /// whole file is not at hand). Returns `None` for anything else, including an empty input.
    ///
    /// An ISO-BMFF file is AVIF when its `ftyp` box names `avif` or `avis` as its major brand
    /// or as one of its compatible brands: many encoders write the major brand `mif1` and list
    /// `avif` among the compatible ones. HEIC (`heic`, `mif1` brands only) is not AVIF.
    pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageFormat::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageFormat::Png)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(ImageFormat::Gif)
        } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(ImageFormat::WebP)
        } else if is_avif(bytes) {
            Some(ImageFormat::Avif)
        } else {
            None
        }
    }

    /// The format for a file extension (`jpg`, `jpeg`, `png`, `webp`, `avif`, `gif`), ASCII
    /// case-insensitive.
    pub fn from_extension(ext: &str) -> Option<ImageFormat> {
        let ext = ext.to_ascii_lowercase();
        match ext.as_str() {
            "jpg" | "jpeg" => Some(ImageFormat::Jpeg),
            "png" => Some(ImageFormat::Png),
            "webp" => Some(ImageFormat::WebP),
            "avif" => Some(ImageFormat::Avif),
            "gif" => Some(ImageFormat::Gif),
            _ => None,
        }
    }

    /// The canonical file extension (`jpg` for JPEG).
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Png => "png",
            ImageFormat::WebP => "webp",
            ImageFormat::Avif => "avif",
            ImageFormat::Gif => "gif",
        }
    }

    /// The media type, e.g. `image/jpeg`.
    pub fn mime_type(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::WebP => "image/webp",
            ImageFormat::Avif => "image/avif",
            ImageFormat::Gif => "image/gif",
        }
    }

    /// Whether images in this format can carry an alpha channel in the engine's output.
    pub fn supports_alpha(self) -> bool {
        !matches!(self, ImageFormat::Jpeg)
    }

    /// The quality used when a pipeline does not set `q/{n}`; `None` for lossless formats.
    pub fn default_quality(self) -> Option<u8> {
        match self {
            ImageFormat::Jpeg => Some(80),
            ImageFormat::WebP => Some(80),
            ImageFormat::Avif => Some(60),
            ImageFormat::Png | ImageFormat::Gif => None,
        }
    }
}

/// Whether `bytes` start with an ISO-BMFF `ftyp` box whose major brand, or a compatible brand
/// within the box (as far as `bytes` go), is `avif` (still image) or `avis` (sequence).
fn is_avif(bytes: &[u8]) -> bool {
    let Some(head) = bytes.get(..12).filter(|h| &h[4..8] == b"ftyp") else {
        return false;
    };
    let is_avif_brand = |brand: &[u8]| brand == b"avif" || brand == b"avis";
    if is_avif_brand(&head[8..12]) {
        return true;
    }
    let box_len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    // Size 0 means "to the end of the file"; a cut-off head holds what it holds.
    let end = if box_len == 0 {
        bytes.len()
    } else {
        box_len.min(bytes.len())
    };
    // Compatible brands follow the major brand and the 4-byte minor version.
    bytes
        .get(16..end)
        .is_some_and(|brands| brands.chunks_exact(4).any(is_avif_brand))
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImageFormat::Jpeg => "jpeg",
            ImageFormat::Png => "png",
            ImageFormat::WebP => "webp",
            ImageFormat::Avif => "avif",
            ImageFormat::Gif => "gif",
        })
    }
}

impl FromStr for ImageFormat {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageFormat::from_extension(s).ok_or_else(|| {
            EngineError::Unsupported(format!(
                "unknown image format {s:?}; use one of jpg, png, webp, avif, gif"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_magic_bytes_and_rejects_others() {
        assert_eq!(
            ImageFormat::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(
            ImageFormat::sniff(b"\x89PNG\r\n\x1a\n...."),
            Some(ImageFormat::Png)
        );
        assert_eq!(ImageFormat::sniff(b"GIF89a"), Some(ImageFormat::Gif));
        assert_eq!(
            ImageFormat::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageFormat::WebP)
        );
        assert_eq!(
            ImageFormat::sniff(b"\0\0\0\x1cftypavif"),
            Some(ImageFormat::Avif)
        );
        assert_eq!(ImageFormat::sniff(b""), None);
        assert_eq!(ImageFormat::sniff(b"hello world"), None);
    }

    #[test]
    fn sniffs_avif_by_major_or_compatible_brand() {
        let avif = Some(ImageFormat::Avif);
        let cases: [(&[u8], Option<ImageFormat>, &str); 7] = [
            (
                b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf",
                avif,
                "major brand avif",
            ),
            (
                b"\0\0\0\x1cftypavis\0\0\0\0avismsf1miaf",
                avif,
                "major brand avis",
            ),
            (
                b"\0\0\0\x1cftypmif1\0\0\0\0mif1avifmiaf",
                avif,
                "avif among the compatible brands",
            ),
            (
                b"\0\0\0\x18ftypheic\0\0\0\0mif1heic",
                None,
                "HEIC is ISO-BMFF, not AVIF",
            ),
            (
                b"\0\0\0\x18ftypmif1\0\0\0\0mif1heic",
                None,
                "mif1 without avif",
            ),
            (
                b"\0\0\0\x14ftypmif1\0\0\0\0mif1avif",
                None,
                "a brand past the box's end belongs to the next box",
            ),
            (
                b"\0\0\x01\0ftypmif1\0\0\0\0avif",
                avif,
                "a head cut off inside the box is read as far as it goes",
            ),
        ];
        for (head, expected, case) in cases {
            assert_eq!(ImageFormat::sniff(head), expected, "{case}");
        }
        assert_eq!(ImageFormat::sniff(b"\0\0\0\x1cftypmif1\0\0"), None);
        assert_eq!(ImageFormat::sniff(b"\0\0\0\x1cftyp"), None);
    }

    #[test]
    fn extensions_round_trip() {
        for f in ImageFormat::ALL {
            assert_eq!(ImageFormat::from_extension(f.extension()), Some(f));
        }
        assert_eq!(ImageFormat::from_extension("JPEG"), Some(ImageFormat::Jpeg));
        assert_eq!(ImageFormat::from_extension("tiff"), None);
    }
}
