//! Renders a Clair [`VulnerabilityReport`] for people and tools: a readable table, Clair's JSON, CycloneDX
//! 1.5, SPDX 2.3 and SARIF 2.1.0. Used by `lucid scan`; the API could serve the same.
//!
//! Rendering is deterministic for a given report and [`RenderContext`] (timestamp and serial number come
//! from the context), so outputs can be compared byte for byte.

mod cyclonedx;
pub mod purl;
mod sarif;
mod spdx;
mod table;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;

use crate::model::{
    ReportDistribution, ReportPackage, ReportVulnerability, Severity, VulnerabilityReport,
};

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("serializing the report: {0}")]
    Json(#[from] serde_json::Error),
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    CycloneDx,
    Spdx,
    Sarif,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Table,
        Format::Json,
        Format::CycloneDx,
        Format::Spdx,
        Format::Sarif,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::CycloneDx => "cyclonedx",
            Format::Spdx => "spdx",
            Format::Sarif => "sarif",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?} (expected table, json, cyclonedx, spdx or sarif)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownFormat(s.chars().take(40).collect()))
    }
}

/// What a report does not say by itself.
#[derive(Debug, Clone)]
pub struct RenderContext {
    /// How the user named the image (a tag, or the path scanned).
    pub image: String,
    /// Lucid's version, for the tool fields.
    pub tool_version: String,
    pub timestamp: OffsetDateTime,
    /// CycloneDX serial number and SPDX namespace suffix.
    pub serial: uuid::Uuid,
    /// ANSI colours in the table.
    pub colour: bool,
    /// Lines printed under the table (e.g. what was ignored, or that matching did not run).
    pub notes: Vec<String>,
}

impl RenderContext {
    /// A context for `image` now, with a fresh serial number and no colour.
    pub fn new(image: impl Into<String>) -> RenderContext {
        RenderContext {
            image: image.into(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            timestamp: OffsetDateTime::now_utc(),
            serial: uuid::Uuid::new_v4(),
            colour: false,
            notes: Vec::new(),
        }
    }
}

/// Renders `report` in `format`. Every format but the table ends with a newline-terminated JSON document.
pub fn render(
    report: &VulnerabilityReport,
    format: Format,
    ctx: &RenderContext,
) -> Result<String, FormatError> {
    let mut out = match format {
        Format::Table => return Ok(table::render(report, ctx)),
        Format::Json => serde_json::to_string_pretty(report)?,
        Format::CycloneDx => serde_json::to_string_pretty(&cyclonedx::render(report, ctx))?,
        Format::Spdx => serde_json::to_string_pretty(&spdx::render(report, ctx))?,
        Format::Sarif => serde_json::to_string_pretty(&sarif::render(report, ctx))?,
    };
    out.push('\n');
    Ok(out)
}

/// One (package, vulnerability) pair of a report.
#[derive(Debug, Clone, Copy)]
pub struct Finding<'a> {
    pub package_id: &'a str,
    pub package: &'a ReportPackage,
    pub vulnerability: &'a ReportVulnerability,
}

/// Every finding, most severe first, then by package name, version and vulnerability name.
pub fn findings(report: &VulnerabilityReport) -> Vec<Finding<'_>> {
    let mut out: Vec<Finding<'_>> = report
        .package_vulnerabilities
        .iter()
        .filter_map(|(pid, vids)| report.packages.get(pid).map(|p| (pid, p, vids)))
        .flat_map(|(pid, p, vids)| {
            vids.iter().filter_map(move |vid| {
                report.vulnerabilities.get(vid).map(|v| Finding {
                    package_id: pid.as_str(),
                    package: p,
                    vulnerability: v,
                })
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.vulnerability
            .normalized_severity
            .cmp(&a.vulnerability.normalized_severity)
            .then_with(|| a.package.name.cmp(&b.package.name))
            .then_with(|| a.package.version.cmp(&b.package.version))
            .then_with(|| a.vulnerability.name.cmp(&b.vulnerability.name))
    });
    out
}

/// Findings per severity.
pub fn severity_counts(report: &VulnerabilityReport) -> BTreeMap<Severity, usize> {
    let mut counts = BTreeMap::new();
    for f in findings(report) {
        *counts
            .entry(f.vulnerability.normalized_severity)
            .or_default() += 1;
    }
    counts
}

/// The distribution a package was found with (OS packages), if any.
pub fn distribution_of<'a>(
    report: &'a VulnerabilityReport,
    package_id: &str,
) -> Option<&'a ReportDistribution> {
    report
        .environments
        .get(package_id)?
        .iter()
        .find(|e| !e.distribution_id.is_empty())
        .and_then(|e| report.distributions.get(&e.distribution_id))
}

/// Advisory links of a vulnerability (Clair keeps them space-separated).
pub fn links(v: &ReportVulnerability) -> Vec<&str> {
    v.links.split_whitespace().collect()
}

/// The report's warnings (why it may be incomplete, e.g. no vulnerability feed loaded), as `code: message`
/// lines.
pub fn report_warnings(report: &VulnerabilityReport) -> Vec<String> {
    report
        .warnings
        .iter()
        .map(|w| format!("{}: {}", w.code, w.message))
        .collect()
}

/// A short one-line title for a vulnerability: the first sentence of its description, capped.
pub fn title(v: &ReportVulnerability) -> String {
    let text = v
        .description
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let first = text.split(". ").next().unwrap_or_default();
    if first.chars().count() > 100 {
        let cut: String = first.chars().take(97).collect();
        format!("{cut}...")
    } else {
        first.to_owned()
    }
}

#[cfg(test)]
mod tests;
