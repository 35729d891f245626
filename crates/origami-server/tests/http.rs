//! The HTTP API over real loopback connections, against the local store.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use origami_engine::{ImageFormat, Limits};
use origami_server::{ServerConfig, SigningKey, Size};
use origami_store::ContentHash;
use reqwest::StatusCode;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

async fn json(response: reqwest::Response) -> serde_json::Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

/// Asserts an error answer: status, JSON code, and the caching rule for its class.
async fn assert_error(response: reqwest::Response, status: u16, code: &str) {
    assert_eq!(response.status().as_u16(), status, "{}", response.url());
    let cache = header(&response, "cache-control").unwrap().to_owned();
    if status >= 500 {
        assert_eq!(cache, "no-store");
    } else {
        assert_eq!(cache, "public, max-age=60");
    }
    assert!(!cache.contains("immutable"));
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    let body = json(response).await;
    assert_eq!(body["code"], code, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
}

#[tokio::test]
async fn transforms_with_caching_headers_etag_and_head() {
    let (store, _dirs) = local_store(&["local-a"]);
    let hash = put_fixture(&store, "baseline.jpg").await;
    let server = spawn_server(ServerConfig::default(), store).await;
    let http = client();

    let url = server.url(&format!("/thumb/100/75/{hash}.jpg"));
    let first = http.get(&url).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(header(&first, "content-type"), Some("image/jpeg"));
    assert_eq!(header(&first, "cache-control"), Some(IMMUTABLE));
    assert_eq!(header(&first, "x-origami-region"), Some("local-a"));
    assert!(
        header(&first, "vary").is_none(),
        "explicit extensions never vary"
    );
    assert!(header(&first, "x-request-id").is_some());
    let etag = header(&first, "etag").unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"));
    let len: usize = header(&first, "content-length").unwrap().parse().unwrap();
    let body = first.bytes().await.unwrap();
    assert_eq!(body.len(), len);
    let info = origami_engine::probe(&body).unwrap();
    assert_eq!(
        (info.format, info.width, info.height),
        (ImageFormat::Jpeg, 100, 75)
    );

    // Second time: from memory.
    let again = http.get(&url).send().await.unwrap();
    assert_eq!(header(&again, "x-origami-region"), Some("cache"));
    assert_eq!(header(&again, "etag"), Some(etag.as_str()));
    assert_eq!(again.bytes().await.unwrap(), body);

    // Conditional: 304 with the same caching headers and no body.
    let not_modified = http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&not_modified, "cache-control"), Some(IMMUTABLE));
    assert_eq!(header(&not_modified, "etag"), Some(etag.as_str()));
    assert!(not_modified.bytes().await.unwrap().is_empty());
    let other = http
        .get(&url)
        .header("if-none-match", "\"nope\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);

    // HEAD: same headers, no body.
    let head = http.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        header(&head, "content-length"),
        Some(len.to_string().as_str())
    );
    assert_eq!(header(&head, "cache-control"), Some(IMMUTABLE));
    assert!(head.bytes().await.unwrap().is_empty());

    // Different format: a different ETag.
    let webp = http
        .get(server.url(&format!("/thumb/100/75/{hash}.webp")))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&webp, "content-type"), Some("image/webp"));
    assert_ne!(header(&webp, "etag"), Some(etag.as_str()));
}

