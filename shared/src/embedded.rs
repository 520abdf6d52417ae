//! The embedded default: with no `DATABASE_URL`, `lucid` runs its own PostgreSQL from the system's
//! binaries under `LUCID_HOME/pg`, listening only on a private Unix socket, and reuses it on later runs.
//!
//! Several `lucid` processes may share the server. Each holds a shared lock on `LUCID_HOME/pg.users` while
//! it uses the server; the last one out (the one that can take the lock exclusively) stops it cleanly.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::store::cluster::{ClusterError, Listen, LocalCluster};
use crate::store::{StoreError, describe};

/// The database the embedded server holds Lucid's data in.
pub const DATABASE: &str = "lucid";

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A running embedded server that this process is using.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    cluster: LocalCluster,
    users_lock: File,
    started_here: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EmbeddedError + '_ {
    move |source| EmbeddedError::Io {
        path: path.to_owned(),
        source,
    }
}

fn open_lock(path: &Path) -> Result<File, EmbeddedError> {
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io(path))
}

/// `flock(2)`; `Ok(false)` when `nonblocking` and the lock is held elsewhere.
fn flock(file: &File, op: libc::c_int, nonblocking: bool) -> std::io::Result<bool> {
    let op = if nonblocking { op | libc::LOCK_NB } else { op };
    loop {
        // SAFETY: flock on a valid, open file descriptor.
        let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
        if rc == 0 {
            return Ok(true);
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) if nonblocking => return Ok(false),
            _ => return Err(err),
        }
    }
}

impl EmbeddedPostgres {
    /// Initialises (first run) and starts (if not already running) the server under `home`, and makes sure
    /// the `lucid` database exists.
    pub async fn start(home: &Path) -> Result<EmbeddedPostgres, EmbeddedError> {
        let home = home.to_owned();
        let this = tokio::task::spawn_blocking(move || Self::start_blocking(&home))
            .await
            .map_err(|e| EmbeddedError::Io {
                path: PathBuf::new(),
                source: std::io::Error::other(e),
            })??;
        this.ensure_database().await?;
        Ok(this)
    }

    fn start_blocking(home: &Path) -> Result<EmbeddedPostgres, EmbeddedError> {
        std::fs::create_dir_all(home).map_err(io(home))?;
        // Serialize start-up between processes; then hold a shared "in use" lock.
        let start_path = home.join("pg.start");
        let start_lock = open_lock(&start_path)?;
        flock(&start_lock, libc::LOCK_EX, false).map_err(io(&start_path))?;
        let users_path = home.join("pg.users");
        let users_lock = open_lock(&users_path)?;
        flock(&users_lock, libc::LOCK_SH, false).map_err(io(&users_path))?;

        let cluster = LocalCluster::new(home.join("pg"), Listen::SocketOnly)?;
        cluster.init()?;
        let started_here = if cluster.is_running() {
            false
        } else {
            cluster.start()?;
            true
        };
        drop(start_lock);
        Ok(EmbeddedPostgres {
            cluster,
            users_lock,
            started_here,
        })
    }

    async fn ensure_database(&self) -> Result<(), EmbeddedError> {
        let (client, conn) = tokio_postgres::connect(
            &self.cluster.connection_string("postgres"),
            tokio_postgres::NoTls,
        )
        .await
        .map_err(|e| StoreError::Unreachable(describe(&e)))?;
        let conn = tokio::spawn(conn);
        let exists = client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&DATABASE])
            .await
            .map_err(StoreError::from)?
            .is_some();
        if !exists {
            match client
                .simple_query(&format!("CREATE DATABASE {DATABASE}"))
                .await
            {
                Ok(_) => {}
                // Another process created it between our check and our CREATE.
                Err(e)
                    if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {}
                Err(e) => return Err(StoreError::from(e).into()),
            }
        }
        drop(client);
        let _ = conn.await;
        Ok(())
    }

    /// The connection string for the `lucid` database.
    pub fn database_url(&self) -> String {
        self.cluster.connection_string(DATABASE)
    }

    /// Whether this process started the server (false when it reused a running one).
    pub fn started_here(&self) -> bool {
        self.started_here
    }

    pub fn cluster(&self) -> &LocalCluster {
        &self.cluster
    }

    /// Stops using the server; stops the server itself when no other `lucid` process is using it.
    /// Returns whether the server was stopped.
    pub async fn shutdown(self) -> Result<bool, EmbeddedError> {
        tokio::task::spawn_blocking(move || {
            let home = self
                .cluster
                .dir()
                .parent()
                .map(Path::to_owned)
                .unwrap_or_default();
            let start_path = home.join("pg.start");
            let start_lock = open_lock(&start_path)?;
            flock(&start_lock, libc::LOCK_EX, false).map_err(io(&start_path))?;
            // Upgrade our shared lock: succeeds only when no other process holds it.
            let last = flock(&self.users_lock, libc::LOCK_EX, true).map_err(io(&home))?;
            if last && self.cluster.is_running() {
                self.cluster.stop(true)?;
                return Ok(true);
            }
            Ok(false)
        })
        .await
        .map_err(|e| EmbeddedError::Io {
            path: PathBuf::new(),
            source: std::io::Error::other(e),
        })?
    }
}
