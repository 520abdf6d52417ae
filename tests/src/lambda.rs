//! Runs a real function binary as Lambda runs it: a local **Lambda Runtime API** server (the HTTP API
//! `lambda_runtime` polls on Lambda) and the process started with Lambda's environment.
//!
//! The server speaks the documented protocol (API version `2018-06-01`):
//! - `GET  /2018-06-01/runtime/invocation/next` — long-polls until an event is queued, then answers it with
//!   the event JSON and the headers `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`,
//!   `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id`;
//! - `POST /2018-06-01/runtime/invocation/{id}/response` — the handler's result (`202`);
//! - `POST /2018-06-01/runtime/invocation/{id}/error` — a handler error (`Lambda-Runtime-Function-Error-Type`
//!   header, `{"errorType","errorMessage"}` body; `202`);
//! - `POST /2018-06-01/runtime/init/error` — the runtime failed to start (`202`).
//!
//! [`LambdaFunction::start`] starts the binary with the variables Lambda sets (function name, memory size,
//! version, log group, credentials, region, `AWS_LAMBDA_RUNTIME_API`, `_HANDLER`, `LAMBDA_TASK_ROOT`,
//! `TZ`) and nothing else from the test's environment, plus the function's own variables (as
//! template.yaml sets them). It measures the **init time** (process start → first `next` call, which is
//! where Lambda's init phase ends) and reads the **peak RSS** (`VmHWM` in `/proc/<pid>/status`). The
//! function's stdout/stderr (Lambda's log stream) goes to a file whose tail is quoted in errors.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};

/// The account and region the emulated functions live in.
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// How an invocation ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// `POST …/response`: the body (JSON).
    Response(Value),
    /// `POST …/error`: the error type header and the body.
    Error { error_type: String, body: Value },
}

struct Queued {
    id: String,
    payload: Value,
    deadline_ms: u128,
}

#[derive(Default)]
struct State {
    queue: Mutex<VecDeque<Queued>>,
    queued: Notify,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    first_next: Mutex<Option<Instant>>,
    init_error: Mutex<Option<Value>>,
}

/// A Lambda Runtime API server for one function (one execution environment).
pub struct RuntimeApi {
    addr: SocketAddr,
    function_arn: String,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// An X-Ray trace header as Lambda passes it (`Root=1-<epoch hex>-<24 hex>;Parent=<16 hex>;Sampled=0`).
fn trace_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let secs = epoch_ms() / 1000;
    format!(
        "Root=1-{secs:08x}-{};Parent={};Sampled=0",
        &id[..24],
        &id[16..32]
    )
}

type Body = Full<Bytes>;

fn reply(status: StatusCode, body: Value) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

async fn serve(state: Arc<State>, arn: String, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let error_type = req
        .headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return reply(
                StatusCode::BAD_REQUEST,
                json!({"errorMessage": e.to_string()}),
            );
        }
    };
    let parsed = || {
        serde_json::from_slice::<Value>(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    };
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
        return reply(
            StatusCode::NOT_FOUND,
            json!({"errorMessage": "unknown path"}),
        );
    };
    match (method, rest.split('/').collect::<Vec<_>>().as_slice()) {
        (Method::GET, ["invocation", "next"]) => {
            lock(&state.first_next).get_or_insert_with(Instant::now);
            let next = loop {
                let notified = state.queued.notified();
                if let Some(q) = lock(&state.queue).pop_front() {
                    break q;
                }
                notified.await;
            };
            let mut r = reply(StatusCode::OK, next.payload);
            let h = r.headers_mut();
            let mut set = |k: &'static str, v: String| {
                if let Ok(v) = hyper::header::HeaderValue::from_str(&v) {
                    h.insert(k, v);
                }
            };
            set("lambda-runtime-aws-request-id", next.id);
            set("lambda-runtime-deadline-ms", next.deadline_ms.to_string());
            set("lambda-runtime-invoked-function-arn", arn);
            set("lambda-runtime-trace-id", trace_id());
            r
        }
        (Method::POST, ["invocation", id, "response"]) => match lock(&state.waiting).remove(*id) {
            Some(tx) => {
                let _ = tx.send(Outcome::Response(parsed()));
                reply(StatusCode::ACCEPTED, json!({"status": "OK"}))
            }
            None => reply(
                StatusCode::BAD_REQUEST,
                json!({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}),
            ),
        },
        (Method::POST, ["invocation", id, "error"]) => match lock(&state.waiting).remove(*id) {
            Some(tx) => {
                let _ = tx.send(Outcome::Error {
                    error_type,
                    body: parsed(),
                });
                reply(StatusCode::ACCEPTED, json!({"status": "OK"}))
            }
            None => reply(
                StatusCode::BAD_REQUEST,
                json!({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}),
            ),
        },
        (Method::POST, ["init", "error"]) => {
            *lock(&state.init_error) = Some(json!({"errorType": error_type, "body": parsed()}));
            reply(StatusCode::ACCEPTED, json!({"status": "OK"}))
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            json!({"errorMessage": format!("no route for {path}")}),
        ),
    }
}

