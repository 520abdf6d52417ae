//! PostgreSQL: the connection pool, embedded migrations, and the stores built on them.
//!
//! Invariant: every binary calls [`Database::connect`] then [`Database::migrate`] at start; migrations are
//! serialized by an advisory lock, so any number of cold-starting functions converge on one schema.

pub mod cluster;
pub mod index;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

mod embedded {
    refinery::embed_migrations!("../infra/migrations");
}

/// How long [`Database::migrate`] fills what migrations queued, at most (and one batch at least): it runs
/// under the migration lock at every function's start, within a Lambda's 10 s of initialization.
const FILL_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

/// Advisory lock key held while migrating ("lucid-mi" in ASCII).
const MIGRATION_LOCK: i64 = 0x6c75_6369_642d_6d69;

/// A database failure, with PostgreSQL's own message (tokio-postgres alone displays only "db error").
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unreachable: {0}")]
    Unreachable(String),
    #[error("database error: {0}")]
    Postgres(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        StoreError::Postgres(describe(&e))
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => StoreError::Unreachable(describe(&e)),
            other => StoreError::Unreachable(other.to_string()),
        }
    }
}

/// PostgreSQL's message for a server error, the source chain otherwise.
pub fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    crate::error_chain(e)
}

/// The connection pool every store shares.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
}

impl Database {
    /// Builds a pool of `pool_size` connections and checks that the database answers within `timeout`.
    pub async fn connect(
        url: &str,
        pool_size: usize,
        timeout: Duration,
    ) -> Result<Database, StoreError> {
        let mut pg: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| StoreError::Unreachable(describe(&e)))?;
        pg.connect_timeout(timeout);
        if pg.get_application_name().is_none() {
            pg.application_name("lucid");
        }
        let manager = Manager::from_config(
            pg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(timeout * 6))
            .create_timeout(Some(timeout))
            .build()
            .map_err(|e| StoreError::Unreachable(e.to_string()))?;
        let db = Database { pool };
        db.ping().await?;
        Ok(db)
    }

    /// One round trip, to prove the database is reachable (readiness checks use it).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client.simple_query("SELECT 1").await?;
        Ok(())
    }

    /// A pooled connection.
    pub async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// Applies the embedded migrations (from `infra/migrations`) under an advisory lock. Concurrent callers
    /// wait for the first one; a second run is a no-op. Then fills what a migration queued for Rust to
    /// compute ([`fill_version_bounds`](crate::feeds::store::fill_version_bounds); one empty query when
    /// nothing is queued). Returns the names of migrations applied now.
    pub async fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut obj = self.pool.get().await?;
        let client: &mut tokio_postgres::Client = &mut obj;
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        let result = match embedded::migrations::runner().run_async(client).await {
            Ok(report) => crate::feeds::store::fill_version_bounds(client, FILL_BUDGET)
                .await
                .map(|(filled, left)| {
                    if filled > 0 {
                        tracing::info!(
                            rows = filled,
                            more_left = left,
                            "filled the version bounds of stored records"
                        );
                    }
                    report
                }),
            Err(e) => Err(StoreError::Migration(e.to_string())),
        };
        // Unlock even when migrating failed; a lost connection releases the lock anyway.
        let unlock = client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await;
        let report = result?;
        unlock?;
        Ok(report
            .applied_migrations()
            .iter()
            .map(|m| m.to_string())
            .collect())
    }

    /// The newest migration version the database has.
    pub async fn schema_version(&self) -> Result<Option<i32>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT max(version) FROM refinery_schema_history", &[])
            .await?;
        Ok(row.and_then(|r| r.get::<_, Option<i32>>(0)))
    }
}
