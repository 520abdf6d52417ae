//! Clair v4's notifier routes: `GET /notifier/api/v1/notification/{id}?page_size=N&next=<id>` (a
//! NotificationPage, keyset-paged; default page size 500, at most 1000) and
//! `DELETE /notifier/api/v1/notification/{id}` (the client has read the set: 200 with an empty body, as
//! Clair; its receipts become `deleted` and the set is garbage-collected).

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use uuid::Uuid;

use super::{Api, error, internal, json_as, method_not_allowed};
use crate::notifier::store;

/// The route prefix; the webhook callback is this plus the notification id.
pub const NOTIFICATION: &str = "/notifier/api/v1/notification";

const MT_NOTIFICATION_PAGE: &str = "application/vnd.clair.notification_page.v1+json";
const DEFAULT_PAGE_SIZE: usize = 500;
const MAX_PAGE_SIZE: usize = 1000;

/// True for the paths this module answers.
pub fn owns(path: &str) -> bool {
    path.starts_with("/notifier/api/v1/")
}

fn bad(message: impl Into<String>) -> Response<Bytes> {
    error(StatusCode::BAD_REQUEST, "bad-request", message)
}

pub async fn route(api: &Api, req: Request<Bytes>) -> Response<Bytes> {
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let Some(rest) = path
        .strip_prefix(NOTIFICATION)
        .and_then(|r| r.strip_prefix('/'))
    else {
        return error(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no route for {path}"),
        );
    };
    let Ok(id) = Uuid::parse_str(rest) else {
        return bad(format!("{rest:?} is not a notification id (a UUID)"));
    };
    let span = tracing::info_span!("notification", %id);
    let _guard = span.enter();
    match *req.method() {
        Method::GET => {
            let mut size = DEFAULT_PAGE_SIZE;
            let mut next = None;
            for (key, value) in
                url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            {
                match key.as_ref() {
                    "page_size" => match value.parse::<usize>() {
                        Ok(n) if n >= 1 => size = n.min(MAX_PAGE_SIZE),
                        _ => return bad(format!("page_size {value:?} is not a positive number")),
                    },
                    "next" => match Uuid::parse_str(&value) {
                        Ok(n) => next = Some(n),
                        Err(_) => return bad(format!("next {value:?} is not a notification id")),
                    },
                    _ => {}
                }
            }
            match store::page(&api.db, id, size, next).await {
                Ok(Some(page)) => json_as(StatusCode::OK, MT_NOTIFICATION_PAGE, &page),
                Ok(None) => error(
                    StatusCode::NOT_FOUND,
                    "not-found",
                    format!("notification {id} not found"),
                ),
                Err(e) => internal(format!("reading notifications: {e}")),
            }
        }
        Method::DELETE => match store::delete(&api.db, id).await {
            Ok(true) => Response::new(Bytes::new()),
            Ok(false) => error(
                StatusCode::NOT_FOUND,
                "not-found",
                format!("notification {id} not found"),
            ),
            Err(e) => internal(format!("deleting notification {id}: {e}")),
        },
        _ => method_not_allowed(req.method(), "GET, DELETE"),
    }
}
