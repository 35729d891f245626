//! Fuzzes the whole public surface of `origami-engine`: `probe`, `check_limits`, `transform`,
//! `thumbhash`, `render_thumbhash` and the `Pipeline` text grammar.
//!
//! Input layout: the first [`PARAM_BYTES`] bytes are decoded with `arbitrary` into [`Params`]
//! (pipeline, output format, limits); everything after them is the image. Keeping the image at a
//! fixed offset means a seed made of `PARAM_BYTES` bytes of anything followed by a real image
//! file stays a real image whatever the mutator does to the parameters (see README: Fuzzing).
//!
//! The engine promises that no input makes it panic, so any panic here is a bug; the asserts
//! below are invariants a correct engine cannot break.

#![no_main]

use std::str::FromStr;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use origami_engine::{
    check_limits, probe, render_thumbhash, thumbhash, transform, EngineError, FlipAxis, Gravity,
    ImageFormat, Limits, Op, Pipeline, Sigma, MAX_DIMENSION, MAX_OPS,
};

/// Bytes at the start of every input reserved for parameters; the image is the rest.
const PARAM_BYTES: usize = 128;

const GRAVITIES: [Gravity; 13] = [
    Gravity::Center,
    Gravity::North,
    Gravity::NorthEast,
    Gravity::East,
    Gravity::SouthEast,
    Gravity::South,
    Gravity::SouthWest,
    Gravity::West,
    Gravity::NorthWest,
    Gravity::Smart,
    Gravity::Focal { x: 0, y: 100 },
    Gravity::Focal { x: 33, y: 67 },
    // Past 100 %: `then` must refuse it.
    Gravity::Focal { x: 101, y: 50 },
];

/// A width or height, biased towards the interesting values.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Dim {
    Zero,
    Small(u8),
    Medium(u16),
    Huge(u32),
    /// One of the boundary values around the limits and the grammar's maximum.
    Edge(u8),
}

impl Dim {
    fn value(self, max_side: u32) -> u32 {
        match self {
            Dim::Zero => 0,
            Dim::Small(v) => u32::from(v),
            Dim::Medium(v) => u32::from(v),
            Dim::Huge(v) => v,
            Dim::Edge(i) => [
                1,
                max_side,
                max_side + 1,
                max_side / 2,
                max_side / 4 + 1,
                MAX_DIMENSION,
                MAX_DIMENSION + 1,
                u32::MAX,
            ][usize::from(i) % 8],
        }
    }
}

#[derive(Arbitrary, Debug)]
enum OpSpec {
    Thumb {
        width: Dim,
        height: Dim,
        gravity: u8,
    },
    Fit {
        width: Dim,
        height: Dim,
    },
    Blur {
        tenths: u16,
    },
    Sharpen {
        tenths: u16,
    },
    Rotate {
        quarter_turns: u8,
    },
    Flip {
        vertical: bool,
    },
    Pad {
        width: Dim,
        height: Dim,
    },
}

/// One `/`-separated segment of a pipeline string.
#[derive(Arbitrary, Debug)]
enum Token {
    Word(u8),
    Number(u16),
    BigNumber(u32),
    Decimal(u8, u8),
    Raw(String),
}

const WORDS: [&str; 38] = [
    "thumb",
    "fit",
    "pad",
    "bg",
    "000000",
    "ffffff",
    "1a2B3c",
    "blur",
    "sharpen",
    "fp",
    "rotate",
    "flip",
    "90",
    "180",
    "270",
    "h",
    "v",
    "g",
    "dpr",
    "q",
    "center",
    "north",
    "northeast",
    "east",
    "southeast",
    "south",
    "southwest",
    "west",
    "northwest",
    "smart",
    "",
    "0",
    "00",
    "1.0",
    "0.5",
    "100.5",
    "16384",
    "16385",
];

impl Token {
    fn text(&self) -> String {
        match self {
            Token::Word(i) => WORDS[usize::from(*i) % WORDS.len()].to_owned(),
            Token::Number(n) => n.to_string(),
            Token::BigNumber(n) => n.to_string(),
            Token::Decimal(a, b) => format!("{a}.{b}"),
            Token::Raw(s) => s.clone(),
        }
    }
}

/// The string fed to `Pipeline::from_str`.
#[derive(Arbitrary, Debug)]
enum PipelineText {
    Raw(String),
    Tokens(Vec<Token>),
}

