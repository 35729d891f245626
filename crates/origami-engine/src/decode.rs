//! Decoding to an oriented sRGB [`Bitmap`], with shrink-on-load for JPEG (DCT scaling) and
//! still WebP (libwebp's rescaler).

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder};
use turbojpeg::{Colorspace, Decompressor, PixelFormat, ScalingFactor};

use crate::bitmap::{Bitmap, Channels};
use crate::color;
use crate::decoder_errors::{guarded, image_error};
use crate::error::{EngineError, Result};
use crate::format::ImageFormat;
use crate::header::{Header, ImageInfo};
use crate::limits::Limits;
use crate::orient;
use crate::probe;

/// An input whose header has been read and checked against the limits. [`decode`] takes
/// nothing else, so no pixel buffer can be allocated for an image that was not checked, and
/// the header is parsed once however many times the input is decoded.
pub(crate) struct Source<I> {
    bytes: I,
    header: Header,
}

impl<I: AsRef<[u8]>> Source<I> {
    /// Reads the header of `bytes` and checks it against `limits`.
    pub(crate) fn new(bytes: I, limits: &Limits) -> Result<Self> {
        let header = probe::read_header(bytes.as_ref())?;
        check_limits(bytes.as_ref(), &header, limits)?;
        Ok(Self { bytes, header })
    }

    /// The parsed header.
    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    /// The input's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.bytes.as_ref()
    }

    /// The header facts, without the decoder's metadata.
    pub(crate) fn into_info(self) -> ImageInfo {
        self.header.info
    }
}

/// Rejects inputs whose header exceeds the limits, before any pixel buffer exists.
fn check_limits(bytes: &[u8], header: &Header, limits: &Limits) -> Result<()> {
    if bytes.len() > limits.max_input_bytes {
        return Err(EngineError::TooLarge(format!(
            "input is {} bytes; the limit is {}",
            bytes.len(),
            limits.max_input_bytes
        )));
    }
    let info = &header.info;
    if info.pixels() > limits.max_source_pixels {
        return Err(EngineError::TooLarge(format!(
            "image is {}x{} ({:.1} MP); the limit is {:.1} MP",
            info.width,
            info.height,
            info.pixels() as f64 / 1e6,
            limits.max_source_pixels as f64 / 1e6
        )));
    }
    if info.frames > limits.max_frames {
        return Err(EngineError::TooLarge(format!(
            "animation has {} frames; the limit is {} (limits.max_frames)",
            info.frames, limits.max_frames
        )));
    }
    let animation_pixels = info.pixels().saturating_mul(u64::from(info.frames));
    if info.is_animated() && animation_pixels > limits.max_animation_pixels {
        return Err(EngineError::TooLarge(format!(
            "animation is {} frames of {}x{} ({:.1} MP in all); the limit is {:.1} MP \
             (limits.max_animation_pixels)",
            info.frames,
            info.width,
            info.height,
            animation_pixels as f64 / 1e6,
            limits.max_animation_pixels as f64 / 1e6
        )));
    }
    Ok(())
}

/// How much of a progressive JPEG's detail a decode reads ([`TransformOptions::refinement`](crate::TransformOptions::refinement)).
///
/// Measured before it was chosen (`quality -- --refinement`, table in the README: SSIMULACRA2
/// of the JPEG q80 thumbnail against a full-decode reference, the three progressive benchmark
/// photos): without the AC refinement scans, a 400x300 thumbnail (decoded at 1/4, at least 2x
/// the output) scores 0.07-0.15 point lower and takes half the time; at 1/2 scale (800x600,
/// 1280x960) it would lose up to 1.4 and 4.4 points, so only 1/4 takes the shortcut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refinement {
    /// Every scan at every scale, with no shortcut at all: the same pixels as [`Refinement::Exact`],
    /// slower at 1/8. Exists for measuring the shortcuts.
    EveryScan,
    /// The exact pixels: every scan, but at 1/8 scale the DC scans alone, which give the same.
    Exact,
    /// At 1/4 scale, without the AC refinement scans (`jpeg_scans::without_ac_refinement`).
    /// Only for a caller that resizes the decode to at most half its size.
    CoarseAtQuarter,
}

