//! `lucid scan` inputs end to end: images built here from real package data (gzip, zstd and plain layers,
//! a whiteout in an upper layer) laid out as docker-save (classic and Docker 25+) and OCI layouts (directory
//! and tar), opened with `lucid::image`, indexed in process by the indexer's own code path into a fresh
//! PostgreSQL database, and the IndexReport checked package by package.

use anyhow::Result;
use harness::images::{self, Layer};
use lucid::image::{Image, OpenOptions, ScanTarget};
use lucid::indexer::{Indexer, LayerOutcome};
use lucid::model::{Digest, IndexReport};
use lucid::scan::{Quiet, ScanObserver, index_image};

fn open(path: &std::path::Path, platform: Option<&str>) -> Result<Image> {
    let options = OpenOptions {
        platform: platform.map(|p| p.parse()).transpose()?,
    };
    match lucid::image::open(path, &options)? {
        ScanTarget::Image(i) => Ok(*i),
        ScanTarget::Rootfs(p) => anyhow::bail!("{} opened as a root filesystem", p.display()),
    }
}

async fn indexer() -> Result<Indexer> {
    let db = harness::database().await?;
    let blobs = tempfile::tempdir()?.keep();
    Ok(Indexer::new(
        db,
        std::sync::Arc::new(lucid::blob::DirBlobStore::new(blobs)),
    ))
}

fn digests(layers: &[Layer]) -> Vec<String> {
    layers.iter().map(Layer::digest).collect()
}

/// (name, version, introduced_in) of every package in the report, sorted.
fn packages(report: &IndexReport) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = report
        .packages
        .iter()
        .map(|(id, p)| {
            let layer = report
                .environments
                .get(id)
                .and_then(|e| e.first())
                .map(|e| e.introduced_in.clone())
                .unwrap_or_default();
            (p.name.clone(), p.version.clone(), layer)
        })
        .collect();
    v.sort();
    v
}

fn find<'a>(
    pkgs: &'a [(String, String, String)],
    name: &str,
) -> Option<&'a (String, String, String)> {
    pkgs.iter().find(|p| p.0 == name)
}

/// The Debian image's report: dpkg packages from layer 1, PyYAML gone (whited out by layer 2), urllib3
/// from layer 2, Django from layer 3.
fn assert_debian_report(report: &IndexReport, layers: &[Layer]) {
    assert_eq!(report.state, "IndexFinished", "{}", report.err);
    let d = digests(layers);
    let pkgs = packages(report);
    let dpkg = report
        .packages
        .values()
        .filter(|p| p.ecosystem == "dpkg")
        .count();
    assert_eq!(dpkg, 88, "the bookworm minbase dpkg database");
    let libc = find(&pkgs, "libc6").expect("libc6");
    assert_eq!(
        (libc.1.as_str(), libc.2.as_str()),
        ("2.36-9+deb12u14", d[0].as_str())
    );
    assert!(
        !pkgs.iter().any(|p| p.0.eq_ignore_ascii_case("pyyaml")),
        "PyYAML was whited out in layer 2: {pkgs:?}"
    );
    let requests = find(&pkgs, "requests").expect("requests");
    assert_eq!(
        (requests.1.as_str(), requests.2.as_str()),
        ("2.34.2", d[0].as_str())
    );
    let urllib3 = find(&pkgs, "urllib3").expect("urllib3");
    assert_eq!(
        (urllib3.1.as_str(), urllib3.2.as_str()),
        ("2.8.0", d[1].as_str())
    );
    let django = pkgs
        .iter()
        .find(|p| p.0.eq_ignore_ascii_case("django"))
        .expect("django");
    assert_eq!(
        (django.1.as_str(), django.2.as_str()),
        ("5.2.19", d[2].as_str())
    );
    assert_eq!(report.packages.len(), 88 + 3);
    let dist = report
        .distributions
        .values()
        .next()
        .expect("a distribution");
    assert_eq!(dist.did, "debian");
    assert_eq!(dist.version_id, "12");
}

