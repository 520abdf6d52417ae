//! `lucid`: scan images locally, serve the whole system on one machine, update feeds, report against a
//! deployed stack. Every command runs the same `lucid` library code the Lambda functions run.

/// mimalloc rather than glibc's malloc: see the workspace `Cargo.toml`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lucid::config::Config;
use lucid::report_format::Format;
use lucid::services::Services;

mod remote;
mod scan;
mod schedule;
mod serve;
mod snapshot;
mod update;

#[derive(Parser)]
#[command(
    name = "lucid",
    version,
    about = "Container image vulnerability scanner"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan an image for vulnerabilities: a `docker save` tar, an OCI image layout (directory or tar), or an
    /// unpacked root filesystem. Indexes in process (layers already indexed are not read again), matches, and
    /// prints the report; with --fail-on, exits 1 when a finding at or above that severity remains.
    Scan {
        /// The image: docker-save tar, OCI layout directory or tar, or a root filesystem directory.
        image: std::path::PathBuf,
        /// The platform to scan in a multi-platform image (os/arch[/variant]; default linux/amd64, else the first).
        #[arg(long)]
        platform: Option<String>,
        #[command(flatten)]
        registry: RegistryArgs,
        /// Do not load vulnerability feeds on first use (also LUCID_SKIP_FEED_UPDATE=1); match against
        /// whatever the database holds.
        #[arg(long)]
        skip_update: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Scan an image with a deployed Lucid (or `lucid serve`): post its manifest, upload the layers the
    /// server lacks, wait for the index report, and print the vulnerability report like `scan` (same
    /// formats, CI gate and exit codes).
    Report {
        /// The image: docker-save tar, or OCI layout directory or tar.
        image: std::path::PathBuf,
        /// The server's base URL (e.g. https://lucid.example or http://127.0.0.1:6060).
        #[arg(long, env = "LUCID_SERVER", value_name = "URL")]
        server: String,
        /// The platform to scan in a multi-platform image (os/arch[/variant]).
        #[arg(long)]
        platform: Option<String>,
        #[command(flatten)]
        registry: RegistryArgs,
        /// A bearer token (JWT) for the server.
        #[arg(long, env = "LUCID_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// The server's pre-shared key (base64, its LUCID_PSK): a short-lived token is minted with it.
        #[arg(long, env = "LUCID_PSK", hide_env_values = true)]
        psk: Option<String>,
        /// The `iss` claim of tokens minted from --psk.
        #[arg(long, default_value = "lucid")]
        issuer: String,
        /// Seconds to wait for the server to finish indexing.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Render a saved vulnerability report (Clair's VulnerabilityReport JSON, e.g. from `scan --format json`
    /// or a Clair server) in another format, with the same CI gate as `scan`.
    Convert {
        /// The report JSON file (`-` for standard input).
        report: std::path::PathBuf,
        /// The image name to show (default: the report's manifest digest).
        #[arg(long)]
        image_name: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Find what is installed in an unpacked root filesystem (a directory such as `/`): OS packages,
    /// language packages, the distribution. Prints the inventory only (`scan` also matches it).
    Index {
        /// The root directory to read (symlinks are not followed; other file systems are not entered).
        path: std::path::PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = InventoryFormat::Table)]
        format: InventoryFormat,
    },
    /// Serve the HTTP API (Clair v4 indexer routes, layer uploads) on a local port, with an in-process
    /// indexer for fetch jobs and uploads and the scheduled feed updater.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "LUCID_LISTEN", default_value = "127.0.0.1:6060")]
        listen: std::net::SocketAddr,
        /// How often the scheduled feed updater runs (s, m, h, d; first run at start when no feed is
        /// loaded).
        #[arg(long, env = "LUCID_UPDATE_INTERVAL", default_value = "6h", value_parser = schedule::parse_interval)]
        update_interval: std::time::Duration,
        /// Do not run the scheduled feed updater.
        #[arg(long)]
        no_update: bool,
    },
    /// Pull the vulnerability feeds into the database (the scheduled updater, run once). Sources that
    /// fail keep their previous data; exit code 2 if any failed.
    Update {
        /// Read feeds from this folder instead of the network (air-gapped): OSV records (.json/.yaml),
        /// osv.dev all.zip exports, Alpine secdb JSON, Debian/Ubuntu OVAL (.xml/.bz2), Red Hat VEX.
        #[arg(long, value_name = "DIR")]
        from: Option<std::path::PathBuf>,
        /// Only these sources (name prefixes such as `alpine`, `osv/PyPI`, `ubuntu/noble`).
        sources: Vec<String>,
    },
    /// Write the whole feed database (every live record) to FILE, for an air-gapped `import-feeds`.
    ExportFeeds { file: std::path::PathBuf },
    /// Load a file written by `export-feeds` (checked whole before anything is committed).
    ImportFeeds { file: std::path::PathBuf },
    /// Vulnerability feeds.
    Feeds {
        #[command(subcommand)]
        action: FeedsAction,
    },
    /// Apply database migrations (on DATABASE_URL, or the embedded PostgreSQL) and exit.
    Migrate,
    /// The embedded PostgreSQL used when DATABASE_URL is unset.
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
}

