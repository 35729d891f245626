//! `origami serve` run as a process: with no configuration at all it serves `./origami-data`,
//! `listen`/`[server]`/`[security]` come from the file and the environment, `--log-format json`
//! writes JSON lines, and SIGTERM drains and exits cleanly.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_origami");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A raw HTTP/1.1 GET: (status, headers as lowercase "name: value" lines, body).
fn get(port: u16, path: &str) -> (u16, Vec<String>, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines.map(str::to_ascii_lowercase).collect();
    (status, headers, response[split + 4..].to_vec())
}

/// `origami serve` in `dir`, ready (answering /healthz) before this returns.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut command = Command::new(BIN);
        command
            .arg("serve")
            .args(args)
            .current_dir(dir)
            .env("ORIGAMI_LISTEN", &listen)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().unwrap();
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "origami serve did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// SIGTERM, then the exit status and everything logged.
    fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let stderr = self.child.stderr.take().unwrap();
        let lines = BufReader::new(stderr).lines().map(Result::unwrap).collect();
        (self.child.wait().unwrap(), lines)
    }
}

fn put(dir: &Path, file: &Path) -> String {
    let output = Command::new(BIN)
        .arg("put")
        .arg(file)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn serves_the_local_store_with_no_configuration_and_drains_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let hash = put(dir.path(), &fixture("baseline.jpg"));
    assert!(dir.path().join("origami-data").is_dir());

    let server = Server::start(dir.path(), &[], &[]);
    let (status, _, body) = get(server.port, "/healthz");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    let (status, headers, body) = get(server.port, &format!("/thumb/40/30/{hash}.png"));
    assert_eq!(status, 200);
    assert!(headers.contains(&"cache-control: public, max-age=31536000, immutable".to_owned()));
    assert!(headers.contains(&"content-type: image/png".to_owned()));
    assert_eq!(&body[1..4], b"PNG");

    let (status, headers, _) = get(server.port, &format!("/thumb/40/30/{}.png", "0".repeat(64)));
    assert_eq!(status, 404);
    assert!(!headers.iter().any(|h| h.contains("immutable")));

    let (status, _, body) = get(server.port, "/metrics");
    assert_eq!(status, 200);
    let metrics = String::from_utf8(body).unwrap();
    assert!(metrics.contains("origami_http_requests_total"), "{metrics}");
    assert!(metrics.contains("origami_region_up"), "{metrics}");

    let (exit, log) = server.terminate();
    assert!(exit.success(), "{exit:?}\n{}", log.join("\n"));
    // Human logs: the start line and one access-log line per request.
    assert!(log.iter().any(|l| l.contains("starting")), "{log:?}");
    assert!(log.iter().any(|l| l.contains("/thumb/40/30/")), "{log:?}");
}

#[test]
fn reads_the_server_sections_and_writes_json_logs() {
    let dir = tempfile::tempdir().unwrap();
    let hash = put(dir.path(), &fixture("baseline.jpg"));
    std::fs::write(
        dir.path().join("origami.toml"),
        "[security]\nallowed_sizes = [\"40x30\"]\n[server]\nworkers = 1\n",
    )
    .unwrap();

    let server = Server::start(
        dir.path(),
        &["--config", "origami.toml", "--log-format", "json"],
        &[("ORIGAMI_CACHE__MEMORY_BYTES", "1048576")],
    );
    assert_eq!(get(server.port, &format!("/thumb/40/30/{hash}.jpg")).0, 200);
    let (status, _, body) = get(server.port, &format!("/thumb/41/30/{hash}.jpg"));
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));

    let (exit, log) = server.terminate();
    assert!(exit.success());
    assert!(!log.is_empty());
    for line in &log {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(value.get("level").is_some(), "{line}");
    }
}

#[test]
fn refuses_a_bad_server_configuration_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    for (key, value) in [
        ("ORIGAMI_SECURITY__SIGNING_KEYS", "[\"not-hex\"]"),
        ("ORIGAMI_SERVER__MAX_QUEUE", "lots"),
        ("ORIGAMI_SECURITY__ALLOWED_SIZES", "[\"400\"]"),
        // Out of range: refused before 100 000 threads are started.
        ("ORIGAMI_SERVER__WORKERS", "100000"),
        ("ORIGAMI_LIMITS__AVIF_SPEED", "0"),
        ("ORIGAMI_LIMITS__MAX_OUTPUT_SIDE", "0"),
    ] {
        let output = Command::new(BIN)
            .arg("serve")
            .current_dir(dir.path())
            .env(key, value)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{key}={value}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("origami: "), "{stderr}");
    }
}

