//! Working copies, measured on the benchmark photos (a measurement tool, not a test):
//! 1. the stored form per codec: the time to make the copy from the original, to encode and
//!    to decode it, and its size as a share of the original's bytes;
//! 2. quality: SSIMULACRA2 of derivatives made through the copy and of the same derivatives
//!    made directly (shrink-on-load), both against a reference made without shrink-on-load
//!    (full decode, Lanczos3), all lossless, for output widths from 160 px to the copy's size.
//!
//! Run: `cargo run --release -p origami-benches --features quality --bin working_copy`
//! (after `scripts/fetch-photos.sh`). `MAX_SIDE=` changes the copy's size (default 2048).

use std::time::{Duration, Instant};

use origami_benches::ssim::score;
use origami_engine::{
    decode, transform_with_options, ImageFormat, Limits, Pipeline, TransformOptions, WorkingCopy,
    WorkingCopyCodec,
};

/// The median of `runs` timings of `f`.
fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2].as_secs_f64() * 1000.0
}

fn main() {
    let max_side: u32 = std::env::var("MAX_SIDE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2048);
    let limits = Limits::default();
    let photos = origami_benches::photos();

    let codecs_table = std::env::var("QUALITY_ONLY").is_err();
    println!("Stored form of a {max_side} px working copy (median of 5 runs, one thread):\n");
    println!("| photo | original | copy | make ms | codec | encode ms | decode ms | stored | % of original |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut totals = [(0usize, 0usize); 2];
    for photo in photos.iter().filter(|_| codecs_table) {
        let info = origami_engine::probe(&photo.bytes).expect("probe");
        let mut copy = None;
        let make = median_ms(5, || {
            copy = WorkingCopy::from_original(&photo.bytes, max_side, &limits).expect("copy");
        });
        let Some(copy) = copy else {
            println!("| {} | too small for a copy |||||||", photo.name);
            continue;
        };
        for (i, codec) in [WorkingCopyCodec::Qoi, WorkingCopyCodec::Png]
            .into_iter()
            .enumerate()
        {
            let mut stored = Vec::new();
            let encode = median_ms(5, || stored = copy.to_bytes(codec).expect("encode"));
            let decode = median_ms(5, || {
                WorkingCopy::from_bytes(&stored, max_side, &limits).expect("decode");
            });
            totals[i].0 += stored.len();
            totals[i].1 += photo.bytes.len();
            println!(
                "| {} | {}x{} | {}x{} | {make:.1} | {} | {encode:.1} | {decode:.1} | {:.2} MB | {:.0} % |",
                photo.name,
                info.width,
                info.height,
                copy.bitmap().width(),
                copy.bitmap().height(),
                codec.name(),
                stored.len() as f64 / 1e6,
                100.0 * stored.len() as f64 / photo.bytes.len() as f64
            );
        }
    }
    for (i, codec) in [WorkingCopyCodec::Qoi, WorkingCopyCodec::Png]
        .into_iter()
        .enumerate()
    {
        if totals[i].1 > 0 {
            println!(
                "\nAll photos, {}: copies are {:.0} % of the originals' bytes.",
                codec.name(),
                100.0 * totals[i].0 as f64 / totals[i].1 as f64
            );
        }
    }

    println!(
        "\nSSIMULACRA2 against a full-decode reference (lossless, Lanczos3; higher is better), \
         of lossless outputs and of JPEG outputs at the default quality (what is served):\n"
    );
    println!("| photo | pipeline | lossless direct | lossless through the copy | difference | JPEG direct | JPEG through the copy | difference |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut worst = [0.0f64; 2];
    for photo in &photos {
        if std::env::var("QUALITY_PHOTO").is_ok_and(|p| p != photo.name) {
            continue;
        }
        let Some(copy) = WorkingCopy::from_original(&photo.bytes, max_side, &limits).expect("copy")
        else {
            continue;
        };
        let widths = [160, 320, 640, 960, 1280, 1600, max_side];
        let mut pipelines: Vec<String> = widths.iter().map(|w| format!("fit/{w}/0")).collect();
        pipelines.push("thumb/400/300".to_owned());
        pipelines.push("thumb/1024/1024".to_owned());
        for ops in pipelines {
            let pipeline: Pipeline = ops.parse().expect("pipeline");
            if !copy.fits(&pipeline, &limits) {
                println!(
                    "| {} | {ops} | (larger than the copy: made directly) ||||||",
                    photo.name
                );
                continue;
            }
            let direct = |shrink_on_load, format| {
                let out = transform_with_options(
                    &photo.bytes,
                    &pipeline,
                    format,
                    &limits,
                    TransformOptions::shrink_on_load(shrink_on_load),
                )
                .expect("transform");
                decode(&out.bytes, &limits).expect("decode")
            };
            let through = |format| {
                let out = copy
                    .run(&pipeline, format, &limits)
                    .expect("through the copy");
                decode(&out.bytes, &limits).expect("decode")
            };
            let reference = direct(false, ImageFormat::Png);
            let mut row = format!("| {} | {ops} |", photo.name);
            for (i, format) in [ImageFormat::Png, ImageFormat::Jpeg]
                .into_iter()
                .enumerate()
            {
                let d = score(&reference, &direct(true, format));
                let t = score(&reference, &through(format));
                worst[i] = worst[i].max(d - t);
                row.push_str(&format!(" {d:.2} | {t:.2} | {:+.2} |", t - d));
            }
            println!("{row}");
        }
    }
    println!(
        "\nLargest loss through the copy: {:.2} points lossless, {:.2} points as JPEG.",
        worst[0], worst[1]
    );
}
