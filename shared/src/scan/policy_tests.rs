use super::*;
use crate::model::VulnerabilityReport;

fn report() -> VulnerabilityReport {
    serde_json::from_str(include_str!(
        "../report_format/testdata/bullseye-report.json"
    ))
    .unwrap()
}

fn date(s: &str) -> Date {
    Date::parse(s, DATE).unwrap()
}

fn names(r: &VulnerabilityReport) -> Vec<String> {
    let mut v: Vec<String> = r.vulnerabilities.values().map(|v| v.name.clone()).collect();
    v.sort();
    v
}

#[test]
fn fail_on_counts_findings_at_or_above_the_level() {
    let mut r = report();
    let v = apply(
        &mut r,
        &Policy {
            fail_on: Some(Severity::High),
            ..Default::default()
        },
        date("2026-11-28"),
    );
    assert_eq!(
        v.failing, 2,
        "CVE-2022-37434 (Critical) and CVE-2023-0286 (High)"
    );
    assert!(v.fails());
    assert_eq!(v.counts.get(&Severity::Medium), Some(&2));
    assert_eq!(v.counts.get(&Severity::Negligible), Some(&1));

    let mut r = report();
    let v = apply(
        &mut r,
        &Policy {
            fail_on: Some(Severity::Critical),
            ..Default::default()
        },
        date("2026-11-28"),
    );
    assert_eq!(v.failing, 1);
    let v = apply(&mut report(), &Policy::default(), date("2026-11-28"));
    assert!(!v.fails(), "no --fail-on never fails");
}

#[test]
fn ignore_unfixed_drops_findings_without_a_fix() {
    let mut r = report();
    let v = apply(
        &mut r,
        &Policy {
            ignore_unfixed: true,
            fail_on: Some(Severity::Negligible),
            ..Default::default()
        },
        date("2026-11-28"),
    );
    assert_eq!(v.unfixed_dropped, 1);
    assert!(!names(&r).contains(&"CVE-2018-6829".to_owned()));
    assert!(
        !r.package_vulnerabilities.contains_key("2"),
        "libgcrypt20 has no finding left"
    );
    assert_eq!(v.failing, 4);
}

#[test]
fn ignore_entries_apply_by_id_and_package_until_they_expire() {
    let ignores = vec![
        IgnoreEntry {
            id: "CVE-2022-37434".into(),
            package: Some("zlib".into()),
            reason: "inflateGetHeader is not used".into(),
            expires: Some(date("2026-12-31")),
        },
        IgnoreEntry {
            id: "cve-2023-0286".into(),
            package: Some("curl".into()),
            reason: "wrong package: does not apply".into(),
            expires: None,
        },
        IgnoreEntry {
            id: "CVE-2022-4304".into(),
            package: None,
            reason: "expired".into(),
            expires: Some(date("2026-01-01")),
        },
    ];
    let mut r = report();
    let v = apply(
        &mut r,
        &Policy {
            fail_on: Some(Severity::Critical),
            ignore_unfixed: false,
            ignores,
        },
        date("2026-11-28"),
    );
    assert_eq!(
        v.ignored,
        vec![Ignored {
            vulnerability: "CVE-2022-37434".into(),
            package: "zlib1g".into(),
            reason: "inflateGetHeader is not used".into(),
        }],
        "matched through the source package name"
    );
    assert_eq!(v.expired.len(), 1);
    assert_eq!(v.expired[0].id, "CVE-2022-4304");
    assert!(names(&r).contains(&"CVE-2022-4304".to_owned()));
    assert!(names(&r).contains(&"CVE-2023-0286".to_owned()));
    assert!(!names(&r).contains(&"CVE-2022-37434".to_owned()));
    assert!(!v.fails(), "the only critical finding is ignored");

    // The day after the expiry date, the entry no longer applies.
    let mut r = report();
    let v = apply(
        &mut r,
        &Policy {
            fail_on: Some(Severity::Critical),
            ignore_unfixed: false,
            ignores: vec![IgnoreEntry {
                id: "CVE-2022-37434".into(),
                package: None,
                reason: "r".into(),
                expires: Some(date("2026-12-31")),
            }],
        },
        date("2027-01-01"),
    );
    assert!(v.fails());
    assert_eq!(v.expired.len(), 1);
}

#[test]
fn ignore_files_in_yaml_and_toml() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("ignore.yaml");
    std::fs::write(
        &yaml,
        "ignore:\n  - id: CVE-2022-37434\n    package: zlib\n    reason: not reachable\n    expires: 2026-12-31\n  - id: GHSA-9wx4-h78v-vm56\n    reason: verify is always on\n",
    )
    .unwrap();
    let entries = load_ignore_file(&yaml).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].expires, Some(date("2026-12-31")));
    assert_eq!(entries[0].package.as_deref(), Some("zlib"));
    assert_eq!(entries[1].expires, None);

    let list = dir.path().join("ignore.yml");
    std::fs::write(&list, "- id: CVE-1\n  reason: r\n").unwrap();
    assert_eq!(load_ignore_file(&list).unwrap()[0].id, "CVE-1");

    let toml = dir.path().join("ignore.toml");
    std::fs::write(
        &toml,
        "[[ignore]]\nid = \"CVE-2022-37434\"\nreason = \"not reachable\"\nexpires = 2026-12-31\n\n[[ignore]]\nid = \"CVE-2\"\nreason = \"r\"\nexpires = \"2027-02-01\"\n",
    )
    .unwrap();
    let entries = load_ignore_file(&toml).unwrap();
    assert_eq!(entries[0].expires, Some(date("2026-12-31")));
    assert_eq!(entries[1].expires, Some(date("2027-02-01")));

    for (name, text, needle) in [
        ("a.yaml", "- id: CVE-1\n", "has no reason"),
        (
            "b.yaml",
            "- id: CVE-1\n  reason: r\n  expires: soon\n",
            "not a date",
        ),
        (
            "c.yaml",
            "- id: CVE-1\n  reason: r\n  expiry: 2026-01-01\n",
            "expected a list",
        ),
        ("d.toml", "ignore = [", "d.toml"),
        ("e.yaml", "just text", "expected a list"),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let err = load_ignore_file(&p).unwrap_err().to_string();
        assert!(err.contains(needle), "{name}: {err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }
    assert!(load_ignore_file(&dir.path().join("missing.yaml")).is_err());
}