#[tokio::test]
async fn oci_layout_directory_and_tar_index_the_same_report() -> Result<()> {
    let layers = images::debian_layers()?;
    let (_keep, dir) = images::scratch()?;
    let layout = dir.join("layout");
    let manifest = images::oci_layout(&layout, &layers)?;
    let image = open(&layout, None)?;
    assert_eq!(image.format, lucid::image::ImageFormat::OciLayout);
    assert_eq!(image.manifest.hash.to_string(), manifest);
    assert_eq!(
        image
            .manifest
            .layers
            .iter()
            .map(|l| l.hash.to_string())
            .collect::<Vec<_>>(),
        digests(&layers)
    );
    assert_eq!(image.name.as_deref(), Some("latest"));
    let indexer = indexer().await?;
    let report = index_image(&indexer, &image, &Quiet).await?;
    assert_eq!(report.manifest_hash.to_string(), manifest);
    assert_debian_report(&report, &layers);

    // The same layout in a tar: same manifest, and every layer is already indexed.
    let tar = dir.join("layout.tar");
    images::tar_directory(&layout, &tar)?;
    let image = open(&tar, None)?;
    assert_eq!(image.format, lucid::image::ImageFormat::OciArchive);
    assert_eq!(image.manifest.hash.to_string(), manifest);
    let recorder = Recorder::default();
    let again = index_image(&indexer, &image, &recorder).await?;
    assert_eq!(again, report);
    assert_eq!(
        *recorder.outcomes.lock().unwrap(),
        vec![LayerOutcome::AlreadyIndexed; 3]
    );
    Ok(())
}

#[derive(Default)]
struct Recorder {
    outcomes: std::sync::Mutex<Vec<LayerOutcome>>,
    read: std::sync::Mutex<Vec<usize>>,
}

impl ScanObserver for Recorder {
    fn layer_reader(
        &self,
        index: usize,
        _total: usize,
        _layer: &lucid::image::ImageLayer,
        reader: Box<dyn std::io::Read + Send>,
    ) -> Box<dyn std::io::Read + Send> {
        self.read.lock().unwrap().push(index);
        reader
    }

    fn layer_done(&self, _: usize, _: &lucid::image::ImageLayer, outcome: &LayerOutcome) {
        self.outcomes.lock().unwrap().push(outcome.clone());
    }
}

#[tokio::test]
async fn docker_save_classic_hashes_compressed_layers_and_follows_symlinked_duplicates()
-> Result<()> {
    let mut layers = images::debian_layers()?;
    // A repeated layer, stored by docker as a symlink to the first copy.
    layers.push(Layer::new(
        &[images::Entry::File("etc/motd", b"hello\n".to_vec())],
        images::Compression::None,
    )?);
    layers.push(Layer::new(
        &[images::Entry::File("etc/motd", b"hello\n".to_vec())],
        images::Compression::None,
    )?);
    let (_keep, dir) = images::scratch()?;
    let tar = dir.join("debian.tar");
    let config = images::docker_save_classic(&tar, &layers, "example/debian:12")?;
    let image = open(&tar, None)?;
    assert_eq!(image.format, lucid::image::ImageFormat::DockerArchive);
    assert_eq!(
        image.manifest.hash.to_string(),
        config,
        "named by the image id"
    );
    assert_eq!(image.name.as_deref(), Some("example/debian:12"));
    assert_eq!(
        image.platform.as_ref().map(|p| p.to_string()).as_deref(),
        Some("linux/amd64")
    );
    assert_eq!(
        image
            .manifest
            .layers
            .iter()
            .map(|l| l.hash.to_string())
            .collect::<Vec<_>>(),
        digests(&layers),
        "gzip and zstd layers hashed, plain ones from their diff_id"
    );
    let indexer = indexer().await?;
    let recorder = Recorder::default();
    let report = index_image(&indexer, &image, &recorder).await?;
    assert_eq!(
        *recorder.read.lock().unwrap(),
        vec![0, 1, 2, 3],
        "the repeated layer is read once"
    );
    let d = digests(&layers);
    let trimmed: Vec<Layer> = layers.into_iter().take(3).collect();
    assert_eq!(report.packages.len(), 91);
    assert_debian_report(&report, &trimmed);
    assert_eq!(d[3], d[4]);
    Ok(())
}

