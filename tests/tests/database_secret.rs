//! A deployment names its database by a Secrets Manager secret (RDS's JSON shape): resolved through the
//! real Secrets Manager protocol (the emulator), then used to connect and migrate.

use std::time::Duration;

use anyhow::Result;
use lucid::services::resolve_database_secret_with;
use lucid::store::Database;

#[tokio::test]
async fn rds_shaped_secret_resolves_to_a_working_database_url() -> Result<()> {
    let moto = harness::moto()?;
    let db = harness::fresh_database().await?;
    let url = url::Url::parse(&db.url)?;
    let client = aws_sdk_secretsmanager::Client::new(&moto.sdk_config());
    let secret = serde_json::json!({
        "engine": "postgres",
        "username": url.username(),
        "password": "",
        "host": url.host_str().unwrap_or_default(),
        "port": url.port().unwrap_or(5432),
        "dbname": db.name,
    });
    let created = client
        .create_secret()
        .name(format!("lucid-db-{}", uuid::Uuid::new_v4().simple()))
        .secret_string(secret.to_string())
        .send()
        .await?;
    let arn = created.arn.unwrap_or_default();
    let resolved = resolve_database_secret_with(&client, &arn).await?;
    let database = Database::connect(&resolved, 1, Duration::from_secs(10)).await?;
    assert!(!database.migrate().await?.is_empty());

    let missing = resolve_database_secret_with(
        &client,
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope",
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(missing.contains("LUCID_DATABASE_SECRET_ARN"), "{missing}");
    Ok(())
}
