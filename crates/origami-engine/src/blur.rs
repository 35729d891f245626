//! Gaussian blur whose cost does not grow with sigma.
//!
//! - sigma < 3: an exact separable kernel (radius at most 9 pixels, so bounded cost).
//! - 3 <= sigma < 6: three successive box blurs (central limit theorem; box widths after
//!   Kutskir / Wells, "Efficient synthesis of Gaussian filters by cascaded uniform filters").
//!   Each box pass is a running sum: six additions per channel per pixel whatever the radius.
//! - sigma >= 6: the image is box-downsampled by f = ceil(sigma / 3), blurred there with the
//!   exact kernel at the residual sigma (under 3), and scaled back up bilinearly. The variance
//!   that the down- and up-sampling filters add is subtracted from the residual, so the result
//!   stays close to an exact Gaussian (PSNR tested), and the cost *falls* as sigma grows.
//!
//! Alpha images are blurred premultiplied so transparent pixels do not bleed their colour.

use crate::bitmap::{Bitmap, Channels};
use crate::error::Result;

/// Sigma below which the exact kernel is used.
const EXACT_BELOW: f32 = 3.0;

/// Sigma from which the image is blurred at reduced resolution.
const DOWNSAMPLE_FROM: f32 = 6.0;

/// Unsharp mask: each colour sample becomes `2 x sample - blurred sample` (the image plus its
/// detail against a Gaussian of `sigma`), clamped; alpha is kept. Needs one copy of the image
/// for the blur.
pub(crate) fn sharpen(mut bitmap: Bitmap, sigma: f32) -> Result<Bitmap> {
    let blurred = gaussian(bitmap.clone(), sigma)?;
    let c = bitmap.channels().count();
    let has_alpha = bitmap.channels() == Channels::Rgba;
    for (px, soft) in bitmap
        .data_mut()
        .chunks_exact_mut(c)
        .zip(blurred.data().chunks_exact(c))
    {
        let colours = if has_alpha { 3 } else { c };
        for (sample, blurred) in px[..colours].iter_mut().zip(&soft[..colours]) {
            let sharpened = 2 * i16::from(*sample) - i16::from(*blurred);
            *sample = sharpened.clamp(0, 255) as u8;
        }
    }
    Ok(bitmap)
}

/// Returns `bitmap` blurred with a Gaussian of standard deviation `sigma` pixels.
pub(crate) fn gaussian(mut bitmap: Bitmap, sigma: f32) -> Result<Bitmap> {
    let factor = (sigma / 3.0).ceil() as usize;
    let (w, h) = (bitmap.width() as usize, bitmap.height() as usize);
    if sigma < DOWNSAMPLE_FROM || w < 2 * factor || h < 2 * factor {
        blur_in_place(&mut bitmap, sigma);
        return Ok(bitmap);
    }
    let channels = bitmap.channels();
    let c = channels.count();
    let alpha = channels == Channels::Rgba;
    if alpha {
        premultiply(bitmap.data_mut());
    }
    let f = factor as f32;
    // Box downsampling adds variance (f^2 - 1) / 12 and bilinear upsampling about
    // (f^2 - 1) / 6 (a triangle of half-width f); the blur at low resolution supplies the rest.
    let residual = (sigma * sigma - (f * f - 1.0) / 4.0).max(0.0).sqrt() / f;
    let (mut small, sw, sh) = downsample(bitmap.data(), w, h, c, factor);
    let mut scratch = vec![0u8; small.len()];
    let kernel = gaussian_kernel(residual);
    convolve_rows(&small, &mut scratch, sw, sh, c, &kernel);
    convolve_cols(&scratch, &mut small, sw, sh, c, &kernel);
    upsample(&small, sw, sh, bitmap.data_mut(), w, h, c, factor);
    if alpha {
        unpremultiply(bitmap.data_mut());
    }
    Ok(bitmap)
}

/// Averages `factor` x `factor` blocks; blocks hanging over the right or bottom edge repeat
/// the edge pixels (the same edge rule as the blur itself).
fn downsample(src: &[u8], w: usize, h: usize, c: usize, factor: usize) -> (Vec<u8>, usize, usize) {
    let (sw, sh) = (w.div_ceil(factor), h.div_ceil(factor));
    let mut sums = vec![0u32; sw * c];
    let mut out = vec![0u8; sw * sh * c];
    let area = (factor * factor) as u32;
    for by in 0..sh {
        sums.iter_mut().for_each(|s| *s = 0);
        for dy in 0..factor {
            let y = (by * factor + dy).min(h - 1);
            let row = &src[y * w * c..(y + 1) * w * c];
            for bx in 0..sw {
                for dx in 0..factor {
                    let x = (bx * factor + dx).min(w - 1);
                    for ch in 0..c {
                        sums[bx * c + ch] += u32::from(row[x * c + ch]);
                    }
                }
            }
        }
        let out_row = &mut out[by * sw * c..(by + 1) * sw * c];
        out_row
            .iter_mut()
            .zip(&sums)
            .for_each(|(o, &s)| *o = ((s + area / 2) / area) as u8);
    }
    (out, sw, sh)
}

