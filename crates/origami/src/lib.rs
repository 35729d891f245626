//! The `origami` command's library: its configuration (a TOML file plus `ORIGAMI_*`
//! variables, loaded into the engine's, store's and server's own types) and its subcommands.
//! `src/main.rs` only parses the command line and calls these.
//!
//! ```
//! // With no file and no variable: the local store in ./origami-data, the libraries' defaults.
//! let config = origami::config::Config::load(None)?;
//! assert_eq!(config.limits, origami_engine::Limits::default());
//! let server = origami::config::server_config(&config)?;
//! assert!(server.upload_token.is_none());
//! # Ok::<(), anyhow::Error>(())
//! ```

#![deny(missing_docs)]

pub mod config;
pub mod config_cmd;
pub mod engine_cmd;
pub mod error;
pub mod healthcheck_cmd;
mod range;
pub mod runtime;
pub mod serve_cmd;
pub mod server_sections;
pub mod store_cmd;
pub mod url_cmd;
