//! Geometry: the sizes of cover-crop thumbnails and fit-inside resizes, and the operations
//! themselves (the pixels are resampled by `resample`).

use crate::bitmap::{Bitmap, Channels};
use crate::error::Result;
use crate::ops::Gravity;
use crate::{resample, smart};

/// Final size of `thumb(width, height)` on a `src_w` x `src_h` image: a 0 side follows the
/// aspect ratio, and a derived side is capped at `max_side` (the excess is then cropped).
pub(crate) fn thumb_size(
    src_w: u32,
    src_h: u32,
    width: u32,
    height: u32,
    max_side: u32,
) -> (u32, u32) {
    let derive = |given: u32, num: u32, den: u32| {
        let v = (f64::from(given) * f64::from(num) / f64::from(den)).round();
        (v as u32).clamp(1, max_side.max(1))
    };
    match (width, height) {
        (0, h) => (derive(h, src_w, src_h), h),
        (w, 0) => (w, derive(w, src_h, src_w)),
        (w, h) => (w, h),
    }
}

/// Final size of `fit(width, height)`: the largest size inside the box with the source's
/// aspect ratio, never larger than the source.
pub(crate) fn fit_size(src_w: u32, src_h: u32, width: u32, height: u32) -> (u32, u32) {
    let sx = if width == 0 {
        f64::INFINITY
    } else {
        f64::from(width) / f64::from(src_w)
    };
    let sy = if height == 0 {
        f64::INFINITY
    } else {
        f64::from(height) / f64::from(src_h)
    };
    let scale = sx.min(sy).min(1.0);
    let w = ((f64::from(src_w) * scale).round() as u32).max(1);
    let h = ((f64::from(src_h) * scale).round() as u32).max(1);
    (w.min(src_w), h.min(src_h))
}

/// The size a cover-crop to (w, h) scales the whole source to before cropping.
pub(crate) fn cover_scaled_size(src_w: u32, src_h: u32, w: u32, h: u32) -> (u32, u32) {
    let scale = (f64::from(w) / f64::from(src_w)).max(f64::from(h) / f64::from(src_h));
    (
        ((f64::from(src_w) * scale).ceil() as u32).max(w),
        ((f64::from(src_h) * scale).ceil() as u32).max(h),
    )
}

/// Cover-crops `src` to exactly `width` x `height` (0 = derive from the aspect ratio).
/// `placement` is where the crop goes (left, top): when `None`, the gravity places it and it
/// is stored there, so that the next frame of an animation is cropped in the same place.
pub(crate) fn thumb(
    src: &Bitmap,
    width: u32,
    height: u32,
    gravity: Gravity,
    max_side: u32,
    placement: &mut Option<(f64, f64)>,
) -> Result<Bitmap> {
    let (sw, sh) = (src.width(), src.height());
    let (w, h) = thumb_size(sw, sh, width, height, max_side);
    // The largest region of the source with the target's aspect ratio.
    let scale = (f64::from(w) / f64::from(sw)).max(f64::from(h) / f64::from(sh));
    let crop_w = (f64::from(w) / scale).min(f64::from(sw));
    let crop_h = (f64::from(h) / scale).min(f64::from(sh));
    let (left, top) = match *placement {
        Some(placed) => placed,
        None => *placement.insert(place(src, gravity, crop_w, crop_h)?),
    };
    resample::region(src, (left, top, crop_w, crop_h), w, h)
}

/// Where `gravity` puts a `crop_w` x `crop_h` crop of `src`: its left and top edges.
fn place(src: &Bitmap, gravity: Gravity, crop_w: f64, crop_h: f64) -> Result<(f64, f64)> {
    let (sw, sh) = (src.width(), src.height());
    Ok(match (gravity, gravity.anchor()) {
        (Gravity::Focal { x, y }, _) => {
            // The crop's centre on the point, moved inside the image where it would leave it.
            let place = |side: u32, crop: f64, percent: u8| {
                let centre = f64::from(side) * f64::from(percent) / 100.0;
                (centre - crop / 2.0).clamp(0.0, f64::from(side) - crop)
            };
            (place(sw, crop_w, x), place(sh, crop_h, y))
        }
        (_, Some((ax, ay))) => ((f64::from(sw) - crop_w) * ax, (f64::from(sh) - crop_h) * ay),
        (_, None) => smart::best_crop(src, crop_w, crop_h)?,
    })
}

