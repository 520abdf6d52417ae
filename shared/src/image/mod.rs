//! Image inputs for local scans: a `docker save` tar (the classic `manifest.json` form and the newer one
//! that also holds an OCI layout), an OCI image layout (a directory, or the same in a tar), or an unpacked
//! root filesystem.
//!
//! Opening an image reads only its metadata (index, manifest, config): the result is a [`Manifest`] (digest
//! and ordered layers) and a way to stream each layer blob as stored ([`Image::open_layer`]), seeking into a
//! tar instead of extracting it. Layer digests come from the OCI manifest when there is one; a classic
//! docker-save names layers by path, so their digest is the config's `diff_id` when the layer is an
//! uncompressed tar (the digest of the uncompressed tar *is* the blob's) and is computed by hashing the
//! blob otherwise. Either way [`read_layer`](crate::layer::read_layer) verifies it while indexing.

mod archive;
mod docker;
mod oci;
pub mod registry;

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::model::{Digest, LayerRef, Manifest};
use archive::Archive;

/// Largest metadata file (index, manifest, config) read into memory.
const MAX_METADATA_BYTES: u64 = 8 << 20;

/// Why an image could not be opened. Each variant displays as one line.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("not a docker-save or OCI image: {path}: {reason}")]
    NotAnImage { path: PathBuf, reason: String },
    #[error("{image}: {file} is missing from the image")]
    Missing { image: PathBuf, file: String },
    #[error("{image}: no image for platform {wanted} (available: {available})")]
    NoSuchPlatform {
        image: PathBuf,
        wanted: String,
        available: String,
    },
    #[error("invalid platform {0:?}: expected os/architecture[/variant], e.g. linux/amd64")]
    BadPlatform(String),
    #[error("registry image {reference}: {reason}")]
    Registry { reference: String, reason: String },
}

impl ImageError {
    fn io(path: &Path, source: std::io::Error) -> ImageError {
        ImageError::Io {
            path: path.to_owned(),
            source,
        }
    }

    fn not_an_image(path: &Path, reason: impl Into<String>) -> ImageError {
        ImageError::NotAnImage {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}

/// A platform as `os/architecture[/variant]` (`linux/amd64`, `linux/arm64/v8`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// The platform chosen when none is asked for (if the image offers it).
    pub fn default_choice() -> Platform {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }

    /// Whether an image for `other` satisfies a request for `self` (a request without a variant accepts any).
    pub fn accepts(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_none() || self.variant == other.variant)
    }
}

impl FromStr for Platform {
    type Err = ImageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok =
            |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(Platform {
                os: (*os).to_owned(),
                architecture: (*arch).to_owned(),
                variant: None,
            }),
            [os, arch, variant] if ok(os) && ok(arch) && ok(variant) => Ok(Platform {
                os: (*os).to_owned(),
                architecture: (*arch).to_owned(),
                variant: Some((*variant).to_owned()),
            }),
            _ => Err(ImageError::BadPlatform(s.chars().take(60).collect())),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// How the image was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// A `docker save` tar with `manifest.json` only (layers named by path).
    DockerArchive,
    /// An OCI image layout in a directory.
    OciLayout,
    /// An OCI image layout in a tar (including a `docker save` that carries one).
    OciArchive,
    /// Pulled from a registry (Docker Registry HTTP API v2).
    Registry,
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImageFormat::DockerArchive => "docker-save archive",
            ImageFormat::OciLayout => "OCI image layout",
            ImageFormat::OciArchive => "OCI image archive",
            ImageFormat::Registry => "registry image",
        })
    }
}

/// One layer of an image: its digest (of the blob as stored) and where the blob is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageLayer {
    pub digest: Digest,
    /// Bytes of the blob as stored.
    pub size: u64,
    /// The media type the manifest gives, or empty.
    pub media_type: String,
    /// Path of the blob inside the archive or layout.
    path: String,
}

