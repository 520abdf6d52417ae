//! The dpkg package format: Debian, Ubuntu and their derivatives.
//!
//! dpkg records every installed **binary** package in `var/lib/dpkg/status` (distroless images: one file per
//! package under `var/lib/dpkg/status.d/`). Each binary package names the **source** package it was built
//! from (`Source:`; absent when the names and versions agree). Debian's security data speaks of source
//! packages (one `openssl` entry covers `libssl3`, `openssl`, …); Ubuntu's OVAL lists binary packages.
//! Both compare versions with dpkg's rules ([`version`]).

pub mod scanner;
pub mod version;
