//! SUSE Linux Enterprise Server and openSUSE Leap advisories for rpm packages.
//!
//! - [`oval`]: SUSE's per-product OVAL (`suse.linux.enterprise.server.15.xml.gz`,
//!   `opensuse.leap.15.6.xml.gz`), one CVE per definition, parsed through the generic OVAL parser in
//!   `feeds` into [`Vulnerability`](crate::model::Vulnerability) records keyed by distribution `sles` /
//!   major release (`15`) or `opensuse-leap` / `major.minor` (`15.6`): the file a record comes from decides.
//!
//! Installed packages come from the rpm database (the `rpm` scanner); versions compare with
//! [`rpm::version`](super::rpm::version).

pub mod oval;
