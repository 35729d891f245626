//! Resampling with `fast_image_resize`: the only module that calls it. It sits below both the
//! geometry operations (`resize`) and the smart crop's analysis copy (`smart`), so neither has
//! to reach into the other for pixels.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use crate::bitmap::{Bitmap, Channels};
use crate::error::{EngineError, Result};

/// A region of a source image in source pixels: (left, top, width, height). Fractional, because
/// a cover-crop's window rarely falls on whole pixels and the resizer samples it exactly.
pub(crate) type Region = (f64, f64, f64, f64);

/// Resizes the whole of `src` to exactly `width` x `height`, whatever the aspect ratio.
pub(crate) fn stretch(src: &Bitmap, width: u32, height: u32) -> Result<Bitmap> {
    let (sw, sh) = (src.width(), src.height());
    region(src, (0.0, 0.0, f64::from(sw), f64::from(sh)), width, height)
}

/// Resizes the `region` of `src` to `dst_w` x `dst_h` with a Lanczos3 filter; alpha is
/// premultiplied during the resize so edges do not darken. The whole image at its own size is
/// returned as a copy, untouched.
///
/// Every failure here is the engine's (the sizes come from its own geometry, the buffer from its
/// own decoder), so errors are [`EngineError::Internal`].
pub(crate) fn region(src: &Bitmap, region: Region, dst_w: u32, dst_h: u32) -> Result<Bitmap> {
    let (left, top, crop_w, crop_h) = region;
    let full = left == 0.0
        && top == 0.0
        && crop_w == f64::from(src.width())
        && crop_h == f64::from(src.height());
    if full && dst_w == src.width() && dst_h == src.height() {
        return Ok(src.clone());
    }
    let channels = src.channels();
    let source = ImageRef::new(src.width(), src.height(), src.data(), pixel_type(channels))
        .map_err(|e| EngineError::internal(format!("internal buffer error: {e}")))?;
    let mut dst = Image::new(dst_w, dst_h, pixel_type(channels));
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .crop(left, top, crop_w, crop_h);
    Resizer::new()
        .resize(&source, &mut dst, &options)
        .map_err(|e| EngineError::internal(format!("resize failed: {e}")))?;
    Bitmap::new(dst_w, dst_h, channels, dst.into_vec()).map_err(|_| {
        EngineError::internal(format!(
            "resize failed: its output does not match {dst_w}x{dst_h}"
        ))
    })
}

/// The `fast_image_resize` pixel layout of a [`Channels`] layout (both are 8 bits a sample).
fn pixel_type(channels: Channels) -> PixelType {
    match channels {
        Channels::Rgb => PixelType::U8x3,
        Channels::Rgba => PixelType::U8x4,
    }
}
