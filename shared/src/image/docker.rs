//! The classic `docker save` form: `manifest.json` lists, per image, its config file and its layer files by
//! path (`<id>/layer.tar`, or `blobs/sha256/<hex>` since Docker 25).

use serde::Deserialize;

use super::archive::Archive;
use super::{
    Image, ImageError, ImageFormat, ImageLayer, MAX_METADATA_BYTES, OpenOptions, Platform,
    manifest_of, sha256_of_reader,
};
use crate::layer::Compression;
use crate::model::Digest;

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
struct Config {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    rootfs: RootFs,
}

#[derive(Debug, Deserialize, Default)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

/// `blobs/<algorithm>/<hex>` names its own digest.
pub(super) fn digest_from_blob_path(path: &str) -> Option<Digest> {
    let normalized = super::archive::normalize(path)?;
    let rest = normalized.strip_prefix("blobs/")?;
    let (algorithm, hex) = rest.split_once('/')?;
    format!("{algorithm}:{hex}").parse().ok()
}

pub(super) fn open(archive: Archive, options: &OpenOptions) -> Result<Image, ImageError> {
    let location = archive.location().to_owned();
    let bytes = archive.read_small("manifest.json", MAX_METADATA_BYTES)?;
    let entries: Vec<Entry> = serde_json::from_slice(&bytes).map_err(|e| {
        ImageError::not_an_image(
            &location,
            format!("manifest.json is not a docker-save manifest: {e}"),
        )
    })?;
    let mut notes = Vec::new();
    let mut candidates = Vec::new();
    for entry in entries {
        let config_bytes = archive.read_small(&entry.config, MAX_METADATA_BYTES)?;
        let config: Config = serde_json::from_slice(&config_bytes).map_err(|e| {
            ImageError::not_an_image(&location, format!("image config {}: {e}", entry.config))
        })?;
        candidates.push((entry, config, Digest::sha256_of(&config_bytes)));
    }
    let platform_of = |c: &Config| Platform {
        os: c.os.clone(),
        architecture: c.architecture.clone(),
        variant: c.variant.clone().filter(|v| !v.is_empty()),
    };
    let chosen = match &options.platform {
        Some(wanted) => candidates
            .iter()
            .position(|(_, c, _)| wanted.accepts(&platform_of(c)))
            .ok_or_else(|| ImageError::NoSuchPlatform {
                image: location.clone(),
                wanted: wanted.to_string(),
                available: candidates
                    .iter()
                    .map(|(_, c, _)| platform_of(c).to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?,
        None => 0,
    };
    if candidates.len() > 1 {
        notes.push(format!(
            "the archive holds {} images; scanning image {} of them",
            candidates.len(),
            chosen + 1
        ));
    }
    if candidates.is_empty() {
        return Err(ImageError::not_an_image(
            &location,
            "manifest.json lists no image",
        ));
    }
    let (entry, config, config_digest) = candidates.swap_remove(chosen);
    let mut layers = Vec::with_capacity(entry.layers.len());
    for (n, path) in entry.layers.iter().enumerate() {
        let (mut reader, size) = archive.open(path)?;
        let digest = match digest_from_blob_path(path) {
            Some(d) => d,
            None => {
                // A plain tar's digest is its diff_id; a compressed one must be hashed.
                let mut head = [0u8; 4];
                let got =
                    read_up_to(&mut reader, &mut head).map_err(|e| ImageError::io(&location, e))?;
                let diff_id = config.rootfs.diff_ids.get(n).and_then(|d| d.parse().ok());
                match (
                    Compression::sniff(head.get(..got).unwrap_or_default()),
                    diff_id,
                ) {
                    (Compression::None, Some(d)) => d,
                    _ => {
                        let (reader, _) = archive.open(path)?;
                        sha256_of_reader(reader).map_err(|e| ImageError::io(&location, e))?
                    }
                }
            }
        };
        layers.push(ImageLayer {
            digest,
            size,
            media_type: String::new(),
            path: path.clone(),
        });
    }
    let name = entry.repo_tags.and_then(|t| t.into_iter().next());
    Ok(Image {
        format: ImageFormat::DockerArchive,
        manifest: manifest_of(config_digest, &layers),
        layers,
        name,
        platform: Some(platform_of(&config)).filter(|p| !p.os.is_empty()),
        notes,
        archive,
    })
}

fn read_up_to(reader: &mut dyn std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}
