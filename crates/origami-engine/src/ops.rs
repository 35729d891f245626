//! The operations and the [`Pipeline`] that chains them. Their one text form, shared by URLs
//! and the CLI, is in `grammar`.

use std::fmt;
use std::str::FromStr;

use crate::error::EngineError;

/// Largest width or height the grammar accepts. Actual outputs are further bounded by
/// [`Limits::max_output_side`](crate::Limits::max_output_side).
pub const MAX_DIMENSION: u32 = 16384;
/// Most operations (`thumb`, `fit`, `blur`) one pipeline may chain.
pub const MAX_OPS: usize = 8;

/// Where a cover-crop keeps the image when it has to cut something off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Gravity {
    /// Keep the centre (the default).
    #[default]
    Center,
    /// Keep the top edge.
    North,
    /// Keep the top-right corner.
    NorthEast,
    /// Keep the right edge.
    East,
    /// Keep the bottom-right corner.
    SouthEast,
    /// Keep the bottom edge.
    South,
    /// Keep the bottom-left corner.
    SouthWest,
    /// Keep the left edge.
    West,
    /// Keep the top-left corner.
    NorthWest,
    /// Keep the most salient region (edges, saturated colour, skin tones).
    Smart,
    /// Centre the crop on a point given in percent of the width and height (`g/fp/{x}/{y}`,
    /// e.g. a face found elsewhere), as far as the image's edges allow.
    Focal {
        /// Percent of the width from the left edge, 0..=100.
        x: u8,
        /// Percent of the height from the top edge, 0..=100.
        y: u8,
    },
}

impl Gravity {
    const NAMES: [(&'static str, Gravity); 10] = [
        ("center", Gravity::Center),
        ("north", Gravity::North),
        ("northeast", Gravity::NorthEast),
        ("east", Gravity::East),
        ("southeast", Gravity::SouthEast),
        ("south", Gravity::South),
        ("southwest", Gravity::SouthWest),
        ("west", Gravity::West),
        ("northwest", Gravity::NorthWest),
        ("smart", Gravity::Smart),
    ];

    /// The name used in URLs (`fp` for a focal point, whose coordinates follow it).
    pub fn name(self) -> &'static str {
        if let Gravity::Focal { .. } = self {
            return "fp";
        }
        Self::NAMES
            .iter()
            .find(|(_, g)| *g == self)
            .map_or("center", |(n, _)| n)
    }

    /// For a fixed gravity, the anchor as fractions (x, y) of the slack to put before the crop:
    /// 0 keeps the left/top edge, 0.5 the centre, 1 the right/bottom edge. `None` for `Smart`
    /// and `Focal`, whose crop depends on the image.
    pub fn anchor(self) -> Option<(f64, f64)> {
        Some(match self {
            Gravity::Center => (0.5, 0.5),
            Gravity::North => (0.5, 0.0),
            Gravity::NorthEast => (1.0, 0.0),
            Gravity::East => (1.0, 0.5),
            Gravity::SouthEast => (1.0, 1.0),
            Gravity::South => (0.5, 1.0),
            Gravity::SouthWest => (0.0, 1.0),
            Gravity::West => (0.0, 0.5),
            Gravity::NorthWest => (0.0, 0.0),
            Gravity::Smart | Gravity::Focal { .. } => return None,
        })
    }
}

impl FromStr for Gravity {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, g)| *g)
            .ok_or_else(|| {
                EngineError::invalid(format!(
                    "unknown gravity {s:?}; use north, northeast, east, southeast, south, \
                     southwest, west, northwest or smart"
                ))
            })
    }
}

/// A blur radius in tenths of a standard deviation, so that it can be compared and hashed
/// exactly. `Sigma::from_tenths(125)` is sigma 12.5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sigma(u16);

impl Sigma {
    /// Smallest sigma accepted (0.3).
    pub const MIN: Sigma = Sigma(3);
    /// Largest sigma accepted (100).
    pub const MAX: Sigma = Sigma(1000);

