//! Harbor's Pluggable Scanner API v1.1/1.2 (the scanner adapter Harbor calls), over the same indexer and
//! matcher as the Clair routes:
//!
//! - `GET /api/v1/metadata`: the scanner and its one capability (vulnerability reports of OCI and Docker
//!   image manifests), with the vulnerability database's update time.
//! - `POST /api/v1/scan` (`{registry: {url, authorization}, artifact: {repository, digest, tag,
//!   mime_type}}`): pulls the image manifest from the registry over the Docker Registry v2 API
//!   ([`crate::indexer::registry`], Harbor's `authorization` exchanged for a pull token when the registry
//!   asks), records it and stages its layers as fetch jobs exactly as `POST index_report` does with layer
//!   URIs → 202 `{"id"}`. The id is opaque to Harbor: the artifact (with the manifest actually indexed)
//!   as base64url JSON, so no table is needed to answer for it.
//! - `GET /api/v1/scan/{id}/report`: 302 with `Refresh-After` (seconds) while the layers are fetched and
//!   scanned or no feed has loaded yet; then 200 with the Harbor vulnerability report
//!   (`application/vnd.security.vulnerability.report; version=1.1`, or the 1.0 Harbor type when asked)
//!   mapped from the VulnerabilityReport: one item per (package, vulnerability).
//!
//! Errors use Harbor's `{"error": {"message"}}` body.

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use serde::{Deserialize, Serialize};

use super::{Api, json_as, method_not_allowed};
use crate::feeds::store::FeedStore;
use crate::indexer::registry::{
    MT_DOCKER_MANIFEST, MT_OCI_MANIFEST, RegistryClient, RegistryError, base_url, blob_url,
};
use crate::model::{
    Digest, IndexState, LayerRef, Manifest, ReportWarning, Severity, VulnerabilityReport,
};

pub const METADATA: &str = "/api/v1/metadata";
pub const SCAN: &str = "/api/v1/scan";

const MT_METADATA: &str = "application/vnd.scanner.adapter.metadata+json; version=1.1";
const MT_SCAN_RESPONSE: &str = "application/vnd.scanner.adapter.scan.response+json; version=1.0";
const MT_ERROR: &str = "application/vnd.scanner.adapter.error+json; version=1.0";
pub const MT_REPORT_1_1: &str = "application/vnd.security.vulnerability.report; version=1.1";
pub const MT_REPORT_1_0: &str =
    "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0";
const MT_SCAN_REQUEST: &str = "application/vnd.scanner.adapter.scan.request+json";
/// Seconds Harbor is asked to wait before polling a pending report again.
const REFRESH_AFTER_SCANNING: &str = "5";
const REFRESH_AFTER_FEEDS_LOADING: &str = "30";

/// True for the paths this module answers.
pub fn owns(path: &str) -> bool {
    path == METADATA || path == SCAN || path.starts_with("/api/v1/scan/")
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorMessage<'a>,
}

#[derive(Serialize)]
struct ErrorMessage<'a> {
    message: &'a str,
}

/// A Harbor error response.
fn harbor_error(status: StatusCode, message: impl AsRef<str>) -> Response<Bytes> {
    if status.is_server_error() {
        tracing::error!(message = message.as_ref(), "harbor request failed");
    }
    json_as(
        status,
        MT_ERROR,
        &ErrorBody {
            error: ErrorMessage {
                message: message.as_ref(),
            },
        },
    )
}

#[derive(Debug, Serialize)]
struct Scanner {
    name: &'static str,
    vendor: &'static str,
    version: &'static str,
}

const SCANNER: Scanner = Scanner {
    name: "Lucid",
    vendor: "Lucid",
    version: env!("CARGO_PKG_VERSION"),
};

