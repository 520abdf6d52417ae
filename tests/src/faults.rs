//! Fault injection for the S3/SQS emulator: an HTTP proxy in front of moto that answers a configurable share
//! of requests with a throttling or server error, drops the connection (TCP reset), or never answers, and
//! forwards the rest unchanged.
//!
//! Which requests fail is deterministic (evenly spread: with a share of 1/3, every third request), so a
//! test failure replays the same way. Faulted requests answer in the protocol of the caller: S3's XML
//! error document, or the JSON error of the AWS JSON protocol SQS speaks (`x-amz-target` requests).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

/// One way a request can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `503 SlowDown`, S3's throttling answer.
    SlowDown,
    /// `500 InternalError`.
    InternalError,
    /// The connection is reset (RST) without an answer.
    Reset,
    /// The request is read and never answered (the connection stays open).
    Stall,
}

/// Which requests fail and how.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    /// The share of requests that fail, 0.0 to 1.0, spread evenly.
    pub share: f64,
    /// The faults, used in turn by the failing requests.
    pub faults: Vec<Fault>,
}

impl FaultPlan {
    /// No faults: every request is forwarded.
    pub fn none() -> FaultPlan {
        FaultPlan {
            share: 0.0,
            faults: Vec::new(),
        }
    }

    /// Every request fails with `fault`.
    pub fn always(fault: Fault) -> FaultPlan {
        FaultPlan {
            share: 1.0,
            faults: vec![fault],
        }
    }
}

/// A request the proxy saw.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub at: Instant,
    pub method: String,
    /// Path and query.
    pub target: String,
    /// The fault it got, if any.
    pub fault: Option<Fault>,
}

struct State {
    upstream: String,
    http: reqwest::Client,
    plan: Mutex<FaultPlan>,
    /// Requests counted under the current plan (decides which fail).
    counter: AtomicU64,
    seen: Mutex<Vec<SeenRequest>>,
}

/// The proxy; it lives as long as the test's runtime.
#[derive(Clone)]
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`, to use as the AWS endpoint.
    pub endpoint: String,
    state: Arc<State>,
}

impl FaultProxy {
    /// Starts a proxy forwarding to `upstream` (`http://host:port`), with no faults yet.
    pub async fn start(upstream: &str) -> Result<FaultProxy> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(State {
            upstream: upstream.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder().no_proxy().build()?,
            plan: Mutex::new(FaultPlan::none()),
            counter: AtomicU64::new(0),
            seen: Mutex::new(Vec::new()),
        });
        let accepting = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                // Closing a connection resets it: a faulted request's connection ends with RST, as when a
                // load balancer or server drops it.
                let _ = stream.set_zero_linger();
                let state = Arc::clone(&accepting);
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let state = Arc::clone(&state);
                    async move { handle(state, req).await }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc),
                );
            }
        });
        Ok(FaultProxy { endpoint, state })
    }

    /// Replaces the plan; the deterministic sequence restarts.
    pub fn set_plan(&self, plan: FaultPlan) {
        *self.state.plan.lock().expect("plan lock") = plan;
        self.state.counter.store(0, Ordering::SeqCst);
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<SeenRequest> {
        self.state.seen.lock().expect("seen lock").clone()
    }

    /// Forgets the requests seen so far.
    pub fn clear_seen(&self) {
        self.state.seen.lock().expect("seen lock").clear();
    }
}

/// The fault for the `n`th request (0-based) under `plan`: request n fails when the running total of
/// `share` crosses a whole number at it.
fn fault_for(plan: &FaultPlan, n: u64) -> Option<Fault> {
    if plan.faults.is_empty() || plan.share <= 0.0 {
        return None;
    }
    let share = plan.share.min(1.0);
    let before = (n as f64 * share).floor();
    let after = ((n + 1) as f64 * share).floor();
    if after > before {
        let index = (before as usize) % plan.faults.len();
        Some(plan.faults[index])
    } else {
        None
    }
}

/// The service error that makes hyper drop the connection without answering.
fn injected_reset() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "injected connection reset",
    )
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> std::result::Result<Response<Full<Bytes>>, std::io::Error> {
    let n = state.counter.fetch_add(1, Ordering::SeqCst);
    let fault = {
        let plan = state.plan.lock().expect("plan lock");
        fault_for(&plan, n)
    };
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    state.seen.lock().expect("seen lock").push(SeenRequest {
        at: Instant::now(),
        method: req.method().to_string(),
        target: target.clone(),
        fault,
    });
    let json_protocol = req.headers().contains_key("x-amz-target");
    match fault {
        Some(Fault::SlowDown) => Ok(error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "SlowDown",
            "Please reduce your request rate.",
            json_protocol,
        )),
        Some(Fault::InternalError) => Ok(error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "We encountered an internal error. Please try again.",
            json_protocol,
        )),
        Some(Fault::Reset) => {
            // Read the request as a server would, then drop the connection without answering.
            let _ = req.into_body().collect().await;
            Err(injected_reset())
        }
        Some(Fault::Stall) => {
            let _ = req.into_body().collect().await;
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Err(injected_reset())
        }
        None => Ok(forward(&state, req, &target).await),
    }
}

fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    json_protocol: bool,
) -> Response<Full<Bytes>> {
    let (content_type, body) = if json_protocol {
        (
            "application/x-amz-json-1.0",
            serde_json::json!({ "__type": code, "message": message }).to_string(),
        )
    } else {
        (
            "application/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
                 <Message>{message}</Message><RequestId>lucid-fault-proxy</RequestId></Error>"
            ),
        )
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// Headers that describe one hop's connection, not the message.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "upgrade",
    "host",
];

