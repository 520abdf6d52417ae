//! Clair v4's matcher routes.
//!
//! - `GET /matcher/api/v1/vulnerability_report/{digest}`: 200 with the VulnerabilityReport computed on
//!   request (not stored in the database, as in Clair); 404 while the manifest's index report is missing or not
//!   `IndexFinished`; **202** with a [`FeedsLoading`] body while no vulnerability feed has loaded yet (Clair
//!   answers 202 with an empty body then; an empty report would look clean).
//!   The serialized report is kept per manifest ([`super::report_cache`]) and its validator sent as
//!   `ETag`: a repeated request costs one small query, and `If-None-Match` answers 304.
//! - `GET /matcher/api/v1/internal/update_operation[?kind=vulnerability|enrichment&latest=bool]`: every
//!   stored update operation of that kind, `{updater: [operation, …]}` newest first (only the live one per
//!   updater with `latest=true`); `ETag` is the ref of the newest operation of the kind, `If-None-Match`
//!   on it answers 304.
//! - `DELETE /matcher/api/v1/internal/update_operation/{ref}`: 200 with an empty body (Clair's code).
//! - `GET /matcher/api/v1/internal/update_diff?cur=<ref>[&prev=<ref>]`: the records added and removed
//!   between two operations of one updater (`prev` omitted: everything in `cur` is added).

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use serde::Serialize;
use uuid::Uuid;

use super::indexer_v1::{VULNERABILITY_REPORT, path_digest, unmodified};
use super::report_cache::ReportCache;
use super::{Api, error, internal, json_as, method_not_allowed};
use crate::feeds::store::{FeedStatus, FeedStore, UpdateOperation};
use crate::matcher::MatchError;
use crate::model::{IndexState, ReportWarning};

const MT_VULNERABILITY_REPORT: &str = "application/vnd.clair.vulnerability_report.v1+json";
const MT_UPDATE_OPERATIONS: &str = "application/vnd.clair.update_operations.v1+json";
const MT_UPDATE_DIFF: &str = "application/vnd.clair.update_diff.v1+json";
pub const UPDATE_OPERATION: &str = "/matcher/api/v1/internal/update_operation";
pub const UPDATE_DIFF: &str = "/matcher/api/v1/internal/update_diff";
/// Seconds a client is asked to wait before asking again for a report while the first update runs.
const FEEDS_LOADING_RETRY_AFTER: &str = "30";

/// True for the paths this module answers.
pub fn owns(path: &str) -> bool {
    path.starts_with("/matcher/api/v1/")
}

/// The 202 body of `vulnerability_report` while no vulnerability feed has loaded.
#[derive(Debug, Serialize)]
pub struct FeedsLoading {
    /// Always `first_update_in_progress`.
    pub state: &'static str,
    pub message: String,
    /// When the first update started (the earliest recorded attempt of a feed that never loaded); `None`
    /// when no update has started yet.
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<time::OffsetDateTime>,
    /// Every feed's status so far.
    pub feeds: Vec<FeedStatus>,
}