#[derive(Serialize)]
struct Capability {
    #[serde(rename = "type")]
    kind: &'static str,
    consumes_mime_types: [&'static str; 2],
    produces_mime_types: [&'static str; 2],
}

#[derive(Serialize)]
struct Metadata {
    scanner: Scanner,
    capabilities: [Capability; 1],
    properties: std::collections::BTreeMap<&'static str, String>,
}

/// The artifact Harbor names (echoed in the report).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Artifact {
    #[serde(default)]
    pub repository: String,
    #[serde(default)]
    pub digest: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mime_type: String,
}

#[derive(Debug, Deserialize)]
struct Registry {
    #[serde(default)]
    url: String,
    #[serde(default)]
    authorization: String,
}

#[derive(Debug, Deserialize)]
struct ScanRequest {
    registry: Registry,
    artifact: Artifact,
}

/// What a scan id stands for.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct ScanId {
    /// The manifest indexed (the artifact's, or its linux/amd64 entry when it is an index).
    m: Digest,
    a: Artifact,
}

impl ScanId {
    fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    fn decode(id: &str) -> Option<ScanId> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(id)
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// The scan request's parsing and validation (before any registry call), and scan-id decoding, for the
/// fuzzers (`crate::fuzzing`).
pub fn fuzz_scan_request(body: &[u8]) {
    if let Ok(request) = serde_json::from_slice::<ScanRequest>(body) {
        let _ = base_url(&request.registry.url);
        let _ = request.artifact.digest.parse::<Digest>();
    }
    if let Ok(id) = std::str::from_utf8(body) {
        let _ = ScanId::decode(id);
    }
}

pub async fn route(api: &Api, req: Request<Bytes>) -> Response<Bytes> {
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let method = req.method().clone();
    if path == METADATA {
        return match method {
            Method::GET => metadata(api).await,
            _ => method_not_allowed(&method, "GET"),
        };
    }
    if path == SCAN {
        return match method {
            Method::POST => scan(api, &req).await,
            _ => method_not_allowed(&method, "POST"),
        };
    }
    if let Some(id) = path
        .strip_prefix("/api/v1/scan/")
        .and_then(|r| r.strip_suffix("/report"))
        .filter(|id| !id.is_empty() && !id.contains('/'))
    {
        return match method {
            Method::GET => report(api, &req, id).await,
            _ => method_not_allowed(&method, "GET"),
        };
    }
    harbor_error(StatusCode::NOT_FOUND, format!("no route for {path}"))
}

async fn metadata(api: &Api) -> Response<Bytes> {
    let mut properties = std::collections::BTreeMap::new();
    properties.insert(
        "harbor.scanner-adapter/scanner-type",
        "os-package-vulnerability".to_owned(),
    );
    match FeedStore::new(api.db.clone()).latest_operations().await {
        Ok(ops) => {
            if let Some(at) = ops
                .values()
                .filter(|o| o.kind == "vulnerability")
                .map(|o| o.date)
                .max()
                .and_then(|d| {
                    d.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
            {
                properties.insert(
                    "harbor.scanner-adapter/vulnerability-database-updated-at",
                    at,
                );
            }
        }
        Err(e) => {
            return harbor_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("reading the feeds: {e}"),
            );
        }
    }
    json_as(
        StatusCode::OK,
        MT_METADATA,
        &Metadata {
            scanner: SCANNER,
            capabilities: [Capability {
                kind: "vulnerability",
                consumes_mime_types: [MT_OCI_MANIFEST, MT_DOCKER_MANIFEST],
                produces_mime_types: [MT_REPORT_1_1, MT_REPORT_1_0],
            }],
            properties,
        },
    )
}

/// Scan requests are JSON: Harbor's scan request type (any version), `application/json`, or none.
fn json_body(headers: &HeaderMap) -> bool {
    let Some(media) = super::indexer_v1::content_type(headers) else {
        return true;
    };
    media == MT_SCAN_REQUEST || media == "application/json" || media.ends_with("+json")
}

async fn scan(api: &Api, req: &Request<Bytes>) -> Response<Bytes> {
    if !json_body(req.headers()) {
        return harbor_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("the scan request must be {MT_SCAN_REQUEST} or application/json"),
        );
    }
    let request: ScanRequest = match serde_json::from_slice(req.body()) {
        Ok(r) => r,
        Err(e) => {
            return harbor_error(
                StatusCode::BAD_REQUEST,
                format!("malformed scan request: {e}"),
            );
        }
    };
    let invalid = |m: String| harbor_error(StatusCode::UNPROCESSABLE_ENTITY, m);
    let base = match base_url(&request.registry.url) {
        Ok(u) => u,
        Err(e) => return invalid(e.to_string()),
    };
    let digest: Digest = match request.artifact.digest.parse() {
        Ok(d) => d,
        Err(e) => {
            return invalid(format!(
                "artifact digest {:?}: {e}",
                request.artifact.digest
            ));
        }
    };
    let repository = request.artifact.repository.clone();
    let span = tracing::info_span!("harbor_scan", %repository, artifact = %digest);
    let _guard = span.enter();
    let client = match RegistryClient::new() {
        Ok(c) => c,
        Err(e) => return harbor_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let authorization = Some(request.registry.authorization.as_str());
    let pulled = match client
        .pull_manifest(&base, &repository, &digest, authorization)
        .await
    {
        Ok(p) => p,
        Err(e @ (RegistryError::BadRequest(_) | RegistryError::Rejected(_))) => {
            return invalid(format!("pulling the manifest: {e}"));
        }
        Err(e @ RegistryError::Unavailable(_)) => {
            return harbor_error(
                StatusCode::BAD_GATEWAY,
                format!("pulling the manifest: {e}"),
            );
        }
    };
    let headers: std::collections::BTreeMap<String, Vec<String>> = pulled
        .authorization
        .iter()
        .map(|a| ("Authorization".to_owned(), vec![a.clone()]))
        .collect();
    let manifest = Manifest {
        hash: pulled.digest.clone(),
        layers: pulled
            .layers
            .iter()
            .map(|l| LayerRef {
                hash: l.clone(),
                uri: blob_url(&base, &repository, l),
                headers: headers.clone(),
            })
            .collect(),
    };
    let reg = match api.indexer().submit_manifest(&manifest).await {
        Ok(r) => r,
        Err(e) => {
            return harbor_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("recording the manifest: {e}"),
            );
        }
    };
    if let Err(resp) =
        super::indexer_v1::stage(api, req.headers(), &manifest, &reg.layers_to_scan).await
    {
        // The Clair error's message, in Harbor's error body.
        let message = serde_json::from_slice::<serde_json::Value>(resp.body())
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "staging the layers failed".to_owned());
        return harbor_error(resp.status(), message);
    }
    let id = ScanId {
        m: pulled.digest,
        a: request.artifact,
    }
    .encode();
    tracing::info!(layers = manifest.layers.len(), "harbor scan accepted");
    json_as(
        StatusCode::ACCEPTED,
        MT_SCAN_RESPONSE,
        &serde_json::json!({ "id": id }),
    )
}

