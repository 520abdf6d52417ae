//! Ubuntu: release (series) naming and Ubuntu's OVAL feeds.
//!
//! Unlike Debian, Ubuntu's OVAL names **binary** packages (`libssl3`, `openssl`), listing every binary of
//! the fixed source package in a shared variable; records therefore match the installed package's own name
//! and version, not its source. Releases are named by series (`jammy` = 22.04, `noble` = 24.04); a record's
//! distribution is `ubuntu` / series, matching the image's os-release `VERSION_CODENAME`.
//!
//! Canonical publishes two OVAL flavours, both read by [`oval`]: `com.ubuntu.<series>.cve.oval.xml` (one
//! `vulnerability` definition per CVE, what Clair reads; a test without a state means "affected, no fix")
//! and `com.ubuntu.<series>.usn.oval.xml` (one `patch` definition per USN listing its CVEs).

pub mod oval;

use crate::model::Severity;

/// Maps an Ubuntu priority onto the normalized scale, one to one as Clair does; case-insensitive:
///
/// | Ubuntu | normalized |
/// |---|---|
/// | `negligible` | Negligible |
/// | `low` | Low |
/// | `medium` | Medium |
/// | `high` | High |
/// | `critical` | Critical |
/// | `untriaged`, `None` (regression-only USNs), empty, anything else | Unknown |
pub fn normalize_priority(priority: &str) -> Severity {
    match priority.trim().to_ascii_lowercase().as_str() {
        "negligible" => Severity::Negligible,
        "low" => Severity::Low,
        "medium" => Severity::Medium,
        "high" => Severity::High,
        "critical" => Severity::Critical,
        _ => Severity::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_table() {
        assert_eq!(normalize_priority("negligible"), Severity::Negligible);
        assert_eq!(normalize_priority("Low"), Severity::Low);
        assert_eq!(normalize_priority("Medium"), Severity::Medium);
        assert_eq!(normalize_priority("high"), Severity::High);
        assert_eq!(normalize_priority("Critical"), Severity::Critical);
        assert_eq!(normalize_priority("untriaged"), Severity::Unknown);
        assert_eq!(normalize_priority("None"), Severity::Unknown);
        assert_eq!(normalize_priority(""), Severity::Unknown);
    }
}
