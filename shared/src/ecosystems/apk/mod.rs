//! The apk package format (Alpine Linux, Wolfi, Chainguard): version ordering and the installed-package
//! database scanner.
//!
//! Advisory feeds for apk distributions live next door (`ecosystems::alpine` parses the secdb format,
//! which Wolfi and Chainguard publish too); this module knows only the package format itself, so every
//! apk-based distribution shares it.

pub mod scanner;
pub mod version;

pub use scanner::ApkScanner;
pub use version::{ApkVersion, InvalidApkVersion, compare, is_valid};
