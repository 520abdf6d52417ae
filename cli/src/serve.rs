//! `lucid serve`: the HTTP API on a local port, over the embedded PostgreSQL (or `DATABASE_URL`) and a
//! local blob directory, with an in-process worker for fetch jobs. Stops on Ctrl-C or SIGTERM.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context as _;
use lucid::api::Api;
use lucid::config::Config;
use lucid::services::Services;

/// `update_interval`: the scheduled feed updater's period (`None`: `--no-update`).
pub async fn serve(
    config: Config,
    listen: SocketAddr,
    update_interval: Option<std::time::Duration>,
) -> anyhow::Result<ExitCode> {
    let services = std::sync::Arc::new(Services::for_local(config).await?);
    let api = Api::from_services(&services);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    println!(
        "lucid: serving http://{addr} ({}; authentication {})",
        services.database_description(),
        if services.config.auth.is_some() {
            "by PSK JWT"
        } else {
            "off: LUCID_PSK is unset"
        }
    );
    let _ = std::io::stdout().flush();
    let updater =
        update_interval.map(|every| crate::schedule::UpdaterTask::spawn(services.clone(), every));
    lucid::api::server::serve_with_worker(
        listener,
        api,
        services.fetch_queue.clone(),
        shutdown_signal(),
    )
    .await?;
    if let Some(updater) = updater {
        updater.stop().await;
    }
    if let Ok(services) = std::sync::Arc::try_unwrap(services) {
        services.shutdown().await?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
