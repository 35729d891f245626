//! Resource limits applied before any pixel buffer is allocated.

/// Bounds on what the engine will decode and produce. Checked from image headers, before any
/// pixel buffer is allocated, so a decompression bomb costs a header parse and nothing more.
///
/// Animations (GIF, WebP) are bounded twice: by their frame count and by the pixels of all
/// their frames together, both read from the container before any frame is decoded, so a
/// million-frame GIF or a huge canvas of one-pixel frames is refused for the price of a walk
/// over its blocks.
///
/// With the `serde` feature, `Limits` (de)serializes as a table of these fields, each optional
/// (missing ones take the defaults below) and no others (an unknown key is an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct Limits {
    /// Largest source image accepted, in pixels (width x height as stored). Default 50 MP.
    pub max_source_pixels: u64,
    /// Largest output width or height in pixels. Default 4096.
    pub max_output_side: u32,
    /// Largest AVIF output, in pixels; AVIF encoding is slow, so big AVIFs are refused rather
    /// than allowed to tie up a worker. Default 2 MP (e.g. 1920 x 1080).
    pub max_avif_pixels: u64,
    /// Largest input accepted, in bytes. Default 64 MiB.
    pub max_input_bytes: usize,
    /// Progressive JPEG scans allowed (guards against scan-count bombs). Default 64.
    pub max_jpeg_scans: u32,
    /// AVIF encoder speed, 1 (slow, small) ..= 10 (fast). Default 9.
    pub avif_speed: u8,
    /// Most CPU time one derivative may take, in estimated milliseconds of one core (see
    /// [`Cost`](crate::Cost)); a request over it is refused before any pixel is decoded.
    /// Default 6000: every resize of a 50 MP JPEG to the default 4096-pixel `max_output_side`
    /// in any lossy format is under it, while a 4096x4096 lossless WebP (about 12 s) is not.
    pub max_cost: u64,
    /// Most frames an animated GIF or WebP may have. Default 256.
    pub max_frames: u32,
    /// Most pixels of an animation's frames together (its canvas size times its frame count).
    /// Default 100 MP: 256 frames of 625x625, or 100 of 1000x1000.
    pub max_animation_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_source_pixels: 50_000_000,
            max_output_side: 4096,
            max_avif_pixels: 2_100_000,
            max_input_bytes: 64 << 20,
            max_jpeg_scans: 64,
            avif_speed: 9,
            max_cost: 6000,
            max_frames: 256,
            max_animation_pixels: 100_000_000,
        }
    }
}
