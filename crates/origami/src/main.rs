//! The `origami` command: a thin front over the engine, store and server crates.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use origami::{config_cmd, engine_cmd, healthcheck_cmd, serve_cmd, store_cmd, url_cmd};

// mimalloc instead of glibc malloc, for Rust and C code alike (the `override` feature makes it
// the process's malloc/free, so libjpeg-turbo's and libwebp's buffers use it too). The server
// allocates and frees multi-megabyte pixel and coefficient buffers on several threads; glibc
// raises its mmap threshold after the first large free and then keeps such buffers in
// per-thread arenas, so RSS ratchets up under load. Measured with cold thumbnail traffic
// (benches/load.sh's URLs) at c=8 for 15 s: glibc under the C libraries 669 MB peak RSS and
// 557 MB once idle; mimalloc everywhere, transforms on two threads, immediate purging (below)
// 271 MB peak and 69 MB once idle.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (mimalloc.h; the numbering is part of its
/// ABI, which is why retired options keep their slots as `deprecated_*`).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Makes mimalloc return freed memory to the OS at once instead of after a delay. A delayed
/// purge runs on the thread's next allocator call, so memory freed on a thread that then goes
/// idle (Tokio's blocking threads after a file read, a transform worker after a burst) stays
/// resident: with the default delay the server held 316 MB 3 s after a burst instead of 69 MB.
fn purge_freed_memory_at_once() {
    // SAFETY: mi_option_set only stores an integer in mimalloc's option table; any value is
    // valid for this option (0 = purge immediately).
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}

/// Origami: a content-addressed image origin for CDNs.
#[derive(Debug, Parser)]
#[command(name = "origami", version, about)]
struct Cli {
    /// The TOML configuration file (listen address, store regions, failover, server, cache,
    /// working copies, limits, security); every key can also be set with
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
    /// Take originals down in every region (tombstone, original, derived objects) and print
    /// every path to invalidate at the CDN (`--restore`: lift a takedown).
    Delete(store_cmd::DeleteArgs),
    /// Copy every original to every region lacking it and finish deletes regions missed
    /// (`--verify`: also repair corrupt copies).
    Sync(store_cmd::SyncArgs),
    /// Serve the HTTP origin API (thumbnails, originals, uploads, metrics) over the store.
    Serve(serve_cmd::ServeArgs),
    /// Check the configuration (`check`), optionally printing it with secrets redacted
    /// (`check --print`).
    Config(config_cmd::ConfigArgs),
    /// Ask the local server's /healthz (at the configured `listen`): exit 0 on 200, else 1.
    /// For container health checks.
    Healthcheck(healthcheck_cmd::HealthcheckArgs),
    /// Print a path signed with the first configured signing key: `/s/{signature}{PATH}`.
    Sign(url_cmd::SignArgs),
    /// Print an image URL (signed when signing keys are configured), or with --widths one per
    /// width and a ready srcset attribute.
    Url(url_cmd::UrlArgs),
}

fn main() -> ExitCode {
    purge_freed_memory_at_once();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap exits 2 for usage errors and 0 for --help/--version.
            err.exit();
        }
    };
    let result = match cli.command {
        Command::Transform(args) => engine_cmd::transform(args, cli.config.as_deref()),
        Command::Probe(args) => engine_cmd::probe(args),
        Command::Put(args) => store_cmd::put(args, cli.config.as_deref()),
        Command::Get(args) => store_cmd::get(args, cli.config.as_deref()),
        Command::Delete(args) => store_cmd::delete(args, cli.config.as_deref()),
        Command::Sync(args) => store_cmd::sync(args, cli.config.as_deref()),
        Command::Serve(args) => serve_cmd::serve(args, cli.config.as_deref()),
        Command::Config(args) => config_cmd::config(args, cli.config.as_deref()),
        Command::Healthcheck(args) => healthcheck_cmd::healthcheck(args, cli.config.as_deref()),
        Command::Sign(args) => url_cmd::sign(args, cli.config.as_deref()),
        Command::Url(args) => url_cmd::url(args, cli.config.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("origami: {err:#}");
            ExitCode::from(err.exit_code())
        }
    }
}
