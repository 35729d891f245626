//! Engine throughput on real photographs (fetch them with `scripts/fetch-photos.sh`):
//! decode + thumb(400,300) + encode per output format, with and without shrink-on-load,
//! blur, derivatives made through a working copy against the direct path, the decoders'
//! shortcuts against the paths without them (`decode-paths`), probe, and the
//! decoders of every input format on one ~12 MP sample each (`decode-formats`, from
//! `benches/format-samples.sh`).
//! Criterion's time per iteration is seconds per image (so images/s is its
//! inverse) and its throughput line is source megapixels per second.
//!
//! Run: `cargo bench -p origami-benches --bench engine`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use origami_engine::{
    probe, transform_with_options, ImageFormat, Limits, Pipeline, Refinement, TransformOptions,
    WorkingCopy, WorkingCopyCodec,
};

fn pipeline(s: &str) -> Pipeline {
    s.parse().expect("valid pipeline")
}

fn engine(c: &mut Criterion) {
    let photos = origami_benches::photos();
    let limits = Limits::default();
    let thumb = pipeline("thumb/400/300");
    for photo in &photos {
        let info = probe(&photo.bytes).expect("photo probes");
        let mut group = c.benchmark_group(format!("thumb-400x300/{}", photo.name));
        group.sample_size(20);
        group.throughput(Throughput::Elements(info.pixels()));
        let cases = [
            ("jpeg-q80", ImageFormat::Jpeg, true),
            ("jpeg-q80-no-shrink", ImageFormat::Jpeg, false),
            ("webp", ImageFormat::WebP, true),
            ("avif", ImageFormat::Avif, true),
            ("png", ImageFormat::Png, true),
        ];
        for (label, format, shrink_on_load) in cases {
            let options = TransformOptions::shrink_on_load(shrink_on_load);
            group.bench_function(BenchmarkId::from_parameter(label), |b| {
                b.iter(|| {
                    transform_with_options(&photo.bytes, &thumb, format, &limits, options)
                        .expect("transform")
                })
            });
        }
        group.finish();

        let mut group = c.benchmark_group(format!("blur/{}", photo.name));
        group.sample_size(10);
        group.throughput(Throughput::Elements(info.pixels()));
        for sigma in ["5", "50"] {
            // The blurred-backdrop use case: a 1200-wide fit, then the blur.
            let ops = pipeline(&format!("fit/1200/1200/blur/{sigma}"));
            group.bench_function(BenchmarkId::new("fit-1200-blur", sigma), |b| {
                b.iter(|| {
                    transform_with_options(
                        &photo.bytes,
                        &ops,
                        ImageFormat::Jpeg,
                        &limits,
                        TransformOptions::default(),
                    )
                    .expect("transform")
                })
            });
        }
        group.finish();
    }
    working_copies(c, &photos, &limits);
    decode_paths(c, &photos, &limits);
    decode_formats(c, &limits);
    if let Some(photo) = photos.first() {
        c.bench_function("probe", |b| b.iter(|| probe(&photo.bytes).expect("probe")));
    }
}

/// A derivative of a known original: made directly (decode + resize + encode) against made from
/// its working copy in memory (resize + encode), and the copy's own costs (made from the
/// original; read back from its stored form).
fn working_copies(c: &mut Criterion, photos: &[origami_benches::Photo], limits: &Limits) {
    for photo in photos {
        let Some(copy) = WorkingCopy::from_original(&photo.bytes, 2048, limits).expect("copy")
        else {
            continue;
        };
        let stored = copy.to_bytes(WorkingCopyCodec::Png).expect("stored form");
        let mut group = c.benchmark_group(format!("working-copy/{}", photo.name));
        group.sample_size(10);
        for ops in ["thumb/400/300", "fit/1280/0"] {
            let ops_pipeline = pipeline(ops);
            if !copy.fits(&ops_pipeline, limits) {
                continue;
            }
            group.bench_function(BenchmarkId::new("direct", ops), |b| {
                b.iter(|| {
                    transform_with_options(
                        &photo.bytes,
                        &ops_pipeline,
                        ImageFormat::Jpeg,
                        limits,
                        TransformOptions::default(),
                    )
                    .expect("transform")
                })
            });
            group.bench_function(BenchmarkId::new("from-copy", ops), |b| {
                b.iter(|| {
                    copy.run(&ops_pipeline, ImageFormat::Jpeg, limits)
                        .expect("from the copy")
                })
            });
        }
        group.bench_function("make-copy", |b| {
            b.iter(|| WorkingCopy::from_original(&photo.bytes, 2048, limits).expect("copy"))
        });
        group.bench_function("read-stored-copy", |b| {
            b.iter(|| WorkingCopy::from_bytes(&stored, 2048, limits).expect("read back"))
        });
        group.finish();
    }
}

