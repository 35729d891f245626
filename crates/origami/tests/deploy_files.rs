//! The deployment files (`Dockerfile`, `docker-compose.yml`, `deploy/kubernetes/*.yaml`,
//! `deploy/alerts.yml`, `deploy/grafana-dashboard.json`) parsed and checked against the server:
//! the configuration they carry loads with Origami's own loader, ports and probe paths agree
//! with each other and with the routes, region endpoints point at real services, and every
//! PromQL expression names only metrics (and labels) that the server and the store emit, as
//! read from their source at test time. No Docker, Kubernetes or Prometheus is needed.
#![allow(clippy::unwrap_used, clippy::result_large_err, missing_docs)]

// The files are checked by the real loader (defaults, `ORIGAMI_*` overrides, unknown-key
// errors, validation), not by a copy of its schema.
use origami::config;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use figment::providers::{Format as _, Toml};
use figment::Figment;
use serde_yaml::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    let path = repo().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml(rel: &str) -> Value {
    serde_yaml::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every document of a multi-document YAML file.
fn yaml_docs(rel: &str) -> Vec<Value> {
    use serde::Deserialize as _;
    let text = read(rel);
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{rel}: {e}")))
        .filter(|doc| !doc.is_null())
        .collect()
}

fn string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("expected a scalar, got {other:?}"),
    }
}

/// The port of an address such as `0.0.0.0:8080`.
fn port_of(addr: &str) -> u16 {
    addr.rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("no port in {addr:?}"))
}

/// Loads the configuration as `origami serve` does: defaults, then `file` (TOML text), then
/// `env` (and nothing else from the test's own environment).
fn load(
    file: Option<&str>,
    env: &[(String, String)],
) -> (config::Config, origami_server::ServerConfig) {
    let mut out = None;
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        for (k, v) in env {
            jail.set_env(k, v);
        }
        let path = match file {
            Some(text) => {
                jail.create_file("origami.toml", text)?;
                Some(jail.directory().join("origami.toml"))
            }
            None => None,
        };
        let config = config::Config::load(path.as_deref()).map_err(|e| format!("{e:#}"))?;
        let server = config::server_config(&config).map_err(|e| format!("{e:#}"))?;
        out = Some((config, server));
        Ok(())
    });
    out.unwrap()
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

/// One instruction of a Dockerfile: keyword (upper case) and its arguments, continuation lines
/// joined, comments dropped.
fn dockerfile() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in read("Dockerfile").lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let (keyword, args) = current.split_once(char::is_whitespace).unwrap();
                out.push((keyword.to_uppercase(), args.trim().to_owned()));
                current.clear();
            }
        }
    }
    out
}

/// The instructions of the last stage (the runtime image).
fn runtime_stage() -> Vec<(String, String)> {
    let all = dockerfile();
    let last_from = all.iter().rposition(|(k, _)| k == "FROM").unwrap();
    all[last_from..].to_vec()
}