/// Decodes `source` into an oriented sRGB bitmap. `min_size`, in oriented pixels, is the
/// smallest size the rest of the pipeline needs; JPEGs are decoded with DCT scaling down to no
/// less than twice that, so the final resize still has 2x oversampling.
pub(crate) fn decode<I: AsRef<[u8]>>(
    source: &Source<I>,
    min_size: Option<(u32, u32)>,
    limits: &Limits,
) -> Result<Bitmap> {
    decode_with(source, min_size, Refinement::Exact, limits)
}

/// [`decode`], reading as much of a progressive JPEG as `refinement` says.
pub(crate) fn decode_with<I: AsRef<[u8]>>(
    source: &Source<I>,
    min_size: Option<(u32, u32)>,
    refinement: Refinement,
    limits: &Limits,
) -> Result<Bitmap> {
    decode_checked(
        source.bytes(),
        source.header(),
        min_size,
        refinement,
        limits,
    )
}

/// [`decode`] of bytes whose header was checked (one copy of the code, whatever the input
/// type).
fn decode_checked(
    bytes: &[u8],
    header: &Header,
    min_size: Option<(u32, u32)>,
    refinement: Refinement,
    limits: &Limits,
) -> Result<Bitmap> {
    let (bitmap, icc) = match header.info.format {
        ImageFormat::Jpeg => {
            let scale = header_jpeg_scale(header, min_size);
            (decode_jpeg(bytes, header, scale, refinement, limits)?, None)
        }
        ImageFormat::Png => decode_with_image(
            image::codecs::png::PngDecoder::new(Cursor::new(bytes)),
            limits,
        )?,
        ImageFormat::Gif => decode_with_image(
            image::codecs::gif::GifDecoder::new(Cursor::new(bytes)),
            limits,
        )?,
        ImageFormat::WebP => match crate::webp_decode::decode(bytes, header, min_size)? {
            Some(bitmap) => (bitmap, header.icc_profile.clone()),
            // An animation's first frame, composited as the animation path does.
            None => decode_with_image(
                image::codecs::webp::WebPDecoder::new(Cursor::new(bytes)),
                limits,
            )?,
        },
        ImageFormat::Tiff => guarded(ImageFormat::Tiff, || {
            decode_with_image(
                image::codecs::tiff::TiffDecoder::new(Cursor::new(bytes)),
                limits,
            )
        })?,
        ImageFormat::Bmp => guarded(ImageFormat::Bmp, || {
            decode_with_image(
                image::codecs::bmp::BmpDecoder::new(Cursor::new(bytes)),
                limits,
            )
        })?,
        ImageFormat::Ico => guarded(ImageFormat::Ico, || {
            decode_with_image(
                image::codecs::ico::IcoDecoder::new(Cursor::new(bytes)),
                limits,
            )
        })?,
        ImageFormat::Qoi => guarded(ImageFormat::Qoi, || {
            decode_with_image(
                image::codecs::qoi::QoiDecoder::new(Cursor::new(bytes)),
                limits,
            )
        })?,
        ImageFormat::Avif | ImageFormat::Heic => {
            let format = header.info.format;
            guarded(format, || crate::heif::decode(format, bytes))?
        }
        ImageFormat::Jxl => (
            guarded(ImageFormat::Jxl, || crate::jxl::decode(bytes, limits))?,
            None,
        ),
        ImageFormat::Svg => (
            guarded(ImageFormat::Svg, || crate::svg::decode(bytes, min_size))?,
            None,
        ),
    };
    let bitmap = match icc {
        Some(profile) => color::to_srgb(bitmap, &profile)?,
        None => bitmap,
    };
    Ok(orient::apply(bitmap, header.info.orientation))
}