    /// A sigma of `tenths / 10`, or an error outside 0.3..=100.
    pub fn from_tenths(tenths: u16) -> Result<Sigma, EngineError> {
        if (Self::MIN.0..=Self::MAX.0).contains(&tenths) {
            Ok(Sigma(tenths))
        } else {
            Err(EngineError::invalid(
                "blur sigma must be between 0.3 and 100",
            ))
        }
    }

    /// The sigma in tenths.
    pub fn tenths(self) -> u16 {
        self.0
    }

    /// The sigma as a number of pixels.
    pub fn value(self) -> f32 {
        f32::from(self.0) / 10.0
    }
}

impl fmt::Display for Sigma {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, tenth) = (self.0 / 10, self.0 % 10);
        if tenth == 0 {
            write!(f, "{whole}")
        } else {
            write!(f, "{whole}.{tenth}")
        }
    }
}

/// The largest `sharpen/` sigma, in tenths: beyond 10 pixels it is a contrast filter, not
/// sharpening.
pub(crate) const MAX_SHARPEN_TENTHS: u16 = 100;

/// One geometric or filter step of a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Cover-crop to exactly `width` x `height` (0 = derive that side from the aspect ratio).
    Thumb {
        /// Target width, or 0.
        width: u32,
        /// Target height, or 0.
        height: u32,
        /// Which part of the image to keep.
        gravity: Gravity,
    },
    /// Fit inside `width` x `height` (0 = unbounded side), keeping the aspect ratio; never upscales.
    Fit {
        /// Bounding width, or 0.
        width: u32,
        /// Bounding height, or 0.
        height: u32,
    },
    /// Gaussian blur.
    Blur {
        /// Standard deviation of the Gaussian, in pixels of the image at that point.
        sigma: Sigma,
    },
    /// Unsharp mask: adds back the difference between the image and its Gaussian blur.
    Sharpen {
        /// Standard deviation of the blur the detail is measured against, in pixels of the
        /// image at that point (0.3..=10).
        sigma: Sigma,
    },
    /// Rotate clockwise by a multiple of 90 degrees (after the EXIF orientation is applied).
    Rotate {
        /// Quarter turns clockwise: 1 (90), 2 (180) or 3 (270).
        quarter_turns: u8,
    },
    /// Mirror the image.
    Flip {
        /// Which way.
        axis: FlipAxis,
    },
    /// Fit inside `width` x `height` (never upscaling), then centre on a canvas of exactly
    /// `width` x `height` filled with the pipeline's [background](Pipeline::background):
    /// letterboxing.
    Pad {
        /// Canvas width (at least 1).
        width: u32,
        /// Canvas height (at least 1).
        height: u32,
    },
}

/// The direction of a [`Op::Flip`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlipAxis {
    /// Left and right swap (`flip/h`).
    Horizontal,
    /// Top and bottom swap (`flip/v`).
    Vertical,
}

