//! Clair v4's indexer API, with Clair's behaviour (status codes, `ETag`/`If-None-Match`, `Location` and
//! `Link` headers, media types), plus serverless layer staging.
//!
//! `POST /indexer/api/v1/index_report` records the manifest and answers at once (201) with the report's
//! current state — `IndexFinished` when every layer is already known, else `FetchLayers`/`ScanLayers` — in
//! Clair's IndexReport shape plus one Lucid field, `pending_layers` (omitted when empty), listing what
//! each missing layer waits for:
//!
//! ```json
//! "pending_layers": [
//!   {"hash": "sha256:…", "action": "upload",
//!    "upload": {"method": "PUT", "url": "https://…", "headers": {}, "expires_in": 3600}},
//!   {"hash": "sha256:…", "action": "fetch"},
//!   {"hash": "sha256:…", "action": "scanning"}
//! ]
//! ```
//!
//! - `upload`: the layer has no `uri`; PUT its blob to `upload.url` (a presigned S3 URL when deployed, this
//!   server's `PUT /lucid/api/v1/layers/{digest}` locally). The upload triggers indexing.
//! - `fetch`: the layer has a `uri`; a fetch job was queued ([`crate::indexer::fetch`]).
//! - `scanning`: the blob is being scanned right now.
//!
//! Clients then poll `GET /indexer/api/v1/index_report/{digest}` until `state` is `IndexFinished` or
//! `IndexError`.

use std::collections::BTreeMap;
use std::io::Cursor;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use percent_encoding::percent_decode_str;
use serde::Serialize;

use super::report_cache::ReportCache;
use super::{Api, PRESIGN_EXPIRY, error, internal, json_as, json_bytes, method_not_allowed};
use crate::blob::{BlobError, BlobKey, BlobReader};
use crate::indexer::LayerOutcome;
use crate::indexer::fetch::{FetchJob, MAX_LAYER_BLOB_BYTES, StageError, store_verified};
use crate::model::{Digest, IndexReport, LayerRef, Manifest};
use crate::store::index::LayerStatus;

pub const INDEX_REPORT: &str = "/indexer/api/v1/index_report";
pub const INDEX_STATE: &str = "/indexer/api/v1/index_state";
/// Lucid's local upload route: `PUT /lucid/api/v1/layers/{digest}`.
pub const UPLOAD_PREFIX: &str = "/lucid/api/v1/layers/";
/// Where Clair clients find the vulnerability report of a manifest.
pub const VULNERABILITY_REPORT: &str = "/matcher/api/v1/vulnerability_report";

const MT_INDEX_REPORT: &str = "application/vnd.clair.index_report.v1+json";
const MT_INDEX_STATE: &str = "application/vnd.clair.index_state.v1+json";
const MT_BULK_DELETE: &str = "application/vnd.clair.bulk_delete.v1+json";
const MT_MANIFEST: &str = "application/vnd.clair.manifest.v1+json";
const MT_JSON: &str = "application/json";

/// True for the paths this module answers.
pub fn owns(path: &str) -> bool {
    path.starts_with("/indexer/api/v1/") || path.starts_with(UPLOAD_PREFIX)
}

/// A missing layer and what it waits for (the `pending_layers` extension of POST index_report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingLayer {
    pub hash: Digest,
    /// `upload`, `fetch` or `scanning`.
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadTarget>,
}

/// Where and how to upload a layer blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadTarget {
    pub method: &'static str,
    pub url: String,
    /// Headers the client must send with the PUT.
    pub headers: BTreeMap<String, String>,
    /// Seconds the URL stays valid (0: no expiry).
    pub expires_in: u64,
}

#[derive(Serialize)]
struct StagedReport<'a> {
    #[serde(flatten)]
    report: &'a IndexReport,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pending_layers: Vec<PendingLayer>,
}

#[derive(Serialize)]
struct State<'a> {
    state: &'a str,
}

#[derive(Serialize)]
struct Uploaded {
    hash: Digest,
    bytes: u64,
    /// `indexed` or `already-indexed`.
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    packages: Option<usize>,
}

