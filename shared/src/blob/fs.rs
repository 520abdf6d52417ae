//! The embedded default's blob store: one file per key under a directory.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;

use super::{BlobError, BlobKey, BlobReader, BlobStore, PresignedUpload};

/// Blobs as files under `root`. Writes go to a temporary file renamed into place, so a reader never sees
/// a half-written blob.
#[derive(Debug, Clone)]
pub struct DirBlobStore {
    root: PathBuf,
}

impl DirBlobStore {
    pub fn new(root: impl Into<PathBuf>) -> DirBlobStore {
        DirBlobStore { root: root.into() }
    }

    /// The file that holds `key` (keys are validated, so this stays under `root`).
    pub fn path_of(&self, key: &BlobKey) -> PathBuf {
        // ':' is legal on Unix file systems; keep the key verbatim for easy inspection.
        self.root.join(key.as_str())
    }

    fn io(key: &BlobKey, e: std::io::Error) -> BlobError {
        if e.kind() == std::io::ErrorKind::NotFound {
            BlobError::NotFound(key.to_string())
        } else {
            BlobError::Io {
                key: key.to_string(),
                detail: e.to_string(),
            }
        }
    }

    async fn write_atomically(
        &self,
        key: &BlobKey,
        mut body: BlobReader,
    ) -> Result<u64, BlobError> {
        let path = self.path_of(key);
        let parent = path.parent().unwrap_or(&self.root).to_owned();
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(|e| Self::io(key, e))?;
        let tmp = parent.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
        let result = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            let n = tokio::io::copy(&mut body, &mut file).await?;
            file.flush().await?;
            file.sync_all().await?;
            tokio::fs::rename(&tmp, &path).await?;
            Ok::<u64, std::io::Error>(n)
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result.map_err(|e| Self::io(key, e))
    }
}

#[async_trait]
impl BlobStore for DirBlobStore {
    async fn put(&self, key: &BlobKey, body: bytes::Bytes) -> Result<(), BlobError> {
        let reader: BlobReader = Box::pin(std::io::Cursor::new(body));
        self.write_atomically(key, reader).await.map(|_| ())
    }

    async fn put_stream(&self, key: &BlobKey, body: BlobReader) -> Result<u64, BlobError> {
        self.write_atomically(key, body).await
    }

    async fn get(&self, key: &BlobKey) -> Result<BlobReader, BlobError> {
        let file = tokio::fs::File::open(self.path_of(key))
            .await
            .map_err(|e| Self::io(key, e))?;
        Ok(Box::pin(tokio::io::BufReader::with_capacity(
            256 * 1024,
            file,
        )))
    }

    async fn size(&self, key: &BlobKey) -> Result<Option<u64>, BlobError> {
        match tokio::fs::metadata(self.path_of(key)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Self::io(key, e)),
        }
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.path_of(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Self::io(key, e)),
        }
    }

    /// A directory has no presigned URLs; the local server offers its own upload route instead.
    async fn presign_put(&self, _: &BlobKey, _: Duration) -> Result<PresignedUpload, BlobError> {
        Err(BlobError::Unsupported("presigned upload"))
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn put_get_size_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirBlobStore::new(dir.path());
        let key = BlobKey::new("layers/sha256:abc").unwrap();
        assert_eq!(store.size(&key).await.unwrap(), None);
        assert!(matches!(store.get(&key).await, Err(BlobError::NotFound(_))));
        store
            .put(&key, bytes::Bytes::from_static(b"hello"))
            .await
            .unwrap();
        assert_eq!(store.size(&key).await.unwrap(), Some(5));
        let mut s = String::new();
        store
            .get(&key)
            .await
            .unwrap()
            .read_to_string(&mut s)
            .await
            .unwrap();
        assert_eq!(s, "hello");
        let n = store
            .put_stream(&key, Box::pin(std::io::Cursor::new(vec![7u8; 1 << 20])))
            .await
            .unwrap();
        assert_eq!(n, 1 << 20);
        assert_eq!(store.size(&key).await.unwrap(), Some(1 << 20));
        store.delete(&key).await.unwrap();
        store.delete(&key).await.unwrap();
        assert_eq!(store.size(&key).await.unwrap(), None);
        assert!(
            store
                .presign_put(&key, Duration::from_secs(1))
                .await
                .is_err()
        );
        // No temporary files are left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path().join("layers"))
            .unwrap()
            .collect();
        assert!(left.is_empty());
    }
}
