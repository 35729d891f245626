//! `origami put`, `origami get`, `origami delete` and `origami sync`: the store from the
//! command line.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use futures::StreamExt as _;
use origami_store::{
    Blob, BlobOptions, ContentHash, FailoverStore, PutOutcome, Store as _, StoreError, SyncEvent,
    SyncOptions, SyncReport,
};

use crate::config::{build_store, Config};
use crate::error::{CliError, CliResult};
use crate::runtime::{init_logging, runtime, LogFormat};

/// `origami put FILE...`
#[derive(Debug, clap::Args)]
pub struct PutArgs {
    /// The files to store. Prints `<hash>  <file>` per file on stdout (as `b3sum` does) and the
    /// regions holding it on stderr.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Files stored at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
}

/// `origami get HASH [-o FILE]`
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// The original's BLAKE3 hash (64 lowercase hex characters).
    #[arg(value_name = "HASH")]
    pub hash: String,
    /// Write to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `origami delete HASH... [--restore]`
#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// The originals' BLAKE3 hashes (64 lowercase hex characters). Prints, on stdout, every
    /// path a CDN may have cached for them, one per line: the input of
    /// `aws cloudfront create-invalidation --paths`.
    #[arg(required = true, value_name = "HASH")]
    pub hashes: Vec<String>,
    /// Lift the takedown instead: remove the tombstones (every region must answer), so that
    /// the originals may be uploaded again.
    #[arg(long)]
    pub restore: bool,
}

/// `origami sync [--verify] [--dry-run]`
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Also re-hash every copy and rewrite corrupt ones from a good copy.
    #[arg(long)]
    pub verify: bool,
    /// Report what would be copied; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Objects processed at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
}

async fn open_store(config: Option<&Path>) -> Result<FailoverStore, CliError> {
    let config = Config::load(config).map_err(CliError::usage)?;
    build_store(&config).await.map_err(CliError::failure)
}

/// `origami put FILE...`: stores each file, hashing it while it is read.
pub fn put(args: PutArgs, config: Option<&Path>) -> CliResult {
    // Store warnings (a region down, a corrupt copy) go to stderr.
    init_logging(LogFormat::Human, "warn");
    runtime()?.block_on(async {
        let store = open_store(config).await?;
        let options = BlobOptions {
            spool_dir: store.spool_dir(),
            ..BlobOptions::default()
        };
        let mut results = futures::stream::iter(args.files)
            .map(|file| {
                let store = &store;
                let options = &options;
                async move {
                    let result = put_file(store, &file, options).await;
                    (file, result)
                }
            })
            .buffered(usize::from(args.jobs));
        let mut failed = 0usize;
        let stdout = std::io::stdout();
        while let Some((file, result)) = results.next().await {
            match result {
                Ok(outcome) => {
                    writeln!(stdout.lock(), "{}  {}", outcome.hash, file.display())?;
                    let mut line = format!(
                        "origami: {}: stored in {}",
                        file.display(),
                        outcome.stored_in.join(", ")
                    );
                    if !outcome.missed.is_empty() {
                        let missed: Vec<String> =
                            outcome.missed.iter().map(|c| c.to_string()).collect();
                        line.push_str(&format!(
                            "; missed {} (queued for repair; `origami sync` fixes it)",
                            missed.join("; ")
                        ));
                    }
                    eprintln!("{line}");
                }
                Err(err) => {
                    failed += 1;
                    eprintln!("origami: {}: {err:#}", file.display());
                }
            }
        }
        if failed > 0 {
            return Err(CliError::failure(anyhow!(
                "{failed} file(s) could not be stored"
            )));
        }
        Ok(())
    })
}

async fn put_file(
    store: &FailoverStore,
    file: &Path,
    options: &BlobOptions,
) -> anyhow::Result<PutOutcome> {
    let reader = tokio::fs::File::open(file).await.context("opening")?;
    let mut blob = Blob::from_reader(reader, options)
        .await
        .context("reading")?;
    // The store never sniffs: name the media type with the engine's sniffer, the one the
    // server decodes with (an unrecognised file is stored as `application/octet-stream`).
    if let Some(format) = origami_engine::ImageFormat::sniff(blob.head()) {
        blob = blob.with_content_type(format.mime_type());
    }
    Ok(store.put(&blob).await?)
}

