//! VMware Photon OS advisories for rpm packages.
//!
//! - [`cve_metadata`]: Photon's per-release CVE metadata (`cve_data_photon<5.0>.json`), parsed into
//!   [`Vulnerability`](crate::model::Vulnerability) records keyed by distribution `photon` and release
//!   (`5.0`, os-release's `VERSION_ID`), naming source packages (the spec a package is built from).
//!
//! Installed packages come from the rpm database (the `rpm` scanner); versions compare with
//! [`rpm::version`](super::rpm::version).

pub mod cve_metadata;
