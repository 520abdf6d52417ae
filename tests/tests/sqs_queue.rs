//! The SQS queue adapter against the emulator: batches, receipts and the visibility timeout.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Result;
use lucid::queue::{Queue, SqsQueue};

async fn queue(attrs: &[(&str, &str)]) -> Result<SqsQueue> {
    let moto = harness::moto()?;
    let url = moto.queue(attrs).await?;
    Ok(SqsQueue::new(moto.sqs(), url))
}

#[tokio::test]
async fn batch_send_receive_delete() -> Result<()> {
    let q = queue(&[]).await?;
    let sent: Vec<String> = (0..25).map(|i| format!("{{\"job\":{i}}}")).collect();
    q.send_batch(&sent).await?;
    let mut got = BTreeSet::new();
    for _ in 0..20 {
        let msgs = q.receive(10, Duration::from_secs(1), None).await?;
        if msgs.is_empty() {
            break;
        }
        assert!(msgs.len() <= 10);
        let receipts: Vec<String> = msgs.iter().map(|m| m.receipt.clone()).collect();
        q.delete_batch(&receipts).await?;
        got.extend(msgs.into_iter().map(|m| m.body));
    }
    assert_eq!(got, sent.into_iter().collect::<BTreeSet<_>>());
    assert!(q.receive(10, Duration::ZERO, None).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn visibility_timeout_is_honoured() -> Result<()> {
    let q = queue(&[]).await?;
    q.send_batch(&["work".to_owned()]).await?;
    let first = q
        .receive(1, Duration::from_secs(1), Some(Duration::from_secs(2)))
        .await?;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].receive_count, 1);
    // Hidden while being worked on.
    assert!(q.receive(1, Duration::ZERO, None).await?.is_empty());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // Not deleted in time: delivered again.
    let again = q
        .receive(1, Duration::from_secs(2), Some(Duration::from_secs(30)))
        .await?;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, first[0].id);
    assert_eq!(again[0].receive_count, 2);
    q.delete_batch(&[again[0].receipt.clone()]).await?;
    assert!(q.receive(1, Duration::ZERO, None).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn missing_queue_is_a_clear_error() -> Result<()> {
    let moto = harness::moto()?;
    let q = SqsQueue::new(
        moto.sqs(),
        format!("{}/123456789012/no-such-queue", moto.endpoint),
    );
    let err = q.send_batch(&["x".to_owned()]).await.unwrap_err();
    assert!(err.to_string().contains("no-such-queue"), "{err}");
    Ok(())
}
