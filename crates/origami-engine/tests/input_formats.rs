//! The formats added as inputs (HEIC, AVIF, JPEG XL, SVG, TIFF, BMP, ICO, QOI): probed from their headers,
//! decoded upright with the right colours, refused as outputs (AVIF is an output too), and
//! damaged or hostile files refused with a 4xx-class error. The fixtures (`fixtures/inputs/`):
//! TIFF, BMP, ICO and QOI are written by
//! `cargo run -p origami-engine --example make_input_fixtures`; the HEIC and AVIF files by
//! libheif's `heif-enc` (x265 and aom; `-b 10` for 10 bits) and by Origami's own AVIF encoder
//! (`quadrants-ravif.avif`), the JPEG XL files by libjxl's `cjxl`, from the same picture (see
//! fixtures/README.md); the SVGs are hand-written text.

#![allow(clippy::unwrap_used)]

mod common;

use common::fixture;
use origami_engine::{
    check_limits, decode, probe, transform, EngineError, ImageFormat, Limits, Pipeline,
};

/// (file, format, has alpha): each shows the 64x48 quadrant picture upright.
const INPUTS: [(&str, ImageFormat, bool); 19] = [
    ("inputs/quadrants.cur", ImageFormat::Ico, true),
    ("inputs/quadrants.svg", ImageFormat::Svg, true),
    ("inputs/quadrants.jxl", ImageFormat::Jxl, false),
    ("inputs/quadrants-alpha.jxl", ImageFormat::Jxl, true),
    ("inputs/quadrants-16bit-lossy.jxl", ImageFormat::Jxl, false),
    ("inputs/quadrants.heic", ImageFormat::Heic, false),
    ("inputs/quadrants-alpha.heic", ImageFormat::Heic, true),
    ("inputs/quadrants-10bit.heic", ImageFormat::Heic, false),
    ("inputs/quadrants-alpha.avif", ImageFormat::Avif, true),
    ("inputs/quadrants-ravif.avif", ImageFormat::Avif, true),
    ("inputs/quadrants-lzw.tiff", ImageFormat::Tiff, false),
    ("inputs/quadrants-cmyk-lzw.tiff", ImageFormat::Tiff, false),
    (
        "inputs/quadrants-rgba16-deflate.tiff",
        ImageFormat::Tiff,
        true,
    ),
    (
        "inputs/quadrants-grey-packbits.tiff",
        ImageFormat::Tiff,
        false,
    ),
    ("inputs/quadrants-orient-6.tiff", ImageFormat::Tiff, false),
    ("inputs/quadrants.bmp", ImageFormat::Bmp, false),
    ("inputs/quadrants-rgba.bmp", ImageFormat::Bmp, true),
    ("inputs/quadrants.ico", ImageFormat::Ico, true),
    ("inputs/quadrants.qoi", ImageFormat::Qoi, true),
];

