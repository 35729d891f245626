//! The operation pipeline and its one text grammar, shared by URLs and the CLI.
//!
//! A pipeline is a `/`-separated list of segments:
//!
//! | segment | meaning |
//! |---|---|
//! | `thumb/{w}/{h}` | cover-crop to exactly `w` x `h`; `0` for one side derives it from the aspect ratio |
//! | `g/{gravity}` | right after a `thumb`: where the crop is anchored (`north`, `northeast`, `east`, `southeast`, `south`, `southwest`, `west`, `northwest`, `smart`; `center` is the default and is written by omitting `g/`) |
//! | `fit/{w}/{h}` | scale to fit inside `w` x `h`, keeping the aspect ratio, never upscaling |
//! | `blur/{sigma}` | Gaussian blur, sigma `0.3`..=`100`, at most one decimal |
//! | `dpr/{2-4}` | device pixel ratio: multiplies every size and sigma (after all operations) |
//! | `q/{1-100}` | output quality for lossy formats (last) |
//!
//! Parsing is strict: numbers have no sign, no leading zeros and no redundant decimals; defaults
//! are not spelled out (`g/center`, `dpr/1`); `dpr` and `q` come after every operation, in that
//! order. So every accepted string is already canonical, and [`Pipeline`]'s `Display` prints it
//! back byte for byte: the canonical text is safe to use as a cache key.

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

    /// The name used in URLs.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, g)| *g == self)
            .map_or("center", |(n, _)| n)
    }

    /// For a fixed gravity, the anchor as fractions (x, y) of the slack to put before the crop:
    /// 0 keeps the left/top edge, 0.5 the centre, 1 the right/bottom edge. `None` for `Smart`.
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
            Gravity::Smart => return None,
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
}

/// An ordered list of operations plus output modifiers; see the module docs for the grammar.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pipeline {
    ops: Vec<Op>,
    dpr: u8,
    quality: Option<u8>,
}

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
        self.ops.is_empty() && self.dpr() == 1 && self.quality.is_none()
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
            Op::Blur { sigma } => Op::Blur {
                // dpr <= 4 and sigma <= 1000 tenths: fits in u16 once clamped by the caller.
                sigma: Sigma(sigma.0.saturating_mul(dpr as u16)),
            },
        })
    }
}

fn validate_op(op: &Op) -> Result<(), EngineError> {
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
    }
}

impl fmt::Display for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        let mut seg = |f: &mut fmt::Formatter<'_>, args: fmt::Arguments<'_>| {
            let r = write!(f, "{sep}{args}");
            sep = "/";
            r
        };
        for op in &self.ops {
            match op {
                Op::Thumb {
                    width,
                    height,
                    gravity,
                } => {
                    seg(f, format_args!("thumb/{width}/{height}"))?;
                    if *gravity != Gravity::Center {
                        seg(f, format_args!("g/{}", gravity.name()))?;
                    }
                }
                Op::Fit { width, height } => seg(f, format_args!("fit/{width}/{height}"))?,
                Op::Blur { sigma } => seg(f, format_args!("blur/{sigma}"))?,
            }
        }
        if self.dpr() != 1 {
            seg(f, format_args!("dpr/{}", self.dpr()))?;
        }
        if let Some(q) = self.quality {
            seg(f, format_args!("q/{q}"))?;
        }
        Ok(())
    }
}

impl FromStr for Pipeline {
    type Err = EngineError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut pipeline = Pipeline::new();
        if text.is_empty() {
            return Ok(pipeline);
        }
        let mut segments = text.split('/');
        let mut saw_dpr = false;
        while let Some(name) = segments.next() {
            let mut arg = |what: &str| {
                segments
                    .next()
                    .ok_or_else(|| EngineError::invalid(format!("{name}/ needs {what}")))
            };
            let modifiers_started = saw_dpr || pipeline.quality.is_some();
            match name {
                "thumb" | "fit" | "blur" if modifiers_started => {
                    return Err(EngineError::invalid(format!(
                        "{name}/ must come before dpr/ and q/"
                    )));
                }
                "thumb" | "fit" => {
                    let width = parse_uint(arg("a width")?, "width", MAX_DIMENSION)?;
                    let height = parse_uint(arg("a height")?, "height", MAX_DIMENSION)?;
                    let op = if name == "thumb" {
                        Op::Thumb {
                            width,
                            height,
                            gravity: Gravity::Center,
                        }
                    } else {
                        Op::Fit { width, height }
                    };
                    pipeline = pipeline.then(op)?;
                }
                "blur" => {
                    let sigma = parse_sigma(arg("a sigma")?)?;
                    pipeline = pipeline.then(Op::Blur { sigma })?;
                }
                "g" => {
                    let gravity: Gravity = arg("a gravity")?.parse()?;
                    if gravity == Gravity::Center {
                        return Err(EngineError::invalid(
                            "g/center is the default: leave it out",
                        ));
                    }
                    match pipeline.ops.last_mut() {
                        Some(Op::Thumb { gravity: g, .. })
                            if *g == Gravity::Center && !modifiers_started =>
                        {
                            *g = gravity
                        }
                        _ => {
                            return Err(EngineError::invalid(
                                "g/ must directly follow a thumb/{w}/{h}",
                            ))
                        }
                    }
                }
                "dpr" => {
                    if saw_dpr || pipeline.quality.is_some() {
                        return Err(EngineError::invalid("dpr/ may appear once, before q/"));
                    }
                    let dpr = parse_uint(arg("a ratio")?, "dpr", 4)?;
                    if dpr < 2 {
                        return Err(EngineError::invalid(
                            "dpr must be 2, 3 or 4 (1 is the default: leave it out)",
                        ));
                    }
                    saw_dpr = true;
                    pipeline = pipeline.with_dpr(dpr as u8)?;
                }
                "q" => {
                    if pipeline.quality.is_some() {
                        return Err(EngineError::invalid("q/ may appear once"));
                    }
                    let q = parse_uint(arg("a quality")?, "quality", 100)?;
                    if q == 0 {
                        return Err(EngineError::invalid("quality must be between 1 and 100"));
                    }
                    pipeline = pipeline.with_quality(q as u8)?;
                }
                "" => return Err(EngineError::invalid("empty path segment")),
                other => {
                    return Err(EngineError::invalid(format!(
                        "unknown operation {:?}; expected thumb, fit, blur, g, dpr or q",
                        truncate(other)
                    )))
                }
            }
        }
        Ok(pipeline)
    }
}

