//! `origami transform` and `origami probe`: the engine on local files.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use origami_engine::{ImageFormat, Limits, Pipeline};
use serde::Serialize;

use crate::error::{CliError, CliResult};

/// Arguments of `origami transform`.
#[derive(Debug, Args)]
pub struct TransformArgs {
    /// The source image (JPEG, PNG, WebP or GIF).
    input: PathBuf,
    /// The operation pipeline, exactly as in a URL, e.g. `thumb/400/300/g/smart/q/75`
    /// (use "" for a plain format conversion).
    ops: String,
    /// Where to write the result; its extension (jpg, png, webp, avif, gif) picks the format.
    output: PathBuf,
    /// Output format, overriding the output file's extension.
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
}

/// Arguments of `origami probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The image to inspect.
    input: PathBuf,
}

fn read_input(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path)
        .with_context(|| format!("cannot read {}", path.display()))
        .map_err(CliError::failure)
}

/// Runs `origami transform`.
pub fn transform(args: TransformArgs) -> CliResult {
    let pipeline: Pipeline = args
        .ops
        .parse()
        .map_err(|e| CliError::usage(anyhow::anyhow!("bad pipeline {:?}: {e}", args.ops)))?;
    let format = match &args.format {
        Some(name) => name.parse::<ImageFormat>().map_err(CliError::usage)?,
        None => args
            .output
            .extension()
            .and_then(|e| e.to_str())
            .and_then(ImageFormat::from_extension)
            .ok_or_else(|| {
                CliError::usage(anyhow::anyhow!(
                    "cannot tell the output format from {}: name it .jpg, .png, .webp, .avif or \
                     .gif, or pass --format",
                    args.output.display()
                ))
            })?,
    };
    let input = read_input(&args.input)?;
    let out = origami_engine::transform(&input, &pipeline, format, &Limits::default())
        .with_context(|| args.input.display().to_string())?;
    std::fs::write(&args.output, &out.bytes)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    eprintln!(
        "{}: {}x{} {}, {} bytes",
        args.output.display(),
        out.width,
        out.height,
        out.format,
        out.bytes.len()
    );
    Ok(())
}

#[derive(Serialize)]
struct ProbeReport {
    format: String,
    width: u32,
    height: u32,
    orientation: u8,
    has_alpha: bool,
    progressive: bool,
    has_icc_profile: bool,
    bytes: usize,
}

/// Runs `origami probe`.
pub fn probe(args: ProbeArgs) -> CliResult {
    let input = read_input(&args.input)?;
    let info = origami_engine::probe(&input).with_context(|| args.input.display().to_string())?;
    let report = ProbeReport {
        format: info.format.to_string(),
        width: info.width,
        height: info.height,
        orientation: info.orientation,
        has_alpha: info.has_alpha,
        progressive: info.progressive,
        has_icc_profile: info.has_icc_profile,
        bytes: input.len(),
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