pub async fn route(api: &Api, req: Request<Bytes>) -> Response<Bytes> {
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let method = req.method().clone();
    if path == UPDATE_OPERATION {
        return match method {
            Method::GET => update_operations(api, &req).await,
            _ => method_not_allowed(&method, "GET"),
        };
    }
    if let Some(rest) = path
        .strip_prefix(UPDATE_OPERATION)
        .and_then(|r| r.strip_prefix('/'))
    {
        if method != Method::DELETE {
            return method_not_allowed(&method, "DELETE");
        }
        return match parse_ref(rest, "update operation reference") {
            Ok(reference) => delete_operation(api, reference).await,
            Err(resp) => resp,
        };
    }
    if path == UPDATE_DIFF {
        return match method {
            Method::GET => update_diff(api, &req).await,
            _ => method_not_allowed(&method, "GET"),
        };
    }
    let Some(rest) = path
        .strip_prefix(VULNERABILITY_REPORT)
        .and_then(|r| r.strip_prefix('/'))
    else {
        return error(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no route for {path}"),
        );
    };
    if method != Method::GET {
        return method_not_allowed(&method, "GET");
    }
    let digest = match path_digest(rest) {
        Ok(d) => d,
        Err(resp) => return resp,
    };
    let span = tracing::info_span!("vulnerability_report", manifest = %digest);
    let _guard = span.enter();
    let not_found = || {
        error(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("index report for {digest} not found"),
        )
    };
    // A report already computed for the same manifest, feeds and feed status: no match needed.
    let validator =
        match ReportCache::validator(&api.db, &digest, api.indexer().index_state()).await {
            Ok(Some(v)) => v,
            Ok(None) => return not_found(),
            Err(e) => return internal(format!("could not retrieve index report: {e}")),
        };
    if unmodified(req.headers(), &validator) {
        return with_etag(
            Response::new(Bytes::new()),
            StatusCode::NOT_MODIFIED,
            &validator,
        );
    }
    if let Some(body) = api.reports.get(&digest, &validator) {
        let mut resp = Response::new(body);
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(MT_VULNERABILITY_REPORT),
        );
        return with_etag(resp, StatusCode::OK, &validator);
    }
    let report = match api.indexer().index_report(&digest).await {
        Ok(Some(r)) if r.state == IndexState::IndexFinished.as_str() => r,
        Ok(Some(r)) => {
            return error(
                StatusCode::NOT_FOUND,
                "not-found",
                format!(
                    "index report for {digest} is not finished (state {})",
                    r.state
                ),
            );
        }
        Ok(None) => return not_found(),
        Err(e) => return internal(format!("could not retrieve index report: {e}")),
    };
    match api.matcher.vulnerability_report_of(report).await {
        Ok(v)
            if v.warnings
                .iter()
                .any(|w| w.code == ReportWarning::NO_FEEDS_LOADED) =>
        {
            feeds_loading(api).await
        }
        Ok(v) => {
            let resp = json_as(StatusCode::OK, MT_VULNERABILITY_REPORT, &v);
            if resp.status() != StatusCode::OK {
                return resp;
            }
            api.reports
                .put(&digest, validator.clone(), resp.body().clone());
            let status = resp.status();
            with_etag(resp, status, &validator)
        }
        Err(e @ MatchError::NotIndexed { .. }) => {
            error(StatusCode::NOT_FOUND, "not-found", e.to_string())
        }
        Err(e) => internal(format!("matching failed: {e}")),
    }
}

fn with_etag(mut resp: Response<Bytes>, status: StatusCode, validator: &str) -> Response<Bytes> {
    *resp.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(validator) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

/// 202: no vulnerability feed has loaded, so no report can be trusted yet.
async fn feeds_loading(api: &Api) -> Response<Bytes> {
    let feeds = match FeedStore::new(api.db.clone()).feed_status().await {
        Ok(f) => f,
        Err(e) => return internal(format!("reading the feed status: {e}")),
    };
    let started_at = feeds
        .iter()
        .filter(|f| f.last_success.is_none())
        .filter_map(|f| f.last_attempt)
        .min();
    let message = match started_at {
        Some(at) => format!(
            "no vulnerability feed has loaded yet: the first update started at {at}; ask again later \
             (an empty report now would not mean the image is clean)"
        ),
        None => "no vulnerability feed has loaded yet and no update has started; run the updater \
                 (`lucid update`, or wait for the schedule) and ask again"
            .to_owned(),
    };
    let mut resp = json_as(
        StatusCode::ACCEPTED,
        "application/json",
        &FeedsLoading {
            state: "first_update_in_progress",
            message,
            started_at,
            feeds,
        },
    );
    resp.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(FEEDS_LOADING_RETRY_AFTER),
    );
    resp
}

fn bad_request(message: String) -> Response<Bytes> {
    error(StatusCode::BAD_REQUEST, "bad-request", message)
}

/// A UUID from a path segment or query value, or a 400 naming `what`.
fn parse_ref(value: &str, what: &str) -> Result<Uuid, Response<Bytes>> {
    let decoded = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
    // The hyphenated form only, as Clair's clients send it (and as the OpenAPI `format: uuid` says).
    if decoded.len() != 36 {
        return Err(bad_request(format!(
            "malformed {what} {decoded:?}: not a hyphenated UUID"
        )));
    }
    Uuid::parse_str(&decoded).map_err(|e| bad_request(format!("malformed {what} {decoded:?}: {e}")))
}

