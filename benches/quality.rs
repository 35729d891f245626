//! SSIMULACRA2 scores of 400x300 thumbnails of the benchmark photos against a reference made
//! without shrink-on-load (full decode, Lanczos3, lossless). Prints, per photo: the cost of
//! shrink-on-load alone (lossless output), our JPEG q80 with and without shrink-on-load, and,
//! when `vipsthumbnail` is installed, libvips' JPEG q80 thumbnail of the same photo.
//!
//! Run: `cargo run --release -p origami-benches --features quality --bin quality`

use std::process::Command;

use origami_benches::ssim::score;
use origami_engine::{
    decode, transform_with_options, Bitmap, ImageFormat, Limits, Pipeline, TransformOptions,
};

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

/// libvips' 400x300 centre thumbnail of `path`, as JPEG Q80 (`lossless` false) or PNG.
fn vips_thumb(path: &std::path::Path, lossless: bool) -> Option<Bitmap> {
    let (ext, options) = if lossless {
        ("png", "")
    } else {
        ("jpg", "[Q=80]")
    };
    let out = std::env::temp_dir().join(format!("origami-quality-{}.{ext}", std::process::id()));
    let status = Command::new("vipsthumbnail")
        .arg(path)
        .args(["--size", "400x300", "--smartcrop", "centre", "-o"])
        .arg(format!("{}{options}", out.display()))
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
    // Columns 2-5 are scored against our full-decode lossless reference. libvips places its
    // crop window up to half a pixel differently, which that reference penalises, so the last two
    // columns score each tool's JPEG against the same tool's own lossless (PNG) thumbnail: the
    // cost of its JPEG encoding alone, free of alignment.
    println!(
        "| photo | shrink-on-load, lossless | ours JPEG q80 | ours JPEG q80, no shrink \
         | vipsthumbnail JPEG Q80 | ours JPEG vs ours PNG | vips JPEG vs vips PNG |"
    );
    println!("|---|---|---|---|---|---|---|");
    for photo in photos {
        let reference = thumb(&photo.bytes, ImageFormat::Png, false);
        let shrunk = thumb(&photo.bytes, ImageFormat::Png, true);
        let lossless = score(&reference, &shrunk);
        let ours_jpeg = thumb(&photo.bytes, ImageFormat::Jpeg, true);
        let jpeg = score(&reference, &ours_jpeg);
        let jpeg_full = score(&reference, &thumb(&photo.bytes, ImageFormat::Jpeg, false));
        let ours_encoding = score(&shrunk, &ours_jpeg);
        let path = origami_benches::photos_dir().join(&photo.name);
        let same_size =
            |v: &Bitmap| (v.width(), v.height()) == (reference.width(), reference.height());
        let vips_jpeg = vips_thumb(&path, false).filter(same_size);
        let vips_png = vips_thumb(&path, true).filter(same_size);
        let format = |s: Option<f64>| s.map_or_else(|| "n/a".to_owned(), |s| format!("{s:.2}"));
        let vips = format(vips_jpeg.as_ref().map(|v| score(&reference, v)));
        let vips_encoding = format(
            vips_jpeg
                .as_ref()
                .zip(vips_png.as_ref())
                .map(|(jpeg, png)| score(png, jpeg)),
        );
        println!(
            "| {} | {lossless:.2} | {jpeg:.2} | {jpeg_full:.2} | {vips} | {ours_encoding:.2} | {vips_encoding} |",
            photo.name
        );
    }
}
