//! Amazon Linux Security Advisories (ALAS) from a repository's `updateinfo.xml` → [`Vulnerability`] records.
//!
//! Each `<update type="security">` is one advisory (`ALAS2023-2024-500`); it becomes one record per binary
//! package it fixes (architectures folded, source rpms skipped), named by the advisory with its CVEs as
//! aliases, fixed in `[epoch:]version-release`. Non-security updates (bugfix, enhancement) are skipped.
//!
//! The release comes from the advisory id, the way Amazon numbers them: `ALAS2023-…` → `2023`, `ALAS2022-…`
//! → `2022`, `ALAS2-…` (also `ALAS2LIVEPATCH-…`) → `2`, `ALAS-…` → `2018.03` (Amazon Linux 1, whose
//! os-release `VERSION_ID` is `2018.03`). So one parser serves every repository, online or from a folder.
//!
//! Severity mapping (Amazon's scale → [`Severity`]):
//!
//! | ALAS severity | normalized |
//! |---|---|
//! | `critical` | Critical |
//! | `important` | High |
//! | `medium`, `moderate` | Medium |
//! | `low` | Low |
//! | anything else | Unknown |
//!
//! The document is streamed with `quick-xml`: one `<update>` element tree at a time, never the whole file.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::feeds::FeedError;
use crate::feeds::oval::{Element, OvalError, xml_error};
use crate::model::{AffectedRange, DistributionSelector, Ecosystem, Severity, Vulnerability};

/// The updater name of records from Amazon's updateinfo.
pub const UPDATER: &str = "amzn";

/// The distribution id of Amazon Linux in os-release (`ID=amzn`).
pub const DID: &str = "amzn";

/// The release an advisory id belongs to, or `None` for an id outside Amazon's schemes.
pub fn release_of(advisory: &str) -> Option<&'static str> {
    let rest = advisory.strip_prefix("ALAS")?;
    if rest.starts_with("2023") {
        Some("2023")
    } else if rest.starts_with("2022") {
        Some("2022")
    } else if rest.starts_with('2') {
        Some("2")
    } else if rest.starts_with('-') {
        Some("2018.03")
    } else {
        None
    }
}

/// Amazon's severity scale, mapped as the module documentation's table says.
pub fn normalize_severity(severity: &str) -> Severity {
    match severity.trim().to_ascii_lowercase().as_str() {
        "critical" => Severity::Critical,
        "important" => Severity::High,
        "medium" | "moderate" => Severity::Medium,
        "low" => Severity::Low,
        _ => Severity::Unknown,
    }
}

/// Parses an (uncompressed) updateinfo document into records.
pub fn parse_updateinfo(input: impl Read) -> Result<Vec<Vulnerability>, FeedError> {
    let mut records = Vec::new();
    let mut skipped = 0usize;
    let saw = for_each_element(BufReader::new(input), "updates", "update", |update| {
        match to_records(&update) {
            Some(mut found) => records.append(&mut found),
            None => skipped += 1,
        }
        Ok(())
    })
    .map_err(|e| FeedError::malformed(UPDATER, e))?;
    if !saw {
        return Err(FeedError::malformed(
            UPDATER,
            "not an updateinfo document (no <updates> root)",
        ));
    }
    if skipped > 0 {
        tracing::debug!(
            skipped,
            "updateinfo: non-security or unplaceable updates skipped"
        );
    }
    Ok(records)
}

/// The updateinfo entry of a repository's `repomd.xml`: where it is and its checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepomdEntry {
    /// Relative to the repository root (`repodata/…-updateinfo.xml.gz`).
    pub location: String,
    /// `sha256:<hex>` or `<type>:<hex>`: changes exactly when the file does.
    pub checksum: String,
}

/// Finds the `updateinfo` data entry of a `repomd.xml`; `Ok(None)` when the repository publishes none.
pub fn parse_repomd(input: &[u8]) -> Result<Option<RepomdEntry>, OvalError> {
    let mut found = None;
    for_each_element(input, "repomd", "data", |data| {
        if data.attribute("type") == Some("updateinfo") {
            let location = data
                .child("location")
                .and_then(|l| l.attribute("href"))
                .unwrap_or_default()
                .to_owned();
            let checksum = data.child("checksum").map(|c| {
                format!(
                    "{}:{}",
                    c.attribute("type").unwrap_or("sha256"),
                    c.text().to_ascii_lowercase()
                )
            });
            if let (false, Some(checksum)) = (location.is_empty(), checksum) {
                found = Some(RepomdEntry { location, checksum });
            }
        }
        Ok(())
    })?;
    Ok(found)
}

