//! The test harness every test uses: real PostgreSQL and a real S3/SQS emulator, isolated per test.
//!
//! - PostgreSQL: `DATABASE_URL` when set (its server is used to create databases); otherwise one throwaway
//!   cluster per test process, started from the system's `initdb`/`pg_ctl` on a free loopback port. Each
//!   test gets a fresh database, so tests run in parallel.
//! - S3/SQS: moto's server (`moto[server]` from PyPI), one per test process on a free loopback port. Each
//!   test uses its own bucket and queue names. A missing moto is an error with instructions, never a skip.
//!
//! - Lambda: [`lambda`] runs the real function binaries as Lambda does, against a local Runtime API.
//!
//! Throwaway servers are stopped by a watchdog process when the test process exits, however it exits.

pub mod faults;
pub mod fixtures;
pub mod hostile;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub mod images;
pub mod lambda;
pub mod notify;
pub mod webhook;

use anyhow::{Context, Result, anyhow, bail};
use lucid::store::Database;
use lucid::store::cluster::{Listen, LocalCluster};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// A free TCP port on 127.0.0.1 (bound then released; fine for test servers).
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Starts a detached shell that runs `cleanup` once this process has exited.
fn cleanup_on_exit(cleanup: &str) -> Result<()> {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {cleanup}",
        pid = std::process::id()
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the cleanup watchdog")?;
    Ok(())
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

/// The PostgreSQL server tests create their databases on.
struct PgServer {
    /// URL of a maintenance database on the server.
    admin_url: String,
    /// Base URL to which a database name is appended.
    base: url::Url,
}

fn pg_server() -> Result<&'static PgServer> {
    static SERVER: OnceLock<std::result::Result<PgServer, String>> = OnceLock::new();
    SERVER
        .get_or_init(|| start_pg_server().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("test PostgreSQL unavailable: {e}"))
}

fn start_pg_server() -> Result<PgServer> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        let base = url::Url::parse(&url).context("DATABASE_URL is not a URL")?;
        return Ok(PgServer {
            admin_url: url,
            base,
        });
    }
    let dir = tempfile::Builder::new()
        .prefix("lucid-test-pg-")
        .tempdir()
        .context("creating a directory for the test cluster")?
        .keep();
    // The postgres user must be able to enter it when we are root.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let port = free_port()?;
    let cluster = LocalCluster::new(&dir, Listen::Tcp { port })?;
    cluster.init()?;
    cluster.start()?;
    let stop = format!(
        "{} ; rm -rf {}",
        cluster.stop_command_line(false),
        shell_quote(&dir)
    );
    cleanup_on_exit(&stop)?;
    let admin_url = cluster.connection_string("postgres");
    let base = url::Url::parse(&admin_url)?;
    Ok(PgServer { admin_url, base })
}

/// A fresh, empty database for one test.
#[derive(Debug, Clone)]
pub struct TestDb {
    pub name: String,
    pub url: String,
}

/// Creates a fresh database (not migrated).
pub async fn fresh_database() -> Result<TestDb> {
    let server = pg_server()?;
    let name = format!("lucid_t_{}", uuid::Uuid::new_v4().simple());
    let (client, conn) = tokio_postgres::connect(&server.admin_url, tokio_postgres::NoTls)
        .await
        .map_err(|e| {
            anyhow!(
                "connecting to the test server: {}",
                lucid::store::describe(&e)
            )
        })?;
    let conn = tokio::spawn(conn);
    client
        .simple_query(&format!("CREATE DATABASE {name}"))
        .await
        .map_err(|e| anyhow!("CREATE DATABASE: {}", lucid::store::describe(&e)))?;
    drop(client);
    let _ = conn.await;
    let mut url = server.base.clone();
    url.set_path(&format!("/{name}"));
    Ok(TestDb {
        name,
        url: url.to_string(),
    })
}

/// A fresh database, connected and migrated.
pub async fn database() -> Result<Database> {
    let db = fresh_database().await?;
    let database = Database::connect(&db.url, 4, Duration::from_secs(10)).await?;
    database.migrate().await?;
    Ok(database)
}

/// The S3/SQS emulator for this test process.
#[derive(Debug)]
pub struct Moto {
    pub endpoint: String,
}

