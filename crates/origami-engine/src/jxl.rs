//! JPEG XL input, through `jxl-oxide` (pure Rust), on the calling thread.
//!
//! The image is rendered in sRGB (jxl-oxide converts other colour encodings and ICC profiles
//! through moxcms) with its orientation applied, so it reaches the pipeline upright with
//! orientation 1. Its memory is bounded by an allocation tracker sized from the limits.

use std::io::Cursor;

use jxl_oxide::{
    AllocTracker, EnumColourEncoding, InitializeResult, JxlImage, JxlImageBuilder, JxlThreadPool,
    Moxcms, RenderingIntent,
};

use crate::bitmap::{Bitmap, Channels};
use crate::error::{EngineError, Result};
use crate::format::ImageFormat;
use crate::header::{Header, ImageInfo, Plays};
use crate::limits::Limits;

/// A decoder on the calling thread whose allocations stop at what `limits` allow: jxl-oxide
/// renders in 32-bit floats, up to 4 channels, plus its own working buffers.
fn builder(limits: &Limits) -> JxlImageBuilder {
    let budget = limits
        .max_source_pixels
        .saturating_mul(24)
        .saturating_add(64 << 20);
    JxlImage::builder()
        .pool(JxlThreadPool::none())
        .alloc_tracker(AllocTracker::with_limit(
            usize::try_from(budget).unwrap_or(usize::MAX),
        ))
}

fn jxl_error(err: Box<dyn std::error::Error + Send + Sync>) -> EngineError {
    let message = err.to_string();
    if message.contains("memory") || message.contains("allocation") {
        EngineError::TooLarge(format!("JPEG XL: {message}"))
    } else {
        EngineError::corrupt(format!("JPEG XL: {message}"))
    }
}

/// The header facts of a JPEG XL file, from its image header alone.
pub(crate) fn header(bytes: &[u8]) -> Result<Header> {
    let mut uninit = builder(&Limits::default()).build_uninit();
    uninit.feed_bytes(bytes).map_err(jxl_error)?;
    let image = match uninit.try_init().map_err(jxl_error)? {
        InitializeResult::Initialized(image) => image,
        InitializeResult::NeedMoreData(_) => {
            return Err(EngineError::corrupt("JPEG XL header is truncated"))
        }
    };
    let icc_profile = image.original_icc().map(<[u8]>::to_vec);
    Ok(Header {
        info: ImageInfo {
            format: ImageFormat::Jxl,
            // Oriented already: the render applies the orientation.
            width: image.width(),
            height: image.height(),
            orientation: 1,
            has_alpha: image.pixel_format().has_alpha(),
            progressive: false,
            has_icc_profile: icc_profile.is_some(),
            frames: 1,
        },
        // Converted by jxl-oxide while rendering, not by the engine.
        icc_profile: None,
        adobe: false,
        coefficient_bytes: 0,
        // Rendered through 32-bit float buffers: weighed as a wide-sample source.
        sixteen_bit: true,
        stray_ranges: Vec::new(),
        plays: Plays::ONCE,
    })
}

/// Renders the first frame of a JPEG XL file as an upright 8-bit sRGB bitmap (alpha kept).
pub(crate) fn decode(bytes: &[u8], limits: &Limits) -> Result<Bitmap> {
    let mut image = builder(limits)
        .read(Cursor::new(bytes))
        .map_err(jxl_error)?;
    image.set_cms(Moxcms);
    image.request_color_encoding(EnumColourEncoding::srgb(RenderingIntent::Relative));
    let render = image.render_frame(0).map_err(jxl_error)?;
    let mut stream = render.stream();
    let (width, height, channels) = (stream.width(), stream.height(), stream.channels());
    let samples = (width as usize)
        .checked_mul(height as usize)
        .and_then(|n| n.checked_mul(channels as usize))
        .ok_or_else(|| EngineError::TooLarge("JPEG XL image too large".into()))?;
    let mut buffer = vec![0u8; samples];
    stream.write_to_buffer(&mut buffer);
    let (layout, data) = match channels {
        3 => (Channels::Rgb, buffer),
        4 => (Channels::Rgba, buffer),
        1 => (
            Channels::Rgb,
            buffer.iter().flat_map(|&l| [l, l, l]).collect(),
        ),
        2 => (
            Channels::Rgba,
            buffer
                .chunks_exact(2)
                .flat_map(|p| [p[0], p[0], p[0], p[1]])
                .collect(),
        ),
        other => {
            return Err(EngineError::Unsupported(format!(
                "JPEG XL with {other} channels (CMYK) is not supported"
            )))
        }
    };
    Bitmap::new(width, height, layout, data)
}
