//! A PostgreSQL cluster run from the system's own binaries (`initdb`, `pg_ctl`).
//!
//! Used by the embedded default (`lucid` with no `DATABASE_URL`) and by the test harness. PostgreSQL refuses
//! to run as root, so when we are root the binaries run as the `postgres` user through `runuser`, and the
//! data directory is handed to that user.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Why the local cluster could not be prepared or started.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found; install PostgreSQL (Debian: \
         `apt-get install postgresql`) or set LUCID_PG_BIN to their directory"
    )]
    BinariesNotFound,
    #[error(
        "running as root, but there is no `postgres` user to run PostgreSQL as (initdb refuses root)"
    )]
    NoPostgresUser,
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// How the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// Loopback TCP on this port, plus a socket in the socket directory.
    Tcp { port: u16 },
    /// Only a Unix socket in the socket directory (private to the user; the port only names the socket file).
    SocketOnly,
}

/// A cluster in `dir` (`dir/data` for the data, `dir/run` for the socket, `dir/server.log` for the log).
#[derive(Debug, Clone)]
pub struct LocalCluster {
    bin_dir: PathBuf,
    dir: PathBuf,
    listen: Listen,
    as_postgres_user: Option<(u32, u32)>,
}

const SOCKET_PORT: u16 = 5432;

impl LocalCluster {
    /// Describes a cluster living in `dir`; nothing is created until [`LocalCluster::init`].
    pub fn new(dir: impl Into<PathBuf>, listen: Listen) -> Result<LocalCluster, ClusterError> {
        let bin_dir = find_bin_dir().ok_or(ClusterError::BinariesNotFound)?;
        // SAFETY: geteuid has no preconditions.
        let as_postgres_user = if unsafe { libc::geteuid() } == 0 {
            Some(postgres_uid_gid().ok_or(ClusterError::NoPostgresUser)?)
        } else {
            None
        };
        Ok(LocalCluster {
            bin_dir,
            dir: dir.into(),
            listen,
            as_postgres_user,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn socket_dir(&self) -> PathBuf {
        self.dir.join("run")
    }

    /// True when the data directory holds an initialised cluster.
    pub fn is_initialized(&self) -> bool {
        self.data_dir().join("PG_VERSION").is_file()
    }

    /// Creates the cluster (trust auth for local connections, UTF-8, superuser `postgres`) unless it exists.
    pub fn init(&self) -> Result<(), ClusterError> {
        if self.is_initialized() {
            return Ok(());
        }
        for d in [&self.dir, &self.socket_dir()] {
            std::fs::create_dir_all(d).map_err(|source| ClusterError::Io {
                path: d.clone(),
                source,
            })?;
            self.hand_over(d)?;
        }
        let data = self.data_dir();
        self.run(
            "initdb",
            [
                OsStr::new("-D"),
                data.as_os_str(),
                OsStr::new("-U"),
                OsStr::new("postgres"),
                OsStr::new("-A"),
                OsStr::new("trust"),
                OsStr::new("-E"),
                OsStr::new("UTF8"),
                OsStr::new("--no-locale"),
                OsStr::new("--no-sync"),
            ],
        )?;
        Ok(())
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&self) -> Result<(), ClusterError> {
        let mut opts = format!(
            "-k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            self.socket_dir().display()
        );
        match self.listen {
            Listen::Tcp { port } => {
                opts.push_str(&format!(" -c listen_addresses=127.0.0.1 -p {port}"))
            }
            Listen::SocketOnly => opts.push_str(&format!(" -c listen_addresses= -p {SOCKET_PORT}")),
        }
        let data = self.data_dir();
        let log = self.dir.join("server.log");
        self.run(
            "pg_ctl",
            [
                OsStr::new("-D"),
                data.as_os_str(),
                OsStr::new("-l"),
                log.as_os_str(),
                OsStr::new("-w"),
                OsStr::new("-t"),
                OsStr::new("60"),
                OsStr::new("-o"),
                OsStr::new(&opts),
                OsStr::new("start"),
            ],
        )
        .map_err(|e| match e {
            ClusterError::Command { what, detail } => ClusterError::Command {
                what,
                detail: format!(
                    "{detail}; server log: {}",
                    tail(&std::fs::read_to_string(&log).unwrap_or_default())
                ),
            },
            other => other,
        })?;
        Ok(())
    }

    /// True when a server is running on this data directory.
    pub fn is_running(&self) -> bool {
        if !self.is_initialized() {
            return false;
        }
        let data = self.data_dir();
        self.command(
            "pg_ctl",
            [OsStr::new("-D"), data.as_os_str(), OsStr::new("status")],
        )
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
    }

    /// Stops the server: `fast` waits for a clean shutdown, otherwise `immediate`.
    pub fn stop(&self, fast: bool) -> Result<(), ClusterError> {
        let data = self.data_dir();
        let mode = if fast { "fast" } else { "immediate" };
        self.run(
            "pg_ctl",
            [
                OsStr::new("-D"),
                data.as_os_str(),
                OsStr::new("-m"),
                OsStr::new(mode),
                OsStr::new("-w"),
                OsStr::new("stop"),
            ],
        )
    }

    /// A shell command line that stops the server (for watchdogs that outlive this process).
    pub fn stop_command_line(&self, fast: bool) -> String {
        let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "'\\''"));
        let mode = if fast { "fast" } else { "immediate" };
        let prefix = if self.as_postgres_user.is_some() {
            "runuser -u postgres -- "
        } else {
            ""
        };
        format!(
            "{prefix}{} -D {} -m {mode} -w stop",
            quote(&self.bin_dir.join("pg_ctl")),
            quote(&self.data_dir())
        )
    }

    /// A connection string for database `dbname` (libpq key/value form, understood by tokio-postgres).
    pub fn connection_string(&self, dbname: &str) -> String {
        match self.listen {
            Listen::Tcp { port } => format!("postgres://postgres@127.0.0.1:{port}/{dbname}"),
            Listen::SocketOnly => format!(
                "host={} port={SOCKET_PORT} user=postgres dbname={dbname}",
                self.socket_dir().display()
            ),
        }
    }

    /// Gives `path` to the `postgres` user when running as root.
    fn hand_over(&self, path: &Path) -> Result<(), ClusterError> {
        if let Some((uid, gid)) = self.as_postgres_user {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|source| {
                ClusterError::Io {
                    path: path.to_owned(),
                    source,
                }
            })?;
        }
        Ok(())
    }