/// The query parameters of a request, decoded, in order.
fn query(req: &Request<Bytes>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

fn query_value<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Go's `strconv.ParseBool`, which Clair uses for `latest`.
fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

async fn update_operations(api: &Api, req: &Request<Bytes>) -> Response<Bytes> {
    let params = query(req);
    let kind = match query_value(&params, "kind") {
        None | Some("") | Some("vulnerability") => "vulnerability",
        Some("enrichment") => "enrichment",
        Some(other) => return bad_request(format!("unknown kind: {other:?}")),
    };
    let latest = match query_value(&params, "latest") {
        None | Some("") => false,
        Some(v) => match parse_bool(v) {
            Some(b) => b,
            None => return bad_request(format!("malformed latest {v:?}: not a boolean")),
        },
    };
    let store = FeedStore::new(api.db.clone());
    let result = if latest {
        store
            .latest_operations()
            .await
            .map(|ops| ops.into_iter().map(|(u, op)| (u, vec![op])).collect())
    } else {
        store.operations().await
    };
    let all = match result {
        Ok(all) => all,
        Err(e) => return internal(format!("reading update operations: {e}")),
    };
    let mut of_kind: std::collections::BTreeMap<String, Vec<UpdateOperation>> = all
        .into_iter()
        .filter_map(|(updater, ops)| {
            let ops: Vec<UpdateOperation> = ops.into_iter().filter(|o| o.kind == kind).collect();
            (!ops.is_empty()).then_some((updater, ops))
        })
        .collect();
    // The newest operation of the kind: the validator (Clair's `LatestUpdateOperation`). With `latest`
    // only live operations are listed, and the newest of any kind is always live.
    let newest = of_kind.values().flatten().max_by_key(|o| o.id);
    let validator = newest.map(|o| format!("\"{}\"", o.reference));
    if let Some(v) = &validator
        && unmodified(req.headers(), v)
    {
        return with_etag(Response::new(Bytes::new()), StatusCode::NOT_MODIFIED, v);
    }
    for ops in of_kind.values_mut() {
        ops.sort_by_key(|o| std::cmp::Reverse(o.id));
    }
    let mut resp = json_as(StatusCode::OK, MT_UPDATE_OPERATIONS, &of_kind);
    if let Some(v) = validator.and_then(|v| HeaderValue::from_str(&v).ok()) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

async fn delete_operation(api: &Api, reference: Uuid) -> Response<Bytes> {
    match FeedStore::new(api.db.clone())
        .delete_operations(&[reference])
        .await
    {
        Ok(deleted) => {
            tracing::info!(%reference, deleted, "update operation deleted");
            Response::new(Bytes::new())
        }
        Err(e) => internal(format!("deleting update operation {reference}: {e}")),
    }
}

async fn update_diff(api: &Api, req: &Request<Bytes>) -> Response<Bytes> {
    let params = query(req);
    let cur = match query_value(&params, "cur") {
        None | Some("") => return bad_request("missing query parameter \"cur\"".to_owned()),
        Some(v) => match parse_ref(v, "cur") {
            Ok(u) => u,
            Err(resp) => return resp,
        },
    };
    let prev = match query_value(&params, "prev") {
        None | Some("") => None,
        Some(v) => match parse_ref(v, "prev") {
            Ok(u) if u.is_nil() => None,
            Ok(u) => Some(u),
            Err(resp) => return resp,
        },
    };
    match FeedStore::new(api.db.clone()).diff(prev, cur).await {
        Ok(Some(diff)) => json_as(StatusCode::OK, MT_UPDATE_DIFF, &diff),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not-found",
            format!(
                "no update operation {cur}{}, or the two belong to different updaters",
                prev.map(|p| format!(" or {p}")).unwrap_or_default()
            ),
        ),
        Err(e) => internal(format!("computing the update diff: {e}")),
    }
}
