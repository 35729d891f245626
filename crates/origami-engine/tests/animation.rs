//! Animated GIF and WebP sources: made into GIF or WebP they stay animated, every frame
//! composited (offsets and disposal applied), resized the same way, with its delay and the
//! loop count kept; made into other formats they give their first frame. Animations over the
//! frame limits are refused from their headers.
//!
//! `fixtures/inputs/animated.gif` (48x32, four frames, plays three times) is written by
//! `cargo run -p origami-engine --example make_input_fixtures`, which documents each frame;
//! `animated.webp` is the same animation converted by libwebp's `gif2webp`.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Cursor;

use common::fixture;
use image::{AnimationDecoder, RgbaImage};
use origami_engine::{
    check_limits, plan, probe, transform, EngineError, ImageFormat, Limits, Pipeline,
};

const SOURCES: [(&str, ImageFormat); 2] = [
    ("inputs/animated.gif", ImageFormat::Gif),
    ("inputs/animated.webp", ImageFormat::WebP),
];

/// An encoded animation's frames (composited by the `image` crate), their delays in ms, and
/// how many times it plays (0: forever).
fn frames_of(bytes: &[u8]) -> (Vec<RgbaImage>, Vec<u32>, u32) {
    let frames: Vec<image::Frame> = match ImageFormat::sniff(bytes) {
        Some(ImageFormat::Gif) => image::codecs::gif::GifDecoder::new(Cursor::new(bytes))
            .unwrap()
            .into_frames()
            .collect_frames()
            .unwrap(),
        Some(ImageFormat::WebP) => {
            let mut decoder = image::codecs::webp::WebPDecoder::new(Cursor::new(bytes)).unwrap();
            // Disposed areas become transparent, as in browsers.
            decoder
                .set_background_color(image::Rgba([0, 0, 0, 0]))
                .unwrap();
            decoder.into_frames().collect_frames().unwrap()
        }
        other => panic!("not an animation format: {other:?}"),
    };
    let delays = frames
        .iter()
        .map(|f| {
            let (n, d) = f.delay().numer_denom_ms();
            n / d
        })
        .collect();
    (
        frames.into_iter().map(image::Frame::into_buffer).collect(),
        delays,
        plays(bytes),
    )
}

/// How many times an encoded animation plays (0: forever), read from its container.
fn plays(bytes: &[u8]) -> u32 {
    match ImageFormat::sniff(bytes) {
        Some(ImageFormat::Gif) => {
            let mut options = gif::DecodeOptions::new();
            options.set_color_output(gif::ColorOutput::RGBA);
            let mut decoder = options.read_info(Cursor::new(bytes)).unwrap();
            while decoder.read_next_frame().unwrap().is_some() {}
            match decoder.repeat() {
                gif::Repeat::Infinite | gif::Repeat::Finite(0) => 0,
                gif::Repeat::Finite(n) => u32::from(n) + 1,
            }
        }
        _ => {
            let decoder = image_webp::WebPDecoder::new(Cursor::new(bytes)).unwrap();
            match decoder.loop_count() {
                image_webp::LoopCount::Forever => 0,
                image_webp::LoopCount::Times(n) => u32::from(n.get()),
            }
        }
    }
}

/// The colour at (`x`, `y`) of a frame made from the 48x32 animation at half size (24x16):
/// away from the squares' edges, where the resampling does not blend.
fn at(frame: &RgbaImage, x: u32, y: u32) -> [u8; 4] {
    frame.get_pixel(x, y).0
}

fn close(actual: [u8; 4], expected: [u8; 4]) -> bool {
    actual
        .iter()
        .zip(expected)
        .all(|(a, e)| a.abs_diff(e) <= 12)
}

#[test]
fn animated_sources_are_counted_from_their_headers() {
    for (name, format) in SOURCES {
        let info = probe(&fixture(name)).unwrap();
        assert_eq!(info.format, format, "{name}");
        assert_eq!(
            (info.width, info.height, info.frames),
            (48, 32, 4),
            "{name}"
        );
        assert!(info.is_animated(), "{name}");
    }
    assert_eq!(probe(&fixture("baseline.jpg")).unwrap().frames, 1);
}

