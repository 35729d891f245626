//! Image formats: detection from magic bytes, file extensions and media types.

use std::fmt;
use std::str::FromStr;

use crate::error::EngineError;

/// An image format the engine knows about: the output formats ([`ImageFormat::ALL`]), which
/// are inputs too, and formats read as input only ([`ImageFormat::INPUT_ONLY`]).
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
    /// HEIC/HEIF (input only): HEVC in HEIF, as iPhones write it (grids, alpha, `irot`).
    Heic,
    /// JPEG XL (input only): the first frame, in sRGB.
    Jxl,
    /// SVG (input only): rasterised at its intrinsic size or smaller, without text or
    /// embedded images.
    Svg,
    /// TIFF (input only): 8 or 16 bits, grey, RGB or RGBA, uncompressed, LZW, Deflate or
    /// PackBits; the first image of the file.
    Tiff,
    /// BMP (input only): Windows bitmaps, 1 to 32 bits, RLE included.
    Bmp,
    /// ICO and CUR (input only): the largest image of the icon or cursor, BMP- or PNG-encoded.
    Ico,
    /// QOI (input only): the Quite OK Image format.
    Qoi,
}

impl ImageFormat {
    /// Every output format (each is an input too), in the order used for documentation.
    pub const ALL: [ImageFormat; 5] = [
        ImageFormat::Jpeg,
        ImageFormat::Png,
        ImageFormat::WebP,
        ImageFormat::Avif,
        ImageFormat::Gif,
    ];

    /// The formats read as input only: originals may be uploaded in them, derivatives are
    /// never made in them.
    pub const INPUT_ONLY: [ImageFormat; 7] = [
        ImageFormat::Heic,
        ImageFormat::Jxl,
        ImageFormat::Svg,
        ImageFormat::Tiff,
        ImageFormat::Bmp,
        ImageFormat::Ico,
        ImageFormat::Qoi,
    ];

    /// Whether derivatives can be encoded in this format.
    pub fn is_output(self) -> bool {
        !Self::INPUT_ONLY.contains(&self)
    }

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
        } else if is_heic(bytes) {
            Some(ImageFormat::Heic)
        } else if bytes.starts_with(&[0xFF, 0x0A]) || bytes.starts_with(b"\0\0\0\x0cJXL \r\n\x87\n")
        {
            // A bare codestream, or the container's signature box.
            Some(ImageFormat::Jxl)
        } else if is_tiff(bytes) {
            Some(ImageFormat::Tiff)
        } else if is_bmp(bytes) {
            Some(ImageFormat::Bmp)
        } else if is_ico(bytes) {
            Some(ImageFormat::Ico)
        } else if bytes.starts_with(b"qoif") {
            Some(ImageFormat::Qoi)
        } else if is_svg(bytes) {
            Some(ImageFormat::Svg)
        } else {
            None
        }
    }

    /// The format for a file extension (`jpg`, `jpeg`, `png`, `webp`, `avif`, `gif`, and the
    /// input-only `tif`, `tiff`, `bmp`, `ico`, `qoi`), ASCII case-insensitive. Callers choosing
    /// an output check [`ImageFormat::is_output`].
    pub fn from_extension(ext: &str) -> Option<ImageFormat> {
        let ext = ext.to_ascii_lowercase();
        match ext.as_str() {
            "jpg" | "jpeg" => Some(ImageFormat::Jpeg),
            "png" => Some(ImageFormat::Png),
            "webp" => Some(ImageFormat::WebP),
            "avif" => Some(ImageFormat::Avif),
            "gif" => Some(ImageFormat::Gif),
            "heic" | "heif" => Some(ImageFormat::Heic),
            "jxl" => Some(ImageFormat::Jxl),
            "svg" => Some(ImageFormat::Svg),
            "tif" | "tiff" => Some(ImageFormat::Tiff),
            "bmp" => Some(ImageFormat::Bmp),
            "ico" | "cur" => Some(ImageFormat::Ico),
            "qoi" => Some(ImageFormat::Qoi),
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
            ImageFormat::Heic => "heic",
            ImageFormat::Jxl => "jxl",
            ImageFormat::Svg => "svg",
            ImageFormat::Tiff => "tiff",
            ImageFormat::Bmp => "bmp",
            ImageFormat::Ico => "ico",
            ImageFormat::Qoi => "qoi",
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
            ImageFormat::Heic => "image/heic",
            ImageFormat::Jxl => "image/jxl",
            ImageFormat::Svg => "image/svg+xml",
            ImageFormat::Tiff => "image/tiff",
            ImageFormat::Bmp => "image/bmp",
            ImageFormat::Ico => "image/x-icon",
            // Not registered with IANA; what the format's authors and browsers' tools use.
            ImageFormat::Qoi => "image/qoi",
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
            _ => None,
        }
    }
}

/// An ISO-BMFF `ftyp` box naming a HEIF brand (HEVC images and sequences, or the generic
/// `mif1`/`msf1`), when it is not AVIF (checked first).
fn is_heic(bytes: &[u8]) -> bool {
    has_ftyp_brand(bytes, |brand| {
        matches!(
            brand,
            b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"mif1" | b"msf1"
        )
    })
}

/// XML text (after an optional byte-order mark and white space) whose first 4 KiB hold an
/// `<svg` element.
fn is_svg(bytes: &[u8]) -> bool {
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let start = text.iter().position(|b| !b.is_ascii_whitespace());
    let Some(text) = start.map(|at| &text[at..]) else {
        return false;
    };
    text.starts_with(b"<")
        && text[..text.len().min(4096)]
            .windows(4)
            .any(|w| w == b"<svg")
}

