//! Vulnerability feeds: formats shared by several sources (OSV, OVAL) and the updater machinery.
//!
//! Every source parses its native format into [`Vulnerability`](crate::model::Vulnerability) records.
//! Naming conventions the matcher relies on:
//!
//! | source | `updater` | `distribution.did` / `release` | `package_is_source` |
//! |---|---|---|---|
//! | Debian security tracker | `debian` | `debian` / codename (`bookworm`) | true |
//! | Debian OVAL | `debian-oval` | `debian` / codename | true |
//! | Ubuntu OVAL | `ubuntu` | `ubuntu` / series (`jammy`) | false |
//! | Alpine secdb | `alpine` | `alpine` / branch (`3.19`, `edge`) | true (origin) |
//! | Red Hat VEX / OVAL | `rhel` | `rhel` / major (`9`) | false |
//! | Amazon Linux updateinfo (ALAS) | `amzn` | `amzn` / `2023`, `2`, `2018.03` | false |
//! | Oracle Linux ELSA OVAL | `ol` | `ol` / major (`9`) | false |
//! | SUSE OVAL | `sles`, `opensuse-leap` | `sles` / major (`15`), `opensuse-leap` / `15.6` | false |
//! | Photon OS CVE metadata | `photon` | `photon` / `5.0` | true (spec) |
//! | OSV | `osv/<OSV ecosystem>` | none | false |
//!
//! Distro records: `ranges` is `[{fixed: v}]` for a fixed vulnerability and empty (every version) when no fix
//! exists; "not affected" statements produce no record at all.

pub mod archive;
pub mod catalog;
pub mod enrichment;
pub mod osv;
pub mod oval;
pub mod source;
pub mod store;
pub mod updater;

/// Why a feed could not be used. The updater records it and keeps the previous data live.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    #[error("{feed}: malformed data: {reason}")]
    Malformed { feed: String, reason: String },
    #[error("{feed}: fetch failed: {reason}")]
    Fetch {
        feed: String,
        reason: String,
        /// Whether trying again later may succeed (timeouts, 429, 5xx).
        retryable: bool,
    },
    #[error("{feed}: storing failed: {reason}")]
    Store { feed: String, reason: String },
}

impl FeedError {
    /// A parse failure of `feed`'s data.
    pub fn malformed(feed: impl Into<String>, reason: impl std::fmt::Display) -> FeedError {
        FeedError::Malformed {
            feed: feed.into(),
            reason: reason.to_string(),
        }
    }
}
