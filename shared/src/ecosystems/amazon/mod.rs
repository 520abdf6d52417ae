//! Amazon Linux (1 = 2018.03, 2, 2023) advisories for rpm packages.
//!
//! - [`updateinfo`]: the ALAS advisories each Amazon Linux repository publishes as `repodata/updateinfo.xml.gz`
//!   (found through the repository's `mirror.list` and `repomd.xml`), parsed into
//!   [`Vulnerability`](crate::model::Vulnerability) records keyed by distribution `amzn` and release (`2023`,
//!   `2`, `2018.03`: the `VERSION_ID` of the image's os-release).
//!
//! Installed packages come from the rpm database (the `rpm` scanner); versions compare with
//! [`rpm::version`](super::rpm::version).

pub mod updateinfo;