/// Bilinear upsampling by `factor`, pixel centres aligned, edges clamped.
#[allow(clippy::too_many_arguments)]
fn upsample(
    small: &[u8],
    sw: usize,
    sh: usize,
    dst: &mut [u8],
    w: usize,
    h: usize,
    c: usize,
    factor: usize,
) {
    let f = factor as f32;
    // Source position of each destination column: index and weight of the right neighbour.
    let taps = |n: usize, limit: usize| -> Vec<(usize, usize, f32)> {
        (0..n)
            .map(|x| {
                let u = ((x as f32 + 0.5) / f - 0.5).max(0.0);
                let i0 = (u.floor() as usize).min(limit - 1);
                let i1 = (i0 + 1).min(limit - 1);
                (i0, i1, u - i0 as f32)
            })
            .collect()
    };
    let xs = taps(w, sw);
    let ys = taps(h, sh);
    let mut row = vec![0f32; sw * c];
    for (y, &(y0, y1, ty)) in ys.iter().enumerate() {
        let (r0, r1) = (
            &small[y0 * sw * c..(y0 + 1) * sw * c],
            &small[y1 * sw * c..(y1 + 1) * sw * c],
        );
        for ((v, &a), &b) in row.iter_mut().zip(r0).zip(r1) {
            *v = f32::from(a) + (f32::from(b) - f32::from(a)) * ty;
        }
        let out = &mut dst[y * w * c..(y + 1) * w * c];
        for (x, &(x0, x1, tx)) in xs.iter().enumerate() {
            for ch in 0..c {
                let (a, b) = (row[x0 * c + ch], row[x1 * c + ch]);
                out[x * c + ch] = (a + (b - a) * tx + 0.5).clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// Blurs `bitmap` in place at full resolution (exact kernel or box cascade).
fn blur_in_place(bitmap: &mut Bitmap, sigma: f32) {
    if sigma <= 0.0 {
        return;
    }
    let (w, h) = (bitmap.width() as usize, bitmap.height() as usize);
    let c = bitmap.channels().count();
    let alpha = bitmap.channels() == Channels::Rgba;
    let data = bitmap.data_mut();
    if alpha {
        premultiply(data);
    }
    let mut scratch = vec![0u8; data.len()];
    if sigma < EXACT_BELOW {
        let kernel = gaussian_kernel(sigma);
        convolve_rows(data, &mut scratch, w, h, c, &kernel);
        convolve_cols(&scratch, data, w, h, c, &kernel);
    } else {
        for radius in box_radii(sigma) {
            box_rows(data, &mut scratch, w, h, c, radius);
            box_cols(&scratch, data, w, h, c, radius);
        }
    }
    if alpha {
        unpremultiply(data);
    }
}

/// Radii of the three boxes whose cascade has variance sigma^2.
pub(crate) fn box_radii(sigma: f32) -> [usize; 3] {
    const N: f32 = 3.0;
    let ideal = (12.0 * sigma * sigma / N + 1.0).sqrt();
    let mut lower = ideal.floor() as i64;
    if lower % 2 == 0 {
        lower -= 1;
    }
    let upper = lower + 2;
    let l = lower as f32;
    let m = ((12.0 * sigma * sigma - N * l * l - 4.0 * N * l - 3.0 * N) / (-4.0 * l - 4.0)).round();
    let mut radii = [0usize; 3];
    for (i, r) in radii.iter_mut().enumerate() {
        let width = if (i as f32) < m { lower } else { upper };
        *r = ((width.max(1) - 1) / 2) as usize;
    }
    radii
}

/// One box pass along rows: `dst[x] = mean(src[x-r ..= x+r])`, edges clamped.
fn box_rows(src: &[u8], dst: &mut [u8], w: usize, h: usize, c: usize, r: usize) {
    let d = (2 * r + 1) as u32;
    let half = d / 2;
    for y in 0..h {
        let row = &src[y * w * c..(y + 1) * w * c];
        let out = &mut dst[y * w * c..(y + 1) * w * c];
        for ch in 0..c {
            let px = |x: usize| u32::from(row[x.min(w - 1) * c + ch]);
            // Sum over [-r, r] with the left edge clamped: (r + 1) copies of px(0) plus
            // px(1..=r); past the right edge px() clamps, so this is O(min(r, w)).
            let mut sum = (r as u32 + 1) * px(0);
            let direct = r.min(w - 1);
            for x in 1..=direct {
                sum += px(x);
            }
            sum += (r - direct) as u32 * px(w - 1);
            for x in 0..w {
                out[x * c + ch] = ((sum + half) / d) as u8;
                sum = sum + px(x + r + 1) - px(x.saturating_sub(r));
            }
        }
    }
}

/// One box pass along columns, a whole row at a time so memory is read sequentially.
fn box_cols(src: &[u8], dst: &mut [u8], w: usize, h: usize, c: usize, r: usize) {
    let d = (2 * r + 1) as u32;
    let half = d / 2;
    let stride = w * c;
    let row = |y: usize| &src[y.min(h - 1) * stride..(y.min(h - 1) + 1) * stride];
    let mut sums: Vec<u32> = row(0)
        .iter()
        .map(|&v| (r as u32 + 1) * u32::from(v))
        .collect();
    let direct = r.min(h - 1);
    for y in 1..=direct {
        sums.iter_mut()
            .zip(row(y))
            .for_each(|(s, &v)| *s += u32::from(v));
    }
    let extra = (r - direct) as u32;
    sums.iter_mut()
        .zip(row(h - 1))
        .for_each(|(s, &v)| *s += extra * u32::from(v));
    for y in 0..h {
        let out = &mut dst[y * stride..(y + 1) * stride];
        out.iter_mut()
            .zip(&sums)
            .for_each(|(o, &s)| *o = ((s + half) / d) as u8);
        let (add, sub) = (row(y + r + 1), row(y.saturating_sub(r)));
        for ((s, &a), &b) in sums.iter_mut().zip(add).zip(sub) {
            *s = *s + u32::from(a) - u32::from(b);
        }
    }
}

/// Fixed-point Gaussian weights (summing to 1 << 14) for radius ceil(3 sigma).
fn gaussian_kernel(sigma: f32) -> Vec<i32> {
    let radius = (3.0 * sigma).ceil().max(1.0) as i32;
    let weights: Vec<f32> = (-radius..=radius)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = weights.iter().sum();
    let mut fixed: Vec<i32> = weights
        .iter()
        .map(|w| (w / total * 16384.0).round() as i32)
        .collect();
    // Put the rounding error on the centre tap so flat areas stay exactly flat.
    let error = 16384 - fixed.iter().sum::<i32>();
    fixed[radius as usize] += error;
    fixed
}

fn convolve_rows(src: &[u8], dst: &mut [u8], w: usize, h: usize, c: usize, kernel: &[i32]) {
    let r = kernel.len() / 2;
    for y in 0..h {
        let row = &src[y * w * c..(y + 1) * w * c];
        let out = &mut dst[y * w * c..(y + 1) * w * c];
        for x in 0..w {
            for ch in 0..c {
                let mut acc = 0i32;
                for (k, weight) in kernel.iter().enumerate() {
                    let sx = (x + k).saturating_sub(r).min(w - 1);
                    acc += weight * i32::from(row[sx * c + ch]);
                }
                out[x * c + ch] = ((acc + 8192) >> 14).clamp(0, 255) as u8;
            }
        }
    }
}

fn convolve_cols(src: &[u8], dst: &mut [u8], w: usize, h: usize, c: usize, kernel: &[i32]) {
    let r = kernel.len() / 2;
    let stride = w * c;
    let mut acc = vec![0i32; stride];
    for y in 0..h {
        acc.iter_mut().for_each(|a| *a = 0);
        for (k, weight) in kernel.iter().enumerate() {
            let sy = (y + k).saturating_sub(r).min(h - 1);
            let row = &src[sy * stride..(sy + 1) * stride];
            acc.iter_mut()
                .zip(row)
                .for_each(|(a, &v)| *a += weight * i32::from(v));
        }
        let out = &mut dst[y * stride..(y + 1) * stride];
        out.iter_mut()
            .zip(&acc)
            .for_each(|(o, &a)| *o = ((a + 8192) >> 14).clamp(0, 255) as u8);
    }
}

fn premultiply(data: &mut [u8]) {
    for p in data.chunks_exact_mut(4) {
        let a = u32::from(p[3]);
        for v in &mut p[..3] {
            *v = ((u32::from(*v) * a + 127) / 255) as u8;
        }
    }
}

fn unpremultiply(data: &mut [u8]) {
    for p in data.chunks_exact_mut(4) {
        let a = u32::from(p[3]);
        if a == 0 {
            p[..3].fill(0);
            continue;
        }
        for v in &mut p[..3] {
            *v = ((u32::from(*v) * 255 + a / 2) / a).min(255) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_cascade_matches_the_gaussian_variance() {
        for sigma in [3.0f32, 3.3, 5.0, 12.0, 50.0, 100.0] {
            let radii = box_radii(sigma);
            // A box of width d has variance (d^2 - 1) / 12; variances add.
            let var: f32 = radii
                .iter()
                .map(|r| ((2 * r + 1) as f32).powi(2) - 1.0)
                .sum::<f32>()
                / 12.0;
            let rel = (var.sqrt() - sigma).abs() / sigma;
            assert!(rel < 0.07, "sigma {sigma}: cascade sigma {}", var.sqrt());
        }
    }

    #[test]
    fn kernel_is_normalised() {
        for sigma in [0.3f32, 0.5, 1.0, 2.9] {
            assert_eq!(gaussian_kernel(sigma).iter().sum::<i32>(), 16384);
        }
    }
}
