//! `lucid scan host/repo:tag` against a registry served by the test: the Docker Registry v2 routes
//! (`/v2/<repo>/manifests/<ref>`, `/v2/<repo>/blobs/<digest>`) over an OCI layout built from real package
//! data, behind the registry token flow (401 + `WWW-Authenticate: Bearer realm=…` → the realm, with basic
//! credentials → a token → the retried request).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use harness::images;
use serde_json::Value;

const REPO: &str = "team/debian";
const TOKEN: &str = "registry-token-42";
/// `user:secret` in base64.
const BASIC: &str = "Basic dXNlcjpzZWNyZXQ=";

struct Registry {
    port: u16,
    layout: PathBuf,
    /// Tag → manifest or index digest.
    tags: Vec<(&'static str, String)>,
    tokens: AtomicUsize,
    blobs: AtomicUsize,
}

fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

impl Registry {
    fn handle(&self, mut stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).is_err() {
            return;
        }
        let mut authorization = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("authorization")
            {
                authorization = v.trim().to_owned();
            }
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        if let Some(query) = path.strip_prefix("/token?") {
            self.tokens.fetch_add(1, Ordering::SeqCst);
            let scope_ok = query.contains("scope=repository%3Ateam%2Fdebian%3Apull")
                && query.contains("service=test-registry");
            if authorization == BASIC && scope_ok {
                let body = serde_json::json!({"token": TOKEN}).to_string();
                respond(&mut stream, "200 OK", &[], body.as_bytes());
            } else {
                respond(&mut stream, "401 Unauthorized", &[], b"{}");
            }
            return;
        }
        if authorization != format!("Bearer {TOKEN}") {
            let challenge = format!(
                "Bearer realm=\"http://127.0.0.1:{}/token\",service=\"test-registry\",scope=\"repository:{REPO}:pull\"",
                self.port
            );
            respond(
                &mut stream,
                "401 Unauthorized",
                &[("WWW-Authenticate", challenge)],
                b"{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}",
            );
            return;
        }
        let blob = |digest: &str| {
            std::fs::read(
                self.layout
                    .join("blobs/sha256")
                    .join(digest.trim_start_matches("sha256:")),
            )
            .ok()
        };
        // A manifest or index is served by the manifests route only (as strict registries do).
        let manifest_type = |bytes: &[u8]| {
            serde_json::from_slice::<Value>(bytes).ok().and_then(|v| {
                v["mediaType"]
                    .as_str()
                    .filter(|t| t.contains("manifest") || t.contains("index"))
                    .map(str::to_owned)
            })
        };
        let prefix = format!("/v2/{REPO}/");
        let rest = path.strip_prefix(&prefix).unwrap_or_default();
        let (body, content_type) = match rest.split_once('/') {
            Some(("manifests", r)) => {
                let digest = self
                    .tags
                    .iter()
                    .find(|(tag, _)| *tag == r)
                    .map_or(r.to_owned(), |(_, d)| d.clone());
                match blob(&digest) {
                    Some(b) => match manifest_type(&b) {
                        Some(t) => (Some(b), t),
                        None => (None, String::new()),
                    },
                    None => (None, String::new()),
                }
            }
            Some(("blobs", d)) => match blob(d) {
                Some(b) if manifest_type(&b).is_none() => {
                    self.blobs.fetch_add(1, Ordering::SeqCst);
                    (Some(b), "application/octet-stream".to_owned())
                }
                _ => (None, String::new()),
            },
            _ => (None, String::new()),
        };
        match body {
            Some(body) => respond(
                &mut stream,
                "200 OK",
                &[("Content-Type", content_type)],
                &body,
            ),
            None => respond(&mut stream, "404 Not Found", &[], b"{}"),
        }
        let mut rest = Vec::new();
        let _ = reader.read_to_end(&mut rest);
    }
}

fn start_registry(layout: &Path, tags: Vec<(&'static str, String)>) -> Arc<Registry> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let registry = Arc::new(Registry {
        port: listener.local_addr().unwrap().port(),
        layout: layout.to_owned(),
        tags,
        tokens: AtomicUsize::new(0),
        blobs: AtomicUsize::new(0),
    });
    let server = registry.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let server = server.clone();
            std::thread::spawn(move || server.handle(stream));
        }
    });
    registry
}

use harness::assert_exit;

#[test]
fn scan_pulls_an_image_from_a_registry_with_token_auth() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(harness::fresh_database()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let single = images::oci_layout(&layout, &images::debian_openssl_layers().unwrap()).unwrap();
    // The same blobs directory also holds a multi-platform index (Debian amd64, Alpine arm64).
    let (multi, _, _) = images::multi_platform_layout(
        &layout,
        &images::debian_layers().unwrap(),
        &images::alpine_layers().unwrap(),
    )
    .unwrap();
    let registry = start_registry(&layout, vec![("12", single), ("multi", multi)]);
    let lucid = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_lucid"));
        c.env("DATABASE_URL", &db.url)
            .env("LUCID_LOG", "off")
            .env("LUCID_SKIP_FEED_UPDATE", "1")
            .env_remove("LUCID_REGISTRY_USERNAME")
            .env_remove("LUCID_REGISTRY_PASSWORD");
        c
    };
    let feeds = images::bookworm_feed_dir(dir.path()).unwrap();
    assert_exit(
        &lucid()
            .args(["update", "--from"])
            .arg(&feeds)
            .output()
            .unwrap(),
        0,
    );
    let reference = format!("127.0.0.1:{}/{REPO}:12", registry.port);

    // Anonymous: the token realm refuses, in one line.
    let out = lucid().args(["scan", &reference]).output().unwrap();
    assert_exit(&out, 2);
    harness::assert_one_line_failure(&out, "registry image");

    let out = lucid()
        .args(["scan", "--format", "json", "--username", "user", &reference])
        .env("LUCID_REGISTRY_PASSWORD", "secret")
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["packages"].as_object().unwrap().len(), 92);
    assert_eq!(images::findings(&report), images::debian_openssl_expected());
    assert_eq!(
        registry.blobs.load(Ordering::SeqCst),
        4,
        "the 4 layer blobs, streamed"
    );

    // Layers indexed before are not pulled again.
    let out = lucid()
        .args(["scan", "--registry", "--username", "user", &reference])
        .env("LUCID_REGISTRY_PASSWORD", "secret")
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_eq!(
        registry.blobs.load(Ordering::SeqCst),
        4,
        "no blob pulled again"
    );
    assert!(registry.tokens.load(Ordering::SeqCst) >= 3);

    // An image index: the platform's manifest is resolved through the manifests route.
    let multi = format!("127.0.0.1:{}/{REPO}:multi", registry.port);
    let out = lucid()
        .args(["scan", "--format", "json", "--platform", "linux/arm64"])
        .args(["--username", "user", "--password", "secret", &multi])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let distributions: Vec<&str> = report["distributions"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|d| d["did"].as_str())
        .collect();
    assert_eq!(distributions, ["alpine"]);
}
