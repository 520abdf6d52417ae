use serde_json::Value;

use super::*;
use crate::model::VulnerabilityReport;

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/report_format/testdata");

fn report() -> VulnerabilityReport {
    serde_json::from_str(include_str!("testdata/bullseye-report.json")).unwrap()
}

fn ctx() -> RenderContext {
    RenderContext {
        image: "registry.example/app:1.4".into(),
        tool_version: "0.1.0".into(),
        timestamp: time::macros::datetime!(2026-11-28 12:00:00 UTC),
        serial: uuid::Uuid::parse_str("3f6c1a52-8f0e-4d55-9d3a-2b1e0f7c9a10").unwrap(),
        colour: false,
        notes: vec![],
    }
}

/// Compares with `testdata/golden/<name>`; `LUCID_UPDATE_GOLDEN=1` rewrites it.
fn golden(name: &str, actual: &str) {
    let path = format!("{TESTDATA}/golden/{name}");
    if std::env::var_os("LUCID_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(format!("{TESTDATA}/golden")).unwrap();
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(actual, expected, "{name} differs from its golden file");
}

fn render_json(format: Format) -> Value {
    serde_json::from_str(&render(&report(), format, &ctx()).unwrap()).unwrap()
}

#[test]
fn formats_parse_from_their_names() {
    for f in Format::ALL {
        assert_eq!(f.as_str().parse::<Format>().unwrap(), f);
    }
    assert!("xml".parse::<Format>().is_err());
}

#[test]
fn findings_are_sorted_most_severe_first() {
    let r = report();
    let order: Vec<(&str, &str)> = findings(&r)
        .iter()
        .map(|f| (f.package.name.as_str(), f.vulnerability.name.as_str()))
        .collect();
    assert_eq!(
        order,
        vec![
            ("zlib1g", "CVE-2022-37434"),
            ("libssl1.1", "CVE-2023-0286"),
            ("libssl1.1", "CVE-2022-4304"),
            ("requests", "PYSEC-2026-1873"),
            ("libgcrypt20", "CVE-2018-6829"),
        ]
    );
    let counts = severity_counts(&r);
    assert_eq!(counts.get(&Severity::Critical), Some(&1));
    assert_eq!(counts.get(&Severity::Medium), Some(&2));
}

#[test]
fn table_groups_by_package_with_fixed_versions_and_counts() {
    let text = render(&report(), Format::Table, &ctx()).unwrap();
    golden("table.txt", &text);
    assert!(
        text.contains("OS: Debian GNU/Linux 11 (bullseye)"),
        "{text}"
    );
    assert!(
        text.contains(
            "Vulnerabilities: 5 (CRITICAL 1, HIGH 1, MEDIUM 2, LOW 0, NEGLIGIBLE 1, UNKNOWN 0)"
        ),
        "{text}"
    );
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("PACKAGE"))
        .collect();
    assert!(
        rows[1].starts_with("zlib1g ") && rows[1].contains("1:1.2.11.dfsg-2+deb11u2"),
        "{text}"
    );
    assert!(
        rows[2].starts_with("libssl1.1 ") && rows[2].contains("CVE-2023-0286"),
        "{text}"
    );
    assert!(
        rows[3].trim_start().starts_with("CVE-2022-4304"),
        "same package, name not repeated: {text}"
    );
    assert!(rows[5].contains("(no fix)"), "{text}");
    assert!(!text.contains('\x1b'), "no colour unless asked");

    let mut c = ctx();
    c.colour = true;
    c.notes = vec!["vulnerability matching not available in this build".into()];
    let coloured = render(&report(), Format::Table, &c).unwrap();
    assert!(coloured.contains("\x1b[1;31mCRITICAL"), "{coloured}");
    assert!(coloured.ends_with("note: vulnerability matching not available in this build\n"));
}

#[test]
fn json_is_the_clair_vulnerability_report() {
    let text = render(&report(), Format::Json, &ctx()).unwrap();
    let back: VulnerabilityReport = serde_json::from_str(&text).unwrap();
    assert_eq!(back, report());
}

