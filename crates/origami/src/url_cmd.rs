//! `origami sign` and `origami url`: signed paths, URLs and `srcset` attributes, made with the
//! configuration's signing keys and checked against the server's own URL grammar.

use std::path::Path;

use anyhow::{anyhow, bail};
use origami_server::ServerConfig;

use crate::config::{server_config, Config};
use crate::error::{CliError, CliResult};

/// `origami sign PATH`
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The path to sign, as it follows `/s/{signature}`: `/thumb/400/300/<hash>.webp`,
    /// `/original/<hash>.jpg`, `/info/<hash>`, `/thumbhash/<hash>.png`.
    pub path: String,
}

/// `origami url HASH [OPS] [--format EXT] [--widths W,W,...] [--base URL]`
#[derive(Debug, clap::Args)]
pub struct UrlArgs {
    /// The original's hash.
    pub hash: String,
    /// The operations, e.g. `thumb/400/300/q/75` (default none: the original re-encoded).
    /// With `--widths`, `{w}` stands for each width (default `fit/{w}/0`).
    pub ops: Option<String>,
    /// The output format's extension (`jpg`, `png`, `webp`, `avif`, `gif`); none: negotiated.
    #[arg(long)]
    pub format: Option<String>,
    /// Widths for a `srcset`: one URL each, then the `srcset` attribute.
    #[arg(long, value_delimiter = ',')]
    pub widths: Vec<u32>,
    /// Put before each path, e.g. `https://cdn.example` (default: paths only).
    #[arg(long, default_value = "")]
    pub base: String,
}

/// Prints `/s/{signature}{PATH}`, signed with the first of `[security] signing_keys`.
pub fn sign(args: SignArgs, config_file: Option<&Path>) -> CliResult {
    let server = load(config_file)?;
    let key = server.signing_keys.first().ok_or_else(|| {
        CliError::usage(anyhow!(
            "no [security] signing_keys configured: nothing to sign with"
        ))
    })?;
    check(&args.path, &server).map_err(CliError::usage)?;
    println!("/s/{}{}", origami_server::sign(key, &args.path), args.path);
    Ok(())
}

/// Prints one URL, or with `--widths` one per width and then `srcset="..."`; signed when
/// signing keys are configured.
pub fn url(args: UrlArgs, config_file: Option<&Path>) -> CliResult {
    let server = load(config_file)?;
    let base = args.base.trim_end_matches('/');
    let make = |ops: &str| -> anyhow::Result<String> {
        let steps = ops.trim_matches('/');
        let mut path = String::new();
        if !steps.is_empty() {
            path.push('/');
            path.push_str(steps);
        }
        path.push('/');
        path.push_str(&args.hash);
        if let Some(ext) = &args.format {
            path.push('.');
            path.push_str(ext);
        }
        check(&path, &server)?;
        Ok(match server.signing_keys.first() {
            Some(key) => format!("{base}/s/{}{path}", origami_server::sign(key, &path)),
            None => format!("{base}{path}"),
        })
    };
    if args.widths.is_empty() {
        let ops = args.ops.as_deref().unwrap_or("");
        println!("{}", make(ops).map_err(CliError::usage)?);
        return Ok(());
    }
    let template = args.ops.as_deref().unwrap_or("fit/{w}/0");
    if !template.contains("{w}") {
        return Err(CliError::usage(anyhow!(
            "with --widths, the operations need {{w}} where each width goes (e.g. thumb/{{w}}/0)"
        )));
    }
    let mut items = Vec::new();
    for width in &args.widths {
        let url = make(&template.replace("{w}", &width.to_string())).map_err(CliError::usage)?;
        println!("{url}");
        items.push(format!("{url} {width}w"));
    }
    println!("srcset=\"{}\"", items.join(", "));
    Ok(())
}

fn load(config_file: Option<&Path>) -> Result<ServerConfig, CliError> {
    let config = Config::load(config_file).map_err(CliError::usage)?;
    server_config(&config).map_err(CliError::usage)
}

/// Refuses a path the server would answer with 400: the same parser, without signatures.
fn check(path: &str, server: &ServerConfig) -> anyhow::Result<()> {
    let unsigned = ServerConfig {
        signing_keys: Vec::new(),
        ..server.clone()
    };
    if !path.starts_with('/') {
        bail!("{path:?}: a path starts with /");
    }
    for route in ["/original/", "/info/", "/thumbhash/"] {
        if let Some(file) = path.strip_prefix(route) {
            origami_server::parse_file(file).map_err(|e| anyhow!("{path}: {}", e.message))?;
            return Ok(());
        }
    }
    origami_server::parse_transform(path, &unsigned)
        .map(drop)
        .map_err(|e| anyhow!("{path}: {}", e.message))
}