impl RuntimeApi {
    /// Starts the server on a free loopback port for the function `name`.
    pub async fn start(name: &str) -> Result<RuntimeApi> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let function_arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}");
        let state = Arc::new(State::default());
        let (s, arn) = (state.clone(), function_arn.clone());
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (s, arn) = (s.clone(), arn.clone());
                let svc = hyper::service::service_fn(move |req| {
                    let (s, arn) = (s.clone(), arn.clone());
                    async move { Ok::<_, std::convert::Infallible>(serve(s, arn, req).await) }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc),
                );
            }
        });
        Ok(RuntimeApi {
            addr,
            function_arn,
            state,
            server,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    pub fn function_arn(&self) -> &str {
        &self.function_arn
    }

    /// When the runtime first asked for an event (the end of Lambda's init phase).
    pub fn first_next(&self) -> Option<Instant> {
        *lock(&self.state.first_next)
    }

    /// What the runtime reported to `/runtime/init/error`, if anything.
    pub fn init_error(&self) -> Option<Value> {
        lock(&self.state.init_error).clone()
    }

    /// Queues one event with a deadline `timeout` from now; the receiver yields its outcome.
    pub fn enqueue(&self, payload: Value, timeout: Duration) -> oneshot::Receiver<Outcome> {
        let id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        lock(&self.state.waiting).insert(id.clone(), tx);
        lock(&self.state.queue).push_back(Queued {
            id,
            payload,
            deadline_ms: epoch_ms() + timeout.as_millis(),
        });
        self.state.queued.notify_one();
        rx
    }
}

/// A function's binary: `lucid-api` in the profile directory that holds this test executable
/// (`target/<profile>/deps/..`), or in `LUCID_FUNCTION_BIN_DIR`, which may also be a `sam build` output
/// directory (`.aws-sam/build-x86_64`: `ApiFunction/bootstrap`), to run the packaged binaries.
pub fn function_binary(name: &str) -> Result<PathBuf> {
    let dir = match std::env::var_os("LUCID_FUNCTION_BIN_DIR") {
        Some(d) => PathBuf::from(d),
        None => std::env::current_exe()?
            .parent()
            .and_then(Path::parent)
            .map(Path::to_owned)
            .context("locating the target directory")?,
    };
    let bin = dir.join(name);
    if bin.is_file() {
        return Ok(bin);
    }
    // template.yaml's logical id: lucid-api → ApiFunction.
    let short = name.strip_prefix("lucid-").unwrap_or(name);
    let mut logical: String = short.chars().take(1).flat_map(char::to_uppercase).collect();
    logical.push_str(short.get(1..).unwrap_or_default());
    let packaged = dir.join(format!("{logical}Function")).join("bootstrap");
    if packaged.is_file() {
        return Ok(packaged);
    }
    bail!(
        "{} not found: build the function binaries first (`cargo build --workspace --bins`, which \
         infra/test.sh runs) or set LUCID_FUNCTION_BIN_DIR",
        bin.display()
    )
}

/// A function's configuration: what template.yaml gives it.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    pub name: String,
    pub binary: PathBuf,
    pub memory_mb: u32,
    pub timeout: Duration,
    /// The function's own variables (template.yaml's `Environment`), on top of Lambda's.
    pub env: Vec<(String, String)>,
}

