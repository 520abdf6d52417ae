//! Red Hat CSAF VEX documents (one per CVE) → [`Vulnerability`] records for RHEL rpm packages.
//!
//! A VEX document names products in a tree and joins them with relationships:
//!
//! ```text
//! product_tree.branches   … { product_id: "BaseOS-9.3.0.Z.MAIN", cpe: "cpe:/o:redhat:enterprise_linux:9::baseos" }
//!                         … { product_id: "curl-0:7.76.1-26.el9_3.2.x86_64" }
//! relationships           { product_id: "BaseOS-9.3.0.Z.MAIN:curl-0:7.76.1-26.el9_3.2.x86_64",
//!                           product_reference: "curl-0:7.76.1-26.el9_3.2.x86_64",
//!                           relates_to_product_reference: "BaseOS-9.3.0.Z.MAIN" }
//! vulnerabilities[].product_status { fixed: [...], known_affected: [...], known_not_affected: [...] }
//! ```
//!
//! Modular packages add one level: the platform of a package is then a relationship itself (module
//! `nodejs:18:<version>:<context>` as a component of the platform), which gives the record's `module`.
//!
//! What becomes a record (naming per [`crate::feeds`]: updater `rhel`, distribution `rhel` / major):
//! - only platforms whose CPE is `cpe:/{o,a}:redhat:enterprise_linux:<major>[…]`: other Red Hat products
//!   (Satellite, JBoss, OpenShift, EUS/AUS/E4S CPEs `rhel_eus` …) are not RHEL images' base packages;
//! - `fixed` → `ranges [{fixed: "epoch:version-release"}]`, parsed from the component's NEVRA;
//! - `known_affected` → empty `ranges` (every version);
//! - `known_not_affected` → nothing;
//! - source (`.src`) components are skipped: records name binary packages (`package_is_source` false);
//! - arches are merged (Red Hat ships one EVR per fix across arches), so `arch` is empty;
//! - Lucid keys RHEL records by major release only, without Clair's per-repository CPE; when several
//!   streams of one major fix a package (9.2 EUS at `-23.el9_2.4`, 9.3 at `-26.el9_3.2`), the highest
//!   fixed version is kept, and a package also listed as known-affected stays unfixed: both choices
//!   over-report rather than hide a vulnerability.
//!
//! Severity: the `impact` threat that lists the product, else the first `impact` threat, else the
//! document's `aggregate_severity`, mapped as claircore does:
//!
//! | Red Hat impact | [`Severity`] |
//! |---|---|
//! | Low | Low |
//! | Moderate | Medium |
//! | Important | High |
//! | Critical | Critical |
//! | anything else / none | Unknown, then the CVSS v3 (else v2) base score of the product's score entry via [`Severity::from_cvss_score`] |
//!
//! The record model has no CVSS field, so scores only serve that fallback.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ecosystems::rpm::version::compare;
use crate::feeds::FeedError;
use crate::model::{AffectedRange, DistributionSelector, Ecosystem, Severity, Vulnerability};

const UPDATER: &str = "rhel";
const FEED: &str = "rhel-vex";
/// Relationship chains deeper than package → module → platform are not produced by Red Hat.
const MAX_RELATIONSHIP_DEPTH: usize = 3;

#[derive(Debug, Deserialize)]
struct Document {
    document: DocumentMeta,
    product_tree: ProductTree,
    #[serde(default)]
    vulnerabilities: Vec<CsafVulnerability>,
}

#[derive(Debug, Deserialize)]
struct DocumentMeta {
    #[serde(default)]
    aggregate_severity: Option<TextField>,
    tracking: Tracking,
}

#[derive(Debug, Deserialize)]
struct TextField {
    text: String,
}

