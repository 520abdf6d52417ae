//! Enrichment feeds, keyed by CVE: NVD CVSS (JSON 2.0 feeds), CISA's Known Exploited Vulnerabilities
//! catalog, and FIRST's EPSS scores. They do not say which packages are affected; the matcher attaches them
//! to the vulnerabilities it finds (by name or alias) in a report's `enrichments`.
//!
//! Each record's `data` is a small JSON object whose `kind` says which (`cvss`, `kev`, `epss`).

use std::io::{BufRead, BufReader, Read};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::FeedError;

/// One enrichment of one CVE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enrichment {
    /// The source (`nvd`, `kev`, `epss`).
    pub updater: String,
    pub cve: String,
    pub data: Value,
}

/// Updater names of the enrichment sources.
pub const NVD: &str = "nvd";
pub const KEV: &str = "kev";
pub const EPSS: &str = "epss";

fn is_cve(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("CVE-") else {
        return false;
    };
    let mut parts = rest.splitn(2, '-');
    let year = parts.next().unwrap_or("");
    let number = parts.next().unwrap_or("");
    year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && number.len() >= 4
        && number.bytes().all(|b| b.is_ascii_digit())
}

#[derive(Deserialize)]
struct NvdFeed {
    vulnerabilities: Vec<NvdItem>,
}

#[derive(Deserialize)]
struct NvdItem {
    cve: NvdCve,
}

#[derive(Deserialize)]
struct NvdCve {
    id: String,
    #[serde(default)]
    metrics: NvdMetrics,
}

#[derive(Deserialize, Default)]
struct NvdMetrics {
    #[serde(default, rename = "cvssMetricV40")]
    v40: Vec<NvdMetric>,
    #[serde(default, rename = "cvssMetricV31")]
    v31: Vec<NvdMetric>,
    #[serde(default, rename = "cvssMetricV30")]
    v30: Vec<NvdMetric>,
    #[serde(default, rename = "cvssMetricV2")]
    v2: Vec<NvdMetric>,
}

#[derive(Deserialize)]
struct NvdMetric {
    #[serde(default)]
    source: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(rename = "cvssData")]
    data: NvdCvssData,
    /// CVSS v2 keeps its severity beside `cvssData`.
    #[serde(default, rename = "baseSeverity")]
    base_severity_v2: Option<String>,
}

#[derive(Deserialize)]
struct NvdCvssData {
    version: String,
    #[serde(rename = "vectorString")]
    vector: String,
    #[serde(rename = "baseScore")]
    base_score: f64,
    #[serde(default, rename = "baseSeverity")]
    base_severity: Option<String>,
}

/// Parses an NVD CVE JSON 2.0 feed (`nvdcve-2.0-<year>.json`, as downloaded or unpacked). For each CVE,
/// the newest CVSS version present, preferring NVD's own `Primary` score over a CNA's.
pub fn parse_nvd(input: impl Read) -> Result<Vec<Enrichment>, FeedError> {
    let feed: NvdFeed =
        serde_json::from_reader(BufReader::new(input)).map_err(|e| FeedError::malformed(NVD, e))?;
    let mut out = Vec::new();
    for item in feed.vulnerabilities {
        let cve = item.cve;
        if !is_cve(&cve.id) {
            continue;
        }
        let metrics = cve.metrics;
        let chosen = [metrics.v40, metrics.v31, metrics.v30, metrics.v2]
            .into_iter()
            .find(|list| !list.is_empty())
            .and_then(|list| {
                let primary = list.iter().position(|m| m.kind == "Primary").unwrap_or(0);
                list.into_iter().nth(primary)
            });
        let Some(metric) = chosen else { continue };
        let severity = metric
            .data
            .base_severity
            .or(metric.base_severity_v2)
            .unwrap_or_default();
        out.push(Enrichment {
            updater: NVD.to_owned(),
            cve: cve.id,
            data: json!({
                "kind": "cvss",
                "version": metric.data.version,
                "vector": metric.data.vector,
                "base_score": metric.data.base_score,
                "base_severity": severity,
                "source": metric.source,
            }),
        });
    }
    Ok(out)
}

