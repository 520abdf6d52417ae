//! SARIF 2.1.0: one rule per advisory, one result per (package, advisory), located at the package
//! database the package was read from, so code-scanning tools (GitHub) can show them.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{RenderContext, findings, links, title};
use crate::model::{Severity, VulnerabilityReport};

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Negligible | Severity::Unknown => "note",
    }
}

/// GitHub's `security-severity` (a CVSS-like score): the middle of each qualitative band.
fn security_severity(s: Severity) -> Option<&'static str> {
    match s {
        Severity::Critical => Some("9.5"),
        Severity::High => Some("8.0"),
        Severity::Medium => Some("5.5"),
        Severity::Low => Some("2.0"),
        Severity::Negligible => Some("0.5"),
        Severity::Unknown => None,
    }
}

pub(super) fn render(report: &VulnerabilityReport, ctx: &RenderContext) -> Value {
    let all = findings(report);
    let mut rule_index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rules = Vec::new();
    for f in &all {
        let v = f.vulnerability;
        if rule_index.contains_key(v.name.as_str()) {
            continue;
        }
        rule_index.insert(v.name.as_str(), rules.len());
        let short = title(v);
        let short = if short.is_empty() {
            v.name.clone()
        } else {
            short
        };
        let mut properties = json!({
            "tags": ["vulnerability", "security", v.normalized_severity.as_str().to_uppercase()],
        });
        if let Some(score) = security_severity(v.normalized_severity) {
            properties["security-severity"] = json!(score);
        }
        let mut rule = json!({
            "id": v.name,
            "name": "PackageVulnerability",
            "shortDescription": {"text": short},
            "fullDescription": {"text": if v.description.is_empty() { v.name.clone() } else { v.description.clone() }},
            "defaultConfiguration": {"level": level(v.normalized_severity)},
            "help": {
                "text": format!("Vulnerability {}\nSeverity: {}\nLinks: {}", v.name, v.normalized_severity, links(v).join(" ")),
                "markdown": format!(
                    "**Vulnerability {}**\n\n| Severity | Links |\n| --- | --- |\n| {} | {} |",
                    v.name,
                    v.normalized_severity,
                    links(v).iter().map(|l| format!("[{l}]({l})")).collect::<Vec<_>>().join(" ")
                ),
            },
            "properties": properties,
        });
        if let Some(url) = links(v).first() {
            rule["helpUri"] = json!(url);
        }
        rules.push(rule);
    }
    let results: Vec<Value> = all
        .iter()
        .map(|f| {
            let v = f.vulnerability;
            let uri = report
                .environments
                .get(f.package_id)
                .and_then(|e| e.first())
                .map(|e| e.package_db.trim_start_matches('/').to_owned())
                .filter(|d| !d.is_empty() && !d.contains(':'))
                .unwrap_or_else(|| ctx.image.clone());
            let fixed = if v.fixed_in_version.is_empty() {
                "none".to_owned()
            } else {
                v.fixed_in_version.clone()
            };
            json!({
                "ruleId": v.name,
                "ruleIndex": rule_index.get(v.name.as_str()).copied().unwrap_or(0),
                "level": level(v.normalized_severity),
                "message": {
                    "text": format!(
                        "Package: {}\nInstalled Version: {}\nVulnerability: {}\nSeverity: {}\nFixed Version: {}\nImage: {}",
                        f.package.name, f.package.version, v.name, v.normalized_severity, fixed, ctx.image
                    ),
                },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri, "uriBaseId": "ROOTPATH"},
                        "region": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1},
                    },
                    "message": {"text": format!("{}: {}@{}", ctx.image, f.package.name, f.package.version)},
                }],
                "partialFingerprints": {
                    "lucid/v1": format!("{}/{}/{}/{}", report.manifest_hash, f.package.name, f.package.version, v.name),
                },
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "lucid",
                    "version": ctx.tool_version,
                    "rules": rules,
                },
            },
            "results": results,
            "columnKind": "utf16CodeUnits",
            "originalUriBaseIds": {
                "ROOTPATH": {"uri": "file:///"},
            },
            "properties": {
                "imageName": ctx.image,
                "manifestDigest": report.manifest_hash.to_string(),
            },
        }],
    })
}
