//! The distribution-specific files that predate os-release or sit beside it: `etc/lsb-release`,
//! `etc/alpine-release`, `etc/debian_version`, the Red Hat family's `etc/*-release` one-liners,
//! `etc/SuSE-release`, `etc/SUSE-brand` and `etc/photon-release`.
//!
//! They are fallbacks: [`resolve`](super::resolve) prefers os-release and only fills gaps from them. To let
//! it tell them apart, a record from these files never has `name` set (only os-release states `NAME`);
//! `resolve` supplies the distribution's usual name when a fallback is all a layer has.

use crate::model::Distribution;

/// Debian's release codenames by major version, for `debian_version` (`12.5` → `bookworm`).
const DEBIAN_CODENAMES: [(&str, &str); 10] = [
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

/// os-release `ID`s of Red Hat-family products, by the product name that starts their release line.
/// Longer names first so `CentOS Stream` is not taken for `CentOS`.
const RED_HAT_FAMILY: [(&str, &str); 9] = [
    ("Red Hat Enterprise Linux", "rhel"),
    ("CentOS Stream", "centos"),
    ("CentOS Linux", "centos"),
    ("CentOS", "centos"),
    ("Rocky Linux", "rocky"),
    ("AlmaLinux", "almalinux"),
    ("Oracle Linux", "ol"),
    ("Amazon Linux", "amzn"),
    ("Fedora", "fedora"),
];

/// The usual os-release `NAME` of a distribution, for results that came from fallback files only.
pub fn usual_name(did: &str) -> &'static str {
    match did {
        "alpine" => "Alpine Linux",
        "debian" => "Debian GNU/Linux",
        "ubuntu" => "Ubuntu",
        "rhel" => "Red Hat Enterprise Linux",
        "centos" => "CentOS Linux",
        "rocky" => "Rocky Linux",
        "almalinux" => "AlmaLinux",
        "ol" => "Oracle Linux Server",
        "amzn" => "Amazon Linux",
        "fedora" => "Fedora Linux",
        "sles" => "SLES",
        "opensuse" | "opensuse-leap" => "openSUSE Leap",
        "photon" => "VMware Photon OS",
        _ => "",
    }
}

fn first_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
}

/// `etc/lsb-release`: `DISTRIB_ID=Ubuntu`, `DISTRIB_RELEASE=22.04`, `DISTRIB_CODENAME=jammy`,
/// `DISTRIB_DESCRIPTION="Ubuntu 22.04.3 LTS"` (the same shell syntax as os-release).
pub fn lsb_release(text: &str) -> Option<Distribution> {
    let vars = super::os_release::parse(text);
    let id = vars.get("DISTRIB_ID")?.trim().to_ascii_lowercase();
    if id.is_empty() {
        return None;
    }
    let get = |key: &str| vars.get(key).cloned().unwrap_or_default();
    Some(Distribution {
        did: id,
        version_id: get("DISTRIB_RELEASE"),
        version_code_name: get("DISTRIB_CODENAME"),
        pretty_name: get("DISTRIB_DESCRIPTION"),
        ..Distribution::default()
    })
}

/// `etc/alpine-release`: the full version, `3.19.1` (edge: `3.20_alpha20240329`).
pub fn alpine_release(text: &str) -> Option<Distribution> {
    let version = first_line(text);
    let looks_like_version =
        version.starts_with(|c: char| c.is_ascii_digit()) && !version.contains(char::is_whitespace);
    if !looks_like_version {
        return None;
    }
    let pretty_name = if version.contains("_alpha") {
        "Alpine Linux edge".to_owned()
    } else {
        let minor: Vec<&str> = version.splitn(3, '.').take(2).collect();
        format!("Alpine Linux v{}", minor.join("."))
    };
    Some(Distribution {
        did: "alpine".to_owned(),
        version_id: version.to_owned(),
        pretty_name,
        ..Distribution::default()
    })
}