/// Pulling IMAGE from a registry (`scan`, `report`).
#[derive(clap::Args)]
struct RegistryArgs {
    /// IMAGE is a registry reference (host/repo:tag or @digest), pulled over the Docker Registry v2 API.
    /// Implied when IMAGE is not a file and its first component is a host (has a dot or port, or is
    /// localhost).
    #[arg(long)]
    registry: bool,
    /// Registry user name (token or basic authentication; anonymous without).
    #[arg(long, env = "LUCID_REGISTRY_USERNAME")]
    username: Option<String>,
    /// Registry password or access token.
    #[arg(long, env = "LUCID_REGISTRY_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Talk plain HTTP to the registry (always so for localhost / 127.0.0.1).
    #[arg(long, env = "LUCID_REGISTRY_PLAIN_HTTP")]
    plain_http: bool,
}

/// Output and CI-gate options shared by `scan` and `convert`.
#[derive(clap::Args)]
struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    format: ReportFormat,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<std::path::PathBuf>,
    /// Exit 1 when a finding at or above this severity remains (after ignores).
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    fail_on: Option<lucid::model::Severity>,
    /// Drop findings that have no fixed version.
    #[arg(long)]
    ignore_unfixed: bool,
    /// Ignore file (YAML, or TOML by extension): entries {id, package?, reason, expires?}.
    #[arg(long, value_name = "FILE")]
    ignore_file: Option<std::path::PathBuf>,
}