/// Keeps error messages short when a client sends a huge segment.
fn truncate(s: &str) -> &str {
    match s.char_indices().nth(32) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn parse_uint(text: &str, what: &str, max: u32) -> Result<u32, EngineError> {
    let bad = || {
        EngineError::invalid(format!(
            "{what} must be a whole number from 0 to {max} without leading zeros, got {:?}",
            truncate(text)
        ))
    };
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(bad());
    }
    let value: u32 = text.parse().map_err(|_| bad())?;
    if value > max {
        return Err(bad());
    }
    Ok(value)
}

fn parse_sigma(text: &str) -> Result<Sigma, EngineError> {
    let bad = || {
        EngineError::invalid(format!(
            "blur sigma must be a number from 0.3 to 100 with at most one decimal and no \
             redundant zeros (e.g. 12 or 0.5), got {:?}",
            truncate(text)
        ))
    };
    let (whole, tenth) = match text.split_once('.') {
        Some((whole, frac)) => {
            // One decimal digit, and never `.0` (that is the integer's spelling).
            if frac.len() != 1 || !frac.bytes().all(|b| b.is_ascii_digit()) || frac == "0" {
                return Err(bad());
            }
            (whole, u16::from(frac.as_bytes()[0] - b'0'))
        }
        None => (text, 0),
    };
    let whole = parse_uint(whole, "blur sigma", 100).map_err(|_| bad())?;
    let tenths = whole as u16 * 10 + tenth;
    Sigma::from_tenths(tenths).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Pipeline, EngineError> {
        s.parse()
    }

    #[test]
    fn canonical_strings_round_trip() {
        for s in [
            "",
            "thumb/400/300",
            "thumb/400/0",
            "thumb/0/300/g/smart",
            "thumb/400/300/g/smart/blur/12/q/75",
            "fit/1200/800",
            "fit/0/800/blur/0.5",
            "blur/100",
            "blur/0.3",
            "thumb/10/10/g/northwest/fit/5/5/dpr/2/q/1",
            "q/100",
            "dpr/4",
        ] {
            let p = parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(p.to_string(), s);
        }
    }

    #[test]
    fn parses_structure() {
        let p = parse("thumb/400/300/g/smart/blur/12.5/dpr/2/q/75").unwrap();
        assert_eq!(
            p.ops(),
            &[
                Op::Thumb {
                    width: 400,
                    height: 300,
                    gravity: Gravity::Smart
                },
                Op::Blur {
                    sigma: Sigma::from_tenths(125).unwrap()
                }
            ]
        );
        assert_eq!(p.dpr(), 2);
        assert_eq!(p.quality(), Some(75));
        let scaled: Vec<Op> = p.scaled_ops().collect();
        assert_eq!(
            scaled[0],
            Op::Thumb {
                width: 800,
                height: 600,
                gravity: Gravity::Smart
            }
        );
        assert_eq!(scaled[1], Op::Blur { sigma: Sigma(250) });
    }

    #[test]
    fn rejects_non_canonical_and_invalid() {
        for s in [
            "thumb/0400/300",
            "thumb/400",
            "thumb/400/300/",
            "/thumb/400/300",
            "thumb//300",
            "thumb/-4/300",
            "thumb/+4/300",
            "thumb/0/0",
            "thumb/16385/10",
            "thumb/99999999999/1",
            "thumb/400/300/g/center",
            "g/smart",
            "fit/10/10/g/north",
            "thumb/1/1/g/north/g/south",
            "blur/0.2",
            "blur/100.5",
            "blur/12.0",
            "blur/012",
            "blur/.5",
            "blur/1.",
            "blur/1.25",
            "blur/1e2",
            "q/0",
            "q/101",
            "q/80/q/80",
            "q/80/thumb/1/1",
            "dpr/1",
            "dpr/5",
            "q/80/dpr/2",
            "dpr/2/thumb/1/1",
            "resize/10/10",
            "THUMB/1/1",
            "thumb/1/1/blur/1/blur/1/blur/1/blur/1/blur/1/blur/1/blur/1/blur/1",
        ] {
            let err = parse(s).expect_err(s);
            assert!(
                matches!(err, EngineError::InvalidParams(_)),
                "{s}: wrong error {err:?}"
            );
        }
    }

    #[test]
    fn default_is_the_empty_pipeline() {
        // Found by fuzzing: the derived Default had dpr 0, so it printed as "" but did not
        // equal (or hash like) the pipeline "" parses to.
        let parsed = parse("").unwrap();
        assert_eq!(Pipeline::default(), Pipeline::new());
        assert_eq!(Pipeline::default(), parsed);
        let with_q = Pipeline::default().with_quality(1).unwrap();
        assert_eq!(parse(&with_q.to_string()).unwrap(), with_q);
    }

    #[test]
    fn error_messages_stay_short() {
        let long = "x".repeat(10_000);
        let err = parse(&long).unwrap_err().to_string();
        assert!(err.len() < 200, "{err}");
    }
}
