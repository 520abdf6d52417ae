//! Clair v4's matcher route `GET /matcher/api/v1/vulnerability_report/{digest}`: 200 with the
//! VulnerabilityReport computed on request (never stored, as in Clair); 404 while the manifest's index
//! report is missing or not `IndexFinished`.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};

use super::indexer_v1::{VULNERABILITY_REPORT, path_digest};
use super::{Api, error, internal, json_as, method_not_allowed};
use crate::matcher::MatchError;
use crate::model::IndexState;

const MT_VULNERABILITY_REPORT: &str = "application/vnd.clair.vulnerability_report.v1+json";

/// True for the paths this module answers.
pub fn owns(path: &str) -> bool {
    path.starts_with("/matcher/api/v1/")
}

pub async fn route(api: &Api, req: Request<Bytes>) -> Response<Bytes> {
    let path = req.uri().path().trim_end_matches('/').to_owned();
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
    if req.method() != Method::GET {
        return method_not_allowed(req.method(), "GET");
    }
    let digest = match path_digest(rest) {
        Ok(d) => d,
        Err(resp) => return resp,
    };
    let span = tracing::info_span!("vulnerability_report", manifest = %digest);
    let _guard = span.enter();
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
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                "not-found",
                format!("index report for {digest} not found"),
            );
        }
        Err(e) => return internal(format!("could not retrieve index report: {e}")),
    };
    match api.matcher.vulnerability_report(&report).await {
        Ok(v) => json_as(StatusCode::OK, MT_VULNERABILITY_REPORT, &v),
        Err(e @ MatchError::NotIndexed { .. }) => {
            error(StatusCode::NOT_FOUND, "not-found", e.to_string())
        }
        Err(e) => internal(format!("matching failed: {e}")),
    }
}
