//! `origami put/get/sync` run as a process, against a local store and against two real S3
//! servers (s3s, in this test process) configured through a TOML file.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Output;

use origami_store::testing::{S3TestServer, ACCESS_KEY_ID, SECRET_ACCESS_KEY};
use origami_store::{ContentHash, Store as _};

const BIN: &str = env!("CARGO_BIN_EXE_origami");

async fn origami(dir: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new(BIN)
        .args(args)
        .current_dir(dir)
        // Only these credentials; no profile files, no instance metadata.
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("no-aws-credentials"),
        )
        .env_remove("AWS_PROFILE")
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn ok(output: &Output) -> (String, String) {
    let (out, err) = (text(&output.stdout), text(&output.stderr));
    assert!(
        output.status.success(),
        "status {:?}\nstdout:\n{out}\nstderr:\n{err}",
        output.status
    );
    (out, err)
}

fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

fn sample(seed: u8, len: usize) -> Vec<u8> {
    let mut data = vec![0xff, 0xd8, 0xff, 0xe0];
    data.extend((0..len).map(|i| (i as u8).wrapping_mul(7) ^ seed));
    data
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_with_the_default_local_store() {
    let dir = tempfile::tempdir().unwrap();
    let a = sample(1, 50_000);
    let b = sample(2, 10);
    write_file(dir.path(), "a.jpg", &a);
    write_file(dir.path(), "b.jpg", &b);

    // No config file: ./origami-data.
    let output = origami(dir.path(), &["put", "a.jpg", "b.jpg"]).await;
    let (out, err) = ok(&output);
    let (ha, hb) = (ContentHash::of(&a), ContentHash::of(&b));
    assert_eq!(out, format!("{ha}  a.jpg\n{hb}  b.jpg\n"), "b3sum format");
    assert!(err.contains("a.jpg: stored in local"), "{err}");
    assert!(dir
        .path()
        .join("origami-data")
        .join(&ha.to_string()[..2])
        .is_dir());

    let output = origami(dir.path(), &["get", &ha.to_string()]).await;
    ok(&output);
    assert_eq!(output.stdout, a);
    ok(&origami(dir.path(), &["get", &hb.to_string(), "-o", "out.jpg"]).await);
    assert_eq!(std::fs::read(dir.path().join("out.jpg")).unwrap(), b);

    // A missing file fails the command but the others are stored.
    let output = origami(dir.path(), &["put", "missing.jpg", "a.jpg"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(text(&output.stdout), format!("{ha}  a.jpg\n"));
    assert!(text(&output.stderr).contains("missing.jpg"));

    // Bad hash: usage error. Unknown hash: failure.
    assert_eq!(
        origami(dir.path(), &["get", "../etc/passwd"])
            .await
            .status
            .code(),
        Some(2)
    );
    let unknown = ContentHash::of(b"unknown").to_string();
    let output = origami(dir.path(), &["get", &unknown]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("not found"),
        "{}",
        text(&output.stderr)
    );

    // A config file pointing elsewhere, with an env override of the same key.
    write_file(
        dir.path(),
        "origami.toml",
        b"[store]\nlocal_dir = \"elsewhere\"\n",
    );
    ok(&origami(dir.path(), &["--config", "origami.toml", "put", "b.jpg"]).await);
    assert!(dir.path().join("elsewhere").is_dir());
    let output = tokio::process::Command::new(BIN)
        .args(["--config", "origami.toml", "get", &ha.to_string()])
        .current_dir(dir.path())
        .env("ORIGAMI_STORE__LOCAL_DIR", "origami-data")
        .output()
        .await
        .unwrap();
    ok(&output);
    assert_eq!(output.stdout, a);
    // Unknown keys in a section are configuration errors.
    write_file(dir.path(), "bad.toml", b"[failover]\nhedge_after = 1\n");
    assert_eq!(
        origami(
            dir.path(),
            &["--config", "bad.toml", "get", &ha.to_string()]
        )
        .await
        .status
        .code(),
        Some(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_sync_across_two_s3_regions() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = "origami-cli";
    let a = S3TestServer::start_with_buckets(&[bucket]).await.unwrap();
    let b = S3TestServer::start_with_buckets(&[bucket]).await.unwrap();
    let config = format!(
        r#"
[[store.s3]]
name = "region-a"
bucket = "{bucket}"
region = "us-east-1"
endpoint = "{}"

[[store.s3]]
name = "region-b"
bucket = "{bucket}"
region = "eu-west-1"
endpoint = "{}"

[failover]
attempt_timeout_ms = 2000
hedge_after_ms = 100
breaker_failures = 3
breaker_probe_secs = 5
write_quorum = 1
"#,
        a.endpoint(),
        b.endpoint()
    );
    write_file(dir.path(), "origami.toml", config.as_bytes());
    let cfg = ["--config", "origami.toml"];
    let run = |args: &[&str]| {
        let mut all: Vec<&str> = cfg.to_vec();
        all.extend_from_slice(args);
        let all: Vec<String> = all.iter().map(|s| s.to_string()).collect();
        let dir = dir.path().to_path_buf();
        async move {
            let refs: Vec<&str> = all.iter().map(String::as_str).collect();
            origami(&dir, &refs).await
        }
    };
    let files: Vec<Vec<u8>> = (0..3).map(|i| sample(10 + i, 30_000)).collect();
    for (i, data) in files.iter().enumerate() {
        write_file(dir.path(), &format!("f{i}.jpg"), data);
    }
    let hashes: Vec<String> = files
        .iter()
        .map(|d| ContentHash::of(d).to_string())
        .collect();

    let (out, err) = ok(&run(&["put", "f0.jpg", "f1.jpg"]).await);
    assert_eq!(
        out,
        format!("{}  f0.jpg\n{}  f1.jpg\n", hashes[0], hashes[1])
    );
    assert!(
        err.contains("f0.jpg: stored in region-a, region-b"),
        "{err}"
    );

    // Region a down: the put still succeeds, and says what it missed.
    a.stop();
    let (out, err) = ok(&run(&["put", "f2.jpg"]).await);
    assert_eq!(out, format!("{}  f2.jpg\n", hashes[2]));
    assert!(err.contains("stored in region-b; missed region-a"), "{err}");
    // Reads still work.
    let output = run(&["get", &hashes[0]]).await;
    ok(&output);
    assert_eq!(output.stdout, files[0]);
    // Sync cannot list region a: it says so and fails.
    let output = run(&["sync"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("cannot list region-a"),
        "{}",
        text(&output.stdout)
    );

    a.restart().await.unwrap();
    let region_a = a.s3_store("region-a", bucket).await.unwrap();
    let f2 = ContentHash::of(&files[2]);
    assert!(region_a.get(&f2).await.unwrap_err().is_not_found());

    let (out, _) = ok(&run(&["sync", "--dry-run"]).await);
    assert!(
        out.contains(&format!("would copy {} -> region-a", hashes[2])),
        "{out}"
    );
    assert!(
        out.contains("sync (dry run): 3 objects, 1 examined, 1 copies would be made"),
        "{out}"
    );
    assert!(
        region_a.get(&f2).await.unwrap_err().is_not_found(),
        "dry run wrote nothing"
    );

    let (out, _) = ok(&run(&["sync"]).await);
    assert!(
        out.contains(&format!("copied {} -> region-a", hashes[2])),
        "{out}"
    );
    assert!(
        out.contains("3 objects, 1 examined, 1 copies made, 0 corrupt"),
        "{out}"
    );
    assert_eq!(region_a.get(&f2).await.unwrap(), files[2]);
    let (out, _) = ok(&run(&["sync"]).await);
    assert!(
        out.contains("3 objects, 0 examined, 0 copies made"),
        "idempotent: {out}"
    );

    // A corrupt copy in region b: `sync --verify` rewrites it from region a.
    let path = b.object_path(bucket, &format!("originals/{}", hashes[1]));
    let mut bad = std::fs::read(&path).unwrap();
    bad[10] ^= 1;
    std::fs::write(&path, &bad).unwrap();
    let (out, _) = ok(&run(&["sync", "--verify"]).await);
    assert!(
        out.contains(&format!("repaired {} in region-b", hashes[1])),
        "{out}"
    );
    assert!(out.contains("1 corrupt (1 repaired)"), "{out}");
    assert_eq!(std::fs::read(&path).unwrap(), files[1]);

    // `get -o` through the failover path.
    ok(&run(&["get", &hashes[2], "-o", "back.jpg"]).await);
    assert_eq!(
        std::fs::read(dir.path().join("back.jpg")).unwrap(),
        files[2]
    );

    // A takedown while region a is down: refused at once, finished by sync, lifted by
    // --restore. The derived object's public paths are printed for the CDN.
    let region_b = b.s3_store("region-b", bucket).await.unwrap();
    let f0 = ContentHash::of(&files[0]);
    let derived = origami_store::DerivedKey::new(f0, "v1/thumb/10/10.jpg").unwrap();
    region_b
        .put_derived(&derived, bytes::Bytes::from_static(b"thumb"))
        .await
        .unwrap();
    a.stop();
    let output = run(&["delete", &hashes[0]]).await;
    let (out, err) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(1), "partial: {err}");
    assert!(
        err.contains("deleted in region-b with 1 derived objects"),
        "{err}"
    );
    assert!(err.contains("not in region-a"), "{err}");
    eprintln!("{err}");
    for path in [
        format!("/thumb/10/10/{f0}.jpg"),
        format!("/thumb/10/10/{f0}"),
        format!("/original/{f0}"),
        format!("/info/{f0}"),
    ] {
        assert!(
            out.lines().any(|line| line == path),
            "{path} not in:\n{out}"
        );
    }
    assert_eq!(run(&["get", &hashes[0]]).await.status.code(), Some(1));
    a.restart().await.unwrap();
    assert_eq!(
        region_a.get(&f0).await.unwrap(),
        files[0],
        "a kept its copy"
    );
    let output = run(&["get", &hashes[0]]).await;
    assert_eq!(output.status.code(), Some(1), "never served from region a");
    let (out, _) = ok(&run(&["sync"]).await);
    assert!(
        out.contains(&format!("deleted {} in region-a", hashes[0])),
        "{out}"
    );
    assert!(out.contains("1 deletes made"), "{out}");
    assert!(region_a.get(&f0).await.unwrap_err().is_not_found());
    let output = run(&["put", "f0.jpg"]).await;
    assert_eq!(output.status.code(), Some(1), "uploads of it are refused");
    assert!(
        text(&output.stderr).contains("deleted"),
        "{}",
        text(&output.stderr)
    );
    let (_, err) = ok(&run(&["delete", "--restore", &hashes[0]]).await);
    assert!(err.contains("restored"), "{err}");
    ok(&run(&["put", "f0.jpg"]).await);
    let output = run(&["get", &hashes[0]]).await;
    ok(&output);
    assert_eq!(output.stdout, files[0]);
    let (_, err) = ok(&run(&["delete", &hashes[2]]).await);
    eprintln!("{err}");
    assert!(err.contains("deleted in region-a, region-b"), "{err}");
}
