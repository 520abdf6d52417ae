//! Where layer blobs are staged: S3 when deployed, a directory in the embedded default.
//!
//! Keys are relative, `/`-separated paths such as `layers/sha256:<hex>`; [`BlobKey`] validates them so a
//! hostile key can never escape the bucket prefix or the local directory.

mod fs;
mod s3;

use std::fmt;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncRead;

pub use fs::DirBlobStore;
pub use s3::S3BlobStore;

use crate::model::Digest;

/// A readable blob body, streamed.
pub type BlobReader = Pin<Box<dyn AsyncRead + Send>>;

/// Why a blob operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {0} not found")]
    NotFound(String),
    #[error("invalid blob key {0:?}")]
    InvalidKey(String),
    #[error("{0} is not supported by this blob store")]
    Unsupported(&'static str),
    #[error("blob store I/O on {key}: {detail}")]
    Io { key: String, detail: String },
}

/// A validated object key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobKey(String);

impl BlobKey {
    /// Accepts relative keys of printable ASCII segments, none of them empty, `.` or `..`.
    pub fn new(key: impl Into<String>) -> Result<BlobKey, BlobError> {
        let key = key.into();
        let ok = !key.is_empty()
            && key.len() <= 512
            && key
                .split('/')
                .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
            && key.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
        if ok {
            Ok(BlobKey(key))
        } else {
            Err(BlobError::InvalidKey(key.chars().take(80).collect()))
        }
    }

    /// `layers/<digest>`: where a layer blob is staged.
    pub fn layer(digest: &Digest) -> BlobKey {
        BlobKey(format!("layers/{digest}"))
    }

    /// The layer digest named by a `layers/<digest>` key.
    pub fn layer_digest(&self) -> Option<Digest> {
        self.0.strip_prefix("layers/")?.parse().ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A URL a client may PUT a blob to without credentials of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedUpload {
    pub url: String,
    /// Headers the client must send with the PUT.
    pub headers: Vec<(String, String)>,
    pub expires_in: Duration,
}

/// The blob store port.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores a small blob in one request.
    async fn put(&self, key: &BlobKey, body: bytes::Bytes) -> Result<(), BlobError>;

    /// Streams a blob of any size into the store (multipart on S3). Returns the byte count.
    async fn put_stream(&self, key: &BlobKey, body: BlobReader) -> Result<u64, BlobError>;

    /// Opens a blob for streaming reads; nothing is buffered beyond the transport's chunks.
    async fn get(&self, key: &BlobKey) -> Result<BlobReader, BlobError>;

    /// The blob's size, or `None` when absent.
    async fn size(&self, key: &BlobKey) -> Result<Option<u64>, BlobError>;

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError>;

    /// A URL for a client to upload `key` directly.
    async fn presign_put(
        &self,
        key: &BlobKey,
        expires_in: Duration,
    ) -> Result<PresignedUpload, BlobError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape() {
        for bad in [
            "", "/abs", "a//b", "../x", "a/../b", "a/./b", "a\\b", "sp ace", "a/",
        ] {
            assert!(BlobKey::new(bad).is_err(), "{bad:?} accepted");
        }
        assert!(BlobKey::new("layers/sha256:abc").is_ok());
    }

    #[test]
    fn layer_keys_round_trip() {
        let d = Digest::sha256_of(b"x");
        let k = BlobKey::layer(&d);
        assert_eq!(k.layer_digest(), Some(d));
        assert_eq!(BlobKey::new("other/x").unwrap().layer_digest(), None);
    }
}