fn to_records(update: &Element) -> Option<Vec<Vulnerability>> {
    if update.attribute("type") != Some("security") {
        return None;
    }
    let name = update.child("id").map(Element::text)?;
    let release = release_of(&name)?;
    let severity = update
        .child("severity")
        .map(Element::text)
        .unwrap_or_default();
    let description = update
        .child("description")
        .map(Element::text)
        .filter(|d| !d.is_empty())
        .or_else(|| update.child("title").map(Element::text))
        .unwrap_or_default();
    let issued = update
        .child("issued")
        .and_then(|i| i.attribute("date"))
        .and_then(parse_date);
    let references: Vec<&Element> = update
        .child("references")
        .map(|r| r.children_named("reference").collect())
        .unwrap_or_default();
    let aliases: Vec<String> = references
        .iter()
        .filter(|r| r.attribute("type") == Some("cve"))
        .filter_map(|r| r.attribute("id"))
        .map(str::to_owned)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let links: Vec<String> = references
        .iter()
        .filter_map(|r| r.attribute("href"))
        .filter(|href| !href.is_empty())
        .map(str::to_owned)
        .collect();
    // One record per (binary package, fixed version): the same package is listed once per architecture.
    let mut fixed: BTreeSet<(String, String)> = BTreeSet::new();
    let collections = update
        .child("pkglist")
        .map(|p| p.children_named("collection").collect::<Vec<_>>())
        .unwrap_or_default();
    for package in collections.iter().flat_map(|c| c.children_named("package")) {
        if package.attribute("arch") == Some("src") {
            continue;
        }
        let (Some(package_name), Some(version)) =
            (package.attribute("name"), package.attribute("version"))
        else {
            continue;
        };
        let release_part = package.attribute("release").unwrap_or_default();
        let evr = match package.attribute("epoch").map(str::trim) {
            Some(epoch) if !epoch.is_empty() && epoch != "0" => {
                format!("{epoch}:{version}-{release_part}")
            }
            _ => format!("{version}-{release_part}"),
        };
        fixed.insert((package_name.to_owned(), evr));
    }
    Some(
        fixed
            .into_iter()
            .map(|(package_name, evr)| Vulnerability {
                updater: UPDATER.to_owned(),
                name: name.clone(),
                aliases: aliases.clone(),
                description: description.clone(),
                issued,
                links: links.clone(),
                severity: severity.clone(),
                normalized_severity: normalize_severity(&severity),
                ecosystem: Some(Ecosystem::Rpm),
                package_name,
                package_is_source: false,
                distribution: Some(DistributionSelector {
                    did: DID.to_owned(),
                    release: release.to_owned(),
                }),
                module: String::new(),
                arch: String::new(),
                ranges: vec![AffectedRange {
                    fixed: Some(evr.clone()),
                    ..AffectedRange::default()
                }],
                versions: Vec::new(),
                fixed_in_version: evr,
            })
            .collect(),
    )
}

