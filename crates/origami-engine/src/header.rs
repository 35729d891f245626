//! [`ImageInfo`] and [`Header`]: what an image's header says, as `probe` reads it and the
//! decoders use it. Types only, so that `probe` and each format's module can share them.

use crate::format::ImageFormat;

/// What [`probe`](crate::probe) learns from an image's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// The container format.
    pub format: ImageFormat,
    /// Width as stored, before orientation is applied.
    pub width: u32,
    /// Height as stored, before orientation is applied.
    pub height: u32,
    /// EXIF orientation, 1..=8 (1 when absent).
    pub orientation: u8,
    /// Whether the image has an alpha channel (or a transparent palette entry).
    pub has_alpha: bool,
    /// Whether the JPEG is progressive (false for other formats).
    pub progressive: bool,
    /// Whether an ICC colour profile is embedded.
    pub has_icc_profile: bool,
}

impl ImageInfo {
    /// Width and height after orientation is applied (swapped for orientations 5..=8).
    pub fn oriented_dimensions(&self) -> (u32, u32) {
        if self.orientation >= 5 {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }

    /// Stored pixel count.
    pub fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

/// Header facts plus the metadata the decoder needs.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub info: ImageInfo,
    /// The embedded ICC profile, reassembled from its chunks.
    pub icc_profile: Option<Vec<u8>>,
    /// JPEG only: an Adobe APP14 marker was present (CMYK data is then stored inverted).
    pub adobe: bool,
    /// JPEG only: bytes of DCT coefficients in the whole image (2 per coefficient, 64 per
    /// block, every component at its own sampling). A progressive JPEG is decoded through a
    /// buffer of this size whatever the output scale.
    pub coefficient_bytes: u64,
    /// PNG only: 16 bits per sample (decoded through a buffer twice the size of the 8-bit
    /// bitmap it becomes).
    pub sixteen_bit: bool,
    /// JPEG only: byte ranges of stray data between the header's segments, which libjpeg
    /// skips with a warning that TurboJPEG turns into a failed header read; the decoder is
    /// given the file without them.
    pub stray_ranges: Vec<std::ops::Range<usize>>,
}

impl Header {
    /// A header for formats whose orientation, ICC profile and progressiveness the engine does
    /// not read (GIF, AVIF).
    pub(crate) fn plain(format: ImageFormat, width: u32, height: u32, has_alpha: bool) -> Header {
        Header {
            info: ImageInfo {
                format,
                width,
                height,
                orientation: 1,
                has_alpha,
                progressive: false,
                has_icc_profile: false,
            },
            icc_profile: None,
            adobe: false,
            coefficient_bytes: 0,
            sixteen_bit: false,
            stray_ranges: Vec::new(),
        }
    }
}
