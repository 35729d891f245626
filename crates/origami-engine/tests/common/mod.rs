//! Shared helpers for the engine's integration tests: fixture loading and the manifest.

#![allow(dead_code, clippy::unwrap_used, clippy::needless_range_loop)]

use std::path::PathBuf;

use origami_engine::{Bitmap, EngineError};
use serde_json::Value;

/// The repository's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// The bytes of a fixture.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every entry of `fixtures/manifest.json`.
pub fn manifest() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures_dir().join("manifest.json")).expect("manifest");
    let doc: Value = serde_json::from_str(&text).expect("manifest is JSON");
    doc["fixtures"].as_array().expect("fixtures array").clone()
}

/// The manifest entry for one fixture.
pub fn entry(name: &str) -> Value {
    manifest()
        .into_iter()
        .find(|e| e["file"] == name)
        .unwrap_or_else(|| panic!("{name} not in manifest"))
}

/// Reads a JSON array of numbers as u8s.
pub fn u8s(v: &Value) -> Vec<u8> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|n| n.as_u64().expect("number") as u8)
        .collect()
}

/// Reads a JSON `[x, y]`.
pub fn xy(v: &Value) -> (u32, u32) {
    let a = v.as_array().expect("xy");
    (
        a[0].as_u64().expect("x") as u32,
        a[1].as_u64().expect("y") as u32,
    )
}

/// The engine error class name used in the manifest.
pub fn class(e: &EngineError) -> &'static str {
    e.code()
}

/// Asserts that each of the first `n` channels of `got` is within `tol` of `want`.
pub fn assert_close(got: &[u8], want: &[u8], tol: u8, what: &str) {
    for (g, w) in got.iter().zip(want) {
        assert!(
            g.abs_diff(*w) <= tol,
            "{what}: got {got:?}, want {want:?} (tolerance {tol})"
        );
    }
}

/// Mean of each RGB channel over the bitmap.
pub fn mean_rgb(b: &Bitmap) -> [f64; 3] {
    let mut sum = [0f64; 3];
    let n = (b.width() * b.height()) as f64;
    for y in 0..b.height() {
        for x in 0..b.width() {
            let p = b.pixel(x, y);
            for c in 0..3 {
                sum[c] += f64::from(p[c]);
            }
        }
    }
    sum.map(|s| s / n)
}

/// Sum of squared differences between horizontally and vertically adjacent luma values:
/// a measure of high-frequency energy (detail).
pub fn detail_energy(b: &Bitmap) -> f64 {
    let luma = |x: u32, y: u32| {
        let p = b.pixel(x, y);
        0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2])
    };
    let mut e = 0.0;
    for y in 0..b.height() - 1 {
        for x in 0..b.width() - 1 {
            let l = luma(x, y);
            e += (l - luma(x + 1, y)).powi(2) + (l - luma(x, y + 1)).powi(2);
        }
    }
    e / f64::from(b.width() * b.height())
}
