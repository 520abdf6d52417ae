//! OCI image layouts (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`), in a directory or a tar — which is
//! also what `docker save` writes since Docker 25 (alongside its `manifest.json`).
//!
//! `index.json` → (image index → one platform's manifest)* → manifest → config and layers. When an index
//! offers several platforms, the requested one is taken, else linux/amd64 when present, else the first one
//! whose manifest is in the layout (a `docker save` of one platform lists the others without their blobs).
//! Attestation manifests (BuildKit's `unknown/unknown`) are never chosen.

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};

use super::archive::Archive;
use super::docker::digest_from_blob_path;
use super::{
    Image, ImageError, ImageFormat, ImageLayer, MAX_METADATA_BYTES, OpenOptions, Platform,
    manifest_of,
};
use crate::model::Digest;

/// Nested image indexes followed at most.
const MAX_INDEX_DEPTH: usize = 4;

pub(super) const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";

fn blob_path(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm().as_str(), digest.hex())
}

fn digest_of(d: &Descriptor, location: &std::path::Path) -> Result<Digest, ImageError> {
    d.digest().to_string().parse().map_err(|e| {
        ImageError::not_an_image(location, format!("descriptor digest {}: {e}", d.digest()))
    })
}

fn platform_of(d: &Descriptor) -> Option<Platform> {
    d.platform().as_ref().map(|p| Platform {
        os: p.os().to_string(),
        architecture: p.architecture().to_string(),
        variant: p.variant().clone().filter(|v| !v.is_empty()),
    })
}

fn is_attestation(d: &Descriptor) -> bool {
    let annotated = d.annotations().as_ref().is_some_and(|a| {
        a.get("vnd.docker.reference.type")
            .is_some_and(|t| t == "attestation-manifest")
    });
    annotated || platform_of(d).is_some_and(|p| p.os == "unknown")
}

fn name_of(d: &Descriptor) -> Option<String> {
    let a = d.annotations().as_ref()?;
    a.get(CONTAINERD_NAME).or_else(|| a.get(REF_NAME)).cloned()
}

pub(super) fn open(
    archive: Archive,
    format: ImageFormat,
    options: &OpenOptions,
) -> Result<Image, ImageError> {
    let location = archive.location().to_owned();
    let mut notes = Vec::new();
    let mut name = None;
    let mut chosen_platform = None;
    let index_bytes = archive.read_small("index.json", MAX_METADATA_BYTES)?;
    let mut index = ImageIndex::from_reader(index_bytes.as_slice()).map_err(|e| {
        ImageError::not_an_image(
            &location,
            format!("index.json is not an OCI image index: {e}"),
        )
    })?;
    let mut depth = 0;
    let manifest_descriptor = loop {
        let descriptor = choose(&archive, index.manifests(), options, &mut notes, depth == 0)?;
        name = name.or_else(|| name_of(&descriptor));
        chosen_platform = platform_of(&descriptor).or(chosen_platform);
        let media_type = descriptor.media_type().to_string();
        if !INDEX_TYPES.contains(&media_type.as_str()) {
            break descriptor;
        }
        depth += 1;
        if depth > MAX_INDEX_DEPTH {
            return Err(ImageError::not_an_image(
                &location,
                format!("image indexes nested more than {MAX_INDEX_DEPTH} deep"),
            ));
        }
        let digest = digest_of(&descriptor, &location)?;
        let bytes = archive.read_small(&blob_path(&digest), MAX_METADATA_BYTES)?;
        check_digest(&location, &digest, &bytes)?;
        index = ImageIndex::from_reader(bytes.as_slice()).map_err(|e| {
            ImageError::not_an_image(&location, format!("image index {digest}: {e}"))
        })?;
    };
    let manifest_digest = digest_of(&manifest_descriptor, &location)?;
    let bytes = archive.read_small(&blob_path(&manifest_digest), MAX_METADATA_BYTES)?;
    check_digest(&location, &manifest_digest, &bytes)?;
    let manifest = ImageManifest::from_reader(bytes.as_slice()).map_err(|e| {
        ImageError::not_an_image(&location, format!("image manifest {manifest_digest}: {e}"))
    })?;
    let mut layers = Vec::with_capacity(manifest.layers().len());
    for l in manifest.layers() {
        let digest = digest_of(l, &location)?;
        let path = blob_path(&digest);
        if !archive.contains(&path) {
            return Err(ImageError::Missing {
                image: location.clone(),
                file: format!("layer blob {digest}"),
            });
        }
        debug_assert_eq!(digest_from_blob_path(&path).as_ref(), Some(&digest));
        layers.push(ImageLayer {
            digest,
            size: l.size(),
            media_type: l.media_type().to_string(),
            path,
        });
    }
    Ok(Image {
        format,
        manifest: manifest_of(manifest_digest, &layers),
        layers,
        name,
        platform: chosen_platform,
        notes,
        archive,
    })
}

/// A manifest or index blob must hash to the digest that named it.
fn check_digest(
    location: &std::path::Path,
    digest: &Digest,
    bytes: &[u8],
) -> Result<(), ImageError> {
    let actual = Digest::sha256_of(bytes);
    if digest.algorithm() == crate::model::DigestAlgorithm::Sha256 && &actual != digest {
        return Err(ImageError::not_an_image(
            location,
            format!("blob {digest} hashes to {actual}"),
        ));
    }
    Ok(())
}

/// Picks one entry of an index.
fn choose(
    archive: &Archive,
    entries: &[Descriptor],
    options: &OpenOptions,
    notes: &mut Vec<String>,
    top: bool,
) -> Result<Descriptor, ImageError> {
    let location = archive.location();
    let present = |d: &Descriptor| {
        digest_of(d, location)
            .map(|dg| archive.contains(&blob_path(&dg)))
            .unwrap_or(false)
    };
    let usable: Vec<&Descriptor> = entries.iter().filter(|d| !is_attestation(d)).collect();
    if usable.is_empty() {
        return Err(ImageError::not_an_image(
            location,
            "the image index lists no image",
        ));
    }
    let with_platform = usable.iter().any(|d| d.platform().is_some());
    if let Some(wanted) = &options.platform
        && with_platform
    {
        let found = usable
            .iter()
            .find(|d| platform_of(d).is_some_and(|p| wanted.accepts(&p)));
        return match found {
            Some(d) if present(d) => Ok((*d).clone()),
            Some(_) => Err(ImageError::Missing {
                image: location.to_owned(),
                file: format!("the manifest for platform {wanted}"),
            }),
            None => Err(ImageError::NoSuchPlatform {
                image: location.to_owned(),
                wanted: wanted.to_string(),
                available: usable
                    .iter()
                    .filter_map(|d| platform_of(d))
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        };
    }
    let default = Platform::default_choice();
    let preferred = usable
        .iter()
        .find(|d| present(d) && platform_of(d).is_some_and(|p| default.accepts(&p)))
        .or_else(|| usable.iter().find(|d| present(d)))
        .copied()
        .ok_or_else(|| ImageError::Missing {
            image: location.to_owned(),
            file: "every manifest the index lists".to_owned(),
        })?;
    if top && !with_platform && usable.len() > 1 {
        notes.push(format!(
            "the layout holds {} images; scanning {}",
            usable.len(),
            name_of(preferred).unwrap_or_else(|| preferred.digest().to_string())
        ));
    }
    Ok(preferred.clone())
}
