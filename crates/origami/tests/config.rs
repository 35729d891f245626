//! The configuration loader as a user meets it: defaults, a file, `ORIGAMI_*` overrides, and the
//! errors for keys, tables, variables and values that cannot be right.
// figment::Jail closures return figment::Error, which is large; fine in tests.
#![allow(clippy::unwrap_used, clippy::result_large_err, missing_docs)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use origami::config::{server_config, Config};

#[test]
fn defaults_file_and_env() {
    figment::Jail::expect_with(|jail| {
        let config = Config::load(None).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.store.local_dir, PathBuf::from("./origami-data"));

        jail.create_file(
            "origami.toml",
            r#"
            [store]
            local_dir = "/srv/unused"
            [[store.s3]]
            name = "us-east-1"
            bucket = "origami-use1"
            region = "us-east-1"
            endpoint = "http://127.0.0.1:9000"
            [[store.s3]]
            name = "eu-west-1"
            bucket = "origami-euw1"
            region = "eu-west-1"
            key_prefix = "o/"
            [failover]
            attempt_timeout_ms = 1500
            write_quorum = 2
            "#,
        )?;
        jail.set_env("ORIGAMI_FAILOVER__HEDGE_AFTER_MS", "0");
        jail.set_env("ORIGAMI_CONFIG", "ignored.toml");
        let config = Config::load(Some(Path::new("origami.toml"))).unwrap();
        assert_eq!(config.store.s3.len(), 2);
        assert_eq!(config.store.s3[0].key_prefix, "originals/");
        assert_eq!(
            config.store.s3[0].endpoint.as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(config.store.s3[1].key_prefix, "o/");
        assert_eq!(config.failover.attempt_timeout_ms, 1500);
        assert_eq!(config.failover.hedge_after_ms, 0);
        assert_eq!(config.failover.breaker_probe_secs, 5);
        assert_eq!(config.failover.write_quorum, 2);

        jail.set_env(
            "ORIGAMI_STORE__S3",
            r#"[{name="x",bucket="bucket-x",region="us-east-1"}]"#,
        );
        jail.set_env("ORIGAMI_FAILOVER__WRITE_QUORUM", "1");
        let config = Config::load(Some(Path::new("origami.toml"))).unwrap();
        assert_eq!(config.store.s3.len(), 1);
        assert_eq!(config.store.s3[0].name, "x");
        Ok(())
    });
}

