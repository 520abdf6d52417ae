//! `lucid`: scan images locally, serve the whole system on one machine, update feeds, report against a
//! deployed stack. Every command runs the same `lucid` library code the Lambda functions run.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lucid::config::Config;
use lucid::services::Services;

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
    /// Find what is installed in an unpacked root filesystem (a directory such as `/`): OS packages,
    /// language packages, the distribution. Prints the inventory (vulnerability matching: `scan`, to come).
    Index {
        /// The root directory to read (symlinks are not followed; other file systems are not entered).
        path: std::path::PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
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

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
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

fn main() -> ExitCode {
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
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Index { path, format } = &cli.command {
        return index(path, *format).await;
    }
    let config = Config::from_env()?;
    match cli.command {
        Command::Index { .. } => {}
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
async fn index(path: &std::path::Path, format: Format) -> anyhow::Result<ExitCode> {
    use anyhow::Context as _;
    let root = path
        .canonicalize()
        .with_context(|| format!("{}", path.display()))?;
    let scan_root = root.clone();
    let scan = tokio::task::spawn_blocking(move || {
        let scanners = lucid::ecosystems::default_scanners();
        let refs: Vec<&dyn lucid::scanner::PackageScanner> =
            scanners.iter().map(|s| s.as_ref()).collect();
        lucid::layer::rootfs::scan_directory(
            &scan_root,
            &refs,
            &lucid::layer::LayerLimits::default(),
        )
    })
    .await??;
    for w in &scan.warnings {
        tracing::warn!("{w}");
    }
    // A directory has no content digest; name it by its path so reports stay distinct and stable.
    let id = lucid::model::Digest::sha256_of(format!("rootfs:{}", root.display()).as_bytes());
    let report = lucid::layer::coalesce(&id, &[(id.clone(), scan.contents)]);
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Table => print_inventory(&root, &report, scan.files),
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
