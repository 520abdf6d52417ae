//! Layer indexing: read one layer blob once and let the scanners see it ([`reader`]), then combine the
//! per-layer results of a manifest into one Clair-shaped [`IndexReport`](crate::model::IndexReport)
//! ([`coalesce`]).
//!
//! As in Clair, layers are never stacked into a merged filesystem: each layer is scanned in isolation (so a
//! layer shared by many images is scanned once per scanner set) and the stacking rules — newest package
//! database wins, whiteouts hide lower files — are applied afterwards on the small per-layer results.

pub mod coalesce;
pub mod reader;
pub mod rootfs;

pub use coalesce::coalesce;
pub use reader::{Compression, LayerError, LayerLimits, LayerScan, read_layer};

/// Settles what the scanners found in one layer: the distribution files of a layer (os-release,
/// `debian_version`, …) describe one distribution, merged into a single answer.
pub fn settle_contents(contents: &mut crate::model::LayerContents) {
    if contents.distributions.len() > 1 {
        contents.distributions =
            crate::ecosystems::distribution::scanner::resolve(&contents.distributions)
                .into_iter()
                .collect();
    }
}

#[cfg(test)]
mod tests;
