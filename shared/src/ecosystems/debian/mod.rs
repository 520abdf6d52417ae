//! Debian: release naming and the two Debian vulnerability feeds.
//!
//! Debian tracks vulnerabilities per **source** package (`openssl`, `glibc`), never per binary package
//! (`libssl3`, `libc6`): a record applies to every binary built from that source, so the matcher compares
//! the installed package's `source` (name and version) against it. Releases are named by codename
//! (`bookworm` = 12, `trixie` = 13); a record's distribution is `debian` / codename, matching the image's
//! `VERSION_CODENAME` (or [`codename_for_version`] of its `VERSION_ID`).
//!
//! - [`tracker`]: the security tracker's JSON export (updater `debian`), what Clair uses: one record per
//!   (source package, CVE, release), fixed or still open, with Debian's urgency.
//! - [`oval`]: Debian's OVAL files (updater `debian-oval`), generated from the same tracker data, one file
//!   per release.

pub mod oval;
pub mod tracker;

use crate::model::Severity;

/// Debian release codenames by version, oldest first. Versions before 4 had minor numbers in their name.
const CODENAMES: [(&str, &str); 20] = [
    ("1.1", "buzz"),
    ("1.2", "rex"),
    ("1.3", "bo"),
    ("2.0", "hamm"),
    ("2.1", "slink"),
    ("2.2", "potato"),
    ("3.0", "woody"),
    ("3.1", "sarge"),
    ("4", "etch"),
    ("5", "lenny"),
    ("6", "squeeze"),
    ("7", "wheezy"),
    ("8", "jessie"),
    ("9", "stretch"),
    ("10", "buster"),
    ("11", "bullseye"),
    ("12", "bookworm"),
    ("13", "trixie"),
    ("14", "forky"),
    ("15", "duke"),
];

/// The codename of a Debian release from its os-release `VERSION_ID` (`12`) or `/etc/debian_version`
/// (`12.4`: point releases share their major release's codename). `None` for unknown versions.
pub fn codename_for_version(version_id: &str) -> Option<&'static str> {
    let version_id = version_id.trim();
    if let Some((_, codename)) = CODENAMES.iter().find(|(v, _)| *v == version_id) {
        return Some(codename);
    }
    let major = version_id.split('.').next().unwrap_or(version_id);
    let major_number: u32 = major.parse().ok()?;
    if major_number < 4 {
        // 1.x–3.x are only known with their minor number, matched above.
        return None;
    }
    CODENAMES
        .iter()
        .find(|(v, _)| *v == major)
        .map(|(_, codename)| *codename)
}

/// Maps a Debian urgency onto the normalized scale, shifted one step up as claircore does
/// (cc:debian/severity.go), because Debian rates the *urgency of fixing in Debian*, which runs a notch below
/// the intrinsic severity (`unimportant` issues are real but minor, e.g. only in documentation):
///
/// | Debian urgency | normalized |
/// |---|---|
/// | `unimportant` | Low |
/// | `low` | Medium |
/// | `medium` | High |
/// | `high` | Critical |
/// | `not yet assigned`, `end-of-life`, empty, anything else | Unknown |
///
/// Case-insensitive; trailing `*` (the tracker's "unconfirmed" mark, e.g. `low**`) is ignored.
pub fn normalize_urgency(urgency: &str) -> Severity {
    match urgency
        .trim()
        .trim_end_matches('*')
        .to_ascii_lowercase()
        .as_str()
    {
        "unimportant" => Severity::Low,
        "low" => Severity::Medium,
        "medium" => Severity::High,
        "high" => Severity::Critical,
        _ => Severity::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codenames() {
        assert_eq!(codename_for_version("12"), Some("bookworm"));
        assert_eq!(codename_for_version("12.4"), Some("bookworm"));
        assert_eq!(codename_for_version("11"), Some("bullseye"));
        assert_eq!(codename_for_version("10"), Some("buster"));
        assert_eq!(codename_for_version("13"), Some("trixie"));
        assert_eq!(codename_for_version("9"), Some("stretch"));
        assert_eq!(codename_for_version("3.1"), Some("sarge"));
        assert_eq!(codename_for_version(" 8 "), Some("jessie"));
        assert_eq!(codename_for_version("3"), None);
        assert_eq!(codename_for_version("99"), None);
        assert_eq!(codename_for_version(""), None);
        assert_eq!(codename_for_version("bookworm"), None);
        assert_eq!(codename_for_version("12.x.y"), Some("bookworm"));
        assert_eq!(codename_for_version(&"9".repeat(100)), None);
    }

    #[test]
    fn urgency_table() {
        assert_eq!(normalize_urgency("unimportant"), Severity::Low);
        assert_eq!(normalize_urgency("low"), Severity::Medium);
        assert_eq!(normalize_urgency("low**"), Severity::Medium);
        assert_eq!(normalize_urgency("Medium"), Severity::High);
        assert_eq!(normalize_urgency("high"), Severity::Critical);
        assert_eq!(normalize_urgency("not yet assigned"), Severity::Unknown);
        assert_eq!(normalize_urgency("end-of-life"), Severity::Unknown);
        assert_eq!(normalize_urgency(""), Severity::Unknown);
    }
}