#[test]
fn cyclonedx_1_5_has_components_purls_and_vulnerabilities() {
    let bom = render_json(Format::CycloneDx);
    golden(
        "cyclonedx.json",
        &serde_json::to_string_pretty(&bom).unwrap(),
    );
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.5");
    assert_eq!(bom["version"], 1);
    assert_eq!(
        bom["serialNumber"],
        "urn:uuid:3f6c1a52-8f0e-4d55-9d3a-2b1e0f7c9a10"
    );
    assert_eq!(bom["metadata"]["component"]["type"], "container");
    assert_eq!(bom["metadata"]["timestamp"], "2026-11-28T12:00:00Z");
    let components = bom["components"].as_array().unwrap();
    assert_eq!(components.len(), 6, "5 packages and the operating system");
    let zlib = components.iter().find(|c| c["name"] == "zlib1g").unwrap();
    assert_eq!(
        zlib["purl"],
        "pkg:deb/debian/zlib1g@1.2.11.dfsg-2%2Bdeb11u1?arch=amd64&distro=debian-11&epoch=1&upstream=zlib"
    );
    let requests = components.iter().find(|c| c["name"] == "requests").unwrap();
    assert_eq!(requests["purl"], "pkg:pypi/requests@2.31.0");
    let refs: Vec<&str> = components
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    let vulns = bom["vulnerabilities"].as_array().unwrap();
    assert_eq!(vulns.len(), 5);
    for v in vulns {
        for a in v["affects"].as_array().unwrap() {
            assert!(
                refs.contains(&a["ref"].as_str().unwrap()),
                "dangling ref {a}"
            );
        }
        let sev = v["ratings"][0]["severity"].as_str().unwrap();
        assert!(
            [
                "critical", "high", "medium", "low", "info", "none", "unknown"
            ]
            .contains(&sev)
        );
    }
    let zlib_vuln = vulns.iter().find(|v| v["id"] == "CVE-2022-37434").unwrap();
    assert_eq!(zlib_vuln["ratings"][0]["severity"], "critical");
    assert_eq!(
        zlib_vuln["recommendation"],
        "Upgrade to zlib1g 1:1.2.11.dfsg-2+deb11u2"
    );
    assert_eq!(zlib_vuln["published"], "2022-08-05T07:15:00Z");
}

#[test]
fn spdx_2_3_describes_the_image_and_its_packages() {
    let doc = render_json(Format::Spdx);
    golden("spdx.json", &serde_json::to_string_pretty(&doc).unwrap());
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert_eq!(doc["dataLicense"], "CC0-1.0");
    assert_eq!(doc["SPDXID"], "SPDXRef-DOCUMENT");
    assert_eq!(doc["creationInfo"]["created"], "2026-11-28T12:00:00Z");
    let packages = doc["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 6);
    for p in packages {
        for field in ["name", "SPDXID", "downloadLocation"] {
            assert!(p.get(field).is_some(), "{field} missing in {p}");
        }
        let id = p["SPDXID"].as_str().unwrap();
        assert!(
            id.strip_prefix("SPDXRef-")
                .unwrap()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
            "{id}"
        );
    }
    let ssl = packages.iter().find(|p| p["name"] == "libssl1.1").unwrap();
    let refs = ssl["externalRefs"].as_array().unwrap();
    assert_eq!(
        refs[0]["referenceLocator"],
        "pkg:deb/debian/libssl1.1@1.1.1n-0%2Bdeb11u3?arch=amd64&distro=debian-11&upstream=openssl"
    );
    assert_eq!(
        refs.iter()
            .filter(|r| r["referenceType"] == "advisory")
            .count(),
        2
    );
    let rel = doc["relationships"].as_array().unwrap();
    assert_eq!(rel.len(), 6);
    assert_eq!(rel[0]["relationshipType"], "DESCRIBES");
}

#[test]
fn sarif_2_1_0_has_one_rule_per_advisory_and_located_results() {
    let log = render_json(Format::Sarif);
    golden("sarif.json", &serde_json::to_string_pretty(&log).unwrap());
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "lucid");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 5);
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    for r in results {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        assert!(
            r["message"]["text"]
                .as_str()
                .unwrap()
                .contains("Installed Version")
        );
        assert!(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].is_string());
    }
    let zlib = results
        .iter()
        .find(|r| r["ruleId"] == "CVE-2022-37434")
        .unwrap();
    assert_eq!(zlib["level"], "error");
    assert_eq!(
        zlib["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "var/lib/dpkg/status"
    );
    let requests = results
        .iter()
        .find(|r| r["ruleId"] == "PYSEC-2026-1873")
        .unwrap();
    assert_eq!(
        requests["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "registry.example/app:1.4",
        "a package db that is not a path falls back to the image"
    );
    assert_eq!(rules[0]["properties"]["security-severity"], "9.5");
}

#[test]
fn an_empty_report_renders_in_every_format() {
    let mut r = report();
    r.vulnerabilities.clear();
    r.package_vulnerabilities.clear();
    for f in Format::ALL {
        let text = render(&r, f, &ctx()).unwrap();
        if f != Format::Table {
            let _: Value = serde_json::from_str(&text).unwrap();
        } else {
            assert!(text.contains("Vulnerabilities: 0"), "{text}");
            assert!(!text.contains("PACKAGE"), "{text}");
        }
    }
}
