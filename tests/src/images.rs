//! Real container images built in tests, without a registry: layers packed with the tar crate from real
//! package metadata in the repository's testdata, then laid out as `docker save` archives (classic and
//! Docker 25+), OCI layouts (directory and tar), and multi-platform indexes.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Value, json};
use sha2::Digest as _;

/// `shared/src/ecosystems`, where the real package metadata samples live.
pub fn ecosystems_testdata(rel: &str) -> Result<Vec<u8>> {
    let path = crate::repo_root().join("shared/src/ecosystems").join(rel);
    std::fs::read(&path).with_context(|| path.display().to_string())
}

/// One entry of a layer tar.
pub enum Entry {
    File(&'static str, Vec<u8>),
    /// An empty whiteout marker file at this path (e.g. `dir/.wh.name`).
    Whiteout(&'static str),
}

/// How a layer blob is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// A layer: its uncompressed tar and its blob as stored.
pub struct Layer {
    pub tar: Vec<u8>,
    pub blob: Vec<u8>,
    pub compression: Compression,
}

impl Layer {
    pub fn new(entries: &[Entry], compression: Compression) -> Result<Layer> {
        let mut b = tar::Builder::new(Vec::new());
        for e in entries {
            let (path, data): (&str, &[u8]) = match e {
                Entry::File(p, d) => (p, d),
                Entry::Whiteout(p) => (p, &[]),
            };
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, path, data)?;
        }
        let tar = b.into_inner()?;
        let blob = match compression {
            Compression::None => tar.clone(),
            Compression::Gzip => {
                let mut e =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(&tar)?;
                e.finish()?
            }
            Compression::Zstd => zstd::encode_all(tar.as_slice(), 3)?,
        };
        Ok(Layer {
            tar,
            blob,
            compression,
        })
    }

    pub fn digest(&self) -> String {
        sha256(&self.blob)
    }

    pub fn diff_id(&self) -> String {
        sha256(&self.tar)
    }

    fn media_type(&self) -> &'static str {
        match self.compression {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// A three-layer Debian image made of real package data:
/// 1. gzip: os-release, the dpkg status of a bookworm minbase (88 packages), PyYAML and requests METADATA;
/// 2. zstd: a whiteout removing PyYAML's dist-info, and urllib3;
/// 3. uncompressed: Django.
pub fn debian_layers() -> Result<Vec<Layer>> {
    Ok(vec![
        Layer::new(
            &[
                Entry::File(
                    "etc/os-release",
                    ecosystems_testdata("distribution/testdata/debian-12.os-release")?,
                ),
                Entry::File(
                    "var/lib/dpkg/status",
                    ecosystems_testdata("dpkg/testdata/bookworm-minbase-status")?,
                ),
                Entry::File(
                    "usr/lib/python3/dist-packages/PyYAML-6.0.4.dist-info/METADATA",
                    ecosystems_testdata("python/testdata/scanner/pyyaml-6.0.4.dist-info.METADATA")?,
                ),
                Entry::File(
                    "usr/lib/python3/dist-packages/requests-2.34.2.dist-info/METADATA",
                    ecosystems_testdata(
                        "python/testdata/scanner/requests-2.34.2.dist-info.METADATA",
                    )?,
                ),
            ],
            Compression::Gzip,
        )?,
        Layer::new(
            &[
                Entry::Whiteout("usr/lib/python3/dist-packages/.wh.PyYAML-6.0.4.dist-info"),
                Entry::File(
                    "usr/local/lib/python3.11/dist-packages/urllib3-2.8.0.dist-info/METADATA",
                    ecosystems_testdata(
                        "python/testdata/scanner/urllib3-2.8.0.dist-info.METADATA",
                    )?,
                ),
            ],
            Compression::Zstd,
        )?,
        Layer::new(
            &[Entry::File(
                "usr/local/lib/python3.11/dist-packages/Django-5.2.19.dist-info/METADATA",
                ecosystems_testdata("python/testdata/scanner/django-5.2.19.dist-info.METADATA")?,
            )],
            Compression::None,
        )?,
    ])
}

/// A dpkg status stanza for an installed package.
pub fn dpkg_stanza(name: &str, source: Option<&str>, version: &str) -> String {
    let source = source.map(|s| format!("Source: {s}\n")).unwrap_or_default();
    format!(
        "Package: {name}\nStatus: install ok installed\nPriority: optional\nSection: libs\n\
         Installed-Size: 100\nMaintainer: Debian <debian@example.org>\nArchitecture: amd64\n{source}\
         Version: {version}\nDescription: {name}\n\n"
    )
}

/// [`debian_layers`] plus a top layer rewriting the dpkg database with an OpenSSL (libssl3 3.0.7-1) from
/// before the CVE-2022-4304 fix: 92 packages.
pub fn debian_openssl_layers() -> Result<Vec<Layer>> {
    let mut status = String::from_utf8(ecosystems_testdata(
        "dpkg/testdata/bookworm-minbase-status",
    )?)?;
    status.push('\n');
    status.push_str(&dpkg_stanza("libssl3", Some("openssl"), "3.0.7-1"));
    let mut layers = debian_layers()?;
    layers.push(Layer::new(
        &[Entry::File("var/lib/dpkg/status", status.into_bytes())],
        Compression::Gzip,
    )?);
    Ok(layers)
}

/// The findings of a Clair VulnerabilityReport as sorted `(package, vulnerability name, fixed version)`.
pub fn findings(report: &Value) -> Vec<(String, String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let mut found = Vec::new();
    if let Some(map) = report["package_vulnerabilities"].as_object() {
        for (pid, vids) in map {
            for vid in vids.as_array().into_iter().flatten() {
                let v = &report["vulnerabilities"][vid.as_str().unwrap_or_default()];
                found.push((
                    text(&report["packages"][pid]["name"]),
                    text(&v["name"]),
                    text(&v["fixed_in_version"]),
                ));
            }
        }
    }
    found.sort();
    found
}

/// The findings of [`debian_openssl_layers`] against the repository's bookworm OVAL excerpt
/// (`debian/testdata/oval-definitions-bookworm-excerpt.xml`).
pub fn debian_openssl_expected() -> Vec<(String, String, String)> {
    [
        ("apt", "CVE-2011-3374", ""),
        ("libapt-pkg6.0", "CVE-2011-3374", ""),
        ("libssl3", "CVE-2022-4304", "3.0.8-1"),
        ("tar", "CVE-2005-2541", ""),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect()
}

/// The Debian image with the vulnerable OpenSSL ([`debian_openssl_layers`]) saved as `dir/debian.tar`
/// (classic `docker save`, tagged `example/debian-openssl:12`).
pub fn debian_openssl_docker_save(dir: &Path) -> Result<PathBuf> {
    let image = dir.join("debian.tar");
    docker_save_classic(
        &image,
        &debian_openssl_layers()?,
        "example/debian-openssl:12",
    )?;
    Ok(image)
}

/// A feed folder (for `lucid update --from` or `LUCID_FEED_DIR`) under `dir` holding the repository's
/// real Debian bookworm OVAL excerpt.
pub fn bookworm_feed_dir(dir: &Path) -> Result<PathBuf> {
    let feeds = dir.join("feeds");
    std::fs::create_dir_all(&feeds)?;
    std::fs::write(
        feeds.join("oval-definitions-bookworm.xml"),
        ecosystems_testdata("debian/testdata/oval-definitions-bookworm-excerpt.xml")?,
    )?;
    Ok(feeds)
}

/// An Alpine image of one gzip layer with the real apk database sample.
pub fn alpine_layers() -> Result<Vec<Layer>> {
    Ok(vec![Layer::new(
        &[
            Entry::File(
                "etc/os-release",
                ecosystems_testdata("distribution/testdata/alpine-3.19.os-release")?,
            ),
            Entry::File(
                "lib/apk/db/installed",
                ecosystems_testdata("apk/testdata/installed")?,
            ),
        ],
        Compression::Gzip,
    )?])
}

fn config_json(layers: &[Layer], os: &str, arch: &str) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(Layer::diff_id).collect();
    serde_json::to_vec(&json!({
        "architecture": arch,
        "os": os,
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": layers.iter().map(|_| json!({"created_by": "test"})).collect::<Vec<_>>(),
    }))
    .unwrap_or_default()
}

fn write_blob(root: &Path, bytes: &[u8]) -> Result<(String, u64)> {
    let digest = sha256(bytes);
    let hex = digest.trim_start_matches("sha256:");
    let dir = root.join("blobs/sha256");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(hex), bytes)?;
    Ok((digest, bytes.len() as u64))
}

fn descriptor(media_type: &str, digest: &str, size: u64) -> Value {
    json!({"mediaType": media_type, "digest": digest, "size": size})
}

/// Writes an image manifest (and its config and layers) into the layout at `root`; returns its descriptor.
pub fn write_manifest(root: &Path, layers: &[Layer], os: &str, arch: &str) -> Result<Value> {
    let (config_digest, config_size) = write_blob(root, &config_json(layers, os, arch))?;
    let mut layer_descriptors = Vec::new();
    for l in layers {
        let (d, s) = write_blob(root, &l.blob)?;
        layer_descriptors.push(descriptor(l.media_type(), &d, s));
    }
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", &config_digest, config_size),
        "layers": layer_descriptors,
    }))?;
    let (d, s) = write_blob(root, &manifest)?;
    let mut desc = descriptor("application/vnd.oci.image.manifest.v1+json", &d, s);
    desc["platform"] = json!({"os": os, "architecture": arch});
    Ok(desc)
}

