//! `coalesce` on hand-written layer contents: every rule with its expected report written out.

use crate::layer::coalesce::{coalesce, whiteout_covers};
use crate::model::{
    Digest, Distribution, Ecosystem, Environment, IndexReport, LayerContents, Package, Repository,
};

fn layer_digest(n: u8) -> Digest {
    Digest::sha256_of(&[n])
}

fn manifest() -> Digest {
    Digest::sha256_of(b"manifest")
}

fn dpkg(name: &str, version: &str) -> Package {
    Package {
        ecosystem: Some(Ecosystem::Dpkg),
        name: name.into(),
        version: version.into(),
        arch: "amd64".into(),
        package_db: "var/lib/dpkg/status".into(),
        filepath: "var/lib/dpkg/status".into(),
        ..Default::default()
    }
}

fn pip(name: &str, version: &str) -> Package {
    Package {
        ecosystem: Some(Ecosystem::PyPI),
        name: name.into(),
        version: version.into(),
        package_db: "python:usr/lib/python3/dist-packages".into(),
        filepath: format!("usr/lib/python3/dist-packages/{name}-{version}.dist-info/METADATA"),
        ..Default::default()
    }
}

fn pypi_repo() -> Repository {
    Repository {
        name: "pypi".into(),
        uri: "https://pypi.org/simple".into(),
        ..Default::default()
    }
}

fn bookworm() -> Distribution {
    Distribution {
        did: "debian".into(),
        version_id: "12".into(),
        version_code_name: "bookworm".into(),
        ..Default::default()
    }
}

fn layers(contents: Vec<LayerContents>) -> Vec<(Digest, LayerContents)> {
    contents
        .into_iter()
        .enumerate()
        .map(|(n, c)| (layer_digest(n as u8), c))
        .collect()
}

/// (name, version, [(package_db, introduced_in layer index)]) for every reported package, sorted.
/// (name, version, [(package_db, introduced_in layer index)]).
type Row = (String, String, Vec<(String, usize)>);

fn summary(report: &IndexReport) -> Vec<Row> {
    let index_of = |d: &str| {
        (0..10u8)
            .find(|n| layer_digest(*n).to_string() == d)
            .unwrap() as usize
    };
    let mut rows: Vec<_> = report
        .packages
        .iter()
        .map(|(id, p)| {
            let envs = report.environments[id]
                .iter()
                .map(|e| (e.package_db.clone(), index_of(&e.introduced_in)))
                .collect();
            (p.name.clone(), p.version.clone(), envs)
        })
        .collect();
    rows.sort();
    rows
}

fn row(
    name: &str,
    version: &str,
    envs: &[(&str, usize)],
) -> (String, String, Vec<(String, usize)>) {
    (
        name.into(),
        version.into(),
        envs.iter().map(|(db, n)| (db.to_string(), *n)).collect(),
    )
}

const DPKG: &str = "var/lib/dpkg/status";
const PY: &str = "python:usr/lib/python3/dist-packages";

#[test]
fn newer_os_database_replaces_the_older_one_wholesale() {
    let report = coalesce(
        &manifest(),
        &layers(vec![
            LayerContents {
                packages: vec![
                    dpkg("base-files", "12.4"),
                    dpkg("tzdata", "2025a"),
                    dpkg("zlib1g", "1.2"),
                ],
                distributions: vec![bookworm()],
                ..Default::default()
            },
            LayerContents::default(),
            LayerContents {
                packages: vec![
                    dpkg("base-files", "12.4"),
                    dpkg("tzdata", "2025b"),
                    dpkg("curl", "7.88"),
                ],
                ..Default::default()
            },
        ]),
    );
    assert_eq!(report.state, "IndexFinished");
    assert!(report.success);
    // zlib1g (removed) and tzdata 2025a (upgraded) are gone; base-files stays from layer 0 through the
    // untouched layer 1 into layer 2.
    assert_eq!(
        summary(&report),
        vec![
            row("base-files", "12.4", &[(DPKG, 0)]),
            row("curl", "7.88", &[(DPKG, 2)]),
            row("tzdata", "2025b", &[(DPKG, 2)]),
        ]
    );
    // OS packages point at the distribution.
    assert_eq!(report.distributions.len(), 1);
    assert_eq!(report.distributions["1"].version_code_name, "bookworm");
    assert!(
        report
            .environments
            .values()
            .flatten()
            .all(|e| e.distribution_id == "1")
    );
}

