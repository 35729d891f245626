//! Two S3 regions (the tests' s3s servers) on loopback whose faults are driven from stdin, for
//! `benches/chaos.sh`:
//!
//! ```sh
//! cargo run --release -p origami-store --features test-support --example chaos_regions
//! ```
//!
//! It prints `region NAME ENDPOINT ROOT` for `east` and `west` (bucket `origami` in each; the
//! objects are files under ROOT/origami), then `ready`, and then reads one command per line,
//! answering `ok` or `error: ...`:
//!
//! - `stop REGION`: a real outage (the listener closes, open connections drop);
//! - `start REGION`: back on the same port, with the same data;
//! - `slow REGION MS`: every request first waits MS milliseconds (0: no delay);
//! - `fail REGION PERCENT`: that share of requests answers `500 InternalError`;
//! - `heal REGION`: no delay, no failures (a stopped region stays stopped);
//! - `quit` (or end of input).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use origami_store::testing::S3TestServer;
use tokio::io::{AsyncBufReadExt as _, BufReader};

const BUCKET: &str = "origami";

async fn command(line: &str, regions: &[(&str, S3TestServer)]) -> Result<(), String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let region = |name: &str| {
        regions
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, server)| server)
            .ok_or_else(|| format!("no region {name:?}"))
    };
    let number = |word: Option<&&str>| -> Result<u64, String> {
        word.ok_or("a number is missing")?
            .parse()
            .map_err(|e| format!("{e}"))
    };
    match words.as_slice() {
        ["stop", name] => region(name)?.stop(),
        ["start", name] => region(name)?.restart().await.map_err(|e| e.to_string())?,
        ["slow", name, ..] => {
            region(name)?.set_delay(Duration::from_millis(number(words.get(2))?));
        }
        ["fail", name, ..] => {
            let percent = u8::try_from(number(words.get(2))?.min(100)).unwrap_or(100);
            region(name)?.set_failing_percent(percent);
        }
        ["heal", name] => {
            let server = region(name)?;
            server.set_delay(Duration::ZERO);
            server.set_failing_percent(0);
            server.set_failing(false);
        }
        _ => return Err(format!("unknown command {line:?}")),
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut regions = Vec::new();
    for name in ["east", "west"] {
        let server = S3TestServer::start_with_buckets(&[BUCKET]).await.unwrap();
        println!(
            "region {name} {} {}",
            server.endpoint(),
            server.root().display()
        );
        regions.push((name, server));
    }
    println!("ready");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "quit" {
            break;
        }
        match command(line, &regions).await {
            Ok(()) => println!("ok"),
            Err(err) => println!("error: {err}"),
        }
    }
}
