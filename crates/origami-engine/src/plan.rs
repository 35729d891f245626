//! One transform request, worked out from the image header: the header is parsed and checked
//! against the limits once, then the plan estimates its memory and runs for as many output
//! formats as the caller tries.

use std::fmt;

use crate::apply::{self, Output, Transformed};
use crate::cost::{self, Cost};
use crate::decode::{self, Refinement, Source};
use crate::error::{EngineError, Result};
use crate::format::ImageFormat;
use crate::header::ImageInfo;
use crate::limits::Limits;
use crate::ops::{Op, Pipeline};
use crate::{animation, resize};

/// Knobs for [`plan_with_options`]; the defaults are what [`plan`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransformOptions {
    /// Decode JPEGs at a reduced DCT scale, and still WebPs through libwebp's rescaler, when
    /// the pipeline shrinks the image (default true). Turning it off exists for measuring its
    /// quality cost and speed-up.
    pub shrink_on_load: bool,
    /// How many times the size the first resize needs a shrink-on-load decode keeps on each
    /// side: 2 (the default: the final Lanczos resize always has 2x oversampling) or 1 (what
    /// sharp's `fastShrinkOnLoad` keeps: cheaper, softer). Exists for measuring the two.
    pub oversampling: Oversampling,
    /// How much of a progressive JPEG a 1/4-scale decode reads (default
    /// [`Refinement::CoarseAtQuarter`]: all but the AC refinement scans). With
    /// [`Oversampling::Once`] every scan is read whatever this says. Exists for measuring the
    /// two.
    pub refinement: Refinement,
}

/// See [`TransformOptions::oversampling`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Oversampling {
    /// At least the size the first resize needs.
    Once,
    /// At least twice that.
    #[default]
    Twice,
}

impl TransformOptions {
    /// Shrink-on-load on or off, at the default oversampling.
    pub fn shrink_on_load(on: bool) -> Self {
        Self {
            shrink_on_load: on,
            ..Self::default()
        }
    }
}

impl Default for TransformOptions {
    fn default() -> Self {
        Self {
            shrink_on_load: true,
            oversampling: Oversampling::Twice,
            refinement: Refinement::CoarseAtQuarter,
        }
    }
}

/// What transforming one input with one pipeline will do, worked out from the header alone:
/// made by [`plan`], it has parsed the header and checked the [`Limits`] (and the pipeline's
/// sizes against them), so it can then estimate its memory ([`Plan::working_memory`]) and run
/// ([`Plan::run`]) without reading the header again.
///
/// [`Plan::run`] takes `&self`, so a caller can run the same plan again for another format,
/// e.g. fall back from AVIF to WebP when the AVIF output is [`EngineError::TooLarge`].
///
/// The plan owns its input (`I` is anything that derefs to bytes: a slice, a `Vec<u8>`, a
/// `bytes::Bytes`), so a server can make it on one thread, weigh it, and run it on another.
pub struct Plan<I> {
    /// The input, its header parsed and checked.
    source: Source<I>,
    /// The operations, dpr applied.
    ops: Vec<Op>,
    /// The smallest decoded size (oriented) they need; `None`: decode at full size.
    min_size: Option<(u32, u32)>,
    /// How much of a progressive JPEG the decode reads: coarse at 1/4 scale only when the
    /// decode keeps twice the size the first resize needs (the default oversampling).
    refinement: Refinement,
    /// The pipeline's output quality, if set.
    quality: Option<u8>,
    /// The pipeline's background colour (padding, and flattening into JPEG).
    background: [u8; 3],
    limits: Limits,
}

/// Plans [`transform`](crate::transform)ing `input` with `pipeline`: parses the header, checks
/// it and the pipeline's output sizes against `limits`, and works out the decode scale. Decodes
/// no pixel.
///
/// Fails on an unreadable header ([`EngineError::Unsupported`], [`EngineError::Corrupt`]), an
/// input over the limits ([`EngineError::TooLarge`]) or an operation larger than
/// [`Limits::max_output_side`] ([`EngineError::InvalidParams`]).
pub fn plan<I: AsRef<[u8]>>(input: I, pipeline: &Pipeline, limits: &Limits) -> Result<Plan<I>> {
    plan_with_options(input, pipeline, limits, TransformOptions::default())
}

