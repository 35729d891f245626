//! Origami's image engine: pure functions over bytes.
//!
//! - [`probe`] reads format, size, orientation and alpha from the header alone.
//! - [`transform`] decodes (with JPEG shrink-on-load), applies EXIF orientation and the
//!   embedded ICC profile, runs a [`Pipeline`] of operations and encodes the result.
//! - [`thumbhash`] and [`render_thumbhash`] make and draw ThumbHash placeholders.
//!
//! The engine knows nothing of HTTP, async runtimes or storage. Every input is bounded by
//! [`Limits`] before any pixel buffer is allocated, and every failure is an [`EngineError`]:
//! no input makes these functions panic.

mod bitmap;
mod blur;
mod color;
mod decode;
mod encode;
mod error;
mod format;
mod limits;
mod ops;
mod orient;
mod probe;
mod resize;
mod smart;

pub use bitmap::{Bitmap, Channels};
pub use encode::FLATTEN_BACKGROUND;
pub use error::{EngineError, Result};
pub use format::ImageFormat;
pub use limits::Limits;
pub use ops::{Gravity, Op, Pipeline, Sigma, MAX_DIMENSION, MAX_OPS};
pub use probe::ImageInfo;

/// Version of the engine's output for given inputs. It is part of every derivative's ETag and
/// cache key: bump it whenever a change alters output bytes.
pub const ENGINE_VERSION: u32 = 1;

/// Reads an image's header: format, size, orientation, alpha. Decodes no pixels, so it is cheap
/// even for a decompression bomb (limits are not applied; see [`check_limits`]).
pub fn probe(bytes: &[u8]) -> Result<ImageInfo> {
    probe::read_header(bytes).map(|h| h.info)
}

/// Checks an image against `limits` using its header only (what [`transform`] does first).
pub fn check_limits(bytes: &[u8], limits: &Limits) -> Result<ImageInfo> {
    let header = probe::read_header(bytes)?;
    decode::check_limits(bytes, &header, limits)?;
    Ok(header.info)
}

/// Decodes a whole image to an upright sRGB bitmap (orientation and ICC profile applied).
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Bitmap> {
    let header = probe::read_header(bytes)?;
    decode::decode(bytes, &header, None, limits)
}

/// The result of [`transform`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transformed {
    /// The encoded image.
    pub bytes: Vec<u8>,
    /// Its format.
    pub format: ImageFormat,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
}

/// Knobs for [`transform_with_options`]; the defaults are what [`transform`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransformOptions {
    /// Decode JPEGs at a reduced DCT scale when the pipeline shrinks the image (default true).
    /// Turning it off exists for measuring its quality cost and speed-up.
    pub shrink_on_load: bool,
}

impl Default for TransformOptions {
    fn default() -> Self {
        Self {
            shrink_on_load: true,
        }
    }
}

/// Decodes `input`, runs `pipeline` and encodes the result as `format`.
///
/// Operations run in pipeline order on the upright image. When the first operation is a
/// `thumb` or `fit`, JPEGs are decoded at 1/2, 1/4 or 1/8 scale as long as that leaves at least
/// twice the pixels the operation needs. A result larger than
/// [`Limits::max_output_side`] (possible when the pipeline has no resize) is scaled down to
/// fit. Transparent images written as JPEG are flattened onto white.
pub fn transform(
    input: &[u8],
    pipeline: &Pipeline,
    format: ImageFormat,
    limits: &Limits,
) -> Result<Transformed> {
    transform_with_options(input, pipeline, format, limits, TransformOptions::default())
}

/// [`transform`] with explicit [`TransformOptions`].
pub fn transform_with_options(
    input: &[u8],
    pipeline: &Pipeline,
    format: ImageFormat,
    limits: &Limits,
    options: TransformOptions,
) -> Result<Transformed> {
    let header = probe::read_header(input)?;
    let Plan { ops, min_size } = plan(input, &header, pipeline, limits, options)?;
    let max_side = limits.max_output_side;
    let mut bitmap = decode::decode(input, &header, min_size, limits)?;
    for op in ops {
        bitmap = match op {
            Op::Thumb {
                width,
                height,
                gravity,
            } => resize::thumb(&bitmap, width, height, gravity, max_side)?,
            Op::Fit { width, height } => resize::fit(&bitmap, width, height)?,
            Op::Blur { sigma } => blur::gaussian(bitmap, sigma.value())?,
        };
    }
    if bitmap.width() > max_side || bitmap.height() > max_side {
        bitmap = resize::fit(&bitmap, max_side, max_side)?;
    }
    let (width, height) = (bitmap.width(), bitmap.height());
    let bytes = encode::encode(bitmap, format, pipeline.quality(), limits)?;
    Ok(Transformed {
        bytes,
        format,
        width,
        height,
    })
}

