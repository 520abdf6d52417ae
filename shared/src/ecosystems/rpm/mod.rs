//! The rpm package format: version ordering, header blobs, and the installed-package database scanner.
//!
//! - [`version`]: `rpmvercmp` and EVR ordering, a port of rpm's C code checked against the real rpm;
//! - [`header`]: the header blob format rpm stores per installed package (bounds-checked, hostile input);
//! - [`scanner`]: [`RpmScanner`](scanner::RpmScanner), which reads all three database formats rpm has
//!   used (SQLite since rpm 4.16 / RHEL 9, NDB on SUSE, Berkeley DB hash up to RHEL 8);
//! - [`ndb`] and [`bdb`]: bounded hand-written readers for the two non-SQLite formats, which no
//!   maintained Rust crate reads.
//!
//! Red Hat's advisories for these packages live next door in [`rhel`](super::rhel).

pub mod bdb;
pub mod header;
pub mod ndb;
pub mod scanner;
pub mod version;
