//! The engine against every committed fixture: probe facts, decoded pixels, error classes.

#![allow(clippy::unwrap_used, clippy::needless_range_loop)]

mod common;

use common::*;
use origami_engine::{
    check_limits, decode, probe, transform, Channels, EngineError, ImageFormat, Limits, Pipeline,
};

fn pipeline(s: &str) -> Pipeline {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn probe_matches_the_manifest_for_every_readable_fixture() {
    for e in manifest() {
        let name = e["file"].as_str().unwrap();
        let bytes = fixture(name);
        let Some(width) = e["width"].as_u64() else {
            // No readable header: probe must fail with the manifest's class.
            let err = probe(&bytes).expect_err(name);
            assert_eq!(class(&err), e["error"].as_str().unwrap(), "{name}: {err}");
            continue;
        };
        let info = probe(&bytes).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(
            info.format.to_string(),
            e["format"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(u64::from(info.width), width, "{name} width");
        assert_eq!(
            u64::from(info.height),
            e["height"].as_u64().unwrap(),
            "{name} height"
        );
        assert_eq!(
            u64::from(info.orientation),
            e["orientation"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            info.has_alpha,
            e["has_alpha"].as_bool().unwrap(),
            "{name} alpha"
        );
    }
}

#[test]
fn every_bad_fixture_gives_its_error_class_and_every_good_one_transforms() {
    let limits = Limits::default();
    for e in manifest() {
        let name = e["file"].as_str().unwrap();
        let bytes = fixture(name);
        let result = transform(&bytes, &pipeline("thumb/32/32"), ImageFormat::Png, &limits);
        match e["error"].as_str() {
            Some(expected) => {
                let err = result.expect_err(name);
                assert_eq!(class(&err), expected, "{name}: {err}");
                assert!(err.to_string().len() < 200, "{name}: long message {err}");
            }
            None => {
                let out = result.unwrap_or_else(|err| panic!("{name}: {err}"));
                assert_eq!((out.width, out.height), (32, 32), "{name}");
                let decoded = decode(&out.bytes, &limits).unwrap();
                assert_eq!((decoded.width(), decoded.height()), (32, 32), "{name}");
            }
        }
    }
}

#[test]
fn bombs_are_rejected_from_the_header() {
    for name in ["bomb.png", "bomb.jpg", "bomb.gif", "bomb.webp"] {
        let err = check_limits(&fixture(name), &Limits::default()).expect_err(name);
        assert!(matches!(err, EngineError::TooLarge(_)), "{name}: {err}");
        assert!(err.to_string().contains("MP"), "{name}: {err}");
    }
}

#[test]
fn all_eight_exif_orientations_come_out_upright() {
    let names: Vec<String> = (1..=8)
        .map(|n| format!("orient-{n}.jpg"))
        .chain(["orient-6.png".to_string()])
        .collect();
    for name in names {
        let e = entry(&name);
        let upright = decode(&fixture(&name), &Limits::default()).unwrap();
        let size = xy(&e["expected"]["upright_size"]);
        assert_eq!((upright.width(), upright.height()), size, "{name}");
        for (corner, sample) in e["expected"]["upright_samples"].as_object().unwrap() {
            let (x, y) = xy(&sample["xy"]);
            let want = u8s(&sample["rgb"]);
            assert_close(
                &upright.pixel(x, y)[..3],
                &want,
                8,
                &format!("{name} {corner}"),
            );
        }
    }
}

#[test]
fn orientation_is_applied_before_geometry() {
    // orient-6 is stored 40x60 but displays 60x40: a 30x20 fit keeps the landscape shape.
    let out = transform(
        &fixture("orient-6.jpg"),
        &pipeline("fit/30/30"),
        ImageFormat::Png,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!((out.width, out.height), (30, 20));
    let b = decode(&out.bytes, &Limits::default()).unwrap();
    assert_close(&b.pixel(7, 5)[..3], &[255, 0, 0], 40, "top-left stays red");
    assert_close(
        &b.pixel(22, 15)[..3],
        &[255, 255, 255],
        40,
        "bottom-right stays white",
    );
}

#[test]
fn cmyk_jpeg_converts_to_the_reference_rgb() {
    let e = entry("cmyk.jpg");
    let b = decode(&fixture("cmyk.jpg"), &Limits::default()).unwrap();
    assert_eq!(b.channels(), Channels::Rgb);
    let tol = e["expected"]["tolerance"].as_u64().unwrap() as u8;
    for stripe in e["expected"]["stripes"].as_array().unwrap() {
        let (x, y) = xy(&stripe["sample_xy"]);
        assert_close(
            &b.pixel(x, y)[..3],
            &u8s(&stripe["rgb"]),
            tol,
            "cmyk stripe",
        );
    }
}

#[test]
fn icc_tagged_images_are_converted_to_srgb() {
    for name in ["icc-displayp3.jpg", "icc-displayp3.png"] {
        let e = entry(name);
        let b = decode(&fixture(name), &Limits::default()).unwrap();
        let tol = e["expected"]["tolerance"].as_u64().unwrap() as u8;
        for patch in e["expected"]["patches"].as_array().unwrap() {
            let (x, y) = xy(&patch["sample_xy"]);
            let what = format!("{name} {}", patch["name"]);
            assert_close(&b.pixel(x, y)[..3], &u8s(&patch["srgb"]), tol, &what);
        }
        // And the discriminating patch really moved away from the stored value.
        let stored = [64u8, 160, 64];
        let got = b.pixel(48, 16);
        assert!(
            got[0].abs_diff(stored[0]) > 30,
            "{name}: profile ignored? {got:?}"
        );
    }
}

#[test]
fn alpha_survives_decode_resize_and_encode() {
    for name in [
        "alpha.png",
        "alpha-lossless.webp",
        "alpha-lossy.webp",
        "palette-trns.png",
    ] {
        let e = entry(name);
        let b = decode(&fixture(name), &Limits::default()).unwrap();
        assert_eq!(b.channels(), Channels::Rgba, "{name}");
        let (tx, ty) = xy(&e["expected"]["transparent_xy"]);
        assert_eq!(b.pixel(tx, ty)[3], 0, "{name} transparent pixel");
        let (ox, oy) = xy(&e["expected"]["opaque_xy"]);
        assert_eq!(b.pixel(ox, oy)[3], 255, "{name} opaque pixel");
    }
    let limits = Limits::default();
    for format in [
        ImageFormat::Png,
        ImageFormat::WebP,
        ImageFormat::Avif,
        ImageFormat::Gif,
    ] {
        let out = transform(
            &fixture("alpha.png"),
            &pipeline("fit/32/32"),
            format,
            &limits,
        )
        .unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!((out.width, out.height), (32, 32));
        if format == ImageFormat::Avif {
            continue; // No AVIF decoder to read it back; size checked above.
        }
        let b = decode(&out.bytes, &limits).unwrap();
        assert_eq!(b.pixel(0, 0)[3], 0, "{format}: corner stays transparent");
        let centre = b.pixel(16, 16);
        assert_eq!(centre[3], 255, "{format}: centre stays opaque");
        assert_close(
            &centre[..3],
            &[255, 0, 0],
            24,
            &format!("{format} centre colour"),
        );
    }
}

#[test]
fn premultiplied_resize_leaves_no_dark_fringe() {
    // The disc edge is red at partial alpha over transparent black: a non-premultiplied
    // resize would blend in the black and darken the edge pixels.
    let out = transform(
        &fixture("alpha.png"),
        &pipeline("fit/16/16"),
        ImageFormat::Png,
        &Limits::default(),
    )
    .unwrap();
    let b = decode(&out.bytes, &Limits::default()).unwrap();
    for y in 0..16 {
        for x in 0..16 {
            let p = b.pixel(x, y);
            if p[3] >= 16 {
                assert!(p[0] >= 230, "dark fringe at ({x},{y}): {p:?}");
            }
        }
    }
}

#[test]
fn jpeg_output_flattens_transparency_onto_white() {
    let out = transform(
        &fixture("alpha.png"),
        &pipeline("fit/32/32"),
        ImageFormat::Jpeg,
        &Limits::default(),
    )
    .unwrap();
    let b = decode(&out.bytes, &Limits::default()).unwrap();
    assert_eq!(b.channels(), Channels::Rgb);
    assert_close(&b.pixel(0, 0)[..3], &[255, 255, 255], 8, "corner is white");
    assert_close(&b.pixel(16, 16)[..3], &[255, 0, 0], 24, "centre is red");
}

#[test]
fn sixteen_bit_png_is_reduced_to_eight_bits() {
    let e = entry("rgb16.png");
    let b = decode(&fixture("rgb16.png"), &Limits::default()).unwrap();
    for (key, value) in e["expected"]["samples_16"].as_object().unwrap() {
        let (x, y) = key.split_once(',').unwrap();
        let want: Vec<u8> = value
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (v.as_u64().unwrap() >> 8) as u8)
            .collect();
        let p = b.pixel(x.parse().unwrap(), y.parse().unwrap());
        assert_close(&p[..3], &want, 1, &format!("rgb16 at {key}"));
    }
    let g = decode(&fixture("gray16.png"), &Limits::default()).unwrap();
    let p = g.pixel(63, 63);
    assert_close(&p[..3], &[251, 251, 251], 1, "gray16 at 63,63");
}

#[test]
fn gif_uses_the_first_frame() {
    let b = decode(&fixture("animated.gif"), &Limits::default()).unwrap();
    assert_eq!((b.width(), b.height()), (48, 32));
    assert_close(
        &b.pixel(24, 16)[..3],
        &[0, 0, 255],
        0,
        "first frame is blue",
    );
}

#[test]
fn tiny_and_grayscale_inputs_work() {
    let b = decode(&fixture("tiny.png"), &Limits::default()).unwrap();
    assert_close(&b.pixel(0, 0)[..3], &[0, 128, 255], 0, "tiny");
    let out = transform(
        &fixture("tiny.png"),
        &pipeline("thumb/3/2"),
        ImageFormat::Jpeg,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!((out.width, out.height), (3, 2));
    let g = decode(&fixture("grayscale.jpg"), &Limits::default()).unwrap();
    let p = g.pixel(100, 100);
    assert!(p[0] == p[1] && p[1] == p[2], "grey stays grey: {p:?}");
}

/// `bytes` with `junk` inserted before the first marker `0xFF marker` after the SOI.
fn with_junk_before(bytes: &[u8], marker: u8, junk: &[u8]) -> Vec<u8> {
    let at = bytes
        .windows(2)
        .skip(2)
        .position(|w| w == [0xFF, marker])
        .map(|p| p + 2)
        .unwrap_or_else(|| panic!("no marker 0x{marker:02X}"));
    [&bytes[..at], junk, &bytes[at..]].concat()
}

#[test]
fn jpegs_with_benign_warnings_decode_like_browsers_and_damaged_ones_do_not() {
    let limits = Limits::default();
    let clean = fixture("baseline.jpg");
    let expected = decode(&clean, &limits).unwrap();
    // "Corrupt JPEG data: 3 extraneous bytes before marker 0xda / 0xdb": stray bytes between
    // segments, which libjpeg skips with a warning (cameras and editors write them).
    for marker in [0xDA, 0xDB] {
        let stray = with_junk_before(&clean, marker, &[0x00, 0x11, 0x22]);
        let decoded = decode(&stray, &limits).unwrap_or_else(|e| panic!("0x{marker:02X}: {e}"));
        assert_eq!(decoded.data(), expected.data(), "0x{marker:02X}");
        let out = transform(&stray, &pipeline("thumb/32/32"), ImageFormat::Png, &limits);
        assert!(out.is_ok(), "0x{marker:02X}: {out:?}");
    }
    // Cut inside the entropy-coded data: pixels are missing, which stays an error.
    let cut = &clean[..clean.len() * 2 / 3];
    let err = decode(cut, &limits).expect_err("a truncated JPEG");
    assert!(matches!(err, EngineError::Corrupt(_)), "{err}");
}

#[test]
fn rotate_and_flip_move_every_corner_where_it_belongs() {
    let name = "orient-1.jpg";
    let e = entry(name);
    let (w, h) = xy(&e["expected"]["upright_size"]);
    // Where the upright pixel (x, y) lands, and the output size, for each operation.
    type Moved = fn(u32, u32, u32, u32) -> (u32, u32);
    let cases: [(&str, (u32, u32), Moved); 5] = [
        ("rotate/90", (h, w), |x, y, _w, h| (h - 1 - y, x)),
        ("rotate/180", (w, h), |x, y, w, h| (w - 1 - x, h - 1 - y)),
        ("rotate/270", (h, w), |x, y, w, _h| (y, w - 1 - x)),
        ("flip/h", (w, h), |x, y, w, _h| (w - 1 - x, y)),
        ("flip/v", (w, h), |x, y, _w, h| (x, h - 1 - y)),
    ];
    for (ops, size, moved) in cases {
        let out = transform(
            &fixture(name),
            &pipeline(ops),
            ImageFormat::Png,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!((out.width, out.height), size, "{ops}");
        let b = decode(&out.bytes, &Limits::default()).unwrap();
        for (corner, sample) in e["expected"]["upright_samples"].as_object().unwrap() {
            let (x, y) = xy(&sample["xy"]);
            let (mx, my) = moved(x, y, w, h);
            assert_close(
                &b.pixel(mx, my)[..3],
                &u8s(&sample["rgb"]),
                8,
                &format!("{ops} {corner}"),
            );
        }
    }
    // A turn before a resize: the resize sees the turned frame, and the decode still shrinks
    // on load as much as without the turn.
    let turned = pipeline("rotate/90/thumb/10/20");
    let out = transform(
        &fixture(name),
        &turned,
        ImageFormat::Png,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!((out.width, out.height), (10, 20));
    let limits = Limits::default();
    let photo = fixture("baseline.jpg");
    let decoded = |ops: &str| {
        origami_engine::plan(&photo, &pipeline(ops), &limits)
            .unwrap()
            .cost(ImageFormat::Jpeg)
            .decoded_pixels
    };
    assert_eq!(decoded("rotate/90/thumb/30/40"), decoded("thumb/40/30"));
    assert!(decoded("rotate/90/thumb/30/40") < decoded(""));
}

#[test]
fn a_focal_point_centres_the_crop_as_far_as_the_edges_allow() {
    // orient-1 is 60x40: red, green / blue, white quadrants. A 20x40 crop keeps a third of the
    // width; where it sits follows the focal point, clamped to the image.
    let crop = |gravity: &str| {
        let out = transform(
            &fixture("orient-1.jpg"),
            &pipeline(&format!("thumb/20/40{gravity}")),
            ImageFormat::Png,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!((out.width, out.height), (20, 40));
        out.bytes
    };
    let colours = |gravity: &str| {
        let b = decode(&crop(gravity), &Limits::default()).unwrap();
        (b.pixel(10, 10)[..3].to_vec(), b.pixel(10, 30)[..3].to_vec())
    };
    for (gravity, top, bottom) in [
        ("/g/fp/0/50", [255, 0, 0], [0, 0, 255]),
        ("/g/fp/10/50", [255, 0, 0], [0, 0, 255]),
        ("/g/fp/100/50", [0, 255, 0], [255, 255, 255]),
        ("/g/fp/90/0", [0, 255, 0], [255, 255, 255]),
    ] {
        let (t, b) = colours(gravity);
        assert_close(&t, &top, 8, &format!("{gravity} top"));
        assert_close(&b, &bottom, 8, &format!("{gravity} bottom"));
    }
    // The centre as a focal point is the default gravity, byte for byte.
    assert_eq!(crop("/g/fp/50/50"), crop(""));
}

#[test]
fn a_focal_point_past_the_edges_is_refused_when_built_too() {
    use origami_engine::{Gravity, Op};
    let focal = |x, y| {
        Pipeline::new().then(Op::Thumb {
            width: 10,
            height: 10,
            gravity: Gravity::Focal { x, y },
        })
    };
    assert!(focal(100, 0).is_ok());
    assert!(matches!(
        focal(101, 0),
        Err(origami_engine::EngineError::InvalidParams(_))
    ));
}