/// Scales `src` to fit inside `width` x `height` (0 = unbounded), never upscaling.
pub(crate) fn fit(src: &Bitmap, width: u32, height: u32) -> Result<Bitmap> {
    let (sw, sh) = (src.width(), src.height());
    let (w, h) = fit_size(sw, sh, width, height);
    resample::stretch(src, w, h)
}

/// Fits `src` inside `width` x `height` (never upscaling) and centres it on a canvas of
/// exactly that size filled with `background`, opaque. An image with transparency keeps it
/// inside its own area: only the bands added around it are opaque.
pub(crate) fn pad(src: Bitmap, width: u32, height: u32, background: [u8; 3]) -> Result<Bitmap> {
    let (sw, sh) = (src.width(), src.height());
    let (w, h) = fit_size(sw, sh, width, height);
    let fitted = if (w, h) == (sw, sh) {
        src
    } else {
        resample::stretch(&src, w, h)?
    };
    if (w, h) == (width, height) {
        return Ok(fitted);
    }
    let channels = fitted.channels();
    let pixel: &[u8] = match channels {
        Channels::Rgb => &background,
        Channels::Rgba => &[background[0], background[1], background[2], 255],
    };
    let bpp = channels.count();
    let canvas_stride = width as usize * bpp;
    let mut data = pixel.repeat(width as usize * height as usize);
    // Centred; an odd band's extra pixel goes to the right and the bottom.
    let (left, top) = ((width - w) / 2, (height - h) / 2);
    let row_bytes = fitted.stride();
    for (y, row) in fitted.data().chunks_exact(row_bytes).enumerate() {
        let start = (top as usize + y) * canvas_stride + left as usize * bpp;
        data[start..start + row_bytes].copy_from_slice(row);
    }
    Bitmap::new(width, height, channels, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumb_sizes() {
        assert_eq!(thumb_size(4000, 3000, 400, 300, 4096), (400, 300));
        assert_eq!(thumb_size(4000, 3000, 400, 0, 4096), (400, 300));
        assert_eq!(thumb_size(4000, 3000, 0, 300, 4096), (400, 300));
        assert_eq!(thumb_size(100, 10000, 400, 0, 4096), (400, 4096));
        assert_eq!(thumb_size(10000, 1, 0, 1, 4096), (4096, 1));
    }

    #[test]
    fn pad_letterboxes_centred_on_the_background() {
        // A 4x2 red image padded to 6x6 on blue: scaled to fit (no upscale), centred.
        let red = Bitmap::new(4, 2, Channels::Rgb, [255, 0, 0].repeat(8)).unwrap();
        let out = pad(red, 6, 6, [0, 0, 255]).unwrap();
        assert_eq!((out.width(), out.height()), (6, 6));
        assert_eq!(out.pixel(0, 0), [0, 0, 255, 255]);
        assert_eq!(out.pixel(1, 2), [255, 0, 0, 255]);
        assert_eq!(out.pixel(4, 3), [255, 0, 0, 255]);
        assert_eq!(out.pixel(5, 3), [0, 0, 255, 255]);
        assert_eq!(out.pixel(2, 1), [0, 0, 255, 255]);
        assert_eq!(out.pixel(2, 4), [0, 0, 255, 255]);
        // Transparent pixels stay transparent; the bands are opaque.
        let clear = Bitmap::new(2, 2, Channels::Rgba, [0, 0, 0, 0].repeat(4)).unwrap();
        let out = pad(clear, 4, 2, [9, 9, 9]).unwrap();
        assert_eq!(out.pixel(0, 0), [9, 9, 9, 255]);
        assert_eq!(out.pixel(1, 0), [0, 0, 0, 0]);
        assert_eq!(out.pixel(3, 1), [9, 9, 9, 255]);
    }

    #[test]
    fn fit_sizes_never_upscale() {
        assert_eq!(fit_size(4000, 3000, 400, 400), (400, 300));
        assert_eq!(fit_size(3000, 4000, 400, 400), (300, 400));
        assert_eq!(fit_size(4000, 3000, 0, 150), (200, 150));
        assert_eq!(fit_size(200, 100, 400, 400), (200, 100));
        assert_eq!(fit_size(10000, 1, 100, 100), (100, 1));
    }
}
