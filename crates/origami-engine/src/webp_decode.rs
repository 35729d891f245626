//! Still WebP images decoded by libwebp (the `webp` crate's library, already linked for the
//! encoder), with its shrink-on-load: libwebp's decoder can write its output through a
//! rescaler, so a thumbnail of a 12 MP WebP never holds the 12 MP image (libvips does the same
//! with `webp_load`'s `scale`). Animations go through the `image` crate's decoder, which
//! composites their frames (see `animation`).

use libwebp_sys as webp_sys;

use crate::bitmap::{Bitmap, Channels};
use crate::error::{EngineError, Result};
use crate::header::Header;

/// The size (stored orientation) libwebp decodes `header`'s image at for `min_size`, the
/// smallest size the pipeline needs in oriented pixels: the full size, or a reduced size that
/// keeps at least twice `min_size` on both sides (the final resize still has 2x
/// oversampling, as JPEG's DCT scaling keeps).
pub(crate) fn scaled_size(header: &Header, min_size: Option<(u32, u32)>) -> (u32, u32) {
    let (width, height) = (header.info.width, header.info.height);
    let Some((min_w, min_h)) = min_size else {
        return (width, height);
    };
    let (min_w, min_h) = if header.info.orientation >= 5 {
        (min_h, min_w)
    } else {
        (min_w, min_h)
    };
    let scale =
        (2.0 * f64::from(min_w) / f64::from(width)).max(2.0 * f64::from(min_h) / f64::from(height));
    if scale >= 1.0 {
        return (width, height);
    }
    let side = |n: u32| ((f64::from(n) * scale).ceil() as u32).clamp(1, n);
    (side(width), side(height))
}

/// Decodes a still WebP at [`scaled_size`]; `None` for an animation (libwebp's simple decoder
/// reads stills only). Alpha is kept (not premultiplied); colour and orientation are the
/// caller's to apply.
pub(crate) fn decode(
    bytes: &[u8],
    header: &Header,
    min_size: Option<(u32, u32)>,
) -> Result<Option<Bitmap>> {
    let corrupt = |status: webp_sys::VP8StatusCode| {
        EngineError::corrupt(format!("WebP: libwebp could not decode it ({status:?})"))
    };
    let mut config =
        webp_sys::WebPDecoderConfig::new().map_err(|()| EngineError::internal("libwebp init"))?;
    // SAFETY: `bytes` is a live slice of `bytes.len()` bytes; libwebp reads the headers only.
    let status =
        unsafe { webp_sys::WebPGetFeatures(bytes.as_ptr(), bytes.len(), &mut config.input) };
    if status != webp_sys::VP8StatusCode::VP8_STATUS_OK {
        return Err(corrupt(status));
    }
    if config.input.has_animation != 0 {
        return Ok(None);
    }
    // libwebp and the engine's header walk must agree on the size the limits were checked on.
    if (config.input.width, config.input.height)
        != (header.info.width as i32, header.info.height as i32)
    {
        return Err(EngineError::corrupt(
            "WebP headers disagree on the image size",
        ));
    }
    let (width, height) = scaled_size(header, min_size);
    let alpha = config.input.has_alpha != 0;
    let channels = if alpha { Channels::Rgba } else { Channels::Rgb };
    let stride = width as usize * channels.count();
    let mut pixels = vec![0u8; stride * height as usize];
    if (width, height) != (header.info.width, header.info.height) {
        config.options.use_scaling = 1;
        config.options.scaled_width = width as i32;
        config.options.scaled_height = height as i32;
    }
    config.options.use_threads = 0;
    config.output.colorspace = if alpha {
        webp_sys::WEBP_CSP_MODE::MODE_RGBA
    } else {
        webp_sys::WEBP_CSP_MODE::MODE_RGB
    };
    config.output.is_external_memory = 1;
    config.output.u.RGBA = webp_sys::WebPRGBABuffer {
        rgba: pixels.as_mut_ptr(),
        stride: i32::try_from(stride).map_err(|_| EngineError::TooLarge("WebP too wide".into()))?,
        size: pixels.len(),
    };
    // SAFETY: the output buffer is `pixels`, `stride` bytes a row for `height` rows, which
    // libwebp checks against the (scaled) size before writing; it outlives the call, and
    // external memory is never freed by libwebp (WebPFreeDecBuffer only frees its own).
    let status = unsafe {
        let status = webp_sys::WebPDecode(bytes.as_ptr(), bytes.len(), &mut config);
        webp_sys::WebPFreeDecBuffer(&mut config.output);
        status
    };
    if status != webp_sys::VP8StatusCode::VP8_STATUS_OK {
        return Err(corrupt(status));
    }
    Bitmap::new(width, height, channels, pixels).map(Some)
}
