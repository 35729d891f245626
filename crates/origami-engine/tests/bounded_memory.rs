//! Memory bounds, measured with a counting allocator (not wall time): bombs are refused
//! before any pixel buffer exists, and shrink-on-load really decodes less.
//!
//! One test function only, so no other test thread allocates while we measure.

#![allow(clippy::unwrap_used, clippy::needless_range_loop)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::fixture;
use origami_engine::{
    probe, transform, transform_with_options, working_memory, ImageFormat, Limits, Pipeline,
    TransformOptions,
};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak bytes allocated (above what was live before) while `f` runs.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = CURRENT.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let out = f();
    (out, PEAK.load(Ordering::SeqCst).saturating_sub(base))
}

#[test]
fn allocation_is_bounded() {
    let limits = Limits::default();
    let pipeline: Pipeline = "thumb/400/300".parse().unwrap();

    // 1. Bombs: the header claims 0.3-10 gigapixels; refusing them must cost next to nothing.
    for name in ["bomb.png", "bomb.jpg", "bomb.gif", "bomb.webp"] {
        let bytes = fixture(name);
        let (result, peak) =
            peak_during(|| transform(&bytes, &pipeline, ImageFormat::Jpeg, &limits));
        assert!(result.is_err(), "{name} was accepted");
        assert!(
            peak < 64 * 1024,
            "{name}: {peak} bytes allocated before refusing"
        );
    }

    // 2. Shrink-on-load: thumb/40/30 of the 320x240 JPEG decodes at 1/4 scale (80x60), so
    // the decoder's buffer is 1/16 of a full decode's 230 KB.
    let bytes = fixture("baseline.jpg");
    let small: Pipeline = "thumb/40/30".parse().unwrap();
    let run = |shrink_on_load| {
        peak_during(|| {
            transform_with_options(
                &bytes,
                &small,
                // JPEG: libjpeg-turbo's own buffers are C mallocs, so what is counted is our
                // pixel buffers (PNG's deflate state alone would be ~300 KB of noise).
                ImageFormat::Jpeg,
                &limits,
                TransformOptions::shrink_on_load(shrink_on_load),
            )
            .unwrap()
        })
        .1
    };
    let (with, without) = (run(true), run(false));
    let full_decode = 320 * 240 * 3;
    assert!(
        without >= full_decode,
        "full decode peaked at only {without} bytes"
    );
    assert!(
        with * 4 < without,
        "shrink-on-load peak {with} vs full {without}"
    );

    // 3. `working_memory` bounds what a transform allocates (of it, what is counted here: our
    // pixel buffers and the pure-Rust decoders'; libjpeg's coefficients are C mallocs), and it
    // counts the progressive JPEG's whole-image coefficients, 2 bytes per coefficient.
    for (name, ops) in [
        ("baseline.jpg", "thumb/40/30"),
        ("baseline.jpg", "fit/320/240"),
        ("progressive.jpg", "thumb/40/30"),
        ("alpha.png", "thumb/20/20"),
        // An upscale: the result is larger than the decoded image.
        ("tiny.png", "thumb/1000/800"),
        ("lossy.webp", "fit/64/64"),
        ("palette-trns.png", "blur/2"),
    ] {
        let bytes = fixture(name);
        let pipeline: Pipeline = ops.parse().unwrap();
        let estimate = working_memory(&bytes, &pipeline, &limits).unwrap();
        let (_, peak) =
            peak_during(|| transform(&bytes, &pipeline, ImageFormat::Jpeg, &limits).unwrap());
        assert!(
            peak as u64 <= estimate,
            "{name} {ops}: {peak} bytes allocated, {estimate} estimated"
        );
        let info = probe(&bytes).unwrap();
        if info.progressive {
            assert!(
                estimate >= 2 * info.pixels(),
                "{name}: {estimate} bytes cannot hold its coefficients"
            );
        }
    }
    let bomb = working_memory(&fixture("bomb.jpg"), &small, &limits);
    assert!(
        bomb.is_err(),
        "a bomb's estimate must fail like its transform"
    );
}
