//! The part of a transform after the source's pixels are in hand: the pipeline's operations,
//! the fit into [`Limits::max_output_side`], and the encoding. A plan runs it on the decoded
//! original, a working copy on its reduced pixels, an animation on each of its frames.

use crate::bitmap::Bitmap;
use crate::error::Result;
use crate::format::ImageFormat;
use crate::limits::Limits;
use crate::ops::Op;
use crate::{blur, encode, orient, resize};

/// The result of [`Plan::run`](crate::Plan::run) (and [`transform`](crate::transform)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transformed {
    /// The encoded image.
    pub bytes: Vec<u8>,
    /// Its format.
    pub format: ImageFormat,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
}

/// How a transform encodes its result.
pub(crate) struct Output {
    /// The format.
    pub(crate) format: ImageFormat,
    /// The pipeline's quality, if set.
    pub(crate) quality: Option<u8>,
    /// The pipeline's background: for `pad` and for flattening transparency into JPEG.
    pub(crate) background: [u8; 3],
}

/// A pipeline's operations, ready to run on one image after another of the same size (the
/// frames of an animation).
pub(crate) struct Operations<'a> {
    ops: &'a [Op],
    /// Where each operation's crop was placed (left, top) on the first image it ran on: every
    /// later frame is cropped in the same place, where a smart crop chosen frame by frame
    /// would jump about.
    placements: Vec<Option<(f64, f64)>>,
}

impl<'a> Operations<'a> {
    pub(crate) fn new(ops: &'a [Op]) -> Self {
        Self {
            ops,
            placements: vec![None; ops.len()],
        }
    }

    /// Runs the operations on `bitmap` in order, then scales a result larger than
    /// [`Limits::max_output_side`] (possible when the pipeline has no resize) down to fit.
    pub(crate) fn apply(
        &mut self,
        mut bitmap: Bitmap,
        background: [u8; 3],
        limits: &Limits,
    ) -> Result<Bitmap> {
        let max_side = limits.max_output_side;
        for (op, placement) in self.ops.iter().zip(&mut self.placements) {
            bitmap = match *op {
                Op::Thumb {
                    width,
                    height,
                    gravity,
                } => resize::thumb(&bitmap, width, height, gravity, max_side, placement)?,
                Op::Fit { width, height } => resize::fit(&bitmap, width, height)?,
                Op::Blur { sigma } => blur::gaussian(bitmap, sigma.value())?,
                Op::Sharpen { sigma } => blur::sharpen(bitmap, sigma.value())?,
                Op::Rotate { quarter_turns } => {
                    orient::apply(bitmap, orient::rotation(quarter_turns))
                }
                Op::Flip { axis } => orient::apply(bitmap, orient::mirror(axis)),
                Op::Pad { width, height } => resize::pad(bitmap, width, height, background)?,
            };
        }
        if bitmap.width() > max_side || bitmap.height() > max_side {
            bitmap = resize::fit(&bitmap, max_side, max_side)?;
        }
        Ok(bitmap)
    }
}

/// Runs `ops` on `bitmap` and encodes the result as `output` says.
pub(crate) fn finish(
    bitmap: Bitmap,
    ops: &[Op],
    output: &Output,
    limits: &Limits,
) -> Result<Transformed> {
    let bitmap = Operations::new(ops).apply(bitmap, output.background, limits)?;
    let (width, height) = (bitmap.width(), bitmap.height());
    let format = output.format;
    let bytes = encode::encode(bitmap, format, output.quality, output.background, limits)?;
    Ok(Transformed {
        bytes,
        format,
        width,
        height,
    })
}
