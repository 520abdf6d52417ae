//! The readable table: findings grouped by package (the package with the most severe finding first), then
//! by severity, with the fixed version; counts per severity on top.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Finding, RenderContext, findings, title};
use crate::model::{Severity, VulnerabilityReport};

fn paint(s: &str, severity: Severity, colour: bool) -> String {
    if !colour {
        return s.to_owned();
    }
    let code = match severity {
        Severity::Critical => "1;31",
        Severity::High => "31",
        Severity::Medium => "33",
        Severity::Low => "36",
        Severity::Negligible | Severity::Unknown => "2",
    };
    format!("\x1b[{code}m{s}\x1b[0m")
}

fn pad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    format!("{s}{}", " ".repeat(width.saturating_sub(n)))
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(width.saturating_sub(3)).collect();
        format!("{cut}...")
    }
}

pub(super) fn render(report: &VulnerabilityReport, ctx: &RenderContext) -> String {
    let mut out = String::new();
    if ctx.image == report.manifest_hash.to_string() {
        let _ = writeln!(out, "Image: {}", ctx.image);
    } else {
        let _ = writeln!(out, "Image: {} ({})", ctx.image, report.manifest_hash);
    }
    if let Some(d) = report.distributions.values().next() {
        let name = if d.pretty_name.is_empty() {
            format!("{} {}", d.name, d.version)
        } else {
            d.pretty_name.clone()
        };
        let _ = writeln!(out, "OS: {name}");
    }
    let all = findings(report);
    let mut counts: BTreeMap<Severity, usize> = BTreeMap::new();
    for f in &all {
        *counts
            .entry(f.vulnerability.normalized_severity)
            .or_default() += 1;
    }
    let summary: Vec<String> = Severity::ALL
        .iter()
        .rev()
        .map(|s| {
            let n = counts.get(s).copied().unwrap_or(0);
            let label = format!("{} {n}", s.as_str().to_uppercase());
            if n > 0 {
                paint(&label, *s, ctx.colour)
            } else {
                label
            }
        })
        .collect();
    let _ = writeln!(
        out,
        "Packages: {}  Vulnerabilities: {} ({})",
        report.packages.len(),
        all.len(),
        summary.join(", ")
    );
    if !all.is_empty() {
        out.push('\n');
        write_rows(&mut out, &all, ctx.colour);
    }
    for note in &ctx.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

fn write_rows(out: &mut String, all: &[Finding<'_>], colour: bool) {
    // Group by package, in the order of each package's most severe finding (findings are sorted).
    let mut order: Vec<&str> = Vec::new();
    let mut groups: BTreeMap<&str, Vec<&Finding<'_>>> = BTreeMap::new();
    for f in all {
        if !groups.contains_key(f.package_id) {
            order.push(f.package_id);
        }
        groups.entry(f.package_id).or_default().push(f);
    }
    let w_pkg = all
        .iter()
        .map(|f| package_label(f).chars().count())
        .max()
        .unwrap_or(0)
        .clamp(7, 40);
    let w_ver = all
        .iter()
        .map(|f| f.package.version.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(7, 32);
    let w_id = all
        .iter()
        .map(|f| f.vulnerability.name.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(13, 28);
    let w_sev = 10;
    let w_fix = all
        .iter()
        .map(|f| fixed(f).chars().count())
        .max()
        .unwrap_or(0)
        .clamp(8, 32);
    let _ = writeln!(
        out,
        "{}  {}  {}  {}  {}  TITLE",
        pad("PACKAGE", w_pkg),
        pad("VERSION", w_ver),
        pad("VULNERABILITY", w_id),
        pad("SEVERITY", w_sev),
        pad("FIXED IN", w_fix)
    );
    for pid in order {
        for (n, f) in groups.get(pid).into_iter().flatten().enumerate() {
            let (pkg, ver) = if n == 0 {
                (
                    truncate(&package_label(f), w_pkg),
                    truncate(&f.package.version, w_ver),
                )
            } else {
                (String::new(), String::new())
            };
            let sev = f.vulnerability.normalized_severity;
            let sev_text = paint(&pad(&sev.as_str().to_uppercase(), w_sev), sev, colour);
            let _ = writeln!(
                out,
                "{}  {}  {}  {}  {}  {}",
                pad(&pkg, w_pkg),
                pad(&ver, w_ver),
                pad(&truncate(&f.vulnerability.name, w_id), w_id),
                sev_text,
                pad(&truncate(&fixed(f), w_fix), w_fix),
                truncate(&title(f.vulnerability), 80)
            )
            .map(|_| ());
        }
    }
}

fn package_label(f: &Finding<'_>) -> String {
    f.package.name.clone()
}

fn fixed(f: &Finding<'_>) -> String {
    let v = f.vulnerability.fixed_in_version.trim();
    if v.is_empty() {
        "(no fix)".to_owned()
    } else {
        v.to_owned()
    }
}
