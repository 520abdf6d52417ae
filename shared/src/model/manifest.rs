//! Manifests and layers as clients send them (Clair v4's `Manifest` shape).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Digest;

/// A layer reference: its digest, and optionally where to fetch it from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRef {
    pub hash: Digest,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uri: String,
    /// HTTP headers to send when fetching `uri` (e.g. `Authorization`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Vec<String>>,
}

/// An image manifest: its digest and its layers in stacking order (base first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub hash: Digest,
    #[serde(default)]
    pub layers: Vec<LayerRef>,
}