/// The size (stored orientation) and bytes per pixel [`decode`] produces for `header` and
/// `min_size`: JPEGs at their DCT scale, still WebPs at their scaled size, other formats
/// whole; 4 bytes per pixel for images with alpha and CMYK JPEGs, else 3 (8-bit: PNG's 16-bit
/// samples are converted to 8).
pub(crate) fn decoded_size(header: &Header, min_size: Option<(u32, u32)>) -> (u32, u32, u32) {
    let info = &header.info;
    let channels = if info.has_alpha || header.adobe { 4 } else { 3 };
    if info.format == ImageFormat::WebP && !info.is_animated() {
        let (width, height) = crate::webp_decode::scaled_size(header, min_size);
        return (width, height, channels);
    }
    if info.format != ImageFormat::Jpeg {
        return (info.width, info.height, channels);
    }
    let scale = header_jpeg_scale(header, min_size);
    let side = |n: u32| u32::try_from(scale.scale(n as usize)).unwrap_or(n);
    (side(info.width), side(info.height), channels)
}

/// Whether a progressive JPEG with `header` decoded for `min_size` with `refinement` is handed
/// part of its scans: its DC scans (and its subsampled components' AC scans) at 1/8 scale, all
/// but its AC refinement scans at 1/4 with [`Refinement::CoarseAtQuarter`] (see `jpeg_scans`).
pub(crate) fn reads_part_of_the_scans(
    header: &Header,
    min_size: Option<(u32, u32)>,
    refinement: Refinement,
) -> bool {
    if header.info.format != ImageFormat::Jpeg || !header.info.progressive {
        return false;
    }
    let scale = header_jpeg_scale(header, min_size);
    (scale == ScalingFactor::ONE_EIGHTH && refinement != Refinement::EveryScan)
        || (scale == ScalingFactor::ONE_QUARTER && refinement == Refinement::CoarseAtQuarter)
}

/// The DCT scale a JPEG with `header` is decoded at for `min_size` (oriented pixels; the scale
/// is chosen in stored orientation).
fn header_jpeg_scale(header: &Header, min_size: Option<(u32, u32)>) -> ScalingFactor {
    let min_stored = min_size.map(|(w, h)| {
        if header.info.orientation >= 5 {
            (h, w)
        } else {
            (w, h)
        }
    });
    jpeg_scale(header.info.width, header.info.height, min_stored)
}

/// The upright size [`decode`] gives a JPEG of `stored` pixels (as stored, before
/// `orientation`) for `min_size` (oriented pixels).
pub(crate) fn jpeg_decoded_size(
    stored: (u32, u32),
    orientation: u8,
    min_size: (u32, u32),
) -> (u32, u32) {
    let min_stored = if orientation >= 5 {
        (min_size.1, min_size.0)
    } else {
        min_size
    };
    let scale = jpeg_scale(stored.0, stored.1, Some(min_stored));
    let side = |n: u32| u32::try_from(scale.scale(n as usize)).unwrap_or(n);
    let (w, h) = (side(stored.0), side(stored.1));
    if orientation >= 5 {
        (h, w)
    } else {
        (w, h)
    }
}

/// The DCT scaling factors with fast paths in libjpeg-turbo, smallest first.
const JPEG_SCALES: [ScalingFactor; 3] = [
    ScalingFactor::ONE_EIGHTH,
    ScalingFactor::ONE_QUARTER,
    ScalingFactor::ONE_HALF,
];

/// Picks the smallest DCT scale that leaves at least 2x `min_size` in both directions.
pub(crate) fn jpeg_scale(width: u32, height: u32, min_size: Option<(u32, u32)>) -> ScalingFactor {
    let Some((min_w, min_h)) = min_size else {
        return ScalingFactor::ONE;
    };
    JPEG_SCALES
        .into_iter()
        .find(|s| {
            s.scale(width as usize) >= 2 * min_w as usize
                && s.scale(height as usize) >= 2 * min_h as usize
        })
        .unwrap_or(ScalingFactor::ONE)
}

