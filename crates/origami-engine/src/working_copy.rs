//! Working copies: one reduced rendition of a large original, kept losslessly, from which every
//! derivative that fits inside it is made instead of from the original.
//!
//! Decoding a 6-20 MP JPEG costs tens of milliseconds of entropy decoding whatever the output
//! size; a 2048 px working copy in memory costs nothing to "decode" and a few milliseconds to
//! resize. Two rules keep a URL's bytes independent of whether a working copy existed:
//! - whether a pipeline is made from the working copy ([`WorkingCopy::fits`]) depends only on
//!   the pipeline and the original's header (the copy's size is a function of the original's);
//! - the copy is stored losslessly, so the pixels a later request decodes from storage are the
//!   pixels the first request derived from.
//!
//! The stored form ([`WorkingCopy::to_bytes`]) carries the BLAKE3 of its payload, checked by
//! [`WorkingCopy::from_bytes`]: a damaged copy is an error, never a wrong image.

use std::io::Cursor;

use crate::bitmap::{Bitmap, Channels};
use crate::decode::{self, Source};
use crate::error::{EngineError, Result};
use crate::format::ImageFormat;
use crate::limits::Limits;
use crate::ops::{Op, Pipeline};
use crate::placeholder::{self, ThumbHash};
use crate::plan::{self, Transformed};
use crate::{resample, resize};

/// An original is worth a working copy when its long side is at least this many times the
/// copy's (as a fraction: 3/2): the copy then holds at most 44 % of its pixels.
const WORTH_IT: (u32, u32) = (3, 2);

/// A pipeline is made from the copy when the copy is at least this many times (3/2) the size
/// its first operation scales the source to. Measured on the benchmark photos (SSIMULACRA2 of
/// JPEG outputs against a full-decode reference): from 1.5x down the copy costs at most 0.1
/// point against the direct path (and gains up to 1.5 at small sizes, where the direct path's
/// DCT scaling is coarser); at 1.1-1.3x it costs 0.4-1.6 points, so those go to the original.
const MARGIN: (u32, u32) = (3, 2);

/// Leading bytes of a stored working copy.
const MAGIC: &[u8; 4] = b"OGWC";
/// Version of the stored layout.
const LAYOUT_VERSION: u8 = 1;
/// Bytes before the payload: magic, layout version, codec, 2 reserved, the original's width
/// and height (u32 little-endian), the payload's BLAKE3.
const HEADER_LEN: usize = 4 + 1 + 1 + 2 + 4 + 4 + 32;

/// The lossless codec a working copy's pixels are stored with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WorkingCopyCodec {
    /// QOI: simple and fast; on the benchmark photos as fast to encode as PNG below, slower to
    /// decode on four of five, and 5 % smaller in all.
    Qoi,
    /// PNG with fdeflate's fastest compression and the Up filter (the default: the fastest to
    /// decode on four of the five benchmark photos, and readable by any tool).
    #[default]
    Png,
}

impl WorkingCopyCodec {
    fn tag(self) -> u8 {
        match self {
            WorkingCopyCodec::Qoi => 0,
            WorkingCopyCodec::Png => 1,
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            0 => Some(WorkingCopyCodec::Qoi),
            1 => Some(WorkingCopyCodec::Png),
            _ => None,
        }
    }

    /// Its short name, for cache keys and reports: `qoi` or `png`.
    pub fn name(self) -> &'static str {
        match self {
            WorkingCopyCodec::Qoi => "qoi",
            WorkingCopyCodec::Png => "png",
        }
    }
}

/// A reduced, upright sRGB rendition of an original, at most `max_side` pixels on its long
/// side, with the original's upright size (which the pipelines' geometry is computed from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingCopy {
    bitmap: Bitmap,
    original: (u32, u32),
}

impl WorkingCopy {
    /// The working copy's size for an original of `original` upright pixels, or `None` when the
    /// original is not large enough to be worth one (or `max_side` is 0: working copies off).
    pub fn size_for(original: (u32, u32), max_side: u32) -> Option<(u32, u32)> {
        let (width, height) = original;
        let long = u64::from(width.max(height));
        let worth_it = u64::from(max_side) * u64::from(WORTH_IT.0) / u64::from(WORTH_IT.1);
        (max_side > 0 && long >= worth_it)
            .then(|| resize::fit_size(width, height, max_side, max_side))
    }

