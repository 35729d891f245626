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

use crate::apply::{self, Output, Transformed};
use crate::bitmap::{Bitmap, Channels};
use crate::cost::{self, Cost};
use crate::decode::{self, Source};
use crate::error::{EngineError, Result};
use crate::format::ImageFormat;
use crate::header::ImageInfo;
use crate::limits::Limits;
use crate::ops::{Op, Pipeline};
use crate::placeholder::{self, ThumbHash};
use crate::{encode, resample, resize};

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
/// Bytes before the payload: magic, layout version, codec, the original's EXIF orientation,
/// whether it is a JPEG (0 or 1), its stored width and height (u32 little-endian), the payload's
/// BLAKE3.
const HEADER_LEN: usize = 4 + 1 + 1 + 2 + 4 + 4 + 32;

/// The lossless codec a working copy's pixels are stored with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WorkingCopyCodec {
    /// QOI: simple and fast; on the benchmark photos as fast to encode as PNG below, slower to
    /// decode on four of five, and 5 % smaller in all.
    Qoi,
    /// PNG with fdeflate's fastest compression (the default: the fastest to decode on four of
    /// the five benchmark photos, and readable by any tool).
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
    /// The copy at half its size (Lanczos3), made from it when the copy is loaded: the source of
    /// the smaller derivatives, which then resample a quarter of the pixels. A function of the
    /// copy's pixels, so it is the same wherever the copy came from.
    half: Option<Bitmap>,
    /// The original's upright size.
    original: (u32, u32),
    /// What its size was worked out from (stored with the copy, to check it on reading).
    facts: OriginalFacts,
}

/// The facts about an original that a working copy's size depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OriginalFacts {
    /// Its size as stored, before orientation.
    stored: (u32, u32),
    /// Its EXIF orientation (1-8).
    orientation: u8,
    /// Whether it is a JPEG (decoded at a DCT scale).
    jpeg: bool,
}

impl OriginalFacts {
    fn of(info: &ImageInfo) -> Self {
        Self {
            stored: (info.width, info.height),
            orientation: info.orientation,
            jpeg: info.format == ImageFormat::Jpeg,
        }
    }

    fn upright(&self) -> (u32, u32) {
        if self.orientation >= 5 {
            (self.stored.1, self.stored.0)
        } else {
            self.stored
        }
    }
}

impl WorkingCopy {
    /// The working copy's size for an original described by `info` (its header), or `None`
    /// when the original is not large enough to be worth one (or `max_side` is 0: working
    /// copies off).
    ///
    /// The copy fits in `max_side` x `max_side`. A JPEG is decoded at the smallest DCT scale
    /// that leaves at least 3/4 of that size, and when that decoded image already fits it *is*
    /// the copy (a 4000 px JPEG gives a 2000 px copy at 1/2 scale, with no resampling: the
    /// cheapest copy to make); otherwise the decoded image is resampled to fit `max_side`.
    ///
    /// Animations have none: a copy holds one frame, and their animated derivatives need
    /// every frame.
    pub fn size_for(info: &ImageInfo, max_side: u32) -> Option<(u32, u32)> {
        if info.is_animated() {
            return None;
        }
        let facts = OriginalFacts::of(info);
        Self::size_of(&facts, max_side)
    }

    fn size_of(facts: &OriginalFacts, max_side: u32) -> Option<(u32, u32)> {
        let target = Self::target(facts.upright(), max_side)?;
        if facts.jpeg {
            let decoded = decode::jpeg_decoded_size(
                facts.stored,
                facts.orientation,
                Self::decode_min(target),
            );
            if decoded.0 <= target.0 && decoded.1 <= target.1 {
                return Some(decoded);
            }
        }
        Some(target)
    }

    /// The largest copy of an original of `original` upright pixels: `max_side` on its long
    /// side, or `None` when the original is smaller than 1.5x that.
    fn target(original: (u32, u32), max_side: u32) -> Option<(u32, u32)> {
        let (width, height) = original;
        let long = u64::from(width.max(height));
        let worth_it = u64::from(max_side) * u64::from(WORTH_IT.0) / u64::from(WORTH_IT.1);
        (max_side > 0 && long >= worth_it)
            .then(|| resize::fit_size(width, height, max_side, max_side))
    }