#[test]
fn every_input_format_is_probed_and_decoded_upright_with_its_colours() {
    let limits = Limits::default();
    for (name, format, alpha) in INPUTS {
        let bytes = fixture(name);
        let info = probe(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(info.format, format, "{name}");
        assert_eq!(info.oriented_dimensions(), (64, 48), "{name}");
        assert_eq!(info.has_alpha, alpha, "{name}");
        let bitmap = decode(&bytes, &limits).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((bitmap.width(), bitmap.height()), (64, 48), "{name}");
        let grey = name.contains("grey");
        // HEIC and AVIF are lossy (and chroma-subsampled): colours within a tolerance, away
        // from the quadrants' edges.
        let tolerance = match format {
            ImageFormat::Heic | ImageFormat::Avif | ImageFormat::Jxl => 24,
            _ => 0,
        };
        let close = |got: [u8; 3], want: [u8; 3]| {
            got.iter()
                .zip(want)
                .all(|(g, w)| (i16::from(*g) - i16::from(w)).abs() <= tolerance)
        };
        let expect = |rgb: [u8; 3]| {
            if grey {
                let l = ((u32::from(rgb[0]) + u32::from(rgb[1]) + u32::from(rgb[2])) / 3) as u8;
                [l, l, l]
            } else {
                rgb
            }
        };
        for ((x, y), rgb) in [
            ((8, 8), [255, 0, 0]),
            ((56, 8), [0, 255, 0]),
            ((8, 40), [0, 0, 255]),
        ] {
            let [r, g, b, a] = bitmap.pixel(x, y);
            assert!(
                close([r, g, b], expect(rgb)),
                "{name} at {x},{y}: {:?} for {:?}",
                [r, g, b],
                expect(rgb)
            );
            assert!(a >= 255 - tolerance as u8, "{name} at {x},{y}: alpha {a}");
        }
        let corner = bitmap.pixel(56, 40);
        if alpha {
            assert!(
                corner[3] <= tolerance as u8,
                "{name}: transparent corner {corner:?}"
            );
        } else {
            assert!(
                close([corner[0], corner[1], corner[2]], [255, 255, 255]) && corner[3] == 255,
                "{name}: white corner {corner:?}"
            );
        }
        // And through a pipeline, to every output format.
        let pipeline: Pipeline = "thumb/32/24".parse().unwrap();
        for output in ImageFormat::ALL {
            let out = transform(&bytes, &pipeline, output, &limits)
                .unwrap_or_else(|e| panic!("{name} -> {output}: {e}"));
            assert_eq!((out.width, out.height), (32, 24), "{name} -> {output}");
        }
    }
}

#[test]
fn input_only_formats_are_not_outputs() {
    let bytes = fixture("inputs/quadrants.bmp");
    for format in ImageFormat::INPUT_ONLY {
        let refused = transform(&bytes, &Pipeline::new(), format, &Limits::default());
        assert!(
            matches!(refused, Err(EngineError::InvalidParams(_))),
            "{format}: {refused:?}"
        );
    }
}

#[test]
fn damaged_and_hostile_inputs_are_refused() {
    let limits = Limits::default();
    // A 10 GP claim in 199 bytes: refused from the header, before any buffer exists.
    let bomb = fixture("inputs/bomb.tiff");
    assert!(matches!(
        check_limits(&bomb, &limits),
        Err(EngineError::TooLarge(_))
    ));
    assert!(matches!(
        transform(&bomb, &Pipeline::new(), ImageFormat::Png, &limits),
        Err(EngineError::TooLarge(_))
    ));
    // Every fixture cut short, and with its middle overwritten: an error of the input's
    // class, never a panic or a success with garbage dimensions.
    for (name, _, _) in INPUTS {
        let bytes = fixture(name);
        let mut damaged = Vec::new();
        for cut in [8, 20, bytes.len() / 2, bytes.len() - 1] {
            damaged.push(bytes[..cut].to_vec());
        }
        let mut scrambled = bytes.clone();
        let mid = scrambled.len() / 2;
        for b in &mut scrambled[mid.saturating_sub(40)..mid] {
            *b ^= 0x5a;
        }
        damaged.push(scrambled);
        for input in damaged {
            match transform(&input, &Pipeline::new(), ImageFormat::Png, &limits) {
                Err(
                    EngineError::Corrupt(_)
                    | EngineError::Unsupported(_)
                    | EngineError::TooLarge(_),
                ) => {}
                // A scrambled middle may still decode (uncompressed pixels): then its size
                // is the header's.
                Ok(out) => assert_eq!((out.width, out.height), (64, 48), "{name}"),
                Err(other) => panic!("{name} ({} bytes): {other:?}", input.len()),
            }
        }
    }
}

#[test]
fn a_jpeg_xl_orientation_is_applied_like_the_jpeg_it_was_made_from() {
    // `cjxl orient-6.jpg` keeps the EXIF orientation as the codestream's orientation 6.
    let limits = Limits::default();
    let jxl = fixture("inputs/orient-6.jxl");
    let jpeg = fixture("orient-6.jpg");
    let info = probe(&jxl).unwrap();
    assert_eq!(info.format, ImageFormat::Jxl);
    assert_eq!(
        info.oriented_dimensions(),
        probe(&jpeg).unwrap().oriented_dimensions()
    );
    let (a, b) = (
        decode(&jxl, &limits).unwrap(),
        decode(&jpeg, &limits).unwrap(),
    );
    assert_eq!((a.width(), a.height()), (b.width(), b.height()));
    // The same upright picture: a lossless transcode of the JPEG's coefficients, so only the
    // two decoders' rounding differs.
    let worst = a
        .data()
        .iter()
        .zip(b.data())
        .map(|(x, y)| (i16::from(*x) - i16::from(*y)).abs())
        .max()
        .unwrap();
    assert!(worst <= 16, "largest difference {worst}");
}

#[test]
fn hostile_svgs_read_nothing_outside_the_file_and_are_refused() {
    let limits = Limits::default();
    let png = |name: &str| transform(&fixture(name), &Pipeline::new(), ImageFormat::Png, &limits);
    // Entity expansion: refused by the parser's own bounds, not expanded a billion times.
    assert!(matches!(
        png("inputs/billion-laughs.svg"),
        Err(EngineError::Corrupt(_))
    ));
    // An external entity is never fetched: referencing it is an error.
    assert!(matches!(
        png("inputs/external-entity.svg"),
        Err(EngineError::Corrupt(_))
    ));
    // Images by relative path, absolute path and URL are not loaded: only the one black
    // pixel the file draws itself is there.
    let out = png("inputs/external-refs.svg").unwrap();
    let bitmap = decode(&out.bytes, &limits).unwrap();
    assert_eq!(bitmap.pixel(0, 0), [0, 0, 0, 255]);
    for (x, y) in [(10, 10), (40, 30), (63, 47)] {
        assert_eq!(bitmap.pixel(x, y)[3], 0, "nothing drawn at {x},{y}");
    }
    // A huge declared size is over the pixel limit, found from the header.
    assert!(matches!(
        check_limits(&fixture("inputs/huge.svg"), &limits),
        Err(EngineError::TooLarge(_))
    ));
    // Deep nesting and node floods stop at the parser's node limit.
    let deep = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\">{}{}</svg>",
        "<g>".repeat(300_000),
        "</g>".repeat(300_000)
    );
    assert!(matches!(
        transform(deep.as_bytes(), &Pipeline::new(), ImageFormat::Png, &limits),
        Err(EngineError::Corrupt(_))
    ));
}

