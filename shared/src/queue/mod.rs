//! Queued work between the functions: SQS when deployed, in-process queues in the embedded default.
//!
//! Both implementations have SQS's semantics: a received message is hidden for a visibility timeout and
//! comes back unless deleted, so a consumer that dies mid-message loses nothing.

mod memory;
mod sqs;

use std::time::Duration;

use async_trait::async_trait;

pub use memory::MemoryQueue;
pub use sqs::SqsQueue;

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue {queue}: {detail}")]
    Transport { queue: String, detail: String },
    #[error("queue {queue}: {failed} of {total} messages were rejected: {detail}")]
    Partial {
        queue: String,
        failed: usize,
        total: usize,
        detail: String,
    },
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The message id (stable across deliveries).
    pub id: String,
    /// The handle to delete this delivery with.
    pub receipt: String,
    pub body: String,
    /// How many times this message has been received, this delivery included.
    pub receive_count: u32,
}

/// The queue port.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Sends messages (batched by the implementation). Either all are accepted or an error says how many
    /// were not.
    async fn send_batch(&self, bodies: &[String]) -> Result<(), QueueError>;

    /// Sends one message that becomes visible after `delay` (at most [`MAX_DELAY`]; longer is capped).
    async fn send_delayed(&self, body: &str, delay: Duration) -> Result<(), QueueError>;

    /// Receives up to `max` messages (at most 10, as SQS), waiting up to `wait` for the first one. Each is
    /// hidden for `visibility` (or the queue's default when `None`).
    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>, QueueError>;

    /// Deletes delivered messages by receipt.
    async fn delete_batch(&self, receipts: &[String]) -> Result<(), QueueError>;
}

/// SQS's batch limit, used by both implementations.
pub const MAX_BATCH: usize = 10;

/// SQS's longest message delay (15 minutes), used by both implementations.
pub const MAX_DELAY: Duration = Duration::from_secs(900);
