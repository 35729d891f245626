//! What a hostile or merely unusual client does, over real loopback connections: each test here
//! failed before its fix (cache keys that mixed negotiated and explicit formats, `If-None-Match:
//! *` answered before anything was checked, aliases of one URL, 405 without `Allow`, a
//! lower-case `bearer` refused).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use origami_engine::{ImageFormat, Pipeline};
use origami_server::{rendition_spec, ServerConfig, SigningKey};
use origami_store::{DerivedKey, Store as _, StoreExt as _};

/// Over `max_avif_pixels` (4 MP against 2.1 MP): AVIF is refused, a negotiated request falls
/// back to WebP.
const TOO_LARGE_FOR_AVIF: &str = "thumb/2000/2000";

#[tokio::test]
async fn an_explicit_format_is_never_answered_from_a_negotiated_fallback() {
    let (store, _dirs) = local_store(&["keys"]);
    let hash = put_fixture(&store, "baseline.jpg").await;
    let config = ServerConfig {
        persist_derivatives: true,
        ..ServerConfig::default()
    };
    let server = spawn_server(config.clone(), store.clone()).await;
    let http = client();

    let negotiated = http
        .get(server.url(&format!("/{TOO_LARGE_FOR_AVIF}/{hash}")))
        .header("accept", "image/avif,image/webp")
        .send()
        .await
        .unwrap();
    assert_eq!(negotiated.status(), 200);
    assert_eq!(header(&negotiated, "content-type"), Some("image/webp"));
    let negotiated_etag = header(&negotiated, "etag").unwrap().to_owned();
    let webp = negotiated.bytes().await.unwrap();

    // The fallback reaches the derived space as what it is: a WebP, under the WebP spec.
    let pipeline: Pipeline = TOO_LARGE_FOR_AVIF.parse().unwrap();
    let webp_key = DerivedKey::new(hash, rendition_spec(&pipeline, ImageFormat::WebP)).unwrap();
    let avif_key = DerivedKey::new(hash, rendition_spec(&pipeline, ImageFormat::Avif)).unwrap();
    let mut stored = None;
    for _ in 0..500 {
        if let Ok(got) = store.get_derived(&webp_key).await {
            stored = Some(got.bytes);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(stored.as_deref(), Some(&webp[..]), "stored as .webp");
    assert!(
        store.get_derived(&avif_key).await.is_err(),
        "never as .avif"
    );

    // The explicit URL keeps its own answer, here and on a replica with a cold memory.
    let explicit = format!("/{TOO_LARGE_FOR_AVIF}/{hash}.avif");
    let replica = spawn_server(config, store).await;
    for base in [&server, &replica] {
        let response = http.get(base.url(&explicit)).send().await.unwrap();
        assert_eq!(response.status(), 422, "{}", base.url(&explicit));
        assert_eq!(header(&response, "content-type"), Some("application/json"));
    }
    // And the negotiated answer has its own ETag.
    let webp_url = http
        .get(server.url(&format!("/{TOO_LARGE_FOR_AVIF}/{hash}.webp")))
        .send()
        .await
        .unwrap();
    assert_eq!(webp_url.status(), 200);
    assert_ne!(header(&webp_url, "etag").unwrap(), negotiated_etag);
}

#[tokio::test]
async fn if_none_match_star_matches_only_what_exists() {
    let (store, _dirs) = local_store(&["star"]);
    let hash = put_fixture(&store, "baseline.jpg").await;
    let unknown = origami_store::ContentHash::of(b"never stored");
    let server = spawn_server(ServerConfig::default(), store).await;
    let http = client();
    let star = |path: String| {
        http.get(server.url(&path))
            .header("if-none-match", "*")
            .send()
    };
    for (path, status) in [
        (format!("/thumb/100/75/{unknown}.jpg"), 404),
        (format!("/thumb/99999/75/{hash}.jpg"), 400),
        (format!("/{TOO_LARGE_FOR_AVIF}/{hash}.avif"), 422),
        (format!("/original/{unknown}"), 404),
        (format!("/thumbhash/{unknown}"), 404),
        (format!("/thumb/100/75/{hash}.jpg"), 304),
        (format!("/original/{hash}"), 304),
        (format!("/thumbhash/{hash}"), 304),
    ] {
        let response = star(path.clone()).await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        if status == 304 {
            assert!(header(&response, "etag").is_some(), "{path}");
        } else {
            assert!(!header(&response, "cache-control")
                .unwrap()
                .contains("immutable"));
        }
    }
}

#[tokio::test]
async fn one_url_per_resource_and_405_says_what_is_allowed() {
    let (store, _dirs) = local_store(&["aliases"]);
    let hash = put_fixture(&store, "baseline.jpg").await;
    let server = spawn_server(ServerConfig::default(), store).await;
    let http = client();

    let canonical = http
        .get(server.url(&format!("/original/{hash}.jpg")))
        .send()
        .await
        .unwrap();
    assert_eq!(canonical.status(), 200);
    for alias in [
        format!("/original/{hash}%2ejpg"),
        format!("/original/{hash}%2Ejpg"),
        format!("/info/{hash}%20"),
        format!("/thumbhash/{hash}%2epng"),
    ] {
        let response = http.get(server.url(&alias)).send().await.unwrap();
        assert_eq!(response.status(), 400, "{alias}");
    }

    for (method, path, allow) in [
        (
            reqwest::Method::PUT,
            format!("/thumb/10/10/{hash}.jpg"),
            "GET, HEAD",
        ),
        (
            reqwest::Method::DELETE,
            format!("/original/{hash}"),
            "GET, HEAD",
        ),
        (reqwest::Method::GET, "/originals".to_owned(), "POST"),
    ] {
        let response = http
            .request(method.clone(), server.url(&path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(header(&response, "allow"), Some(allow), "{method} {path}");
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let (store, _dirs) = local_store(&["bearer"]);
    let config = ServerConfig {
        upload_token: Some("s3cret-token".into()),
        ..ServerConfig::default()
    };
    let server = spawn_server(config, store).await;
    let http = client();
    for (scheme, status) in [("bearer", 201), ("BEARER", 200), ("Basic", 401)] {
        let response = http
            .post(server.url("/originals"))
            .header("authorization", format!("{scheme} s3cret-token"))
            .body(fixture("baseline.jpg"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{scheme}");
    }
}

#[tokio::test]
async fn signing_covers_every_public_read() {
    let (store, _dirs) = local_store(&["signed-reads"]);
    let hash = put_fixture(&store, "baseline.jpg").await;
    let key = SigningKey::from_hex("000102030405060708090a0b0c0d0e0f").unwrap();
    let config = ServerConfig {
        signing_keys: vec![key.clone()],
        ..ServerConfig::default()
    };
    let with_token = ServerConfig {
        metrics_token: Some("scrape-token".into()),
        ..config.clone()
    };
    let server = spawn_server(config, store.clone()).await;
    let http = client();
    for rest in [
        format!("/original/{hash}"),
        format!("/original/{hash}.jpg"),
        format!("/info/{hash}"),
        format!("/thumbhash/{hash}"),
        format!("/thumbhash/{hash}.png"),
    ] {
        let unsigned = http.get(server.url(&rest)).send().await.unwrap();
        assert_eq!(unsigned.status(), 403, "{rest}");
        let forged = format!("/s/{}{rest}", "A".repeat(origami_server::SIGNATURE_LEN));
        let forged = http.get(server.url(&forged)).send().await.unwrap();
        assert_eq!(forged.status(), 403, "forged {rest}");
        let signed = format!("/s/{}{rest}", origami_server::sign(&key, &rest));
        let signed = http.get(server.url(&signed)).send().await.unwrap();
        assert_eq!(signed.status(), 200, "signed {rest}");
    }
    for open in ["/healthz", "/readyz"] {
        let response = http.get(server.url(open)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{open}");
    }
    let metrics = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 403, "no metrics token configured");

    let server = spawn_server(with_token, store).await;
    let scrape = |auth: Option<&'static str>| {
        let mut request = http.get(server.url("/metrics"));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send()
    };
    assert_eq!(scrape(None).await.unwrap().status(), 401);
    assert_eq!(scrape(Some("Bearer wrong")).await.unwrap().status(), 403);
    assert_eq!(
        scrape(Some("Bearer scrape-token")).await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn signed_forms_are_unknown_without_signing_keys() {
    let (store, _dirs) = local_store(&["unsigned"]);
    let hash = put_fixture(&store, "baseline.jpg").await;
    let server = spawn_server(ServerConfig::default(), store).await;
    let path = format!("/s/{}/original/{hash}", "A".repeat(32));
    let response = client().get(server.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), 404);
}

/// An upload is decoded far enough to prove it can be served: what every transform would refuse
/// is refused at upload with the same status, what transforms accept is stored.
#[tokio::test]
async fn uploads_are_validated_like_reads() {
    let (store, _dirs) = local_store(&["validated"]);
    let config = ServerConfig {
        upload_token: Some("token".into()),
        ..ServerConfig::default()
    };
    let limits = config.limits;
    let server = spawn_server(config, store.clone()).await;
    let http = client();
    let manifest: serde_json::Value = serde_json::from_slice(&fixture("manifest.json")).unwrap();
    let pipeline: Pipeline = "fit/64/64".parse().unwrap();
    let mut refused = 0;
    for entry in manifest["fixtures"].as_array().unwrap() {
        let name = entry["file"].as_str().unwrap();
        let bytes = fixture(name);
        let expected = match origami_engine::transform(&bytes, &pipeline, ImageFormat::Png, &limits)
        {
            Ok(_) => 201,
            Err(origami_engine::EngineError::Unsupported(_)) => 415,
            Err(_) => 422,
        };
        let response = http
            .post(server.url("/originals"))
            .header("authorization", "Bearer token")
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        // 200: the same bytes as an earlier fixture were stored already.
        let status = if status == 200 { 201 } else { status };
        assert_eq!(status, expected, "{name}");
        let hash = origami_store::ContentHash::of(&bytes);
        if expected != 201 {
            refused += 1;
            assert!(
                store.head(&hash).await.is_err(),
                "{name} must not be stored"
            );
        }
    }
    assert!(
        refused >= 5,
        "the manifest has truncated, corrupt and bomb fixtures"
    );
}

/// Reads from `stream` until the server closes it (or `within` passes): whether it closed.
async fn closed_by_server(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt as _;
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // a response: keep reading until the close
            Err(_) => return false,
        }
    }
}

fn connection_limits(header_read_ms: u64, max_connections: usize) -> ServerConfig {
    ServerConfig {
        connections: origami_server::ConnectionLimits {
            header_read_timeout: Duration::from_millis(header_read_ms),
            max_connections,
            ..origami_server::ConnectionLimits::default()
        },
        ..ServerConfig::default()
    }
}

#[tokio::test]
async fn silent_partial_and_idle_connections_are_closed() {
    use tokio::io::AsyncWriteExt as _;
    let (store, _dirs) = local_store(&["conns"]);
    let server = spawn_server(connection_limits(300, 100), store).await;
    let connect = || tokio::net::TcpStream::connect(server.addr);
    // Nothing sent, half a header, and an idle keep-alive after one answer: all closed by
    // the header-read timeout (the bound here is only how long the test waits).
    let mut silent = connect().await.unwrap();
    let mut partial = connect().await.unwrap();
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut idle = connect().await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    for (name, stream) in [
        ("silent", &mut silent),
        ("partial", &mut partial),
        ("idle", &mut idle),
    ] {
        assert!(
            closed_by_server(stream, Duration::from_secs(20)).await,
            "{name} connection still open"
        );
    }
}

#[tokio::test]
async fn connections_over_the_cap_are_refused_at_once_and_shutdown_drops_idle_ones() {
    use tokio::io::AsyncWriteExt as _;
    let (store, _dirs) = local_store(&["cap"]);
    // A header-read timeout far longer than the test: only the cap can close a connection.
    let mut server = spawn_server(connection_limits(600_000, 2), store).await;
    let connect = || tokio::net::TcpStream::connect(server.addr);
    let mut first = connect().await.unwrap();
    first
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut second = connect().await.unwrap();
    let mut third = connect().await.unwrap();
    assert!(
        closed_by_server(&mut third, Duration::from_secs(20)).await,
        "the third connection is closed by the cap"
    );
    assert!(
        !closed_by_server(&mut second, Duration::from_millis(300)).await,
        "the second is within the cap"
    );
    // Shutdown does not wait for idle (first, after its answer) or silent (second) connections.
    let serving = server.shutdown();
    tokio::time::timeout(Duration::from_secs(20), serving)
        .await
        .expect("shutdown is not held by idle connections")
        .unwrap()
        .unwrap();
    assert!(closed_by_server(&mut first, Duration::from_secs(20)).await);
}

#[tokio::test]
async fn a_pathological_derivative_is_refused_before_any_work_and_costly_ones_still_run() {
    let (store, _dirs) = local_store(&["cost"]);
    let hash = put_fixture(&store, "baseline.jpg").await;
    let server = spawn_server(ServerConfig::default(), store).await;
    let http = client();
    // 16.7 MP of lossless WebP: about 11 s of CPU, over the default limit of 6 s.
    let response = http
        .get(server.url(&format!("/thumb/4096/4095/q/100/{hash}.webp")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(
        header(&response, "cache-control"),
        Some("public, max-age=60")
    );
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    let reason = body["error"].as_str().unwrap();
    assert!(reason.contains("limits.max_cost"), "{reason}");
    assert_eq!(
        server.state.stats().transforms,
        0,
        "refused before any work"
    );
    // Lossy at the same size is costly (the expensive lane) but within the limit.
    let response = http
        .get(server.url(&format!("/thumb/4096/4095/{hash}.jpg")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn slow_readers_of_originals_hold_at_most_the_budget_and_are_cut_off() {
    use tokio::io::AsyncWriteExt as _;
    let (store, _dirs) = local_store(&["slow"]);
    // Far more than loopback's socket buffers hold, so a client that reads nothing leaves
    // most of it unsent. Stored as is: `/original/` serves any stored bytes.
    let original: Vec<u8> = (0..48u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let hash = store.put_bytes(original.clone().into()).await.unwrap().hash;
    let config = ServerConfig {
        // Room for one such original in flight.
        max_original_bytes_in_flight: 48 << 20,
        request_timeout: Duration::from_secs(20),
        connections: origami_server::ConnectionLimits {
            send_timeout: Duration::from_millis(1500),
            ..origami_server::ConnectionLimits::default()
        },
        ..ServerConfig::default()
    };
    let server = spawn_server(config, store).await;
    let mut stalled = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let request = format!("GET /original/{hash} HTTP/1.1\r\nhost: origami\r\n\r\n");
    stalled.write_all(request.as_bytes()).await.unwrap();
    // Its response holds the whole budget while it does not read...
    tokio::time::sleep(Duration::from_millis(300)).await;
    let http = client();
    let second = tokio::spawn(http.get(server.url(&format!("/original/{hash}"))).send());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !second.is_finished(),
        "a second original must wait for the budget"
    );
    // ... until the send timeout closes its connection, which frees it (the stalled client
    // still reads nothing: reading would let the server's writes progress).
    let response = second.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.unwrap() == original);
    assert!(closed_by_server(&mut stalled, Duration::from_secs(30)).await);
}

/// Sends `request` on a fresh connection and reads the whole answer (hyper closes the
/// connection after a parse error).
async fn raw_exchange(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes")
        .unwrap();
    let answer = String::from_utf8(answer).expect("a text answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    let status = head[9..12].parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

#[tokio::test]
async fn requests_hyper_cannot_parse_get_the_json_error_shape() {
    let (store, _dirs) = local_store(&["unparsed"]);
    let server = spawn_server(ServerConfig::default(), store).await;
    let long_path = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let mut many_headers = String::from("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for i in 0..120 {
        many_headers.push_str(&format!("x-h{i}: {i}\r\n"));
    }
    many_headers.push_str("\r\n");
    let raw_byte = b"GET /thumb/\xff HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    for (request, status, code) in [
        (long_path.into_bytes(), 414, "uri_too_long"),
        (many_headers.into_bytes(), 431, "headers_too_large"),
        (raw_byte, 400, "bad_request"),
    ] {
        let (got, head, body) = raw_exchange(server.addr, &request).await;
        assert_eq!(got, status, "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(head.contains("cache-control: no-store"), "{head}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("a JSON body");
        assert_eq!(json["code"], code);
        assert!(json["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    // The service's own answers on the same kind of connection are untouched.
    let (got, head, _) = raw_exchange(
        server.addr,
        b"GET /thumb/0/0/x.png HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(got, 400);
    assert!(head.contains("cache-control: public, max-age=60"), "{head}");
}

#[tokio::test]
async fn a_malformed_upload_body_is_bad_body_not_bad_path() {
    let (store, _dirs) = local_store(&["chunked"]);
    let config = ServerConfig {
        upload_token: Some("token".into()),
        ..ServerConfig::default()
    };
    let server = spawn_server(config, store).await;
    // "zz" is no chunk size: the body breaks after the request was routed and authorised.
    let (status, head, body) = raw_exchange(
        server.addr,
        b"POST /originals HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer token\r\n\
          Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400, "{head}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("a JSON body");
    assert_eq!(json["code"], "bad_body", "{json}");
}