/// A TIFF byte-order mark and magic number: `II*\0` or `MM\0*` (classic), `II+\0` or `MM\0+`
/// (BigTIFF).
fn is_tiff(bytes: &[u8]) -> bool {
    matches!(
        bytes.get(..4),
        Some(b"II*\0" | b"MM\0*" | b"II+\0" | b"MM\0+")
    )
}

/// `BM` followed, at offset 14, by one of the DIB header sizes Windows writes (12, 40, 52, 56,
/// 64, 108, 124): two letters alone would take any text starting with "BM" for a bitmap.
fn is_bmp(bytes: &[u8]) -> bool {
    bytes.starts_with(b"BM")
        && bytes.get(14..18).is_some_and(|size| {
            matches!(
                u32::from_le_bytes([size[0], size[1], size[2], size[3]]),
                12 | 40 | 52 | 56 | 64 | 108 | 124
            )
        })
}

/// An icon directory: reserved 0, type 1 (icon) or 2 (cursor), at least one entry whose
/// reserved byte is 0.
fn is_ico(bytes: &[u8]) -> bool {
    bytes.len() >= 22
        && (bytes[..4] == [0, 0, 1, 0] || bytes[..4] == [0, 0, 2, 0])
        && u16::from_le_bytes([bytes[4], bytes[5]]) > 0
        && bytes[9] == 0
}

/// Whether `bytes` start with an ISO-BMFF `ftyp` box whose major brand, or a compatible brand
/// within the box (as far as `bytes` go), is `avif` (still image) or `avis` (sequence).
fn is_avif(bytes: &[u8]) -> bool {
    has_ftyp_brand(bytes, |brand| brand == b"avif" || brand == b"avis")
}

/// Whether `bytes` start with an ISO-BMFF `ftyp` box whose major brand, or one of its
/// compatible brands within the box (as far as `bytes` go), is `wanted`.
fn has_ftyp_brand(bytes: &[u8], wanted: impl Fn(&[u8]) -> bool) -> bool {
    let Some(head) = bytes.get(..12).filter(|h| &h[4..8] == b"ftyp") else {
        return false;
    };
    if wanted(&head[8..12]) {
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
        .is_some_and(|brands| brands.chunks_exact(4).any(wanted))
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The format's name: its extension, but for JPEG's short one.
        f.write_str(match self {
            ImageFormat::Jpeg => "jpeg",
            other => other.extension(),
        })
    }
}

/// Parses an output format's name (an extension): input-only formats are refused.
impl FromStr for ImageFormat {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageFormat::from_extension(s)
            .filter(|f| f.is_output())
            .ok_or_else(|| {
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
                Some(ImageFormat::Heic),
                "HEIC is ISO-BMFF, not AVIF",
            ),
            (
                b"\0\0\0\x18ftypmif1\0\0\0\0mif1heic",
                Some(ImageFormat::Heic),
                "mif1 without avif",
            ),
            (
                b"\0\0\0\x14ftypmif1\0\0\0\0mif1avif",
                Some(ImageFormat::Heic),
                "a brand past the box's end belongs to the next box: a HEIF, not an AVIF",
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
        assert_eq!(
            ImageFormat::sniff(b"\0\0\0\x1cftypmif1\0\0"),
            Some(ImageFormat::Heic)
        );
        assert_eq!(ImageFormat::sniff(b"\0\0\0\x1cftyp"), None);
    }

    #[test]
    fn extensions_round_trip() {
        for f in ImageFormat::ALL {
            assert_eq!(ImageFormat::from_extension(f.extension()), Some(f));
        }
        assert_eq!(ImageFormat::from_extension("JPEG"), Some(ImageFormat::Jpeg));
        assert_eq!(ImageFormat::from_extension("tiff"), Some(ImageFormat::Tiff));
        assert_eq!(ImageFormat::from_extension("psd"), None);
        for f in ImageFormat::INPUT_ONLY {
            assert!(!f.is_output());
            assert_eq!(ImageFormat::from_extension(f.extension()), Some(f));
            assert!(
                f.extension().parse::<ImageFormat>().is_err(),
                "{f} is no output"
            );
        }
    }

    #[test]
    fn sniffs_input_only_formats_without_false_positives() {
        let mut bmp = b"BM".to_vec();
        bmp.extend_from_slice(&[0; 12]);
        bmp.extend_from_slice(&40u32.to_le_bytes());
        let mut ico = vec![0, 0, 1, 0, 1, 0, 16, 16, 0, 0, 1, 0, 32, 0];
        ico.resize(22, 0);
        let mut cur = ico.clone();
        cur[2] = 2;
        for (head, expected) in [
            (&b"II*\0\x08\0\0\0"[..], Some(ImageFormat::Tiff)),
            (&b"MM\0*\0\0\0\x08"[..], Some(ImageFormat::Tiff)),
            (&b"II+\0\x08\0\0\0"[..], Some(ImageFormat::Tiff)),
            (&bmp[..], Some(ImageFormat::Bmp)),
            (&ico[..], Some(ImageFormat::Ico)),
            (&cur[..], Some(ImageFormat::Ico)),
            (
                &b"qoif\0\0\0\x01\0\0\0\x01\x04\0"[..],
                Some(ImageFormat::Qoi),
            ),
            (&b"BMW is a car maker, not a bitmap"[..], None),
            (&b"\0\0\x01\0"[..], None),
            (&b"II"[..], None),
        ] {
            assert_eq!(ImageFormat::sniff(head), expected, "{head:?}");
        }
    }
}