impl PipelineText {
    fn text(&self) -> String {
        match self {
            PipelineText::Raw(s) => s.clone(),
            PipelineText::Tokens(tokens) => tokens
                .iter()
                .take(24)
                .map(Token::text)
                .collect::<Vec<_>>()
                .join("/"),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Params {
    format: u8,
    /// Start from `Pipeline::default()` rather than `Pipeline::new()`.
    start_from_default: bool,
    ops: Vec<OpSpec>,
    background: Option<[u8; 3]>,
    dpr: u8,
    quality: Option<u8>,
    /// Transform with the pipeline parsed from `text` (when it parses) instead of the built one.
    use_text: bool,
    text: PipelineText,
    max_source_kpixels: u16,
    max_output_side: u16,
    max_avif_pixels: u16,
    max_input_bytes: Option<u32>,
    max_jpeg_scans: u8,
    /// Animations: at most 64 frames, and 4 MP over all of them.
    max_frames: u8,
    avif_speed: u8,
    /// Length of the image prefix handed to `render_thumbhash` as a hash.
    hash_len: u8,
}

/// The fuzzer's input: parameters plus raw image bytes.
#[derive(Debug)]
struct Input<'a> {
    params: Params,
    image: &'a [u8],
}

impl<'a> Input<'a> {
    fn parse(data: &'a [u8]) -> Option<Self> {
        let (head, image) = data.split_at(data.len().min(PARAM_BYTES));
        let params = Params::arbitrary(&mut Unstructured::new(head)).ok()?;
        Some(Input { params, image })
    }
}

/// Small limits so that every iteration stays fast (at most 4 MP decoded, in one image or over
/// all of an animation's frames, 1024 px out).
fn limits(p: &Params) -> Limits {
    let mut limits = Limits::default();
    limits.max_source_pixels = 1 + u64::from(p.max_source_kpixels % 4000) * 1000;
    limits.max_output_side = 1 + u32::from(p.max_output_side % 1024);
    limits.avif_speed = p.avif_speed % 12;
    // Slow AVIF speeds only on tiny outputs.
    let avif_cap = if limits.avif_speed < 6 { 1024 } else { 16384 };
    limits.max_avif_pixels = u64::from(p.max_avif_pixels) % (avif_cap + 1);
    if let Some(n) = p.max_input_bytes {
        limits.max_input_bytes = n as usize % (4 << 20);
    }
    limits.max_jpeg_scans = 1 + u32::from(p.max_jpeg_scans % 64);
    limits.max_frames = 1 + u32::from(p.max_frames % 64);
    limits.max_animation_pixels = 4_000_000;
    limits
}

/// Checks that `text` is canonical: it parses back to `pipeline` and prints identically.
fn assert_round_trips(pipeline: &Pipeline) {
    let text = pipeline.to_string();
    let reparsed = Pipeline::from_str(&text)
        .unwrap_or_else(|e| panic!("Display output {text:?} of {pipeline:?} does not parse: {e}"));
    assert_eq!(
        &reparsed, pipeline,
        "{text:?} parses to a different pipeline"
    );
    assert_eq!(reparsed.to_string(), text);
}

fn build_pipeline(p: &Params, max_side: u32) -> Pipeline {
    let mut pipeline = if p.start_from_default {
        Pipeline::default()
    } else {
        Pipeline::new()
    };
    for spec in p.ops.iter().take(MAX_OPS + 2) {
        let op = match *spec {
            OpSpec::Thumb {
                width,
                height,
                gravity,
            } => Op::Thumb {
                width: width.value(max_side),
                height: height.value(max_side),
                gravity: GRAVITIES[usize::from(gravity) % GRAVITIES.len()],
            },
            OpSpec::Fit { width, height } => Op::Fit {
                width: width.value(max_side),
                height: height.value(max_side),
            },
            OpSpec::Blur { tenths } => match Sigma::from_tenths(tenths % 1200) {
                Ok(sigma) => Op::Blur { sigma },
                Err(e) => {
                    assert!(matches!(e, EngineError::InvalidParams(_)));
                    continue;
                }
            },
            // Past 10 (100 tenths) is invalid on purpose: `then` must refuse it.
            OpSpec::Sharpen { tenths } => match Sigma::from_tenths(tenths % 150) {
                Ok(sigma) => Op::Sharpen { sigma },
                Err(e) => {
                    assert!(matches!(e, EngineError::InvalidParams(_)));
                    continue;
                }
            },
            // 0 and 4 are invalid on purpose: `then` must refuse them.
            OpSpec::Rotate { quarter_turns } => Op::Rotate {
                quarter_turns: quarter_turns % 5,
            },
            OpSpec::Flip { vertical } => Op::Flip {
                axis: if vertical {
                    FlipAxis::Vertical
                } else {
                    FlipAxis::Horizontal
                },
            },
            // A 0 side is invalid on purpose: `then` must refuse it.
            OpSpec::Pad { width, height } => Op::Pad {
                width: width.value(max_side),
                height: height.value(max_side),
            },
        };
        match pipeline.clone().then(op) {
            Ok(next) => pipeline = next,
            Err(e) => assert!(matches!(e, EngineError::InvalidParams(_)), "{e:?}"),
        }
    }
    if let Some(rgb) = p.background {
        pipeline = pipeline.with_background(rgb);
    }
    if let Ok(next) = pipeline.clone().with_dpr(p.dpr % 6) {
        pipeline = next;
    }
    if let Some(q) = p.quality {
        if let Ok(next) = pipeline.clone().with_quality(q) {
            pipeline = next;
        }
    }
    pipeline
}

/// Errors that can only come from an engine bug (its own geometry or buffers), never from the
/// input: resize and encode errors (`EngineError::Internal`) happen after a successful decode,
/// on sizes the engine computed.
fn assert_not_internal(e: &EngineError) {
    assert!(
        !matches!(e, EngineError::Internal(_)),
        "internal error: {e}"
    );
    let msg = e.to_string();
    for marker in ["resize failed", "internal buffer error", "pixel buffer of"] {
        assert!(!msg.contains(marker), "internal error: {msg}");
    }
}

/// The exact output size the pipeline promises, when its last operation pins it down.
fn expected_size(pipeline: &Pipeline, max_side: u32) -> Option<(u32, u32)> {
    match pipeline.scaled_ops().last()? {
        Op::Thumb { width, height, .. }
            if width > 0 && height > 0 && width <= max_side && height <= max_side =>
        {
            Some((width, height))
        }
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(Input { params, image }) = Input::parse(data) else {
        return;
    };
    let limits = limits(&params);
    let max_side = limits.max_output_side;
    let format = ImageFormat::ALL[usize::from(params.format) % ImageFormat::ALL.len()];

    // The grammar: whatever parses is canonical and round-trips.
    let text = params.text.text();
    let parsed = match Pipeline::from_str(&text) {
        Ok(p) => {
            assert_eq!(
                p.to_string(),
                text,
                "accepted pipeline text is not canonical"
            );
            assert_round_trips(&p);
            Some(p)
        }
        Err(e) => {
            assert!(matches!(e, EngineError::InvalidParams(_)), "{e:?}");
            None
        }
    };
    let built = build_pipeline(&params, max_side);
    assert_round_trips(&built);
    let pipeline = match parsed {
        Some(p) if params.use_text => p,
        _ => built,
    };

    // Header-only paths.
    let probed = probe(image);
    let checked = check_limits(image, &limits);
    match (&probed, &checked) {
        (Ok(info), Ok(checked)) => assert_eq!(info, checked),
        (Err(e), Err(c)) => assert_eq!(e, c),
        (Err(e), Ok(_)) => panic!("check_limits accepted what probe rejects: {e}"),
        (Ok(_), Err(_)) => {}
    }

    // The full transform.
    let expected = expected_size(&pipeline, max_side);
    let transformed = transform(image, &pipeline, format, &limits);
    if let Err(e) = &transformed {
        assert_not_internal(e);
    }
    if let Ok(out) = transformed {
        assert!(
            checked.is_ok(),
            "transform accepted what check_limits rejects"
        );
        assert!(!out.bytes.is_empty(), "empty output");
        assert_eq!(out.format, format);
        assert!(
            (1..=max_side).contains(&out.width) && (1..=max_side).contains(&out.height),
            "output {}x{} exceeds max_output_side {max_side}",
            out.width,
            out.height
        );
        if let Some(size) = expected {
            assert_eq!((out.width, out.height), size, "thumb size not honoured");
        }
        if format == ImageFormat::Avif {
            assert!(u64::from(out.width) * u64::from(out.height) <= limits.max_avif_pixels);
        }
        let info = probe(&out.bytes).expect("engine output must probe");
        assert_eq!(
            (info.format, info.width, info.height),
            (format, out.width, out.height),
            "output header disagrees with the reported size"
        );
    }

    // ThumbHash of the image, then drawing it back.
    let hashed = thumbhash(image, &limits);
    if let Err(e) = &hashed {
        assert_not_internal(e);
    }
    if let Ok(th) = hashed {
        let info = probed
            .as_ref()
            .expect("thumbhash accepted what probe rejects");
        assert_eq!((th.width, th.height), info.oriented_dimensions());
        let png = render_thumbhash(&th.hash).expect("a hash the engine made must render");
        let drawn = probe(&png).expect("rendered ThumbHash must probe");
        assert!(drawn.format == ImageFormat::Png && drawn.width <= 32 && drawn.height <= 32);
    }

    // Rendering arbitrary bytes as a ThumbHash.
    let hash = &image[..image.len().min(usize::from(params.hash_len % 48))];
    if let Ok(png) = render_thumbhash(hash) {
        let drawn = probe(&png).expect("rendered ThumbHash must probe");
        assert!(drawn.format == ImageFormat::Png && drawn.width <= 32 && drawn.height <= 32);
    }
});