/// An opened image: what to index and how to read each layer.
#[derive(Debug)]
pub struct Image {
    pub format: ImageFormat,
    /// The manifest digest (for a classic docker-save, which has no manifest: the config digest, i.e. the
    /// Docker image id) and the layers in stacking order.
    pub manifest: Manifest,
    pub layers: Vec<ImageLayer>,
    /// A tag or reference name recorded in the archive, if any.
    pub name: Option<String>,
    pub platform: Option<Platform>,
    /// Things worth telling the user (another image in the archive was not scanned, …).
    pub notes: Vec<String>,
    archive: Archive,
}

impl Image {
    /// Streams the layer blob exactly as stored (compressed or not).
    pub fn open_layer(&self, layer: &ImageLayer) -> Result<Box<dyn Read + Send>, ImageError> {
        Ok(self.archive.open(&layer.path)?.0)
    }

    /// Where the image was read from.
    pub fn location(&self) -> &Path {
        self.archive.location()
    }
}

/// What `lucid scan` was pointed at.
#[derive(Debug)]
pub enum ScanTarget {
    Image(Box<Image>),
    /// An unpacked root filesystem, scanned with [`crate::layer::rootfs::scan_directory`].
    Rootfs(PathBuf),
}

/// Options for [`open`].
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// The platform to pick from a multi-platform image (default: linux/amd64, else the first).
    pub platform: Option<Platform>,
}

/// Opens `path`: a tar (docker-save or OCI archive), a directory holding an OCI layout or an unpacked
/// docker-save, or any other directory as a root filesystem.
pub fn open(path: &Path, options: &OpenOptions) -> Result<ScanTarget, ImageError> {
    let meta = std::fs::metadata(path).map_err(|e| ImageError::io(path, e))?;
    let archive = if meta.is_dir() {
        let layout = path.join("oci-layout").is_file()
            || (path.join("index.json").is_file() && path.join("blobs").is_dir());
        let docker = path.join("manifest.json").is_file() && !path.join("etc").is_dir();
        if !layout && !docker {
            return Ok(ScanTarget::Rootfs(path.to_owned()));
        }
        Archive::dir(path)
    } else {
        sniff_file(path)?;
        Archive::tar(path)?
    };
    let is_dir = meta.is_dir();
    let image = if archive.contains("index.json") {
        let format = if is_dir {
            ImageFormat::OciLayout
        } else {
            ImageFormat::OciArchive
        };
        oci::open(archive, format, options)?
    } else if archive.contains("manifest.json") {
        docker::open(archive, options)?
    } else {
        return Err(ImageError::not_an_image(
            path,
            "neither index.json (OCI layout) nor manifest.json (docker save) found",
        ));
    };
    tracing::debug!(manifest = %image.manifest.hash, layers = image.layers.len(), format = %image.format, "image opened");
    Ok(ScanTarget::Image(Box::new(image)))
}

/// Rejects files that are not tar archives with a reason a user can act on.
fn sniff_file(path: &Path) -> Result<(), ImageError> {
    let mut head = [0u8; 512];
    let mut file = std::fs::File::open(path).map_err(|e| ImageError::io(path, e))?;
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ImageError::io(path, e)),
        }
    }
    let head = &head[..got];
    match crate::layer::Compression::sniff(head) {
        crate::layer::Compression::None => {}
        c => {
            return Err(ImageError::not_an_image(
                path,
                format!("the archive is {c}-compressed; decompress it first"),
            ));
        }
    }
    if got < 512 || head.get(257..262) != Some(b"ustar".as_slice()) {
        return Err(ImageError::not_an_image(
            path,
            "not a tar archive or a directory",
        ));
    }
    Ok(())
}

/// Builds the manifest from the layers.
fn manifest_of(hash: Digest, layers: &[ImageLayer]) -> Manifest {
    Manifest {
        hash,
        layers: layers
            .iter()
            .map(|l| LayerRef {
                hash: l.digest.clone(),
                uri: String::new(),
                headers: Default::default(),
            })
            .collect(),
    }
}

/// The sha256 of a stream.
fn sha256_of_reader(mut reader: impl Read) -> std::io::Result<Digest> {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Digest::from_sha256_bytes(&hasher.finalize()))
}

#[cfg(test)]
mod tests;