fn decode_jpeg(
    bytes: &[u8],
    header: &Header,
    scale: ScalingFactor,
    refinement: Refinement,
    limits: &Limits,
) -> Result<Bitmap> {
    // Rare (stray bytes between header segments): the decoder gets a copy without them.
    let cleaned;
    let bytes = if header.stray_ranges.is_empty() {
        bytes
    } else {
        cleaned = without_ranges(bytes, &header.stray_ranges);
        cleaned.as_slice()
    };
    // At 1/8 scale a progressive JPEG's AC scans are not read (see `jpeg_scans`): the same
    // pixels from its DC scans alone. Should that stream fail, the whole file is decoded.
    if header.info.progressive
        && scale == ScalingFactor::ONE_EIGHTH
        && refinement != Refinement::EveryScan
    {
        // The cost model weighs this as a baseline file's entropy decoding
        // (`reads_part_of_the_scans`).
        if let Some(dc_only) = crate::jpeg_scans::dc_scans_only(bytes) {
            if let Ok(bitmap) = decompress_jpeg(&dc_only, header, scale, limits) {
                return Ok(bitmap);
            }
        }
    }
    // At 1/4, when the caller allows it, without the AC refinement scans (likewise).
    if header.info.progressive
        && scale == ScalingFactor::ONE_QUARTER
        && refinement == Refinement::CoarseAtQuarter
    {
        if let Some(coarse) = crate::jpeg_scans::without_ac_refinement(bytes) {
            if let Ok(bitmap) = decompress_jpeg(&coarse, header, scale, limits) {
                return Ok(bitmap);
            }
        }
    }
    decompress_jpeg(bytes, header, scale, limits)
}

/// [`decode_jpeg`] of `bytes` as they are given.
fn decompress_jpeg(
    bytes: &[u8],
    header: &Header,
    scale: ScalingFactor,
    limits: &Limits,
) -> Result<Bitmap> {
    let tj = |e: turbojpeg::Error| EngineError::corrupt(format!("JPEG: {e}"));
    let mut decompressor = Decompressor::new().map_err(tj)?;
    decompressor
        .set_scan_limit(limits.max_jpeg_scans)
        .map_err(tj)?;
    let jpeg = decompressor.read_header(bytes).map_err(tj)?;
    // libjpeg-turbo and our own header scan must agree on the size the limits were checked on.
    if jpeg.width != header.info.width as usize || jpeg.height != header.info.height as usize {
        return Err(EngineError::corrupt("JPEG frame headers disagree"));
    }
    decompressor.set_scaling_factor(scale).map_err(tj)?;
    let scaled = jpeg.scaled(scale);
    let cmyk = matches!(jpeg.colorspace, Colorspace::CMYK | Colorspace::YCCK);
    let format = if cmyk {
        PixelFormat::CMYK
    } else {
        PixelFormat::RGB
    };
    let pitch = scaled.width * format.size();
    let mut pixels = vec![0u8; pitch * scaled.height];
    let decoded = decompressor.decompress(
        bytes,
        turbojpeg::Image {
            pixels: pixels.as_mut_slice(),
            width: scaled.width,
            pitch,
            height: scaled.height,
            format,
        },
    );
    match decoded {
        Ok(()) => {}
        // The whole image was decoded; only a warning about its metadata was raised.
        Err(turbojpeg::Error::TurboJpegError(message)) if is_benign_warning(&message) => {}
        Err(err) => return Err(tj(err)),
    }
    let (w, h) = (scaled.width as u32, scaled.height as u32);
    if cmyk {
        if header.adobe {
            // Adobe applications store CMYK inverted (0 = full ink); normalise to 255 = full ink.
            pixels.iter_mut().for_each(|v| *v = 255 - *v);
        }
        return color::cmyk_to_srgb(w, h, &pixels, header.icc_profile.as_deref());
    }
    let bitmap = Bitmap::new(w, h, Channels::Rgb, pixels)?;
    match &header.icc_profile {
        Some(profile) => color::to_srgb(bitmap, profile),
        None => Ok(bitmap),
    }
}