    /// Whether `input` (an encoded original) is worth a working copy of `max_side`, from its
    /// header; fails as [`plan`](crate::plan) does on a bad header or one over the limits.
    pub fn is_worth_it(input: &[u8], max_side: u32, limits: &Limits) -> Result<bool> {
        let source = Source::new(input, limits)?;
        let original = source.header().info.oriented_dimensions();
        Ok(Self::size_for(original, max_side).is_some())
    }

    /// Makes the working copy of `input`, an encoded original: decoded at the smallest JPEG DCT
    /// scale that is still at least the copy's size, then resampled (Lanczos3) to the copy's
    /// size. `None` when the original is not worth one ([`WorkingCopy::size_for`]).
    ///
    /// Fails as [`Plan::run`](crate::Plan::run) does on an input that cannot be decoded.
    pub fn from_original(input: &[u8], max_side: u32, limits: &Limits) -> Result<Option<Self>> {
        let source = Source::new(input, limits)?;
        let original = source.header().info.oriented_dimensions();
        let Some((width, height)) = Self::size_for(original, max_side) else {
            return Ok(None);
        };
        // `decode` keeps 2x the size asked for; half the copy's size asks for 1x of it.
        let half = (width.div_ceil(2), height.div_ceil(2));
        let decoded = decode::decode(&source, Some(half), limits)?;
        let bitmap = resample::stretch(&decoded, width, height)?;
        Ok(Some(Self { bitmap, original }))
    }

    /// An estimate of the memory [`WorkingCopy::from_original`] needs at its peak, from the
    /// header alone: the decoded original (at its DCT scale), the copy, and codec state.
    /// `None` when the original is not worth a copy.
    pub fn making_memory(input: &[u8], max_side: u32, limits: &Limits) -> Result<Option<u64>> {
        let source = Source::new(input, limits)?;
        let header = source.header();
        let original = header.info.oriented_dimensions();
        let Some((width, height)) = Self::size_for(original, max_side) else {
            return Ok(None);
        };
        let half = (width.div_ceil(2), height.div_ceil(2));
        let (dw, dh, channels) = decode::decoded_size(header, Some(half));
        let decoded = u64::from(dw) * u64::from(dh) * u64::from(channels);
        let copy = u64::from(width) * u64::from(height) * u64::from(channels);
        let coefficients = if header.info.progressive {
            header.coefficient_bytes
        } else {
            0
        };
        Ok(Some(decoded + copy + coefficients + (256 << 10)))
    }

    /// The copy's pixels.
    pub fn bitmap(&self) -> &Bitmap {
        &self.bitmap
    }

    /// The original's upright size.
    pub fn original_size(&self) -> (u32, u32) {
        self.original
    }

    /// The bytes its pixels occupy in memory.
    pub fn memory_bytes(&self) -> u64 {
        self.bitmap.data().len() as u64
    }

    /// Whether `pipeline` is made from this copy: its first operation is a `thumb` or `fit`
    /// that scales the source (measured on the original) to at most 2/3 of the copy's size.
    /// Depends only on the pipeline and the original's size, never on how the copy was
    /// obtained.
    pub fn fits(&self, pipeline: &Pipeline, limits: &Limits) -> bool {
        let ops: Vec<Op> = pipeline.scaled_ops().collect();
        self.first_step(&ops, limits).is_some()
    }

    /// The first operation's resize, worked out on the original's size: the size the whole
    /// source is scaled to (what must fit in the copy) and the exact output size. `None` when
    /// the pipeline is not made from the copy.
    fn first_step(&self, ops: &[Op], limits: &Limits) -> Option<FirstStep> {
        let (ow, oh) = self.original;
        let step = match *ops.first()? {
            Op::Thumb {
                width,
                height,
                gravity,
            } => {
                let (w, h) = resize::thumb_size(ow, oh, width, height, limits.max_output_side);
                FirstStep {
                    needs: resize::cover_scaled_size(ow, oh, w, h),
                    output: (w, h),
                    crop: Some(gravity),
                }
            }
            Op::Fit { width, height } => {
                let size = resize::fit_size(ow, oh, width, height);
                FirstStep {
                    needs: size,
                    output: size,
                    crop: None,
                }
            }
            // A blur's sigma is in the original's pixels.
            Op::Blur { .. } => return None,
        };
        let within = |needs: u32, has: u32| {
            u64::from(needs) * u64::from(MARGIN.0) <= u64::from(has) * u64::from(MARGIN.1)
        };
        let fits =
            within(step.needs.0, self.bitmap.width()) && within(step.needs.1, self.bitmap.height());
        fits.then_some(step)
    }

