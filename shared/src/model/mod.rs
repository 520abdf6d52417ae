//! The vocabulary shared by every part of Lucid: digests, manifests, packages, distributions,
//! vulnerabilities, severities and the Clair-shaped reports.

mod digest;
mod ecosystem;
mod manifest;
mod package;
mod report;
mod severity;
mod vulnerability;

pub use digest::{Digest, DigestAlgorithm, DigestError};
pub use ecosystem::{Ecosystem, UnknownEcosystem};
pub use manifest::{LayerRef, Manifest};
pub use package::{Distribution, LayerContents, Package, PackageKind, Repository, SourcePackage};
pub use report::{
    Environment, FeedFreshness, IndexReport, IndexState, ReportDistribution, ReportPackage,
    ReportRepository, ReportVulnerability, ReportWarning, VulnerabilityReport,
};
pub use severity::{Severity, UnknownSeverity};
pub use vulnerability::{AffectedRange, DistributionSelector, Vulnerability};