/// An ordered list of operations plus output modifiers, with one text form: a `/`-separated
/// list of segments, parsed by `str::parse` ([`FromStr`](std::str::FromStr)) and printed by
/// [`Display`](std::fmt::Display).
///
/// | segment | meaning |
/// |---|---|
/// | `thumb/{w}/{h}` | cover-crop to exactly `w` x `h`; `0` for one side derives it from the aspect ratio |
/// | `g/{gravity}` | right after a `thumb`: where the crop is anchored (`north`, `northeast`, `east`, `southeast`, `south`, `southwest`, `west`, `northwest`, `smart`, or `fp/{x}/{y}`: a focal point in percent; `center` is the default and is written by omitting `g/`) |
/// | `fit/{w}/{h}` | scale to fit inside `w` x `h`, keeping the aspect ratio, never upscaling |
/// | `blur/{sigma}` | Gaussian blur, sigma `0.3`..=`100`, at most one decimal |
/// | `sharpen/{sigma}` | unsharp mask against a Gaussian of sigma `0.3`..=`10` |
/// | `rotate/{90\|180\|270}` | turn clockwise |
/// | `flip/{h\|v}` | mirror: `h` swaps left and right, `v` top and bottom |
/// | `pad/{w}/{h}` | fit inside `w` x `h` (never upscaling) and centre on a `w` x `h` canvas of the background colour |
/// | `bg/{rrggbb}` | background colour, lowercase hex, for `pad` and for flattening transparency into JPEG (after every operation; `ffffff`, white, is the default and is written by omitting `bg/`) |
/// | `dpr/{2-4}` | device pixel ratio: multiplies every size and sigma (after all operations) |
/// | `q/{1-100}` | output quality for lossy formats (last) |
///
/// Parsing is strict: numbers have no sign, no leading zeros and no redundant decimals; defaults
/// are not spelled out (`g/center`, `bg/ffffff`, `dpr/1`); `bg`, `dpr` and `q` come after every
/// operation, in that order. So every accepted string is already canonical, and `Display` prints it back byte for
/// byte: the canonical text is safe to use as a cache key.
///
/// ```
/// use origami_engine::{Gravity, Op, Pipeline};
///
/// let pipeline: Pipeline = "thumb/400/300/g/smart/q/75".parse()?;
/// assert_eq!(
///     pipeline.ops(),
///     &[Op::Thumb { width: 400, height: 300, gravity: Gravity::Smart }]
/// );
/// assert_eq!(pipeline.quality(), Some(75));
/// assert_eq!(pipeline.to_string(), "thumb/400/300/g/smart/q/75");
/// # Ok::<(), origami_engine::EngineError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pipeline {
    ops: Vec<Op>,
    background: Option<[u8; 3]>,
    dpr: u8,
    quality: Option<u8>,
}

/// The background when a pipeline names none: white.
pub const DEFAULT_BACKGROUND: [u8; 3] = [255, 255, 255];

/// Same as [`Pipeline::new`]. Not derived: a derived default would have `dpr` 0, which behaves
/// like 1 but compares (and hashes) unequal to the parsed empty pipeline.
impl Default for Pipeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Pipeline {
    /// An empty pipeline: the image is only decoded, oriented and re-encoded.
    pub fn new() -> Self {
        Self {
            ops: Vec::new(),
            background: None,
            dpr: 1,
            quality: None,
        }
    }

    /// Appends an operation (validated like the parser does).
    pub fn then(mut self, op: Op) -> Result<Self, EngineError> {
        validate_op(&op)?;
        if self.ops.len() >= MAX_OPS {
            return Err(EngineError::invalid(format!(
                "at most {MAX_OPS} operations per pipeline"
            )));
        }
        self.ops.push(op);
        Ok(self)
    }

    /// Sets the background colour (RGB) used by `pad` and when transparency is flattened into
    /// a format without alpha. White, the default, is stored as no background, so that a
    /// pipeline compares equal to its canonical text.
    pub fn with_background(mut self, rgb: [u8; 3]) -> Self {
        self.background = (rgb != DEFAULT_BACKGROUND).then_some(rgb);
        self
    }

    /// The background colour ([`DEFAULT_BACKGROUND`], white, when not set).
    pub fn background(&self) -> [u8; 3] {
        self.background.unwrap_or(DEFAULT_BACKGROUND)
    }

    /// Whether a background other than the default was set (`bg/` in the text form).
    pub fn has_background(&self) -> bool {
        self.background.is_some()
    }

    /// Sets the device pixel ratio (1..=4).
    pub fn with_dpr(mut self, dpr: u8) -> Result<Self, EngineError> {
        if !(1..=4).contains(&dpr) {
            return Err(EngineError::invalid("dpr must be 1, 2, 3 or 4"));
        }
        self.dpr = dpr;
        Ok(self)
    }

