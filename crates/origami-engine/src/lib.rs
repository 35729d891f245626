//! Origami's image engine: pure functions over bytes.
//!
//! - [`probe`] reads format, size, orientation and alpha from the header alone.
//! - [`plan`] reads and checks the header once per request; the [`Plan`] then estimates its
//!   memory ([`Plan::working_memory`]) and [runs](Plan::run): decodes (with JPEG
//!   shrink-on-load), applies EXIF orientation and the embedded ICC profile, runs a
//!   [`Pipeline`] of operations and encodes the result, for as many output formats as the
//!   caller tries. [`transform`] does both in one call.
//! - [`thumbhash()`] and [`render_thumbhash`] make and draw ThumbHash placeholders.
//! - [`WorkingCopy`] is a reduced, losslessly stored rendition of a large original from which
//!   the derivatives that fit inside it are made without decoding the original again.
//!
//! The engine knows nothing of HTTP, async runtimes or storage. Every input is bounded by
//! [`Limits`] before any pixel buffer is allocated, and every failure is an [`EngineError`]:
//! no input makes these functions panic.
//!
//! ```
//! use origami_engine::{plan, transform, ImageFormat, Limits, Pipeline};
//!
//! // A 320x240 JPEG photo.
//! let photo = include_bytes!("../../../fixtures/baseline.jpg");
//! let pipeline: Pipeline = "thumb/160/90/g/smart".parse()?;
//!
//! let thumbnail = transform(photo, &pipeline, ImageFormat::WebP, &Limits::default())?;
//! assert_eq!((thumbnail.width, thumbnail.height), (160, 90));
//! assert_eq!(ImageFormat::sniff(&thumbnail.bytes), Some(ImageFormat::WebP));
//!
//! // The same in two steps: the plan reads the header once, can say how much memory the
//! // transform needs before any pixel is decoded, and runs for one format after another.
//! let plan = plan(photo, &pipeline, &Limits::default())?;
//! assert_eq!((plan.info().width, plan.info().height), (320, 240));
//! assert!(plan.working_memory() > 0);
//! let png = plan.run(ImageFormat::Png)?;
//! assert_eq!((png.width, png.height), (160, 90));
//! # Ok::<(), origami_engine::EngineError>(())
//! ```

#![deny(missing_docs)]

mod animation;
mod apply;
mod bitmap;
mod blur;
mod color;
mod cost;
mod decode;
mod decoder_errors;
mod encode;
mod encode_animation;
mod error;
mod format;
mod grammar;
mod header;
mod heif;
mod heif_boxes;
mod jpeg_scans;
mod jxl;
mod limits;
mod ops;
mod orient;
mod placeholder;
mod plan;
mod probe;
mod resample;
mod resize;
mod smart;
mod svg;
mod webp_decode;
mod working_copy;

pub use apply::Transformed;
pub use bitmap::{Bitmap, Channels};
pub use cost::Cost;
pub use decode::Refinement;
pub use error::{EngineError, Result};
pub use format::ImageFormat;
pub use header::ImageInfo;
pub use limits::Limits;
pub use ops::{FlipAxis, Gravity, Op, Pipeline, Sigma, DEFAULT_BACKGROUND, MAX_DIMENSION, MAX_OPS};
pub use placeholder::{render_thumbhash, thumbhash, ThumbHash};
pub use plan::{plan, plan_with_options, Oversampling, Plan, TransformOptions};
pub use working_copy::{WorkingCopy, WorkingCopyCodec};

/// Version of the engine's output for given inputs. It is part of every derivative's ETag and
/// cache key: bump it whenever a change alters output bytes.
pub const ENGINE_VERSION: u32 = 4;

/// Reads an image's header: format, size, orientation, alpha. Decodes no pixels, so it is cheap
/// even for a decompression bomb (limits are not applied; see [`check_limits`]).
pub fn probe(bytes: &[u8]) -> Result<ImageInfo> {
    probe::read_header(bytes).map(|h| h.info)
}

/// Checks an image against `limits` using its header only (what [`plan`] does first).
pub fn check_limits(bytes: &[u8], limits: &Limits) -> Result<ImageInfo> {
    decode::Source::new(bytes, limits).map(decode::Source::into_info)
}

/// Decodes a whole image to an upright sRGB bitmap (orientation and ICC profile applied), after
/// checking it against `limits`.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Bitmap> {
    let source = decode::Source::new(bytes, limits)?;
    decode::decode(&source, None, limits)
}

/// Decodes `input`, runs `pipeline` and encodes the result as `format`: [`plan`] then
/// [`Plan::run`] (see there for what the operations do and how they fail). A caller that also
/// wants [`working_memory`], or may retry with another format, should make the [`Plan`] itself
/// so that the header is read once.
pub fn transform(
    input: &[u8],
    pipeline: &Pipeline,
    format: ImageFormat,
    limits: &Limits,
) -> Result<Transformed> {
    plan(input, pipeline, limits)?.run(format)
}

/// [`transform`] with explicit [`TransformOptions`]: [`plan_with_options`] then [`Plan::run`].
pub fn transform_with_options(
    input: &[u8],
    pipeline: &Pipeline,
    format: ImageFormat,
    limits: &Limits,
    options: TransformOptions,
) -> Result<Transformed> {
    plan_with_options(input, pipeline, limits, options)?.run(format)
}

/// An estimate of the memory, in bytes, that [`transform`] of `input` with `pipeline` needs at
/// its peak, from the header alone: [`plan`] then [`Plan::working_memory`] (see there for what
/// it counts). Servers weigh concurrent transforms with it, so that several large ones do not
/// run at once.
///
/// Fails as [`transform`] would on a bad header or a request over the limits.
pub fn working_memory(input: &[u8], pipeline: &Pipeline, limits: &Limits) -> Result<u64> {
    plan(input, pipeline, limits).map(|plan| plan.working_memory())
}
