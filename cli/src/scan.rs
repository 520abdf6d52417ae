//! `lucid scan IMAGE` and `lucid convert REPORT`: open the image, index it in process, match, apply the
//! CI gate, print. The work is in `lucid::{image, scan, report_format}`; this file adapts it to a terminal.

use std::io::{IsTerminal as _, Read, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lucid::config::Config;
use lucid::image::{ImageLayer, OpenOptions, ScanTarget};
use lucid::indexer::{Indexer, LayerOutcome};
use lucid::model::{IndexReport, VulnerabilityReport};
use lucid::report_format::{RenderContext, render};
use lucid::scan::policy::{self, Policy};
use lucid::services::Services;

use super::{EXIT_FINDINGS, OutputArgs};

/// The match step: exactly one call into the matcher (the same code the API's vulnerability report runs).
async fn match_report(
    services: &Services,
    index_report: &IndexReport,
) -> anyhow::Result<VulnerabilityReport> {
    Ok(lucid::matcher::Matcher::new(services.db.clone())
        .vulnerability_report(index_report)
        .await?)
}

/// `lucid scan IMAGE`.
pub(crate) async fn scan(
    config: Config,
    source: Source<'_>,
    skip_update: bool,
    args: &OutputArgs,
) -> anyhow::Result<ExitCode> {
    let policy = load_policy(args)?;
    let image = source.image;
    let target = open_image(source).await?;
    let services = Services::for_local(config).await?;
    let result = scan_target(&services, image, target, skip_update).await;
    let shutdown = services.shutdown().await;
    let (report, name, mut notes) = result?;
    shutdown?;
    // A gate over a report that checked nothing would pass silently: refuse it instead.
    if policy.fail_on.is_some()
        && let Some(w) = report
            .warnings
            .iter()
            .find(|w| w.code == lucid::model::ReportWarning::NO_FEEDS_LOADED)
    {
        anyhow::bail!(
            "cannot apply --fail-on: {} (load feeds with `lucid update`)",
            w.message
        );
    }
    finish(report, name, &mut notes, &policy, args)
}

/// What `scan` and `report` were pointed at.
pub(crate) struct Source<'a> {
    pub image: &'a Path,
    pub platform: Option<&'a str>,
    pub registry: &'a crate::RegistryArgs,
}

/// Opens IMAGE (archive, layout or root filesystem; or a registry reference) off the async threads.
pub(crate) async fn open_image(source: Source<'_>) -> anyhow::Result<ScanTarget> {
    let options = OpenOptions {
        platform: source.platform.map(str::parse).transpose()?,
    };
    let path = source.image.to_owned();
    let text = path.to_string_lossy().into_owned();
    let pull = source.registry.registry
        || (!path.exists() && lucid::image::registry::Reference::looks_like(&text));
    if pull {
        let reference: lucid::image::registry::Reference = text.parse()?;
        let registry = lucid::image::registry::RegistryOptions {
            username: source.registry.username.clone(),
            password: source.registry.password.clone(),
            plain_http: source.registry.plain_http,
        };
        let image = tokio::task::spawn_blocking(move || {
            lucid::image::registry::open(&reference, &options, &registry)
        })
        .await
        .context("pulling the image")??;
        return Ok(ScanTarget::Image(Box::new(image)));
    }
    Ok(
        tokio::task::spawn_blocking(move || lucid::image::open(&path, &options))
            .await
            .context("opening the image")??,
    )
}

