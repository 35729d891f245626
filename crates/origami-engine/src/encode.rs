//! Encoding a [`Bitmap`] to the output formats. Outputs carry no EXIF or XMP and no ICC
//! profile: pixels are sRGB, which is what every browser assumes for untagged images.

use imgref::Img;
use rgb::FromSlice;
use turbojpeg::{Compressor, PixelFormat, Subsamp};

use crate::bitmap::{Bitmap, Channels};
use crate::error::{EngineError, Result};
use crate::format::ImageFormat;
use crate::limits::Limits;

/// An encoder failure. The bitmap was decoded and bounded by the engine, so whatever went wrong
/// is on the engine's side, not the input's.
fn failed(format: ImageFormat, e: impl std::fmt::Display) -> EngineError {
    EngineError::internal(format!("{format} encoding failed: {e}"))
}

/// Encodes `bitmap` as `format`. `quality` (1..=100) applies to JPEG, WebP and AVIF; `None`
/// uses the format's default. WebP at quality 100 is lossless. Transparency is composited over
/// `background` for formats without alpha (JPEG).
pub(crate) fn encode(
    bitmap: Bitmap,
    format: ImageFormat,
    quality: Option<u8>,
    background: [u8; 3],
    limits: &Limits,
) -> Result<Vec<u8>> {
    let quality = quality
        .or(format.default_quality())
        .unwrap_or(100)
        .clamp(1, 100);
    match format {
        ImageFormat::Jpeg => jpeg(bitmap.flatten(background), quality),
        ImageFormat::Png => png(&bitmap),
        ImageFormat::WebP => webp(&bitmap, quality),
        ImageFormat::Avif => avif(&bitmap, quality, limits),
        ImageFormat::Gif => gif(bitmap),
        input_only => Err(EngineError::InvalidParams(format!(
            "{input_only} is read as input only; encode to jpg, png, webp, avif or gif"
        ))),
    }
}

fn jpeg(bitmap: Bitmap, quality: u8) -> Result<Vec<u8>> {
    let err = |e| failed(ImageFormat::Jpeg, e);
    let mut compressor = Compressor::new().map_err(err)?;
    compressor.set_quality(i32::from(quality)).map_err(err)?;
    // Chroma subsampling is invisible at ordinary qualities and saves a third of the bytes;
    // at 90+ the user asked for fidelity (libvips makes the same choice).
    let subsamp = if quality >= 90 {
        Subsamp::None
    } else {
        Subsamp::Sub2x2
    };
    compressor.set_subsamp(subsamp).map_err(err)?;
    compressor.set_optimize(true).map_err(err)?;
    compressor.compress_to_vec(rgb_image(&bitmap)).map_err(err)
}

/// `bitmap`, 3-channel RGB, as the TurboJPEG compressor takes it.
pub(crate) fn rgb_image(bitmap: &Bitmap) -> turbojpeg::Image<&[u8]> {
    turbojpeg::Image {
        pixels: bitmap.data(),
        width: bitmap.width() as usize,
        pitch: bitmap.stride(),
        height: bitmap.height() as usize,
        format: PixelFormat::RGB,
    }
}

fn png(bitmap: &Bitmap) -> Result<Vec<u8>> {
    png_with(bitmap, png::Compression::Balanced)
}

/// `bitmap` as an sRGB PNG at `compression` (working copies use the fastest).
pub(crate) fn png_with(bitmap: &Bitmap, compression: png::Compression) -> Result<Vec<u8>> {
    let err = |e| failed(ImageFormat::Png, e);
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, bitmap.width(), bitmap.height());
    encoder.set_color(match bitmap.channels() {
        Channels::Rgb => png::ColorType::Rgb,
        Channels::Rgba => png::ColorType::Rgba,
    });
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(compression);
    // Mark the pixels as sRGB so colour-managed viewers do not guess.
    encoder.set_source_srgb(png::SrgbRenderingIntent::Perceptual);
    let mut writer = encoder.write_header().map_err(err)?;
    writer.write_image_data(bitmap.data()).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(out)
}

fn webp(bitmap: &Bitmap, quality: u8) -> Result<Vec<u8>> {
    let err = |e: String| failed(ImageFormat::WebP, e);
    if bitmap.width() > 16383 || bitmap.height() > 16383 {
        return Err(EngineError::TooLarge(
            "WebP images are limited to 16383 pixels a side".into(),
        ));
    }
    let encoder = match bitmap.channels() {
        Channels::Rgb => webp::Encoder::from_rgb(bitmap.data(), bitmap.width(), bitmap.height()),
        Channels::Rgba => webp::Encoder::from_rgba(bitmap.data(), bitmap.width(), bitmap.height()),
    };
    let mut config = webp::WebPConfig::new().map_err(|()| err("bad configuration".into()))?;
    let lossless = quality == 100;
    config.lossless = i32::from(lossless);
    config.quality = if lossless { 75.0 } else { f32::from(quality) };
    config.alpha_compression = i32::from(!lossless);
    let memory = encoder
        .encode_advanced(&config)
        .map_err(|e| err(format!("{e:?}")))?;
    Ok(memory.to_vec())
}

fn avif(bitmap: &Bitmap, quality: u8, limits: &Limits) -> Result<Vec<u8>> {
    let pixels = u64::from(bitmap.width()) * u64::from(bitmap.height());
    if pixels > limits.max_avif_pixels {
        return Err(EngineError::TooLarge(format!(
            "AVIF output is limited to {:.1} MP ({}x{} requested); ask for a smaller size or \
             another format",
            limits.max_avif_pixels as f64 / 1e6,
            bitmap.width(),
            bitmap.height()
        )));
    }
    let encoder = ravif::Encoder::new()
        .with_quality(f32::from(quality))
        .with_alpha_quality(f32::from(quality))
        .with_speed(limits.avif_speed.clamp(1, 10))
        .with_num_threads(Some(1));
    let (w, h) = (bitmap.width() as usize, bitmap.height() as usize);
    let encoded = match bitmap.channels() {
        Channels::Rgb => encoder.encode_rgb(Img::new(bitmap.data().as_rgb(), w, h)),
        Channels::Rgba => encoder.encode_rgba(Img::new(bitmap.data().as_rgba(), w, h)),
    }
    .map_err(|e| failed(ImageFormat::Avif, e))?;
    Ok(encoded.avif_file)
}

fn gif(bitmap: Bitmap) -> Result<Vec<u8>> {
    let err = |e| failed(ImageFormat::Gif, e);
    let (Ok(w), Ok(h)) = (
        u16::try_from(bitmap.width()),
        u16::try_from(bitmap.height()),
    ) else {
        return Err(EngineError::TooLarge(
            "GIF images are limited to 65535 pixels a side".into(),
        ));
    };
    let mut rgba = bitmap.into_rgba().into_data();
    // NeuQuant speed 10: libimagequant-class quality is not worth 3x the time for thumbnails.
    let frame = gif::Frame::from_rgba_speed(w, h, &mut rgba, 10);
    let mut out = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut out, w, h, &[]).map_err(err)?;
        encoder.write_frame(&frame).map_err(err)?;
    }
    Ok(out)
}
