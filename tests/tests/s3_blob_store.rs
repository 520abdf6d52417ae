//! The S3 blob store against the S3 emulator (moto): the real protocol, through aws-sdk-s3.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Result;
use lucid::blob::{BlobError, BlobKey, BlobStore, S3BlobStore};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

async fn store() -> Result<S3BlobStore> {
    let moto = harness::moto()?;
    let bucket = moto.bucket().await?;
    Ok(S3BlobStore::new(moto.s3(), bucket))
}

/// Deterministic pseudo-random bytes, generated on the fly so a large body never sits in memory.
struct Generated {
    remaining: u64,
    state: u64,
}

impl Generated {
    fn new(len: u64, seed: u64) -> Generated {
        Generated {
            remaining: len,
            state: seed | 1,
        }
    }
}

impl AsyncRead for Generated {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = (buf.remaining() as u64).min(self.remaining).min(64 * 1024) as usize;
        let mut chunk = vec![0u8; n];
        for b in chunk.iter_mut() {
            // xorshift64
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            *b = self.state as u8;
        }
        self.remaining -= n as u64;
        buf.put_slice(&chunk);
        Poll::Ready(Ok(()))
    }
}

async fn sha256_of_stream(
    mut r: impl AsyncRead + Unpin,
    mut on_chunk: impl FnMut(),
) -> Result<(String, u64)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        total += n as u64;
        h.update(&buf[..n]);
        on_chunk();
    }
    Ok((hex::encode(h.finalize()), total))
}

#[tokio::test]
async fn put_get_size_delete() -> Result<()> {
    let store = store().await?;
    let key = BlobKey::new("layers/sha256:0123")?;
    assert_eq!(store.size(&key).await?, None);
    assert!(matches!(store.get(&key).await, Err(BlobError::NotFound(_))));
    store
        .put(&key, bytes::Bytes::from_static(b"layer bytes"))
        .await?;
    assert_eq!(store.size(&key).await?, Some(11));
    let mut body = String::new();
    store.get(&key).await?.read_to_string(&mut body).await?;
    assert_eq!(body, "layer bytes");
    store.delete(&key).await?;
    assert_eq!(store.size(&key).await?, None);
    Ok(())
}

/// 200 MB through a multipart upload, then a streaming GET whose memory stays flat.
#[tokio::test]
async fn multipart_upload_and_streaming_get_of_200_mb() -> Result<()> {
    const LEN: u64 = 200 * 1024 * 1024;
    let store = store().await?;
    let key = BlobKey::new("layers/big")?;

    let (expected, _) = sha256_of_stream(Generated::new(LEN, 42), || {}).await?;
    let written = store
        .put_stream(&key, Box::pin(Generated::new(LEN, 42)))
        .await?;
    assert_eq!(written, LEN);
    assert_eq!(store.size(&key).await?, Some(LEN));

    let before = harness::rss_bytes();
    let mut peak = before;
    let (actual, read) = sha256_of_stream(store.get(&key).await?, || {
        peak = peak.max(harness::rss_bytes());
    })
    .await?;
    assert_eq!(read, LEN);
    assert_eq!(
        actual, expected,
        "the downloaded bytes differ from the uploaded ones"
    );
    let growth = peak.saturating_sub(before);
    assert!(
        growth < 48 * 1024 * 1024,
        "streaming 200 MB grew RSS by {} MiB: the body is being buffered",
        growth / (1024 * 1024)
    );
    Ok(())
}

#[tokio::test]
async fn small_put_stream_uses_a_single_put() -> Result<()> {
    let store = store().await?;
    let key = BlobKey::new("layers/small")?;
    let n = store
        .put_stream(&key, Box::pin(Generated::new(1000, 7)))
        .await?;
    assert_eq!(n, 1000);
    assert_eq!(store.size(&key).await?, Some(1000));
    Ok(())
}

/// A plain HTTP client uploads through the presigned URL, as a registry or CI pipeline would.
#[tokio::test]
async fn presigned_put_accepts_a_plain_http_upload() -> Result<()> {
    let store = store().await?;
    let key = BlobKey::new("layers/sha256:presigned")?;
    let presigned = store.presign_put(&key, Duration::from_secs(300)).await?;
    assert!(
        presigned.url.contains("X-Amz-Signature"),
        "{}",
        presigned.url
    );
    let mut req = reqwest::Client::new()
        .put(&presigned.url)
        .body("uploaded by curl");
    for (k, v) in &presigned.headers {
        req = req.header(k, v);
    }
    let resp = req.send().await?;
    assert!(
        resp.status().is_success(),
        "upload failed: {}",
        resp.status()
    );
    let mut body = String::new();
    store.get(&key).await?.read_to_string(&mut body).await?;
    assert_eq!(body, "uploaded by curl");
    Ok(())
}

#[tokio::test]
async fn missing_bucket_is_a_clear_error() -> Result<()> {
    let moto = harness::moto()?;
    let store = S3BlobStore::new(moto.s3(), "no-such-bucket-here");
    let err = store
        .put(&BlobKey::new("x")?, bytes::Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("NoSuchBucket") || msg.contains("bucket"),
        "{msg}"
    );
    Ok(())
}