#[test]
fn animations_stay_animated_in_gif_and_webp_with_their_timing_and_loops() {
    let limits = Limits::default();
    let pipeline: Pipeline = "fit/24/24".parse().unwrap();
    const RED: [u8; 4] = [255, 0, 0, 255];
    const GREEN: [u8; 4] = [0, 255, 0, 255];
    const BLUE: [u8; 4] = [0, 0, 255, 255];
    for (name, _) in SOURCES {
        for output in [ImageFormat::Gif, ImageFormat::WebP] {
            let context = format!("{name} as {output}");
            let made = transform(&fixture(name), &pipeline, output, &limits).unwrap();
            assert_eq!((made.width, made.height), (24, 16), "{context}");
            assert_eq!(ImageFormat::sniff(&made.bytes), Some(output), "{context}");
            let (frames, delays, plays) = frames_of(&made.bytes);
            assert_eq!(delays, [100, 200, 300, 400], "{context}");
            assert_eq!(plays, 3, "{context}");
            assert_eq!(frames.len(), 4, "{context}");
            for frame in &frames {
                assert_eq!(frame.dimensions(), (24, 16), "{context}");
            }
            // Frame 1: all red. Frame 2: the green square kept from frame 2 onwards.
            assert!(close(at(&frames[0], 4, 4), RED), "{context}");
            assert!(close(at(&frames[0], 20, 12), RED), "{context}");
            assert!(close(at(&frames[1], 4, 4), GREEN), "{context}");
            assert!(close(at(&frames[1], 20, 12), RED), "{context}");
            // Frame 3: the blue square at the bottom right; frame 4: cleared (transparent).
            assert!(close(at(&frames[2], 20, 12), BLUE), "{context}");
            assert!(close(at(&frames[2], 4, 4), GREEN), "{context}");
            assert_eq!(
                at(&frames[3], 20, 12)[3],
                0,
                "{context}: {:?}",
                at(&frames[3], 20, 12)
            );
            assert!(close(at(&frames[3], 4, 4), GREEN), "{context}");
            assert!(close(at(&frames[3], 12, 4), RED), "{context}");
            // The same bytes every time.
            let again = transform(&fixture(name), &pipeline, output, &limits).unwrap();
            assert_eq!(again.bytes, made.bytes, "{context}");
        }
    }
}

#[test]
fn a_smart_crop_is_chosen_once_for_every_frame() {
    // A cover crop of the 48x32 canvas to a square: the same window on each frame, so the
    // green square (top-left, kept from frame 2 on) stays where it is from frame to frame.
    // (GIF output: libwebp merges a frame that shows nothing new into the one before, which
    // such a crop can make of the first two.)
    let pipeline: Pipeline = "thumb/16/16/g/smart".parse().unwrap();
    for (name, _) in SOURCES {
        let made = transform(
            &fixture(name),
            &pipeline,
            ImageFormat::Gif,
            &Limits::default(),
        )
        .unwrap();
        let (frames, _, _) = frames_of(&made.bytes);
        assert_eq!(frames.len(), 4, "{name}");
        let green_columns = |frame: &RgbaImage| -> Vec<u32> {
            (0..16)
                .filter(|&x| frame.get_pixel(x, 2).0[1] > 200 && frame.get_pixel(x, 2).0[0] < 60)
                .collect()
        };
        let kept = green_columns(&frames[1]);
        for frame in &frames[2..] {
            assert_eq!(green_columns(frame), kept, "{name}");
        }
    }
}