#[test]
fn an_svg_is_rasterised_at_the_size_the_pipeline_needs() {
    let limits = Limits::default();
    let svg = fixture("inputs/quadrants.svg");
    // Shrunk on load like a JPEG: a 16x12 thumbnail does not need the full raster.
    for (ops, size) in [
        ("fit/16/16", (16, 12)),
        ("thumb/32/32", (32, 32)),
        ("", (64, 48)),
    ] {
        let pipeline: Pipeline = ops.parse().unwrap();
        let out = transform(&svg, &pipeline, ImageFormat::Png, &limits).unwrap();
        assert_eq!((out.width, out.height), size, "{ops}");
        let bitmap = decode(&out.bytes, &limits).unwrap();
        let [r, g, b, a] = bitmap.pixel(1, 1);
        assert!(
            r > 240 && g < 16 && b < 16 && a == 255,
            "{ops}: {r},{g},{b},{a}"
        );
    }
}

#[test]
fn an_icc_profile_in_a_heic_is_converted_to_srgb() {
    // The same picture and profile as `icc-displayp3.png` (whose conversion the fixtures test
    // checks against LittleCMS), through HEVC at q95 4:4:4.
    let limits = Limits::default();
    let heic = decode(&fixture("inputs/icc-adobergb.heic"), &limits).unwrap();
    let png = decode(&fixture("icc-displayp3.png"), &limits).unwrap();
    assert!(
        probe(&fixture("inputs/icc-adobergb.heic"))
            .unwrap()
            .has_icc_profile
    );
    for (x, y) in [(16, 16), (48, 16), (16, 48), (48, 48)] {
        let (got, expected) = (heic.pixel(x, y), png.pixel(x, y));
        let off = got[..3]
            .iter()
            .zip(&expected[..3])
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap_or(0);
        assert!(off <= 6, "({x},{y}): {got:?}, expected {expected:?}");
    }
    // The discriminating patch moved away from its stored value (64, 160, 64).
    assert!(
        heic.pixel(48, 16)[0] < 30,
        "profile ignored? {:?}",
        heic.pixel(48, 16)
    );
}

#[test]
fn display_p3_named_by_nclx_is_converted_to_srgb() {
    // Four flat patches whose values are Display P3 (sRGB transfer), in a lossless RGB AVIF
    // whose `nclx` box names primaries 12 (P3) and transfer 13 (sRGB); no ICC profile.
    let p3 = [
        [200, 100, 50],
        [50, 180, 90],
        [90, 60, 210],
        [128, 128, 128],
    ];
    // The reference conversion: undo the transfer, P3 -> sRGB in linear light (both D65),
    // clip, redo the transfer.
    let decode_trc = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let encode_trc = |l: f64| {
        let l = l.clamp(0.0, 1.0);
        let c = if l <= 0.003_130_8 {
            12.92 * l
        } else {
            1.055 * l.powf(1.0 / 2.4) - 0.055
        };
        (c * 255.0).round() as i16
    };
    let matrix = [
        [1.224_940_2, -0.224_940_4, 0.0],
        [-0.042_056_9, 1.042_057_1, 0.0],
        [-0.019_637_6, -0.078_636_1, 1.098_273_5],
    ];
    let bitmap = decode(&fixture("inputs/display-p3-nclx.avif"), &Limits::default()).unwrap();
    for (patch, (x, y)) in p3.iter().zip([(16, 12), (48, 12), (16, 36), (48, 36)]) {
        let linear = patch.map(decode_trc);
        let expected: Vec<i16> = matrix
            .iter()
            .map(|row| encode_trc(row.iter().zip(linear).map(|(m, v)| m * v).sum()))
            .collect();
        let got = bitmap.pixel(x, y);
        let worst = (0..3)
            .map(|c| (i16::from(got[c]) - expected[c]).abs())
            .max()
            .unwrap();
        assert!(
            worst <= 3,
            "P3 {patch:?}: got {got:?}, expected sRGB {expected:?}"
        );
        // And it did change: taken as sRGB, the saturated patches would be off by more.
        if patch[0] != patch[1] {
            let unconverted = (0..3)
                .map(|c| (i16::from(patch[c]) - expected[c]).abs())
                .max()
                .unwrap();
            assert!(unconverted > 6, "{patch:?} is not a useful test patch");
        }
    }
}