#[derive(Debug, Deserialize)]
struct Tracking {
    id: String,
    #[serde(default)]
    initial_release_date: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ProductTree {
    #[serde(default)]
    branches: Vec<Branch>,
    #[serde(default)]
    relationships: Vec<Relationship>,
}

#[derive(Debug, Deserialize)]
struct Branch {
    #[serde(default)]
    branches: Vec<Branch>,
    #[serde(default)]
    product: Option<Product>,
}

#[derive(Debug, Deserialize)]
struct Product {
    product_id: String,
    #[serde(default)]
    product_identification_helper: Option<IdentificationHelper>,
}

#[derive(Debug, Deserialize)]
struct IdentificationHelper {
    #[serde(default)]
    cpe: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Relationship {
    full_product_name: FullProductName,
    product_reference: String,
    relates_to_product_reference: String,
}

#[derive(Debug, Deserialize)]
struct FullProductName {
    product_id: String,
}

#[derive(Debug, Deserialize)]
struct CsafVulnerability {
    #[serde(default)]
    cve: Option<String>,
    #[serde(default)]
    notes: Vec<Note>,
    #[serde(default)]
    release_date: Option<String>,
    #[serde(default)]
    references: Vec<Reference>,
    #[serde(default)]
    product_status: ProductStatus,
    #[serde(default)]
    threats: Vec<Threat>,
    #[serde(default)]
    scores: Vec<Score>,
}

#[derive(Debug, Deserialize)]
struct Note {
    category: String,
    text: String,
}

#[derive(Debug, Deserialize)]
struct Reference {
    url: String,
}

#[derive(Debug, Default, Deserialize)]
struct ProductStatus {
    #[serde(default)]
    fixed: Vec<String>,
    #[serde(default)]
    known_affected: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Threat {
    category: String,
    #[serde(default)]
    details: String,
    #[serde(default)]
    product_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Score {
    #[serde(default)]
    cvss_v3: Option<CvssScore>,
    #[serde(default)]
    cvss_v2: Option<CvssScore>,
    #[serde(default)]
    products: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct CvssScore {
    #[serde(rename = "baseScore")]
    base_score: f64,
}

/// Maps Red Hat's impact rating onto the normalized scale (table in the module docs).
pub fn normalize_severity(impact: &str) -> Severity {
    match impact.trim().to_ascii_lowercase().as_str() {
        "low" => Severity::Low,
        "moderate" => Severity::Medium,
        "important" => Severity::High,
        "critical" => Severity::Critical,
        _ => Severity::Unknown,
    }
}

/// The RHEL major release named by a platform CPE, e.g. `9` for `cpe:/o:redhat:enterprise_linux:9::baseos`
/// or `cpe:/a:redhat:enterprise_linux:8.2`; `None` for other products.
pub fn rhel_major_from_cpe(cpe: &str) -> Option<String> {
    let rest = cpe
        .strip_prefix("cpe:/o:redhat:enterprise_linux:")
        .or_else(|| cpe.strip_prefix("cpe:/a:redhat:enterprise_linux:"))?;
    let version = rest.split(':').next()?;
    let major = version.split('.').next()?;
    (!major.is_empty() && major.bytes().all(|b| b.is_ascii_digit())).then(|| major.to_owned())
}

/// A component product id: `name-epoch:version-release.arch` (fixed) or a bare `name` (affected).
#[derive(Debug, PartialEq, Eq)]
struct Component<'a> {
    name: &'a str,
    /// `epoch:version-release`, when the id carries one.
    evr: Option<&'a str>,
    arch: Option<&'a str>,
}

fn parse_component(id: &str) -> Component<'_> {
    let nevra = || -> Option<Component<'_>> {
        let (nevr, arch) = id.rsplit_once('.')?;
        let (nev, _release) = nevr.rsplit_once('-')?;
        let (name, epoch_version) = nev.rsplit_once('-')?;
        let (epoch, _version) = epoch_version.split_once(':')?;
        if name.is_empty() || epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Component {
            name,
            evr: nevr.get(name.len() + 1..),
            arch: Some(arch),
        })
    };
    nevra().unwrap_or_else(|| match id.strip_suffix(".src") {
        Some(name) => Component {
            name,
            evr: None,
            arch: Some("src"),
        },
        None => Component {
            name: id,
            evr: None,
            arch: None,
        },
    })
}

/// The module stream `name:stream` from a module product id `name:stream:version:context`.
fn module_stream(module_id: &str) -> Option<String> {
    let mut parts = module_id.split(':');
    let (name, stream) = (parts.next()?, parts.next()?);
    // A module id has a version after the stream; a package NEVRA would not split like this.
    parts.next()?;
    (!name.is_empty() && !stream.is_empty()).then(|| format!("{name}:{stream}"))
}

/// Where a status entry points: the component, its module stream, and the platform's RHEL major.
struct Resolved<'a> {
    component: Component<'a>,
    module: String,
    release: String,
}