/// Routes a request under `/indexer/api/v1/` or the upload prefix.
pub async fn route(api: &Api, req: Request<Bytes>) -> Response<Bytes> {
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let method = req.method().clone();
    if path == INDEX_REPORT {
        return match method {
            Method::POST => post_index_report(api, &req).await,
            Method::DELETE => bulk_delete(api, &req).await,
            _ => method_not_allowed(&method, "POST, DELETE"),
        };
    }
    if let Some(rest) = path
        .strip_prefix(INDEX_REPORT)
        .and_then(|r| r.strip_prefix('/'))
    {
        if !matches!(method, Method::GET | Method::DELETE) {
            return method_not_allowed(&method, "GET, DELETE");
        }
        let digest = match path_digest(rest) {
            Ok(d) => d,
            Err(resp) => return resp,
        };
        return if method == Method::GET {
            get_index_report(api, &req, &digest).await
        } else {
            delete_one(api, &digest).await
        };
    }
    if path == INDEX_STATE {
        return match method {
            Method::GET => index_state(api, &req),
            _ => method_not_allowed(&method, "GET"),
        };
    }
    if let Some(rest) = path.strip_prefix(UPLOAD_PREFIX) {
        if method != Method::PUT {
            return method_not_allowed(&method, "PUT");
        }
        let digest = match path_digest(rest) {
            Ok(d) => d,
            Err(resp) => return resp,
        };
        let body: BlobReader = Box::pin(Cursor::new(req.into_body()));
        return upload_layer(api, &digest, body).await;
    }
    error(
        StatusCode::NOT_FOUND,
        "not-found",
        format!("no route for {path}"),
    )
}

/// The digest named by the last path segment (percent-decoded), or a 400.
pub fn path_digest(segment: &str) -> Result<Digest, Response<Bytes>> {
    let bad = |m: String| error(StatusCode::BAD_REQUEST, "bad-request", m);
    if segment.is_empty() || segment.contains('/') {
        return Err(bad("malformed path: provide a single digest".into()));
    }
    let decoded = percent_decode_str(segment)
        .decode_utf8()
        .map_err(|_| bad("malformed path: digest is not UTF-8".into()))?;
    decoded
        .parse()
        .map_err(|e| bad(format!("malformed path: {e}")))
}

/// Clair's `unmodified`: true when an `If-None-Match` value equals the validator exactly.
pub(crate) fn unmodified(headers: &HeaderMap, validator: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim() == validator)
}

fn validator(api: &Api) -> String {
    format!("\"{}\"", api.indexer().index_state())
}

/// Vendor media types compare without underscores, so Clair's code spelling (`indexreport`) and its spec
/// spelling (`index_report`) are the same type.
fn same_type(a: &str, b: &str) -> bool {
    a.replace('_', "").eq_ignore_ascii_case(&b.replace('_', ""))
}

/// Clair's `pickContentType`: the first allowed type matching the `Accept` entries (stably sorted by `q`),
/// the first allowed type without `Accept`, 415 when nothing matches, 400 when `Accept` is malformed.
fn negotiate(headers: &HeaderMap, allow: &[&'static str]) -> Result<&'static str, Response<Bytes>> {
    let mut accepts: Vec<(String, f32)> = Vec::new();
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "bad-request",
                "malformed request: Accept is not ASCII",
            ));
        };
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut params = part.split(';');
            let media = params
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let ok = media
                .split_once('/')
                .is_some_and(|(t, s)| !t.is_empty() && !s.is_empty() && !s.contains('/'));
            if !ok {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "bad-request",
                    format!("malformed request: bad media type {part:?} in Accept"),
                ));
            }
            let q = params
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            accepts.push((media, q));
        }
    }
    if accepts.is_empty() {
        return Ok(allow[0]);
    }
    accepts.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (media, q) in &accepts {
        if *q <= 0.0 {
            continue;
        }
        for a in allow {
            let a_type = a.split_once('/').map(|(t, _)| t).unwrap_or(a);
            let matched = media == "*/*"
                || media.strip_suffix("/*").is_some_and(|t| t == a_type)
                || same_type(media, a);
            if matched {
                return Ok(a);
            }
        }
    }
    Err(error(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        format!("unable to negotiate common media type for {allow:?}"),
    ))
}