/// The `ENV` variables of the runtime image.
fn image_env() -> Vec<(String, String)> {
    runtime_stage()
        .iter()
        .filter(|(k, _)| k == "ENV")
        .flat_map(|(_, args)| {
            args.split_whitespace()
                .map(|kv| {
                    let (k, v) = kv.split_once('=').expect("ENV KEY=VALUE");
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn image_listen_port() -> u16 {
    let env = image_env();
    let listen = env
        .iter()
        .find(|(k, _)| k == "ORIGAMI_LISTEN")
        .expect("the image sets ORIGAMI_LISTEN");
    port_of(&listen.1)
}

#[test]
fn dockerfile_builds_release_and_runs_unprivileged_with_a_healthcheck() {
    let all = dockerfile();
    let froms: Vec<&String> = all
        .iter()
        .filter(|(k, _)| k == "FROM")
        .map(|(_, a)| a)
        .collect();
    assert!(froms.len() >= 2, "multi-stage build: {froms:?}");

    // The builder's toolchain is the workspace's rust-version.
    let workspace = read("Cargo.toml");
    let rust_version = workspace
        .lines()
        .find_map(|l| l.trim().strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"');
    assert!(
        froms[0].starts_with(&format!("rust:{rust_version}")),
        "builder {} vs rust-version {rust_version}",
        froms[0]
    );
    let runs: Vec<&String> = all
        .iter()
        .filter(|(k, _)| k == "RUN")
        .map(|(_, a)| a)
        .collect();
    assert!(runs
        .iter()
        .any(|r| r.contains("cargo build --release -p origami --locked")));
    for tool in ["cmake", "nasm", "pkg-config"] {
        assert!(
            runs.iter()
                .any(|r| r.contains("apt-get install") && r.contains(tool)),
            "{tool} installed in the builder"
        );
    }
    // Every library scripts/setup.sh installs for the build (a `-dev` package) is in the
    // builder, and its runtime library in the runtime stage.
    let setup = read("scripts/setup.sh");
    let dev_packages: Vec<&str> = setup
        .split(|c: char| c.is_whitespace() || ":\"');,`(".contains(c))
        .filter(|word| word.starts_with("lib") && word.ends_with("-dev"))
        .collect();
    assert!(dev_packages.contains(&"libheif-dev"), "{dev_packages:?}");
    let mut dev_packages = dev_packages;
    dev_packages.sort_unstable();
    dev_packages.dedup();
    let runtime_library = |dev: &str| match dev {
        "libheif-dev" => "libheif1",
        other => panic!("{other}: name its runtime package here"),
    };
    let runtime_runs: Vec<String> = runtime_stage()
        .into_iter()
        .filter(|(k, _)| k == "RUN")
        .map(|(_, a)| a)
        .collect();
    for dev in dev_packages {
        assert!(
            runs.iter()
                .any(|r| r.contains("apt-get install") && r.contains(dev)),
            "{dev} (scripts/setup.sh) installed in the builder"
        );
        let library = runtime_library(dev);
        assert!(
            runtime_runs
                .iter()
                .any(|r| r.contains("apt-get install") && r.contains(library)),
            "{library} installed in the runtime stage"
        );
    }
    assert!(
        all.iter().all(|(_, a)| !a.contains("target-cpu=native")),
        "the image must run on any x86-64"
    );

    let runtime = runtime_stage();
    let get = |keyword: &str| -> Vec<String> {
        runtime
            .iter()
            .filter(|(k, _)| k == keyword)
            .map(|(_, a)| a.clone())
            .collect()
    };
    assert!(get("COPY").iter().any(|c| c.contains("--from=")));
    let user = get("USER").pop().expect("a USER in the runtime stage");
    let uid = user.split(':').next().unwrap();
    assert!(uid != "root" && uid != "0", "non-root user, got {user}");

    let port = image_listen_port();
    let exposed: Vec<u16> = get("EXPOSE")
        .iter()
        .flat_map(|e| {
            e.split_whitespace()
                .map(|p| p.trim_end_matches("/tcp").parse().unwrap())
        })
        .collect();
    assert!(
        exposed.contains(&port),
        "EXPOSE {exposed:?} vs ORIGAMI_LISTEN port {port}"
    );

    // The check is the binary's own subcommand, which reads the listen address from the same
    // configuration as `serve` (tested in serve_cli.rs): no curl, no port repeated here.
    let health = get("HEALTHCHECK").pop().expect("a HEALTHCHECK");
    let check: Vec<String> = serde_json::from_str(
        health
            .split_once("CMD")
            .map(|(_, cmd)| cmd.trim())
            .expect("HEALTHCHECK ... CMD [...]"),
    )
    .expect("the exec form");
    assert_eq!(&check[..2], ["origami", "healthcheck"], "{health}");
    assert!(
        !read("Dockerfile").contains("curl"),
        "no HTTP client in the image"
    );
    let entrypoint: Vec<String> = serde_json::from_str(&get("ENTRYPOINT").pop().unwrap()).unwrap();
    assert_eq!(entrypoint, ["origami"]);
    let cmd: Vec<String> = serde_json::from_str(&get("CMD").pop().unwrap()).unwrap();
    assert_eq!(cmd.first().map(String::as_str), Some("serve"));

    // The image's own environment is a valid configuration.
    let (config, _) = load(None, &image_env());
    assert_eq!(port_of(&config.listen), port);

    let ignore = read(".dockerignore");
    assert!(
        ignore.lines().any(|l| l.trim() == "target"),
        "target/ is not sent to the daemon"
    );
}

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

fn env_map(service: &Value) -> BTreeMap<String, String> {
    match &service["environment"] {
        Value::Mapping(m) => m.iter().map(|(k, v)| (string(k), string(v))).collect(),
        Value::Sequence(items) => items
            .iter()
            .map(|item| {
                let item = string(item);
                let (k, v) = item.split_once('=').unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        Value::Null => BTreeMap::new(),
        other => panic!("environment: {other:?}"),
    }
}

/// Published ports as (host, container).
fn published(service: &Value) -> Vec<(u16, u16)> {
    let Some(ports) = service["ports"].as_sequence() else {
        return Vec::new();
    };
    ports
        .iter()
        .map(|p| match p {
            Value::Mapping(_) => (
                string(&p["published"]).parse().unwrap(),
                string(&p["target"]).parse().unwrap(),
            ),
            other => {
                let s = string(other);
                let s = s.trim_end_matches("/tcp");
                let parts: Vec<&str> = s.split(':').collect();
                let n = parts.len();
                assert!(n >= 2, "port {s:?} is not published");
                (parts[n - 2].parse().unwrap(), parts[n - 1].parse().unwrap())
            }
        })
        .collect()
}

/// The host and port of `http://host:port/...`.
fn host_port(url: &str) -> (String, u16) {
    let rest = url.split_once("://").unwrap().1;
    let authority = rest.split('/').next().unwrap();
    let authority = authority.rsplit('@').next().unwrap();
    let (host, port) = authority.split_once(':').unwrap_or((authority, "80"));
    (host.to_owned(), port.parse().unwrap())
}

/// The `mc` invocations of a shell script, as argument lists after `mc` (quotes stripped).
fn mc_commands(script: &str) -> Vec<Vec<String>> {
    script
        .replace("\\\n", " ")
        .lines()
        .flat_map(|line| line.split(';'))
        .filter_map(|part| {
            let words: Vec<String> = part
                .split_whitespace()
                .map(|w| w.trim_matches(|c| c == '"' || c == '\'').to_owned())
                .collect();
            let at = words.iter().position(|w| w == "mc")?;
            Some(words[at + 1..].to_vec())
        })
        .collect()
}

/// The positional (non-flag) arguments of an `mc` command after `skip` subcommand words,
/// skipping flags and the values of the flags in `with_value`.
fn positional(args: &[String], skip: usize, with_value: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut iter = args.iter().skip(skip);
    while let Some(a) = iter.next() {
        if a.starts_with('>') || a.starts_with("2>") {
            continue;
        }
        if a.starts_with('-') {
            if with_value.contains(&a.as_str()) {
                iter.next();
            }
            continue;
        }
        out.push(a.clone());
    }
    out
}

/// True when `args` begins with the words `sub`.
fn starts(args: &[String], sub: &[&str]) -> bool {
    args.len() >= sub.len() && args.iter().zip(sub).all(|(a, b)| a == b)
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .map(|i| args[i + 1].clone())
}

#[test]
fn compose_runs_origami_over_two_replicated_minio_regions() {
    let compose = yaml("docker-compose.yml");
    // Compose interpolates `$VAR` and `${VAR}` in every value and rejects any other `$`
    // (`$(...)` is an "invalid interpolation format"); this file uses no variables, so every `$`
    // in a value must be the `$$` escape.
    fn values(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Sequence(items) => items.iter().for_each(|i| values(i, out)),
            Value::Mapping(m) => m.values().for_each(|i| values(i, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    values(&compose, &mut all);
    for value in &all {
        let mut rest = value.as_str();
        while let Some(at) = rest.find('$') {
            assert!(
                rest[at + 1..].starts_with('$'),
                "docker-compose.yml: a `$` Compose would interpolate in {value:?}"
            );
            rest = &rest[at + 2..];
        }
    }
    let services = compose["services"].as_mapping().unwrap();
    let names: HashSet<String> = services.keys().map(string).collect();
    for name in [
        "origami",
        "minio-us-east-1",
        "minio-eu-west-1",
        "minio-init",
    ] {
        assert!(names.contains(name), "service {name} missing: {names:?}");
    }
    let service = |name: &str| &compose["services"][name];
    // Images that pull today: pinned release tags from quay.io (Docker Hub no longer serves
    // minio/*), the same server release in both regions (replication needs it).
    let image_of = |name: &str| string(&service(name)["image"]);
    for name in ["minio-us-east-1", "minio-eu-west-1", "minio-init"] {
        let image = image_of(name);
        assert!(
            image.starts_with("quay.io/minio/") && image.contains(":RELEASE."),
            "{name}: {image} is not a pinned quay.io release"
        );
    }
    assert_eq!(image_of("minio-us-east-1"), image_of("minio-eu-west-1"));
    let is_minio = |name: &str| {
        let image = string(&service(name)["image"]);
        image.contains("minio/minio")
    };

    // Origami: built here, configured only through its environment, which must load.
    let origami = service("origami");
    assert!(
        !origami["build"].is_null(),
        "origami is built from the Dockerfile"
    );
    let env = env_map(origami);
    // The image's variables apply too, the service's win.
    let mut effective: BTreeMap<String, String> = image_env().into_iter().collect();
    effective.extend(env.clone());
    let effective: Vec<(String, String)> = effective.into_iter().collect();
    let (config, server) = load(None, &effective);
    // Compose's SIGKILL comes after the server's own shutdown grace.
    let stop = string(&origami["stop_grace_period"]);
    let stop_secs: u64 = stop
        .strip_suffix('s')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("stop_grace_period {stop:?} is not whole seconds"));
    assert!(
        stop_secs > server.connections.shutdown_grace.as_secs(),
        "stop_grace_period {stop} <= [server] shutdown_grace_ms"
    );
    let port = port_of(&config.listen);
    assert!(
        published(origami)
            .iter()
            .any(|&(h, c)| c == port && h == 8080),
        "origami's listen port {port} published as 8080: {:?}",
        published(origami)
    );
    assert!(server.upload_token.is_some(), "uploads are on in the demo");
    assert_eq!(
        string(&origami["depends_on"]["minio-init"]["condition"]),
        "service_completed_successfully"
    );

    // Two regions, each a MinIO service of this file, with matching region and credentials.
    let regions = &config.store.s3;
    assert_eq!(regions.len(), 2, "{regions:?}");
    let mut backing = HashMap::new();
    for region in regions {
        let endpoint = region
            .endpoint
            .as_deref()
            .expect("endpoint of a compose service");
        let (host, port) = host_port(endpoint);
        assert!(names.contains(&host), "{endpoint}: no service {host}");
        assert!(is_minio(&host), "{host} is not a MinIO service");
        let minio = service(&host);
        let command: Vec<String> = minio["command"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(string)
            .collect();
        assert_eq!(&command[..2], ["server", "/data"], "{host}: {command:?}");
        assert!(!command.contains(&"--address".to_owned()), "API on :9000");
        assert_eq!(port, 9000, "{endpoint}: MinIO's API port");
        assert!(
            !minio["healthcheck"]["test"].is_null(),
            "{host} has a healthcheck"
        );
        let minio_env = env_map(minio);
        assert_eq!(minio_env.get("MINIO_SITE_REGION"), Some(&region.region));
        assert_eq!(
            env.get("AWS_ACCESS_KEY_ID"),
            minio_env.get("MINIO_ROOT_USER")
        );
        assert_eq!(
            env.get("AWS_SECRET_ACCESS_KEY"),
            minio_env.get("MINIO_ROOT_PASSWORD")
        );
        assert!(
            backing.insert(host, region.bucket.clone()).is_none(),
            "one region per server"
        );
    }
    let minios: Vec<&String> = backing.keys().collect();
    assert_eq!(
        service(minios[0])["image"],
        service(minios[1])["image"],
        "replication needs the same MinIO release on both sides"
    );

    // The init container: waits for both servers, creates each bucket Origami uses, enables
    // versioning on it and replicates it to the other server.
    let init = service("minio-init");
    assert!(string(&init["image"]).contains("minio/mc"));
    for host in backing.keys() {
        assert_eq!(
            string(&init["depends_on"][host.as_str()]["condition"]),
            "service_healthy"
        );
    }
    let mut script: Vec<String> = Vec::new();
    for part in [&init["entrypoint"], &init["command"]] {
        match part {
            Value::Sequence(items) => script.extend(items.iter().map(string)),
            Value::String(s) => script.push(s.clone()),
            _ => {}
        }
    }
    let commands = mc_commands(&script.join("\n"));
    // alias -> (host, user, password)
    let mut aliases: HashMap<String, (String, String, String)> = HashMap::new();
    for c in commands.iter().filter(|c| starts(c, &["alias", "set"])) {
        let args = positional(c, 2, &[]);
        aliases.insert(
            args[0].clone(),
            (host_port(&args[1]).0, args[2].clone(), args[3].clone()),
        );
    }
    let target_of = |path: &str| -> (String, String) {
        let (alias, bucket) = path.split_once('/').unwrap();
        let (host, _, _) = aliases
            .get(alias)
            .unwrap_or_else(|| panic!("alias {alias} not set"));
        (host.clone(), bucket.trim_end_matches('/').to_owned())
    };
    let targets = |sub: &[&str]| -> Vec<(String, String)> {
        commands
            .iter()
            .filter(|c| c.len() > sub.len() && starts(c, sub))
            .map(|c| target_of(&positional(c, sub.len(), &[])[0]))
            .collect()
    };
    let made = targets(&["mb"]);
    let versioned = targets(&["version", "enable"]);
    let mut replicated = HashSet::new();
    for c in commands.iter().filter(|c| starts(c, &["replicate", "add"])) {
        let with_value = [
            "--remote-bucket",
            "--region",
            "--priority",
            "--replicate",
            "--id",
        ];
        let source = target_of(&positional(c, 2, &with_value)[0]);
        let remote = flag(c, "--remote-bucket").expect("--remote-bucket URL");
        let (remote_host, _) = host_port(&remote);
        let remote_bucket = remote.rsplit('/').next().unwrap().to_owned();
        let credentials = remote
            .split_once("://")
            .unwrap()
            .1
            .split_once('@')
            .unwrap()
            .0;
        let remote_env = env_map(service(&remote_host));
        assert_eq!(
            credentials,
            format!(
                "{}:{}",
                remote_env["MINIO_ROOT_USER"], remote_env["MINIO_ROOT_PASSWORD"]
            ),
            "the replication target's credentials are the remote server's"
        );
        replicated.insert((source, (remote_host, remote_bucket)));
    }
    for (host, bucket) in &backing {
        let here = (host.clone(), bucket.clone());
        assert!(
            made.contains(&here),
            "bucket {bucket} created on {host}: {made:?}"
        );
        assert!(
            versioned.contains(&here),
            "versioning on {host}/{bucket}: {versioned:?}"
        );
        for (other, other_bucket) in &backing {
            if other != host {
                let there = (other.clone(), other_bucket.clone());
                assert!(
                    replicated.contains(&(here.clone(), there)),
                    "{host}/{bucket} replicates to {other}/{other_bucket}: {replicated:?}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

struct Manifests {
    by_kind: HashMap<String, Vec<Value>>,
}

impl Manifests {
    fn load() -> Self {
        let dir = repo().join("deploy/kubernetes");
        let mut by_kind: HashMap<String, Vec<Value>> = HashMap::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if !matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                continue;
            }
            let rel = format!(
                "deploy/kubernetes/{}",
                path.file_name().unwrap().to_str().unwrap()
            );
            for doc in yaml_docs(&rel) {
                for key in ["apiVersion", "kind"] {
                    assert!(doc[key].is_string(), "{rel}: {key} missing");
                }
                assert!(
                    doc["metadata"]["name"].is_string(),
                    "{rel}: metadata.name missing"
                );
                by_kind.entry(string(&doc["kind"])).or_default().push(doc);
            }
        }
        Self { by_kind }
    }

    fn one(&self, kind: &str) -> &Value {
        let docs = self
            .by_kind
            .get(kind)
            .unwrap_or_else(|| panic!("no {kind}"));
        assert_eq!(docs.len(), 1, "one {kind}");
        &docs[0]
    }
}

/// True when every `matchLabels`/selector label is on the pod template.
fn selects(selector: &Value, pod_labels: &Value) -> bool {
    let selector = selector.as_mapping().unwrap();
    !selector.is_empty()
        && selector
            .iter()
            .all(|(k, v)| &pod_labels[string(k).as_str()] == v)
}

/// A probe's port (a name or a number) resolved to the container's port number.
fn resolve_port(port: &Value, container: &Value) -> u16 {
    match port {
        Value::Number(n) => u16::try_from(n.as_u64().unwrap()).unwrap(),
        Value::String(name) => container["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|p| p["name"].as_str() == Some(name))
            .map(|p| u16::try_from(p["containerPort"].as_u64().unwrap()).unwrap())
            .unwrap_or_else(|| panic!("no container port named {name}")),
        other => panic!("port {other:?}"),
    }
}

#[test]
fn kubernetes_manifests_agree_with_the_server() {
    let m = Manifests::load();
    let deployment = m.one("Deployment");
    let configmap = m.one("ConfigMap");
    let secret = m.one("Secret");
    let pod = &deployment["spec"]["template"];
    let pod_labels = &pod["metadata"]["labels"];
    assert!(selects(
        &deployment["spec"]["selector"]["matchLabels"],
        pod_labels
    ));
    let containers = pod["spec"]["containers"].as_sequence().unwrap();
    assert_eq!(containers.len(), 1);
    let container = &containers[0];

    // The configuration: ORIGAMI_CONFIG names the configmap key, as mounted.
    let env = container["env"].as_sequence().unwrap();
    let env_value = |name: &str| env.iter().find(|e| e["name"].as_str() == Some(name));
    let config_path = string(&env_value("ORIGAMI_CONFIG").expect("ORIGAMI_CONFIG")["value"]);
    let volumes = pod["spec"]["volumes"].as_sequence().unwrap();
    let config_volume = volumes
        .iter()
        .find(|v| v["configMap"]["name"] == configmap["metadata"]["name"])
        .expect("a volume of the ConfigMap");
    let mount = container["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == config_volume["name"])
        .expect("the ConfigMap volume is mounted");
    let key = config_path
        .strip_prefix(&format!("{}/", string(&mount["mountPath"])))
        .unwrap_or_else(|| panic!("{config_path} is not under the mount"));
    let toml = configmap["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no key {key}"));

    // Load it as the pod would: the image's ENV, then the container's env (secrets resolved
    // from the example Secret; optional keys it lacks stay unset).
    let mut vars: BTreeMap<String, String> = image_env().into_iter().collect();
    for e in env {
        let name = string(&e["name"]);
        if let Some(v) = e.get("value") {
            vars.insert(name, string(v));
        } else if let Some(r) = e["valueFrom"].get("secretKeyRef") {
            assert_eq!(r["name"], secret["metadata"]["name"], "{name}: secret name");
            match secret["stringData"].get(r["key"].as_str().unwrap()) {
                Some(v) => {
                    vars.insert(name, string(v));
                }
                None => assert_eq!(r["optional"].as_bool(), Some(true), "{name}: missing key"),
            }
        } else {
            panic!("{name}: unsupported env source");
        }
    }
    let vars: Vec<(String, String)> = vars.into_iter().collect();
    let (config, server) = load(Some(toml), &vars);
    assert!(
        config.store.s3.len() >= 2,
        "two regions: {:?}",
        config.store.s3
    );
    for region in &config.store.s3 {
        assert!(
            !region.bucket.is_empty() && !region.region.is_empty(),
            "{region:?}"
        );
    }
    assert!(
        server.upload_token.is_some(),
        "upload token from the Secret"
    );

    // One port everywhere: the file's `listen` (which the image's ORIGAMI_LISTEN overrides, so
    // they must agree), the container port, the probes, the scrape annotation, the Service.
    let file_listen: String = Figment::from(Toml::string(toml))
        .extract_inner("listen")
        .unwrap();
    let port = port_of(&config.listen);
    assert_eq!(
        port_of(&file_listen),
        port,
        "configmap listen vs ORIGAMI_LISTEN"
    );
    assert_eq!(port, image_listen_port());
    let http = resolve_port(&Value::String("http".into()), container);
    assert_eq!(http, port, "containerPort 'http' is the listen port");
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"].as_str(), Some(path), "{probe}");
        assert_eq!(resolve_port(&get["port"], container), port, "{probe} port");
    }
    let annotations = &pod["metadata"]["annotations"];
    if let Some(scrape) = annotations.get("prometheus.io/port") {
        assert_eq!(string(scrape), port.to_string());
        assert_eq!(annotations["prometheus.io/path"].as_str(), Some("/metrics"));
    }
    let service = m.one("Service");
    assert!(selects(&service["spec"]["selector"], pod_labels));
    for p in service["spec"]["ports"].as_sequence().unwrap() {
        assert_eq!(
            resolve_port(&p["targetPort"], container),
            port,
            "Service targetPort"
        );
    }

    // Graceful termination outlives the preStop sleep plus the longest request: a read is cut
    // at the request deadline, an upload by one region write.
    let grace = pod["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap();
    let pre_stop: Vec<String> = container["lifecycle"]["preStop"]["exec"]["command"]
        .as_sequence()
        .expect("a preStop command")
        .iter()
        .map(string)
        .collect();
    assert_eq!(pre_stop[0], "sleep");
    let sleep: u64 = pre_stop[1].parse().unwrap();
    let longest = server
        .request_timeout
        .as_secs()
        .max(config.failover.write_timeout_ms / 1000);
    assert!(
        grace > sleep + longest,
        "terminationGracePeriodSeconds {grace} <= preStop {sleep} s + {longest} s"
    );
    // The server's own shutdown grace lets the longest request finish, and ends before the
    // kubelet's SIGKILL would.
    let shutdown_grace = server.connections.shutdown_grace.as_secs();
    assert!(
        shutdown_grace >= longest,
        "[server] shutdown_grace_ms ({shutdown_grace} s) < the longest request ({longest} s)"
    );
    assert!(
        grace > sleep + shutdown_grace,
        "terminationGracePeriodSeconds {grace} <= preStop {sleep} s + shutdown grace {shutdown_grace} s"
    );

    // Resources: one worker per CPU of the limit.
    let cpu = string(&container["resources"]["limits"]["cpu"]);
    assert!(!container["resources"]["requests"]["memory"].is_null());
    if let Ok(cpus) = cpu.parse::<usize>() {
        assert_eq!(server.workers, cpus, "[server] workers vs the CPU limit");
    }

    // Non-root (the image's user), read-only root filesystem.
    let pod_security = &pod["spec"]["securityContext"];
    let container_security = &container["securityContext"];
    assert!(
        pod_security["runAsNonRoot"].as_bool() == Some(true)
            || container_security["runAsNonRoot"].as_bool() == Some(true)
    );
    assert_eq!(
        container_security["readOnlyRootFilesystem"].as_bool(),
        Some(true)
    );
    if let Some(uid) = pod_security["runAsUser"].as_u64() {
        let user = runtime_stage()
            .into_iter()
            .rev()
            .find(|(k, _)| k == "USER")
            .unwrap()
            .1;
        assert_eq!(
            user.split(':').next().unwrap(),
            uid.to_string(),
            "the image's user"
        );
    }

    let hpa = m.one("HorizontalPodAutoscaler");
    assert_eq!(hpa["apiVersion"].as_str(), Some("autoscaling/v2"));
    assert_eq!(
        hpa["spec"]["scaleTargetRef"]["kind"].as_str(),
        Some("Deployment")
    );
    assert_eq!(
        hpa["spec"]["scaleTargetRef"]["name"],
        deployment["metadata"]["name"]
    );
    assert!(hpa["spec"]["metrics"]
        .as_sequence()
        .unwrap()
        .iter()
        .any(|metric| metric["resource"]["name"].as_str() == Some("cpu")));
    // At least 3, so that one pod's trouble is a minority in the region-down alert.
    assert!(hpa["spec"]["minReplicas"].as_u64().unwrap() >= 3);

    let pdb = m.one("PodDisruptionBudget");
    assert!(selects(&pdb["spec"]["selector"]["matchLabels"], pod_labels));
}

// ---------------------------------------------------------------------------------------------
// PromQL: metric and label names

/// The metrics the server and the store emit, read from their source.
struct Catalogue {
    metrics: HashSet<String>,
    histograms: HashSet<String>,
    labels: HashSet<String>,
}

fn catalogue() -> Catalogue {
    let mut c = Catalogue {
        metrics: HashSet::new(),
        histograms: HashSet::new(),
        // Added by Prometheus (instance, job) or by histograms (le).
        labels: ["instance", "job", "le"].map(str::to_owned).into(),
    };
    for file in [
        "crates/origami-server/src/metrics.rs",
        "crates/origami-store/src/metrics.rs",
    ] {
        let text = read(file);
        let mut consts = HashMap::new();
        for line in text.lines() {
            let Some(rest) = line.trim().strip_prefix("pub const ") else {
                continue;
            };
            let (ident, value) = rest.split_once(':').unwrap();
            let name = value.split('"').nth(1).unwrap();
            consts.insert(ident.trim().to_owned(), name.to_owned());
            c.metrics.insert(name.to_owned());
        }
        for (i, _) in text.match_indices("describe_histogram!(") {
            let rest = &text[i + "describe_histogram!(".len()..];
            let ident = rest.split(',').next().unwrap().trim();
            c.histograms.insert(consts[ident].clone());
        }
        // Label keys: `"key" =>` in the emitting macros.
        for (i, _) in text.match_indices("\" =>") {
            let start = text[..i].rfind('"').unwrap();
            c.labels.insert(text[start + 1..i].to_owned());
        }
    }
    for name in [
        "origami_http_requests_total",
        "origami_http_request_seconds",
        "origami_region_up",
        "origami_repair_pending",
    ] {
        assert!(c.metrics.contains(name), "catalogue parsing lost {name}");
    }
    assert!(c.histograms.contains("origami_transform_seconds"));
    assert!(c.labels.contains("region") && c.labels.contains("status"));
    c
}

#[derive(Debug, PartialEq)]
enum Tok {
    Ident(String),
    Punct(char),
}

/// PromQL tokens, without string literals, numbers, range selectors (`[5m]`) and `$variables`.
fn promql_tokens(expr: &str) -> Vec<Tok> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '[' {
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() || c == '.' || c == '$' {
            i += 1;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
        } else {
            if !c.is_whitespace() {
                out.push(Tok::Punct(c));
            }
            i += 1;
        }
    }
    out
}

const PROMQL_WORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "topk",
    "bottomk",
    "quantile",
    "rate",
    "irate",
    "increase",
    "deriv",
    "delta",
    "idelta",
    "histogram_quantile",
    "abs",
    "clamp_min",
    "clamp_max",
    "absent",
    "vector",
    "scalar",
    "time",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "max_over_time",
    "min_over_time",
    "avg_over_time",
    "label_values",
];

/// Checks that `expr` names only known metrics (histogram series with their suffixes), known
/// labels, and PromQL functions or keywords; returns the metric names.
fn check_promql(expr: &str, cat: &Catalogue, what: &str) -> Vec<String> {
    let tokens = promql_tokens(expr);
    let mut metrics = Vec::new();
    let mut in_braces = false;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Tok::Punct('{') => in_braces = true,
            Tok::Punct('}') => in_braces = false,
            Tok::Ident(label) if in_braces => {
                assert!(
                    cat.labels.contains(label),
                    "{what}: unknown label {label} in {expr}"
                );
            }
            Tok::Ident(word)
                if matches!(
                    word.as_str(),
                    "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
                ) && tokens.get(i + 1) == Some(&Tok::Punct('(')) =>
            {
                i += 2;
                while i < tokens.len() && tokens[i] != Tok::Punct(')') {
                    if let Tok::Ident(label) = &tokens[i] {
                        assert!(
                            cat.labels.contains(label),
                            "{what}: unknown label {label} in {expr}"
                        );
                    }
                    i += 1;
                }
            }
            Tok::Ident(name) if name.starts_with("origami_") => {
                let known = cat.metrics.contains(name)
                    || ["_bucket", "_count", "_sum"].iter().any(|suffix| {
                        name.strip_suffix(suffix)
                            .is_some_and(|base| cat.histograms.contains(base))
                    });
                assert!(known, "{what}: unknown metric {name} in {expr}");
                metrics.push(name.clone());
            }
            // Prometheus' own per-target series (1 when the scrape succeeded).
            Tok::Ident(name) if name == "up" => metrics.push(name.clone()),
            Tok::Ident(word) => {
                assert!(
                    PROMQL_WORDS.contains(&word.as_str()),
                    "{what}: unknown word {word} in {expr}"
                );
            }
            Tok::Punct(_) => {}
        }
        i += 1;
    }
    assert!(!metrics.is_empty(), "{what}: no metric in {expr}");
    metrics
}

#[test]
fn promql_checker_rejects_unknown_names() {
    let cat = catalogue();
    check_promql(
        r#"histogram_quantile(0.99, sum by (le, route) (rate(origami_http_request_seconds_bucket{route="transform"}[5m])))"#,
        &cat,
        "ok",
    );
    for bad in [
        "origami_region_upp == 0",
        "rate(origami_region_up_bucket[5m])",
        "rat(origami_region_up[5m])",
        "sum by (regoin) (origami_region_up)",
        r#"origami_region_up{regoin="a"}"#,
    ] {
        let result = std::panic::catch_unwind(|| check_promql(bad, &cat, "bad"));
        assert!(result.is_err(), "accepted {bad}");
    }
}

/// `expr` with runs of whitespace collapsed, for substring checks.
fn squash(expr: &str) -> String {
    expr.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn alert_rules_use_real_metrics_and_the_agreed_thresholds() {
    let cat = catalogue();
    let alerts = yaml("deploy/alerts.yml");
    let mut rules = Vec::new();
    for group in alerts["groups"].as_sequence().unwrap() {
        assert!(group["name"].is_string());
        rules.extend(group["rules"].as_sequence().unwrap().iter().cloned());
    }
    let mut names = HashSet::new();
    for rule in &rules {
        let name = string(&rule["alert"]);
        assert!(names.insert(name.clone()), "duplicate alert {name}");
        let expr = string(&rule["expr"]);
        check_promql(&expr, &cat, &name);
        let severity = string(&rule["labels"]["severity"]);
        assert!(
            ["warning", "critical"].contains(&severity.as_str()),
            "{name}: {severity}"
        );
        assert!(
            rule["annotations"]["summary"].is_string(),
            "{name}: summary"
        );
        if let Some(d) = rule.get("for") {
            let d = string(d);
            let (n, unit) = d.split_at(d.len() - 1);
            assert!(
                n.parse::<u32>().is_ok() && "smhd".contains(unit),
                "{name}: for {d}"
            );
        }
    }
    fn find<'a>(rules: &'a [Value], what: &str, pred: impl Fn(&str) -> bool) -> &'a Value {
        rules
            .iter()
            .find(|r| pred(&squash(&string(&r["expr"]))))
            .unwrap_or_else(|| panic!("no rule for {what}"))
    }
    let severity = |r: &Value| string(&r["labels"]["severity"]);

    // A fraction of the instances, not a fixed count: one instance or fifty.
    let region_down = find(&rules, "a region down on half the instances", |e| {
        e.contains("count by (region) (origami_region_up == 0)")
            && e.contains("/ count by (region) (origami_region_up)")
            && e.ends_with(">= 0.5")
    });
    assert_eq!(string(&region_down["for"]), "2m");
    assert_eq!(severity(region_down), "warning");
    let all_down = find(&rules, "every region down on one instance", |e| {
        e.contains("max by (instance) (origami_region_up)") && e.ends_with("== 0")
    });
    assert_eq!(severity(all_down), "critical");
    find(&rules, "5xx ratio", |e| {
        e.contains(r#"origami_http_requests_total{status=~"5.."}"#) && e.ends_with("> 0.01")
    });
    find(&rules, "integrity failures", |e| {
        e.contains("increase(origami_integrity_failures_total") && e.ends_with("> 0")
    });
    find(&rules, "a stuck repair backlog", |e| {
        e.contains("min_over_time(origami_repair_pending[30m]) > 0")
    });
    find(&rules, "a region's error ratio", |e| {
        e.contains("origami_region_requests_total{outcome=") && e.ends_with("> 0.1")
    });
    find(&rules, "a slow or hedged region", |e| {
        e.contains("origami_region_request_seconds_bucket")
            && e.contains("origami_hedged_reads_total")
    });
    find(&rules, "sustained rejections", |e| {
        e.contains("rate(origami_rejected_total")
    });
    find(&rules, "failing scrapes", |e| e.starts_with("up{"));
    let absent = find(&rules, "no metrics at all", |e| {
        e.starts_with("absent(origami_")
    });
    assert_eq!(severity(absent), "critical");
}

#[test]
fn grafana_dashboard_uses_real_metrics() {
    let cat = catalogue();
    let dash: serde_json::Value =
        serde_json::from_str(&read("deploy/grafana-dashboard.json")).unwrap();
    assert!(dash["schemaVersion"].as_u64().unwrap() >= 36);
    assert!(dash["title"].is_string() && dash["uid"].is_string());
    // Provisionable from a file: the data source is a template variable, not an import-time
    // `__inputs` placeholder (which file provisioning leaves unresolved).
    assert!(dash.get("__inputs").is_none(), "no import-only inputs");
    let variables = dash["templating"]["list"].as_array().unwrap();
    assert!(variables.iter().any(|v| v["name"] == "datasource"
        && v["type"] == "datasource"
        && v["query"] == "prometheus"));

    let mut panels: Vec<&serde_json::Value> = Vec::new();
    for p in dash["panels"].as_array().unwrap() {
        panels.push(p);
        if let Some(nested) = p["panels"].as_array() {
            panels.extend(nested);
        }
    }
    let mut ids = HashSet::new();
    let mut used = HashSet::new();
    for p in panels {
        let title = p["title"].as_str().unwrap();
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "duplicate id: {title}"
        );
        assert!(
            p["gridPos"]["w"].is_u64() && p["gridPos"]["h"].is_u64(),
            "{title}: gridPos"
        );
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{title}");
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title}: no query");
        for t in targets {
            used.extend(check_promql(t["expr"].as_str().unwrap(), &cat, title));
        }
    }
    for metric in [
        "origami_http_requests_total",
        "origami_http_request_seconds_bucket",
        "origami_cache_total",
        "origami_region_up",
        "origami_region_request_seconds_bucket",
        "origami_transform_seconds_bucket",
        "origami_queue_depth",
        "origami_rejected_total",
        "origami_workers_busy",
        "origami_queue_wait_seconds_bucket",
        "origami_process_resident_bytes",
        "origami_cache_bytes",
    ] {
        assert!(used.contains(metric), "no panel shows {metric}");
    }
}

/// The rules evaluated by Prometheus' own engine: `promtool check rules` and the unit tests of
/// `deploy/alerts.test.yml` (three instances down fires, two do not; one instance with every
/// region down is critical; 2% 5xx fires, 0.5% does not; ...). promtool comes with Debian's
/// `prometheus` package, which `scripts/setup.sh` installs.
#[test]
fn alert_rules_pass_promtool_unit_tests() {
    let promtool = std::env::var_os("PROMTOOL").unwrap_or_else(|| "promtool".into());
    let deploy = repo().join("deploy");
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts.test.yml"],
    ] {
        let out = std::process::Command::new(&promtool)
            .args(args)
            .current_dir(&deploy)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run promtool ({e}): run scripts/setup.sh, or set PROMTOOL=path")
            });
        assert!(
            out.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_iam_policy_grants_what_the_store_does_and_listing_on_the_bucket() {
    let policy: serde_json::Value =
        serde_json::from_str(&read("deploy/iam-policy.json")).expect("deploy/iam-policy.json");
    let mut granted = Vec::new();
    for statement in policy["Statement"].as_array().expect("statements") {
        assert_eq!(statement["Effect"], "Allow");
        let resource = statement["Resource"].as_str().expect("one resource");
        for action in statement["Action"].as_array().expect("actions") {
            let action = action.as_str().unwrap().to_owned();
            // Listing is granted on the bucket, object actions on its objects.
            let on_objects = resource.ends_with("/*");
            assert_eq!(
                on_objects,
                action != "s3:ListBucket",
                "{action} on {resource}"
            );
            granted.push(action);
        }
    }
    for needed in [
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:ListBucket",
    ] {
        assert!(
            granted.iter().any(|a| a == needed),
            "{needed} missing: {granted:?}"
        );
    }
}

/// deploy/cloudfront.md's CloudFront Function, run under Node (which scripts/setup.sh installs;
/// `NODE=path` to use another): URLs with an extension get one `Accept`, extensionless ones
/// the three variants.
#[test]
fn the_cloudfront_function_normalises_accept_only_for_extensionless_urls() {
    let guide = read("deploy/cloudfront.md");
    let function = guide
        .split("```js")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a ```js block in deploy/cloudfront.md");
    let harness = r#"
const cases = [
  ['/thumb/400/300/HASH.webp', 'image/avif,image/webp,*/*', '*/*'],
  ['/thumb/400/300/HASH.jpg', 'text/html,*/*;q=0.8', '*/*'],
  ['/original/HASH.jpg', undefined, '*/*'],
  ['/thumb/400/300/HASH', 'image/avif,image/webp,image/apng,*/*;q=0.8', 'image/avif'],
  ['/s/SIGNATURE/fit/800/0/HASH', 'image/webp,*/*', 'image/webp'],
  ['/thumb/400/300/HASH', 'image/png,image/*;q=0.8', '*/*'],
  ['/thumb/400/300/HASH', undefined, '*/*'],
];
for (const [uri, accept, want] of cases) {
  const headers = accept === undefined ? {} : { accept: { value: accept } };
  const got = handler({ request: { uri, headers } }).headers.accept.value;
  if (got !== want) {
    console.error(`${uri} with Accept ${accept}: got ${got}, want ${want}`);
    process.exit(1);
  }
}
"#;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("function.js");
    std::fs::write(&script, format!("{function}\n{harness}")).unwrap();
    let node = std::env::var_os("NODE").unwrap_or_else(|| "node".into());
    let out = std::process::Command::new(&node)
        .arg(&script)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run node ({e}): run scripts/setup.sh, or set NODE=path")
        });
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// docs/openapi.yaml against the router: every `.route(path, method)` of the server is
/// described with its method, and every described path is a route or the transform fallback.
#[test]
fn the_openapi_description_matches_the_router() {
    let mut spec: Value =
        serde_yaml::from_str(&read("docs/openapi.yaml")).expect("docs/openapi.yaml");
    spec.apply_merge().expect("YAML merge keys");
    assert!(string(&spec["openapi"]).starts_with("3."));
    let paths = spec["paths"].as_mapping().expect("paths");
    let described: HashSet<String> = paths.keys().map(string).collect();

    let router = read("crates/origami-server/src/lib.rs");
    let mut routes = HashSet::new();
    for (i, _) in router.match_indices(".route(\"") {
        let rest = &router[i + ".route(\"".len()..];
        let (path, after) = rest.split_once('"').unwrap();
        let method = after
            .trim_start_matches([',', ' ', '\n'])
            .split('(')
            .next()
            .unwrap()
            .trim()
            .to_owned();
        let op = &spec["paths"][path][method.as_str()];
        assert!(
            op.is_mapping(),
            "{method} {path} is a route but not in docs/openapi.yaml"
        );
        assert!(
            op["responses"].as_mapping().is_some_and(|r| !r.is_empty()),
            "{method} {path}: responses"
        );
        routes.insert(path.to_owned());
    }
    assert!(routes.len() >= 10, "router parsing found {routes:?}");
    assert!(router.contains(".fallback(routes::transform)"));
    let fallback = [
        "/{pipeline}/{file}",
        "/s/{signature}/{pipeline}/{file}",
        "/p/{preset}/{file}",
    ];
    for path in &described {
        assert!(
            routes.contains(path) || fallback.contains(&path.as_str()),
            "docs/openapi.yaml describes {path}, which is no route"
        );
    }
    for path in fallback {
        assert!(
            spec["paths"][path]["get"]["responses"]["200"].is_mapping(),
            "{path}"
        );
    }
}