fn pending(refresh_after: &'static str) -> Response<Bytes> {
    let mut resp = Response::new(Bytes::new());
    *resp.status_mut() = StatusCode::FOUND;
    resp.headers_mut()
        .insert("refresh-after", HeaderValue::from_static(refresh_after));
    resp
}

/// The report type to answer with: Harbor's 1.0 type when `Accept` asks for it, else 1.1.
fn report_type(headers: &HeaderMap) -> &'static str {
    let asks_1_0 = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("vnd.scanner.adapter.vuln.report.harbor+json"));
    if asks_1_0 {
        MT_REPORT_1_0
    } else {
        MT_REPORT_1_1
    }
}

async fn report(api: &Api, req: &Request<Bytes>, id: &str) -> Response<Bytes> {
    let Some(scan) = ScanId::decode(id) else {
        return harbor_error(StatusCode::NOT_FOUND, format!("no scan request {id:?}"));
    };
    let index = match api.indexer().index_report(&scan.m).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return harbor_error(StatusCode::NOT_FOUND, format!("no scan request {id:?}"));
        }
        Err(e) => {
            return harbor_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("reading the index report: {e}"),
            );
        }
    };
    if index.state == IndexState::IndexError.as_str() {
        return harbor_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the scan failed: {}", index.err),
        );
    }
    if index.state != IndexState::IndexFinished.as_str() {
        return pending(REFRESH_AFTER_SCANNING);
    }
    let vulns = match api.matcher.vulnerability_report(&index).await {
        Ok(v) => v,
        Err(e) => {
            return harbor_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("matching failed: {e}"),
            );
        }
    };
    if vulns
        .warnings
        .iter()
        .any(|w| w.code == ReportWarning::NO_FEEDS_LOADED)
    {
        return pending(REFRESH_AFTER_FEEDS_LOADING);
    }
    let generated_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    json_as(
        StatusCode::OK,
        report_type(req.headers()),
        &harbor_report(&vulns, scan.a, generated_at),
    )
}