/// `origami get HASH [-o FILE]`: reads through the failover path (verified).
pub fn get(args: GetArgs, config: Option<&Path>) -> CliResult {
    let hash: ContentHash = args.hash.parse().map_err(CliError::usage)?;
    // Store warnings (a region down, a corrupt copy) go to stderr.
    init_logging(LogFormat::Human, "warn");
    runtime()?.block_on(async {
        let store = open_store(config).await?;
        let data = match store.get(&hash).await {
            Ok(got) => got.bytes,
            Err(StoreError::NotFound { .. }) => {
                return Err(CliError::failure(anyhow!(
                    "{hash}: not found in any region"
                )))
            }
            Err(err) => {
                return Err(CliError::failure(
                    anyhow!(err).context(format!("reading {hash}")),
                ))
            }
        };
        match &args.output {
            Some(path) => {
                tokio::fs::write(path, &data)
                    .await
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            None => {
                let mut out = std::io::stdout().lock();
                out.write_all(&data)?;
                out.flush()?;
            }
        }
        Ok(())
    })
}

/// `origami delete HASH...`: takes originals down in every region (a tombstone, then the
/// original and its derived objects) and prints the CDN paths to invalidate.
pub fn delete(args: DeleteArgs, config: Option<&Path>) -> CliResult {
    init_logging(LogFormat::Human, "warn");
    let loaded = Config::load(config).map_err(CliError::usage)?;
    let server = crate::config::server_config(&loaded).map_err(CliError::usage)?;
    let hashes = args
        .hashes
        .iter()
        .map(|text| {
            text.parse::<ContentHash>().map_err(|e| {
                CliError::usage(anyhow!(
                    "{text:?} is not an original's hash (64 lowercase hex characters): {e}"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    runtime()?.block_on(async {
        let store = build_store(&loaded).await.map_err(CliError::failure)?;
        let mut incomplete = 0usize;
        let stdout = std::io::stdout();
        for hash in hashes {
            if args.restore {
                store
                    .restore(&hash)
                    .await
                    .with_context(|| format!("restoring {hash} (every region must answer)"))?;
                eprintln!("restored {hash}: uploads of it are accepted again");
                continue;
            }
            let started = std::time::Instant::now();
            let outcome = store
                .delete(&hash)
                .await
                .with_context(|| format!("deleting {hash}: no region recorded it"))?;
            let took = started.elapsed();
            let held = if outcome.had_original {
                "deleted"
            } else {
                "not found in any region that answered; tombstoned anyway (its upload is refused)"
            };
            eprintln!(
                "{hash}: {held} in {} with {} derived objects, in {:.0} ms",
                outcome.deleted_in.join(", "),
                outcome.derived.len(),
                took.as_secs_f64() * 1e3
            );
            for cause in &outcome.pending {
                eprintln!("  not in {}: {}", cause.region, cause.message);
            }
            if !outcome.is_complete() {
                incomplete += 1;
            }
            let mut out = stdout.lock();
            for path in origami_server::cdn_paths(&hash, &outcome.derived, &server) {
                writeln!(out, "{path}")?;
            }
        }
        if incomplete > 0 {
            return Err(CliError::failure(anyhow!(
                "{incomplete} deletes did not reach every region; the originals are refused \
                 already, and `origami sync` (or this command again) finishes the deletes once \
                 the regions are back"
            )));
        }
        Ok(())
    })
}

/// `origami sync [--verify] [--dry-run]`: copies every original to every region lacking it.
pub fn sync(args: SyncArgs, config: Option<&Path>) -> CliResult {
    // Store warnings (a region down, a corrupt copy) go to stderr.
    init_logging(LogFormat::Human, "warn");
    runtime()?.block_on(async {
        let store = open_store(config).await?;
        let regions = store.regions();
        let options = SyncOptions {
            verify: args.verify,
            dry_run: args.dry_run,
            concurrency: usize::from(args.jobs),
        };
        let progress = Progress::new(std::io::stderr().is_terminal(), args.dry_run);
        let report =
            origami_store::sync(&regions, &options, &|event| progress.on_event(event)).await;
        progress.finish();
        println!("{}", summary(&report));
        if report.is_clean() {
            Ok(())
        } else {
            Err(CliError::failure(anyhow!(
                "sync incomplete: {} copies failed, {} regions unlisted",
                report.failed,
                report.unlisted.len()
            )))
        }
    })
}

fn summary(report: &SyncReport) -> String {
    let would = if report.dry_run { "would be " } else { "" };
    format!(
        "sync{}: {} objects, {} examined, {} copies {would}made, {} corrupt ({} {would}repaired), {} deletes {would}made, {} failed, {} regions unlisted",
        if report.dry_run { " (dry run)" } else { "" },
        report.objects,
        report.examined,
        report.copied,
        report.corrupt,
        report.repaired,
        report.deleted,
        report.failed,
        report.unlisted.len(),
    )
}

/// A progress bar on a terminal; one plain line per action otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    dry_run: bool,
}

impl Progress {
    fn new(terminal: bool, dry_run: bool) -> Self {
        let bar = terminal.then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_message("listing regions");
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        Self { bar, dry_run }
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => println!("{text}"),
        }
    }

    fn on_event(&self, event: &SyncEvent) {
        let verb = if self.dry_run { "would copy" } else { "copied" };
        let repair = if self.dry_run {
            "would repair"
        } else {
            "repaired"
        };
        match event {
            SyncEvent::Listed {
                region,
                result: Ok(count),
            } => self.line(format!("listed {region}: {count} objects")),
            SyncEvent::Listed {
                region,
                result: Err(why),
            } => self.line(format!("cannot list {region}: {why}")),
            SyncEvent::Planned { objects } => {
                if let Some(bar) = &self.bar {
                    bar.set_length(*objects);
                    bar.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{bar:40} {pos}/{len} objects ({eta}) {msg}",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                    );
                    bar.set_message("");
                }
            }
            SyncEvent::Object(object) => {
                for region in &object.copied_to {
                    self.line(format!("{verb} {} -> {region}", object.hash));
                }
                for region in &object.repaired_in {
                    self.line(format!("{repair} {} in {region}", object.hash));
                }
                for region in &object.deleted_in {
                    let verb = if self.dry_run {
                        "would delete"
                    } else {
                        "deleted"
                    };
                    self.line(format!("{verb} {} in {region}", object.hash));
                }
                for cause in &object.failed {
                    self.line(format!("failed {} in {cause}", object.hash));
                }
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
            }
            _ => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