fn parse_severity(s: &str) -> Result<lucid::model::Severity, String> {
    s.parse()
        .map_err(|e: lucid::model::UnknownSeverity| e.to_string())
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ReportFormat {
    /// A readable table grouped by package.
    Table,
    /// Clair's VulnerabilityReport JSON.
    Json,
    /// CycloneDX 1.5 JSON (components with purls, vulnerabilities).
    Cyclonedx,
    /// SPDX 2.3 JSON.
    Spdx,
    /// SARIF 2.1.0 (code scanning).
    Sarif,
}

impl From<ReportFormat> for Format {
    fn from(f: ReportFormat) -> Format {
        match f {
            ReportFormat::Table => Format::Table,
            ReportFormat::Json => Format::Json,
            ReportFormat::Cyclonedx => Format::CycloneDx,
            ReportFormat::Spdx => Format::Spdx,
            ReportFormat::Sarif => Format::Sarif,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum InventoryFormat {
    /// A readable table.
    Table,
    /// Clair's IndexReport JSON.
    Json,
}

#[derive(Subcommand)]
enum FeedsAction {
    /// Each source's last update, last error and record count.
    Status,
}

#[derive(Subcommand)]
enum DbAction {
    /// Start (or reuse) the database and print where it is and its schema version.
    Status,
}

/// Exit code for usage and runtime errors (1 is reserved for "findings at or above --fail-on").
const EXIT_ERROR: u8 = 2;

/// Exit code when findings at or above `--fail-on` remain.
const EXIT_FINDINGS: u8 = 1;

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of our output goes away (`lucid … | head`)
    // instead of panicking on a failed print.
    #[cfg(unix)]
    // SAFETY: restores the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_ERROR)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logging();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lucid: error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            // One line: the error and its causes, never a backtrace.
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("lucid: error: {}", chain.join(": "));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LUCID_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,lucid::feeds::updater=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Index { path, format } => return index(path, *format).await,
        Command::Convert {
            report,
            image_name,
            output,
        } => return scan::convert(report, image_name.as_deref(), output).await,
        Command::Report {
            image,
            server,
            platform,
            registry,
            token,
            psk,
            issuer,
            timeout,
            output,
        } => {
            let remote = remote::Remote {
                server: server.clone(),
                token: remote::Remote::credentials(token.clone(), psk.clone(), issuer)?,
                timeout: std::time::Duration::from_secs(*timeout),
            };
            return remote::report(remote, image, platform.as_deref(), registry, output).await;
        }
        _ => {}
    }
    let config = Config::from_env()?;
    match cli.command {
        Command::Index { .. } | Command::Convert { .. } | Command::Report { .. } => {}
        Command::Serve {
            listen,
            update_interval,
            no_update,
        } => return serve::serve(config, listen, (!no_update).then_some(update_interval)).await,
        Command::Scan {
            image,
            platform,
            registry,
            skip_update,
            output,
        } => {
            let skip_update =
                skip_update || std::env::var("LUCID_SKIP_FEED_UPDATE").is_ok_and(|v| v == "1");
            let source = scan::Source {
                image: &image,
                platform: platform.as_deref(),
                registry: &registry,
            };
            return scan::scan(config, source, skip_update, &output).await;
        }
        Command::Update { from, sources } => {
            let services = Services::for_local(config).await?;
            let code = update::update(&services, from, &sources).await;
            services.shutdown().await?;
            return code;
        }
        Command::ExportFeeds { file } => {
            let services = Services::for_local(config).await?;
            let code = update::export(&services, &file).await;
            services.shutdown().await?;
            return code;
        }
        Command::ImportFeeds { file } => {
            let services = Services::for_local(config).await?;
            let code = update::import(&services, &file).await;
            services.shutdown().await?;
            return code;
        }
        Command::Feeds {
            action: FeedsAction::Status,
        } => {
            let services = Services::for_local(config).await?;
            let code = update::status(&services).await;
            services.shutdown().await?;
            return code;
        }
        Command::Migrate => {
            let services = Services::for_local(config).await?;
            let version = services.db.schema_version().await?;
            println!(
                "schema at version {} ({})",
                version.unwrap_or(0),
                services.database_description()
            );
            services.shutdown().await?;
        }
        Command::Db {
            action: DbAction::Status,
        } => {
            let services = Services::for_local(config).await?;
            let version = services.db.schema_version().await?;
            println!("database: {}", services.database_description());
            println!("schema version: {}", version.unwrap_or(0));
            services.shutdown().await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `lucid index DIR`: the same scanners a layer gets, over a directory.
async fn index(path: &std::path::Path, format: InventoryFormat) -> anyhow::Result<ExitCode> {
    let (report, files) = lucid::scan::index_rootfs(path).await?;
    let root = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    match format {
        InventoryFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        InventoryFormat::Table => print_inventory(&root, &report, files),
    }
    Ok(ExitCode::SUCCESS)
}

fn print_inventory(root: &std::path::Path, report: &lucid::model::IndexReport, files: u64) {
    use std::collections::BTreeMap;
    if let Some(d) = report.distributions.values().next() {
        let name = if d.pretty_name.is_empty() {
            &d.name
        } else {
            &d.pretty_name
        };
        println!("{}: {name}", root.display());
    } else {
        println!("{}: no known distribution", root.display());
    }
    let mut rows: Vec<(&str, &str, &str, String)> = report
        .packages
        .values()
        .map(|p| {
            let db = report
                .environments
                .get(&p.id)
                .and_then(|e| e.first())
                .map(|e| e.package_db.as_str())
                .unwrap_or_default();
            (
                p.ecosystem.as_str(),
                p.name.as_str(),
                p.version.as_str(),
                db.to_owned(),
            )
        })
        .collect();
    rows.sort();
    let w_eco = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(9);
    let w_name = rows
        .iter()
        .map(|r| r.1.len())
        .max()
        .unwrap_or(0)
        .clamp(4, 48);
    let w_ver = rows
        .iter()
        .map(|r| r.2.len())
        .max()
        .unwrap_or(0)
        .clamp(7, 40);
    println!(
        "{:w_eco$}  {:w_name$}  {:w_ver$}  FOUND IN",
        "ECOSYSTEM", "NAME", "VERSION"
    );
    for (eco, name, version, db) in &rows {
        println!("{eco:w_eco$}  {name:w_name$}  {version:w_ver$}  {db}");
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &rows {
        *counts.entry(r.0).or_default() += 1;
    }
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!(
        "{} packages ({}) in {files} files",
        rows.len(),
        summary.join(", ")
    );
}