/// [`plan`] with explicit [`TransformOptions`].
pub fn plan_with_options<I: AsRef<[u8]>>(
    input: I,
    pipeline: &Pipeline,
    limits: &Limits,
    options: TransformOptions,
) -> Result<Plan<I>> {
    let source = Source::new(input, limits)?;
    let ops: Vec<Op> = pipeline.scaled_ops().collect();
    let max_side = limits.max_output_side;
    for op in &ops {
        if let Op::Thumb { width, height, .. }
        | Op::Fit { width, height }
        | Op::Pad { width, height } = *op
        {
            if width > max_side || height > max_side {
                return Err(EngineError::InvalidParams(format!(
                    "output sides are limited to {max_side} pixels ({width}x{height} requested, \
                     dpr included)"
                )));
            }
        }
    }
    let (ow, oh) = source.header().info.oriented_dimensions();
    // Turns and mirrors keep every pixel: the first sizing step after them decides the decode
    // scale, in their turned frame when an odd number of quarter turns swapped the sides.
    let mut swapped = false;
    let first_sizing = ops.iter().find(|op| match op {
        Op::Rotate { quarter_turns } => {
            swapped ^= quarter_turns % 2 == 1;
            false
        }
        Op::Flip { .. } => false,
        _ => true,
    });
    let (ow, oh) = if swapped { (oh, ow) } else { (ow, oh) };
    let min_size = match first_sizing {
        Some(Op::Thumb { width, height, .. }) => {
            let (w, h) = resize::thumb_size(ow, oh, *width, *height, max_side);
            Some(resize::cover_scaled_size(ow, oh, w, h))
        }
        Some(Op::Fit { width, height } | Op::Pad { width, height }) => {
            Some(resize::fit_size(ow, oh, *width, *height))
        }
        // Blur and sharpen sigmas are in pixels of the full image: decode it whole.
        Some(Op::Blur { .. } | Op::Sharpen { .. }) => None,
        Some(Op::Rotate { .. } | Op::Flip { .. }) | None => {
            Some(resize::fit_size(ow, oh, max_side, max_side))
        }
    }
    .map(|(w, h)| if swapped { (h, w) } else { (w, h) })
    // The decoders keep twice the size they are asked for: asking for half of it keeps once.
    .map(|(w, h)| match options.oversampling {
        Oversampling::Twice => (w, h),
        Oversampling::Once => (w.div_ceil(2), h.div_ceil(2)),
    })
    .filter(|_| options.shrink_on_load);
    let refinement = match (options.oversampling, options.refinement) {
        (Oversampling::Once, Refinement::CoarseAtQuarter) => Refinement::Exact,
        (_, refinement) => refinement,
    };
    Ok(Plan {
        source,
        ops,
        min_size,
        refinement,
        quality: pipeline.quality(),
        background: pipeline.background(),
        limits: *limits,
    })
}

impl<I: AsRef<[u8]>> Plan<I> {
    /// Whether running for `format` makes an animation: the source is one and `format` keeps
    /// animations (GIF, WebP).
    fn keeps_animation(&self, format: ImageFormat) -> bool {
        self.info().is_animated() && animation::keeps_animation(format)
    }

    /// What the header says about the input.
    pub fn info(&self) -> &ImageInfo {
        &self.source.header().info
    }

    /// What [`Plan::run`] for `format` is estimated to cost, from the header alone: CPU time
    /// (a JPEG's entropy decoding of every stored pixel, the decode at its shrink-on-load
    /// scale, each resize, blur and the encoder, weighted per pixel) and peak memory (the
    /// decoded image twice over, for the bitmap and the working copy an operation makes; the
    /// buffer a non-JPEG decoder converts from (twice as wide for a 16-bit PNG); a progressive
    /// JPEG's whole-image coefficient buffer; each
    /// operation's result twice over; the encoder's working memory; 256 KiB of codec state).
    ///
    /// Servers weigh concurrent transforms with it, so that several large ones do not run at
    /// once and the expensive ones do not take every worker; [`Plan::run`] refuses a cost
    /// over [`Limits::max_cost`].
    ///
    /// An animation made into an animation (a GIF or WebP source into GIF or WebP) costs its
    /// frame count times the work of one frame, decoded whole.
    pub fn cost(&self, format: ImageFormat) -> Cost {
        if self.keeps_animation(format) {
            return self.animation_cost(format);
        }
        let header = self.source.header();
        let info = &header.info;
        let (width, height, channels) = decode::decoded_size(header, self.min_size);
        let decoded = u64::from(width) * u64::from(height);
        let decoded_bytes = decoded * u64::from(channels);
        // The `image` crate's decoders (all but JPEG) decode into a buffer of their own and
        // convert it into the bitmap's layout: up to 4 bytes a pixel more (RGBA), twice that
        // for a 16-bit PNG, whose samples are twice as wide.
        let conversion = match info.format {
            ImageFormat::Jpeg => 0,
            _ if header.sixteen_bit => 8 * decoded,
            _ => 4 * decoded,
        };
        let coefficients = if info.progressive {
            header.coefficient_bytes
        } else {
            0
        };
        let stored = u64::from(info.width) * u64::from(info.height);
        let memory = 2 * decoded_bytes + conversion + coefficients + (256 << 10);
        // Decoded as stored, then turned upright.
        let upright = if info.orientation >= 5 {
            (height, width)
        } else {
            (width, height)
        };
        // A progressive JPEG at 1/8 entropy-decodes its DC scans (and subsampled chroma's
        // AC) only, at 1/4 all but its AC refinement scans: weighed as a baseline file's
        // work (`jpeg_scans`; measured at 1/4: half the time of every scan).
        let every_scan = info.progressive
            && !decode::reads_part_of_the_scans(header, self.min_size, self.refinement);
        cost::source(info.format, every_scan, stored, decoded, memory).then(cost::finish(
            upright,
            &self.ops,
            self.quality,
            format,
            &self.limits,
        ))
    }

