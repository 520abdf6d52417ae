//! Red Hat Enterprise Linux advisories for rpm packages.
//!
//! - [`vex`]: Red Hat's CSAF VEX documents (one JSON per CVE, the source Clair uses since it dropped
//!   RHEL OVAL) parsed into [`Vulnerability`](crate::model::Vulnerability) records keyed by RHEL major
//!   release.
//! - [`oval`]: Red Hat OVAL (`com.redhat.rhsa-RHEL9.xml`, OVAL v2) into the same record shape (updater
//!   `rhel-oval`), through the generic OVAL parser in `feeds`.
//!
//! Package versions in these records compare with [`rpm::version`](super::rpm::version).

pub mod oval;
pub mod vex;