/// Harbor's vulnerability report.
#[derive(Debug, Serialize)]
pub struct HarborReport {
    pub generated_at: String,
    pub artifact: Artifact,
    scanner: Scanner,
    /// The highest severity found (`Unknown` when nothing was found).
    pub severity: &'static str,
    pub vulnerabilities: Vec<HarborVulnerability>,
}

/// One vulnerability of one package (Harbor's `VulnerabilityItem`).
#[derive(Debug, Serialize)]
pub struct HarborVulnerability {
    pub id: String,
    pub package: String,
    pub version: String,
    pub fix_version: String,
    pub severity: &'static str,
    pub description: String,
    pub links: Vec<String>,
    pub vendor_attributes: serde_json::Value,
}

/// Maps Lucid's (Clair's) report to Harbor's: one item per affected package and vulnerability, in the
/// report's order (packages by id, vulnerabilities most severe first).
pub fn harbor_report(
    v: &VulnerabilityReport,
    artifact: Artifact,
    generated_at: String,
) -> HarborReport {
    let mut items = Vec::new();
    let mut highest: Option<Severity> = None;
    for (package_id, vuln_ids) in &v.package_vulnerabilities {
        let Some(package) = v.packages.get(package_id) else {
            continue;
        };
        for vid in vuln_ids {
            let Some(vuln) = v.vulnerabilities.get(vid) else {
                continue;
            };
            highest = highest.max(Some(vuln.normalized_severity));
            items.push(HarborVulnerability {
                id: vuln.name.clone(),
                package: package.name.clone(),
                version: package.version.clone(),
                fix_version: vuln.fixed_in_version.clone(),
                severity: vuln.normalized_severity.as_str(),
                description: vuln.description.clone(),
                links: vuln.links.split_whitespace().map(str::to_owned).collect(),
                vendor_attributes: serde_json::json!({
                    "updater": vuln.updater,
                    "severity": vuln.severity,
                    "package_kind": package.kind,
                    "ecosystem": package.ecosystem,
                }),
            });
        }
    }
    HarborReport {
        generated_at,
        artifact,
        scanner: SCANNER,
        severity: highest.unwrap_or(Severity::Unknown).as_str(),
        vulnerabilities: items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_ids_round_trip_and_reject_garbage() {
        let id = ScanId {
            m: Digest::sha256_of(b"m"),
            a: Artifact {
                repository: "library/app".into(),
                digest: Digest::sha256_of(b"m").to_string(),
                tag: "1.0".into(),
                mime_type: MT_OCI_MANIFEST.into(),
            },
        };
        let encoded = id.encode();
        assert!(
            encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        );
        assert_eq!(ScanId::decode(&encoded), Some(id));
        for bad in ["", "x", "%%%", "eyJtIjoxfQ", "'; DROP TABLE manifest; --"] {
            assert_eq!(ScanId::decode(bad), None, "{bad}");
        }
    }
}
