//! The updater handler driven by a real EventBridge scheduled event JSON, on real PostgreSQL, reading an
//! air-gapped feed folder, queueing diffs on SQS (moto).

use std::time::Duration;

use anyhow::Result;
use lucid::config::Config;
use lucid::services::Services;
use serde_json::{Value, json};

fn scheduled_event() -> Result<Value> {
    Ok(serde_json::from_str(include_str!("events/scheduled.json"))?)
}

async fn services(feed_dir: &std::path::Path, queue_url: &str) -> Result<Services> {
    let db = harness::fresh_database().await?;
    let moto = harness::moto()?;
    let home = tempfile::tempdir()?.keep();
    let vars = [
        ("DATABASE_URL", db.url.clone()),
        ("LUCID_FEED_DIR", feed_dir.display().to_string()),
        ("LUCID_NOTIFY_QUEUE_URL", queue_url.to_owned()),
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("LUCID_HOME", home.display().to_string()),
    ];
    for (k, v) in &vars[3..7] {
        // The AWS SDK reads credentials and region from the process environment.
        unsafe { std::env::set_var(k, v) };
    }
    let config = Config::from_lookup(|k| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.clone())
    })?;
    Ok(Services::for_function(config).await?)
}

fn feed_folder() -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    let root = harness::repo_root().join("shared/src/ecosystems");
    std::fs::create_dir_all(dir.path().join("alpine/v3.19"))?;
    std::fs::copy(
        root.join("alpine/testdata/v3.19-main.json"),
        dir.path().join("alpine/v3.19/main.json"),
    )?;
    std::fs::copy(
        root.join("debian/testdata/oval-definitions-bookworm-excerpt.xml"),
        dir.path().join("oval-definitions-bookworm.xml"),
    )?;
    Ok(dir)
}

#[tokio::test]
async fn scheduled_event_runs_the_feeds_and_queues_diffs_on_sqs() -> Result<()> {
    let moto = harness::moto()?;
    let queue_url = moto.queue(&[]).await?;
    let folder = feed_folder()?;
    let services = services(folder.path(), &queue_url).await?;

    let summary = lucid_updater::handle(&services, &scheduled_event()?).await?;
    let sources = summary["sources"].as_array().expect("sources");
    let names: Vec<&str> = sources
        .iter()
        .filter_map(|s| s["source"].as_str())
        .collect();
    assert_eq!(names, ["alpine/v3.19/main", "debian-oval/bookworm"]);
    assert!(
        sources.iter().all(|s| s["outcome"]["outcome"] == "updated"),
        "{summary:#}"
    );

    // Two committed operations → two diff messages on the real SQS queue.
    let sqs = moto.sqs();
    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await?;
    let mut updaters: Vec<String> = received
        .messages()
        .iter()
        .map(|m| {
            let body: Value = serde_json::from_str(m.body().unwrap_or("{}")).expect("json body");
            assert_eq!(body["kind"], "update_diff");
            assert!(
                body["prev"].is_null(),
                "first load has no previous operation"
            );
            body["updater"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    updaters.sort();
    assert_eq!(updaters, ["alpine/v3.19/main", "debian-oval/bookworm"]);

    // A rule narrowing the run with detail.feeds: only that source runs (unchanged now).
    let mut narrowed = scheduled_event()?;
    narrowed["detail"] = json!({"feeds": ["alpine"]});
    let summary = lucid_updater::handle(&services, &narrowed).await?;
    assert_eq!(
        summary["sources"],
        json!([{"source": "alpine/v3.19/main", "outcome": {"outcome": "unchanged"}, "records": 0,
                "seconds": summary["sources"][0]["seconds"]}])
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}

#[tokio::test]
async fn every_source_failing_is_a_function_error_and_a_bad_event_is_rejected() -> Result<()> {
    let moto = harness::moto()?;
    let queue_url = moto.queue(&[]).await?;
    let folder = tempfile::tempdir()?;
    std::fs::create_dir_all(folder.path().join("v3.19"))?;
    std::fs::write(
        folder.path().join("v3.19/main.json"),
        br#"{"distroversion": "v3.19", "packages": [ {"pkg": "#,
    )?;
    let services = services(folder.path(), &queue_url).await?;
    let err = lucid_updater::handle(&services, &scheduled_event()?)
        .await
        .expect_err("all sources failed");
    assert!(err.to_string().contains("every source failed"), "{err}");

    let err = lucid_updater::handle(&services, &json!({"Records": []}))
        .await
        .expect_err("not EventBridge");
    assert!(
        matches!(err, lucid_updater::UpdaterError::BadEvent(_)),
        "{err}"
    );
    Ok(())
}