/// Where progress bars draw: standard error when it is a terminal, else nowhere.
pub(crate) fn progress_target(interactive: bool) -> ProgressDrawTarget {
    if interactive {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

async fn scan_target(
    services: &Services,
    path: &Path,
    target: ScanTarget,
    skip_update: bool,
) -> anyhow::Result<(VulnerabilityReport, String, Vec<String>)> {
    let (index_report, name, mut notes) = match target {
        ScanTarget::Rootfs(dir) => {
            let (report, _) = lucid::scan::index_rootfs(&dir).await?;
            (report, dir.display().to_string(), Vec::new())
        }
        ScanTarget::Image(image) => {
            let indexer = Indexer::new(services.db.clone(), services.blobs.clone());
            let progress = LayerProgress::new();
            let report = lucid::scan::index_image(&indexer, &image, &progress).await?;
            let name = image
                .name
                .clone()
                .unwrap_or_else(|| path.display().to_string());
            (report, name, image.notes.clone())
        }
    };
    if !skip_update {
        notes.extend(load_feeds_on_first_use(services).await);
    }
    let report = match_report(services, &index_report).await?;
    Ok((report, name, notes))
}

/// A first scan on an empty database loads the feeds (from the network, or `LUCID_FEED_DIR`), with a
/// progress bar on a terminal. Failures do not stop the scan: they become notes, and the report itself says
/// what no loaded feed covered.
async fn load_feeds_on_first_use(services: &Services) -> Vec<String> {
    let interactive = std::io::stderr().is_terminal();
    let bar = ProgressBar::with_draw_target(None, progress_target(interactive));
    if let Ok(style) = ProgressStyle::with_template("{spinner} loading feeds: {pos} done, {msg}") {
        bar.set_style(style);
    }
    let mut announced = false;
    let result = lucid::feeds::updater::ensure_loaded(services, |report| {
        if !announced {
            announced = true;
            if !interactive {
                eprintln!("lucid: loading vulnerability feeds for the first time (`lucid update` refreshes them)");
            }
        }
        bar.set_message(report.source.clone());
        bar.inc(1);
    })
    .await;
    bar.finish_and_clear();
    let all_failed = match &result {
        Ok(Some(summary)) => summary.failed().count() == summary.sources.len(),
        Ok(None) => false,
        Err(_) => true,
    };
    if all_failed && crate::snapshot::available() {
        // Offline on a first run: check against the snapshot shipped with lucid rather than nothing.
        let spinner = ProgressBar::with_draw_target(None, progress_target(interactive));
        spinner.set_message("feeds unreachable: loading the offline snapshot");
        spinner.enable_steady_tick(std::time::Duration::from_millis(120));
        let loaded = crate::snapshot::load_if_empty(services).await;
        spinner.finish_and_clear();
        match loaded {
            Ok(Some(loaded)) => return vec![loaded.describe()],
            Ok(None) => {}
            Err(e) => {
                return vec![format!(
                    "no vulnerability feed could be loaded, nor the offline snapshot: {e:#}"
                )];
            }
        }
    }
    match result {
        Ok(None) => Vec::new(),
        Ok(Some(summary)) => {
            let failed: Vec<&str> = summary.failed().map(|s| s.source.as_str()).collect();
            if failed.is_empty() {
                Vec::new()
            } else if failed.len() == summary.sources.len() {
                vec![format!(
                    "no vulnerability feed could be loaded ({} sources failed; offline? `lucid update --from DIR` \
                     loads a folder of feed files, `lucid import-feeds FILE` an export)",
                    failed.len()
                )]
            } else {
                vec![format!(
                    "{} of {} feeds failed to load: {} (see `lucid feeds status`)",
                    failed.len(),
                    summary.sources.len(),
                    failed.join(", ")
                )]
            }
        }
        Err(e) => vec![format!("vulnerability feeds could not be loaded: {e}")],
    }
}

/// `lucid convert REPORT`.
pub(crate) async fn convert(
    report: &Path,
    image_name: Option<&str>,
    args: &OutputArgs,
) -> anyhow::Result<ExitCode> {
    let policy = load_policy(args)?;
    let mut bytes = Vec::new();
    if report == Path::new("-") {
        std::io::stdin().read_to_end(&mut bytes)?;
    } else {
        bytes = std::fs::read(report).with_context(|| report.display().to_string())?;
    }
    let parsed: VulnerabilityReport = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a vulnerability report", report.display()))?;
    let name = image_name
        .map(str::to_owned)
        .unwrap_or_else(|| parsed.manifest_hash.to_string());
    finish(parsed, name, &mut Vec::new(), &policy, args)
}

pub(crate) fn load_policy(args: &OutputArgs) -> anyhow::Result<Policy> {
    Ok(Policy {
        fail_on: args.fail_on,
        ignore_unfixed: args.ignore_unfixed,
        ignores: match &args.ignore_file {
            Some(f) => policy::load_ignore_file(f)?,
            None => Vec::new(),
        },
    })
}

/// Applies the gate, prints the report and the notes, and picks the exit code.
pub(crate) fn finish(
    mut report: VulnerabilityReport,
    name: String,
    notes: &mut Vec<String>,
    policy: &Policy,
    args: &OutputArgs,
) -> anyhow::Result<ExitCode> {
    let verdict = policy::apply(&mut report, policy, time::OffsetDateTime::now_utc().date());
    notes.extend(lucid::report_format::report_warnings(&report));
    for e in &verdict.expired {
        notes.push(format!(
            "ignore entry {}{} expired on {}; it no longer applies",
            e.id,
            e.package
                .as_deref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default(),
            e.expires.map(|d| d.to_string()).unwrap_or_default()
        ));
    }
    for i in &verdict.ignored {
        notes.push(format!(
            "ignored {} in {}: {}",
            i.vulnerability, i.package, i.reason
        ));
    }
    if verdict.unfixed_dropped > 0 {
        notes.push(format!(
            "{} findings without a fixed version not shown (--ignore-unfixed)",
            verdict.unfixed_dropped
        ));
    }
    let format = args.format.into();
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let mut ctx = RenderContext::new(name);
    ctx.colour = to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    if format == lucid::report_format::Format::Table {
        ctx.notes = notes.clone();
    } else {
        for n in notes.iter() {
            eprintln!("lucid: {n}");
        }
    }
    let text = render(&report, format, &ctx)?;
    match &args.output {
        Some(file) => {
            std::fs::write(file, text).with_context(|| file.display().to_string())?;
            if format != lucid::report_format::Format::Table {
                // The notes were printed above; nothing else to say.
            } else {
                for n in notes.iter() {
                    eprintln!("lucid: {n}");
                }
            }
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    if verdict.fails() {
        if let Some(level) = policy.fail_on {
            eprintln!(
                "lucid: {} findings at or above {level}: failing (exit {EXIT_FINDINGS})",
                verdict.failing
            );
        }
        return Ok(ExitCode::from(EXIT_FINDINGS));
    }
    Ok(ExitCode::SUCCESS)
}

/// One progress bar per layer on standard error, shown only when it is a terminal.
struct LayerProgress {
    visible: bool,
    current: Mutex<Option<ProgressBar>>,
}

impl LayerProgress {
    fn new() -> LayerProgress {
        LayerProgress {
            visible: std::io::stderr().is_terminal(),
            current: Mutex::new(None),
        }
    }

    fn short(layer: &ImageLayer) -> String {
        let hex = layer.digest.hex();
        format!(
            "{}:{}",
            layer.digest.algorithm().as_str(),
            hex.get(..12).unwrap_or(hex)
        )
    }
}

impl lucid::scan::ScanObserver for LayerProgress {
    fn layer_reader(
        &self,
        index: usize,
        total: usize,
        layer: &ImageLayer,
        reader: Box<dyn Read + Send>,
    ) -> Box<dyn Read + Send> {
        if !self.visible {
            return reader;
        }
        let bar = ProgressBar::with_draw_target(Some(layer.size), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(format!(
            "layer {}/{} {}",
            index + 1,
            total,
            Self::short(layer)
        ));
        let wrapped = bar.wrap_read(reader);
        if let Ok(mut slot) = self.current.lock() {
            *slot = Some(bar);
        }
        Box::new(wrapped)
    }

    fn layer_done(&self, index: usize, layer: &ImageLayer, outcome: &LayerOutcome) {
        let bar = self.current.lock().ok().and_then(|mut s| s.take());
        if !self.visible {
            return;
        }
        let what = match outcome {
            LayerOutcome::Indexed { packages, .. } => format!("indexed, {packages} packages"),
            LayerOutcome::AlreadyIndexed => "already indexed".to_owned(),
            LayerOutcome::Failed(reason) => format!("failed: {reason}"),
        };
        match bar {
            Some(bar) => bar.finish_with_message(what),
            None => eprintln!("layer {} {} {what}", index + 1, Self::short(layer)),
        }
    }
}