/// The request's media type without parameters, lowercased; `None` without `Content-Type`.
pub(crate) fn content_type(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?;
    Some(
        ct.to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
}

/// Request bodies must be JSON: no `Content-Type`, `application/json`, a `+json` type or `allowed`.
fn check_content_type(headers: &HeaderMap, allowed: &str) -> Result<(), Response<Bytes>> {
    let Some(media) = content_type(headers) else {
        return Ok(());
    };
    if media == MT_JSON || same_type(&media, allowed) || media.ends_with("+json") {
        return Ok(());
    }
    Err(error(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        format!("request body must be {allowed} or {MT_JSON}, not {media:?}"),
    ))
}

async fn post_index_report(api: &Api, req: &Request<Bytes>) -> Response<Bytes> {
    if let Err(resp) = check_content_type(req.headers(), MT_MANIFEST) {
        return resp;
    }
    let manifest: Manifest = match serde_json::from_slice(req.body()) {
        Ok(m) => m,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad-request",
                format!("failed to deserialize manifest: {e}"),
            );
        }
    };
    if manifest.layers.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "bogus manifest: it has no layers",
        );
    }
    let span = tracing::info_span!("post_index_report", manifest = %manifest.hash);
    let _guard = span.enter();
    let content_type = negotiate(req.headers(), &[MT_INDEX_REPORT, MT_JSON]).unwrap_or(MT_JSON);
    let next = format!("{INDEX_REPORT}/{}", manifest.hash);
    let links = [
        format!("<{next}>; rel=\"https://projectquay.io/clair/v1/index_report\""),
        format!(
            "<{VULNERABILITY_REPORT}/{}>; rel=\"https://projectquay.io/clair/v1/vulnerability_report\"",
            manifest.hash
        ),
    ];
    let validator = validator(api);
    if unmodified(req.headers(), &validator) {
        let mut resp = error(
            StatusCode::PRECONDITION_FAILED,
            "precondition-failed",
            "the index state matches If-None-Match: this manifest's report is already current",
        );
        add_links(resp.headers_mut(), &links);
        return resp;
    }
    let reg = match api.indexer().submit_manifest(&manifest).await {
        Ok(r) => r,
        Err(e) => return internal(format!("failed to start scan: {e}")),
    };
    let pending = match stage(api, req.headers(), &manifest, &reg.layers_to_scan).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let mut resp = if pending.is_empty() {
        // Nothing to upload: the body is the index report alone (often one already known and cached).
        let body = match serialized_index_report(api, &manifest.hash).await {
            Ok(Some(body)) => body,
            Ok(None) => return internal("the manifest vanished while it was being recorded"),
            Err(resp) => return resp,
        };
        tracing::info!(pending = 0, "manifest recorded");
        json_bytes(StatusCode::CREATED, content_type, body)
    } else {
        let report = match api.indexer().index_report(&manifest.hash).await {
            Ok(Some(r)) => r,
            Ok(None) => return internal("the manifest vanished while it was being recorded"),
            Err(e) => return internal(e),
        };
        tracing::info!(state = %report.state, pending = pending.len(), "manifest recorded");
        json_as(
            StatusCode::CREATED,
            content_type,
            &StagedReport {
                report: &report,
                pending_layers: pending,
            },
        )
    };
    let h = resp.headers_mut();
    add_links(h, &links);
    if let Ok(v) = HeaderValue::from_str(&validator) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&next) {
        h.insert(header::LOCATION, v);
    }
    resp
}

fn add_links(h: &mut HeaderMap, links: &[String]) {
    for l in links {
        if let Ok(v) = HeaderValue::from_str(l) {
            h.append(header::LINK, v);
        }
    }
}

