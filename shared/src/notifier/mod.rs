//! The notifier: turns committed feed diffs (`feeds::updater::DiffMessage`) into notifications for the
//! manifests they affect, and delivers them to subscribers. Built in steps: `webhook` (signing, retry
//! timing, target guard) is here; fan-out and delivery receipts follow.

pub mod webhook;