/// What a transform will do, worked out from the header.
struct Plan {
    /// The operations, dpr applied.
    ops: Vec<Op>,
    /// The smallest decoded size (oriented) they need; `None`: decode at full size.
    min_size: Option<(u32, u32)>,
}

/// Checks the limits and works out the [`Plan`].
fn plan(
    input: &[u8],
    header: &probe::Header,
    pipeline: &Pipeline,
    limits: &Limits,
    options: TransformOptions,
) -> Result<Plan> {
    decode::check_limits(input, header, limits)?;
    let ops: Vec<Op> = pipeline.scaled_ops().collect();
    let max_side = limits.max_output_side;
    for op in &ops {
        if let Op::Thumb { width, height, .. } | Op::Fit { width, height } = *op {
            if width > max_side || height > max_side {
                return Err(EngineError::InvalidParams(format!(
                    "output sides are limited to {max_side} pixels ({width}x{height} requested, \
                     dpr included)"
                )));
            }
        }
    }
    let (ow, oh) = header.info.oriented_dimensions();
    let min_size = match ops.first() {
        Some(Op::Thumb { width, height, .. }) => {
            let (w, h) = resize::thumb_size(ow, oh, *width, *height, max_side);
            Some(resize::cover_scaled_size(ow, oh, w, h))
        }
        Some(Op::Fit { width, height }) => Some(resize::fit_size(ow, oh, *width, *height)),
        // Blur sigma is in pixels of the full image: decode it whole.
        Some(Op::Blur { .. }) => None,
        None => Some(resize::fit_size(ow, oh, max_side, max_side)),
    }
    .filter(|_| options.shrink_on_load);
    Ok(Plan { ops, min_size })
}

/// An estimate of the memory, in bytes, that [`transform`] of `input` with `pipeline` needs at
/// its peak, from the header alone (no pixel is decoded): the decoded image (at its
/// shrink-on-load scale) twice over, for the bitmap and the working copy an operation makes;
/// the first operation's result (RGBA) twice over, for the resize and the encoder's buffers;
/// 256 KiB of codec state; and for a progressive JPEG the whole-image coefficient buffer
/// libjpeg decodes through.
/// Servers weigh concurrent transforms with it, so that several large ones do not run at once.
///
/// Fails as [`transform`] would on a bad header or a request over the limits.
pub fn working_memory(input: &[u8], pipeline: &Pipeline, limits: &Limits) -> Result<u64> {
    let header = probe::read_header(input)?;
    let Plan { min_size, .. } = plan(
        input,
        &header,
        pipeline,
        limits,
        TransformOptions::default(),
    )?;
    let (width, height, channels) = decode::decoded_size(&header, min_size);
    let decoded = u64::from(width) * u64::from(height) * u64::from(channels);
    // The first operation's size before any crop (at least its output), or the decoded image.
    let result = min_size.map_or(decoded, |(w, h)| u64::from(w) * u64::from(h) * 4);
    let coefficients = if header.info.progressive {
        header.coefficient_bytes
    } else {
        0
    };
    Ok(2 * decoded + 2 * result + coefficients + (256 << 10))
}

/// A ThumbHash placeholder and the size of the image it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThumbHash {
    /// The ThumbHash bytes (base64 them for JSON or HTML).
    pub hash: Vec<u8>,
    /// Width of the upright source image.
    pub width: u32,
    /// Height of the upright source image.
    pub height: u32,
}

/// Computes the ThumbHash of an image (decoded at the smallest useful scale).
pub fn thumbhash(input: &[u8], limits: &Limits) -> Result<ThumbHash> {
    let header = probe::read_header(input)?;
    let (ow, oh) = header.info.oriented_dimensions();
    // ThumbHash works on at most 100x100 pixels.
    let small = resize::fit_size(ow, oh, 100, 100);
    let bitmap = decode::decode(input, &header, Some(small), limits)?;
    let bitmap = resize::fit(&bitmap, 100, 100)?.into_rgba();
    let hash = ::thumbhash::rgba_to_thumb_hash(
        bitmap.width() as usize,
        bitmap.height() as usize,
        bitmap.data(),
    );
    Ok(ThumbHash {
        hash,
        width: ow,
        height: oh,
    })
}

/// Draws a ThumbHash as a small PNG (at most 32 pixels a side, as the format defines).
pub fn render_thumbhash(hash: &[u8]) -> Result<Vec<u8>> {
    let invalid = || EngineError::invalid("not a valid ThumbHash");
    // The decoder reads 5 header bytes unconditionally.
    if hash.len() < 5 {
        return Err(invalid());
    }
    let (w, h, rgba) = ::thumbhash::thumb_hash_to_rgba(hash).map_err(|()| invalid())?;
    let bitmap = Bitmap::new(w as u32, h as u32, Channels::Rgba, rgba).map_err(|_| invalid())?;
    encode::encode(bitmap, ImageFormat::Png, None, &Limits::default())
}
