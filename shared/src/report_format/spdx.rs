//! SPDX 2.3 JSON: the image as a `CONTAINER` package the document describes, every package with its purl
//! (`PACKAGE-MANAGER`/`purl`) and, per finding, a `SECURITY`/`advisory` reference.

use serde_json::{Value, json};

use super::{RenderContext, distribution_of, findings, links, purl::purl};
use crate::model::VulnerabilityReport;

/// SPDX ids allow `[A-Za-z0-9.-]` only.
fn spdx_id(kind: &str, id: &str) -> String {
    let clean: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("SPDXRef-{kind}-{clean}")
}

pub(super) fn render(report: &VulnerabilityReport, ctx: &RenderContext) -> Value {
    let created = ctx
        .timestamp
        .replace_nanosecond(0)
        .unwrap_or(ctx.timestamp)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let all = findings(report);
    let image_id = "SPDXRef-Image".to_owned();
    let mut packages = vec![json!({
        "name": ctx.image,
        "SPDXID": image_id,
        "versionInfo": report.manifest_hash.to_string(),
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
        "checksums": [{
            "algorithm": "SHA256",
            "checksumValue": report.manifest_hash.hex(),
        }],
    })];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": image_id,
    })];
    for (id, p) in &report.packages {
        let sid = spdx_id("Package", id);
        let mut refs = Vec::new();
        if let Some(purl) = purl(p, distribution_of(report, id)) {
            refs.push(json!({
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": purl,
            }));
        }
        if p.cpe.starts_with("cpe:2.3:") {
            refs.push(json!({
                "referenceCategory": "SECURITY",
                "referenceType": "cpe23Type",
                "referenceLocator": p.cpe,
            }));
        }
        for f in all.iter().filter(|f| f.package_id == id) {
            if let Some(url) = links(f.vulnerability).first() {
                refs.push(json!({
                    "referenceCategory": "SECURITY",
                    "referenceType": "advisory",
                    "referenceLocator": url,
                    "comment": format!(
                        "{} ({}){}",
                        f.vulnerability.name,
                        f.vulnerability.normalized_severity,
                        if f.vulnerability.fixed_in_version.is_empty() {
                            String::new()
                        } else {
                            format!(", fixed in {}", f.vulnerability.fixed_in_version)
                        }
                    ),
                }));
            }
        }
        let mut pkg = json!({
            "name": p.name,
            "SPDXID": sid,
            "versionInfo": p.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": if p.ecosystem.is_empty() { "OTHER" } else { "LIBRARY" },
        });
        if let Some(src) = &p.source {
            pkg["sourceInfo"] = json!(
                format!("built from source package {} {}", src.name, src.version)
                    .trim_end()
                    .to_owned()
            );
        }
        if !refs.is_empty() {
            pkg["externalRefs"] = Value::Array(refs);
        }
        packages.push(pkg);
        relationships.push(json!({
            "spdxElementId": image_id,
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": sid,
        }));
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": ctx.image,
        "documentNamespace": format!(
            "https://lucid.invalid/spdx/{}-{}",
            report.manifest_hash.hex(),
            ctx.serial
        ),
        "creationInfo": {
            "created": created,
            "creators": [format!("Tool: lucid-{}", ctx.tool_version)],
        },
        "packages": packages,
        "relationships": relationships,
    })
}
