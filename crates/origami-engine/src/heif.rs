//! HEIC and AVIF input, through the system libheif (its HEVC and AV1 decoders).
//!
//! libheif applies the container's transformations (`irot`, `imir`, `clap`) itself and
//! reports the size after them, so these images reach the pipeline upright with orientation
//! 1; an EXIF orientation inside a HEIF file describes the same turn and is not applied again.
//! Samples over 8 bits are reduced to 8 by libheif; an ICC profile is converted to sRGB like a
//! JPEG's. Images with `nclx` colour (most AVIFs, and HEICs from many cameras) have their
//! YCbCr converted by libheif with the matrix they name, and their primaries and transfer
//! (Display P3, BT.2020 SDR, ...) converted to sRGB here; HDR transfers (PQ, HLG) are taken
//! as sRGB. The `nclx` code points are read from the boxes (`heif_boxes`), not asked of
//! libheif, whose query leaks.

use std::sync::LazyLock;

use libheif_rs::{
    ColorSpace, DecodingOptions, HeifContext, HeifError, HeifErrorCode, ImageHandle, LibHeif,
    RgbChroma,
};

use crate::bitmap::{Bitmap, Channels};
use crate::error::{EngineError, Result};
use crate::format::ImageFormat;
use crate::header::{Header, ImageInfo, Plays};

/// libheif's global state: initialised once, kept for the life of the process.
static LIBHEIF: LazyLock<LibHeif> = LazyLock::new(LibHeif::new);

/// libheif's refusal as the engine's error class.
fn heif_error(format: ImageFormat, err: HeifError) -> EngineError {
    let message = format!("{format}: {}", err.message);
    match err.code {
        HeifErrorCode::UnsupportedFileType
        | HeifErrorCode::UnsupportedFeature
        | HeifErrorCode::DecoderPluginError => EngineError::Unsupported(message),
        HeifErrorCode::MemoryAllocationError => EngineError::TooLarge(message),
        _ => EngineError::corrupt(message),
    }
}

/// The container parsed and its primary image found: no pixel decoded.
fn primary(format: ImageFormat, bytes: &[u8]) -> Result<(HeifContext<'_>, ImageHandle)> {
    LazyLock::force(&LIBHEIF);
    let mut context = HeifContext::read_from_bytes(bytes).map_err(|e| heif_error(format, e))?;
    // The server's pool is the place for parallelism: one thread per decode.
    context.set_max_decoding_threads(1);
    let handle = context
        .primary_image_handle()
        .map_err(|e| heif_error(format, e))?;
    Ok((context, handle))
}

/// The ICC profile of `handle`, when its colour is described by one.
fn icc_profile(handle: &ImageHandle) -> Option<Vec<u8>> {
    handle
        .color_profile_raw()
        .map(|profile| profile.data)
        .filter(|data| !data.is_empty())
}

/// The header facts of a HEIC or AVIF file, from its container alone.
pub(crate) fn header(format: ImageFormat, bytes: &[u8]) -> Result<Header> {
    let (_context, handle) = primary(format, bytes)?;
    let icc_profile = icc_profile(&handle);
    Ok(Header {
        info: ImageInfo {
            format,
            width: handle.width(),
            height: handle.height(),
            orientation: 1,
            has_alpha: handle.has_alpha_channel(),
            progressive: false,
            has_icc_profile: icc_profile.is_some(),
            frames: 1,
        },
        icc_profile,
        adobe: false,
        coefficient_bytes: 0,
        sixteen_bit: handle.luma_bits_per_pixel() > 8,
        stray_ranges: Vec::new(),
        plays: Plays::ONCE,
    })
}

/// Decodes the primary image of a HEIC or AVIF file into an upright 8-bit bitmap (alpha
/// kept), with its ICC profile for the caller to convert.
pub(crate) fn decode(format: ImageFormat, bytes: &[u8]) -> Result<(Bitmap, Option<Vec<u8>>)> {
    let (_context, handle) = primary(format, bytes)?;
    let alpha = handle.has_alpha_channel();
    let mut options = DecodingOptions::new()
        .ok_or_else(|| EngineError::internal("libheif: no decoding options"))?;
    options.set_convert_hdr_to_8bit(true);
    let chroma = if alpha {
        RgbChroma::Rgba
    } else {
        RgbChroma::Rgb
    };
    let image = LIBHEIF
        .decode(&handle, ColorSpace::Rgb(chroma), Some(options))
        .map_err(|e| heif_error(format, e))?;
    let planes = image.planes();
    let plane = planes
        .interleaved
        .ok_or_else(|| EngineError::corrupt(format!("{format}: no interleaved plane decoded")))?;
    let channels = if alpha { Channels::Rgba } else { Channels::Rgb };
    let row = plane.width as usize * channels.count();
    let needed = plane
        .stride
        .checked_mul((plane.height as usize).saturating_sub(1))
        .and_then(|n| n.checked_add(row));
    if plane.height == 0 || plane.stride < row || needed.is_none_or(|n| plane.data.len() < n) {
        return Err(EngineError::corrupt(format!(
            "{format}: decoded plane smaller than its size"
        )));
    }
    let mut data = Vec::with_capacity(row * plane.height as usize);
    for y in 0..plane.height as usize {
        data.extend_from_slice(&plane.data[y * plane.stride..y * plane.stride + row]);
    }
    let bitmap = Bitmap::new(plane.width, plane.height, channels, data)?;
    let icc = icc_profile(&handle);
    if icc.is_none() {
        if let Some((primaries, transfer)) = crate::heif_boxes::primary_nclx(bytes) {
            if let (Ok(primaries), Ok(transfer)) = (u8::try_from(primaries), u8::try_from(transfer))
            {
                if let Some(profile) = crate::color::cicp_profile(primaries, transfer) {
                    return Ok((crate::color::profile_to_srgb(bitmap, &profile)?, None));
                }
            }
        }
    }
    Ok((bitmap, icc))
}