    /// An estimate of the memory [`WorkingCopy::run`] needs beyond the copy itself: the first
    /// operation's result twice over (the resize and the encoder's buffers) and codec state.
    pub fn run_memory(&self, pipeline: &Pipeline, limits: &Limits) -> u64 {
        let ops: Vec<Op> = pipeline.scaled_ops().collect();
        let (w, h) = self
            .first_step(&ops, limits)
            .map_or((self.bitmap.width(), self.bitmap.height()), |s| s.needs);
        2 * u64::from(w) * u64::from(h) * 4 + (256 << 10)
    }

    /// Runs `pipeline` on the copy and encodes the result as `format`. The output has the size
    /// the same pipeline gives on the original (the geometry is computed on the original's
    /// size), so a URL's dimensions do not depend on its source.
    ///
    /// Fails with [`EngineError::InvalidParams`] when the pipeline does not
    /// [fit](WorkingCopy::fits) the copy, otherwise as [`Plan::run`](crate::Plan::run).
    pub fn run(
        &self,
        pipeline: &Pipeline,
        format: ImageFormat,
        limits: &Limits,
    ) -> Result<Transformed> {
        let ops: Vec<Op> = pipeline.scaled_ops().collect();
        let Some(step) = self.first_step(&ops, limits) else {
            return Err(EngineError::invalid(
                "this pipeline is not made from a working copy",
            ));
        };
        let (w, h) = step.output;
        let first = match step.crop {
            Some(gravity) => resize::thumb(&self.bitmap, w, h, gravity, limits.max_output_side)?,
            None => resample::stretch(&self.bitmap, w, h)?,
        };
        plan::finish(first, &ops[1..], pipeline.quality(), limits, format)
    }

    /// The ThumbHash of the original, made from the copy.
    pub fn thumbhash(&self) -> Result<ThumbHash> {
        placeholder::thumbhash_of(&self.bitmap, self.original)
    }

    /// The stored form: a small header (with the BLAKE3 of the payload) and the pixels encoded
    /// losslessly with `codec`.
    pub fn to_bytes(&self, codec: WorkingCopyCodec) -> Result<Vec<u8>> {
        let payload = match codec {
            WorkingCopyCodec::Qoi => qoi::encode_to_vec(
                self.bitmap.data(),
                self.bitmap.width(),
                self.bitmap.height(),
            )
            .map_err(|e| EngineError::internal(format!("QOI encoding failed: {e}")))?,
            WorkingCopyCodec::Png => encode_png(&self.bitmap)?,
        };
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[LAYOUT_VERSION, codec.tag(), 0, 0]);
        out.extend_from_slice(&self.original.0.to_le_bytes());
        out.extend_from_slice(&self.original.1.to_le_bytes());
        out.extend_from_slice(blake3::hash(&payload).as_bytes());
        out.extend_from_slice(&payload);
        Ok(out)
    }

    /// Reads a copy stored by [`WorkingCopy::to_bytes`] for a working copy of `max_side`.
    ///
    /// Fails with [`EngineError::Corrupt`] when the bytes are not a stored copy, their payload
    /// does not match its BLAKE3, or the copy is not the size `max_side` gives for its
    /// original (a copy made with another setting); with [`EngineError::TooLarge`] when it is
    /// over `limits`.
    pub fn from_bytes(bytes: &[u8], max_side: u32, limits: &Limits) -> Result<Self> {
        let corrupt = |why: &str| EngineError::corrupt(format!("working copy: {why}"));
        if bytes.len() < HEADER_LEN || &bytes[..4] != MAGIC {
            return Err(corrupt("not a stored working copy"));
        }
        if bytes[4] != LAYOUT_VERSION {
            return Err(corrupt("unknown layout version"));
        }
        let codec = WorkingCopyCodec::from_tag(bytes[5]).ok_or_else(|| corrupt("unknown codec"))?;
        let u32_at = |at: usize| {
            let mut word = [0u8; 4];
            word.copy_from_slice(&bytes[at..at + 4]);
            u32::from_le_bytes(word)
        };
        let original = (u32_at(8), u32_at(12));
        let payload = &bytes[HEADER_LEN..];
        if blake3::hash(payload).as_bytes()[..] != bytes[16..48] {
            return Err(corrupt("its payload does not match its BLAKE3"));
        }
        let expected = Self::size_for(original, max_side)
            .ok_or_else(|| corrupt("its original is too small to have one"))?;
        let bitmap = match codec {
            WorkingCopyCodec::Qoi => decode_qoi(payload, expected, limits)?,
            WorkingCopyCodec::Png => decode_png(payload, expected, limits)?,
        };
        Ok(Self { bitmap, original })
    }
}

