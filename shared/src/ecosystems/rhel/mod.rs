//! Red Hat Enterprise Linux advisories for rpm packages.
//!
//! - [`vex`]: Red Hat's CSAF VEX documents (one JSON per CVE, the source Clair uses since it dropped
//!   RHEL OVAL) parsed into [`Vulnerability`](crate::model::Vulnerability) records keyed by RHEL major
//!   release. RHEL OVAL is read by the generic OVAL parser in `feeds`, not here.
//!
//! Package versions in these records compare with [`rpm::version`](super::rpm::version).

pub mod vex;
