//! Alpine Linux advisories: the secdb feed (`https://secdb.alpinelinux.org/v3.N/{main,community}.json`).
//!
//! Alpine publishes no severities and no descriptions, only "package P is fixed in version V for these
//! ids", keyed by origin (source) package and per release branch. The parser is parameterised by
//! [`SecdbDistribution`] so Wolfi and Chainguard, which publish the same format, reuse it unchanged.
//! Installed packages are found by `ecosystems::apk`, the release by `ecosystems::distribution`.

pub mod secdb;

pub use secdb::{
    SecdbDistribution, alpine_release, parse_alpine_secdb, parse_secdb, release_of_distribution,
};
