//! Helpers shared by Origami's benchmarks and measurement tools.

use std::path::PathBuf;

/// A benchmark image: its file name and bytes.
pub struct Photo {
    /// File name, e.g. `photo-a.jpg`.
    pub name: String,
    /// The encoded bytes (JPEG for the photos).
    pub bytes: Vec<u8>,
}

/// Directory of the benchmark photos: `$ORIGAMI_PHOTOS` or `benches/photos`.
pub fn photos_dir() -> PathBuf {
    std::env::var_os("ORIGAMI_PHOTOS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("photos"))
}

/// Loads every `.jpg` in [`photos_dir`], sorted by name. Empty (with a hint on stderr) when
/// the photos have not been fetched with `scripts/fetch-photos.sh`.
pub fn photos() -> Vec<Photo> {
    load(
        &photos_dir(),
        Some("jpg"),
        "photos",
        "scripts/fetch-photos.sh",
    )
}

/// Loads every file in `$ORIGAMI_FORMAT_SAMPLES` or `target/format-samples` (one ~12 MP
/// sample per input format, made by `benches/format-samples.sh`), sorted by name. Empty (with a
/// hint on stderr) when they have not been made.
pub fn format_samples() -> Vec<Photo> {
    let dir = std::env::var_os("ORIGAMI_FORMAT_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/format-samples")
        });
    load(&dir, None, "format samples", "benches/format-samples.sh")
}

/// The files of `dir` (those ending in `.{extension}` when given), sorted by name; empty, with
/// a hint to run `maker`, when `dir` cannot be read.
fn load(dir: &std::path::Path, extension: Option<&str>, what: &str, maker: &str) -> Vec<Photo> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("no {what} in {}: run {maker} first", dir.display());
        return Vec::new();
    };
    let mut files: Vec<Photo> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| extension.is_none_or(|ext| p.extension().is_some_and(|e| e == ext)))
        .filter_map(|p| {
            let bytes = std::fs::read(&p).ok()?;
            let name = p.file_name()?.to_string_lossy().into_owned();
            Some(Photo { name, bytes })
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}

/// SSIMULACRA2 of decoded bitmaps (the `quality` feature: the measurement tools only).
#[cfg(feature = "quality")]
pub mod ssim {
    use origami_engine::Bitmap;
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

    /// SSIMULACRA2 of `candidate` against `reference` (same size; RGB, alpha ignored).
    pub fn score(reference: &Bitmap, candidate: &Bitmap) -> f64 {
        compute_frame_ssimulacra2(to_rgb(reference), to_rgb(candidate)).expect("ssimulacra2")
    }
}