#[derive(Deserialize)]
struct KevCatalog {
    vulnerabilities: Vec<KevEntry>,
}

#[derive(Deserialize)]
struct KevEntry {
    #[serde(rename = "cveID")]
    cve: String,
    #[serde(default, rename = "vulnerabilityName")]
    name: String,
    #[serde(default, rename = "dateAdded")]
    date_added: String,
    #[serde(default, rename = "dueDate")]
    due_date: String,
    #[serde(default, rename = "requiredAction")]
    required_action: String,
    #[serde(default, rename = "knownRansomwareCampaignUse")]
    ransomware: String,
}

/// Parses CISA's KEV catalog (`known_exploited_vulnerabilities.json`).
pub fn parse_kev(input: impl Read) -> Result<Vec<Enrichment>, FeedError> {
    let catalog: KevCatalog =
        serde_json::from_reader(BufReader::new(input)).map_err(|e| FeedError::malformed(KEV, e))?;
    Ok(catalog
        .vulnerabilities
        .into_iter()
        .filter(|e| is_cve(&e.cve))
        .map(|e| Enrichment {
            updater: KEV.to_owned(),
            cve: e.cve,
            data: json!({
                "kind": "kev",
                "name": e.name,
                "date_added": e.date_added,
                "due_date": e.due_date,
                "required_action": e.required_action,
                "known_ransomware_campaign_use": e.ransomware,
            }),
        })
        .collect())
}