#[tokio::test]
async fn every_operation_route() {
    let (store, _dirs) = local_store(&["ops"]);
    let hash = put_fixture(&store, "baseline.jpg").await;
    let server = spawn_server(ServerConfig::default(), store).await;
    let http = client();
    for (path, ext, w, h) in [
        (
            format!("/thumb/100/100/{hash}.png"),
            ImageFormat::Png,
            100,
            100,
        ),
        (
            format!("/thumb/160/0/{hash}.jpeg"),
            ImageFormat::Jpeg,
            160,
            120,
        ),
        (
            format!("/fit/100/100/{hash}.webp"),
            ImageFormat::WebP,
            100,
            75,
        ),
        (
            format!("/fit/1000/1000/{hash}.jpg"),
            ImageFormat::Jpeg,
            320,
            240,
        ),
        (format!("/blur/2/{hash}.jpg"), ImageFormat::Jpeg, 320, 240),
        (format!("/rotate/90/{hash}.png"), ImageFormat::Png, 240, 320),
        (
            format!("/thumb/40/30/g/fp/20/80/{hash}.jpg"),
            ImageFormat::Jpeg,
            40,
            30,
        ),
        (
            format!("/fit/100/100/sharpen/1/{hash}.jpg"),
            ImageFormat::Jpeg,
            100,
            75,
        ),
        (
            format!("/pad/200/200/bg/000000/{hash}.png"),
            ImageFormat::Png,
            200,
            200,
        ),
        (
            format!("/pad/50/100/dpr/2/q/70/{hash}.jpg"),
            ImageFormat::Jpeg,
            100,
            200,
        ),
        (
            format!("/rotate/270/thumb/60/80/flip/h/{hash}.webp"),
            ImageFormat::WebP,
            60,
            80,
        ),
        (
            format!("/thumb/40/30/g/smart/blur/1.5/dpr/2/q/70/{hash}.avif"),
            ImageFormat::Avif,
            80,
            60,
        ),
        (
            format!("/thumb/40/30/g/north/{hash}.gif"),
            ImageFormat::Gif,
            40,
            30,
        ),
        (format!("/{hash}.png"), ImageFormat::Png, 320, 240),
    ] {
        let response = http.get(server.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(
            header(&response, "content-type"),
            Some(ext.mime_type()),
            "{path}"
        );
        let body = response.bytes().await.unwrap();
        if ext != ImageFormat::Avif {
            let info = origami_engine::probe(&body).unwrap();
            assert_eq!(
                (info.format, info.width, info.height),
                (ext, w, h),
                "{path}"
            );
        }
    }
}

#[tokio::test]
async fn negotiates_format_and_varies_only_then() {
    let (store, _dirs) = local_store(&["neg"]);
    let jpeg = put_fixture(&store, "baseline.jpg").await;
    let alpha = put_fixture(&store, "alpha.png").await;
    let server = spawn_server(ServerConfig::default(), store).await;
    let http = client();
    let chrome = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8";
    for (hash, accept, expected) in [
        (jpeg, Some(chrome), "image/avif"),
        (jpeg, Some("image/webp,*/*"), "image/webp"),
        (jpeg, Some("*/*"), "image/jpeg"),
        (jpeg, None, "image/jpeg"),
        (alpha, Some("image/png,*/*"), "image/png"),
        (alpha, Some("image/webp"), "image/webp"),
    ] {
        let mut request = http.get(server.url(&format!("/thumb/32/32/{hash}")));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(&response, "content-type"),
            Some(expected),
            "{accept:?}"
        );
        assert_eq!(header(&response, "vary"), Some("Accept"));
        assert_eq!(header(&response, "cache-control"), Some(IMMUTABLE));
        let etag = header(&response, "etag").unwrap().to_owned();
        let mut conditional = http
            .get(server.url(&format!("/thumb/32/32/{hash}")))
            .header("if-none-match", etag);
        if let Some(accept) = accept {
            conditional = conditional.header("accept", accept);
        }
        let conditional = conditional.send().await.unwrap();
        assert_eq!(conditional.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(header(&conditional, "vary"), Some("Accept"));
    }
}

#[tokio::test]
async fn error_statuses_are_json_and_briefly_cacheable() {
    let (store, _dirs) = local_store(&["errors"]);
    let good = put_fixture(&store, "baseline.jpg").await;
    let text = put_fixture(&store, "text.jpg").await;
    let corrupt = put_fixture(&store, "corrupt.jpg").await;
    let bomb = put_fixture(&store, "bomb.png").await;
    let server = spawn_server(ServerConfig::default(), store).await;
    let http = client();
    let missing = ContentHash::of(b"never stored");
    for (path, status, code) in [
        (format!("/thumb/0100/75/{good}.jpg"), 400, "invalid_params"),
        (
            format!("/thumb/100/75/g/center/{good}.jpg"),
            400,
            "invalid_params",
        ),
        (
            format!("/pad/100/75/bg/ffffff/{good}.jpg"),
            400,
            "invalid_params",
        ),
        (
            format!("/pad/100/75/bg/FF0000/{good}.jpg"),
            400,
            "invalid_params",
        ),
        (format!("/pad/100/0/{good}.jpg"), 400, "invalid_params"),
        (format!("/pad/5000/75/{good}.jpg"), 400, "invalid_params"),
        (format!("/thumb/100/75/{good}.JPG"), 400, "bad_path"),
        (format!("/thumb/100/75/{good}.tiff"), 400, "bad_path"),
        (
            format!("/thumb/100/75/{}.jpg", &good.to_string()[..63]),
            400,
            "bad_path",
        ),
        (format!("/thumb/100/75/{good}.jpg?v=2"), 400, "bad_path"),
        (format!("/thumb/5000/75/{good}.jpg"), 400, "invalid_params"),
        (format!("/resize/100/75/{good}.jpg"), 400, "invalid_params"),
        (format!("/thumb/100/75/{missing}.jpg"), 404, "not_found"),
        (format!("/original/{missing}"), 404, "not_found"),
        (format!("/info/{missing}"), 404, "not_found"),
        (format!("/thumb/100/75/{text}.jpg"), 415, "unsupported"),
        (format!("/thumb/100/75/{corrupt}.jpg"), 422, "corrupt"),
        (format!("/thumb/100/75/{bomb}.jpg"), 422, "too_large"),
        ("/nothing".to_owned(), 400, "bad_path"),
    ] {
        let response = http.get(server.url(&path)).send().await.unwrap();
        assert_error(response, status, code).await;
    }
    let wrong_method = http.delete(server.url("/healthz")).send().await.unwrap();
    assert_error(wrong_method, 405, "method_not_allowed").await;
    let wrong_method = http
        .put(server.url(&format!("/{good}.jpg")))
        .send()
        .await
        .unwrap();
    assert_error(wrong_method, 405, "method_not_allowed").await;
    // The server is fine afterwards.
    let ok = http
        .get(server.url(&format!("/thumb/10/10/{good}.jpg")))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn originals_thumbhash_and_info() {
    let (store, _dirs) = local_store(&["orig"]);
    let hash = put_fixture(&store, "baseline.jpg").await;
    let server = spawn_server(ServerConfig::default(), store).await;
    let http = client();
    let original = fixture("baseline.jpg");
    for path in [format!("/original/{hash}"), format!("/original/{hash}.jpg")] {
        let response = http.get(server.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "content-type"), Some("image/jpeg"));
        assert_eq!(header(&response, "cache-control"), Some(IMMUTABLE));
        assert_eq!(
            header(&response, "etag"),
            Some(format!("\"{hash}\"").as_str())
        );
        assert_eq!(response.bytes().await.unwrap(), original);
    }
    let head = http
        .head(server.url(&format!("/original/{hash}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&head, "content-length"),
        Some(original.len().to_string().as_str())
    );
    let mismatch = http
        .get(server.url(&format!("/original/{hash}.png")))
        .send()
        .await
        .unwrap();
    assert_error(mismatch, 400, "bad_path").await;

    let th = http
        .get(server.url(&format!("/thumbhash/{hash}")))
        .send()
        .await
        .unwrap();
    assert_eq!(th.status(), StatusCode::OK);
    assert_eq!(header(&th, "content-type"), Some("application/json"));
    let th = json(th).await;
    assert_eq!(
        (th["width"].as_u64(), th["height"].as_u64()),
        (Some(320), Some(240))
    );
    assert!(th["thumbhash"].as_str().is_some_and(|s| s.len() > 10));
    let png = http
        .get(server.url(&format!("/thumbhash/{hash}.png")))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&png, "content-type"), Some("image/png"));
    let png = png.bytes().await.unwrap();
    assert_eq!(
        origami_engine::probe(&png).unwrap().format,
        ImageFormat::Png
    );
    let bad = http
        .get(server.url(&format!("/thumbhash/{hash}.jpg")))
        .send()
        .await
        .unwrap();
    assert_error(bad, 400, "bad_path").await;

    let info = json(
        http.get(server.url(&format!("/info/{hash}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(info["format"], "jpg");
    assert_eq!(info["width"], 320);
    assert_eq!(info["height"], 240);
    assert_eq!(info["bytes"], original.len());
    assert_eq!(info["has_alpha"], false);
    assert_eq!(info["orientation"], 1);
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let (store, _dirs) = local_store(&["ops-a", "ops-b"]);
    let hash = put_fixture(&store, "baseline.jpg").await;
    let server = spawn_server(ServerConfig::default(), store).await;
    let http = client();
    let health = http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(header(&health, "cache-control"), Some("no-store"));
    // Ready once the start-up check of the regions (here: local directories) has run.
    let mut ready = http.get(server.url("/readyz")).send().await.unwrap();
    for _ in 0..100 {
        if ready.status() == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        ready = http.get(server.url("/readyz")).send().await.unwrap();
    }
    assert_eq!(ready.status(), StatusCode::OK);
    let ready = json(ready).await;
    assert_eq!(ready["phase"], "serving");
    assert_eq!(ready["regions"][0]["check"], "ok");
    assert_eq!(ready["ready"], true);
    let names: Vec<_> = ready["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(names, ["ops-a", "ops-b"]);
    assert_eq!(ready["regions"][0]["up"], true);

    http.get(server.url(&format!("/thumb/20/20/{hash}.jpg")))
        .send()
        .await
        .unwrap();
    let metrics = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.unwrap();
    for name in [
        "origami_http_requests_total{route=\"transform\",status=\"200\"}",
        "origami_http_request_seconds",
        "origami_cache_total{outcome=\"miss\"}",
        "origami_transform_seconds",
        "origami_region_requests_total",
        "origami_queue_wait_seconds_count{lane=\"ordinary\"}",
        "origami_workers ",
        "origami_workers_busy ",
        "origami_transform_memory_reserved_bytes ",
        "origami_transform_memory_budget_bytes ",
        "origami_cache_bytes{cache=\"results\"}",
        "origami_cache_entries{cache=\"working_copies\"}",
        "origami_process_resident_bytes ",
        "origami_build_info{",
        "origami_region_check{region=\"ops-a\"} 1",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics:\n{text}");
    }
    // The gauges say what is true now: the thumbnail is in the result cache, nothing runs.
    let value = |name: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(value("origami_cache_entries{cache=\"results\"}") >= 1.0);
    assert!(value("origami_cache_bytes{cache=\"results\"}") > 0.0);
    assert_eq!(value("origami_workers_busy "), 0.0);
    assert_eq!(value("origami_transform_memory_reserved_bytes "), 0.0);
    assert!(value("origami_process_resident_bytes ") > 1e6);
}

#[tokio::test]
async fn signed_urls_accept_reject_and_rotate() {
    let (store, _dirs) = local_store(&["signed"]);
    let hash = put_fixture(&store, "baseline.jpg").await;
    let old = SigningKey::from_hex("000102030405060708090a0b0c0d0e0f").unwrap();
    let new = SigningKey::from_hex("f0e0d0c0b0a090807060504030201000ffee").unwrap();
    let config = ServerConfig {
        signing_keys: vec![new.clone(), old.clone()],
        allowed_sizes: Some(vec![
            Size {
                width: 40,
                height: 30,
            },
            Size {
                width: 80,
                height: 0,
            },
        ]),
        ..ServerConfig::default()
    };
    let server = spawn_server(config, store).await;
    let http = client();
    let rest = format!("/thumb/40/30/{hash}.jpg");
    for key in [&old, &new] {
        let sig = origami_server::sign(key, &rest);
        let ok = http
            .get(server.url(&format!("/s/{sig}{rest}")))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(header(&ok, "cache-control"), Some(IMMUTABLE));
    }
    let sig = origami_server::sign(&old, &rest);
    let unknown = SigningKey::from_hex("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").unwrap();
    for path in [
        rest.clone(),                                                  // unsigned
        format!("/s/{sig}/thumb/40/31/{hash}.jpg"),                    // tampered
        format!("/s/{}{rest}", origami_server::sign(&unknown, &rest)), // unknown key
        format!("/s/{}{rest}", &sig[..20]),                            // truncated
        format!("/s/{sig}"),                                           // no path
    ] {
        let response = http.get(server.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            header(&response, "cache-control"),
            Some("public, max-age=60")
        );
    }
    // Allowed sizes: a correctly signed URL with another size is still refused.
    let other = format!("/thumb/41/30/{hash}.jpg");
    let response = http
        .get(server.url(&format!("/s/{}{other}", origami_server::sign(&new, &other))))
        .send()
        .await
        .unwrap();
    assert_error(response, 400, "size_not_allowed").await;
    let fit = format!("/fit/80/0/{hash}.jpg");
    let response = http
        .get(server.url(&format!("/s/{}{fit}", origami_server::sign(&new, &fit))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Health checks stay open; originals are signed like transforms (tests/hostile.rs).
    let health = http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn uploads_need_the_token() {
    let (store, _dirs) = local_store(&["up-a", "up-b"]);
    let off = spawn_server(ServerConfig::default(), store.clone()).await;
    let http = client();
    let image = fixture("baseline.jpg");
    let response = http
        .post(off.url("/originals"))
        .header("authorization", "Bearer anything")
        .body(image.clone())
        .send()
        .await
        .unwrap();
    assert_error(response, 403, "uploads_disabled").await;

    let config = ServerConfig {
        upload_token: Some("s3cret-token".into()),
        limits: Limits {
            max_input_bytes: 40_000,
            ..Limits::default()
        },
        ..ServerConfig::default()
    };
    let server = spawn_server(config, store.clone()).await;
    let post = |auth: Option<&str>, body: Vec<u8>| {
        let mut request = http.post(server.url("/originals")).body(body);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send()
    };
    assert_error(
        post(None, image.clone()).await.unwrap(),
        401,
        "unauthorized",
    )
    .await;
    assert_error(
        post(Some("Bearer wrong"), image.clone()).await.unwrap(),
        403,
        "forbidden",
    )
    .await;
    assert_error(
        post(Some("Basic s3cret-token"), image.clone())
            .await
            .unwrap(),
        401,
        "unauthorized",
    )
    .await;

    let created = post(Some("Bearer s3cret-token"), image.clone())
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let body = json(created).await;
    let hash = ContentHash::of(&image);
    assert_eq!(body["hash"], hash.to_string());
    assert_eq!(body["bytes"], image.len());
    assert_eq!(
        (body["width"].as_u64(), body["height"].as_u64()),
        (Some(320), Some(240))
    );
    assert_eq!(body["format"], "jpg");
    assert_eq!(body["url"], format!("/original/{hash}.jpg"));
    let mut regions: Vec<_> = body["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect();
    regions.sort();
    assert_eq!(regions, ["up-a", "up-b"]);
    for region in store.regions() {
        assert_eq!(region.get(&hash).await.unwrap(), image);
    }
    let again = post(Some("Bearer s3cret-token"), image.clone())
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);

    let url = server.url(&format!("/original/{hash}.jpg"));
    assert_eq!(http.get(url).send().await.unwrap().status(), StatusCode::OK);

    assert_error(
        post(Some("Bearer s3cret-token"), fixture("text.jpg"))
            .await
            .unwrap(),
        415,
        "unsupported",
    )
    .await;
    assert_error(
        post(Some("Bearer s3cret-token"), fixture("bomb.png"))
            .await
            .unwrap(),
        422,
        "too_large",
    )
    .await;
    assert_error(
        post(Some("Bearer s3cret-token"), vec![0xff; 50_000])
            .await
            .unwrap(),
        413,
        "too_large",
    )
    .await;
    let get = http.get(server.url("/originals")).send().await.unwrap();
    assert_error(get, 405, "method_not_allowed").await;
}

/// Every fixture, good or bad, gets the status the engine's verdict maps to, and the server keeps
/// serving good requests after each bad one.
#[tokio::test]
async fn survives_every_fixture() {
    let (store, _dirs) = local_store(&["fixtures"]);
    let good = put_fixture(&store, "baseline.jpg").await;
    let manifest: serde_json::Value = serde_json::from_slice(&fixture("manifest.json")).unwrap();
    let server = spawn_server(ServerConfig::default(), store.clone()).await;
    let http = client();
    let pipeline: origami_engine::Pipeline = "thumb/64/48".parse().unwrap();
    let mut bad = 0;
    for entry in manifest["fixtures"].as_array().unwrap() {
        let name = entry["file"].as_str().unwrap();
        let bytes = fixture(name);
        let hash = put_fixture(&store, name).await;
        let expected = match origami_engine::transform(
            &bytes,
            &pipeline,
            ImageFormat::Png,
            &Limits::default(),
        ) {
            Ok(_) => 200,
            Err(origami_engine::EngineError::Unsupported(_)) => 415,
            Err(
                origami_engine::EngineError::Corrupt(_) | origami_engine::EngineError::TooLarge(_),
            ) => 422,
            Err(origami_engine::EngineError::InvalidParams(_)) => 400,
            Err(origami_engine::EngineError::Internal(_)) => 500,
        };
        if !entry["error"].is_null() {
            assert_ne!(expected, 200, "{name} should fail");
            bad += 1;
        }
        for path in [
            format!("/thumb/64/48/{hash}.png"),
            format!("/thumbhash/{hash}"),
            format!("/info/{hash}"),
        ] {
            let response = http.get(server.url(&path)).send().await.unwrap();
            let status = response.status().as_u16();
            if path.starts_with("/thumb/") {
                assert_eq!(status, expected, "{name}");
            } else {
                assert!(
                    status == 200 || (400..500).contains(&status),
                    "{name} {path}: {status}"
                );
            }
            let cache = header(&response, "cache-control")
                .unwrap_or_default()
                .to_owned();
            assert_eq!(cache.contains("immutable"), status == 200, "{name} {path}");
        }
        let ok = http
            .get(server.url(&format!("/thumb/32/24/{good}.jpg")))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::OK, "after {name}");
    }
    assert!(bad >= 10, "only {bad} bad fixtures");
}

#[tokio::test]
async fn saturated_transforms_get_503_while_hits_and_health_stay_served() {
    let (store, _dirs) = local_store(&["busy"]);
    let hash = put_fixture(&store, "baseline.jpg").await;
    let gate = Gate::new();
    let config = ServerConfig {
        workers: 1,
        max_queue: 0,
        transform_hook: Some(gate.hook()),
        ..ServerConfig::default()
    };
    let server = spawn_server(config, store).await;
    let http = client();
    let hot = server.url(&format!("/thumb/50/50/{hash}.jpg"));
    assert_eq!(
        http.get(&hot).send().await.unwrap().status(),
        StatusCode::OK
    );

    // Hold the only worker.
    gate.hold("thumb/60/60");
    let slow = tokio::spawn(
        http.get(server.url(&format!("/thumb/60/60/{hash}.jpg")))
            .send(),
    );
    gate.entered(1).await;

    let refused = http
        .get(server.url(&format!("/thumb/70/70/{hash}.jpg")))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&refused, "retry-after"), Some("1"));
    assert_error(refused, 503, "saturated").await;
    let hit = http.get(&hot).send().await.unwrap();
    assert_eq!(hit.status(), StatusCode::OK);
    assert_eq!(header(&hit, "x-origami-region"), Some("cache"));
    assert_eq!(
        http.get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(server.state.pool().busy(), 1);

    gate.release();
    assert_eq!(slow.await.unwrap().unwrap().status(), StatusCode::OK);
    let after = http
        .get(server.url(&format!("/thumb/70/70/{hash}.jpg")))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::OK);
}

/// Two transforms held at the gate at once, or only one: with two workers, the memory budget
/// decides.
async fn transforms_running_together(transform_memory_bytes: u64) -> (usize, usize) {
    let (store, _dirs) = local_store(&["budget"]);
    let hash = put_fixture(&store, "baseline.jpg").await;
    let gate = Gate::new();
    let config = ServerConfig {
        workers: 2,
        transform_memory_bytes,
        transform_hook: Some(gate.hook()),
        ..ServerConfig::default()
    };
    let server = spawn_server(config, store).await;
    let http = client();
    gate.hold("thumb/");
    let requests: Vec<_> = [(60, 60), (70, 70)]
        .into_iter()
        .map(|(w, h)| {
            tokio::spawn(
                http.get(server.url(&format!("/thumb/{w}/{h}/{hash}.jpg")))
                    .send(),
            )
        })
        .collect();
    gate.entered(1).await;
    // Give the second request every chance to reach a worker too.
    for _ in 0..50 {
        if server.state.pool().busy() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let together = (
        server.state.pool().busy(),
        server.state.pool().queue_depth(),
    );
    gate.release();
    for request in requests {
        assert_eq!(request.await.unwrap().unwrap().status(), StatusCode::OK);
    }
    together
}

#[tokio::test]
async fn transforms_wait_for_the_memory_budget() {
    // Each 320x240 thumbnail is estimated at well over 1 KB: they run one after the other.
    assert_eq!(transforms_running_together(1024).await, (1, 1));
    // With room for both, both workers are used.
    assert_eq!(transforms_running_together(64 << 20).await, (2, 0));
}

#[tokio::test]
async fn a_request_past_its_deadline_answers_503_and_its_work_lands_in_the_cache() {
    let (store, _dirs) = local_store(&["deadline"]);
    let hash = put_fixture(&store, "baseline.jpg").await;
    let gate = Gate::new();
    let config = ServerConfig {
        request_timeout: Duration::from_millis(300),
        transform_hook: Some(gate.hook()),
        ..ServerConfig::default()
    };
    let server = spawn_server(config, store).await;
    let http = client();
    gate.hold("thumb/61/61");
    let url = server.url(&format!("/thumb/61/61/{hash}.jpg"));
    let response = http.get(&url).send().await.unwrap();
    assert_eq!(header(&response, "retry-after"), Some("1"));
    assert_error(response, 503, "timeout").await;
    // The transform was not thrown away with the request: once it finishes, the retry is
    // answered from the cache, and the work was done once.
    gate.release();
    let mut retried = None;
    for _ in 0..100 {
        let response = http.get(&url).send().await.unwrap();
        if response.status() == StatusCode::OK {
            retried = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let retried = retried.expect("the retry succeeds");
    assert!(!retried.bytes().await.unwrap().is_empty());
    let stats = server.state.stats();
    assert_eq!(stats.transforms, 1, "{stats:?}");
}

#[tokio::test]
async fn graceful_shutdown_drains_in_flight_requests() {
    let (store, _dirs) = local_store(&["drain"]);
    let hash = put_fixture(&store, "baseline.jpg").await;
    let gate = Gate::new();
    let config = ServerConfig {
        transform_hook: Some(gate.hook()),
        ..ServerConfig::default()
    };
    let mut server = spawn_server(config, store).await;
    let http = client();
    gate.hold("thumb/62/62");
    let in_flight = tokio::spawn(
        http.get(server.url(&format!("/thumb/62/62/{hash}.jpg")))
            .send(),
    );
    gate.entered(1).await;
    let serving = server.shutdown();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !serving.is_finished(),
        "must wait for the in-flight request"
    );
    gate.release();
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!response.bytes().await.unwrap().is_empty());
    serving.await.unwrap().unwrap();
    assert!(
        http.get(server.url("/healthz")).send().await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn derivatives_are_shared_through_the_store() {
    let (store, _dirs) = local_store(&["shared"]);
    let hash = put_fixture(&store, "baseline.jpg").await;
    let config = ServerConfig {
        persist_derivatives: true,
        ..ServerConfig::default()
    };
    let first = spawn_server(config.clone(), store.clone()).await;
    let http = client();
    let path = format!("/thumb/90/60/{hash}.webp");
    let made = http.get(first.url(&path)).send().await.unwrap();
    assert_eq!(header(&made, "x-origami-region"), Some("shared"));
    let made = made.bytes().await.unwrap();
    let key = origami_store::DerivedKey::new(
        hash,
        format!("v{}/thumb/90/60.webp", origami_engine::ENGINE_VERSION),
    )
    .unwrap();
    let mut stored = None;
    for _ in 0..200 {
        if let Ok(bytes) = origami_store::Store::get_derived(&store, &key).await {
            stored = Some(bytes);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        stored.as_deref(),
        Some(&made[..]),
        "derivative written in the background"
    );

    // A second replica (cold memory) reads it instead of transforming.
    let second = spawn_server(config, store).await;
    let response = http.get(second.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-origami-region"), Some("derived"));
    assert_eq!(response.bytes().await.unwrap(), made);
    let stats = second.state.stats();
    assert_eq!((stats.derived, stats.transforms), (1, 0));
}

/// A URL's bytes do not depend on where its working copy came from: made from the original by
/// a cold server, read back from the store by another instance, or made again after the stored
/// one was damaged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn working_copies_give_a_url_the_same_bytes_whoever_made_them() {
    use origami_engine::{WorkingCopy, ENGINE_VERSION};
    use origami_server::WorkingCopyConfig;
    use origami_store::{DerivedKey, Store};

    let copies = |max_side| ServerConfig {
        working_copy: WorkingCopyConfig {
            max_side,
            memory_bytes: 8 << 20,
        },
        ..ServerConfig::default()
    };
    let (store, _dirs) = local_store(&["shared"]);
    // 320x240: a 160x120 copy (the JPEG at 1/2 scale), for sizes up to 106x80.
    let hash = put_fixture(&store, "baseline.jpg").await;
    let http = client();
    let get = |server: &TestServer, path: &str| {
        let request = http.get(server.url(path)).send();
        async move {
            let response = request.await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let region = header(&response, "x-origami-region").unwrap().to_owned();
            let etag = header(&response, "etag").unwrap().to_owned();
            (response.bytes().await.unwrap(), etag, region)
        }
    };
    let path = format!("/thumb/90/60/{hash}.jpg");
    let other = format!("/fit/100/0/{hash}.png");

    // A cold server makes the copy from the original, and writes it back in the background
    // once a second derivative is made from it.
    let first = spawn_server(copies(200), store.clone()).await;
    let (made, etag, region) = get(&first, &path).await;
    assert_eq!(region, "shared");
    assert_eq!(first.state.stats().working_copies_made, 1);
    let (other_made, _, _) = get(&first, &other).await;
    let key = DerivedKey::new(hash, format!("v{ENGINE_VERSION}/working-copy/200.ogwc")).unwrap();
    let mut stored = None;
    for _ in 0..500 {
        if let Ok(got) = store.get_derived(&key).await {
            stored = Some(got.bytes);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stored = stored.expect("the copy is written to the derived space");
    let copy = WorkingCopy::from_bytes(&stored, 200, &Limits::default()).unwrap();
    assert_eq!((copy.bitmap().width(), copy.bitmap().height()), (160, 120));

    // Another instance over the same store reads the copy back and decodes no original.
    let second = spawn_server(copies(200), store.clone()).await;
    let (again, again_etag, region) = get(&second, &path).await;
    assert_eq!(region, "working-copy");
    assert_eq!(again, made, "same bytes from the stored copy");
    assert_eq!(again_etag, etag);
    assert_eq!(second.state.stats().working_copies_made, 0);
    assert_eq!(get(&second, &other).await.0, other_made);

    // Without working copies the URL is made from the original: other pixels, so the bytes
    // above really came through a copy.
    let direct = spawn_server(copies(0), store.clone()).await;
    assert_ne!(get(&direct, &path).await.0, made);

    // A damaged stored copy is never used: it is made again, same bytes, and stored again.
    let mut damaged = stored.to_vec();
    let last = damaged.len() - 1;
    damaged[last] ^= 0x40;
    store.put_derived(&key, damaged.into()).await.unwrap();
    let third = spawn_server(copies(200), store.clone()).await;
    let (remade, _, region) = get(&third, &path).await;
    assert_eq!(region, "shared");
    assert_eq!(remade, made);
    assert_eq!(third.state.stats().working_copies_made, 1);
    let mut repaired = false;
    for _ in 0..500 {
        let got = store.get_derived(&key).await.unwrap();
        if got.bytes == stored {
            repaired = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(repaired, "the damaged copy is replaced");
}

/// Working copies small enough for the fixtures (a 320x240 JPEG gets a 160x120 copy).
fn with_copies(max_side: u32) -> ServerConfig {
    ServerConfig {
        working_copy: origami_server::WorkingCopyConfig {
            max_side,
            memory_bytes: 8 << 20,
        },
        upload_token: Some("token".into()),
        ..ServerConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_different_sizes_decodes_its_original_once() {
    let (store, _dirs) = local_store(&["burst"]);
    let hash = put_fixture(&store, "baseline.jpg").await;
    let server = spawn_server(with_copies(200), store).await;
    let http = client();
    // Five derivatives of one original at once, as a srcset does, and its ThumbHash.
    let paths = [
        format!("/thumb/90/60/{hash}.jpg"),
        format!("/thumb/100/75/{hash}.webp"),
        format!("/fit/100/0/{hash}.png"),
        format!("/thumb/64/64/g/smart/{hash}.jpg"),
        format!("/fit/100/100/{hash}.jpg"),
        format!("/thumbhash/{hash}"),
    ];
    let requests: Vec<_> = paths
        .iter()
        .map(|p| tokio::spawn(http.get(server.url(p)).send()))
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap().unwrap().status(), StatusCode::OK);
    }
    let stats = server.state.stats();
    assert_eq!(stats.working_copies_made, 1, "one decode of the original");
    assert_eq!(stats.transforms, paths.len() as u64);

    // An upload decodes its original into the copy, so its first derivatives decode nothing.
    let upload = http
        .post(server.url("/originals"))
        .header("authorization", "Bearer token")
        .body(fixture("progressive.jpg"))
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), StatusCode::CREATED);
    let body: serde_json::Value = serde_json::from_slice(&upload.bytes().await.unwrap()).unwrap();
    let uploaded = body["hash"].as_str().unwrap().to_owned();
    for path in ["thumb/90/60", "fit/100/0", "thumb/50/50"] {
        let response = http
            .get(server.url(&format!("/{path}/{uploaded}.jpg")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(server.state.stats().working_copies_made, 2);
}

#[tokio::test]
async fn entries_over_an_eighth_of_the_cache_are_served_but_not_kept() {
    let (store, _dirs) = local_store(&["local-a"]);
    // 33 KB: over an eighth of a 64 KiB cache.
    let hash = put_fixture(&store, "baseline.jpg").await;
    let config = ServerConfig {
        cache_memory_bytes: 64 << 10,
        ..ServerConfig::default()
    };
    let server = spawn_server(config, store).await;
    let http = client();
    let original = server.url(&format!("/original/{hash}"));
    for _ in 0..2 {
        let response = http.get(&original).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "x-origami-region"), Some("local-a"));
        assert_eq!(response.bytes().await.unwrap(), fixture("baseline.jpg"));
    }
    // A small derivative still fits, and is kept.
    let thumb = server.url(&format!("/thumb/40/30/{hash}.jpg"));
    let made = http.get(&thumb).send().await.unwrap();
    assert_eq!(header(&made, "x-origami-region"), Some("local-a"));
    let again = http.get(&thumb).send().await.unwrap();
    assert_eq!(header(&again, "x-origami-region"), Some("cache"));
    // Entries pushed out to keep the bound are counted.
    for side in 40..80 {
        http.get(server.url(&format!("/thumb/{side}/{side}/{hash}.jpg")))
            .send()
            .await
            .unwrap();
    }
    let metrics = http.get(server.url("/metrics")).send().await.unwrap();
    let text = metrics.text().await.unwrap();
    let evicted: f64 = text
        .lines()
        .find(|l| l.starts_with("origami_cache_evictions_total "))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0);
    assert!(evicted > 0.0, "{text}");
}

/// A rendition URL answered once is answered again through the hit memo, without the router:
/// with the same bytes and headers, the same conditional answers, and never after a takedown.
#[tokio::test]
async fn remembered_urls_answer_as_the_router_does() {
    let (store, _dirs) = local_store(&["memo"]);
    let hash = put_fixture(&store, "baseline.jpg").await;
    let token = "memo-token";
    let config = ServerConfig {
        upload_token: Some(token.to_owned()),
        ..ServerConfig::default()
    };
    let server = spawn_server(config, store).await;
    let http = client();
    let url = server.url(&format!("/thumb/64/48/{hash}.jpg"));
    let made = http.get(&url).send().await.unwrap();
    assert_eq!(made.status(), StatusCode::OK);
    let made_id = header(&made, "x-request-id").unwrap().to_owned();
    let made_etag = header(&made, "etag").unwrap().to_owned();
    let made_body = made.bytes().await.unwrap();
    assert_eq!(server.state.stats().remembered, 0);

    // The routed hit, then the remembered one: the same answer.
    let mut hits = Vec::new();
    for _ in 0..3 {
        hits.push(http.get(&url).send().await.unwrap());
    }
    assert!(
        server.state.stats().remembered >= 2,
        "{:?}",
        server.state.stats()
    );
    let mut ids = vec![made_id];
    for hit in hits {
        assert_eq!(hit.status(), StatusCode::OK);
        for (name, value) in [
            ("content-type", Some("image/jpeg")),
            ("cache-control", Some(IMMUTABLE)),
            ("x-origami-region", Some("cache")),
            ("etag", Some(made_etag.as_str())),
            ("vary", None),
        ] {
            assert_eq!(header(&hit, name), value, "{name}");
        }
        let len: usize = header(&hit, "content-length").unwrap().parse().unwrap();
        ids.push(header(&hit, "x-request-id").unwrap().to_owned());
        let body = hit.bytes().await.unwrap();
        assert_eq!((len, &body), (made_body.len(), &made_body));
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "every request gets its own id: {ids:?}");
    let given = http
        .get(&url)
        .header("x-request-id", "from-the-cdn")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&given, "x-request-id"), Some("from-the-cdn"));

    // HEAD: the headers without the body.
    let head = http.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        header(&head, "content-length"),
        Some(made_body.len().to_string().as_str())
    );
    assert!(head.bytes().await.unwrap().is_empty());

    // Conditional requests: 304 for the ETag and for `*`, 200 for another tag.
    for (tag, status) in [
        (made_etag.as_str(), StatusCode::NOT_MODIFIED),
        ("*", StatusCode::NOT_MODIFIED),
        ("\"another\"", StatusCode::OK),
    ] {
        let response = http
            .get(&url)
            .header("if-none-match", tag)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{tag}");
        assert_eq!(header(&response, "etag"), Some(made_etag.as_str()), "{tag}");
    }
    // The path is the whole key: a query is still refused.
    let query = http.get(format!("{url}?w=1")).send().await.unwrap();
    assert_error(query, 400, "bad_path").await;

    // Taken down: the remembered URL answers what every other URL of the original does.
    let deleted = http
        .delete(server.url(&format!("/originals/{hash}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    let remembered_before = server.state.stats().remembered;
    for path in [
        format!("/thumb/64/48/{hash}.jpg"),
        format!("/thumb/65/48/{hash}.jpg"),
    ] {
        let response = http.get(server.url(&path)).send().await.unwrap();
        assert_error(response, 404, "deleted").await;
    }
    assert_eq!(server.state.stats().remembered, remembered_before);
}

#[tokio::test]
async fn cors_is_off_by_default_and_covers_reads_but_never_uploads() {
    let (store, _dirs) = local_store(&["cors"]);
    let hash = put_fixture(&store, "baseline.jpg").await;
    let http = client();
    let thumb = format!("/thumb/40/30/{hash}.jpg");
    let off = spawn_server(ServerConfig::default(), store.clone()).await;
    let plain = http
        .get(off.url(&thumb))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert!(header(&plain, "access-control-allow-origin").is_none());

    // A list: the request's origin is echoed when listed, with Vary: Origin; others get none.
    let listed = ServerConfig {
        cors: origami_server::CorsOrigins::parse(&["https://app.example".into()]).unwrap(),
        upload_token: Some("token".into()),
        ..ServerConfig::default()
    };
    let server = spawn_server(listed, store.clone()).await;
    for path in [
        thumb.clone(),
        format!("/original/{hash}"),
        format!("/info/{hash}"),
        format!("/thumb/0/0/{hash}.jpg"), // an error answer: scripts may read its reason
    ] {
        let response = http
            .get(server.url(&path))
            .header("origin", "https://app.example")
            .send()
            .await
            .unwrap();
        assert_eq!(
            header(&response, "access-control-allow-origin"),
            Some("https://app.example"),
            "{path}"
        );
        assert!(
            header(&response, "vary").is_some_and(|v| v.to_ascii_lowercase().contains("origin")),
            "{path}"
        );
    }
    // Asked again (a cache hit): still shaped by its Origin.
    let again = http
        .get(server.url(&thumb))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&again, "access-control-allow-origin"),
        Some("https://app.example")
    );
    let other = http
        .get(server.url(&thumb))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);
    assert!(header(&other, "access-control-allow-origin").is_none());
    // A preflight is answered with the methods reads allow.
    let preflight = http
        .request(reqwest::Method::OPTIONS, server.url(&thumb))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let methods = header(&preflight, "access-control-allow-methods").unwrap_or_default();
    assert!(
        methods.contains("GET") && !methods.contains("POST"),
        "{methods}"
    );
    // Uploads and the operations routes stay same-origin.
    for (method, path) in [
        (reqwest::Method::OPTIONS, "/originals"),
        (reqwest::Method::POST, "/originals"),
        (reqwest::Method::GET, "/metrics"),
    ] {
        let response = http
            .request(method.clone(), server.url(path))
            .header("origin", "https://app.example")
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert!(
            header(&response, "access-control-allow-origin").is_none(),
            "{method} {path}"
        );
    }

    // "*": every origin, nothing to vary on.
    let any = ServerConfig {
        cors: origami_server::CorsOrigins::parse(&["*".into()]).unwrap(),
        ..ServerConfig::default()
    };
    let server = spawn_server(any, store).await;
    let response = http
        .get(server.url(&thumb))
        .header("origin", "https://anyone.example")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
    assert!(header(&response, "vary").is_none());
    assert_eq!(header(&response, "cache-control"), Some(IMMUTABLE));
}

#[tokio::test]
async fn presets_expand_to_their_pipeline_and_can_be_the_only_pipelines() {
    let (store, _dirs) = local_store(&["presets"]);
    let hash = put_fixture(&store, "baseline.jpg").await;
    let presets = |avatar: &str| {
        std::collections::BTreeMap::from([("avatar".to_owned(), avatar.parse().unwrap())])
    };
    let config = ServerConfig {
        presets: presets("thumb/40/40"),
        ..ServerConfig::default()
    };
    let server = spawn_server(config.clone(), store.clone()).await;
    let http = client();
    let get = |path: String| {
        let http = http.clone();
        let url = server.url(&path);
        async move { http.get(url).send().await.unwrap() }
    };
    // The preset is its expansion: same bytes, same ETag, same cache entry.
    let preset = get(format!("/p/avatar/{hash}.jpg")).await;
    assert_eq!(preset.status(), StatusCode::OK);
    let etag = header(&preset, "etag").unwrap().to_owned();
    let bytes = preset.bytes().await.unwrap();
    let spelled = get(format!("/thumb/40/40/{hash}.jpg")).await;
    assert_eq!(header(&spelled, "x-origami-region"), Some("cache"));
    assert_eq!(header(&spelled, "etag"), Some(etag.as_str()));
    assert_eq!(spelled.bytes().await.unwrap(), bytes);
    // dpr and q may follow; nothing else may.
    let dpr = get(format!("/p/avatar/dpr/2/q/50/{hash}.png")).await;
    assert_eq!(dpr.status(), StatusCode::OK);
    let info = origami_engine::probe(&dpr.bytes().await.unwrap()).unwrap();
    assert_eq!((info.width, info.height), (80, 80));
    for (path, status, code) in [
        (format!("/p/avatar/blur/2/{hash}.jpg"), 400, "bad_path"),
        // The grammar's own order, as in any URL.
        (
            format!("/p/avatar/q/50/dpr/2/{hash}.jpg"),
            400,
            "invalid_params",
        ),
        (format!("/p/nope/{hash}.jpg"), 404, "not_found"),
    ] {
        assert_error(get(path.clone()).await, status, code).await;
    }
    // Editing a preset changes its outputs' ETags.
    let edited = ServerConfig {
        presets: presets("thumb/40/40/g/smart"),
        ..config.clone()
    };
    let edited = spawn_server(edited, store.clone()).await;
    let again = http
        .get(edited.url(&format!("/p/avatar/{hash}.jpg")))
        .send()
        .await
        .unwrap();
    assert_ne!(header(&again, "etag"), Some(etag.as_str()));

    // presets_only: every other pipeline is 403; presets and originals still serve.
    let only = ServerConfig {
        presets_only: true,
        ..config
    };
    let only = spawn_server(only, store).await;
    let refused = http
        .get(only.url(&format!("/thumb/40/40/{hash}.jpg")))
        .send()
        .await
        .unwrap();
    assert_error(refused, 403, "presets_only").await;
    for path in [
        format!("/p/avatar/{hash}.webp"),
        format!("/original/{hash}"),
    ] {
        let response = http.get(only.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

/// HEIC, AVIF, TIFF, BMP, ICO and QOI originals: uploaded, described, served as they were
/// stored and turned into every output format over HTTP; the input-only ones never an output
/// format themselves.
#[tokio::test]
async fn input_only_formats_upload_and_make_derivatives() {
    let (store, _dirs) = local_store(&["inputs"]);
    let config = ServerConfig {
        upload_token: Some("token".into()),
        ..ServerConfig::default()
    };
    let server = spawn_server(config, store).await;
    let http = client();
    for (name, ext, mime) in [
        ("inputs/quadrants.heic", "heic", "image/heic"),
        ("inputs/quadrants-10bit.heic", "heic", "image/heic"),
        ("inputs/quadrants-alpha.avif", "avif", "image/avif"),
        ("inputs/quadrants.jxl", "jxl", "image/jxl"),
        ("inputs/quadrants.svg", "svg", "image/svg+xml"),
        ("inputs/quadrants-lzw.tiff", "tiff", "image/tiff"),
        ("inputs/quadrants-orient-6.tiff", "tiff", "image/tiff"),
        ("inputs/quadrants.bmp", "bmp", "image/bmp"),
        ("inputs/quadrants.ico", "ico", "image/x-icon"),
        ("inputs/quadrants.qoi", "qoi", "image/qoi"),
    ] {
        let bytes = fixture(name);
        let uploaded = http
            .post(server.url("/originals"))
            .bearer_auth("token")
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(uploaded.status(), StatusCode::CREATED, "{name}");
        let body: serde_json::Value =
            serde_json::from_slice(&uploaded.bytes().await.unwrap()).unwrap();
        assert_eq!(body["format"], ext, "{name}");
        assert_eq!(
            (body["width"].as_u64(), body["height"].as_u64()),
            (Some(64), Some(48))
        );
        let hash = ContentHash::of(&bytes);
        let original = http
            .get(server.url(&format!("/original/{hash}")))
            .send()
            .await
            .unwrap();
        assert_eq!(original.status(), StatusCode::OK, "{name}");
        assert_eq!(header(&original, "content-type"), Some(mime), "{name}");
        assert_eq!(original.bytes().await.unwrap(), bytes);
        for format in ImageFormat::ALL {
            let path = format!("/thumb/32/24/{hash}.{}", format.extension());
            let response = http.get(server.url(&path)).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let out = response.bytes().await.unwrap();
            if format != ImageFormat::Avif {
                let info = origami_engine::probe(&out).unwrap();
                assert_eq!((info.format, info.width, info.height), (format, 32, 24));
            }
        }
        // Upright: the top-left of a PNG derivative is red.
        let png = http
            .get(server.url(&format!("/fit/64/64/{hash}.png")))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let bitmap = origami_engine::decode(&png, &origami_engine::Limits::default()).unwrap();
        let [r, g, b, _] = bitmap.pixel(4, 4);
        assert!(
            r > 220 && g < 40 && b < 40,
            "{name}: top-left is {r},{g},{b}"
        );
        if ext == "avif" {
            // An output format too.
            continue;
        }
        let refused = http
            .get(server.url(&format!("/thumb/32/24/{hash}.{ext}")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            refused.status(),
            StatusCode::BAD_REQUEST,
            "{ext} is no output"
        );
    }
}

/// A GIF of `frames` one-pixel frames on an 8x8 canvas, written byte by byte (each frame is
/// the 1x1 image of the classic smallest GIF).
fn gif_with_frames(frames: usize) -> Vec<u8> {
    let mut gif = b"GIF89a\x08\x00\x08\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff".to_vec();
    for _ in 0..frames {
        gif.extend_from_slice(b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00");
    }
    gif.push(0x3b);
    gif
}

/// Animated GIF and WebP originals stay animated in GIF and WebP derivatives (the frame count
/// read back from the derivative) and give their first frame as PNG; `/info` counts the
/// frames; an animation over `limits.max_frames` is refused at upload with the reason.
#[tokio::test]
async fn animated_originals_make_animated_derivatives() {
    let (store, _dirs) = local_store(&["inputs"]);
    let config = ServerConfig {
        upload_token: Some("token".into()),
        ..ServerConfig::default()
    };
    let server = spawn_server(config, store).await;
    let http = client();
    for name in ["inputs/animated.gif", "inputs/animated.webp"] {
        let bytes = fixture(name);
        let uploaded = http
            .post(server.url("/originals"))
            .bearer_auth("token")
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(uploaded.status(), StatusCode::CREATED, "{name}");
        let hash = ContentHash::of(&bytes);
        let info = http
            .get(server.url(&format!("/info/{hash}")))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let info: serde_json::Value = serde_json::from_slice(&info).unwrap();
        assert_eq!(info["frames"], 4, "{name}");
        for (ext, frames) in [("gif", 4), ("webp", 4), ("png", 1), ("jpg", 1)] {
            let path = format!("/fit/24/24/{hash}.{ext}");
            let response = http.get(server.url(&path)).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let out = response.bytes().await.unwrap();
            let made = origami_engine::probe(&out).unwrap();
            assert_eq!((made.width, made.height), (24, 16), "{path}");
            assert_eq!(made.frames, frames, "{path}");
        }
    }
    let bomb = gif_with_frames(Limits::default().max_frames as usize + 1);
    let refused = http
        .post(server.url("/originals"))
        .bearer_auth("token")
        .body(bomb)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let reason = refused.text().await.unwrap();
    assert!(reason.contains("max_frames"), "{reason}");
    // Within the limit, the same file is an original like any other.
    let fine = gif_with_frames(3);
    assert_eq!(origami_engine::probe(&fine).unwrap().frames, 3);
    let uploaded = http
        .post(server.url("/originals"))
        .bearer_auth("token")
        .body(fine.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    let hash = ContentHash::of(&fine);
    let gif = http
        .get(server.url(&format!("/fit/4/4/{hash}.gif")))
        .send()
        .await
        .unwrap();
    assert_eq!(gif.status(), StatusCode::OK);
    let out = gif.bytes().await.unwrap();
    assert_eq!(origami_engine::probe(&out).unwrap().frames, 3);
}
