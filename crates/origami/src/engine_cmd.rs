//! `origami transform` and `origami probe`: the engine on local files.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use origami_engine::{ImageFormat, Pipeline};
use origami_store::ContentHash;

use crate::config::Config;
use crate::error::{CliError, CliResult};

/// Arguments of `origami transform`.
#[derive(Debug, Args)]
pub struct TransformArgs {
    /// The source image, in any input format (JPEG, PNG, WebP, GIF, AVIF, HEIC, JPEG XL, SVG,
    /// TIFF, BMP, ICO, QOI).
    input: PathBuf,
    /// The operation pipeline, exactly as in a URL, e.g. `thumb/400/300/g/smart/q/75`
    /// (use "" for a plain format conversion).
    ops: String,
    /// Where to write the result; its extension (jpg, png, webp, avif, gif) picks the format.
    output: PathBuf,
    /// Output format, overriding the output file's extension.
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Print the estimated cost (CPU milliseconds, peak memory, the pixel counts they come
    /// from) as JSON and write nothing: what `limits.max_cost` is compared with.
    #[arg(long)]
    estimate: bool,
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

/// Runs `origami transform`, within the `[limits]` of the configuration (`config_file` and
/// `ORIGAMI_LIMITS__*`), as the server would.
pub fn transform(args: TransformArgs, config_file: Option<&Path>) -> CliResult {
    let limits = Config::load(config_file).map_err(CliError::usage)?.limits;
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
            .filter(|f| f.is_output())
            .ok_or_else(|| {
                CliError::usage(anyhow::anyhow!(
                    "cannot tell the output format from {}: name it .jpg, .png, .webp, .avif or \
                     .gif, or pass --format",
                    args.output.display()
                ))
            })?,
    };
    let input = read_input(&args.input)?;
    if args.estimate {
        let plan = origami_engine::plan(&input, &pipeline, &limits)
            .with_context(|| args.input.display().to_string())?;
        let cost = plan.cost(format);
        let estimate = serde_json::json!({
            "work_ms": cost.work_ms,
            "memory_bytes": cost.memory_bytes,
            "source_pixels": cost.source_pixels,
            "decoded_pixels": cost.decoded_pixels,
            "resampled_pixels": cost.resampled_pixels,
            "blurred_pixels": cost.blurred_pixels,
            "encoded_pixels": cost.encoded_pixels,
            "max_cost": limits.max_cost,
        });
        println!("{estimate}");
        return Ok(());
    }
    let out = origami_engine::transform(&input, &pipeline, format, &limits)
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

/// Runs `origami probe`: the same JSON as `GET /info/{hash}`.
pub fn probe(args: ProbeArgs) -> CliResult {
    let input = read_input(&args.input)?;
    let info = origami_engine::probe(&input).with_context(|| args.input.display().to_string())?;
    let hash = ContentHash::of(&input);
    let report = origami_server::info_json(&hash, &info, input.len() as u64);
    println!("{report}");
    Ok(())
}
