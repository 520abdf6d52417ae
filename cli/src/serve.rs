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
    // A long-lived process answering reports: see `keep_freed_memory`.
    lucid::allocator::keep_freed_memory();
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
    let (notifier, stop_notifier) = spawn_notifier(&services, addr);
    let matcher_refresh = services.config.matcher_refresh.map(|every| {
        api.matcher()
            .spawn_refresh(std::time::Duration::ZERO, every)
    });
    let updater =
        update_interval.map(|every| crate::schedule::UpdaterTask::spawn(services.clone(), every));
    lucid::api::server::serve_with_worker(
        listener,
        api,
        services.fetch_queue.clone(),
        shutdown_signal(),
    )
    .await?;
    let _ = stop_notifier.send(true);
    if let Some(refresh) = matcher_refresh {
        refresh.abort();
    }
    if let Err(e) = notifier.await {
        tracing::error!(error = %e, "the notifier worker ended abnormally");
    }
    if let Some(updater) = updater {
        updater.stop().await;
    }
    if let Ok(services) = std::sync::Arc::try_unwrap(services) {
        services.shutdown().await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The in-process notifier: feed diffs queued by updates → notifications → deliveries, with maintenance
/// every five minutes. Webhook callbacks point at this server unless `LUCID_NOTIFIER_CALLBACK_URL` is set.
fn spawn_notifier(
    services: &Services,
    addr: SocketAddr,
) -> (
    tokio::task::JoinHandle<()>,
    tokio::sync::watch::Sender<bool>,
) {
    let mut notifier = lucid::notifier::Notifier::for_services(services);
    if notifier.config().callback_url.is_none() {
        notifier = notifier.with_callback_url(format!(
            "http://{addr}{}/",
            lucid::api::notifier_v1::NOTIFICATION
        ));
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(lucid::notifier::run_worker(
        notifier,
        services.notify_queue.clone(),
        std::time::Duration::from_secs(300),
        stopped,
    ));
    (worker, stop)
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
