//! SQS implementation of the queue port.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};

use super::{MAX_BATCH, Queue, QueueError, ReceivedMessage};
use crate::aws::describe_sdk_error;

/// One SQS queue by URL.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> SqsQueue {
        SqsQueue {
            client,
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn err<E: std::error::Error>(&self, e: E) -> QueueError {
        QueueError::Transport {
            queue: self.url.clone(),
            detail: describe_sdk_error(&e),
        }
    }

    fn partial(&self, failed: Vec<String>, total: usize) -> Result<(), QueueError> {
        if failed.is_empty() {
            Ok(())
        } else {
            Err(QueueError::Partial {
                queue: self.url.clone(),
                failed: failed.len(),
                total,
                detail: failed.join("; "),
            })
        }
    }
}

fn build_err(e: aws_sdk_sqs::error::BuildError) -> QueueError {
    QueueError::Transport {
        queue: String::new(),
        detail: e.to_string(),
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send_batch(&self, bodies: &[String]) -> Result<(), QueueError> {
        let mut failed = Vec::new();
        for chunk in bodies.chunks(MAX_BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                        .map_err(build_err)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| self.err(e))?;
            failed.extend(
                out.failed
                    .iter()
                    .map(|f| format!("{}: {}", f.code, f.message.clone().unwrap_or_default())),
            );
        }
        self.partial(failed, bodies.len())
    }

    async fn send_delayed(&self, body: &str, delay: Duration) -> Result<(), QueueError> {
        // Whole seconds, rounded up so the message never shows before the delay has passed.
        let seconds = delay.min(super::MAX_DELAY).as_millis().div_ceil(1000) as i32;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(seconds)
            .send()
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, MAX_BATCH) as i32)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .set_visibility_timeout(visibility.map(|v| v.as_secs().min(43_200) as i32))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| self.err(e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let receive_count = m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                ReceivedMessage {
                    id: m.message_id.unwrap_or_default(),
                    receipt: m.receipt_handle.unwrap_or_default(),
                    body: m.body.unwrap_or_default(),
                    receive_count,
                }
            })
            .collect())
    }

    async fn delete_batch(&self, receipts: &[String]) -> Result<(), QueueError> {
        let mut failed = Vec::new();
        for chunk in receipts.chunks(MAX_BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(r)
                        .build()
                        .map_err(build_err)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| self.err(e))?;
            failed.extend(
                out.failed
                    .iter()
                    .map(|f| format!("{}: {}", f.code, f.message.clone().unwrap_or_default())),
            );
        }
        self.partial(failed, receipts.len())
    }
}