/// How long a claimed fetch (or a scan) may go without finishing before a new POST queues the layer's
/// fetch again: its job was lost (dead-lettered, or its worker died).
pub const FETCH_CLAIM_STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Decides, for each layer not yet indexed, whether the client uploads it, a fetch job gets it, or it is
/// being scanned already; queues the fetch jobs.
pub(crate) async fn stage(
    api: &Api,
    headers: &HeaderMap,
    manifest: &Manifest,
    missing: &[Digest],
) -> Result<Vec<PendingLayer>, Response<Bytes>> {
    let indexer = api.indexer();
    let mut pending = Vec::with_capacity(missing.len());
    let mut jobs = Vec::new();
    let mut claims = Vec::new();
    for digest in missing {
        let Some(layer) = manifest.layers.iter().find(|l| &l.hash == digest) else {
            continue;
        };
        let status = indexer
            .store()
            .layer_status(digest, indexer.index_state())
            .await
            .map_err(internal)?;
        if !layer.uri.is_empty() {
            // One job per layer however often the manifest is posted: only the claim's winner queues.
            let claimed = indexer
                .store()
                .claim_layer_fetch(digest, indexer.index_state(), FETCH_CLAIM_STALE_AFTER)
                .await
                .map_err(internal)?;
            if claimed {
                jobs.push(FetchJob::new(Some(manifest.hash.clone()), layer.clone()).to_body());
                claims.push(digest);
            }
            pending.push(PendingLayer {
                hash: digest.clone(),
                action: "fetch",
                upload: None,
            });
        } else if status == LayerStatus::Scanning {
            pending.push(PendingLayer {
                hash: digest.clone(),
                action: "scanning",
                upload: None,
            });
        } else {
            pending.push(PendingLayer {
                hash: digest.clone(),
                action: "upload",
                upload: Some(upload_target(api, headers, layer).await?),
            });
        }
    }
    if !jobs.is_empty() {
        if let Err(e) = api.fetch_queue.send_batch(&jobs).await {
            // Release the claims, so the next POST queues the jobs again instead of waiting them out.
            let reason = format!("queueing the fetch job failed: {e}");
            for layer in claims {
                if let Err(e) = indexer
                    .store()
                    .fail_layer_scan(layer, indexer.index_state(), &reason)
                    .await
                {
                    tracing::warn!(%layer, error = %e, "releasing a fetch claim");
                }
            }
            return Err(internal(format!("queueing fetch jobs: {e}")));
        }
        tracing::info!(jobs = jobs.len(), "fetch jobs queued");
    }
    Ok(pending)
}

async fn upload_target(
    api: &Api,
    headers: &HeaderMap,
    layer: &LayerRef,
) -> Result<UploadTarget, Response<Bytes>> {
    let key = BlobKey::layer(&layer.hash);
    match api
        .indexer()
        .blobs()
        .presign_put(&key, PRESIGN_EXPIRY)
        .await
    {
        Ok(p) => Ok(UploadTarget {
            method: "PUT",
            url: p.url,
            headers: p.headers.into_iter().collect(),
            expires_in: p.expires_in.as_secs(),
        }),
        // A local directory: this server's own upload route, absolute when the Host is known.
        Err(BlobError::Unsupported(_)) => {
            let path = format!("{UPLOAD_PREFIX}{}", layer.hash);
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            let scheme = headers
                .get("x-forwarded-proto")
                .and_then(|h| h.to_str().ok())
                .filter(|s| matches!(*s, "http" | "https"))
                .unwrap_or("http");
            let url = match host {
                Some(h) if !h.is_empty() && !h.contains(['/', ' ', '@']) => {
                    format!("{scheme}://{h}{path}")
                }
                _ => path,
            };
            Ok(UploadTarget {
                method: "PUT",
                url,
                headers: BTreeMap::new(),
                expires_in: 0,
            })
        }
        Err(e) => Err(internal(format!("presigning an upload: {e}"))),
    }
}

async fn get_index_report(api: &Api, req: &Request<Bytes>, digest: &Digest) -> Response<Bytes> {
    let content_type = match negotiate(req.headers(), &[MT_INDEX_REPORT, MT_JSON]) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let validator = validator(api);
    if unmodified(req.headers(), &validator) {
        return not_modified(&validator);
    }
    match serialized_index_report(api, digest).await {
        Ok(Some(body)) => {
            let mut resp = json_bytes(StatusCode::OK, content_type, body);
            if let Ok(v) = HeaderValue::from_str(&validator) {
                resp.headers_mut().insert(header::ETAG, v);
            }
            resp
        }
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("index report for {digest} not found"),
        ),
        Err(resp) => resp,
    }
}

/// The index report of `digest` as JSON, from the API's cache when the manifest has not changed since it
/// was serialized (one small query), else read, serialized and remembered.
async fn serialized_index_report(
    api: &Api,
    digest: &Digest,
) -> Result<Option<Bytes>, Response<Bytes>> {
    let key = match ReportCache::index_validator(&api.db, digest).await {
        Ok(Some(key)) => key,
        Ok(None) => return Ok(None),
        Err(e) => return Err(internal(format!("could not retrieve index report: {e}"))),
    };
    if let Some(body) = api.index_reports.get(digest, &key) {
        return Ok(Some(body));
    }
    let report = match api.indexer().index_report(digest).await {
        Ok(Some(report)) => report,
        Ok(None) => return Ok(None),
        Err(e) => return Err(internal(format!("could not retrieve index report: {e}"))),
    };
    let body = match serde_json::to_vec(&report) {
        Ok(body) => Bytes::from(body),
        Err(e) => return Err(internal(format!("could not encode index report: {e}"))),
    };
    api.index_reports.put(digest, key, body.clone());
    Ok(Some(body))
}

