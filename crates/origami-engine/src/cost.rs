//! [`Cost`]: what a transform will take, in CPU time and memory, worked out from the header and
//! the pipeline before any pixel is decoded, so a server can refuse the pathological requests
//! ([`Limits::max_cost`]) and schedule the expensive ones apart from the cheap ones.
//!
//! The CPU estimate is a sum of pixel counts, each weighted by how long one pixel of that stage
//! takes. The weights were fitted on real photos and the fixtures with `benches/calibrate.py`
//! (least squares over `origami transform` runs on one core of the 2-core x86-64 machine this
//! project is measured on); the closing table of that script shows estimate against measurement.
//! They are a model, not a promise: on a faster core the same request takes less time, and the
//! limit is a bound on work, which is what a hostile URL varies.

use crate::format::ImageFormat;
use crate::limits::Limits;
use crate::ops::Op;
use crate::resize;

/// What one transform is estimated to cost (see [`Plan::cost`](crate::Plan::cost)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cost {
    /// CPU time, in estimated milliseconds of one core: the unit of [`Limits::max_cost`].
    pub work_ms: u64,
    /// Peak memory, in bytes: the pixel buffers, the codecs' working memory and codec state.
    pub memory_bytes: u64,
    /// Pixels of the source as stored (a JPEG's entropy decoding reads all of them whatever
    /// the decode scale).
    pub source_pixels: u64,
    /// Pixels decoded (a JPEG at its reduced DCT scale).
    pub decoded_pixels: u64,
    /// Pixels read and written by resampling (sources plus outputs of every resize).
    pub resampled_pixels: u64,
    /// Pixels blurred.
    pub blurred_pixels: u64,
    /// Pixels encoded.
    pub encoded_pixels: u64,
}

/// Nanoseconds of one core per pixel of each stage (see the module docs for where they come
/// from).
mod ns_per_pixel {
    /// A JPEG's entropy decoding, per stored pixel, baseline and progressive.
    pub const JPEG_ENTROPY: f64 = 2.6;
    pub const JPEG_PROGRESSIVE_ENTROPY: f64 = 10.5;
    /// A JPEG's inverse DCT and colour conversion, per decoded pixel.
    pub const JPEG_DECODED: f64 = 1.6;
    pub const PNG_DECODED: f64 = 17.3;
    /// libwebp (still images): VP8 decoding per stored pixel, then per pixel written through
    /// its rescaler (criterion `decode-formats` on the 12 MP sample: 101 ms whole, 87 ms for a
    /// 400x300 fit).
    pub const WEBP_STORED: f64 = 7.0;
    pub const WEBP_DECODED: f64 = 1.4;
    /// The `image` crate's WebP decoder (animation frames), per canvas pixel.
    pub const WEBP_FRAME_DECODED: f64 = 33.7;
    pub const GIF_DECODED: f64 = 16.0;
    /// Not measured: no AVIF decoder is built in yet (such inputs are refused).
    pub const AVIF_DECODED: f64 = 30.0;
    /// Per pixel read or written by a Lanczos resample.
    pub const RESAMPLED: f64 = 3.6;
    pub const BLURRED: f64 = 22.6;
    pub const JPEG_ENCODED: f64 = 18.6;
    pub const PNG_ENCODED: f64 = 218.0;
    pub const WEBP_ENCODED: f64 = 103.5;
    pub const WEBP_LOSSLESS_ENCODED: f64 = 637.0;
    pub const AVIF_ENCODED: f64 = 1148.0;
    pub const GIF_ENCODED: f64 = 251.0;
}

/// How much slower than at the default speed 9 the AVIF encoder is at `speed` (measured on a
/// 0.7 MP output: 1.9x at speed 6, 2.7x at 3; linear in between and beyond).
fn avif_speed_factor(speed: u8) -> f64 {
    1.0 + 0.3 * (9.0 - f64::from(speed.clamp(1, 10)))
}

/// Bytes of encoder working memory per output pixel, beyond the bitmap it encodes (measured
/// peak RSS, see `benches/calibrate.py`).
fn encoder_bytes_per_pixel(format: ImageFormat, lossless: bool) -> u64 {
    match format {
        ImageFormat::Jpeg => 4,
        ImageFormat::Png => 5,
        ImageFormat::WebP if lossless => 24,
        ImageFormat::WebP => 8,
        ImageFormat::Avif => 40,
        ImageFormat::Gif => 6,
        // Never encoded (`encode` refuses them at once).
        _ => 0,
    }
}