/// The first operation of a pipeline made from a working copy.
struct FirstStep {
    /// The size the whole source is scaled to, on the original's geometry.
    needs: (u32, u32),
    /// The operation's output size.
    output: (u32, u32),
    /// `Some(gravity)` for a cover-crop, `None` for a fit.
    crop: Option<crate::ops::Gravity>,
}

/// Refuses a stored copy whose size is not `expected` or whose pixels exceed the limits, before
/// its pixels are decoded.
fn check_size(size: (u32, u32), expected: (u32, u32), limits: &Limits) -> Result<()> {
    if size != expected {
        return Err(EngineError::corrupt(format!(
            "working copy: {}x{} where {}x{} was expected",
            size.0, size.1, expected.0, expected.1
        )));
    }
    if u64::from(size.0) * u64::from(size.1) > limits.max_source_pixels {
        return Err(EngineError::TooLarge(
            "working copy over the pixel limit".into(),
        ));
    }
    Ok(())
}

fn decode_qoi(payload: &[u8], expected: (u32, u32), limits: &Limits) -> Result<Bitmap> {
    let corrupt = |e: qoi::Error| EngineError::corrupt(format!("working copy: {e}"));
    let header = qoi::decode_header(payload).map_err(corrupt)?;
    check_size((header.width, header.height), expected, limits)?;
    let (header, data) = qoi::decode_to_vec(payload).map_err(corrupt)?;
    let channels = match header.channels {
        qoi::Channels::Rgb => Channels::Rgb,
        qoi::Channels::Rgba => Channels::Rgba,
    };
    Bitmap::new(header.width, header.height, channels, data)
}

fn encode_png(bitmap: &Bitmap) -> Result<Vec<u8>> {
    let internal = |e: png::EncodingError| EngineError::internal(format!("PNG encoding: {e}"));
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, bitmap.width(), bitmap.height());
    encoder.set_color(match bitmap.channels() {
        Channels::Rgb => png::ColorType::Rgb,
        Channels::Rgba => png::ColorType::Rgba,
    });
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(png::Filter::Up);
    let mut writer = encoder.write_header().map_err(internal)?;
    writer.write_image_data(bitmap.data()).map_err(internal)?;
    writer.finish().map_err(internal)?;
    Ok(out)
}

fn decode_png(payload: &[u8], expected: (u32, u32), limits: &Limits) -> Result<Bitmap> {
    let corrupt = |e: png::DecodingError| EngineError::corrupt(format!("working copy: {e}"));
    let mut reader = png::Decoder::new(Cursor::new(payload))
        .read_info()
        .map_err(corrupt)?;
    let info = reader.info();
    check_size((info.width, info.height), expected, limits)?;
    let channels = match (info.color_type, info.bit_depth) {
        (png::ColorType::Rgb, png::BitDepth::Eight) => Channels::Rgb,
        (png::ColorType::Rgba, png::BitDepth::Eight) => Channels::Rgba,
        _ => return Err(EngineError::corrupt("working copy: not 8-bit RGB or RGBA")),
    };
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| EngineError::corrupt("working copy: too large"))?;
    let mut data = vec![0u8; size];
    let frame = reader.next_frame(&mut data).map_err(corrupt)?;
    data.truncate(frame.buffer_size());
    Bitmap::new(frame.width, frame.height, channels, data)
}
