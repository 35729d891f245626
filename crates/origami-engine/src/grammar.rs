//! The one text form of a [`Pipeline`], shared by URLs and the CLI: the strict parser
//! ([`FromStr`]) and the canonical printer ([`Display`](fmt::Display)), kept together so that
//! they cannot drift apart. The grammar is documented on [`Pipeline`].

use std::fmt;
use std::str::FromStr;

use crate::error::EngineError;
use crate::ops::{FlipAxis, Gravity, Op, Pipeline, Sigma, DEFAULT_BACKGROUND, MAX_DIMENSION};

impl fmt::Display for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        let mut seg = |f: &mut fmt::Formatter<'_>, args: fmt::Arguments<'_>| {
            let r = write!(f, "{sep}{args}");
            sep = "/";
            r
        };
        for op in self.ops() {
            match op {
                Op::Thumb {
                    width,
                    height,
                    gravity,
                } => {
                    seg(f, format_args!("thumb/{width}/{height}"))?;
                    match gravity {
                        Gravity::Center => {}
                        Gravity::Focal { x, y } => seg(f, format_args!("g/fp/{x}/{y}"))?,
                        other => seg(f, format_args!("g/{}", other.name()))?,
                    }
                }
                Op::Fit { width, height } => seg(f, format_args!("fit/{width}/{height}"))?,
                Op::Pad { width, height } => seg(f, format_args!("pad/{width}/{height}"))?,
                Op::Blur { sigma } => seg(f, format_args!("blur/{sigma}"))?,
                Op::Sharpen { sigma } => seg(f, format_args!("sharpen/{sigma}"))?,
                Op::Rotate { quarter_turns } => {
                    seg(f, format_args!("rotate/{}", u32::from(*quarter_turns) * 90))?
                }
                Op::Flip { axis } => seg(
                    f,
                    format_args!(
                        "flip/{}",
                        match axis {
                            FlipAxis::Horizontal => "h",
                            FlipAxis::Vertical => "v",
                        }
                    ),
                )?,
            }
        }
        if self.has_background() {
            let [r, g, b] = self.background();
            seg(f, format_args!("bg/{r:02x}{g:02x}{b:02x}"))?;
        }
        if self.dpr() != 1 {
            seg(f, format_args!("dpr/{}", self.dpr()))?;
        }
        if let Some(q) = self.quality() {
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
        let mut saw_bg = false;
        while let Some(name) = segments.next() {
            let mut arg = |what: &str| {
                segments
                    .next()
                    .ok_or_else(|| EngineError::invalid(format!("{name}/ needs {what}")))
            };
            let modifiers_started = saw_bg || saw_dpr || pipeline.quality().is_some();
            match name {
                "thumb" | "fit" | "pad" | "blur" | "sharpen" | "rotate" | "flip"
                    if modifiers_started =>
                {
                    return Err(EngineError::invalid(format!(
                        "{name}/ must come before bg/, dpr/ and q/"
                    )));
                }
                "pad" => {
                    let width = parse_uint(arg("a width")?, "width", MAX_DIMENSION)?;
                    let height = parse_uint(arg("a height")?, "height", MAX_DIMENSION)?;
                    pipeline = pipeline.then(Op::Pad { width, height })?;
                }
                "bg" => {
                    if modifiers_started {
                        return Err(EngineError::invalid(
                            "bg/ may appear once, before dpr/ and q/",
                        ));
                    }
                    let rgb = parse_colour(arg("a colour")?)?;
                    if rgb == DEFAULT_BACKGROUND {
                        return Err(EngineError::invalid(
                            "bg/ffffff (white) is the default: leave it out",
                        ));
                    }
                    saw_bg = true;
                    pipeline = pipeline.with_background(rgb);
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
                    let sigma = parse_sigma(arg("a sigma")?, "blur")?;
                    pipeline = pipeline.then(Op::Blur { sigma })?;
                }
                "sharpen" => {
                    let sigma = parse_sigma(arg("a sigma")?, "sharpen")?;
                    pipeline = pipeline.then(Op::Sharpen { sigma })?;
                }
                "rotate" => {
                    let quarter_turns = match arg("an angle")? {
                        "90" => 1,
                        "180" => 2,
                        "270" => 3,
                        _ => {
                            return Err(EngineError::invalid(
                                "rotate/ takes 90, 180 or 270 (clockwise)",
                            ))
                        }
                    };
                    pipeline = pipeline.then(Op::Rotate { quarter_turns })?;
                }
                "flip" => {
                    let axis = match arg("an axis")? {
                        "h" => FlipAxis::Horizontal,
                        "v" => FlipAxis::Vertical,
                        _ => return Err(EngineError::invalid("flip/ takes h or v")),
                    };
                    pipeline = pipeline.then(Op::Flip { axis })?;
                }
                "g" => {
                    let gravity = match arg("a gravity")? {
                        "fp" => {
                            let x = parse_uint(arg("a focal x")?, "focal x (percent)", 100)?;
                            let y = parse_uint(arg("a focal y")?, "focal y (percent)", 100)?;
                            Gravity::Focal {
                                x: x as u8,
                                y: y as u8,
                            }
                        }
                        name => name.parse()?,
                    };
                    if gravity == Gravity::Center {
                        return Err(EngineError::invalid(
                            "g/center is the default: leave it out",
                        ));
                    }
                    match pipeline.last_op_mut() {
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
                    if saw_dpr || pipeline.quality().is_some() {
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
                    if pipeline.quality().is_some() {
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
                        "unknown operation {:?}; expected thumb, fit, pad, blur, sharpen, \
                         rotate, flip, g, bg, dpr or q",
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

/// Six lowercase hex digits: `rrggbb`.
fn parse_colour(text: &str) -> Result<[u8; 3], EngineError> {
    let bad = || {
        EngineError::invalid(format!(
            "bg/ takes a colour as six lowercase hex digits (rrggbb, e.g. 1a2b3c), got {:?}",
            truncate(text)
        ))
    };
    if text.len() != 6 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(bad());
    }
    let byte = |i: usize| u8::from_str_radix(&text[i..i + 2], 16).map_err(|_| bad());
    Ok([byte(0)?, byte(2)?, byte(4)?])
}

fn parse_sigma(text: &str, op: &str) -> Result<Sigma, EngineError> {
    let bad = || {
        EngineError::invalid(format!(
            "{op} sigma must be a number from 0.3 to {} with at most one decimal and no \
             redundant zeros (e.g. 12 or 0.5), got {:?}",
            if op == "sharpen" { 10 } else { 100 },
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
            "rotate/90",
            "rotate/270/flip/h",
            "thumb/400/300/sharpen/1.5/q/80",
            "thumb/400/300/g/fp/30/70",
            "thumb/1/1/g/fp/0/100/dpr/2",
            "sharpen/10",
            "sharpen/0.3",
            "thumb/400/300/rotate/180/flip/v/dpr/2/q/80",
            "pad/400/300",
            "pad/400/300/bg/000000",
            "thumb/400/300/bg/1a2b3c/dpr/2/q/80",
            "fit/100/100/pad/200/100/bg/ff0000",
            "bg/00ff7f",
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
        assert_eq!(
            scaled[1],
            Op::Blur {
                sigma: Sigma::from_tenths(250).unwrap()
            }
        );
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
            "g/fp/30/70",
            "thumb/1/1/g/fp/101/0",
            "thumb/1/1/g/fp/05/5",
            "thumb/1/1/g/fp/5",
            "fit/1/1/g/fp/1/1",
            "thumb/1/1/g/fp/1/1/g/north",
            "sharpen/10.5",
            "sharpen/11",
            "sharpen/0.2",
            "sharpen/1.0",
            "sharpen",
            "rotate/0",
            "rotate/45",
            "rotate/360",
            "rotate/-90",
            "rotate/090",
            "flip/x",
            "flip/H",
            "flip",
            "q/80/rotate/90",
            "pad/0/300",
            "pad/300/0",
            "pad/300",
            "pad/16385/1",
            "bg/ffffff",
            "bg/FFFFFF",
            "bg/fff",
            "bg/#00000",
            "bg/0000000",
            "bg/gg0000",
            "bg/000000/bg/000001",
            "dpr/2/bg/000000",
            "q/80/bg/000000",
            "bg/000000/pad/10/10",
            "thumb/1/1/bg/000000/g/north",
            "bg",
            "rotate/90/g/north",
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
