//! The offline feed snapshot shipped inside the binary (`cli/snapshot/feeds.jsonl.zst`, built from real
//! upstream advisories by `infra/build-feed-snapshot.sh`; sources and licenses in `cli/snapshot/NOTICE.md`).
//!
//! It is loaded only when the live feeds could not be reached and the database holds no vulnerability
//! data, so a first run offline still checks something. Its records are imported like `lucid
//! import-feeds`, with `feed_status` fingerprints labelled `snapshot:<date>:…`: reports then carry the
//! `feed_snapshot` warning and each feed's `snapshot` date, and `lucid feeds status` says so, until
//! `lucid update` replaces them with live data.

use std::io::Cursor;

use lucid::feeds::archive::{self, ArchiveStats};
use lucid::feeds::store::FeedStore;
use lucid::services::Services;

/// The snapshot (empty in a build that ships none).
const SNAPSHOT: &[u8] = include_bytes!("../snapshot/feeds.jsonl.zst");

/// What [`load_if_empty`] loaded.
pub struct Loaded {
    /// The snapshot's date (`YYYY-MM-DD`).
    pub date: String,
    pub stats: ArchiveStats,
}

impl Loaded {
    /// One line for people.
    pub fn describe(&self) -> String {
        format!(
            "the live vulnerability feeds are unreachable: using the offline snapshot shipped with lucid, \
             dated {} ({} records of {} feeds); run `lucid update` when online for current data",
            self.date, self.stats.records, self.stats.updaters
        )
    }
}

/// Whether a snapshot ships with this build and `LUCID_FEED_SNAPSHOT` is not `off`.
pub fn available() -> bool {
    !SNAPSHOT.is_empty() && std::env::var("LUCID_FEED_SNAPSHOT").map_or(true, |v| v != "off")
}

/// Loads the snapshot when the database holds no vulnerability data (`None` when it does, or when no
/// snapshot is available).
pub async fn load_if_empty(services: &Services) -> anyhow::Result<Option<Loaded>> {
    if !available() {
        return Ok(None);
    }
    let store = FeedStore::new(services.db.clone());
    let loaded = store
        .latest_operations()
        .await?
        .values()
        .any(|op| op.kind == "vulnerability");
    if loaded {
        return Ok(None);
    }
    let info = archive::info(SNAPSHOT)?;
    let date = info
        .exported_at
        .get(..10)
        .unwrap_or("of unknown date")
        .to_owned();
    let stats = archive::import_labelled(
        &store,
        Cursor::new(SNAPSHOT),
        &archive::snapshot_label(&date),
    )
    .await?;
    tracing::info!(%date, records = stats.records, updaters = stats.updaters, "loaded the offline feed snapshot");
    Ok(Some(Loaded { date, stats }))
}
