//! Colour management: embedded ICC profiles to sRGB, and CMYK to sRGB.

use moxcms::{ColorProfile, DataColorSpace, Layout, TransformOptions};

use crate::bitmap::{Bitmap, Channels};
use crate::error::Result;

/// Heuristic for "this profile is sRGB already": most cameras and editors embed the standard
/// sRGB profile, and converting sRGB to sRGB is wasted work on the hot path. Compares the
/// primaries only; the tone curves of embedded sRGB profiles are tables that vary by writer.
fn is_srgb(profile: &ColorProfile) -> bool {
    let srgb = ColorProfile::new_srgb();
    let close = |a: &moxcms::Xyzd, b: &moxcms::Xyzd| {
        (a.x - b.x).abs() < 2e-3 && (a.y - b.y).abs() < 2e-3 && (a.z - b.z).abs() < 2e-3
    };
    profile.color_space == DataColorSpace::Rgb
        && close(&profile.red_colorant, &srgb.red_colorant)
        && close(&profile.green_colorant, &srgb.green_colorant)
        && close(&profile.blue_colorant, &srgb.blue_colorant)
}

/// Converts an RGB or RGBA bitmap whose pixels are in the colour space of the ICC `profile` to
/// sRGB. A profile that cannot be parsed or does not describe RGB data is ignored (the pixels
/// are taken as sRGB), as browsers do.
pub(crate) fn to_srgb(bitmap: Bitmap, profile: &[u8]) -> Result<Bitmap> {
    let Ok(source) = ColorProfile::new_from_slice(profile) else {
        return Ok(bitmap);
    };
    profile_to_srgb(bitmap, &source)
}

/// The colour profile that CICP code points (ITU-T H.273: colour primaries and transfer
/// characteristics, as an AVIF's or HEIC's `nclx` box names them) describe, when they describe
/// an SDR RGB space moxcms knows; `None` otherwise (unspecified, HDR transfers), and the
/// pixels are then taken as sRGB.
pub(crate) fn cicp_profile(primaries: u8, transfer: u8) -> Option<ColorProfile> {
    use moxcms::{CicpColorPrimaries, CicpProfile, MatrixCoefficients, TransferCharacteristics};
    let transfer = TransferCharacteristics::try_from(transfer).ok()?;
    if matches!(
        transfer,
        TransferCharacteristics::Smpte2084 | TransferCharacteristics::Hlg
    ) {
        return None;
    }
    let cicp = CicpProfile {
        color_primaries: CicpColorPrimaries::try_from(primaries).ok()?,
        transfer_characteristics: transfer,
        // The pixels reach this point as RGB: the matrix has been applied already.
        matrix_coefficients: MatrixCoefficients::Identity,
        full_range: true,
    };
    let profile = ColorProfile::new_from_cicp(cicp);
    (profile.red_trc.is_some()).then_some(profile)
}

/// Converts an RGB or RGBA bitmap in the colour space of `source` to sRGB (nothing to do when
/// it is sRGB already, or not RGB).
pub(crate) fn profile_to_srgb(mut bitmap: Bitmap, source: &ColorProfile) -> Result<Bitmap> {
    if source.color_space != DataColorSpace::Rgb || is_srgb(source) {
        return Ok(bitmap);
    }
    let layout = match bitmap.channels() {
        Channels::Rgb => Layout::Rgb,
        Channels::Rgba => Layout::Rgba,
    };
    let srgb = ColorProfile::new_srgb();
    let Ok(transform) =
        source.create_transform_8bit(layout, &srgb, layout, TransformOptions::default())
    else {
        return Ok(bitmap);
    };
    let mut out = vec![0u8; bitmap.data().len()];
    if transform.transform(bitmap.data(), &mut out).is_ok() {
        bitmap.data_mut().copy_from_slice(&out);
    }
    Ok(bitmap)
}

/// Converts CMYK pixels (255 = full ink) to sRGB, through the embedded profile when it is a
/// usable CMYK profile, else with the naive multiplicative formula R = (255-C)(255-K)/255.
pub(crate) fn cmyk_to_srgb(
    width: u32,
    height: u32,
    cmyk: &[u8],
    profile: Option<&[u8]>,
) -> Result<Bitmap> {
    let mut rgb = vec![0u8; cmyk.len() / 4 * 3];
    let converted = profile
        .and_then(|p| ColorProfile::new_from_slice(p).ok())
        .filter(|p| p.color_space == DataColorSpace::Cmyk)
        .and_then(|p| {
            let srgb = ColorProfile::new_srgb();
            p.create_transform_8bit(
                Layout::Rgba,
                &srgb,
                Layout::Rgb,
                TransformOptions::default(),
            )
            .ok()
        })
        .is_some_and(|t| t.transform(cmyk, &mut rgb).is_ok());
    if !converted {
        for (px, out) in cmyk.chunks_exact(4).zip(rgb.chunks_exact_mut(3)) {
            let white = 255 - u32::from(px[3]);
            for (o, ink) in out.iter_mut().zip(&px[..3]) {
                *o = ((255 - u32::from(*ink)) * white / 255) as u8;
            }
        }
    }
    Bitmap::new(width, height, Channels::Rgb, rgb)
}
