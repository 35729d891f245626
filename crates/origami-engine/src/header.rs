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
    /// Frames of an animated GIF or WebP (1 for a still image, and for formats whose
    /// animations the engine does not read: their first or primary image is the image).
    pub frames: u32,
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

    /// Whether the image is an animation (more than one frame).
    pub fn is_animated(&self) -> bool {
        self.frames > 1
    }
}

/// How many times an animation plays, as its container says (a still image: once).
///
/// GIF and WebP count differently: a WebP's loop count is the number of plays (0: forever),
/// a GIF's NETSCAPE2.0 loop count the number of *repeats* after the first play (0: forever),
/// and a GIF without that extension plays once. Each format's reader and writer converts, as
/// libwebp's `gif2webp` does, so that a GIF that plays three times becomes a WebP that does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plays {
    /// Loops forever.
    Forever,
    /// Plays this many times (at least once).
    Times(u32),
}

impl Plays {
    /// A still image, or an animation without a loop count.
    pub(crate) const ONCE: Plays = Plays::Times(1);
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
    /// GIF and WebP animations: how many times the animation plays.
    pub plays: Plays,
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
                frames: 1,
            },
            icc_profile: None,
            adobe: false,
            coefficient_bytes: 0,
            sixteen_bit: false,
            stray_ranges: Vec::new(),
            plays: Plays::ONCE,
        }
    }
}
