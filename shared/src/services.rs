//! Wiring: from a [`Config`] to connected services (database, blob store, queues), the same way for every
//! binary. Functions require a configured database; the CLI falls back to the embedded default.

use std::sync::Arc;
use std::time::Duration;

use crate::blob::{BlobStore, DirBlobStore, S3BlobStore};
use crate::config::{BlobConfig, Config, ConfigError, QueueConfig};
use crate::embedded::{EmbeddedError, EmbeddedPostgres};
use crate::queue::{MemoryQueue, Queue, SqsQueue};
use crate::store::{Database, StoreError};

/// Why start-up failed. Each variant displays as one line that says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("embedded PostgreSQL: {0}")]
    Embedded(#[from] EmbeddedError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Everything a handler needs, built once per process (once per Lambda execution environment).
pub struct Services {
    pub config: Config,
    pub db: Database,
    pub blobs: Arc<dyn BlobStore>,
    /// Layer fetch jobs (registry → blob store).
    pub fetch_queue: Arc<dyn Queue>,
    /// Feed diffs for the notifier.
    pub notify_queue: Arc<dyn Queue>,
    embedded: Option<EmbeddedPostgres>,
}

/// Visibility timeout of in-process queues, matching the SQS queues of the deployment.
const LOCAL_VISIBILITY: Duration = Duration::from_secs(300);

impl Services {
    /// A Lambda function's start: the configuration from the environment, then [`Services::for_function`].
    /// `None` after printing the reason as one line prefixed by `function` (the runtime then reports an
    /// init error).
    pub async fn start_function(function: &str) -> Option<Services> {
        let started = match Config::from_env() {
            Ok(config) => Services::for_function(config).await,
            Err(e) => Err(e.into()),
        };
        started.map_err(|e| eprintln!("{function}: {e}")).ok()
    }

    /// Whether the notify queue lives in this process (the embedded default): its messages are gone when
    /// the process exits, so a one-shot command that queues diffs must handle them itself.
    pub fn notify_queue_is_in_process(&self) -> bool {
        match &self.config.queues {
            QueueConfig::InProcess => true,
            QueueConfig::Sqs {
                notify_queue_url, ..
            } => notify_queue_url.is_none(),
        }
    }

    /// For the Lambda functions: `DATABASE_URL` (or the secret named by `LUCID_DATABASE_SECRET_ARN`) is
    /// required; migrations are applied (idempotently).
    pub async fn for_function(config: Config) -> Result<Services, StartError> {
        let url = match (&config.database_url, &config.database_secret_arn) {
            (Some(url), _) => url.clone(),
            (None, Some(arn)) => resolve_database_secret(&config, arn).await?,
            (None, None) => config.require_database_url()?.to_owned(),
        };
        Self::build(config, url, None).await
    }

    /// For the CLI and `lucid serve`: `DATABASE_URL` (or its secret) when set, else the embedded PostgreSQL.
    pub async fn for_local(config: Config) -> Result<Services, StartError> {
        match config.database_url.clone() {
            Some(url) => Self::build(config, url, None).await,
            None if config.database_secret_arn.is_some() => Self::for_function(config).await,
            None => {
                let embedded = EmbeddedPostgres::start(&config.home).await?;
                let url = embedded.database_url();
                Self::build(config, url, Some(embedded)).await
            }
        }
    }

    async fn build(
        config: Config,
        url: String,
        embedded: Option<EmbeddedPostgres>,
    ) -> Result<Services, StartError> {
        let db = Database::connect(&url, config.db_pool_size, config.db_connect_timeout).await?;
        db.migrate().await?;
        let needs_aws = matches!(config.blobs, BlobConfig::S3 { .. })
            || matches!(config.queues, QueueConfig::Sqs { .. });
        let sdk = if needs_aws {
            Some(crate::aws::sdk_config(&config).await)
        } else {
            None
        };
        let blobs: Arc<dyn BlobStore> = match (&config.blobs, &sdk) {
            (BlobConfig::S3 { bucket }, Some(sdk)) => Arc::new(S3BlobStore::new(
                crate::aws::s3_client(sdk, config.s3_force_path_style),
                bucket.clone(),
            )),
            (BlobConfig::Dir { path }, _) => Arc::new(DirBlobStore::new(path.clone())),
            (BlobConfig::S3 { .. }, None) => unreachable_config()?,
        };
        let (fetch_queue, notify_queue): (Arc<dyn Queue>, Arc<dyn Queue>) =
            match (&config.queues, &sdk) {
                (
                    QueueConfig::Sqs {
                        fetch_queue_url,
                        notify_queue_url,
                    },
                    Some(sdk),
                ) => {
                    let client = crate::aws::sqs_client(sdk);
                    (
                        sqs_or_local(&client, fetch_queue_url.as_deref(), "fetch"),
                        sqs_or_local(&client, notify_queue_url.as_deref(), "notify"),
                    )
                }
                _ => (
                    Arc::new(MemoryQueue::new("fetch", LOCAL_VISIBILITY)),
                    Arc::new(MemoryQueue::new("notify", LOCAL_VISIBILITY)),
                ),
            };
        Ok(Services {
            config,
            db,
            blobs,
            fetch_queue,
            notify_queue,
            embedded,
        })
    }

    /// The indexer over these services. With S3 the bucket's notifications trigger indexing, so fetch jobs
    /// only store blobs; with a local directory they index what they stored.
    pub fn indexer(&self) -> crate::indexer::Indexer {
        crate::indexer::Indexer::new(self.db.clone(), self.blobs.clone())
            .with_index_after_fetch(matches!(self.config.blobs, BlobConfig::Dir { .. }))
    }

    /// Where the database is, for status output.
    pub fn database_description(&self) -> String {
        match &self.embedded {
            Some(e) => format!("embedded PostgreSQL in {}", e.cluster().dir().display()),
            None => "PostgreSQL at DATABASE_URL".to_owned(),
        }
    }

    /// Releases the embedded server (stopping it when this was its last user).
    pub async fn shutdown(self) -> Result<(), StartError> {
        drop(self.db);
        if let Some(e) = self.embedded {
            e.shutdown().await?;
        }
        Ok(())
    }
}

/// Fetches the database secret and turns it into a URL.
/// `LUCID_DATABASE_HOST`, when set, replaces the secret's host: the deployment points functions at an RDS
/// Proxy endpoint while the secret (shared with the proxy) names the cluster.
pub async fn resolve_database_secret(config: &Config, arn: &str) -> Result<String, StartError> {
    let sdk = crate::aws::sdk_config(config).await;
    let url = resolve_database_secret_with(&aws_sdk_secretsmanager::Client::new(&sdk), arn).await?;
    match &config.database_host {
        Some(host) => Ok(crate::config::with_host(&url, host)?),
        None => Ok(url),
    }
}

/// As [`resolve_database_secret`], with a given client (tests point it at the emulator).
pub async fn resolve_database_secret_with(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
) -> Result<String, StartError> {
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| ConfigError {
            variable: "LUCID_DATABASE_SECRET_ARN",
            problem: format!("reading the secret: {}", crate::aws::describe_sdk_error(&e)),
        })?;
    let secret = out.secret_string.ok_or_else(|| ConfigError {
        variable: "LUCID_DATABASE_SECRET_ARN",
        problem: "the secret has no string value".into(),
    })?;
    Ok(crate::config::database_url_from_secret(&secret)?)
}

fn sqs_or_local(client: &aws_sdk_sqs::Client, url: Option<&str>, name: &str) -> Arc<dyn Queue> {
    match url {
        Some(u) => Arc::new(SqsQueue::new(client.clone(), u)),
        None => Arc::new(MemoryQueue::new(name, LOCAL_VISIBILITY)),
    }
}

/// The SDK config is loaded whenever S3 is configured, so this cannot happen; kept as an error, not a panic.
fn unreachable_config<T>() -> Result<T, StartError> {
    Err(StartError::Config(ConfigError {
        variable: "LUCID_BUCKET",
        problem: "S3 configured but the AWS SDK was not initialised".into(),
    }))
}

/// A Lambda function's exit code once its runtime loop ends: failure (with the reason printed, prefixed by
/// `function`) when the runtime gave up.
pub fn function_exit<E: std::fmt::Display>(
    function: &str,
    ran: Result<(), E>,
) -> std::process::ExitCode {
    match ran {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{function}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