struct Products<'a> {
    cpe_by_id: HashMap<&'a str, &'a str>,
    relationships: HashMap<&'a str, &'a Relationship>,
}

impl<'a> Products<'a> {
    fn new(tree: &'a ProductTree) -> Products<'a> {
        let mut cpe_by_id = HashMap::new();
        let mut stack: Vec<&Branch> = tree.branches.iter().collect();
        while let Some(branch) = stack.pop() {
            if let Some(product) = &branch.product
                && let Some(cpe) = product
                    .product_identification_helper
                    .as_ref()
                    .and_then(|h| h.cpe.as_deref())
            {
                cpe_by_id.insert(product.product_id.as_str(), cpe);
            }
            stack.extend(branch.branches.iter());
        }
        let relationships = tree
            .relationships
            .iter()
            .map(|r| (r.full_product_name.product_id.as_str(), r))
            .collect();
        Products {
            cpe_by_id,
            relationships,
        }
    }

    fn resolve(&self, product_id: &str) -> Option<Resolved<'a>> {
        let relationship = *self.relationships.get(product_id)?;
        let component = parse_component(&relationship.product_reference);
        let mut module = String::new();
        let mut platform = relationship.relates_to_product_reference.as_str();
        for _ in 0..MAX_RELATIONSHIP_DEPTH {
            match self.relationships.get(platform) {
                Some(outer) => {
                    if module.is_empty() {
                        module = module_stream(&outer.product_reference).unwrap_or_default();
                    }
                    platform = outer.relates_to_product_reference.as_str();
                }
                None => break,
            }
        }
        let release = rhel_major_from_cpe(self.cpe_by_id.get(platform)?)?;
        Some(Resolved {
            component,
            module,
            release,
        })
    }
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Parses one CSAF VEX document into records. Broken JSON or a missing required field is a
/// [`FeedError::Malformed`]; unknown products and statuses are skipped.
pub fn parse_vex(json: &[u8]) -> Result<Vec<Vulnerability>, FeedError> {
    let document: Document =
        serde_json::from_slice(json).map_err(|e| FeedError::malformed(FEED, e))?;
    let products = Products::new(&document.product_tree);
    let mut records = Vec::new();
    for vulnerability in &document.vulnerabilities {
        records.extend(vulnerability_records(&document, &products, vulnerability));
    }
    Ok(records)
}

fn vulnerability_records(
    document: &Document,
    products: &Products<'_>,
    vulnerability: &CsafVulnerability,
) -> Vec<Vulnerability> {
    let name = vulnerability
        .cve
        .clone()
        .unwrap_or_else(|| document.document.tracking.id.clone());
    let description = vulnerability
        .notes
        .iter()
        .find(|n| n.category == "description")
        .map(|n| n.text.clone())
        .unwrap_or_default();
    let issued = vulnerability
        .release_date
        .as_deref()
        .or(document.document.tracking.initial_release_date.as_deref())
        .and_then(parse_time);
    let links: Vec<String> = vulnerability
        .references
        .iter()
        .map(|r| r.url.clone())
        .collect();

    // (release, package, module) → (fixed version or None for unfixed, severity source product id).
    let mut by_package: BTreeMap<(String, String, String), (Option<String>, &str)> =
        BTreeMap::new();
    let statuses = vulnerability
        .product_status
        .fixed
        .iter()
        .map(|id| (id, true))
        .chain(
            vulnerability
                .product_status
                .known_affected
                .iter()
                .map(|id| (id, false)),
        );
    for (product_id, is_fixed) in statuses {
        let Some(resolved) = products.resolve(product_id) else {
            continue;
        };
        if resolved.component.arch == Some("src") {
            continue;
        }
        let fixed = match (is_fixed, resolved.component.evr) {
            (true, Some(evr)) => Some(evr.to_owned()),
            // A "fixed" entry without a version cannot be compared against: skip it.
            (true, None) => continue,
            (false, _) => None,
        };
        let key = (
            resolved.release,
            resolved.component.name.to_owned(),
            resolved.module,
        );
        match by_package.get_mut(&key) {
            None => {
                by_package.insert(key, (fixed, product_id.as_str()));
            }
            Some(existing) => match (&existing.0, &fixed) {
                (None, _) => {}
                (Some(_), None) => *existing = (None, product_id.as_str()),
                (Some(old), Some(new)) => {
                    if compare(new, old).is_gt() {
                        *existing = (fixed, product_id.as_str());
                    }
                }
            },
        }
    }

    by_package
        .into_iter()
        .map(|((release, package_name, module), (fixed, product_id))| {
            let (severity, normalized_severity) = severity_for(document, vulnerability, product_id);
            Vulnerability {
                updater: UPDATER.to_owned(),
                name: name.clone(),
                description: description.clone(),
                issued,
                links: links.clone(),
                severity,
                normalized_severity,
                ecosystem: Some(Ecosystem::Rpm),
                package_name,
                package_is_source: false,
                distribution: Some(DistributionSelector {
                    did: "rhel".to_owned(),
                    release,
                }),
                module,
                arch: String::new(),
                ranges: fixed
                    .iter()
                    .map(|f| AffectedRange {
                        fixed: Some(f.clone()),
                        ..Default::default()
                    })
                    .collect(),
                versions: Vec::new(),
                fixed_in_version: fixed.unwrap_or_default(),
                aliases: Vec::new(),
            }
        })
        .collect()
}

fn severity_for(
    document: &Document,
    vulnerability: &CsafVulnerability,
    product_id: &str,
) -> (String, Severity) {
    let impacts = || {
        vulnerability
            .threats
            .iter()
            .filter(|t| t.category == "impact")
    };
    let impact = impacts()
        .find(|t| t.product_ids.iter().any(|p| p == product_id))
        .or_else(|| impacts().next())
        .map(|t| t.details.clone())
        .or_else(|| {
            document
                .document
                .aggregate_severity
                .as_ref()
                .map(|a| a.text.clone())
        })
        .unwrap_or_default();
    let normalized = normalize_severity(&impact);
    if normalized != Severity::Unknown {
        return (impact, normalized);
    }
    let score = vulnerability
        .scores
        .iter()
        .find(|s| s.products.iter().any(|p| p == product_id))
        .or_else(|| vulnerability.scores.first())
        .and_then(|s| s.cvss_v3.as_ref().or(s.cvss_v2.as_ref()))
        .map(|c| c.base_score);
    match score {
        Some(score) if score.is_finite() => (impact, Severity::from_cvss_score(score)),
        _ => (impact, Severity::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CURL: &[u8] = include_bytes!("testdata/cve-2023-38545.json");
    const SAMBA_NOT_AFFECTED: &[u8] = include_bytes!("testdata/cve-2023-4154.json");
    const SATELLITE_ONLY: &[u8] = include_bytes!("testdata/cve-2024-22047.json");
    const KERNEL_NOT_AFFECTED: &[u8] = include_bytes!("testdata/cve-2021-0084.json");

    fn summary(records: &[Vulnerability]) -> Vec<(String, String, String, String)> {
        records
            .iter()
            .map(|r| {
                (
                    r.distribution.as_ref().unwrap().release.clone(),
                    r.package_name.clone(),
                    r.module.clone(),
                    r.fixed_in_version.clone(),
                )
            })
            .collect()
    }

    fn row(release: &str, name: &str, fixed: &str) -> (String, String, String, String) {
        (release.into(), name.into(), String::new(), fixed.into())
    }

    #[test]
    fn curl_fixed_records_per_rhel_major() {
        let records = parse_vex(CURL).unwrap();
        // RHEL 9 fixes: 9.3 (-26.el9_3.2) wins over 9.2 EUS (-23.el9_2.4); `.src` entries dropped.
        // RHEL 6/7/8 are known_not_affected: no records. Satellite/JBCS products: not RHEL.
        let fixed = "0:7.76.1-26.el9_3.2";
        assert_eq!(
            summary(&records),
            vec![
                row("9", "curl", fixed),
                row("9", "curl-debuginfo", fixed),
                row("9", "curl-debugsource", fixed),
                row("9", "curl-minimal", fixed),
                row("9", "curl-minimal-debuginfo", fixed),
                row("9", "libcurl", fixed),
                row("9", "libcurl-debuginfo", fixed),
                row("9", "libcurl-devel", fixed),
                row("9", "libcurl-minimal", fixed),
                row("9", "libcurl-minimal-debuginfo", fixed),
            ]
        );
        let curl = &records[0];
        assert_eq!(curl.updater, "rhel");
        assert_eq!(curl.name, "CVE-2023-38545");
        assert_eq!(curl.severity, "Important");
        assert_eq!(curl.normalized_severity, Severity::High);
        assert_eq!(curl.ecosystem, Some(Ecosystem::Rpm));
        assert!(!curl.package_is_source);
        assert_eq!(
            curl.distribution,
            Some(DistributionSelector {
                did: "rhel".into(),
                release: "9".into()
            })
        );
        assert_eq!(
            curl.ranges,
            vec![AffectedRange {
                fixed: Some(fixed.into()),
                ..Default::default()
            }]
        );
        assert_eq!(curl.arch, "");
        assert!(
            curl.description
                .starts_with("A heap-based buffer overflow flaw was found in the SOCKS5 pr"),
            "{}",
            curl.description
        );
        assert!(
            curl.links
                .contains(&"https://access.redhat.com/security/cve/CVE-2023-38545".to_owned())
        );
        assert_eq!(
            curl.issued,
            Some(time::macros::datetime!(2023-10-11 00:00 UTC))
        );
        // Non-hits: nothing for RHEL 6/7/8 and nothing from other products.
        assert!(
            records
                .iter()
                .all(|r| r.distribution.as_ref().unwrap().release == "9")
        );
        assert!(!records.iter().any(|r| r.package_name.starts_with("jbcs-")));
        assert!(!records.iter().any(|r| r.package_name == "puppet-agent"));
    }

    #[test]
    fn known_not_affected_and_other_products_produce_nothing() {
        assert_eq!(parse_vex(SAMBA_NOT_AFFECTED).unwrap(), vec![]);
        assert_eq!(parse_vex(KERNEL_NOT_AFFECTED).unwrap(), vec![]);
        // Satellite 6 (cpe:/a:redhat:satellite:6) is known_affected, but it is not RHEL.
        assert_eq!(parse_vex(SATELLITE_ONLY).unwrap(), vec![]);
    }

    /// A minimal document in Red Hat's shape (trimmed from cve-2024-22047.json) with a RHEL platform,
    /// a module level, a known_affected bare name and a fixed NEVRA.
    fn synthetic(impact: &str) -> String {
        format!(
            r#"{{
  "document": {{"tracking": {{"id": "CVE-2099-0001", "initial_release_date": "2099-01-02T03:04:05+00:00"}}}},
  "product_tree": {{
    "branches": [{{"branches": [
      {{"product": {{"product_id": "red_hat_enterprise_linux_8", "product_identification_helper": {{"cpe": "cpe:/o:redhat:enterprise_linux:8"}}}}}},
      {{"product": {{"product_id": "AppStream-8.8.0.Z.MAIN", "product_identification_helper": {{"cpe": "cpe:/a:redhat:enterprise_linux:8::appstream"}}}}}}
    ]}}],
    "relationships": [
      {{"full_product_name": {{"product_id": "red_hat_enterprise_linux_8:openssl"}}, "product_reference": "openssl", "relates_to_product_reference": "red_hat_enterprise_linux_8"}},
      {{"full_product_name": {{"product_id": "AppStream-8.8.0.Z.MAIN:nodejs:18:8080020230809150621:e4f8f2d3"}}, "product_reference": "nodejs:18:8080020230809150621:e4f8f2d3", "relates_to_product_reference": "AppStream-8.8.0.Z.MAIN"}},
      {{"full_product_name": {{"product_id": "AppStream-8.8.0.Z.MAIN:nodejs:18:8080020230809150621:e4f8f2d3:nodejs-1:18.17.1-1.module+el8.8.0+19757+8ca87034.x86_64"}}, "product_reference": "nodejs-1:18.17.1-1.module+el8.8.0+19757+8ca87034.x86_64", "relates_to_product_reference": "AppStream-8.8.0.Z.MAIN:nodejs:18:8080020230809150621:e4f8f2d3"}}
    ]
  }},
  "vulnerabilities": [{{
    "cve": "CVE-2099-0001",
    "product_status": {{
      "fixed": ["AppStream-8.8.0.Z.MAIN:nodejs:18:8080020230809150621:e4f8f2d3:nodejs-1:18.17.1-1.module+el8.8.0+19757+8ca87034.x86_64"],
      "known_affected": ["red_hat_enterprise_linux_8:openssl"]
    }},
    "threats": [{{"category": "impact", "details": "{impact}", "product_ids": []}}],
    "scores": [{{"cvss_v3": {{"baseScore": 9.8}}, "products": []}}]
  }}]
}}"#
        )
    }

    #[test]
    fn modules_unfixed_and_severity_fallbacks() {
        let records = parse_vex(synthetic("Low").as_bytes()).unwrap();
        assert_eq!(
            summary(&records),
            vec![
                (
                    "8".into(),
                    "nodejs".into(),
                    "nodejs:18".into(),
                    "1:18.17.1-1.module+el8.8.0+19757+8ca87034".into()
                ),
                row("8", "openssl", ""),
            ]
        );
        assert_eq!(records[1].ranges, vec![]);
        assert_eq!(records[0].normalized_severity, Severity::Low);
        assert_eq!(
            records[0].issued,
            Some(time::macros::datetime!(2099-01-02 03:04:05 UTC))
        );
        // Unknown impact → CVSS v3 base score 9.8.
        let records = parse_vex(synthetic("Unrated").as_bytes()).unwrap();
        assert_eq!(records[0].severity, "Unrated");
        assert_eq!(records[0].normalized_severity, Severity::Critical);
    }

    #[test]
    fn severity_table() {
        assert_eq!(normalize_severity("Low"), Severity::Low);
        assert_eq!(normalize_severity("moderate"), Severity::Medium);
        assert_eq!(normalize_severity("Important"), Severity::High);
        assert_eq!(normalize_severity("Critical"), Severity::Critical);
        assert_eq!(normalize_severity("none"), Severity::Unknown);
    }

    #[test]
    fn cpe_and_component_parsing() {
        assert_eq!(
            rhel_major_from_cpe("cpe:/o:redhat:enterprise_linux:9"),
            Some("9".into())
        );
        assert_eq!(
            rhel_major_from_cpe("cpe:/a:redhat:enterprise_linux:8.2::appstream"),
            Some("8".into())
        );
        assert_eq!(
            rhel_major_from_cpe("cpe:/o:redhat:rhel_eus:9.0::baseos"),
            None
        );
        assert_eq!(rhel_major_from_cpe("cpe:/a:redhat:satellite:6"), None);
        assert_eq!(rhel_major_from_cpe("cpe:/o:redhat:enterprise_linux:"), None);
        assert_eq!(
            parse_component("openssl-1:3.0.7-27.el9.x86_64"),
            Component {
                name: "openssl",
                evr: Some("1:3.0.7-27.el9"),
                arch: Some("x86_64")
            }
        );
        assert_eq!(
            parse_component("curl.src"),
            Component {
                name: "curl",
                evr: None,
                arch: Some("src")
            }
        );
        assert_eq!(
            parse_component("python3.11"),
            Component {
                name: "python3.11",
                evr: None,
                arch: None
            }
        );
    }

    #[test]
    fn broken_documents_are_malformed_errors() {
        for input in [
            &b""[..],
            b"{",
            b"[]",
            b"null",
            b"{\"document\": 1}",
            &CURL[..CURL.len() / 2],
        ] {
            assert!(
                matches!(parse_vex(input), Err(FeedError::Malformed { .. })),
                "{:?}",
                String::from_utf8_lossy(&input[..input.len().min(40)])
            );
        }
        // Wrong type deep inside: product_status.fixed as a string.
        let wrong = synthetic("Low").replace(
            r#""known_affected": ["red_hat_enterprise_linux_8:openssl"]"#,
            r#""known_affected": "red_hat_enterprise_linux_8:openssl""#,
        );
        let err = parse_vex(wrong.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
        // Huge number.
        let huge = synthetic("Unrated").replace("9.8", "1e999");
        assert!(matches!(
            parse_vex(huge.as_bytes()),
            Err(FeedError::Malformed { .. })
        ));
        // Deep nesting is refused by serde_json's recursion limit, not a stack overflow.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_vex(deep.as_bytes()).is_err());
    }
}
