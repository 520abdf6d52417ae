//! `lucid serve`'s host: the same router on a local port (hyper, HTTP/1.1), and an in-process worker that
//! executes queued fetch jobs. JSON bodies are read up to [`MAX_BODY_BYTES`] (the rest of a larger one is
//! read and dropped, bounded, before the 413, so the client gets it); layer uploads
//! (`PUT /lucid/api/v1/layers/{digest}`) are streamed into the blob store, never held in memory.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, BodyStream, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::indexer_v1::{UPLOAD_PREFIX, path_digest, upload_layer};
use super::{Api, MAX_BODY_BYTES, error, handle};
use crate::blob::BlobReader;
use crate::indexer::fetch::run_worker;
use crate::queue::Queue;

/// Serves `api` on `listener` until `shutdown` completes; connections in flight are finished first.
pub async fn serve(
    listener: TcpListener,
    api: Arc<Api>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: log, back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let api = api.clone();
        let service = service_fn(move |req| {
            let api = api.clone();
            async move { Ok::<_, Infallible>(respond(&api, req, peer).await) }
        });
        let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(std::time::Duration::from_secs(10)) => {
            tracing::warn!("connections still open after 10 s; closing");
        }
    }
    Ok(())
}

async fn respond(api: &Api, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
    let span = tracing::debug_span!("connection", peer = %peer);
    let _guard = span.enter();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().trim_end_matches('/').to_owned();
    // Uploads stream straight into the blob store.
    if parts.method == Method::PUT
        && let Some(rest) = path.strip_prefix(UPLOAD_PREFIX)
    {
        if let Err(resp) = api.authorize(&path, &parts.headers) {
            return to_full(resp);
        }
        let digest = match path_digest(rest) {
            Ok(d) => d,
            Err(resp) => return to_full(resp),
        };
        let stream = BodyStream::new(body)
            .try_filter_map(|frame| async move { Ok(frame.into_data().ok()) })
            .map_err(std::io::Error::other);
        let reader: BlobReader = Box::pin(tokio_util::io::StreamReader::new(stream));
        return to_full(upload_layer(api, &digest, reader).await);
    }
    let mut body = body;
    let bytes = match Limited::new(&mut body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            let resp = if e.is::<http_body_util::LengthLimitError>() {
                drain(&mut body).await;
                error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload-too-large",
                    format!("request body is larger than {MAX_BODY_BYTES} bytes"),
                )
            } else {
                error(
                    StatusCode::BAD_REQUEST,
                    "bad-request",
                    format!("reading the request body: {e}"),
                )
            };
            return to_full(resp);
        }
    };
    to_full(handle(api, Request::from_parts(parts, bytes)).await)
}

/// At most this much of an oversized body is read and dropped before the 413 answer ([`drain`]).
const OVERSIZE_DRAIN_BYTES: usize = 16 << 20;
/// And for at most this long.
const OVERSIZE_DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads and drops the rest of an oversized request body (bounded by [`OVERSIZE_DRAIN_BYTES`] and
/// [`OVERSIZE_DRAIN_TIME`]) before it is answered with 413. A server that answers and closes while the
/// client is still sending resets the connection, and the client then sees a broken pipe instead of the
/// answer (nginx's "lingering close" is for the same); hyper has no such option, so it is done here.
async fn drain(body: &mut Incoming) {
    let read = async {
        let mut drained = 0usize;
        while drained < OVERSIZE_DRAIN_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => drained += frame.data_ref().map_or(0, Bytes::len),
                Some(Err(_)) | None => break,
            }
        }
    };
    let _ = tokio::time::timeout(OVERSIZE_DRAIN_TIME, read).await;
}

fn to_full(resp: Response<Bytes>) -> Response<Full<Bytes>> {
    resp.map(Full::new)
}

/// Everything `lucid serve` runs: the listener and the fetch-job worker, until `shutdown` completes.
pub async fn serve_with_worker(
    listener: TcpListener,
    api: Api,
    fetch_queue: Arc<dyn Queue>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(run_worker(api.indexer().clone(), fetch_queue, stop_rx));
    let result = serve(listener, Arc::new(api), shutdown).await;
    let _ = stop_tx.send(true);
    if let Err(e) = worker.await {
        tracing::error!(error = %e, "the fetch worker ended abnormally");
    }
    result
}