    fn command<I, S>(&self, program: &str, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let exe = self.bin_dir.join(program);
        let mut cmd = if self.as_postgres_user.is_some() {
            let mut c = Command::new("runuser");
            c.args([OsStr::new("-u"), OsStr::new("postgres"), OsStr::new("--")])
                .arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args);
        // Run from a directory the postgres user can read, and keep the caller's locale out of it.
        cmd.current_dir("/").env("LC_ALL", "C").env_remove("PGDATA");
        cmd
    }

    fn run<I, S>(&self, program: &str, args: I) -> Result<(), ClusterError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out: Output =
            self.command(program, args)
                .output()
                .map_err(|e| ClusterError::Command {
                    what: program.to_owned(),
                    detail: e.to_string(),
                })?;
        if out.status.success() {
            Ok(())
        } else {
            let mut detail = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            if detail.is_empty() {
                detail = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            }
            Err(ClusterError::Command {
                what: program.to_owned(),
                detail: tail(&detail),
            })
        }
    }
}

/// The last few lines of a long message.
fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

/// `LUCID_PG_BIN`, else the newest `/usr/lib/postgresql/<v>/bin`, else `initdb` on `PATH`.
fn find_bin_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("LUCID_PG_BIN") {
        let dir = PathBuf::from(dir);
        return dir.join("initdb").is_file().then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
    })
}

fn postgres_uid_gid() -> Option<(u32, u32)> {
    let name = std::ffi::CString::new("postgres").ok()?;
    // SAFETY: getpwnam takes a valid NUL-terminated string and returns a pointer to static storage or NULL;
    // we copy the two integers out immediately.
    unsafe {
        let pw = libc::getpwnam(name.as_ptr());
        if pw.is_null() {
            None
        } else {
            Some(((*pw).pw_uid, (*pw).pw_gid))
        }
    }
}
