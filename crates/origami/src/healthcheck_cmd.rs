//! `origami healthcheck`: asks the local server's `/healthz`, for container health checks
//! (the Dockerfile's `HEALTHCHECK`) without curl in the image and without repeating the port.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, Context as _};

use crate::config::Config;
use crate::error::{CliError, CliResult};

/// `origami healthcheck [--listen ADDR] [--timeout-ms N]`
#[derive(Debug, clap::Args)]
pub struct HealthcheckArgs {
    /// The server's address (default: `listen` from the configuration, as `serve` reads it;
    /// an unspecified address such as `0.0.0.0` is asked on loopback).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// How long to wait for the answer, connection included.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub timeout_ms: u64,
}

/// Exits 0 when `/healthz` answers 200, 1 otherwise (with the reason on stderr).
pub fn healthcheck(args: HealthcheckArgs, config_file: Option<&Path>) -> CliResult {
    let listen = match args.listen {
        Some(listen) => listen,
        None => Config::load(config_file).map_err(CliError::usage)?.listen,
    };
    let addr = local_address(&listen).map_err(CliError::usage)?;
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let status =
        ask_healthz(addr, timeout).with_context(|| format!("GET http://{addr}/healthz"))?;
    if status == 200 {
        Ok(())
    } else {
        Err(CliError::failure(anyhow!(
            "GET http://{addr}/healthz answered {status}"
        )))
    }
}

/// The address to ask for a server listening on `listen`: the same, but loopback for an
/// unspecified IP (a server on `0.0.0.0:8080` is asked at `127.0.0.1:8080`).
fn local_address(listen: &str) -> anyhow::Result<SocketAddr> {
    let mut addr = listen
        .to_socket_addrs()
        .with_context(|| format!("listen address {listen:?}"))?
        .next()
        .ok_or_else(|| anyhow!("listen address {listen:?} resolves to nothing"))?;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    Ok(addr)
}

/// One `GET /healthz` over HTTP/1.1: the status code.
fn ask_healthz(addr: SocketAddr, timeout: Duration) -> anyhow::Result<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    // The status line is all that matters; /healthz's whole answer is far under 1 KiB.
    let mut head = [0u8; 1024];
    let mut read = 0;
    while read < 12 {
        let n = stream.read(&mut head[read..])?;
        if n == 0 {
            break;
        }
        read += n;
    }
    let line = std::str::from_utf8(&head[..read]).unwrap_or("");
    line.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            anyhow!(
                "not an HTTP answer: {:?}",
                line.lines().next().unwrap_or("")
            )
        })
}
