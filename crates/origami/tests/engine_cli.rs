//! `origami transform` and `origami probe` as a user runs them: the built binary, real files,
//! exit codes (0 ok, 1 bad input, 2 bad arguments) and one-line errors.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

fn origami(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_origami"))
        .args(args)
        .output()
        .expect("run origami")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("origami-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn transform_writes_the_format_named_by_the_extension() {
    let dir = temp_dir("transform");
    for (ext, magic) in [
        ("webp", &b"RIFF"[..]),
        ("jpg", &[0xFF, 0xD8][..]),
        ("png", &b"\x89PNG"[..]),
    ] {
        let out = dir.join(format!("thumb.{ext}"));
        let run = origami(&[
            "transform".as_ref(),
            fixture("baseline.jpg").as_os_str(),
            "thumb/40/30/g/smart".as_ref(),
            out.as_os_str(),
        ]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let bytes = std::fs::read(&out).unwrap();
        assert!(bytes.starts_with(magic), "{ext}");
        let info = origami_engine::probe(&bytes).unwrap();
        assert_eq!((info.width, info.height), (40, 30));
    }
}

#[test]
fn transform_honours_the_configured_limits() {
    let dir = temp_dir("limits");
    let out = dir.join("thumb.jpg");
    let input = fixture("baseline.jpg");
    let args = [
        "transform".as_ref(),
        input.as_os_str(),
        "thumb/40/30".as_ref(),
        out.as_os_str(),
    ];
    let run = Command::new(env!("CARGO_BIN_EXE_origami"))
        .args(args)
        .env("ORIGAMI_LIMITS__MAX_SOURCE_PIXELS", "100")
        .output()
        .expect("run origami");
    assert_eq!(run.status.code(), Some(1), "over [limits] is bad input");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("too large"), "{stderr}");
    assert!(origami(&args).status.success(), "within the default limits");
}

#[test]
fn probe_prints_json() {
    let run = origami(&["probe".as_ref(), fixture("orient-6.jpg").as_os_str()]);
    assert!(run.status.success());
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    // The same shape as `GET /info/{hash}` (both come from `origami_server::info_json`).
    let bytes = std::fs::read(fixture("orient-6.jpg")).unwrap();
    let info = origami_engine::probe(&bytes).unwrap();
    let hash = origami_store::ContentHash::of(&bytes);
    assert_eq!(
        json,
        origami_server::info_json(&hash, &info, bytes.len() as u64)
    );
    assert_eq!(json["hash"], hash.to_string());
    assert_eq!(json["format"], "jpg");
    assert_eq!(json["width"], 40);
    assert_eq!(json["height"], 60);
    assert_eq!(json["orientation"], 6);
    assert_eq!(json["has_alpha"], false);
}

#[test]
fn bad_arguments_exit_2_and_bad_input_exits_1_with_one_line() {
    let dir = temp_dir("errors");
    let out = dir.join("out.jpg").display().to_string();
    let bmp = dir.join("out.bmp").display().to_string();
    let f = |name: &str| fixture(name).display().to_string();
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (
            vec![
                "transform".into(),
                f("baseline.jpg"),
                "thumb/0400/300".into(),
                out.clone(),
            ],
            2,
            "leading zeros",
        ),
        (
            vec![
                "transform".into(),
                f("baseline.jpg"),
                "thumb/40/30".into(),
                bmp,
            ],
            2,
            "output format",
        ),
        (
            vec![
                "transform".into(),
                f("corrupt.jpg"),
                "thumb/40/30".into(),
                out.clone(),
            ],
            1,
            "corrupt",
        ),
        (
            vec!["transform".into(), f("bomb.png"), "thumb/40/30".into(), out],
            1,
            "too large",
        ),
        (
            vec!["probe".into(), f("text.jpg")],
            1,
            "not a recognised image",
        ),
    ];
    for (args, code, needle) in cases {
        let os_args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        let run = origami(&os_args);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    }
    let run = origami(&["transform".as_ref()]);
    assert_eq!(
        run.status.code(),
        Some(2),
        "missing arguments are a usage error"
    );
}
