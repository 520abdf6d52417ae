//! What a scanner finds in a layer: packages, the distribution, repositories.

use serde::{Deserialize, Serialize};

use super::Ecosystem;

/// Whether a package record is an installed binary package or the source package it was built from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PackageKind {
    #[default]
    Binary,
    Source,
}

impl PackageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PackageKind::Binary => "binary",
            PackageKind::Source => "source",
        }
    }
}

/// One installed package, as found in one layer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Package {
    pub ecosystem: Option<Ecosystem>,
    pub name: String,
    pub version: String,
    pub kind: PackageKind,
    /// The source package (dpkg `Source:`, apk origin, rpm source rpm), when the format records one.
    pub source: Option<SourcePackage>,
    /// rpm module stream (`name:stream`), empty otherwise.
    pub module: String,
    pub arch: String,
    /// The package database the package was read from, e.g. `var/lib/dpkg/status`,
    /// `sqlite:var/lib/rpm`, `python:usr/lib/python3/dist-packages`, `go:usr/bin/app`.
    pub package_db: String,
    /// Path of the file that recorded the package inside the layer.
    pub filepath: String,
    /// A repository hint from the scanner (e.g. rpm repoid), empty if none.
    pub repository_hint: String,
    /// CPE 2.3 string, empty if unknown.
    pub cpe: String,
}

/// The source package a binary package was built from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct SourcePackage {
    pub name: String,
    pub version: String,
}

/// An operating system release, as identified from `os-release` and friends.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Distribution {
    /// os-release `ID` (`debian`, `ubuntu`, `alpine`, `rhel`, …).
    pub did: String,
    pub name: String,
    pub version: String,
    pub version_code_name: String,
    pub version_id: String,
    pub arch: String,
    pub cpe: String,
    pub pretty_name: String,
}

/// A package repository (rpm repo, Debian archive, a language registry).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Repository {
    pub name: String,
    pub key: String,
    pub uri: String,
    pub cpe: String,
}

/// Everything the scanners found in one layer: the unit stored per (layer, scanner set).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LayerContents {
    pub packages: Vec<Package>,
    pub distributions: Vec<Distribution>,
    pub repositories: Vec<Repository>,
    /// Whiteout markers in this layer, as the path they hide (`a/b` for `a/.wh.b`; `a/` for an opaque dir).
    pub whiteouts: Vec<String>,
}
