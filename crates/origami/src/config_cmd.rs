//! `origami config check [--print]`: validates the configuration the other commands would load
//! and prints it with its secrets redacted.

use std::path::Path;

use anyhow::Context as _;

use crate::config::{server_config, Config};
use crate::error::{CliError, CliResult};

/// `origami config <command>`
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ConfigCommand {
    /// Load the configuration file (`--config`) and the `ORIGAMI_*` variables exactly as
    /// `origami serve` does, and check every key and value; exit 2 naming the first problem.
    Check {
        /// Also print the effective configuration (defaults, file and variables merged) as
        /// TOML, with tokens and signing keys redacted.
        #[arg(long)]
        print: bool,
    },
}

/// What stands in for a secret in the printed configuration.
pub const REDACTED: &str = "<redacted>";

/// Runs `origami config ...`.
pub fn config(args: ConfigArgs, config_file: Option<&Path>) -> CliResult {
    match args.command {
        ConfigCommand::Check { print } => {
            let config = Config::load(config_file).map_err(CliError::usage)?;
            // The checks `origami serve` makes when it turns the file into the server's own
            // configuration (signing keys' hex, allowed sizes, ranges).
            server_config(&config).map_err(CliError::usage)?;
            if print {
                let text = toml::to_string_pretty(&redacted(config))
                    .context("printing the configuration")?;
                print!("{text}");
            } else {
                let source = config_file
                    .map_or_else(|| "no file".to_owned(), |path| path.display().to_string());
                eprintln!("origami: configuration OK ({source} + ORIGAMI_* variables)");
            }
            Ok(())
        }
    }
}

/// `config` with every secret replaced by [`REDACTED`] (a set secret stays visibly set).
pub fn redacted(mut config: Config) -> Config {
    let security = &mut config.security;
    for token in [&mut security.upload_token, &mut security.metrics_token] {
        if token.is_some() {
            *token = Some(REDACTED.to_owned());
        }
    }
    for key in &mut security.signing_keys {
        *key = REDACTED.to_owned();
    }
    config
}