/// Figures from one execution environment.
#[derive(Debug, Clone, Copy)]
pub struct Measurements {
    /// Process start → first `GET …/invocation/next`.
    pub init: Duration,
    /// `VmHWM`: the peak resident set size, in KiB.
    pub peak_rss_kib: u64,
    /// Summed handler time of the invocations so far (event queued → outcome posted).
    pub busy: Duration,
    pub invocations: u32,
}

/// One running execution environment: the runtime API server and the function's process.
pub struct LambdaFunction {
    pub config: FunctionConfig,
    runtime: RuntimeApi,
    child: tokio::process::Child,
    started: Instant,
    log: PathBuf,
    busy: Duration,
    invocations: u32,
}

impl LambdaFunction {
    /// Starts the binary as Lambda's `provided.al2023` runtime does and waits for its first `next` call.
    pub async fn start(config: FunctionConfig, log_dir: &Path) -> Result<LambdaFunction> {
        let runtime = RuntimeApi::start(&config.name).await?;
        let log = log_dir.join(format!("{}.log", config.name));
        let out = std::fs::File::create(&log)?;
        let mut cmd = tokio::process::Command::new(&config.binary);
        cmd.env_clear()
            .envs(lambda_environment(&config, &runtime.address()))
            .envs(config.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(log_dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true);
        let started = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", config.binary.display()))?;
        let mut f = LambdaFunction {
            config,
            runtime,
            child,
            started,
            log,
            busy: Duration::ZERO,
            invocations: 0,
        };
        f.wait_for_init(Duration::from_secs(60)).await?;
        Ok(f)
    }

    async fn wait_for_init(&mut self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if self.runtime.first_next().is_some() {
                return Ok(());
            }
            if let Some(e) = self.runtime.init_error() {
                bail!("{}: init error {e}\n{}", self.config.name, self.log_tail());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited during init ({status})\n{}",
                    self.config.name,
                    self.log_tail()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{}: no `next` call within {limit:?}\n{}",
                    self.config.name,
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Invokes the function with `payload` and waits for its outcome (at most its timeout).
    pub async fn invoke(&mut self, payload: Value) -> Result<Outcome> {
        let t0 = Instant::now();
        let mut rx = self.runtime.enqueue(payload, self.config.timeout);
        let deadline = t0 + self.config.timeout;
        let outcome = loop {
            tokio::select! {
                got = &mut rx => break got.map_err(|_| anyhow!("{}: invocation dropped", self.config.name))?,
                _ = tokio::time::sleep(Duration::from_millis(50)) => {
                    if let Some(status) = self.child.try_wait()? {
                        bail!("{} exited during an invocation ({status})\n{}", self.config.name, self.log_tail());
                    }
                    if Instant::now() > deadline {
                        bail!("{}: timed out after {:?}\n{}", self.config.name, self.config.timeout, self.log_tail());
                    }
                }
            }
        };
        self.busy += t0.elapsed();
        self.invocations += 1;
        Ok(outcome)
    }

    /// Invokes and expects a response (not a function error).
    pub async fn call(&mut self, payload: Value) -> Result<Value> {
        match self.invoke(payload).await? {
            Outcome::Response(v) => Ok(v),
            Outcome::Error { error_type, body } => bail!(
                "{} failed ({error_type}): {body}\n{}",
                self.config.name,
                self.log_tail()
            ),
        }
    }

    /// Init time, peak RSS so far, and handler time.
    pub fn measurements(&self) -> Result<Measurements> {
        let init = self
            .runtime
            .first_next()
            .map(|t| t.duration_since(self.started))
            .context("the function never asked for an event")?;
        let pid = self.child.id().context("the function has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let peak_rss_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .context("VmHWM missing from /proc/<pid>/status")?;
        Ok(Measurements {
            init,
            peak_rss_kib,
            busy: self.busy,
            invocations: self.invocations,
        })
    }

    /// The last lines of the function's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(40);
        format!(
            "--- {} (last lines) ---\n{}",
            self.log.display(),
            lines[from..].join("\n")
        )
    }

    pub fn function_arn(&self) -> &str {
        self.runtime.function_arn()
    }

    /// The function process's id, while it runs (to read or reset its `/proc` counters).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

/// The variables Lambda sets for a `provided.al2023` function (credentials are the emulator's dummies).
fn lambda_environment(config: &FunctionConfig, runtime_api: &str) -> Vec<(String, String)> {
    let name = &config.name;
    [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            config.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("2026/11/28/[$LATEST]{}", uuid::Uuid::new_v4().simple()),
        ),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_DEFAULT_REGION", REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_SESSION_TOKEN", "test".to_owned()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("LAMBDA_TASK_ROOT", "/var/task".to_owned()),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("TZ", ":UTC".to_owned()),
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// An API Gateway HTTP API (payload format 2.0) event for `ANY /{proxy+}`, as API Gateway sends it to the
/// function. Non-UTF-8 bodies are base64-encoded.
pub fn apigw_v2_event(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Value {
    use base64::Engine as _;
    let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
    let mut h = serde_json::Map::new();
    h.insert(
        "host".into(),
        json!("abcdef1234.execute-api.us-east-1.amazonaws.com"),
    );
    h.insert("content-length".into(), json!(body.len().to_string()));
    h.insert("x-forwarded-proto".into(), json!("https"));
    h.insert("x-forwarded-port".into(), json!("443"));
    h.insert("x-amzn-trace-id".into(), json!(trace_id()));
    for (k, v) in headers {
        h.insert(k.to_ascii_lowercase(), json!(v));
    }
    let (body, b64) = match std::str::from_utf8(body) {
        Ok(s) => (s.to_owned(), false),
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };
    let now = epoch_ms();
    json!({
        "version": "2.0",
        "routeKey": "ANY /{proxy+}",
        "rawPath": path_only,
        "rawQueryString": query,
        "headers": h,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abcdef1234",
            "http": {
                "method": method,
                "path": path_only,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "lucid-tests"
            },
            "requestId": uuid::Uuid::new_v4().simple().to_string(),
            "routeKey": "ANY /{proxy+}",
            "stage": "$default",
            "time": "28/Nov/2026:12:00:00 +0000",
            "timeEpoch": now as u64
        },
        "pathParameters": {"proxy": path_only.trim_start_matches('/')},
        "isBase64Encoded": b64,
        "body": body
    })
}

/// An API Gateway v2 response as the function returned it: status and decoded body.
pub fn apigw_v2_response(resp: &Value) -> Result<(u16, Vec<u8>)> {
    use base64::Engine as _;
    let status = resp["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .context("statusCode")?;
    let body = resp["body"].as_str().unwrap_or_default();
    let body = if resp["isBase64Encoded"] == json!(true) {
        base64::engine::general_purpose::STANDARD.decode(body)?
    } else {
        body.as_bytes().to_vec()
    };
    Ok((status, body))
}

/// Lambda's SQS event for received messages (what an SQS event source mapping hands the function),
/// built from messages received with all system attributes.
pub fn sqs_event(queue_arn: &str, messages: &[aws_sdk_sqs::types::Message]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, Value> = m
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_owned(), json!(v)))
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "messageId": m.message_id().unwrap_or_default(),
                "receiptHandle": m.receipt_handle().unwrap_or_default(),
                "body": m.body().unwrap_or_default(),
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": m.md5_of_body().unwrap_or_default(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION
            })
        })
        .collect();
    json!({ "Records": records })
}
