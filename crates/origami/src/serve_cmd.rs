//! `origami serve`: the HTTP origin front over the configured store.

use std::path::Path;

use anyhow::{anyhow, Context as _};
use origami_server::AppState;

use crate::config::{build_store, server_config, Config};
use crate::error::{CliError, CliResult};
use crate::runtime::{init_logging, runtime, LogFormat};

/// `origami serve [--listen ADDR] [--log-format human|json]`
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The address to listen on (overrides `listen` from the configuration; default
    /// `127.0.0.1:8080`). Port 0 picks a free port, logged at start.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The log format: `human` or `json` (one object per line). `RUST_LOG` sets the level
    /// (default `info`: one access-log line per request).
    #[arg(long, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
}

/// `origami serve`: loads the configuration, opens the store and serves until SIGTERM/SIGINT,
/// then drains in-flight requests.
pub fn serve(args: ServeArgs, config_file: Option<&Path>) -> CliResult {
    init_logging(args.log_format, "info");
    let config = Config::load(config_file).map_err(CliError::usage)?;
    let server = server_config(&config).map_err(CliError::usage)?;
    let listen = args.listen.unwrap_or_else(|| config.listen.clone());
    // Installed before the store is built so the store's region gauges are recorded too.
    let prometheus =
        origami_server::metrics::install_prometheus().map_err(|e| CliError::failure(anyhow!(e)))?;
    runtime()?.block_on(async {
        let store = build_store(&config).await.map_err(CliError::failure)?;
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let regions: Vec<String> = store.region_status().into_iter().map(|r| r.name).collect();
        tracing::info!(
            %listen,
            ?regions,
            persist_derivatives = server.persist_derivatives,
            "origami {} starting",
            env!("CARGO_PKG_VERSION")
        );
        let state = AppState::new(std::sync::Arc::new(store), server, Some(prometheus))
            .context("starting the transform threads")?;
        origami_server::serve(listener, state, origami_server::shutdown_signal())
            .await
            .context("serving")?;
        Ok(())
    })
}