/// `2023-02-17 20:41:00` or `2023-02-17 20:41` (both appear), read as UTC.
fn parse_date(text: &str) -> Option<time::OffsetDateTime> {
    let with_seconds =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let without_seconds = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    let text = text.trim();
    time::PrimitiveDateTime::parse(text, with_seconds)
        .or_else(|_| time::PrimitiveDateTime::parse(text, without_seconds))
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

/// Streams `input` and hands every `entry` element (with its subtree) under a `root` document element to
/// `on_entry`, one at a time. Returns whether the root was seen; errors on malformed or truncated XML.
fn for_each_element(
    input: impl BufRead,
    root: &str,
    entry: &str,
    mut on_entry: impl FnMut(Element) -> Result<(), OvalError>,
) -> Result<bool, OvalError> {
    /// Deeper than any updateinfo or repomd document nests; bounds a hostile document.
    const MAX_DEPTH: usize = 32;
    let mut reader = Reader::from_reader(input);
    let mut buffer = Vec::new();
    let mut depth = 0usize;
    let mut saw_root = false;
    let mut open: Vec<Element> = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buffer)
            .map_err(|e| xml_error(&reader, e))?;
        match &event {
            Event::Start(start) | Event::Empty(start) => {
                let empty = matches!(event, Event::Empty(_));
                if depth == 0 {
                    saw_root |= start.local_name().as_ref() == root;
                }
                if !open.is_empty() || start.local_name().as_ref() == entry {
                    let element = Element::from_start(start)?;
                    if empty {
                        match open.last_mut() {
                            Some(parent) => parent.children.push(element),
                            None => on_entry(element)?,
                        }
                    } else {
                        open.push(element);
                    }
                }
                if !empty {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(OvalError::TooDeep);
                    }
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if let Some(element) = open.pop() {
                    match open.last_mut() {
                        Some(parent) => parent.children.push(element),
                        None => on_entry(element)?,
                    }
                }
            }
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) => {
                if let Some(element) = open.last_mut() {
                    element.push_text(&reader, &event)?;
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
    }
    if depth != 0 {
        return Err(OvalError::Truncated);
    }
    Ok(saw_root)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AL2023: &[u8] = include_bytes!("testdata/updateinfo-al2023.xml");
    const AL2: &[u8] = include_bytes!("testdata/updateinfo-al2.xml");

    fn find<'a>(records: &'a [Vulnerability], name: &str, package: &str) -> &'a Vulnerability {
        records
            .iter()
            .find(|r| r.name == name && r.package_name == package)
            .unwrap_or_else(|| panic!("{name} {package} missing"))
    }

    #[test]
    fn security_advisories_become_one_record_per_binary_package() {
        let records = parse_updateinfo(AL2023).unwrap();
        // rsyslog (x86_64 + aarch64 folded, src skipped), rsyslog-gnutls, openssl-libs, curl-minimal,
        // libcurl-minimal; the bugfix update is skipped.
        assert_eq!(records.len(), 5, "{records:#?}");
        let rsyslog = find(&records, "ALAS2023-2023-001", "rsyslog");
        assert_eq!(rsyslog.fixed_in_version, "8.2204.0-3.amzn2023.0.1");
        assert_eq!(rsyslog.aliases, vec!["CVE-2022-24903".to_owned()]);
        assert_eq!(rsyslog.normalized_severity, Severity::High);
        assert_eq!(rsyslog.severity, "important");
        assert_eq!(
            rsyslog.distribution,
            Some(DistributionSelector {
                did: "amzn".into(),
                release: "2023".into()
            })
        );
        assert!(rsyslog.description.contains("heap-based buffer overflow"));
        assert_eq!(
            rsyslog.issued.map(|t| t.unix_timestamp()),
            Some(1_676_666_460)
        );
        let openssl = find(&records, "ALAS2023-2024-500", "openssl-libs");
        assert_eq!(openssl.fixed_in_version, "1:3.0.8-1.amzn2023.0.12");
        assert_eq!(openssl.normalized_severity, Severity::Critical);
        assert!(openssl.description.contains("crash & deny"));
        assert_eq!(openssl.links.len(), 2);
        let curl = find(&records, "ALAS2023-2024-520", "curl-minimal");
        assert_eq!(curl.aliases, vec!["CVE-2023-46218", "CVE-2023-46219"]);
        assert_eq!(curl.normalized_severity, Severity::Medium);
        assert!(curl.description.contains("<domain>"), "CDATA kept");
        assert!(curl.issued.is_some(), "minutes-only dates parse");
        assert!(records.iter().all(|r| r.package_name != "tzdata"));
    }

    #[test]
    fn the_release_comes_from_the_advisory_id() {
        let records = parse_updateinfo(AL2).unwrap();
        let release = |name: &str| {
            records
                .iter()
                .find(|r| r.name == name)
                .and_then(|r| r.distribution.clone())
                .map(|d| d.release)
        };
        assert_eq!(release("ALAS2-2023-2290").as_deref(), Some("2"));
        assert_eq!(release("ALAS-2023-1700").as_deref(), Some("2018.03"));
        assert_eq!(release_of("ALAS2LIVEPATCH-2023-150"), Some("2"));
        assert_eq!(release_of("ALAS2022-2022-001"), Some("2022"));
        assert_eq!(release_of("RHSA-2023:0001"), None);
    }

    #[test]
    fn bad_documents_are_errors_not_panics() {
        assert!(parse_updateinfo(&b"<updates><update type=\"security\"><id>ALAS2"[..]).is_err());
        assert!(parse_updateinfo(&b"{\"not\": \"xml\"}"[..]).is_err());
        assert!(parse_updateinfo(&b"<oval_definitions/>"[..]).is_err());
        let deep = format!("<updates>{}", "<a>".repeat(100));
        assert!(parse_updateinfo(deep.as_bytes()).is_err());
        assert_eq!(parse_updateinfo(&b"<updates/>"[..]).unwrap(), Vec::new());
    }

    #[test]
    fn repomd_points_at_the_updateinfo_with_its_checksum() {
        let repomd = br#"<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
 <revision>1568754421</revision>
<data type="primary_db">
  <checksum type="sha256">8931ecdd9407bf434f4051229d5cff68bcdcda48d7a5f7706daac385b20f95ac</checksum>
  <location href="repodata/primary.sqlite.bz2"/>
</data>
<data type="updateinfo">
  <checksum type="sha256">9DD3CE045294B530720D13829817254E3CD67EC1AC36F66069238D9D111D3CC0</checksum>
  <open-checksum type="sha256">3530bd37fdb291b0d5bc92e05fb86bc7403028c0878084626ed11986806865a6</open-checksum>
  <location href="repodata/0123abcd-updateinfo.xml.gz"/>
  <size>610596</size>
</data>
</repomd>"#;
        assert_eq!(
            parse_repomd(repomd).unwrap(),
            Some(RepomdEntry {
                location: "repodata/0123abcd-updateinfo.xml.gz".into(),
                checksum: "sha256:9dd3ce045294b530720d13829817254e3cd67ec1ac36f66069238d9d111d3cc0"
                    .into(),
            })
        );
        assert_eq!(
            parse_repomd(b"<repomd><revision>1</revision></repomd>").unwrap(),
            None
        );
        assert!(parse_repomd(b"<repomd><data type=\"updateinfo\">").is_err());
    }
}