    /// [`Plan::cost`] of an animation: every frame decoded whole onto an RGBA canvas, then
    /// through the same stages as a still. At any time one frame is in hand (the decoder's
    /// canvas, the composited frame and the bitmap made of it), and the encoder keeps a few
    /// output frames of its own (libwebp compares each frame with the ones before).
    fn animation_cost(&self, format: ImageFormat) -> Cost {
        let info = self.info();
        let canvas = info.pixels();
        let decoded_memory = 3 * canvas * 4 + (256 << 10);
        let frame = cost::animation_frame(info.format, canvas, decoded_memory).then(cost::finish(
            info.oriented_dimensions(),
            &self.ops,
            self.quality,
            format,
            &self.limits,
        ));
        let encoder_frames = 4 * frame.encoded_pixels * 4;
        Cost {
            memory_bytes: frame.memory_bytes + encoder_frames,
            ..frame.repeated(info.frames)
        }
    }

    /// An estimate of the memory, in bytes, that [`Plan::run`] needs at its peak for the
    /// cheapest encoder to size: [`Plan::cost`]'s memory for a PNG. For callers that weigh a
    /// decode whatever it is encoded to.
    pub fn working_memory(&self) -> u64 {
        self.cost(ImageFormat::Png).memory_bytes
    }

    /// Decodes the input, runs the pipeline and encodes the result as `format`.
    ///
    /// Operations run in pipeline order on the upright image. When the first operation is a
    /// `thumb` or `fit`, JPEGs are decoded at 1/2, 1/4 or 1/8 scale as long as that leaves at
    /// least twice the pixels the operation needs, and still WebPs at that twice exactly
    /// (libwebp's rescaler). A result larger than
    /// [`Limits::max_output_side`] (possible when the pipeline has no resize) is scaled down to
    /// fit. Transparent images written as JPEG are flattened onto the pipeline's background
    /// (white unless `bg/` says otherwise).
    ///
    /// Fails with [`EngineError::Corrupt`] when the pixels cannot be decoded,
    /// [`EngineError::TooLarge`] when the output exceeds what `format` or the limits allow, or
    /// its [cost](Plan::cost) is over [`Limits::max_cost`] (another format may succeed), and [`EngineError::Internal`] when resizing or encoding
    /// fails.
    pub fn run(&self, format: ImageFormat) -> Result<Transformed> {
        self.cost(format).check(format, &self.limits)?;
        let output = Output {
            format,
            quality: self.quality,
            background: self.background,
        };
        if self.keeps_animation(format) {
            let header = self.source.header();
            return animation::run(
                self.source.bytes(),
                header,
                &self.ops,
                &output,
                &self.limits,
            );
        }
        let bitmap =
            decode::decode_with(&self.source, self.min_size, self.refinement, &self.limits)?;
        apply::finish(bitmap, &self.ops, &output, &self.limits)
    }
}

/// Shows what was planned, not the input's bytes.
impl<I: AsRef<[u8]>> fmt::Debug for Plan<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plan")
            .field("info", self.info())
            .field("ops", &self.ops)
            .field("min_size", &self.min_size)
            .field("quality", &self.quality)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}
