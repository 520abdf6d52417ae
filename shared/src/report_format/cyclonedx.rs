//! CycloneDX 1.5 JSON: the image as the BOM's subject, every package as a `library` component with its
//! purl, the distribution as an `operating-system` component, and one `vulnerabilities` entry per advisory
//! with the components it affects.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{RenderContext, distribution_of, findings, links, purl::purl};
use crate::model::{Severity, VulnerabilityReport};

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
        Severity::Negligible => "info",
        Severity::Unknown => "unknown",
    }
}

fn timestamp(ctx: &RenderContext) -> String {
    ctx.timestamp
        .replace_nanosecond(0)
        .unwrap_or(ctx.timestamp)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub(super) fn bom_ref(package_id: &str) -> String {
    format!("pkg-{package_id}")
}

pub(super) fn render(report: &VulnerabilityReport, ctx: &RenderContext) -> Value {
    let mut components = Vec::new();
    for (id, d) in &report.distributions {
        let mut c = json!({
            "bom-ref": format!("os-{id}"),
            "type": "operating-system",
            "name": d.did,
            "version": d.version_id,
        });
        if !d.pretty_name.is_empty() {
            c["description"] = json!(d.pretty_name);
        }
        components.push(c);
    }
    for (id, p) in &report.packages {
        let mut c = json!({
            "bom-ref": bom_ref(id),
            "type": "library",
            "name": p.name,
            "version": p.version,
        });
        if let Some(purl) = purl(p, distribution_of(report, id)) {
            c["purl"] = json!(purl);
        }
        if !p.cpe.is_empty() {
            c["cpe"] = json!(p.cpe);
        }
        let mut properties = Vec::new();
        if !p.ecosystem.is_empty() {
            properties.push(json!({"name": "lucid:package:ecosystem", "value": p.ecosystem}));
        }
        if let Some(src) = &p.source {
            properties.push(json!({"name": "lucid:package:source:name", "value": src.name}));
            if !src.version.is_empty() {
                properties
                    .push(json!({"name": "lucid:package:source:version", "value": src.version}));
            }
        }
        for env in report.environments.get(id).into_iter().flatten() {
            if !env.package_db.is_empty() {
                properties.push(json!({"name": "lucid:package:db", "value": env.package_db}));
            }
            if !env.introduced_in.is_empty() {
                properties
                    .push(json!({"name": "lucid:layer:introduced_in", "value": env.introduced_in}));
            }
        }
        if !properties.is_empty() {
            c["properties"] = Value::Array(properties);
        }
        components.push(c);
    }

    // One entry per advisory name, affecting every package it was found in.
    let mut by_name: BTreeMap<&str, Vec<super::Finding<'_>>> = BTreeMap::new();
    for f in findings(report) {
        by_name
            .entry(f.vulnerability.name.as_str())
            .or_default()
            .push(f);
    }
    let mut vulnerabilities = Vec::new();
    for (name, fs) in &by_name {
        let Some(first) = fs.first() else { continue };
        let v = first.vulnerability;
        let mut entry = json!({
            "bom-ref": format!("vuln-{name}"),
            "id": name,
            "ratings": [{
                "severity": severity(v.normalized_severity),
                "method": "other",
            }],
            "affects": fs.iter().map(|f| json!({
                "ref": bom_ref(f.package_id),
                "versions": [{"version": f.package.version, "status": "affected"}],
            })).collect::<Vec<_>>(),
        });
        if !v.updater.is_empty() {
            entry["source"] = json!({"name": v.updater});
            entry["ratings"][0]["source"] = json!({"name": v.updater});
        }
        if !v.severity.is_empty() {
            entry["ratings"][0]["justification"] =
                json!(format!("vendor severity: {}", v.severity));
        }
        if !v.description.is_empty() {
            entry["description"] = json!(v.description);
        }
        let urls = links(v);
        if !urls.is_empty() {
            entry["advisories"] = json!(urls.iter().map(|u| json!({"url": u})).collect::<Vec<_>>());
        }
        if let Some(published) = rfc3339(&v.issued) {
            entry["published"] = json!(published);
        }
        let fixes: Vec<String> = fs
            .iter()
            .filter(|f| !f.vulnerability.fixed_in_version.trim().is_empty())
            .map(|f| {
                format!(
                    "{} {}",
                    f.package.name,
                    f.vulnerability.fixed_in_version.trim()
                )
            })
            .collect();
        if !fixes.is_empty() {
            entry["recommendation"] = json!(format!("Upgrade to {}", fixes.join(", ")));
        }
        vulnerabilities.push(entry);
    }

    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{}", ctx.serial),
        "version": 1,
        "metadata": {
            "timestamp": timestamp(ctx),
            "tools": {
                "components": [{
                    "type": "application",
                    "name": "lucid",
                    "version": ctx.tool_version,
                }],
            },
            "component": {
                "bom-ref": "image",
                "type": "container",
                "name": ctx.image,
                "version": report.manifest_hash.to_string(),
            },
        },
        "components": components,
        "dependencies": [{
            "ref": "image",
            "dependsOn": report.packages.keys().map(|id| bom_ref(id)).collect::<Vec<_>>(),
        }],
        "vulnerabilities": vulnerabilities,
    })
}

/// A feed's issued date as RFC 3339, when it parses as one (or as a plain date).
pub(super) fn rfc3339(issued: &str) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    let s = issued.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return t.format(&Rfc3339).ok();
    }
    let day = s.get(..10)?;
    let d = time::Date::parse(
        day,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()?;
    d.with_hms(0, 0, 0).ok()?.assume_utc().format(&Rfc3339).ok()
}