/// Finds moto's server: `LUCID_MOTO_SERVER`, the repository's `.venv-moto`, or `moto_server` on PATH.
fn moto_binary() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("LUCID_MOTO_SERVER") {
        return Ok(PathBuf::from(p));
    }
    let local = repo_root().join(".venv-moto/bin/moto_server");
    if local.is_file() {
        return Ok(local);
    }
    if let Some(path) = std::env::var_os("PATH")
        && let Some(found) = std::env::split_paths(&path)
            .map(|d| d.join("moto_server"))
            .find(|p| p.is_file())
    {
        return Ok(found);
    }
    bail!(
        "moto's server was not found. Install it with \
         `python3 -m venv .venv-moto && .venv-moto/bin/pip install 'moto[server]'` \
         (the repository's .ci/run does this) or set LUCID_MOTO_SERVER"
    )
}

pub fn moto() -> Result<&'static Moto> {
    static MOTO: OnceLock<std::result::Result<Moto, String>> = OnceLock::new();
    MOTO.get_or_init(|| start_moto().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("S3/SQS emulator unavailable: {e}"))
}

fn start_moto() -> Result<Moto> {
    let bin = moto_binary()?;
    let port = free_port()?;
    let child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    cleanup_on_exit(&format!("kill {}", child.id()))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(Moto {
                endpoint: format!("http://127.0.0.1:{port}"),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("moto did not listen on port {port} within 30 s")
}

impl Moto {
    /// SDK configuration for the emulator (dummy credentials, us-east-1).
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
                aws_sdk_s3::config::Credentials::new("test", "test", None, None, "lucid-tests"),
            ))
            .build()
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        lucid::aws::s3_client(&self.sdk_config(), true)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        lucid::aws::sqs_client(&self.sdk_config())
    }

    /// Creates a bucket with a unique name.
    pub async fn bucket(&self) -> Result<String> {
        let name = format!("lucid-{}", uuid::Uuid::new_v4().simple());
        self.s3().create_bucket().bucket(&name).send().await?;
        Ok(name)
    }

    /// Creates a queue with a unique name and the given attributes; returns its URL.
    pub async fn queue(&self, attributes: &[(&str, &str)]) -> Result<String> {
        let name = format!("lucid-{}", uuid::Uuid::new_v4().simple());
        let mut req = self.sqs().create_queue().queue_name(&name);
        for (k, v) in attributes {
            req = req.attributes(aws_sdk_sqs::types::QueueAttributeName::from(*k), *v);
        }
        let out = req.send().await?;
        out.queue_url
            .ok_or_else(|| anyhow!("create_queue returned no URL"))
    }

    /// A queue's ARN.
    pub async fn queue_arn(&self, url: &str) -> Result<String> {
        use aws_sdk_sqs::types::QueueAttributeName;
        self.sqs()
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await?
            .attributes
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .ok_or_else(|| anyhow!("{url} has no QueueArn"))
    }

    /// Makes `bucket` notify the queue `queue_arn` of every created object (under `prefix`, if given), as
    /// template.yaml configures the layer bucket. Returns the queue's ARN.
    pub async fn notify_on_create(
        &self,
        bucket: &str,
        queue_url: &str,
        prefix: Option<&str>,
    ) -> Result<String> {
        use aws_sdk_s3::types::{
            Event, FilterRule, FilterRuleName, NotificationConfiguration,
            NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
        };
        let arn = self.queue_arn(queue_url).await?;
        let mut queue = QueueConfiguration::builder()
            .queue_arn(&arn)
            .events(Event::S3ObjectCreated);
        if let Some(prefix) = prefix {
            let rule = FilterRule::builder()
                .name(FilterRuleName::Prefix)
                .value(prefix)
                .build();
            queue = queue.filter(
                NotificationConfigurationFilter::builder()
                    .key(S3KeyFilter::builder().filter_rules(rule).build())
                    .build(),
            );
        }
        self.s3()
            .put_bucket_notification_configuration()
            .bucket(bucket)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .queue_configurations(queue.build()?)
                    .build(),
            )
            .send()
            .await?;
        Ok(arn)
    }
}