    /// Sets the output quality (1..=100).
    pub fn with_quality(mut self, quality: u8) -> Result<Self, EngineError> {
        if !(1..=100).contains(&quality) {
            return Err(EngineError::invalid("quality must be between 1 and 100"));
        }
        self.quality = Some(quality);
        Ok(self)
    }

    /// The operations, in order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// The last operation, for the parser: `g/` amends the `thumb/` before it.
    pub(crate) fn last_op_mut(&mut self) -> Option<&mut Op> {
        self.ops.last_mut()
    }

    /// The device pixel ratio (1 when not set).
    pub fn dpr(&self) -> u8 {
        self.dpr.max(1)
    }

    /// The output quality, if set.
    pub fn quality(&self) -> Option<u8> {
        self.quality
    }

    /// True when the pipeline has no operation and no modifier.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
            && self.background.is_none()
            && self.dpr() == 1
            && self.quality.is_none()
    }

    /// The operations with the device pixel ratio applied to every size and sigma.
    pub fn scaled_ops(&self) -> impl Iterator<Item = Op> + '_ {
        let dpr = u32::from(self.dpr());
        self.ops.iter().map(move |op| match *op {
            Op::Thumb {
                width,
                height,
                gravity,
            } => Op::Thumb {
                width: width * dpr,
                height: height * dpr,
                gravity,
            },
            Op::Fit { width, height } => Op::Fit {
                width: width * dpr,
                height: height * dpr,
            },
            Op::Pad { width, height } => Op::Pad {
                width: width * dpr,
                height: height * dpr,
            },
            Op::Blur { sigma } => Op::Blur {
                // dpr <= 4 and sigma <= 1000 tenths: fits in u16 once clamped by the caller.
                sigma: Sigma(sigma.0.saturating_mul(dpr as u16)),
            },
            Op::Sharpen { sigma } => Op::Sharpen {
                sigma: Sigma(sigma.0.saturating_mul(dpr as u16)),
            },
            // Turns and mirrors have no size.
            op @ (Op::Rotate { .. } | Op::Flip { .. }) => op,
        })
    }
}

fn validate_op(op: &Op) -> Result<(), EngineError> {
    if let Op::Thumb {
        gravity: Gravity::Focal { x, y },
        ..
    } = *op
    {
        if x > 100 || y > 100 {
            return Err(EngineError::invalid(
                "a focal point is in percent: g/fp/{0-100}/{0-100}",
            ));
        }
    }
    match *op {
        Op::Thumb { width, height, .. } | Op::Fit { width, height } => {
            if width == 0 && height == 0 {
                return Err(EngineError::invalid("width and height cannot both be 0"));
            }
            if width > MAX_DIMENSION || height > MAX_DIMENSION {
                return Err(EngineError::invalid(format!(
                    "width and height must be at most {MAX_DIMENSION}"
                )));
            }
            Ok(())
        }
        Op::Blur { sigma } => Sigma::from_tenths(sigma.0).map(|_| ()),
        Op::Sharpen { sigma } => {
            if (3..=MAX_SHARPEN_TENTHS).contains(&sigma.0) {
                Ok(())
            } else {
                Err(EngineError::invalid("sharpen sigma must be from 0.3 to 10"))
            }
        }
        Op::Rotate { quarter_turns } => {
            if (1..=3).contains(&quarter_turns) {
                Ok(())
            } else {
                Err(EngineError::invalid("rotate/ takes 90, 180 or 270"))
            }
        }
        Op::Flip { .. } => Ok(()),
        Op::Pad { width, height } => {
            if width == 0 || height == 0 {
                return Err(EngineError::invalid(
                    "pad/ needs a width and a height of at least 1",
                ));
            }
            if width > MAX_DIMENSION || height > MAX_DIMENSION {
                return Err(EngineError::invalid(format!(
                    "width and height must be at most {MAX_DIMENSION}"
                )));
            }
            Ok(())
        }
    }
}
