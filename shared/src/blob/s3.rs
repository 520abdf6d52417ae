//! The deployed blob store: an S3 bucket (streaming reads, multipart writes, presigned uploads).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use tokio::io::AsyncReadExt;

use super::{BlobError, BlobKey, BlobReader, BlobStore, PresignedUpload};
use crate::aws::describe_sdk_error;

/// Size of each multipart part (S3's minimum is 5 MiB). Memory use of `put_stream` is one part.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// Blobs in one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3BlobStore {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> S3BlobStore {
        S3BlobStore {
            client,
            bucket: bucket.into(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn err<E: std::error::Error>(key: &BlobKey, e: E) -> BlobError {
        BlobError::Io {
            key: key.to_string(),
            detail: describe_sdk_error(&e),
        }
    }

    async fn upload_parts(
        &self,
        key: &BlobKey,
        upload_id: &str,
        first: Vec<u8>,
        body: &mut BlobReader,
    ) -> Result<(u64, Vec<CompletedPart>), BlobError> {
        let mut parts = Vec::new();
        let mut total = 0u64;
        let mut chunk = first;
        let mut number = 1;
        loop {
            total += chunk.len() as u64;
            let out = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key.as_str())
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(chunk))
                .send()
                .await
                .map_err(|e| Self::err(key, e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag)
                    .build(),
            );
            chunk = read_up_to(body, PART_SIZE)
                .await
                .map_err(|e| Self::err(key, e))?;
            if chunk.is_empty() {
                return Ok((total, parts));
            }
            number += 1;
        }
    }
}

/// Reads until `limit` bytes or end of stream.
async fn read_up_to(body: &mut BlobReader, limit: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(limit.min(1 << 20));
    body.take(limit as u64).read_to_end(&mut buf).await?;
    Ok(buf)
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &BlobKey, body: bytes::Bytes) -> Result<(), BlobError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| Self::err(key, e))?;
        Ok(())
    }

    /// Small bodies go in one PUT; larger ones as a multipart upload, one part in memory at a time. A failed
    /// multipart upload is aborted so no partial object or orphaned parts remain.
    async fn put_stream(&self, key: &BlobKey, mut body: BlobReader) -> Result<u64, BlobError> {
        let first = read_up_to(&mut body, PART_SIZE)
            .await
            .map_err(|e| Self::err(key, e))?;
        if first.len() < PART_SIZE {
            let n = first.len() as u64;
            self.put(key, first.into()).await?;
            return Ok(n);
        }
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|e| Self::err(key, e))?;
        let upload_id = created.upload_id.ok_or_else(|| BlobError::Io {
            key: key.to_string(),
            detail: "S3 returned no upload id".into(),
        })?;
        match self.upload_parts(key, &upload_id, first, &mut body).await {
            Ok((total, parts)) => {
                self.client
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key.as_str())
                    .upload_id(&upload_id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(parts))
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| Self::err(key, e))?;
                Ok(total)
            }
            Err(e) => {
                let _ = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key.as_str())
                    .upload_id(&upload_id)
                    .send()
                    .await;
                Err(e)
            }
        }
    }

    async fn get(&self, key: &BlobKey) -> Result<BlobReader, BlobError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error().is_some_and(|s| s.is_no_such_key()) {
                    BlobError::NotFound(key.to_string())
                } else {
                    Self::err(key, e)
                }
            })?;
        Ok(Box::pin(out.body.into_async_read()))
    }

    async fn size(&self, key: &BlobKey) -> Result<Option<u64>, BlobError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.content_length.unwrap_or(0).max(0) as u64)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(Self::err(key, e)),
        }
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|e| Self::err(key, e))?;
        Ok(())
    }

    async fn presign_put(
        &self,
        key: &BlobKey,
        expires_in: Duration,
    ) -> Result<PresignedUpload, BlobError> {
        let presigning = PresigningConfig::expires_in(expires_in).map_err(|e| Self::err(key, e))?;
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .presigned(presigning)
            .await
            .map_err(|e| Self::err(key, e))?;
        Ok(PresignedUpload {
            url: req.uri().to_owned(),
            headers: req
                .headers()
                .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            expires_in,
        })
    }
}
