//! Combines the per-layer scan results of one manifest into its [`IndexReport`], with Clair's stacking
//! rules (claircore `linux.Coalescer`, the language coalescers and the whiteout resolver):
//!
//! - **OS package databases** (dpkg, apk, rpm packages, grouped by `package_db`): a database file is
//!   rewritten whole by every layer that touches it, so the newest layer holding packages for a
//!   `package_db` defines that database's packages; older layers' packages for it are dropped wholesale.
//! - **Language packages** are grouped by the file that recorded them (`filepath`): a newer layer that
//!   rewrites the file replaces the packages it recorded. Packages without a `filepath` are kept per
//!   identity, newest layer first.
//! - **Whiteouts**: a surviving package whose `filepath` is under a path whited out (`.wh.<name>`, or an
//!   opaque directory) by a *newer* layer is dropped.
//! - `introduced_in` is the oldest layer from which the same package (name, version, package database,
//!   kind, arch) was present without interruption — a layer that rewrote the database without it, or a
//!   whiteout over its file, interrupts it.
//! - The distribution is the newest layer's that has one; OS packages point at it.
//! - A package found in several places is reported once, with one environment per place.
//!
//! Ids are strings `"1"`, `"2"`, … assigned in the sorted order of the values, so the same layers always
//! give the same report.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::{
    Digest, Distribution, Environment, IndexReport, IndexState, LayerContents, Package,
    ReportDistribution, ReportPackage, ReportRepository, Repository,
};

/// What makes packages replace each other across layers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Group<'a> {
    /// An OS package database: all its packages come from the newest layer that has it.
    Database(&'a str),
    /// A language package file: all packages it recorded come from the newest layer that has it.
    File(&'a str),
    /// A package without a file: kept per identity.
    Loose(PackageIdentity<'a>),
}

/// "The same package" for `introduced_in` and for the loose group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PackageIdentity<'a> {
    name: &'a str,
    version: &'a str,
    package_db: &'a str,
    kind: crate::model::PackageKind,
    arch: &'a str,
}

fn identity(p: &Package) -> PackageIdentity<'_> {
    PackageIdentity {
        name: &p.name,
        version: &p.version,
        package_db: &p.package_db,
        kind: p.kind,
        arch: &p.arch,
    }
}

fn group_of(p: &Package) -> Group<'_> {
    if p.ecosystem.is_some_and(|e| e.is_os()) {
        Group::Database(&p.package_db)
    } else if !p.filepath.is_empty() {
        Group::File(&p.filepath)
    } else {
        Group::Loose(identity(p))
    }
}

