//! Writes the input-only format fixtures into `fixtures/inputs/` (checked in; rerun this after
//! changing it): `cargo run -p origami-engine --example make_input_fixtures`.
//!
//! Every image shows the same 64x48 picture upright: four quadrants, red top-left, green
//! top-right, blue bottom-left, white bottom-right (with alpha, the bottom-right quadrant is
//! transparent instead). `quadrants-orient-6.tiff` stores it turned a quarter left with the
//! TIFF Orientation tag 6, so it is upright only when the tag is honoured. `bomb.tiff` declares
//! 100000 x 100000 pixels in a few hundred bytes.
//!
//! `animated.gif` is a 48x32 animation of four frames drawn with offsets and disposal (see
//! `animated_gif`), which must be composited to be seen right; `animated.webp` is the same
//! animation converted by libwebp's `gif2webp` (Debian's `webp` package), lossless.
#![allow(clippy::unwrap_used)]

use std::io::Cursor;
use std::path::PathBuf;

use image::{ImageEncoder, Rgba, RgbaImage};
use tiff::encoder::{colortype, Compression, DeflateLevel, TiffEncoder};
use tiff::tags::Tag;

const WIDTH: u32 = 64;
const HEIGHT: u32 = 48;

fn quadrants(alpha: bool) -> RgbaImage {
    RgbaImage::from_fn(WIDTH, HEIGHT, |x, y| {
        match (x < WIDTH / 2, y < HEIGHT / 2) {
            (true, true) => Rgba([255, 0, 0, 255]),
            (false, true) => Rgba([0, 255, 0, 255]),
            (true, false) => Rgba([0, 0, 255, 255]),
            (false, false) if alpha => Rgba([0, 0, 0, 0]),
            (false, false) => Rgba([255, 255, 255, 255]),
        }
    })
}

fn rgb(image: &RgbaImage) -> Vec<u8> {
    image.pixels().flat_map(|p| [p[0], p[1], p[2]]).collect()
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/inputs");
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, bytes: Vec<u8>| {
        std::fs::write(dir.join(name), &bytes).unwrap();
        println!("{name}: {} bytes", bytes.len());
    };
    let opaque = quadrants(false);
    let clear = quadrants(true);

    // TIFF: 8-bit RGB with LZW, 16-bit RGBA with Deflate, 8-bit grey with PackBits.
    let mut lzw = Cursor::new(Vec::new());
    TiffEncoder::new(&mut lzw)
        .unwrap()
        .with_compression(Compression::Lzw)
        .write_image::<colortype::RGB8>(WIDTH, HEIGHT, &rgb(&opaque))
        .unwrap();
    write("quadrants-lzw.tiff", lzw.into_inner());

    let wide: Vec<u16> = clear
        .pixels()
        .flat_map(|p| p.0.map(|v| u16::from(v) * 257))
        .collect();
    let mut deflate = Cursor::new(Vec::new());
    TiffEncoder::new(&mut deflate)
        .unwrap()
        .with_compression(Compression::Deflate(DeflateLevel::Balanced))
        .write_image::<colortype::RGBA16>(WIDTH, HEIGHT, &wide)
        .unwrap();
    write("quadrants-rgba16-deflate.tiff", deflate.into_inner());

    let grey: Vec<u8> = opaque
        .pixels()
        .map(|p| ((u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2])) / 3) as u8)
        .collect();
    let mut packbits = Cursor::new(Vec::new());
    TiffEncoder::new(&mut packbits)
        .unwrap()
        .with_compression(Compression::Packbits)
        .write_image::<colortype::Gray8>(WIDTH, HEIGHT, &grey)
        .unwrap();
    write("quadrants-grey-packbits.tiff", packbits.into_inner());

    // CMYK (no profile: converted with the naive formula), LZW.
    let cmyk: Vec<u8> = opaque
        .pixels()
        .flat_map(|p| [255 - p[0], 255 - p[1], 255 - p[2], 0])
        .collect();
    let mut separated = Cursor::new(Vec::new());
    TiffEncoder::new(&mut separated)
        .unwrap()
        .with_compression(Compression::Lzw)
        .write_image::<colortype::CMYK8>(WIDTH, HEIGHT, &cmyk)
        .unwrap();
    write("quadrants-cmyk-lzw.tiff", separated.into_inner());

    // Stored turned a quarter left; Orientation 6 turns it back (a quarter right).
    let turned = image::imageops::rotate270(&opaque);
    let mut oriented = Cursor::new(Vec::new());
    {
        let mut encoder = TiffEncoder::new(&mut oriented).unwrap();
        let mut image = encoder
            .new_image::<colortype::RGB8>(turned.width(), turned.height())
            .unwrap();
        image.encoder().write_tag(Tag::Orientation, 6u16).unwrap();
        image.write_data(&rgb(&turned)).unwrap();
    }
    write("quadrants-orient-6.tiff", oriented.into_inner());

    // A 100000 x 100000 claim over a single 1x1 strip: refused from the header.
    let mut bomb = Cursor::new(Vec::new());
    TiffEncoder::new(&mut bomb)
        .unwrap()
        .write_image::<colortype::Gray8>(1, 1, &[0])
        .unwrap();
    let mut bytes = bomb.into_inner();
    patch_tiff_dimensions(&mut bytes, 100_000, 100_000);
    write("bomb.tiff", bytes);

    // BMP: 24-bit and 32-bit (with alpha).
    let mut bmp = Vec::new();
    image::codecs::bmp::BmpEncoder::new(&mut bmp)
        .write_image(&rgb(&opaque), WIDTH, HEIGHT, image::ExtendedColorType::Rgb8)
        .unwrap();
    write("quadrants.bmp", bmp);
    let mut bmp = Vec::new();
    image::codecs::bmp::BmpEncoder::new(&mut bmp)
        .write_image(
            clear.as_raw(),
            WIDTH,
            HEIGHT,
            image::ExtendedColorType::Rgba8,
        )
        .unwrap();
    write("quadrants-rgba.bmp", bmp);

    // ICO: a 16x12 and the 64x48 picture; the decoder takes the largest.
    let small = image::imageops::resize(&clear, 16, 12, image::imageops::FilterType::Nearest);
    let frames = [
        image::codecs::ico::IcoFrame::as_png(
            small.as_raw(),
            16,
            12,
            image::ExtendedColorType::Rgba8,
        )
        .unwrap(),
        image::codecs::ico::IcoFrame::as_png(
            clear.as_raw(),
            WIDTH,
            HEIGHT,
            image::ExtendedColorType::Rgba8,
        )
        .unwrap(),
    ];
    let mut ico = Vec::new();
    image::codecs::ico::IcoEncoder::new(&mut ico)
        .encode_images(&frames)
        .unwrap();
    write("quadrants.ico", ico);

    // QOI, with alpha.
    let mut qoi = Vec::new();
    image::codecs::qoi::QoiEncoder::new(&mut qoi)
        .write_image(
            clear.as_raw(),
            WIDTH,
            HEIGHT,
            image::ExtendedColorType::Rgba8,
        )
        .unwrap();
    write("quadrants.qoi", qoi);

    write("animated.gif", animated_gif());
    let status = std::process::Command::new("gif2webp")
        .arg("-quiet")
        .arg(dir.join("animated.gif"))
        .arg("-o")
        .arg(dir.join("animated.webp"))
        .status()
        .expect("gif2webp (apt-get install webp)");
    assert!(status.success());
    println!("animated.webp: converted by gif2webp");
}