#[test]
fn a_layer_that_rewrites_the_database_without_a_package_breaks_its_continuity() {
    let report = coalesce(
        &manifest(),
        &layers(vec![
            LayerContents {
                packages: vec![dpkg("a", "1"), dpkg("b", "1")],
                ..Default::default()
            },
            LayerContents {
                packages: vec![dpkg("b", "1")],
                ..Default::default()
            },
            LayerContents {
                packages: vec![dpkg("a", "1"), dpkg("b", "1")],
                ..Default::default()
            },
        ]),
    );
    assert_eq!(
        summary(&report),
        vec![row("a", "1", &[(DPKG, 2)]), row("b", "1", &[(DPKG, 0)])]
    );
}

#[test]
fn whiteout_in_a_newer_layer_removes_a_pip_package() {
    let base = LayerContents {
        packages: vec![pip("pip", "24.2"), pip("requests", "2.31.0")],
        repositories: vec![pypi_repo()],
        ..Default::default()
    };
    let removal = LayerContents {
        whiteouts: vec!["usr/lib/python3/dist-packages/requests-2.31.0.dist-info".into()],
        ..Default::default()
    };
    let report = coalesce(&manifest(), &layers(vec![base.clone(), removal]));
    assert_eq!(summary(&report), vec![row("pip", "24.2", &[(PY, 0)])]);
    // Language packages have no distribution; they point at the pypi repository.
    let env = &report.environments["1"][0];
    assert_eq!(env.distribution_id, "");
    assert_eq!(env.repository_ids, ["1"]);
    assert_eq!(report.repository["1"].name, "pypi");

    // An opaque directory hides everything below it.
    let opaque = LayerContents {
        whiteouts: vec!["usr/lib/python3/".into()],
        ..Default::default()
    };
    assert!(
        coalesce(&manifest(), &layers(vec![base.clone(), opaque]))
            .packages
            .is_empty()
    );

    // Non-hits: a whiteout in the same layer, a sibling with a common prefix, an unrelated directory.
    let mut same_layer = base.clone();
    same_layer.whiteouts = vec!["usr/lib/python3/dist-packages/requests-2.31.0.dist-info".into()];
    assert_eq!(
        coalesce(&manifest(), &layers(vec![same_layer]))
            .packages
            .len(),
        2
    );
    let near_miss = LayerContents {
        whiteouts: vec![
            "usr/lib/python3/dist-packages/requests".into(),
            "usr/lib/python3/dist-packages/requests-2.31.0.dist".into(),
            "usr/lib/python3.11/".into(),
        ],
        ..Default::default()
    };
    assert_eq!(
        coalesce(&manifest(), &layers(vec![base, near_miss]))
            .packages
            .len(),
        2
    );
}

#[test]
fn a_package_rewritten_in_a_newer_layer_is_reported_once_from_the_lower_layer() {
    let report = coalesce(
        &manifest(),
        &layers(vec![
            LayerContents {
                packages: vec![pip("pip", "24.2")],
                ..Default::default()
            },
            LayerContents {
                packages: vec![pip("pip", "24.2")],
                ..Default::default()
            },
        ]),
    );
    assert_eq!(summary(&report), vec![row("pip", "24.2", &[(PY, 0)])]);
    assert_eq!(report.environments["1"].len(), 1);
}