    /// The `min_size` [`decode::decode`] is given to make a copy of at most `target`: it keeps
    /// twice what it is asked for, so half of 3/4 of the target.
    fn decode_min(target: (u32, u32)) -> (u32, u32) {
        let half_of_three_quarters = |n: u32| (u64::from(n) * 3).div_ceil(8) as u32;
        (
            half_of_three_quarters(target.0).max(1),
            half_of_three_quarters(target.1).max(1),
        )
    }

    /// Whether `input` (an encoded original) is worth a working copy of `max_side`, from its
    /// header; fails as [`plan`](crate::plan) does on a bad header or one over the limits.
    pub fn is_worth_it(input: &[u8], max_side: u32, limits: &Limits) -> Result<bool> {
        let source = Source::new(input, limits)?;
        Ok(Self::size_for(&source.header().info, max_side).is_some())
    }

    /// Makes the working copy of `input`, an encoded original, at [`WorkingCopy::size_for`]'s
    /// size: decoded (a JPEG at its DCT scale), then resampled (Lanczos3) when the decoded image
    /// is larger than that. `None` when the original is not worth a copy.
    ///
    /// Fails as [`Plan::run`](crate::Plan::run) does on an input that cannot be decoded.
    pub fn from_original(input: &[u8], max_side: u32, limits: &Limits) -> Result<Option<Self>> {
        let source = Source::new(input, limits)?;
        let facts = OriginalFacts::of(&source.header().info);
        let original = facts.upright();
        let (Some(size), Some(target)) = (
            Self::size_for(&source.header().info, max_side),
            Self::target(original, max_side),
        ) else {
            return Ok(None);
        };
        let decoded = decode::decode(&source, Some(Self::decode_min(target)), limits)?;
        let bitmap = if (decoded.width(), decoded.height()) == size {
            decoded
        } else {
            resample::stretch(&decoded, size.0, size.1)?
        };
        Ok(Some(Self::with_levels(bitmap, original, facts)?))
    }