#[test]
fn other_outputs_take_the_first_frame() {
    for (name, _) in SOURCES {
        for output in [ImageFormat::Png, ImageFormat::Jpeg] {
            let made = transform(
                &fixture(name),
                &"fit/24/24".parse().unwrap(),
                output,
                &Limits::default(),
            )
            .unwrap();
            assert_eq!(probe(&made.bytes).unwrap().frames, 1, "{name} as {output}");
            let still = origami_engine::decode(&made.bytes, &Limits::default())
                .unwrap()
                .into_rgba();
            assert_eq!(
                (still.width(), still.height()),
                (24, 16),
                "{name} as {output}"
            );
            // All red: the first frame.
            let pixel = &still.data()[4 * still.width() as usize * 4 + 4 * 4..][..4];
            assert!(
                close(pixel.try_into().unwrap(), [255, 0, 0, 255]),
                "{name} as {output}: {pixel:?}"
            );
        }
    }
}

#[test]
fn an_animation_costs_its_frames() {
    let bytes = fixture("inputs/animated.gif");
    let plan = plan(&bytes, &"fit/24/24".parse().unwrap(), &Limits::default()).unwrap();
    assert_eq!(plan.cost(ImageFormat::Gif).decoded_pixels, 4 * 48 * 32);
    assert_eq!(plan.cost(ImageFormat::Gif).encoded_pixels, 4 * 24 * 16);
    assert_eq!(plan.cost(ImageFormat::Png).decoded_pixels, 48 * 32);
}

/// A GIF of `frames` one-pixel frames on a `width` x `height` canvas.
fn gif_of(width: u16, height: u16, frames: usize) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder =
            gif::Encoder::new(&mut out, width, height, &[0, 0, 0, 255, 255, 255]).unwrap();
        for i in 0..frames {
            let frame = gif::Frame {
                width: 1,
                height: 1,
                buffer: vec![(i % 2) as u8].into(),
                ..gif::Frame::default()
            };
            encoder.write_frame(&frame).unwrap();
        }
    }
    out
}

#[test]
fn animation_bombs_are_refused_from_the_header() {
    let limits = Limits::default();
    // Too many frames: 300 one-pixel frames, a few kilobytes.
    let many = gif_of(8, 8, 300);
    assert_eq!(probe(&many).unwrap().frames, 300);
    let err = check_limits(&many, &limits).unwrap_err();
    assert!(matches!(err, EngineError::TooLarge(_)), "{err}");
    assert!(err.to_string().contains("max_frames"), "{err}");
    // Too many pixels in all: three frames of a 7000x7000 canvas (147 MP), under the still
    // image limit (50 MP) each.
    let wide = gif_of(7000, 7000, 3);
    let err = plan(&wide, &"fit/100/100".parse().unwrap(), &limits).unwrap_err();
    assert!(matches!(err, EngineError::TooLarge(_)), "{err}");
    assert!(err.to_string().contains("max_animation_pixels"), "{err}");
    // Within the limits, the same kinds of file are made, in both formats (their frames show
    // for 0 ms, which libwebp's animation encoder accepts).
    let fine = gif_of(8, 8, 10);
    let small: Pipeline = "fit/4/4".parse().unwrap();
    let made = transform(&fine, &small, ImageFormat::Gif, &limits).unwrap();
    assert_eq!(frames_of(&made.bytes).0.len(), 10);
    let made = transform(&fine, &small, ImageFormat::WebP, &limits).unwrap();
    assert!(probe(&made.bytes).unwrap().is_animated());
}

#[test]
fn a_truncated_animation_keeps_the_frames_that_arrived() {
    let bytes = fixture("inputs/animated.gif");
    let limits = Limits::default();
    let pipeline: Pipeline = "fit/24/24".parse().unwrap();
    // Cut inside the last frame: the first three are made.
    let cut = &bytes[..bytes.len() - 6];
    let made = transform(cut, &pipeline, ImageFormat::Gif, &limits).unwrap();
    let frames = frames_of(&made.bytes).0.len();
    assert!((3..=4).contains(&frames), "{frames} frames");
    // Cut inside the first frame: nothing to show, a client error.
    let err = transform(&bytes[..60], &pipeline, ImageFormat::Gif, &limits).unwrap_err();
    assert!(!matches!(err, EngineError::Internal(_)), "{err}");
}
