//! Saliency-based crop placement (`g/smart`), in the spirit of libvips' "attention" crop and
//! smartcrop.js: score every pixel of a small copy of the image for detail (edges), colour
//! saturation and skin tones, then slide the crop window to where the score sum is largest.

use crate::bitmap::Bitmap;
use crate::error::Result;
use crate::resample;

/// Longest side of the analysis copy: large enough to see a subject, small enough to cost
/// well under a millisecond.
const ANALYSIS_SIDE: f64 = 128.0;

/// Returns (left, top) for a `crop_w` x `crop_h` window in `src` that keeps the most salient
/// region.
pub(crate) fn best_crop(src: &Bitmap, crop_w: f64, crop_h: f64) -> Result<(f64, f64)> {
    let (sw, sh) = (f64::from(src.width()), f64::from(src.height()));
    let k = (ANALYSIS_SIDE / sw.max(sh)).min(1.0);
    let (aw, ah) = (
        ((sw * k).round() as u32).max(1),
        ((sh * k).round() as u32).max(1),
    );
    let small = if k < 1.0 {
        resample::stretch(src, aw, ah)?
    } else {
        src.clone()
    };
    let saliency = saliency_map(&small);
    let (aw, ah) = (small.width() as usize, small.height() as usize);
    let integral = Integral::new(&saliency, aw, ah);
    let kx = aw as f64 / sw;
    let ky = ah as f64 / sh;
    let win_w = ((crop_w * kx).round() as usize).clamp(1, aw);
    let win_h = ((crop_h * ky).round() as usize).clamp(1, ah);
    let (free_x, free_y) = (aw - win_w, ah - win_h);
    let total = integral.sum(0, 0, aw, ah).max(1.0);
    let mut best = (f64::NEG_INFINITY, 0usize, 0usize);
    for y in 0..=free_y {
        for x in 0..=free_x {
            let inside = integral.sum(x, y, win_w, win_h);
            // A faint pull towards the centre breaks ties between equally good windows.
            let off_x = if free_x > 0 {
                (x as f64 / free_x as f64 - 0.5).abs()
            } else {
                0.0
            };
            let off_y = if free_y > 0 {
                (y as f64 / free_y as f64 - 0.5).abs()
            } else {
                0.0
            };
            let score = inside / total - 0.01 * (off_x + off_y);
            if score > best.0 {
                best = (score, x, y);
            }
        }
    }
    let left = (best.1 as f64 / kx).clamp(0.0, sw - crop_w);
    let top = (best.2 as f64 / ky).clamp(0.0, sh - crop_h);
    Ok((left, top))
}

/// Per-pixel interest: edge strength + saturation + skin likeness, weighted by alpha.
fn saliency_map(img: &Bitmap) -> Vec<f32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let c = img.channels().count();
    let data = img.data();
    let luma: Vec<f32> = data
        .chunks_exact(c)
        .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
        .collect();
    let at = |x: usize, y: usize| luma[y * w + x];
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let l = at(x, y);
            let edge = (4.0 * l
                - at(x.saturating_sub(1), y)
                - at((x + 1).min(w - 1), y)
                - at(x, y.saturating_sub(1))
                - at(x, (y + 1).min(h - 1)))
            .abs();
            let i = (y * w + x) * c;
            let (r, g, b) = (
                f32::from(data[i]),
                f32::from(data[i + 1]),
                f32::from(data[i + 2]),
            );
            let max = r.max(g).max(b);
            let min = r.min(g).min(b);
            let saturation = if max > 0.0 && (12.0..240.0).contains(&l) {
                (max - min) / max
            } else {
                0.0
            };
            let skin = skin_likeness(r, g, b, l);
            let alpha = if c == 4 {
                f32::from(data[i + 3]) / 255.0
            } else {
                1.0
            };
            out[y * w + x] = alpha * (edge + 40.0 * saturation + 60.0 * skin);
        }
    }
    out
}

/// 0..1: how close the pixel's chromaticity is to typical skin (as in smartcrop.js).
fn skin_likeness(r: f32, g: f32, b: f32, luma: f32) -> f32 {
    if !(50.0..=240.0).contains(&luma) {
        return 0.0;
    }
    let mag = (r * r + g * g + b * b).sqrt().max(1.0);
    let (dr, dg, db) = (r / mag - 0.78, g / mag - 0.57, b / mag - 0.44);
    let d = (dr * dr + dg * dg + db * db).sqrt();
    (1.0 - d / 0.12).max(0.0)
}

/// Summed-area table for O(1) window sums.
struct Integral {
    w: usize,
    sums: Vec<f64>,
}

impl Integral {
    fn new(values: &[f32], w: usize, h: usize) -> Self {
        let mut sums = vec![0f64; (w + 1) * (h + 1)];
        for y in 0..h {
            let mut row = 0f64;
            for x in 0..w {
                row += f64::from(values[y * w + x]);
                sums[(y + 1) * (w + 1) + x + 1] = sums[y * (w + 1) + x + 1] + row;
            }
        }
        Self { w, sums }
    }

    fn sum(&self, x: usize, y: usize, w: usize, h: usize) -> f64 {
        let s = |x: usize, y: usize| self.sums[y * (self.w + 1) + x];
        s(x + w, y + h) - s(x, y + h) - s(x + w, y) + s(x, y)
    }
}