/// Estimated nanoseconds per decoded pixel of `format`, and per stored pixel for JPEG's
/// entropy decoding.
fn decode_weights(format: ImageFormat, progressive: bool) -> (f64, f64) {
    use ns_per_pixel as ns;
    match format {
        ImageFormat::Jpeg if progressive => (ns::JPEG_PROGRESSIVE_ENTROPY, ns::JPEG_DECODED),
        ImageFormat::Jpeg => (ns::JPEG_ENTROPY, ns::JPEG_DECODED),
        ImageFormat::Png => (0.0, ns::PNG_DECODED),
        ImageFormat::WebP => (ns::WEBP_STORED, ns::WEBP_DECODED),
        ImageFormat::Gif => (0.0, ns::GIF_DECODED),
        ImageFormat::Avif | ImageFormat::Heic | ImageFormat::Jxl => (0.0, ns::AVIF_DECODED),
        // Not calibrated (`benches/calibrate.py` has no such sources): weighed like PNG, whose
        // decoders (inflate or LZW, then a conversion) do comparable work per pixel; BMP and
        // QOI are cheaper.
        ImageFormat::Tiff
        | ImageFormat::Bmp
        | ImageFormat::Ico
        | ImageFormat::Qoi
        | ImageFormat::Svg => (0.0, ns::PNG_DECODED),
    }
}

/// What the source stage costs: `stored` pixels (as stored) decoded to `decoded` pixels.
pub(crate) fn source(
    format: ImageFormat,
    progressive: bool,
    stored: u64,
    decoded: u64,
    memory_bytes: u64,
) -> Cost {
    let (per_stored, per_decoded) = decode_weights(format, progressive);
    Cost {
        work_ms: 0,
        memory_bytes,
        source_pixels: stored,
        decoded_pixels: decoded,
        ..Cost::default()
    }
    .with_work(per_stored * stored as f64 + per_decoded * decoded as f64)
}

/// What decoding one frame of an animation of `format` with `canvas` pixels costs, composited
/// onto its canvas by the `image` crate's decoders (`memory_bytes` as [`source`]).
pub(crate) fn animation_frame(format: ImageFormat, canvas: u64, memory_bytes: u64) -> Cost {
    let per_pixel = match format {
        ImageFormat::WebP => ns_per_pixel::WEBP_FRAME_DECODED,
        _ => ns_per_pixel::GIF_DECODED,
    };
    Cost {
        work_ms: 0,
        memory_bytes,
        source_pixels: canvas,
        decoded_pixels: canvas,
        ..Cost::default()
    }
    .with_work(per_pixel * canvas as f64)
}

/// Resampling a region of `from` pixels to `to` (RGBA), as a working copy's first step does.
pub(crate) fn resample(from: (u32, u32), to: (u32, u32)) -> Cost {
    let pixels = |(w, h): (u32, u32)| u64::from(w) * u64::from(h);
    Cost {
        work_ms: 0,
        memory_bytes: 2 * pixels(to) * 4,
        resampled_pixels: pixels(from) + pixels(to),
        ..Cost::default()
    }
    .with_work(ns_per_pixel::RESAMPLED * (pixels(from) + pixels(to)) as f64)
}

