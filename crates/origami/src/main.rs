//! The `origami` command: a thin front over the engine, store and server crates.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod config;
mod engine_cmd;
mod error;
mod serve_cmd;
mod server_config;
mod store_cmd;

// mimalloc instead of glibc malloc: the server allocates and frees multi-megabyte pixel buffers
// on several worker threads at once; glibc's per-thread arenas keep those pages mapped, so RSS
// ratchets up under load, while mimalloc returns freed segments to the OS and is faster for the
// many small allocations of request handling.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Origami: a content-addressed image origin for CDNs.
#[derive(Debug, Parser)]
#[command(name = "origami", version, about)]
struct Cli {
    /// The TOML configuration file (listen address, store regions, failover, server, cache,
    /// limits, security); every key can also be set with
    /// `ORIGAMI_<SECTION>__<KEY>`. Without one, originals go to `./origami-data`.
    #[arg(long, global = true, value_name = "FILE", env = "ORIGAMI_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply an operation pipeline (the URL grammar, e.g. `thumb/400/300/q/75`) to an image file.
    Transform(engine_cmd::TransformArgs),
    /// Print an image's format, size, orientation and alpha as JSON, without decoding pixels.
    Probe(engine_cmd::ProbeArgs),
    /// Store originals: print `<hash>  <file>` per file (as `b3sum` does) and the regions holding it.
    Put(store_cmd::PutArgs),
    /// Read an original by hash through the failover path (verified), to stdout or a file.
    Get(store_cmd::GetArgs),
    /// Copy every original to every region lacking it (`--verify`: also repair corrupt copies).
    Sync(store_cmd::SyncArgs),
    /// Serve the HTTP origin API (thumbnails, originals, uploads, metrics) over the store.
    Serve(serve_cmd::ServeArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap exits 2 for usage errors and 0 for --help/--version.
            err.exit();
        }
    };
    let result = match cli.command {
        Command::Transform(args) => engine_cmd::transform(args),
        Command::Probe(args) => engine_cmd::probe(args),
        Command::Put(args) => store_cmd::put(args, cli.config.as_deref()),
        Command::Get(args) => store_cmd::get(args, cli.config.as_deref()),
        Command::Sync(args) => store_cmd::sync(args, cli.config.as_deref()),
        Command::Serve(args) => serve_cmd::serve(args, cli.config.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("origami: {err:#}");
            ExitCode::from(err.exit_code())
        }
    }
}
