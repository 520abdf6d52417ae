//! Fixtures for notifier tests: manifests indexed through the index store (so the reverse index is written
//! the way the indexer writes it), Alpine images, and Alpine secdb feed folders for the real updater.

use std::path::Path;

use anyhow::{Result, anyhow};
use lucid::model::{
    Digest, Distribution, Ecosystem, IndexState, LayerContents, LayerRef, Manifest, Package,
    PackageKind, SourcePackage,
};
use lucid::store::Database;
use lucid::store::index::IndexStore;

const SCANNER_SET: &str = "notifier-test";

/// Indexes a one-layer manifest with `contents` through the index store (register, scan, complete), as
/// the indexer does. `seed` makes its digests unique.
pub async fn index_manifest(db: &Database, seed: &str, contents: &LayerContents) -> Result<Digest> {
    let store = IndexStore::new(db.clone());
    let layer = Digest::sha256_of(format!("layer of {seed}").as_bytes());
    let manifest = Manifest {
        hash: Digest::sha256_of(format!("manifest {seed}").as_bytes()),
        layers: vec![LayerRef {
            hash: layer.clone(),
            uri: String::new(),
            headers: Default::default(),
        }],
    };
    store.register_manifest(&manifest, SCANNER_SET).await?;
    store.begin_layer_scan(&layer, SCANNER_SET).await?;
    store
        .finish_layer_scan(&layer, SCANNER_SET, contents, 0, 0)
        .await?;
    let state = store
        .try_complete_manifest(&manifest.hash, SCANNER_SET, lucid::layer::coalesce)
        .await?;
    if state != Some(IndexState::IndexFinished) {
        return Err(anyhow!("manifest {seed} did not finish: {state:?}"));
    }
    Ok(manifest.hash)
}

/// An Alpine 3.19 layer with apk packages `(name, version, origin)`.
pub fn alpine_layer(packages: &[(&str, &str, &str)]) -> LayerContents {
    LayerContents {
        distributions: vec![Distribution {
            did: "alpine".into(),
            name: "Alpine Linux".into(),
            version_id: "3.19.1".into(),
            pretty_name: "Alpine Linux v3.19".into(),
            ..Distribution::default()
        }],
        packages: packages
            .iter()
            .map(|(name, version, origin)| Package {
                ecosystem: Some(Ecosystem::Apk),
                name: (*name).into(),
                version: (*version).into(),
                kind: PackageKind::Binary,
                source: Some(SourcePackage {
                    name: (*origin).into(),
                    version: (*version).into(),
                }),
                package_db: "lib/apk/db/installed".into(),
                ..Package::default()
            })
            .collect(),
        ..LayerContents::default()
    }
}

/// Writes an Alpine secdb (`alpine/v3.19/main.json`, the updater `alpine/v3.19/main`) under `dir` with
/// `fixes`: (origin package, fixed version, CVE ids).
pub fn write_alpine_secdb(dir: &Path, fixes: &[(&str, &str, &[&str])]) -> Result<()> {
    let mut packages: Vec<serde_json::Value> = Vec::new();
    for (name, fixed, cves) in fixes {
        packages.push(serde_json::json!({
            "pkg": {"name": name, "secfixes": {*fixed: cves}}
        }));
    }
    let secdb = serde_json::json!({
        "apkurl": "{{urlprefix}}/{{distroversion}}/{{reponame}}/{{arch}}/{{pkg.name}}-{{pkg.ver}}.apk",
        "archs": ["x86_64"],
        "reponame": "main",
        "urlprefix": "https://dl-cdn.alpinelinux.org/alpine",
        "distroversion": "v3.19",
        "packages": packages,
    });
    let folder = dir.join("alpine/v3.19");
    std::fs::create_dir_all(&folder)?;
    std::fs::write(folder.join("main.json"), serde_json::to_vec_pretty(&secdb)?)?;
    Ok(())
}

/// A configuration from `vars` only (no process environment).
pub fn config(vars: &[(&str, String)]) -> Result<lucid::config::Config> {
    Ok(lucid::config::Config::from_lookup(|k| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.clone())
    })?)
}

/// Handles messages from `queue` with `notifier` until none arrives for `idle` (or `limit` passes),
/// deleting the handled ones as a Lambda event source mapping does. Returns what each message did.
pub async fn pump(
    notifier: &lucid::notifier::Notifier,
    queue: &dyn lucid::queue::Queue,
    idle: std::time::Duration,
    limit: std::time::Duration,
) -> Result<Vec<lucid::notifier::Handled>> {
    let deadline = std::time::Instant::now() + limit;
    let mut handled = Vec::new();
    while std::time::Instant::now() < deadline {
        let messages = queue.receive(10, idle, None).await?;
        if messages.is_empty() {
            break;
        }
        for m in messages {
            handled.push(notifier.handle_message(&m.body).await?);
            queue.delete_batch(std::slice::from_ref(&m.receipt)).await?;
        }
    }
    Ok(handled)
}
