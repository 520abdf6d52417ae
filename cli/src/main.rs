//! `lucid`: scan images locally, serve the whole system on one machine, update feeds, report against a
//! deployed stack. Every command runs the same `lucid` library code the Lambda functions run.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lucid::config::Config;
use lucid::services::Services;

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
    /// Apply database migrations (on DATABASE_URL, or the embedded PostgreSQL) and exit.
    Migrate,
    /// The embedded PostgreSQL used when DATABASE_URL is unset.
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
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
    let config = Config::from_env()?;
    match cli.command {
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