    /// An estimate of the memory [`WorkingCopy::from_original`] needs at its peak, from the
    /// header alone: the decoded original (at its DCT scale), the copy, and codec state.
    /// `None` when the original is not worth a copy.
    pub fn making_memory(input: &[u8], max_side: u32, limits: &Limits) -> Result<Option<u64>> {
        let source = Source::new(input, limits)?;
        let header = source.header();
        let original = header.info.oriented_dimensions();
        let (Some((width, height)), Some(target)) = (
            Self::size_for(&header.info, max_side),
            Self::target(original, max_side),
        ) else {
            return Ok(None);
        };
        let (dw, dh, channels) = decode::decoded_size(header, Some(Self::decode_min(target)));
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

    /// The bytes its pixels occupy in memory (the copy and its half-size level).
    pub fn memory_bytes(&self) -> u64 {
        let half = self.half.as_ref().map_or(0, |h| h.data().len());
        (self.bitmap.data().len() + half) as u64
    }

    /// Whether `pipeline` is made from this copy: its first operation is a `thumb`, `fit` or `pad`
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
                    rest: 1,
                }
            }
            Op::Fit { width, height } | Op::Pad { width, height } => {
                let size = resize::fit_size(ow, oh, width, height);
                FirstStep {
                    needs: size,
                    output: size,
                    crop: None,
                    // A pad's canvas is still to come, after the fit this step makes.
                    rest: usize::from(matches!(ops[0], Op::Fit { .. })),
                }
            }
            // A blur's sigma is in the original's pixels; a turn or mirror first is made from
            // the original (at the scale the sizing step after it needs).
            Op::Blur { .. } | Op::Sharpen { .. } | Op::Rotate { .. } | Op::Flip { .. } => {
                return None
            }
        };
        within(step.needs, (self.bitmap.width(), self.bitmap.height())).then_some(step)
    }

    /// What [`WorkingCopy::run`] for `format` is estimated to cost beyond the copy itself (see
    /// [`Plan::cost`](crate::Plan::cost)): the first resize from the copy, the later
    /// operations and the encoder; nothing is decoded. A pipeline that does not
    /// [fit](WorkingCopy::fits) the copy costs nothing here (it is not made from it).
    pub fn cost(&self, pipeline: &Pipeline, format: ImageFormat, limits: &Limits) -> Cost {
        let ops: Vec<Op> = pipeline.scaled_ops().collect();
        let Some(step) = self.first_step(&ops, limits) else {
            return Cost::default();
        };
        cost::resample(step.needs, step.output).then(cost::finish(
            step.output,
            &ops[step.rest..],
            pipeline.quality(),
            format,
            limits,
        ))
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
        self.cost(pipeline, format, limits).check(format, limits)?;
        let (w, h) = step.output;
        let source = self.source_for(step.needs);
        let first = match step.crop {
            Some(gravity) => {
                resize::thumb(source, w, h, gravity, limits.max_output_side, &mut None)?
            }
            None => resample::stretch(source, w, h)?,
        };
        let output = Output {
            format,
            quality: pipeline.quality(),
            background: pipeline.background(),
        };
        apply::finish(first, &ops[step.rest..], &output, limits)
    }

    /// The ThumbHash of the original, made from the copy.
    pub fn thumbhash(&self) -> Result<ThumbHash> {
        let smallest = self.half.as_ref().unwrap_or(&self.bitmap);
        placeholder::thumbhash_of(smallest, self.original)
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
            WorkingCopyCodec::Png => encode::png_with(&self.bitmap, png::Compression::Fast)?,
        };
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(MAGIC);
        let facts = &self.facts;
        out.extend_from_slice(&[
            LAYOUT_VERSION,
            codec.tag(),
            facts.orientation,
            u8::from(facts.jpeg),
        ]);
        out.extend_from_slice(&facts.stored.0.to_le_bytes());
        out.extend_from_slice(&facts.stored.1.to_le_bytes());
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
        let payload = &bytes[HEADER_LEN..];
        if blake3::hash(payload).as_bytes()[..] != bytes[16..48] {
            return Err(corrupt("its payload does not match its BLAKE3"));
        }
        if !(1..=8).contains(&bytes[6]) || bytes[7] > 1 {
            return Err(corrupt("bad original facts"));
        }
        let facts = OriginalFacts {
            stored: (u32_at(8), u32_at(12)),
            orientation: bytes[6],
            jpeg: bytes[7] == 1,
        };
        let expected = Self::size_of(&facts, max_side)
            .ok_or_else(|| corrupt("its original is too small to have one"))?;
        let bitmap = match codec {
            WorkingCopyCodec::Qoi => decode_qoi(payload, expected, limits)?,
            WorkingCopyCodec::Png => decode_png(payload, expected, limits)?,
        };
        Self::with_levels(bitmap, facts.upright(), facts)
    }

    /// The copy with its half-size level (for copies of at least [`HALF_FROM`] pixels a side).
    fn with_levels(bitmap: Bitmap, original: (u32, u32), facts: OriginalFacts) -> Result<Self> {
        let (w, h) = (bitmap.width(), bitmap.height());
        let half = if w.min(h) >= HALF_FROM {
            Some(resample::stretch(&bitmap, w.div_ceil(2), h.div_ceil(2))?)
        } else {
            None
        };
        Ok(Self {
            bitmap,
            half,
            original,
            facts,
        })
    }

    /// The smallest level that still holds `needs` with the margin.
    fn source_for(&self, needs: (u32, u32)) -> &Bitmap {
        match &self.half {
            Some(half) if within(needs, (half.width(), half.height())) => half,
            _ => &self.bitmap,
        }
    }
}

/// A copy's half-size level exists when its short side is at least this (so the level is no
/// smaller than the sizes a copy that small could serve anyway).
const HALF_FROM: u32 = 256;

/// Whether a source of `has` pixels holds `needs` with the [`MARGIN`].
fn within(needs: (u32, u32), has: (u32, u32)) -> bool {
    let one = |needs: u32, has: u32| {
        u64::from(needs) * u64::from(MARGIN.0) <= u64::from(has) * u64::from(MARGIN.1)
    };
    one(needs.0, has.0) && one(needs.1, has.1)
}

/// The first operation of a pipeline made from a working copy.
struct FirstStep {
    /// The size the whole source is scaled to, on the original's geometry.
    needs: (u32, u32),
    /// The operation's output size.
    output: (u32, u32),
    /// `Some(gravity)` for a cover-crop, `None` for a fit.
    crop: Option<crate::ops::Gravity>,
    /// Where the operations after this step start: 1, or 0 for a `pad`, whose fit this step
    /// makes and whose canvas is still to come (a pad of an image that already fits only
    /// places it).
    rest: usize,
}

/// Refuses a stored copy whose size is not `expected` (one made with another `max_side`) or
/// whose pixels exceed the limits, before its pixels are decoded.
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