/// `origami config check [--print]` in `dir` with `env` (and no other `ORIGAMI_*` variable).
fn config_check(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(BIN);
    command.current_dir(dir).args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("ORIGAMI_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied()).output().unwrap()
}

#[test]
fn config_check_names_typos_and_prints_the_effective_configuration_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let key = "00112233445566778899aabbccddeeff";
    std::fs::write(
        dir.path().join("good.toml"),
        format!("[security]\nsigning_keys = [\"{key}\"]\nupload_token = \"hunter2\"\n"),
    )
    .unwrap();
    let ok = config_check(
        dir.path(),
        &["--config", "good.toml", "config", "check", "--print"],
        &[("ORIGAMI_SERVER__WORKERS", "3")],
    );
    assert!(ok.status.success(), "{ok:?}");
    let printed = String::from_utf8(ok.stdout).unwrap();
    // The file, the variable and the defaults, merged; secrets visibly set but not shown.
    assert!(printed.contains("workers = 3"), "{printed}");
    assert!(printed.contains("max_cost = 6000"), "{printed}");
    assert!(printed.contains("<redacted>"), "{printed}");
    assert!(
        !printed.contains(key) && !printed.contains("hunter2"),
        "{printed}"
    );
    // What it prints is a configuration file that loads again.
    std::fs::write(
        dir.path().join("printed.toml"),
        printed.replace("<redacted>", key),
    )
    .unwrap();
    let again = config_check(
        dir.path(),
        &["--config", "printed.toml", "config", "check"],
        &[],
    );
    assert!(again.status.success(), "{again:?}");

    // A misspelt table and a misspelt variable: exit 2, naming the key and the right one.
    std::fs::write(
        dir.path().join("typo.toml"),
        format!("[securty]\nsigning_keys = [\"{key}\"]\n"),
    )
    .unwrap();
    let typo = config_check(
        dir.path(),
        &["--config", "typo.toml", "config", "check"],
        &[],
    );
    assert_eq!(typo.status.code(), Some(2));
    let err = String::from_utf8(typo.stderr).unwrap();
    assert!(
        err.contains("securty") && err.contains("did you mean `security`?"),
        "{err}"
    );
    let env_typo = config_check(
        dir.path(),
        &["config", "check"],
        &[("ORIGAMI_SECURITY__SIGNING_KEY", key)],
    );
    assert_eq!(env_typo.status.code(), Some(2));
    let err = String::from_utf8(env_typo.stderr).unwrap();
    assert!(err.contains("did you mean `signing_keys`?"), "{err}");
    // A value `origami serve` would refuse (not hex) is refused here too.
    let bad_key = config_check(
        dir.path(),
        &["config", "check"],
        &[("ORIGAMI_SECURITY__SIGNING_KEYS", "[\"not-hex\"]")],
    );
    assert_eq!(bad_key.status.code(), Some(2), "{bad_key:?}");
    // So is an origin with a path, naming the form expected.
    let bad_origin = config_check(
        dir.path(),
        &["config", "check"],
        &[(
            "ORIGAMI_SERVER__CORS_ALLOW_ORIGINS",
            "[\"https://app.example/\"]",
        )],
    );
    assert_eq!(bad_origin.status.code(), Some(2), "{bad_origin:?}");
    let err = String::from_utf8(bad_origin.stderr).unwrap();
    assert!(
        err.contains("cors_allow_origins") && err.contains("scheme://host"),
        "{err}"
    );
    // Presets: from a variable, printed back; non-canonical ones and presets_only without
    // presets are refused.
    let presets = config_check(
        dir.path(),
        &["config", "check", "--print"],
        &[("ORIGAMI_PRESETS__AVATAR", "thumb/128/128/g/smart")],
    );
    assert!(presets.status.success(), "{presets:?}");
    let printed = String::from_utf8(presets.stdout).unwrap();
    assert!(
        printed.contains("[presets]\navatar = \"thumb/128/128/g/smart\""),
        "{printed}"
    );
    for env in [
        ("ORIGAMI_PRESETS__AVATAR", "thumb/128/128/g/center"),
        ("ORIGAMI_PRESETS__AVATAR", "thumb/0128/128"),
        ("ORIGAMI_SECURITY__PRESETS_ONLY", "true"),
    ] {
        let refused = config_check(dir.path(), &["config", "check"], &[env]);
        assert_eq!(refused.status.code(), Some(2), "{env:?}: {refused:?}");
    }
}