fn not_modified(validator: &str) -> Response<Bytes> {
    let mut resp = Response::new(Bytes::new());
    *resp.status_mut() = StatusCode::NOT_MODIFIED;
    if let Ok(v) = HeaderValue::from_str(validator) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

async fn delete_one(api: &Api, digest: &Digest) -> Response<Bytes> {
    match api
        .indexer()
        .store()
        .delete_manifests(std::slice::from_ref(digest))
        .await
    {
        Ok(deleted) => {
            tracing::info!(manifest = %digest, existed = !deleted.is_empty(), "manifest deleted");
            let mut resp = Response::new(Bytes::new());
            *resp.status_mut() = StatusCode::NO_CONTENT;
            resp
        }
        Err(e) => internal(format!("unable to delete manifest: {e}")),
    }
}

async fn bulk_delete(api: &Api, req: &Request<Bytes>) -> Response<Bytes> {
    if let Err(resp) = check_content_type(req.headers(), MT_BULK_DELETE) {
        return resp;
    }
    let digests: Vec<Digest> = match serde_json::from_slice(req.body()) {
        Ok(d) => d,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad-request",
                format!("failed to deserialize bulk delete: {e}"),
            );
        }
    };
    let content_type = negotiate(req.headers(), &[MT_BULK_DELETE, MT_JSON]).unwrap_or(MT_JSON);
    match api.indexer().store().delete_manifests(&digests).await {
        Ok(deleted) => {
            tracing::info!(count = deleted.len(), "manifests deleted");
            json_as(StatusCode::OK, content_type, &deleted)
        }
        Err(e) => internal(format!("could not delete manifests: {e}")),
    }
}

fn index_state(api: &Api, req: &Request<Bytes>) -> Response<Bytes> {
    let content_type = match negotiate(req.headers(), &[MT_INDEX_STATE, MT_JSON]) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let validator = validator(api);
    if unmodified(req.headers(), &validator) {
        return not_modified(&validator);
    }
    let mut resp = json_as(
        StatusCode::OK,
        content_type,
        &State {
            state: api.indexer().index_state(),
        },
    );
    if let Ok(v) = HeaderValue::from_str(&validator) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

/// Stores an uploaded layer blob under its digest (verified while streaming), then indexes it and every
/// manifest waiting on it. 201 with `{hash, bytes, outcome, packages}`; 400 on a digest mismatch; 413
/// past [`MAX_LAYER_BLOB_BYTES`]; 422 when the blob is not a readable layer (the reason is also stored
/// and shown in the manifests' reports).
pub async fn upload_layer(api: &Api, digest: &Digest, body: BlobReader) -> Response<Bytes> {
    let span = tracing::info_span!("upload_layer", layer = %digest);
    let _guard = span.enter();
    let indexer = api.indexer();
    let bytes =
        match store_verified(indexer.blobs().as_ref(), digest, body, MAX_LAYER_BLOB_BYTES).await {
            Ok(n) => n,
            Err(e @ StageError::Mismatch { .. }) => {
                return error(StatusCode::BAD_REQUEST, "bad-request", e.to_string());
            }
            Err(e @ StageError::TooLarge { .. }) => {
                return error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload-too-large",
                    e.to_string(),
                );
            }
            Err(StageError::Blob(e)) => return internal(format!("storing the layer: {e}")),
        };
    match indexer.index_layer(digest).await {
        Ok(LayerOutcome::Indexed { packages, .. }) => json_as(
            StatusCode::CREATED,
            MT_JSON,
            &Uploaded {
                hash: digest.clone(),
                bytes,
                outcome: "indexed",
                packages: Some(packages),
            },
        ),
        Ok(LayerOutcome::AlreadyIndexed) => json_as(
            StatusCode::CREATED,
            MT_JSON,
            &Uploaded {
                hash: digest.clone(),
                bytes,
                outcome: "already-indexed",
                packages: None,
            },
        ),
        Ok(LayerOutcome::Failed(reason)) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-layer",
            format!("layer {digest}: {reason}"),
        ),
        Err(e) => internal(format!("indexing the layer: {e}")),
    }
}
