//! The embedded default's queue: in process, with SQS's visibility-timeout semantics and an optional
//! dead-letter queue after a maximum number of receives.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{MAX_BATCH, Queue, QueueError, ReceivedMessage};

#[derive(Debug)]
struct Entry {
    id: String,
    body: String,
    receive_count: u32,
    visible_at: Instant,
    /// The receipt of the current delivery; deleting with an older receipt does nothing, as in SQS.
    receipt: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    messages: VecDeque<Entry>,
}

/// An in-process queue. Cloning shares the same queue.
#[derive(Debug, Clone)]
pub struct MemoryQueue {
    name: String,
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
    default_visibility: Duration,
    dead_letter: Option<(u32, Box<MemoryQueue>)>,
}

impl MemoryQueue {
    pub fn new(name: impl Into<String>, default_visibility: Duration) -> MemoryQueue {
        MemoryQueue {
            name: name.into(),
            state: Arc::default(),
            notify: Arc::default(),
            default_visibility,
            dead_letter: None,
        }
    }

    /// Moves a message to `dlq` instead of delivering it a `max_receives + 1`-th time (SQS redrive).
    pub fn with_dead_letter_queue(mut self, max_receives: u32, dlq: MemoryQueue) -> MemoryQueue {
        self.dead_letter = Some((max_receives, Box::new(dlq)));
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Messages currently held, visible or not.
    pub fn len(&self) -> usize {
        self.lock().messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the queue inconsistent (every update is one step),
        // so recover the guard rather than propagate the poison.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, bodies: &[String]) {
        self.push_at(bodies, Instant::now());
    }

    fn push_at(&self, bodies: &[String], now: Instant) {
        let mut st = self.lock();
        for body in bodies {
            st.messages.push_back(Entry {
                id: uuid::Uuid::new_v4().to_string(),
                body: body.clone(),
                receive_count: 0,
                visible_at: now,
                receipt: None,
            });
        }
        drop(st);
        self.notify.notify_waiters();
    }

    /// Takes visible messages; returns them and how long until the next hidden one becomes visible.
    fn take(&self, max: usize, visibility: Duration) -> (Vec<ReceivedMessage>, Option<Duration>) {
        let now = Instant::now();
        let mut out = Vec::new();
        let mut dead = Vec::new();
        let mut next_visible: Option<Instant> = None;
        let mut st = self.lock();
        let mut i = 0;
        while i < st.messages.len() && out.len() < max {
            let e = &mut st.messages[i];
            if e.visible_at > now {
                next_visible = Some(next_visible.map_or(e.visible_at, |n| n.min(e.visible_at)));
                i += 1;
                continue;
            }
            if let Some((max_receives, _)) = &self.dead_letter
                && e.receive_count >= *max_receives
            {
                if let Some(entry) = st.messages.remove(i) {
                    dead.push(entry.body);
                }
                continue;
            }
            e.receive_count += 1;
            e.visible_at = now + visibility;
            let receipt = uuid::Uuid::new_v4().to_string();
            e.receipt = Some(receipt.clone());
            out.push(ReceivedMessage {
                id: e.id.clone(),
                receipt,
                body: e.body.clone(),
                receive_count: e.receive_count,
            });
            i += 1;
        }
        drop(st);
        if let Some((_, dlq)) = &self.dead_letter
            && !dead.is_empty()
        {
            dlq.push(&dead);
        }
        (out, next_visible.map(|n| n.saturating_duration_since(now)))
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn send_batch(&self, bodies: &[String]) -> Result<(), QueueError> {
        self.push(bodies);
        Ok(())
    }

    async fn send_delayed(&self, body: &str, delay: Duration) -> Result<(), QueueError> {
        self.push_at(
            &[body.to_owned()],
            Instant::now() + delay.min(super::MAX_DELAY),
        );
        Ok(())
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let deadline = Instant::now() + wait;
        let visibility = visibility.unwrap_or(self.default_visibility);
        loop {
            let notified = self.notify.notified();
            let (got, next_visible) = self.take(max.clamp(1, MAX_BATCH), visibility);
            if !got.is_empty() {
                return Ok(got);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let mut until = deadline;
            if let Some(d) = next_visible {
                until = until.min(now + d);
            }
            let _ = tokio::time::timeout_at(until, notified).await;
        }
    }

    async fn delete_batch(&self, receipts: &[String]) -> Result<(), QueueError> {
        let mut st = self.lock();
        st.messages
            .retain(|e| !e.receipt.as_ref().is_some_and(|r| receipts.contains(r)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bodies(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("m{i}")).collect()
    }

    #[tokio::test]
    async fn delayed_messages_stay_hidden_until_their_delay_passes() {
        let q = MemoryQueue::new("t", Duration::from_secs(30));
        q.send_delayed("later", Duration::from_millis(300))
            .await
            .unwrap();
        assert!(
            q.receive(10, Duration::from_millis(50), None)
                .await
                .unwrap()
                .is_empty()
        );
        let got = q.receive(10, Duration::from_secs(2), None).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].body, "later");
    }

    #[tokio::test]
    async fn send_receive_delete_in_batches() {
        let q = MemoryQueue::new("q", Duration::from_secs(30));
        q.send_batch(&bodies(25)).await.unwrap();
        let mut seen = Vec::new();
        loop {
            let got = q.receive(10, Duration::ZERO, None).await.unwrap();
            if got.is_empty() {
                break;
            }
            assert!(got.len() <= 10);
            q.delete_batch(&got.iter().map(|m| m.receipt.clone()).collect::<Vec<_>>())
                .await
                .unwrap();
            seen.extend(got.into_iter().map(|m| m.body));
        }
        assert_eq!(seen, bodies(25));
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn visibility_timeout_redelivers() {
        let q = MemoryQueue::new("q", Duration::from_secs(30));
        q.send_batch(&bodies(1)).await.unwrap();
        let first = q
            .receive(1, Duration::ZERO, Some(Duration::from_millis(200)))
            .await
            .unwrap();
        assert_eq!(first.len(), 1);
        assert!(q.receive(1, Duration::ZERO, None).await.unwrap().is_empty());
        // A long poll wakes when the message becomes visible again.
        let again = q.receive(1, Duration::from_secs(5), None).await.unwrap();
        assert_eq!(again[0].id, first[0].id);
        assert_eq!(again[0].receive_count, 2);
        // The stale receipt no longer deletes it.
        q.delete_batch(&[first[0].receipt.clone()]).await.unwrap();
        assert_eq!(q.len(), 1);
        q.delete_batch(&[again[0].receipt.clone()]).await.unwrap();
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn long_poll_wakes_on_send() {
        let q = MemoryQueue::new("q", Duration::from_secs(30));
        let q2 = q.clone();
        let h = tokio::spawn(async move { q2.receive(1, Duration::from_secs(10), None).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        q.send_batch(&bodies(1)).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(2), h)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(got.len(), 1);
    }

    #[tokio::test]
    async fn dead_letter_after_max_receives() {
        let dlq = MemoryQueue::new("dlq", Duration::from_secs(30));
        let q =
            MemoryQueue::new("q", Duration::from_secs(30)).with_dead_letter_queue(2, dlq.clone());
        q.send_batch(&bodies(1)).await.unwrap();
        for _ in 0..2 {
            let got = q
                .receive(1, Duration::ZERO, Some(Duration::ZERO))
                .await
                .unwrap();
            assert_eq!(got.len(), 1);
        }
        assert!(q.receive(1, Duration::ZERO, None).await.unwrap().is_empty());
        assert!(q.is_empty());
        assert_eq!(dlq.len(), 1);
    }
}