#[test]
fn healthcheck_asks_the_configured_listen_address() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // Nothing listens yet: the check fails (exit 1) and says where it asked.
    let down = Command::new(BIN)
        .current_dir(dir.path())
        .env("ORIGAMI_LISTEN", format!("0.0.0.0:{port}"))
        .args(["healthcheck", "--timeout-ms", "500"])
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1), "{down:?}");
    assert!(String::from_utf8_lossy(&down.stderr).contains(&format!("127.0.0.1:{port}/healthz")));
    let mut server = Command::new(BIN)
        .current_dir(dir.path())
        .env("ORIGAMI_LISTEN", format!("127.0.0.1:{port}"))
        .args(["serve"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut healthy = false;
    for _ in 0..100 {
        // 0.0.0.0, as in the container, is asked on loopback.
        let up = Command::new(BIN)
            .current_dir(dir.path())
            .env("ORIGAMI_LISTEN", format!("0.0.0.0:{port}"))
            .args(["healthcheck"])
            .output()
            .unwrap();
        if up.status.success() {
            healthy = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    server.kill().unwrap();
    let _ = server.wait();
    assert!(healthy, "healthcheck never passed");
}

/// Runs `origami ARGS` in `dir` with `env`: its stdout lines (it must succeed).
fn origami_lines(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "origami {args:?}: {out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn sign_url_and_the_client_snippets_make_urls_the_server_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let hash = put(dir.path(), &fixture("baseline.jpg"));
    let key = "00112233445566778899aabbccddeeff";
    let keys = format!("[\"{key}\"]");
    let env = [("ORIGAMI_SECURITY__SIGNING_KEYS", keys.as_str())];
    let server = Server::start(dir.path(), &[], &env);
    let rest = format!("/thumb/40/30/{hash}.png");
    assert_eq!(get(server.port, &rest).0, 403, "unsigned is refused");

    // origami sign
    let signed = origami_lines(dir.path(), &["sign", &rest], &env).remove(0);
    assert_eq!(get(server.port, &signed).0, 200, "{signed}");
    // A path the server would refuse is refused here (exit 2), with the reason.
    let bad = Command::new(BIN)
        .args(["sign", &format!("/thumb/040/30/{hash}.png")])
        .current_dir(dir.path())
        .envs(env)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");

    // origami url, with a srcset
    let lines = origami_lines(
        dir.path(),
        &[
            "url",
            &hash,
            "thumb/{w}/0",
            "--widths",
            "40,80",
            "--format",
            "webp",
        ],
        &env,
    );
    assert_eq!(lines.len(), 3, "{lines:?}");
    for url in &lines[..2] {
        assert_eq!(get(server.port, url).0, 200, "{url}");
    }
    assert_eq!(
        lines[2],
        format!("srcset=\"{} 40w, {} 80w\"", lines[0], lines[1])
    );

    // The JavaScript and Python snippets sign exactly as the server verifies.
    let clients = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients");
    let node = std::env::var_os("NODE").unwrap_or_else(|| "node".into());
    let script = format!(
        "import {{ imagePath, srcset }} from {:?};\n\
         console.log(await imagePath({{ hash: {hash:?}, ops: 'thumb/40/30', format: 'png', key: {key:?} }}));\n\
         console.log(await srcset({{ hash: {hash:?}, widths: [40, 80], ops: 'thumb/{{w}}/0', format: 'webp', key: {key:?} }}));",
        clients.join("origami-url.mjs").display().to_string(),
    );
    let js = Command::new(&node)
        .args(["--input-type=module", "-e", &script])
        .output()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): run scripts/setup.sh"));
    assert!(js.status.success(), "{js:?}");
    let js = String::from_utf8(js.stdout).unwrap();
    let mut js = js.lines();
    assert_eq!(
        js.next(),
        Some(signed.as_str()),
        "node signs like origami sign"
    );
    assert_eq!(
        js.next().map(str::to_owned),
        Some(format!("{} 40w, {} 80w", lines[0], lines[1])),
        "node's srcset"
    );
    let py = Command::new("python3")
        .arg(clients.join("origami_url.py"))
        .args([&hash, "thumb/40/30", "png", key])
        .output()
        .unwrap();
    assert!(py.status.success(), "{py:?}");
    let py = String::from_utf8(py.stdout).unwrap();
    assert_eq!(py.trim(), signed, "python signs like origami sign");
    let _ = server.terminate();
}
