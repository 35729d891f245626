//! SSIMULACRA2 scores of 400x300 thumbnails of the benchmark photos against a reference made
//! without shrink-on-load (full decode, Lanczos3, lossless). Prints, per photo: the cost of
//! shrink-on-load alone (lossless output), our JPEG q80 with and without shrink-on-load, and,
//! when `vipsthumbnail` is installed, libvips' JPEG q80 thumbnail of the same photo. A second
//! table compares shrink-on-load keeping 2x the needed size (the default) with 1x (sharp's
//! `fastShrinkOnLoad`): scores and milliseconds per thumbnail.
//!
//! Run: `cargo run --release -p origami-benches --features quality --bin quality`
//! (`-- --oversampling` for the second table alone)

use std::process::Command;
use std::time::Instant;

use origami_benches::ssim::score;
use origami_engine::{
    decode, transform_with_options, Bitmap, ImageFormat, Limits, Oversampling, Pipeline,
    TransformOptions, Transformed,
};

fn thumb(bytes: &[u8], format: ImageFormat, shrink_on_load: bool) -> Bitmap {
    thumb_with(
        bytes,
        format,
        TransformOptions::shrink_on_load(shrink_on_load),
    )
}

fn made(bytes: &[u8], format: ImageFormat, options: TransformOptions) -> Transformed {
    let pipeline: Pipeline = "thumb/400/300/q/80".parse().expect("pipeline");
    transform_with_options(bytes, &pipeline, format, &Limits::default(), options)
        .expect("transform")
}

fn thumb_with(bytes: &[u8], format: ImageFormat, options: TransformOptions) -> Bitmap {
    decode(&made(bytes, format, options).bytes, &Limits::default()).expect("decode output")
}

/// Milliseconds per JPEG thumbnail with `options`, the median of 7 runs.
fn millis(bytes: &[u8], options: TransformOptions) -> f64 {
    let mut runs: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            made(bytes, ImageFormat::Jpeg, options);
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[3]
}

/// Shrink-on-load at 2x against 1x: each one's SSIMULACRA2 (lossless, and JPEG q80) against
/// the full-decode reference, and its time per JPEG thumbnail.
fn oversampling(photos: &[origami_benches::Photo]) {
    println!();
    println!("| photo | 2x lossless | 1x lossless | 2x JPEG q80 | 1x JPEG q80 | 2x ms | 1x ms |");
    println!("|---|---|---|---|---|---|---|");
    let with = |oversampling| TransformOptions {
        shrink_on_load: true,
        oversampling,
    };
    for photo in photos {
        let reference = thumb(&photo.bytes, ImageFormat::Png, false);
        let mut row = vec![photo.name.clone()];
        for format in [ImageFormat::Png, ImageFormat::Jpeg] {
            for o in [Oversampling::Twice, Oversampling::Once] {
                let scored = score(&reference, &thumb_with(&photo.bytes, format, with(o)));
                row.push(format!("{scored:.2}"));
            }
        }
        for o in [Oversampling::Twice, Oversampling::Once] {
            row.push(format!("{:.1}", millis(&photo.bytes, with(o))));
        }
        println!("| {} |", row.join(" | "));
    }
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
    if std::env::args().any(|a| a == "--oversampling") {
        oversampling(&photos);
        return;
    }
    // Columns 2-5 are scored against our full-decode lossless reference. libvips places its
    // crop window up to half a pixel differently, which that reference penalises, so the last two
    // columns score each tool's JPEG against the same tool's own lossless (PNG) thumbnail: the
    // cost of its JPEG encoding alone, free of alignment.
    println!(
        "| photo | shrink-on-load, lossless | ours JPEG q80 | ours JPEG q80, no shrink \
         | vipsthumbnail JPEG Q80 | ours JPEG vs ours PNG | vips JPEG vs vips PNG |"
    );
    println!("|---|---|---|---|---|---|---|");
    for photo in &photos {
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