#[test]
fn a_package_file_rewritten_with_another_version_replaces_the_lower_one() {
    let mut upgraded = pip("pip", "24.3");
    upgraded.filepath = pip("pip", "24.2").filepath;
    let report = coalesce(
        &manifest(),
        &layers(vec![
            LayerContents {
                packages: vec![pip("pip", "24.2")],
                ..Default::default()
            },
            LayerContents {
                packages: vec![upgraded],
                ..Default::default()
            },
        ]),
    );
    assert_eq!(summary(&report), vec![row("pip", "24.3", &[(PY, 1)])]);
}

#[test]
fn the_same_package_in_two_databases_has_two_environments() {
    let mut venv = pip("pip", "24.2");
    venv.package_db = "python:opt/venv/lib/python3.11/site-packages".into();
    venv.filepath = "opt/venv/lib/python3.11/site-packages/pip-24.2.dist-info/METADATA".into();
    let report = coalesce(
        &manifest(),
        &layers(vec![
            LayerContents {
                packages: vec![pip("pip", "24.2")],
                ..Default::default()
            },
            LayerContents {
                packages: vec![venv],
                ..Default::default()
            },
        ]),
    );
    assert_eq!(
        summary(&report),
        vec![row(
            "pip",
            "24.2",
            &[("python:opt/venv/lib/python3.11/site-packages", 1), (PY, 0)]
        )]
    );
}

#[test]
fn the_distribution_is_the_newest_layers() {
    let mut trixie = bookworm();
    trixie.version_id = "13".into();
    trixie.version_code_name = "trixie".into();
    let report = coalesce(
        &manifest(),
        &layers(vec![
            LayerContents {
                distributions: vec![bookworm()],
                packages: vec![dpkg("a", "1")],
                ..Default::default()
            },
            LayerContents {
                distributions: vec![trixie],
                ..Default::default()
            },
            LayerContents::default(),
        ]),
    );
    assert_eq!(report.distributions.len(), 1);
    assert_eq!(report.distributions["1"].version_code_name, "trixie");
    assert_eq!(
        report.environments["1"],
        vec![Environment {
            package_db: DPKG.into(),
            introduced_in: layer_digest(0).to_string(),
            distribution_id: "1".into(),
            repository_ids: vec![],
        }]
    );
}

#[test]
fn ids_are_stable_and_the_report_is_clair_shaped() {
    let input = layers(vec![
        LayerContents {
            packages: vec![dpkg("zlib1g", "1.2"), dpkg("base-files", "12.4")],
            distributions: vec![bookworm()],
            ..Default::default()
        },
        LayerContents {
            packages: vec![pip("pip", "24.2")],
            repositories: vec![pypi_repo()],
            ..Default::default()
        },
    ]);
    let report = coalesce(&manifest(), &input);
    assert_eq!(report, coalesce(&manifest(), &input));
    let ids: Vec<(&str, &str)> = report
        .packages
        .iter()
        .map(|(id, p)| (id.as_str(), p.name.as_str()))
        .collect();
    assert_eq!(ids, [("1", "base-files"), ("2", "zlib1g"), ("3", "pip")]);
    let json = serde_json::to_value(&report).unwrap();
    for key in [
        "manifest_hash",
        "state",
        "packages",
        "distributions",
        "repository",
        "environments",
        "success",
        "err",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    assert_eq!(json["packages"]["1"]["kind"], "binary");
    assert_eq!(json["environments"]["3"][0]["repository_ids"][0], "1");
}

#[test]
fn no_layers_give_an_empty_finished_report() {
    let report = coalesce(&manifest(), &[]);
    assert!(report.success);
    assert!(
        report.packages.is_empty()
            && report.environments.is_empty()
            && report.distributions.is_empty()
    );
}

#[test]
fn whiteout_cover_rules() {
    assert!(whiteout_covers("a/b", "a/b"));
    assert!(whiteout_covers("a/b", "a/b/c/METADATA"));
    assert!(!whiteout_covers("a/b", "a/bc"));
    assert!(!whiteout_covers("a/b", "a"));
    assert!(whiteout_covers("a/", "a/b/c"));
    assert!(!whiteout_covers("a/", "ab/c"));
    assert!(whiteout_covers("", "anything"));
}