async fn forward(state: &State, req: Request<Incoming>, target: &str) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let result = async {
        let body = body.collect().await?.to_bytes();
        let mut upstream = state
            .http
            .request(parts.method, format!("{}{target}", state.upstream))
            .body(body);
        for (name, value) in &parts.headers {
            if !HOP_BY_HOP.contains(&name.as_str()) && name != hyper::header::CONTENT_LENGTH {
                upstream = upstream.header(name, value);
            }
        }
        let answer = upstream.send().await?;
        let status = answer.status();
        let headers = answer.headers().clone();
        let body = answer.bytes().await?;
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = status;
        // Content-Length is kept: a HEAD answer has none of the body it describes.
        for (name, value) in &headers {
            if !HOP_BY_HOP.contains(&name.as_str()) {
                response.headers_mut().append(name, value.clone());
            }
        }
        anyhow::Ok(response)
    }
    .await;
    result.unwrap_or_else(|e| {
        error_response(
            StatusCode::BAD_GATEWAY,
            "ProxyError",
            &format!("the fault proxy could not reach the emulator: {e:#}"),
            false,
        )
    })
}

/// A PostgreSQL cluster owned by one test, which may stop and restart it (never the shared test server).
/// Stopped when dropped, and by a watchdog if the test process dies first.
pub struct OwnedCluster {
    cluster: lucid::store::cluster::LocalCluster,
    port: u16,
}

impl OwnedCluster {
    /// Initialises and starts a cluster on a free loopback port.
    pub fn start() -> Result<OwnedCluster> {
        use lucid::store::cluster::{Listen, LocalCluster};
        let dir = tempfile::Builder::new()
            .prefix("lucid-faults-pg-")
            .tempdir()?
            .keep();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        let port = super::free_port()?;
        let cluster = LocalCluster::new(&dir, Listen::Tcp { port })?;
        cluster.init()?;
        cluster.start()?;
        super::cleanup_on_exit(&format!(
            "{} ; rm -rf {}",
            cluster.stop_command_line(false),
            super::shell_quote(&dir)
        ))?;
        Ok(OwnedCluster { cluster, port })
    }

    /// The URL of database `name` on this cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates a fresh database and returns its URL (not migrated).
    pub async fn fresh_database(&self) -> Result<String> {
        let name = format!("lucid_f_{}", uuid::Uuid::new_v4().simple());
        let admin = self.connect("postgres").await?;
        // The cluster runs with synchronous_commit=off (fast tests), under which a crash may lose the last
        // commits; a test that crashes the server needs every acknowledged commit durable, as in production.
        for statement in [
            format!("CREATE DATABASE {name}"),
            format!("ALTER DATABASE {name} SET synchronous_commit = on"),
        ] {
            admin
                .batch_execute(&statement)
                .await
                .map_err(|e| anyhow::anyhow!("{statement}: {}", lucid::store::describe(&e)))?;
        }
        Ok(self.url(&name))
    }

    /// A plain connection to database `name` (its connection task runs in the background).
    pub async fn connect(&self, name: &str) -> Result<tokio_postgres::Client> {
        connect_url(&self.url(name)).await
    }

    /// `pg_ctl stop -m immediate`: every backend is killed at once, as in a crash; nothing is flushed.
    pub fn stop_immediately(&self) -> Result<()> {
        Ok(self.cluster.stop(false)?)
    }

    /// Starts the server again (crash recovery runs first).
    pub fn restart(&self) -> Result<()> {
        Ok(self.cluster.start()?)
    }
}

impl Drop for OwnedCluster {
    fn drop(&mut self) {
        if self.cluster.is_running() {
            let _ = self.cluster.stop(false);
        }
    }
}

/// A plain connection to `url` (its connection task runs in the background).
pub async fn connect_url(url: &str) -> Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| anyhow::anyhow!("connecting to {url}: {}", lucid::store::describe(&e)))?;
    tokio::spawn(connection);
    Ok(client)
}

/// Waits until a backend of the database at `url` is blocked on a lock while running a statement that
/// contains `statement` (the writer under test reached the point the test holds it at).
pub async fn wait_for_blocked_statement(
    watcher: &tokio_postgres::Client,
    statement: &str,
    within: Duration,
) -> Result<()> {
    let deadline = Instant::now() + within;
    let pattern = format!("%{statement}%");
    loop {
        let row = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE wait_event_type = 'Lock' AND query LIKE $1 AND pid <> pg_backend_pid()",
                &[&pattern],
            )
            .await
            .map_err(|e| {
                anyhow::anyhow!("watching pg_stat_activity: {}", lucid::store::describe(&e))
            })?;
        if row.get::<_, i64>(0) > 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!("no statement like {statement:?} blocked within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_spread_evenly_and_taken_in_turn() {
        let plan = FaultPlan {
            share: 1.0 / 3.0,
            faults: vec![Fault::SlowDown, Fault::Reset],
        };
        let got: Vec<Option<Fault>> = (0..9).map(|n| fault_for(&plan, n)).collect();
        assert_eq!(got.iter().filter(|f| f.is_some()).count(), 3);
        assert_eq!(
            got.iter().flatten().copied().collect::<Vec<_>>(),
            [Fault::SlowDown, Fault::Reset, Fault::SlowDown]
        );
        assert!((0..50).all(|n| fault_for(&FaultPlan::none(), n).is_none()));
        assert!((0..50).all(|n| fault_for(&FaultPlan::always(Fault::Stall), n).is_some()));
    }
}
