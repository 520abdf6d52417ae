//! Which operating system a layer carries, for every distribution Lucid matches: one scanner
//! ([`DistributionScanner`], name `os-release`) reads os-release and the distribution-specific release
//! files, and [`resolve`] merges what a layer yielded into one [`Distribution`](crate::model::Distribution).
//!
//! Clair runs one distribution scanner per distribution, each re-reading os-release; one scanner for all
//! reads each file once and keeps the precedence rules in one place. os-release(5) is authoritative where
//! present; the older files (`etc/debian_version`, `etc/redhat-release`, …) only fill gaps, or stand in on
//! images too old or too stripped to have os-release.
//!
//! The matcher maps the result onto feed releases: `did` is os-release's `ID` (`debian`, `ubuntu`,
//! `alpine`, `rhel`, `centos`, `rocky`, `almalinux`, `amzn`, `ol`, `sles`, `opensuse-leap`, `photon`,
//! `wolfi`, `chainguard`), `version_code_name` the Debian/Ubuntu codename, `version_id` the release number.

pub mod os_release;
pub mod release_files;
pub mod scanner;

pub use scanner::{DistributionScanner, from_os_release, resolve};