/// The shortcuts of the decoders, each against the path without it: a progressive JPEG at 1/8
/// with every scan and with its DC scans alone (the same pixels), at 1/4 with every scan and
/// without its AC refinement scans (the default), and the WebP sample decoded whole against
/// through libwebp's rescaler. The quality of each: `quality -- --refinement` (SSIMULACRA2).
fn decode_paths(c: &mut Criterion, photos: &[origami_benches::Photo], limits: &Limits) {
    let run = |bytes: &[u8], ops: &Pipeline, options: TransformOptions| {
        transform_with_options(bytes, ops, ImageFormat::Jpeg, limits, options).expect("transform")
    };
    for photo in photos {
        let info = probe(&photo.bytes).expect("photo probes");
        if !info.progressive {
            continue;
        }
        let mut group = c.benchmark_group(format!("decode-paths/{}", photo.name));
        group.sample_size(10);
        group.throughput(Throughput::Elements(info.pixels()));
        let cases = [
            ("thumb/200/150", "every-scan", Refinement::EveryScan),
            ("thumb/200/150", "exact", Refinement::Exact),
            ("thumb/400/300", "every-scan", Refinement::EveryScan),
            ("thumb/400/300", "coarse", Refinement::CoarseAtQuarter),
        ];
        for (ops, label, refinement) in cases {
            let ops_pipeline = pipeline(ops);
            let options = TransformOptions {
                refinement,
                ..TransformOptions::default()
            };
            group.bench_function(BenchmarkId::new(label, ops), |b| {
                b.iter(|| run(&photo.bytes, &ops_pipeline, options))
            });
        }
        group.finish();
    }
    let fit = pipeline("fit/400/300");
    for sample in origami_benches::format_samples() {
        if !sample.name.ends_with(".webp") {
            continue;
        }
        let mut group = c.benchmark_group(format!("decode-paths/{}", sample.name));
        group.sample_size(10);
        for (label, shrink_on_load) in [("whole", false), ("rescaled", true)] {
            let options = TransformOptions::shrink_on_load(shrink_on_load);
            group.bench_function(BenchmarkId::new(label, "fit/400/300"), |b| {
                b.iter(|| run(&sample.bytes, &fit, options))
            });
        }
        group.finish();
    }
}

/// Each input format's decoder on the same ~12 MP picture: a whole decode (upright, sRGB), and
/// the 400x300 fit that a first thumbnail is (shrink-on-load where the format has one).
fn decode_formats(c: &mut Criterion, limits: &Limits) {
    let fit = pipeline("fit/400/300");
    for sample in origami_benches::format_samples() {
        let Ok(info) = probe(&sample.bytes) else {
            eprintln!("{}: not an image Origami reads", sample.name);
            continue;
        };
        let mut group = c.benchmark_group(format!("decode-formats/{}", sample.name));
        group.sample_size(10);
        group.throughput(Throughput::Elements(info.pixels()));
        group.bench_function("decode", |b| {
            b.iter(|| origami_engine::decode(&sample.bytes, limits).expect("decode"))
        });
        group.bench_function("fit-400x300-jpeg", |b| {
            b.iter(|| {
                transform_with_options(
                    &sample.bytes,
                    &fit,
                    ImageFormat::Jpeg,
                    limits,
                    TransformOptions::default(),
                )
                .expect("transform")
            })
        });
        group.finish();
    }
}

criterion_group!(benches, engine);
criterion_main!(benches);