/// A 48x32 GIF that plays three times (a NETSCAPE loop count of 2 repeats), its frames:
/// 1. the whole canvas red, 100 ms, kept;
/// 2. a 16x16 green square at (0, 0), 200 ms, kept: green top-left on red;
/// 3. a 16x16 blue square at (32, 16), 300 ms, disposed to the background afterwards: green
///    top-left and blue bottom-right on red;
/// 4. one white pixel at (0, 31), 400 ms: green top-left on red, the bottom-right square now
///    transparent (the blue was cleared), and the white pixel.
fn animated_gif() -> Vec<u8> {
    let palette = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255];
    let mut out = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut out, 48, 32, &palette).unwrap();
        encoder.set_repeat(gif::Repeat::Finite(2)).unwrap();
        let frame =
            |left: u16, top: u16, size: (u16, u16), index: u8, delay: u16, dispose| gif::Frame {
                left,
                top,
                width: size.0,
                height: size.1,
                delay,
                dispose,
                buffer: vec![index; usize::from(size.0) * usize::from(size.1)].into(),
                ..gif::Frame::default()
            };
        use gif::DisposalMethod::{Background, Keep};
        for frame in [
            frame(0, 0, (48, 32), 0, 10, Keep),
            frame(0, 0, (16, 16), 1, 20, Keep),
            frame(32, 16, (16, 16), 2, 30, Background),
            frame(0, 31, (1, 1), 3, 40, Keep),
        ] {
            encoder.write_frame(&frame).unwrap();
        }
    }
    out
}

/// Rewrites the ImageWidth (256) and ImageLength (257) entries of a little-endian TIFF's first
/// directory.
fn patch_tiff_dimensions(bytes: &mut [u8], width: u32, height: u32) {
    assert_eq!(&bytes[..4], b"II*\0");
    let ifd = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    let count = u16::from_le_bytes([bytes[ifd], bytes[ifd + 1]]) as usize;
    for i in 0..count {
        let entry = ifd + 2 + 12 * i;
        let tag = u16::from_le_bytes([bytes[entry], bytes[entry + 1]]);
        let value = match tag {
            256 => width,
            257 => height,
            _ => continue,
        };
        // Rewritten as a LONG (type 4), count 1.
        bytes[entry + 2..entry + 4].copy_from_slice(&4u16.to_le_bytes());
        bytes[entry + 4..entry + 8].copy_from_slice(&1u32.to_le_bytes());
        bytes[entry + 8..entry + 12].copy_from_slice(&value.to_le_bytes());
    }
}