/// `bytes` without the (sorted, disjoint) `ranges`.
fn without_ranges(bytes: &[u8], ranges: &[std::ops::Range<usize>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut kept_from = 0;
    for range in ranges {
        out.extend_from_slice(&bytes[kept_from..range.start]);
        kept_from = range.end;
    }
    out.extend_from_slice(&bytes[kept_from..]);
    out
}

/// Whether `message` is a libjpeg warning that leaves every pixel decoded: stray bytes between
/// segments, an unknown JFIF revision or Adobe transform code, a damaged ICC marker, or scan
/// parameters a sequential JPEG should not carry. TurboJPEG decodes to the end through
/// warnings and then reports the last one as its error; browsers display these images, so
/// they are served. Warnings that mean lost pixels (a bad Huffman code, a premature end of the
/// data) stay errors.
fn is_benign_warning(message: &str) -> bool {
    const BENIGN: [&str; 5] = [
        "extraneous bytes before marker",
        "unknown JFIF revision number",
        "Unknown Adobe color transform code",
        "bad ICC marker",
        "Invalid SOS parameters for sequential JPEG",
    ];
    BENIGN.iter().any(|warning| message.contains(warning))
}

/// Decodes with an `image` crate decoder, bounded by `limits`; returns the bitmap and the
/// embedded ICC profile, if any.
fn decode_with_image<D: ImageDecoder>(
    decoder: image::ImageResult<D>,
    limits: &Limits,
) -> Result<(Bitmap, Option<Vec<u8>>)> {
    let mut decoder = decoder.map_err(image_error)?;
    let mut image_limits = image::Limits::default();
    // 16-bit RGBA is the widest layout any decoder produces: 8 bytes per pixel, plus slack
    // for the decoder's own line buffers.
    image_limits.max_alloc = Some(limits.max_source_pixels.saturating_mul(8) + (16 << 20));
    decoder.set_limits(image_limits).map_err(image_error)?;
    let icc = decoder.icc_profile().ok().flatten();
    let image = DynamicImage::from_decoder(decoder).map_err(image_error)?;
    let (w, h) = (image.width(), image.height());
    let bitmap = if image.color().has_alpha() {
        Bitmap::new(w, h, Channels::Rgba, image.into_rgba8().into_raw())?
    } else {
        Bitmap::new(w, h, Channels::Rgb, image.into_rgb8().into_raw())?
    };
    Ok((bitmap, icc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/");
        std::fs::read(format!("{path}{name}")).expect("fixture")
    }

    /// `bitmap` as a progressive JPEG by libjpeg-turbo (its default scan script, where the DC
    /// refinement scan comes after AC scans), in colour or grey.
    fn progressive(bitmap: &Bitmap, grey: bool) -> Vec<u8> {
        let mut compressor = turbojpeg::Compressor::new().expect("compressor");
        compressor.set_progressive(true).expect("progressive");
        compressor.set_quality(90).expect("quality");
        let subsamp = if grey {
            turbojpeg::Subsamp::Gray
        } else {
            turbojpeg::Subsamp::Sub2x2
        };
        compressor.set_subsamp(subsamp).expect("subsampling");
        compressor
            .compress_to_vec(crate::encode::rgb_image(bitmap))
            .expect("compress")
    }

    /// Progressive JPEGs with libjpeg's scan script: the fixture, and the baseline fixture's
    /// picture encoded by libjpeg-turbo in 4:2:0 and in grey.
    fn progressive_samples() -> [(&'static str, Vec<u8>); 3] {
        let limits = Limits::default();
        let photo = decode(
            &Source::new(fixture("baseline.jpg"), &limits).expect("source"),
            None,
            &limits,
        )
        .expect("decode");
        [
            ("progressive.jpg", fixture("progressive.jpg")),
            ("libjpeg-turbo 4:2:0", progressive(&photo, false)),
            ("libjpeg-turbo grey", progressive(&photo, true)),
        ]
    }

    /// Runs a scan walk over every 7th truncation of the progressive fixture and 6 byte values
    /// at every 5th offset: damaged files never make it panic, whatever it finds.
    fn survives_damage(walk: fn(&[u8]) -> Option<Vec<u8>>) {
        let bytes = fixture("progressive.jpg");
        for cut in (0..bytes.len()).step_by(7) {
            let _ = walk(&bytes[..cut]);
        }
        for at in (0..bytes.len()).step_by(5) {
            for value in [0x00, 0xFF, 0xDA, 0xC2, 0xDB, 0x01] {
                let mut damaged = bytes.clone();
                damaged[at] = value;
                let _ = walk(&damaged);
            }
        }
    }

    /// Peak signal-to-noise ratio of `a` against `b` (same size and layout), in dB.
    fn psnr(a: &Bitmap, b: &Bitmap) -> f64 {
        assert_eq!((a.width(), a.height()), (b.width(), b.height()));
        let squared: f64 = a
            .data()
            .iter()
            .zip(b.data())
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
            .sum();
        let mse = squared / a.data().len() as f64;
        10.0 * (255.0f64 * 255.0 / mse.max(1e-9)).log10()
    }

    #[test]
    fn a_progressive_jpeg_at_one_quarter_may_leave_out_its_ac_refinement_scans() {
        let limits = Limits::default();
        for (name, bytes) in progressive_samples() {
            let coarse = crate::jpeg_scans::without_ac_refinement(&bytes).expect("refinements");
            assert!(coarse.len() < bytes.len(), "{name}");
            let source = Source::new(bytes.clone(), &limits).expect("source");
            // 80x60 at 1/4 for a 40x30 first resize.
            let min = Some((40, 30));
            let exact = decode_with(&source, min, Refinement::Exact, &limits).expect("exact");
            let approximate =
                decode_with(&source, min, Refinement::CoarseAtQuarter, &limits).expect("coarse");
            assert_eq!((exact.width(), exact.height()), (80, 60), "{name}");
            assert_ne!(
                exact.data(),
                approximate.data(),
                "{name}: nothing was left out"
            );
            let db = psnr(&approximate, &exact);
            assert!(db > 30.0, "{name}: {db:.1} dB");
            // Deterministic: the same pixels every time.
            let again = decode_with(&source, min, Refinement::CoarseAtQuarter, &limits);
            assert_eq!(again.expect("again").data(), approximate.data(), "{name}");
            // Other scales read every scan whatever the caller allows.
            for min in [Some((20, 15)), Some((80, 60)), None] {
                let exact = decode_with(&source, min, Refinement::Exact, &limits).expect("exact");
                let coarse = decode_with(&source, min, Refinement::CoarseAtQuarter, &limits);
                assert_eq!(
                    coarse.expect("coarse").data(),
                    exact.data(),
                    "{name} {min:?}"
                );
            }
        }
        survives_damage(crate::jpeg_scans::without_ac_refinement);
        // A baseline file has no refinement scan to leave out.
        assert!(crate::jpeg_scans::without_ac_refinement(&fixture("baseline.jpg")).is_none());
    }

    #[test]
    fn a_progressive_jpeg_at_one_eighth_is_the_same_from_its_dc_scans_alone() {
        let limits = Limits::default();
        for (name, bytes) in progressive_samples() {
            let header = probe::read_header(&bytes).expect("header");
            assert!(header.info.progressive, "{name}");
            let dc = crate::jpeg_scans::dc_scans_only(&bytes).expect("DC scans");
            assert!(
                dc.len() < bytes.len() / 2,
                "{name}: {} of {}",
                dc.len(),
                bytes.len()
            );
            let eighth = ScalingFactor::ONE_EIGHTH;
            let from_dc = decompress_jpeg(&dc, &header, eighth, &limits).expect("from DC");
            let whole = decompress_jpeg(&bytes, &header, eighth, &limits).expect("whole");
            assert_eq!((from_dc.width(), from_dc.height()), (40, 30), "{name}");
            assert_eq!(from_dc.data(), whole.data(), "{name}: the pixels differ");
        }
        survives_damage(crate::jpeg_scans::dc_scans_only);
        // Not a JPEG laid out as scans, or cut before its end: no DC-only stream.
        let bytes = fixture("progressive.jpg");
        assert!(crate::jpeg_scans::dc_scans_only(&bytes[..bytes.len() - 100]).is_none());
        assert!(crate::jpeg_scans::dc_scans_only(b"not a jpeg").is_none());
    }
}
