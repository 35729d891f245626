//! SSIMULACRA2 scores of 400x300 thumbnails of the benchmark photos against a reference made
//! without shrink-on-load (full decode, Lanczos3, lossless). Prints, per photo: the cost of
//! shrink-on-load alone (lossless output), our JPEG q80 with and without shrink-on-load, and,
//! when `vipsthumbnail` is installed, libvips' JPEG q80 thumbnail of the same photo.
//!
//! Run: `cargo run --release -p origami-benches --features quality --bin quality`

use std::process::Command;

use origami_engine::{
    decode, transform_with_options, Bitmap, ImageFormat, Limits, Pipeline, TransformOptions,
};
use ssimulacra2::{compute_frame_ssimulacra2, ColorPrimaries, Rgb, TransferCharacteristic};

fn to_rgb(b: &Bitmap) -> Rgb {
    let c = b.channels().count();
    let data: Vec<[f32; 3]> = b
        .data()
        .chunks_exact(c)
        .map(|p| {
            [
                p[0] as f32 / 255.0,
                p[1] as f32 / 255.0,
                p[2] as f32 / 255.0,
            ]
        })
        .collect();
    Rgb::new(
        data,
        b.width() as usize,
        b.height() as usize,
        TransferCharacteristic::SRGB,
        ColorPrimaries::BT709,
    )
    .expect("valid frame")
}

fn score(reference: &Bitmap, candidate: &Bitmap) -> f64 {
    compute_frame_ssimulacra2(to_rgb(reference), to_rgb(candidate)).expect("ssimulacra2")
}

fn thumb(bytes: &[u8], format: ImageFormat, shrink_on_load: bool) -> Bitmap {
    let pipeline: Pipeline = "thumb/400/300/q/80".parse().expect("pipeline");
    let limits = Limits::default();
    let out = transform_with_options(
        bytes,
        &pipeline,
        format,
        &limits,
        TransformOptions { shrink_on_load },
    )
    .expect("transform");
    decode(&out.bytes, &limits).expect("decode output")
}

fn vips_thumb(path: &std::path::Path) -> Option<Bitmap> {
    let out = std::env::temp_dir().join(format!("origami-quality-{}.jpg", std::process::id()));
    let status = Command::new("vipsthumbnail")
        .arg(path)
        .args(["--size", "400x300", "--smartcrop", "centre", "-o"])
        .arg(format!("{}[Q=80]", out.display()))
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    let bytes = std::fs::read(&out).ok()?;
    let _ = std::fs::remove_file(&out);
    decode(&bytes, &Limits::default()).ok()
}

fn main() {
    let photos = origami_benches::photos();
    println!("| photo | shrink-on-load, lossless | ours JPEG q80 | ours JPEG q80, no shrink | vipsthumbnail JPEG Q80 |");
    println!("|---|---|---|---|---|");
    for photo in photos {
        let reference = thumb(&photo.bytes, ImageFormat::Png, false);
        let lossless = score(&reference, &thumb(&photo.bytes, ImageFormat::Png, true));
        let jpeg = score(&reference, &thumb(&photo.bytes, ImageFormat::Jpeg, true));
        let jpeg_full = score(&reference, &thumb(&photo.bytes, ImageFormat::Jpeg, false));
        let vips = vips_thumb(&origami_benches::photos_dir().join(&photo.name))
            .filter(|v| (v.width(), v.height()) == (reference.width(), reference.height()))
            .map(|v| format!("{:.2}", score(&reference, &v)))
            .unwrap_or_else(|| "n/a".into());
        println!(
            "| {} | {lossless:.2} | {jpeg:.2} | {jpeg_full:.2} | {vips} |",
            photo.name
        );
    }
}
