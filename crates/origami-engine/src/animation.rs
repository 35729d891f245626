//! Animated GIF and WebP sources made into animated GIF or WebP outputs: every frame is
//! decoded composited onto the canvas (the decoders apply each frame's offset, blending and
//! disposal, as a browser would), runs through the same operations (a crop chosen on the first
//! frame is kept for all), and is encoded with its delay; the loop count is kept. Frames are
//! decoded, transformed and encoded one at a time.

use std::io::Cursor;

use image::{AnimationDecoder, ImageDecoder};

use crate::apply::{Operations, Output, Transformed};
use crate::bitmap::{Bitmap, Channels};
use crate::decoder_errors::{guarded, image_error};
use crate::encode_animation::AnimationEncoder;
use crate::error::{EngineError, Result};
use crate::format::ImageFormat;
use crate::header::Header;
use crate::limits::Limits;
use crate::ops::Op;
use crate::{color, orient};

/// Whether `format` keeps a source's animation (other outputs take its first frame).
pub(crate) fn keeps_animation(format: ImageFormat) -> bool {
    matches!(format, ImageFormat::Gif | ImageFormat::WebP)
}

/// Runs `ops` on every frame of the animated `bytes` (whose `header` was checked against
/// `limits`) and encodes them as `output` says, which must be a format that
/// [keeps animations](keeps_animation).
pub(crate) fn run(
    bytes: &[u8],
    header: &Header,
    ops: &[Op],
    output: &Output,
    limits: &Limits,
) -> Result<Transformed> {
    let format = header.info.format;
    guarded(format, || {
        let mut operations = Operations::new(ops);
        let mut encoder: Option<AnimationEncoder> = None;
        each_frame(bytes, header, limits, |frame, delay_ms| {
            let frame = operations.apply(frame, output.background, limits)?;
            let encoder = match &mut encoder {
                Some(encoder) => encoder,
                None => encoder.insert(AnimationEncoder::new(
                    output.format,
                    (frame.width(), frame.height()),
                    output.quality,
                    header.plays,
                )?),
            };
            encoder.add(frame, delay_ms)
        })?;
        let encoder =
            encoder.ok_or_else(|| EngineError::corrupt(format!("{format} has no frames")))?;
        let (width, height) = encoder.size();
        Ok(Transformed {
            bytes: encoder.finish()?,
            format: output.format,
            width,
            height,
        })
    })
}

/// Calls `each` with every frame of `bytes` in order, composited, upright and sRGB, and how
/// long it shows in milliseconds. Stops after the frames the header counted. A frame that
/// fails to decode after the first ends the animation there, as browsers show a truncated
/// GIF; a first frame that fails is an error.
fn each_frame(
    bytes: &[u8],
    header: &Header,
    limits: &Limits,
    mut each: impl FnMut(Bitmap, u32) -> Result<()>,
) -> Result<()> {
    let frames = match header.info.format {
        ImageFormat::Gif => frames_of(
            image::codecs::gif::GifDecoder::new(Cursor::new(bytes)),
            limits,
        )?,
        ImageFormat::WebP => {
            let decoder = image::codecs::webp::WebPDecoder::new(Cursor::new(bytes)).and_then(
                |mut decoder| {
                    // A frame disposed "to the background" leaves its area transparent, as
                    // browsers and libwebp's own decoder show it (the file's background colour
                    // is only a hint). Without a colour set, the decoder does not clear at all.
                    decoder.set_background_color(image::Rgba([0, 0, 0, 0]))?;
                    Ok(decoder)
                },
            );
            frames_of(decoder, limits)?
        }
        other => {
            return Err(EngineError::internal(format!(
                "{other} animations are not decoded"
            )))
        }
    };
    let count = usize::try_from(header.info.frames).unwrap_or(usize::MAX);
    for (index, frame) in frames.take(count).enumerate() {
        let frame = match frame {
            Ok(frame) => frame,
            Err(_) if index > 0 => break,
            Err(e) => return Err(image_error(e)),
        };
        let (numerator, denominator) = frame.delay().numer_denom_ms();
        let delay_ms = numerator / denominator.max(1);
        let buffer = frame.into_buffer();
        let (w, h) = buffer.dimensions();
        let mut bitmap = Bitmap::new(w, h, Channels::Rgba, buffer.into_raw())?;
        if let Some(profile) = &header.icc_profile {
            bitmap = color::to_srgb(bitmap, profile)?;
        }
        each(orient::apply(bitmap, header.info.orientation), delay_ms)?;
    }
    Ok(())
}

/// The frames of an `image` crate animation decoder, its buffers bounded by `limits`.
fn frames_of<'a, D: AnimationDecoder<'a> + ImageDecoder>(
    decoder: image::ImageResult<D>,
    limits: &Limits,
) -> Result<image::Frames<'a>> {
    let mut decoder = decoder.map_err(image_error)?;
    let mut image_limits = image::Limits::default();
    // The canvas and the frame being composited onto it, RGBA, plus the decoder's own buffers.
    image_limits.max_alloc = Some(limits.max_source_pixels.saturating_mul(8) + (16 << 20));
    decoder.set_limits(image_limits).map_err(image_error)?;
    Ok(decoder.into_frames())
}
