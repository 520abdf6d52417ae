//! Small real layers built from the repository's testdata (see the SOURCE.md files beside it), for
//! end-to-end tests of indexing and the API.

use std::io::Write;

use lucid::model::{Digest, LayerRef, Manifest};

const ECOSYSTEMS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/src/ecosystems");

/// A testdata file under `shared/src/ecosystems`.
pub fn testdata(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{ECOSYSTEMS}/{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A tar of (path, contents) regular files.
pub fn tar_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, data.as_slice())
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    b.into_inner().unwrap_or_else(|e| panic!("tar: {e}"))
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap_or_else(|e| panic!("gzip: {e}"));
    e.finish().unwrap_or_else(|e| panic!("gzip: {e}"))
}

/// Debian bookworm's real os-release and dpkg status (88 packages, libc6 2.36-9+deb12u14), gzipped.
pub fn debian_base_layer() -> Vec<u8> {
    gzip(&tar_of(&[
        (
            "etc/os-release",
            testdata("distribution/testdata/debian-12.os-release"),
        ),
        (
            "var/lib/dpkg/status",
            testdata("dpkg/testdata/bookworm-minbase-status"),
        ),
    ]))
}

/// A layer with one PyYAML 6.0.4 wheel METADATA, uncompressed.
pub fn python_layer() -> Vec<u8> {
    tar_of(&[(
        "usr/lib/python3/dist-packages/PyYAML-6.0.4.dist-info/METADATA",
        testdata("python/testdata/scanner/pyyaml-6.0.4.dist-info.METADATA"),
    )])
}

/// A manifest of the given layer blobs (no URIs); its digest is derived from the layer digests.
pub fn manifest_of(layers: &[&[u8]]) -> Manifest {
    let refs: Vec<LayerRef> = layers
        .iter()
        .map(|b| LayerRef {
            hash: Digest::sha256_of(b),
            uri: String::new(),
            headers: Default::default(),
        })
        .collect();
    let mut id = Vec::new();
    for l in &refs {
        id.extend_from_slice(l.hash.to_string().as_bytes());
    }
    Manifest {
        hash: Digest::sha256_of(&id),
        layers: refs,
    }
}
