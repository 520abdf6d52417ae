//! Oracle Linux advisories for rpm packages.
//!
//! - [`elsa`]: Oracle's ELSA OVAL (`com.oracle.elsa-ol<N>.xml.bz2` per release, or the
//!   `com.oracle.elsa-all.xml.bz2` / `com.oracle.elsa-<year>.xml.bz2` files, all the same format), parsed
//!   through the generic OVAL parser in `feeds` into [`Vulnerability`](crate::model::Vulnerability) records
//!   keyed by distribution `ol` and major release (`9` for os-release `VERSION_ID=9.3`).
//!
//! Installed packages come from the rpm database (the `rpm` scanner); versions compare with
//! [`rpm::version`](super::rpm::version), epochs included.

pub mod elsa;