/// The stages after the source's pixels are in hand, as [`plan::finish`](crate::plan::finish)
/// runs them: `ops` on a bitmap of `size` with `channels` channels, a final fit into
/// [`Limits::max_output_side`], and the encoding as `format` at `quality`. Returns the cost and
/// the output size.
pub(crate) fn finish(
    size: (u32, u32),
    ops: &[Op],
    quality: Option<u8>,
    format: ImageFormat,
    limits: &Limits,
) -> Cost {
    use ns_per_pixel as ns;
    let max_side = limits.max_output_side;
    let pixels = |(w, h): (u32, u32)| u64::from(w) * u64::from(h);
    let mut current = size;
    let mut resampled = 0;
    let mut blurred = 0;
    // Pixels turned or mirrored (one copy each).
    let mut copied = 0;
    // The largest operation result (the source's own buffers are the caller's to count).
    let mut largest = 0;
    let mut resize_to = |current: &mut (u32, u32), next: (u32, u32)| {
        resampled += pixels(*current) + pixels(next);
        *current = next;
    };
    for op in ops {
        match *op {
            Op::Thumb { width, height, .. } => {
                let next = resize::thumb_size(current.0, current.1, width, height, max_side);
                resize_to(&mut current, next);
            }
            Op::Fit { width, height } => {
                let next = resize::fit_size(current.0, current.1, width, height);
                resize_to(&mut current, next);
            }
            Op::Blur { .. } => blurred += pixels(current),
            // A blur of a copy, then one pass to add the detail back.
            Op::Sharpen { .. } => {
                blurred += pixels(current);
                copied += pixels(current);
            }
            // A copy of every pixel: weighed like a resize pass over them.
            Op::Rotate { quarter_turns } => {
                copied += pixels(current);
                if quarter_turns % 2 == 1 {
                    current = (current.1, current.0);
                }
            }
            Op::Flip { .. } => copied += pixels(current),
            // A fit, then a copy onto the canvas.
            Op::Pad { width, height } => {
                let next = resize::fit_size(current.0, current.1, width, height);
                if next != current {
                    resize_to(&mut current, next);
                }
                current = (width, height);
                copied += pixels(current);
            }
        }
        largest = largest.max(pixels(current));
    }
    if current.0 > max_side || current.1 > max_side {
        let next = resize::fit_size(current.0, current.1, max_side, max_side);
        resize_to(&mut current, next);
    }
    resampled += copied;
    let encoded = pixels(current);
    let lossless = format == ImageFormat::WebP && quality == Some(100);
    let per_encoded = match format {
        ImageFormat::Jpeg => ns::JPEG_ENCODED,
        ImageFormat::Png => ns::PNG_ENCODED,
        ImageFormat::WebP if lossless => ns::WEBP_LOSSLESS_ENCODED,
        ImageFormat::WebP => ns::WEBP_ENCODED,
        ImageFormat::Avif => ns::AVIF_ENCODED * avif_speed_factor(limits.avif_speed),
        ImageFormat::Gif => ns::GIF_ENCODED,
        // Never encoded (`encode` refuses them at once).
        _ => 0.0,
    };
    Cost {
        work_ms: 0,
        // The largest intermediate twice over (an operation's input and result, RGBA), and
        // the encoder's own buffers.
        memory_bytes: 2 * largest * 4 + encoded * encoder_bytes_per_pixel(format, lossless),
        resampled_pixels: resampled,
        blurred_pixels: blurred,
        encoded_pixels: encoded,
        ..Cost::default()
    }
    .with_work(
        ns::RESAMPLED * resampled as f64
            + ns::BLURRED * blurred as f64
            + per_encoded * encoded as f64,
    )
}

impl Cost {
    /// This cost with `ns` nanoseconds of work added.
    fn with_work(mut self, ns: f64) -> Self {
        self.work_ms += (ns / 1e6).ceil() as u64;
        self
    }

    /// The cost of running `self` and then `next`: work adds up, and so does memory (the
    /// source's buffers are still held while the later stages run).
    pub(crate) fn then(self, next: Cost) -> Cost {
        Cost {
            work_ms: self.work_ms + next.work_ms,
            memory_bytes: self.memory_bytes + next.memory_bytes,
            source_pixels: self.source_pixels + next.source_pixels,
            decoded_pixels: self.decoded_pixels + next.decoded_pixels,
            resampled_pixels: self.resampled_pixels + next.resampled_pixels,
            blurred_pixels: self.blurred_pixels + next.blurred_pixels,
            encoded_pixels: self.encoded_pixels + next.encoded_pixels,
        }
    }

    /// The cost of doing `self` `times` over, one after the other (the frames of an
    /// animation): work and pixels multiply, memory does not (each run's buffers are freed
    /// before the next).
    pub(crate) fn repeated(self, times: u32) -> Cost {
        let times = u64::from(times);
        Cost {
            work_ms: self.work_ms.saturating_mul(times),
            memory_bytes: self.memory_bytes,
            source_pixels: self.source_pixels.saturating_mul(times),
            decoded_pixels: self.decoded_pixels.saturating_mul(times),
            resampled_pixels: self.resampled_pixels.saturating_mul(times),
            blurred_pixels: self.blurred_pixels.saturating_mul(times),
            encoded_pixels: self.encoded_pixels.saturating_mul(times),
        }
    }

    /// Refuses a cost over [`Limits::max_cost`] for an output as `format` with
    /// [`EngineError::TooLarge`](crate::EngineError::TooLarge) and a reason the client can act on; [`Plan::run`](crate::Plan::run)
    /// does the same, this lets a server refuse before the request waits for a worker.
    pub fn check(self, format: ImageFormat, limits: &Limits) -> crate::Result<Cost> {
        if self.work_ms > limits.max_cost {
            return Err(crate::EngineError::TooLarge(format!(
                "this derivative would take about {} ms of CPU to make as {}, over this \
                 server's limit of {} ms (limits.max_cost); ask for a smaller size, a lower \
                 quality or another format",
                self.work_ms,
                format.extension(),
                limits.max_cost
            )));
        }
        Ok(self)
    }
}