/// Uploads each blob to its `pending_layers` entry's presigned URL with the entry's headers, with a plain
/// HTTP client as a CI job would with curl. `pending` and `blobs` are in the same order.
pub async fn upload_pending(pending: &[serde_json::Value], blobs: &[&[u8]]) -> Result<()> {
    let http = reqwest::Client::new();
    for (p, blob) in pending.iter().zip(blobs) {
        let url = p["upload"]["url"]
            .as_str()
            .ok_or_else(|| anyhow!("no upload URL in {p}"))?;
        let mut req = http.put(url).body(blob.to_vec());
        if let Some(headers) = p["upload"]["headers"].as_object() {
            for (k, v) in headers {
                req = req.header(k, v.as_str().unwrap_or_default());
            }
        }
        let resp = req.send().await?;
        if !resp.status().is_success() {
            bail!("upload to {url}: {}", resp.status());
        }
    }
    Ok(())
}

/// Serves `blob` to every GET on a loopback port, as a registry serves a layer; answers the base URL
/// (`http://127.0.0.1:PORT`). The server lives as long as the test's runtime.
pub async fn blob_server(blob: Vec<u8>) -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let blob = bytes::Bytes::from(blob);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let blob = blob.clone();
            let svc =
                hyper::service::service_fn(move |_req: hyper::Request<hyper::body::Incoming>| {
                    let blob = blob.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(
                            http_body_util::Full::new(blob),
                        ))
                    }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc),
            );
        }
    });
    Ok(format!("http://127.0.0.1:{port}"))
}

/// The resident set size of this process in bytes (Linux `/proc/self/statm`).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(0) as u64;
    pages * page
}

/// A Lambda function binary set up as the Lambda runtime starts it (the three variables lambda_runtime
/// requires, a Runtime API address nothing listens on), with no database configured.
pub fn lambda_bootstrap(binary: &str, function_name: &str) -> Command {
    let mut c = Command::new(binary);
    c.env_remove("DATABASE_URL")
        .env_remove("LUCID_DATABASE_SECRET_ARN")
        .env("AWS_LAMBDA_FUNCTION_NAME", function_name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9");
    c
}

/// Asserts a process failed with exactly one stderr line containing `needle`, and no panic.
/// Points every public feed at the discard port of the loopback address, where nothing listens: each
/// fetch fails at once, as on a machine with no network.
pub fn unreachable_feeds(command: &mut Command) -> &mut Command {
    for mirror in [
        "OSV",
        "ALPINE",
        "UBUNTU",
        "DEBIAN_TRACKER",
        "RHEL_OVAL",
        "RHEL_VEX",
        "WOLFI",
        "CHAINGUARD",
        "NVD",
        "KEV",
        "EPSS",
    ] {
        command.env(format!("LUCID_FEED_MIRROR_{mirror}"), "http://127.0.0.1:9");
    }
    command
}

/// Asserts a command's exit code, showing its output when it differs.
pub fn assert_exit(out: &std::process::Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn assert_one_line_failure(out: &std::process::Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(needle), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// The statements of migration files in `infra/migrations` that rewrite or copy existing rows (their
/// `UPDATE`s and `INSERT`s), in order, as a database from before those migrations ran them: tests check a
/// backfill against what the code writes.
pub fn backfill_statements(files: &[&str]) -> Vec<String> {
    files
        .iter()
        .flat_map(|file| {
            let path = repo_root().join("infra/migrations").join(file);
            let sql = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let code: String = sql
                .lines()
                .filter(|line| !line.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            code.split(';')
                .map(str::trim)
                .filter(|statement| {
                    statement.starts_with("UPDATE") || statement.starts_with("INSERT")
                })
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// SQL putting the vulnerability records back where they were before migration V7 (in a `record` column of
/// `vulnerability`, `vulnerability_record` empty), for the backfill tests; they drop the column again.
pub const RECORDS_BEFORE_V7: &str = "ALTER TABLE vulnerability ADD COLUMN record JSONB;
    UPDATE vulnerability v SET record = r.record
        FROM vulnerability_record r WHERE r.vulnerability_id = v.id;
    DELETE FROM vulnerability_record;";
