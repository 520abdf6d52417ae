//! Red Hat Enterprise Linux advisories for rpm packages.
//!
//! - [`vex`]: Red Hat's CSAF VEX documents (one JSON per CVE, the source Clair uses since it dropped
//!   RHEL OVAL) parsed into [`Vulnerability`](crate::model::Vulnerability) records keyed by RHEL major
//!   release.
//! - [`vex_feed`]: the source `rhel`: Red Hat's VEX directory online (the `csaf_vex_*.tar.zst` archive,
//!   then incremental `changes.csv`/`deletions.csv` runs against the live records) or a folder of archives
//!   and documents. The default RHEL source.
//! - [`oval`]: Red Hat OVAL (`com.redhat.rhsa-RHEL9.xml`, OVAL v2) into the same record shape (updater
//!   `rhel-oval`), through the generic OVAL parser in `feeds`; an alternative source, run when named
//!   (`LUCID_FEEDS=rhel-oval`, `lucid update rhel-oval`).
//!
//! Package versions in these records compare with [`rpm::version`](super::rpm::version).

pub mod oval;
pub mod vex;
pub mod vex_feed;