fn write_index(root: &Path, manifests: Vec<Value>) -> Result<()> {
    std::fs::write(
        root.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    std::fs::write(
        root.join("index.json"),
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        }))?,
    )?;
    Ok(())
}

/// An OCI image layout directory holding one image; returns the manifest digest.
pub fn oci_layout(root: &Path, layers: &[Layer]) -> Result<String> {
    std::fs::create_dir_all(root)?;
    let mut desc = write_manifest(root, layers, "linux", "amd64")?;
    desc["annotations"] = json!({"org.opencontainers.image.ref.name": "latest"});
    let digest = desc["digest"].as_str().unwrap_or_default().to_owned();
    write_index(root, vec![desc])?;
    Ok(digest)
}

/// A multi-platform layout: `index.json` → image index → linux/amd64 and linux/arm64 manifests, plus a
/// BuildKit attestation manifest. Returns (index digest, amd64 manifest digest, arm64 manifest digest).
pub fn multi_platform_layout(
    root: &Path,
    amd64: &[Layer],
    arm64: &[Layer],
) -> Result<(String, String, String)> {
    std::fs::create_dir_all(root)?;
    let a = write_manifest(root, amd64, "linux", "amd64")?;
    let b = write_manifest(root, arm64, "linux", "arm64")?;
    let attestation = {
        let (d, s) = write_blob(root, br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#)?;
        let mut desc = descriptor("application/vnd.oci.image.manifest.v1+json", &d, s);
        desc["platform"] = json!({"os": "unknown", "architecture": "unknown"});
        desc["annotations"] = json!({"vnd.docker.reference.type": "attestation-manifest"});
        desc
    };
    let a_digest = a["digest"].as_str().unwrap_or_default().to_owned();
    let b_digest = b["digest"].as_str().unwrap_or_default().to_owned();
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [attestation, b, a],
    }))?;
    let (d, s) = write_blob(root, &index)?;
    let mut desc = descriptor("application/vnd.oci.image.index.v1+json", &d, s);
    desc["annotations"] = json!({"io.containerd.image.name": "example.com/multi:1"});
    write_index(root, vec![desc])?;
    Ok((d, a_digest, b_digest))
}