/// `etc/debian_version`: a point release (`12.5`) on stable, `codename/sid` on testing and unstable.
/// Derivatives (Ubuntu) ship it too, saying which Debian they branched from; `resolve` only uses it for a
/// Debian answer.
pub fn debian_version(text: &str) -> Option<Distribution> {
    let line = first_line(text);
    if let Some((codename, _)) = line.split_once('/') {
        let is_word = !codename.is_empty() && codename.bytes().all(|b| b.is_ascii_lowercase());
        return is_word.then(|| Distribution {
            did: "debian".to_owned(),
            version: line.to_owned(),
            version_code_name: codename.to_owned(),
            ..Distribution::default()
        });
    }
    let major = line.split('.').next().unwrap_or_default();
    if major.is_empty() || !major.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let codename = DEBIAN_CODENAMES
        .iter()
        .find(|(number, _)| *number == major)
        .map(|(_, name)| (*name).to_owned())
        .unwrap_or_default();
    Some(Distribution {
        did: "debian".to_owned(),
        version: line.to_owned(),
        version_id: major.to_owned(),
        version_code_name: codename,
        ..Distribution::default()
    })
}

/// The Red Hat family's one-line release files (`etc/redhat-release`, `etc/centos-release`,
/// `etc/rocky-release`, `etc/almalinux-release`, `etc/oracle-release`, `etc/system-release`):
/// `Rocky Linux release 9.3 (Blue Onyx)`.
pub fn red_hat_release(text: &str) -> Option<Distribution> {
    let line = first_line(text);
    let (product, rest) = line.split_once(" release ")?;
    let did = RED_HAT_FAMILY
        .iter()
        .find(|(prefix, _)| product.starts_with(prefix))
        .map(|(_, did)| *did)?;
    let version_id = rest.split_whitespace().next().unwrap_or_default();
    let code_name = rest
        .split_once('(')
        .and_then(|(_, tail)| tail.split_once(')'))
        .map(|(inside, _)| inside.trim().to_owned())
        .unwrap_or_default();
    Some(Distribution {
        did: did.to_owned(),
        version: rest.trim().to_owned(),
        version_id: version_id.to_owned(),
        version_code_name: code_name,
        pretty_name: line.to_owned(),
        ..Distribution::default()
    })
}

/// `KEY = value` lines of the SUSE files.
fn suse_variable<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim())
    })
}

/// `etc/SuSE-release` (SLES ≤ 12, openSUSE ≤ 42): `SUSE Linux Enterprise Server 12 (x86_64)`, then
/// `VERSION = 12` and `PATCHLEVEL = 5`.
pub fn suse_release(text: &str) -> Option<Distribution> {
    let line = first_line(text);
    let did = if line.starts_with("SUSE Linux Enterprise") {
        "sles"
    } else if line.starts_with("openSUSE") {
        "opensuse"
    } else {
        return None;
    };
    let version = suse_variable(text, "VERSION")?;
    let version_id = match suse_variable(text, "PATCHLEVEL") {
        Some(patch) if patch != "0" => format!("{version}.{patch}"),
        _ => version.to_owned(),
    };
    Some(Distribution {
        did: did.to_owned(),
        version_id,
        version_code_name: suse_variable(text, "CODENAME")
            .unwrap_or_default()
            .to_owned(),
        pretty_name: line.to_owned(),
        ..Distribution::default()
    })
}

/// `etc/SUSE-brand` (SLE 15, openSUSE Leap 15): `SLE` or `openSUSE` then `VERSION = 15`.
pub fn suse_brand(text: &str) -> Option<Distribution> {
    let did = match first_line(text) {
        "SLE" => "sles",
        "openSUSE" => "opensuse-leap",
        _ => return None,
    };
    Some(Distribution {
        did: did.to_owned(),
        version_id: suse_variable(text, "VERSION")?.to_owned(),
        ..Distribution::default()
    })
}

/// `etc/photon-release`: `VMware Photon OS 5.0` then `PHOTON_BUILD_NUMBER=…`.
pub fn photon_release(text: &str) -> Option<Distribution> {
    let line = first_line(text);
    let version = line.strip_prefix("VMware Photon OS ")?.trim();
    let version_id = version.split_whitespace().next()?;
    Some(Distribution {
        did: "photon".to_owned(),
        version_id: version_id.to_owned(),
        pretty_name: line.to_owned(),
        ..Distribution::default()
    })
}