#[test]
fn server_sections() {
    figment::Jail::expect_with(|jail| {
        let defaults = server_config(&Config::load(None).unwrap()).unwrap();
        assert_eq!(Config::default().listen, "127.0.0.1:8080");
        assert_eq!(defaults.max_queue, 64);
        assert_eq!(
            defaults.transform_memory_bytes,
            (128 << 20) * defaults.workers as u64
        );
        assert_eq!(defaults.request_timeout, Duration::from_secs(10));
        assert_eq!(defaults.cache_memory_bytes, 256 << 20);
        assert!(!defaults.persist_derivatives, "off for the local store");
        assert!(defaults.upload_token.is_none());
        assert!(defaults.signing_keys.is_empty() && defaults.allowed_sizes.is_none());
        assert_eq!(defaults.working_copy.max_side, 2048);
        assert_eq!(
            defaults.working_copy.memory_bytes,
            defaults.transform_memory_bytes / 2,
            "half the transform budget by default"
        );

        jail.create_file(
            "origami.toml",
            r#"
            listen = "0.0.0.0:9000"
            [[store.s3]]
            name = "a"
            bucket = "bucket-a"
            region = "us-east-1"
            [server]
            workers = 3
            max_queue = 7
            transform_memory_bytes = 100000000
            request_timeout_ms = 2500
            header_read_timeout_ms = 5000
            max_connections = 100
            shutdown_grace_ms = 1000
            [cache]
            memory_bytes = 1000
            [limits]
            max_source_pixels = 1000000
            avif_speed = 6
            [security]
            upload_token = "secret"
            signing_keys = ["00112233445566778899aabbccddeeff"]
            allowed_sizes = ["400x300", "0x128"]
            [working_copy]
            max_side = 1600
            memory_bytes = 30000000
            "#,
        )?;
        jail.set_env("ORIGAMI_LISTEN", "127.0.0.1:9001");
        jail.set_env("ORIGAMI_SERVER__MAX_QUEUE", "8");
        let config = Config::load(Some(Path::new("origami.toml"))).unwrap();
        assert_eq!(config.listen, "127.0.0.1:9001");
        let server = server_config(&config).unwrap();
        assert_eq!(server.workers, 3);
        assert_eq!(server.max_queue, 8);
        assert_eq!(server.transform_memory_bytes, 100_000_000);
        assert_eq!(server.request_timeout, Duration::from_millis(2500));
        assert_eq!(
            server.connections,
            origami_server::ConnectionLimits {
                header_read_timeout: Duration::from_millis(5000),
                max_connections: 100,
                send_timeout: Duration::from_secs(30),
                shutdown_grace: Duration::from_secs(1),
            }
        );
        assert_eq!(server.cache_memory_bytes, 1000);
        assert!(server.persist_derivatives, "on by default with S3 regions");
        assert_eq!(server.limits.max_source_pixels, 1_000_000);
        assert_eq!(server.limits.avif_speed, 6);
        assert_eq!(
            server.limits.max_output_side,
            origami_engine::Limits::default().max_output_side
        );
        assert_eq!(server.upload_token.as_deref(), Some("secret"));
        assert_eq!(server.signing_keys.len(), 1);
        assert_eq!(server.allowed_sizes.unwrap().len(), 2);
        assert_eq!(server.working_copy.max_side, 1600);
        assert_eq!(server.working_copy.memory_bytes, 30_000_000);

        // Working copies may take at most half of the transform budget, and be off (0) or at
        // least 256 px.
        jail.set_env("ORIGAMI_WORKING_COPY__MEMORY_BYTES", "50000001");
        let config = Config::load(Some(Path::new("origami.toml"))).unwrap();
        let err = server_config(&config).unwrap_err().to_string();
        assert!(err.contains("more than half"), "{err}");
        jail.set_env("ORIGAMI_WORKING_COPY__MEMORY_BYTES", "0");
        jail.set_env("ORIGAMI_WORKING_COPY__MAX_SIDE", "100");
        let err = Config::load(Some(Path::new("origami.toml"))).unwrap_err();
        assert!(
            format!("{err:#}").contains("[working_copy] max_side"),
            "{err:#}"
        );
        jail.set_env("ORIGAMI_WORKING_COPY__MAX_SIDE", "0");
        let config = Config::load(Some(Path::new("origami.toml"))).unwrap();
        assert_eq!(server_config(&config).unwrap().working_copy.max_side, 0);
        jail.set_env("ORIGAMI_WORKING_COPY__MAX_SIDE", "1600");

        jail.set_env("ORIGAMI_CACHE__PERSIST_DERIVATIVES", "false");
        jail.set_env("ORIGAMI_SECURITY__UPLOAD_TOKEN", "");
        let server = server_config(&Config::load(Some(Path::new("origami.toml"))).unwrap());
        let server = server.unwrap();
        assert!(!server.persist_derivatives);
        assert!(
            server.upload_token.is_none(),
            "an empty token keeps uploads off"
        );

        jail.set_env("ORIGAMI_SECURITY__SIGNING_KEYS", r#"["abc"]"#);
        let config = Config::load(Some(Path::new("origami.toml"))).unwrap();
        assert!(server_config(&config).is_err());
        Ok(())
    });
}

#[test]
fn rejects_bad_configs() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("typo.toml", "[failover]\nhedge_after = 5\n")?;
        assert!(Config::load(Some(Path::new("typo.toml"))).is_err());
        // A misspelt table, or a variable that names no key, is an error that names it.
        jail.create_file("table.toml", "[securty]\nsigning_keys = [\"00\"]\n")?;
        let err = format!(
            "{:#}",
            Config::load(Some(Path::new("table.toml"))).unwrap_err()
        );
        assert!(err.contains("did you mean `security`?"), "{err}");
        jail.set_env("ORIGAMI_SECURTY__UPLOAD_TOKEN", "x");
        let err = format!("{:#}", Config::load(None).unwrap_err());
        assert!(
            err.contains("securty") && err.contains("did you mean `security`?"),
            "{err}"
        );
        jail.clear_env();
        jail.set_env("ORIGAMI_SERVER__WORKRES", "2");
        let err = format!("{:#}", Config::load(None).unwrap_err());
        assert!(err.contains("did you mean `workers`?"), "{err}");
        jail.clear_env();
        // Nothing close: no guess.
        jail.create_file(
            "far.toml",
            "[server]
colour = 1
",
        )?;
        let err = format!(
            "{:#}",
            Config::load(Some(Path::new("far.toml"))).unwrap_err()
        );
        assert!(
            err.contains("colour") && !err.contains("did you mean"),
            "{err}"
        );
        jail.set_env("ORIGAMI_PHOTOS", "/photos");
        assert!(
            Config::load(None).is_ok(),
            "the benches' variable is not configuration"
        );
        jail.create_file("quorum.toml", "[failover]\nwrite_quorum = 2\n")?;
        assert!(
            Config::load(Some(Path::new("quorum.toml"))).is_err(),
            "quorum above the region count"
        );
        assert!(Config::load(Some(Path::new("missing.toml"))).is_err());
        for (file, message) in [
            (
                "[limits]\navif_speed = 0\n",
                "[limits] avif_speed = 0 is out of range: allowed 1..=10",
            ),
            ("[limits]\navif_speed = 11\n", "allowed 1..=10"),
            (
                "[limits]\nmax_output_side = 0\n",
                "[limits] max_output_side = 0 is out of range",
            ),
            (
                "[server]\nworkers = 100000\n",
                "[server] workers = 100000 is out of range",
            ),
            ("[server]\nrequest_timeout_ms = 0\n", "request_timeout_ms"),
            (
                "[server]\nheader_read_timeout_ms = 0\n",
                "header_read_timeout_ms",
            ),
            ("[server]\nmax_connections = 0\n", "max_connections"),
            ("[failover]\nbreaker_failures = 0\n", "breaker_failures"),
        ] {
            jail.create_file("range.toml", file)?;
            let err = Config::load(Some(Path::new("range.toml"))).unwrap_err();
            let err = format!("{err:#}");
            assert!(err.contains(message), "{file}: {err}");
        }
        jail.create_file(
            "range.toml",
            "[limits]\navif_speed = 10\n[server]\nworkers = 1\n",
        )?;
        assert!(Config::load(Some(Path::new("range.toml"))).is_ok());
        Ok(())
    });
}