/// Parses FIRST's EPSS scores CSV (`epss_scores-<date>.csv`): a `#model_version:…,score_date:…` comment,
/// a `cve,epss,percentile` header, then one row per CVE.
pub fn parse_epss(input: impl Read) -> Result<Vec<Enrichment>, FeedError> {
    let reader = BufReader::new(input);
    let mut model = String::new();
    let mut date = String::new();
    let mut header_seen = false;
    let mut out = Vec::new();
    for (number, line) in reader.lines().enumerate() {
        let line =
            line.map_err(|e| FeedError::malformed(EPSS, format!("line {}: {e}", number + 1)))?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            for part in comment.split(',') {
                if let Some(v) = part.strip_prefix("model_version:") {
                    model = v.to_owned();
                } else if let Some(v) = part.strip_prefix("score_date:") {
                    date = v.to_owned();
                }
            }
            continue;
        }
        if !header_seen {
            if line != "cve,epss,percentile" {
                return Err(FeedError::malformed(
                    EPSS,
                    format!(
                        "line {}: expected the header cve,epss,percentile",
                        number + 1
                    ),
                ));
            }
            header_seen = true;
            continue;
        }
        let mut fields = line.split(',');
        let (Some(cve), Some(epss), Some(percentile), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(FeedError::malformed(
                EPSS,
                format!("line {}: expected 3 fields", number + 1),
            ));
        };
        let parse = |v: &str| {
            v.parse::<f64>()
                .ok()
                .filter(|x| (0.0..=1.0).contains(x))
                .ok_or_else(|| {
                    FeedError::malformed(
                        EPSS,
                        format!("line {}: {v:?} is not a probability", number + 1),
                    )
                })
        };
        let (epss, percentile) = (parse(epss)?, parse(percentile)?);
        if !is_cve(cve) {
            continue;
        }
        out.push(Enrichment {
            updater: EPSS.to_owned(),
            cve: cve.to_owned(),
            data: json!({
                "kind": "epss",
                "epss": epss,
                "percentile": percentile,
                "date": date,
                "model_version": model,
            }),
        });
    }
    if !header_seen {
        return Err(FeedError::malformed(EPSS, "no cve,epss,percentile header"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvd_prefers_the_newest_cvss_version_and_nvds_primary_score() {
        // Shape of an NVD CVE API 2.0 / JSON 2.0 feed item (CVE-2021-44228, trimmed).
        let feed = br#"{"resultsPerPage":2,"format":"NVD_CVE","version":"2.0","vulnerabilities":[
          {"cve":{"id":"CVE-2021-44228","metrics":{
            "cvssMetricV31":[
              {"source":"security@apache.org","type":"Secondary","cvssData":{"version":"3.1",
               "vectorString":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H","baseScore":10.0,"baseSeverity":"CRITICAL"}},
              {"source":"nvd@nist.gov","type":"Primary","cvssData":{"version":"3.1",
               "vectorString":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H","baseScore":10.0,"baseSeverity":"CRITICAL"}}],
            "cvssMetricV2":[{"source":"nvd@nist.gov","type":"Primary","cvssData":{"version":"2.0",
               "vectorString":"AV:N/AC:M/Au:N/C:C/I:C/A:C","baseScore":9.3},"baseSeverity":"HIGH"}]}}},
          {"cve":{"id":"CVE-1999-0001","metrics":{"cvssMetricV2":[{"source":"nvd@nist.gov","type":"Primary",
             "cvssData":{"version":"2.0","vectorString":"AV:N/AC:L/Au:N/C:N/I:N/A:P","baseScore":5.0},"baseSeverity":"MEDIUM"}]}}},
          {"cve":{"id":"CVE-2024-99999","metrics":{}}}]}"#;
        let records = parse_nvd(&feed[..]).unwrap();
        assert_eq!(records.len(), 2, "a CVE with no metrics has no enrichment");
        assert_eq!(records[0].cve, "CVE-2021-44228");
        assert_eq!(records[0].data["version"], "3.1");
        assert_eq!(records[0].data["source"], "nvd@nist.gov");
        assert_eq!(records[0].data["base_score"], 10.0);
        assert_eq!(records[1].data["version"], "2.0");
        assert_eq!(records[1].data["base_severity"], "MEDIUM");
        assert!(parse_nvd(&b"{\"vulnerabilities\": [ {\"cve\""[..]).is_err());
    }

    #[test]
    fn kev_catalog_entries() {
        let catalog = br#"{"title":"CISA Catalog of Known Exploited Vulnerabilities","catalogVersion":"2026.11.27",
          "count":1,"vulnerabilities":[{"cveID":"CVE-2021-44228","vendorProject":"Apache","product":"Log4j2",
          "vulnerabilityName":"Apache Log4j2 Remote Code Execution Vulnerability","dateAdded":"2021-12-10",
          "shortDescription":"...","requiredAction":"Apply updates per vendor instructions.","dueDate":"2021-12-24",
          "knownRansomwareCampaignUse":"Known","notes":""}]}"#;
        let records = parse_kev(&catalog[..]).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].cve, "CVE-2021-44228");
        assert_eq!(records[0].data["known_ransomware_campaign_use"], "Known");
        assert_eq!(records[0].data["date_added"], "2021-12-10");
    }

    #[test]
    fn epss_csv_with_model_comment() {
        let csv = "#model_version:v2025.03.14,score_date:2026-11-27T12:55:00Z\ncve,epss,percentile\n\
                   CVE-2021-44228,0.94358,0.99957\nCVE-1999-0001,0.00912,0.75000\n";
        let records = parse_epss(csv.as_bytes()).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].data["epss"], 0.94358);
        assert_eq!(records[0].data["model_version"], "v2025.03.14");
        assert_eq!(records[1].data["date"], "2026-11-27T12:55:00Z");
        assert!(parse_epss("cve,epss,percentile\nCVE-2021-1,2.0,0.1\n".as_bytes()).is_err());
        assert!(parse_epss("cve,score\n".as_bytes()).is_err());
        assert!(parse_epss("".as_bytes()).is_err());
    }
}
