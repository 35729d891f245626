//! Applying EXIF orientation to a bitmap.

use crate::bitmap::Bitmap;
use crate::ops::FlipAxis;

/// The EXIF orientation that displays an image turned `quarter_turns` clockwise (1..=3).
pub(crate) fn rotation(quarter_turns: u8) -> u8 {
    match quarter_turns {
        1 => 6,
        2 => 3,
        3 => 8,
        _ => 1,
    }
}

/// The EXIF orientation that displays an image mirrored along `axis`.
pub(crate) fn mirror(axis: FlipAxis) -> u8 {
    match axis {
        FlipAxis::Horizontal => 2,
        FlipAxis::Vertical => 4,
    }
}

/// Returns `bitmap` transformed so that it displays upright for EXIF orientation `orientation`
/// (1..=8; anything else is treated as 1).
pub(crate) fn apply(bitmap: Bitmap, orientation: u8) -> Bitmap {
    if !(2..=8).contains(&orientation) {
        return bitmap;
    }
    let (w, h) = (bitmap.width() as usize, bitmap.height() as usize);
    let channels = bitmap.channels();
    let c = channels.count();
    let (dw, dh) = if orientation >= 5 { (h, w) } else { (w, h) };
    // For each destination pixel (x, y), the source pixel it comes from.
    let source = |x: usize, y: usize| -> (usize, usize) {
        match orientation {
            2 => (w - 1 - x, y),
            3 => (w - 1 - x, h - 1 - y),
            4 => (x, h - 1 - y),
            5 => (y, x),
            6 => (y, h - 1 - x),
            7 => (w - 1 - y, h - 1 - x),
            _ => (w - 1 - y, x),
        }
    };
    let src = bitmap.data();
    let mut out = vec![0u8; src.len()];
    for (y, row) in out.chunks_exact_mut(dw * c).enumerate() {
        for (x, px) in row.chunks_exact_mut(c).enumerate() {
            let (sx, sy) = source(x, y);
            let i = (sy * w + sx) * c;
            px.copy_from_slice(&src[i..i + c]);
        }
    }
    match Bitmap::new(dw as u32, dh as u32, channels, out) {
        Ok(b) => b,
        // Unreachable: the buffer has the source's size and the swapped dimensions.
        Err(_) => bitmap,
    }
}