/// Packs a directory into a tar file (paths relative to the directory).
pub fn tar_directory(dir: &Path, out: &Path) -> Result<()> {
    let file = std::fs::File::create(out)?;
    let mut b = tar::Builder::new(file);
    b.append_dir_all(".", dir)?;
    b.into_inner()?.sync_all()?;
    Ok(())
}

/// A classic `docker save` tar (Docker < 25): `<id>/layer.tar` per layer, `<config hex>.json`, and
/// `manifest.json`. A layer whose blob repeats an earlier one is stored as a symlink to it,
/// as Docker does. Returns the config digest (Docker's image id).
pub fn docker_save_classic(out: &Path, layers: &[Layer], tag: &str) -> Result<String> {
    let config = config_json(layers, "linux", "amd64");
    let config_digest = sha256(&config);
    let config_name = format!("{}.json", config_digest.trim_start_matches("sha256:"));
    let mut b = tar::Builder::new(std::fs::File::create(out)?);
    let mut paths = Vec::new();
    for (n, l) in layers.iter().enumerate() {
        let id = hex::encode(sha2::Sha256::digest(format!("layer-{n}").as_bytes()));
        let path = format!("{id}/layer.tar");
        let earlier = layers.iter().take(n).position(|e| e.blob == l.blob);
        match earlier.and_then(|i| paths.get(i)) {
            Some(first) => {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                h.set_mode(0o777);
                b.append_link(&mut h, &path, format!("../{first}"))?;
            }
            None => append(&mut b, &path, &l.blob)?,
        }
        paths.push(path);
    }
    append(&mut b, &config_name, &config)?;
    let manifest = serde_json::to_vec(&json!([{
        "Config": config_name,
        "RepoTags": [tag],
        "Layers": paths,
    }]))?;
    append(&mut b, "manifest.json", &manifest)?;
    append(&mut b, "repositories", b"{}")?;
    b.into_inner()?.sync_all()?;
    Ok(config_digest)
}

/// A `docker save` tar as Docker 25+ writes it: an OCI layout (`index.json`, `oci-layout`,
/// `blobs/sha256/…`) plus `manifest.json` naming the same blobs. Returns the manifest digest.
pub fn docker_save_oci(out: &Path, layers: &[Layer], tag: &str) -> Result<String> {
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    let mut desc = write_manifest(root, layers, "linux", "amd64")?;
    let manifest_digest = desc["digest"].as_str().unwrap_or_default().to_owned();
    desc["annotations"] = json!({
        "io.containerd.image.name": format!("docker.io/library/{tag}"),
        "org.opencontainers.image.ref.name": tag.rsplit(':').next().unwrap_or("latest"),
    });
    desc.as_object_mut().map(|o| o.remove("platform"));
    write_index(root, vec![desc])?;
    let config = config_json(layers, "linux", "amd64");
    let blob = |d: String| format!("blobs/sha256/{}", d.trim_start_matches("sha256:"));
    let manifest = serde_json::to_vec(&json!([{
        "Config": blob(sha256(&config)),
        "RepoTags": [tag],
        "Layers": layers.iter().map(|l| blob(l.digest())).collect::<Vec<_>>(),
    }]))?;
    std::fs::write(root.join("manifest.json"), manifest)?;
    tar_directory(root, out)?;
    Ok(manifest_digest)
}

fn append(b: &mut tar::Builder<std::fs::File>, path: &str, data: &[u8]) -> Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, path, data)?;
    Ok(())
}

/// A scratch directory for image files.
pub fn scratch() -> Result<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().to_owned();
    Ok((dir, path))
}