/// True when the whiteout `marker` (as stored in [`LayerContents::whiteouts`]) hides `path`: an opaque
/// marker `dir/` hides everything under `dir/`; `dir/name` hides `dir/name` and everything below it.
pub fn whiteout_covers(marker: &str, path: &str) -> bool {
    if marker.is_empty() || marker.ends_with('/') {
        return path.starts_with(marker);
    }
    match path.strip_prefix(marker) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Whether any whiteout in `layer` hides `path` (a package without a file path cannot be hidden).
fn hidden_by(layer: &LayerContents, path: &str) -> bool {
    !path.is_empty() && layer.whiteouts.iter().any(|w| whiteout_covers(w, path))
}

/// Builds the manifest's report from its layers' contents, given in stacking order (base first). The
/// report is in state `IndexFinished`.
pub fn coalesce(manifest: &Digest, layers: &[(Digest, LayerContents)]) -> IndexReport {
    let mut report = IndexReport::new(manifest.clone(), IndexState::IndexFinished);

    // The newest layer defining each group, and each layer's set of groups and package identities.
    let mut newest: HashMap<Group<'_>, usize> = HashMap::new();
    let mut groups_in: Vec<BTreeSet<usize>> = Vec::with_capacity(layers.len());
    let mut group_ids: HashMap<Group<'_>, usize> = HashMap::new();
    let mut identities_in: Vec<std::collections::HashSet<PackageIdentity<'_>>> =
        Vec::with_capacity(layers.len());
    for (index, (_, contents)) in layers.iter().enumerate() {
        let mut groups = BTreeSet::new();
        let mut identities = std::collections::HashSet::new();
        for p in &contents.packages {
            let group = group_of(p);
            let next_id = group_ids.len();
            groups.insert(*group_ids.entry(group.clone()).or_insert(next_id));
            newest.insert(group, index);
            identities.insert(identity(p));
        }
        groups_in.push(groups);
        identities_in.push(identities);
    }

    // The distribution: the newest layer's.
    let distributions: BTreeSet<&Distribution> = layers
        .iter()
        .rev()
        .find(|(_, c)| !c.distributions.is_empty())
        .map(|(_, c)| c.distributions.iter().collect())
        .unwrap_or_default();
    let mut distribution_ids: BTreeMap<&Distribution, String> = BTreeMap::new();
    for (n, d) in distributions.iter().enumerate() {
        let id = (n + 1).to_string();
        report.distributions.insert(
            id.clone(),
            ReportDistribution::from_distribution(id.clone(), d),
        );
        distribution_ids.insert(d, id);
    }
    let os_distribution_id = layers
        .iter()
        .rev()
        .find_map(|(_, c)| c.distributions.first())
        .and_then(|d| distribution_ids.get(d))
        .cloned()
        .unwrap_or_default();

    // Repositories: every distinct one found.
    let repositories: BTreeSet<&Repository> =
        layers.iter().flat_map(|(_, c)| &c.repositories).collect();
    let mut repository_ids: Vec<(&Repository, String)> = Vec::with_capacity(repositories.len());
    for (n, r) in repositories.iter().enumerate() {
        let id = (n + 1).to_string();
        report
            .repository
            .insert(id.clone(), ReportRepository::from_repository(id.clone(), r));
        repository_ids.push((r, id));
    }

    // Surviving packages, keyed by their reported identity, with their environments.
    type EnvironmentKey = (String, String, String, Vec<String>);
    let mut reported: BTreeMap<Package, BTreeSet<EnvironmentKey>> = BTreeMap::new();
    for (index, (_, contents)) in layers.iter().enumerate() {
        for p in &contents.packages {
            let group = group_of(p);
            if newest.get(&group) != Some(&index) {
                continue;
            }
            let newer = layers.get(index + 1..).unwrap_or_default();
            if newer.iter().any(|(_, c)| hidden_by(c, &p.filepath)) {
                continue;
            }
            let group_id = group_ids.get(&group).copied();
            let introduced = introduced_in(layers, &groups_in, &identities_in, group_id, p, index);
            let introduced_digest = layers
                .get(introduced)
                .map(|(d, _)| d.to_string())
                .unwrap_or_default();
            let is_os = p.ecosystem.is_some_and(|e| e.is_os());
            let distribution_id = if is_os {
                os_distribution_id.clone()
            } else {
                String::new()
            };
            let repos: Vec<String> = repository_ids
                .iter()
                .filter(|(r, _)| {
                    (!p.repository_hint.is_empty() && r.name == p.repository_hint)
                        || (!is_os && p.ecosystem.is_some_and(|e| r.name == e.as_str()))
                })
                .map(|(_, id)| id.clone())
                .collect();
            let shown = Package {
                package_db: String::new(),
                filepath: String::new(),
                repository_hint: String::new(),
                ..p.clone()
            };
            reported.entry(shown).or_default().insert((
                p.package_db.clone(),
                introduced_digest,
                distribution_id,
                repos,
            ));
        }
    }

    for (n, (package, environments)) in reported.into_iter().enumerate() {
        let id = (n + 1).to_string();
        report.packages.insert(
            id.clone(),
            ReportPackage::from_package(id.clone(), &package),
        );
        report.environments.insert(
            id,
            environments
                .into_iter()
                .map(
                    |(package_db, introduced_in, distribution_id, repository_ids)| Environment {
                        package_db,
                        introduced_in,
                        distribution_id,
                        repository_ids,
                    },
                )
                .collect(),
        );
    }
    report
}

/// The oldest layer index from which `p` (found in layer `from`) was present without interruption.
fn introduced_in(
    layers: &[(Digest, LayerContents)],
    groups_in: &[BTreeSet<usize>],
    identities_in: &[std::collections::HashSet<PackageIdentity<'_>>],
    group_id: Option<usize>,
    p: &Package,
    from: usize,
) -> usize {
    let wanted = identity(p);
    let mut introduced = from;
    for lower in (0..from).rev() {
        // A whiteout in the layer above hides the lower layer's copy: continuity ends there.
        if layers
            .get(lower + 1)
            .is_some_and(|(_, c)| hidden_by(c, &p.filepath))
        {
            break;
        }
        let defines_group =
            group_id.is_some_and(|g| groups_in.get(lower).is_some_and(|s| s.contains(&g)));
        let has_package = identities_in
            .get(lower)
            .is_some_and(|s| s.contains(&wanted));
        if has_package {
            introduced = lower;
        } else if defines_group {
            break;
        }
    }
    introduced
}