#[tokio::test]
async fn docker_save_with_an_oci_layout_uses_the_manifest_digest() -> Result<()> {
    let layers = images::alpine_layers()?;
    let (_keep, dir) = images::scratch()?;
    let tar = dir.join("alpine.tar");
    let manifest = images::docker_save_oci(&tar, &layers, "alpine:3.19")?;
    let image = open(&tar, None)?;
    assert_eq!(image.format, lucid::image::ImageFormat::OciArchive);
    assert_eq!(image.manifest.hash.to_string(), manifest);
    assert_eq!(image.name.as_deref(), Some("docker.io/library/alpine:3.19"));
    let indexer = indexer().await?;
    let report = index_image(&indexer, &image, &Quiet).await?;
    assert_eq!(report.state, "IndexFinished", "{}", report.err);
    let dist = report.distributions.values().next().expect("alpine");
    assert_eq!(
        (dist.did.as_str(), dist.version_id.as_str()),
        ("alpine", "3.19.1")
    );
    let musl = report
        .packages
        .values()
        .find(|p| p.name == "musl")
        .expect("musl");
    assert_eq!(musl.ecosystem, "apk");
    assert!(report.packages.values().all(|p| p.ecosystem == "apk"));
    assert!(report.packages.len() > 10, "{}", report.packages.len());
    Ok(())
}

#[tokio::test]
async fn multi_platform_index_picks_amd64_or_the_requested_platform() -> Result<()> {
    let debian = images::debian_layers()?;
    let alpine = images::alpine_layers()?;
    let (_keep, dir) = images::scratch()?;
    let (_, amd64, arm64) = images::multi_platform_layout(&dir, &debian, &alpine)?;
    let image = open(&dir, None)?;
    assert_eq!(image.manifest.hash.to_string(), amd64);
    assert_eq!(image.name.as_deref(), Some("example.com/multi:1"));
    assert_eq!(
        image.platform.as_ref().map(|p| p.to_string()).as_deref(),
        Some("linux/amd64")
    );
    let image = open(&dir, Some("linux/arm64"))?;
    assert_eq!(image.manifest.hash.to_string(), arm64);
    let err = open(&dir, Some("linux/s390x")).unwrap_err().to_string();
    assert!(
        err.contains("no image for platform linux/s390x (available: linux/arm64, linux/amd64)"),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn a_corrupt_layer_fails_the_scan_with_its_reason() -> Result<()> {
    let layers = images::debian_layers()?;
    let (_keep, dir) = images::scratch()?;
    images::oci_layout(&dir, &layers)?;
    // Truncate the zstd layer blob: the manifest still names the original digest.
    let d = layers[1].digest();
    let blob = dir
        .join("blobs/sha256")
        .join(d.trim_start_matches("sha256:"));
    let bytes = std::fs::read(&blob)?;
    std::fs::write(&blob, &bytes[..bytes.len() / 2])?;
    let image = open(&dir, None)?;
    let indexer = indexer().await?;
    let err = index_image(&indexer, &image, &Quiet)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("layer {d}")), "{err}");
    assert!(err.contains("zstd stream is truncated"), "{err}");
    let layer_digest: Digest = d.parse()?;
    let status = indexer
        .store()
        .layer_status(&layer_digest, indexer.index_state())
        .await?;
    assert!(
        matches!(status, lucid::store::index::LayerStatus::Failed(_)),
        "{status:?}"
    );
    Ok(())
}
