//! The embedded default's PostgreSQL: first start initialises and starts it, later users reuse it, and the
//! last user out stops it cleanly.

use std::time::Duration;

use anyhow::Result;
use lucid::embedded::EmbeddedPostgres;
use lucid::store::Database;

#[tokio::test]
async fn start_reuse_and_clean_shutdown() -> Result<()> {
    let home = tempfile::Builder::new().prefix("lucid-home-").tempdir()?;
    std::fs::set_permissions(
        home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;

    let first = EmbeddedPostgres::start(home.path()).await?;
    assert!(
        first.started_here(),
        "a fresh home must start its own server"
    );
    let db = Database::connect(&first.database_url(), 2, Duration::from_secs(10)).await?;
    assert!(!db.migrate().await?.is_empty());
    drop(db);

    // A second user (another lucid process, say) reuses the running server and sees the same data.
    let second = EmbeddedPostgres::start(home.path()).await?;
    assert!(!second.started_here());
    assert_eq!(second.database_url(), first.database_url());
    let db = Database::connect(&second.database_url(), 2, Duration::from_secs(10)).await?;
    assert!(db.migrate().await?.is_empty(), "schema must persist");
    drop(db);

    // The first user leaving does not stop the server under the second.
    assert!(!first.shutdown().await?);
    assert!(second.cluster().is_running());
    let cluster = second.cluster().clone();
    assert!(second.shutdown().await?, "the last user stops the server");
    assert!(!cluster.is_running());

    // Restarting reuses the initialised data directory.
    let third = EmbeddedPostgres::start(home.path()).await?;
    assert!(third.started_here());
    let db = Database::connect(&third.database_url(), 2, Duration::from_secs(10)).await?;
    assert!(db.migrate().await?.is_empty(), "data survived the restart");
    drop(db);
    assert!(third.shutdown().await?);
    Ok(())
}
