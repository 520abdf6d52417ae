//! Serialized vulnerability reports kept per manifest and validated on every request, so a repeated
//! `GET vulnerability_report` costs one small query instead of a match: the validator digests everything a
//! report depends on — the manifest's row and index report (re-indexed, deleted and re-posted), every
//! updater's live operation (a feed update, an operation deleted), the feed status (freshness fields), the
//! scanner set and this build. It is the report's `ETag`; `If-None-Match` on it answers 304.
//!
//! The same cache keeps serialized index reports ([`ReportCache::index_validator`]): a 1,000-package index
//! report is half a megabyte of JSONB that PostgreSQL would otherwise render as text, and the API parse and
//! serialize again, on every `GET`/`POST index_report`.
//!
//! Entries live in process memory (per execution environment on Lambda), at most [`CAPACITY`] of them; the
//! oldest insertion goes first.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use bytes::Bytes;
use sha2::{Digest as _, Sha256};

use crate::model::Digest;
use crate::store::{Database, StoreError};

/// Reports kept at most (a 1,000-package report is a few hundred kB).
pub const CAPACITY: usize = 128;

const VALIDATOR_SQL: &str = "
    SELECT m.id::text || '|' || m.state || '|' || m.updated_at::text || '|'
           || coalesce(r.updated_at::text, '') || '|'
           || (SELECT coalesce(string_agg(updater || ':' || uo_id, ',' ORDER BY updater), '')
               FROM latest_update_operation) || '|'
           || (SELECT coalesce(max(last_attempt)::text, '') || ':' || count(*) FROM feed_status)
    FROM manifest m LEFT JOIN index_report r ON r.manifest_id = m.id
    WHERE m.digest = $1";

/// What an index report depends on: the manifest's row (state, error, re-indexing) and its stored report.
const INDEX_VALIDATOR_SQL: &str = "
    SELECT m.id::text || '|' || m.state || '|' || m.updated_at::text || '|'
           || coalesce(r.updated_at::text, '')
    FROM manifest m LEFT JOIN index_report r ON r.manifest_id = m.id
    WHERE m.digest = $1";

#[derive(Default)]
struct Entries {
    map: HashMap<Digest, (String, Bytes)>,
    order: VecDeque<Digest>,
}

#[derive(Default)]
pub struct ReportCache {
    entries: Mutex<Entries>,
}

impl ReportCache {
    /// The current validator (a quoted ETag) of `manifest`'s report; `None` when the manifest is unknown.
    pub async fn validator(
        db: &Database,
        manifest: &Digest,
        index_state: &str,
    ) -> Result<Option<String>, StoreError> {
        let client = db.client().await?;
        let statement = client.prepare_cached(VALIDATOR_SQL).await?;
        let row = client
            .query_opt(&statement, &[&manifest.to_string()])
            .await?;
        let Some(row) = row else { return Ok(None) };
        let state: Option<String> = row.try_get(0)?;
        let mut h = Sha256::new();
        h.update(state.unwrap_or_default().as_bytes());
        h.update(b"|");
        h.update(index_state.as_bytes());
        h.update(b"|");
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        Ok(Some(format!("\"{}\"", &hex::encode(h.finalize())[..32])))
    }

    /// The current validator of `manifest`'s index report (not its `ETag`, which is Clair's index state);
    /// `None` when the manifest is unknown.
    pub async fn index_validator(
        db: &Database,
        manifest: &Digest,
    ) -> Result<Option<String>, StoreError> {
        let client = db.client().await?;
        let statement = client.prepare_cached(INDEX_VALIDATOR_SQL).await?;
        let row = client
            .query_opt(&statement, &[&manifest.to_string()])
            .await?;
        let Some(row) = row else { return Ok(None) };
        let key: Option<String> = row.try_get(0)?;
        Ok(Some(format!(
            "{}|{}",
            key.unwrap_or_default(),
            env!("CARGO_PKG_VERSION")
        )))
    }

    /// The report stored for `manifest` under exactly `validator`.
    pub fn get(&self, manifest: &Digest, validator: &str) -> Option<Bytes> {
        let entries = self.entries.lock().ok()?;
        match entries.map.get(manifest) {
            Some((v, body)) if v == validator => Some(body.clone()),
            _ => None,
        }
    }

    pub fn put(&self, manifest: &Digest, validator: String, body: Bytes) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries
            .map
            .insert(manifest.clone(), (validator, body))
            .is_none()
        {
            entries.order.push_back(manifest.clone());
        }
        while entries.map.len() > CAPACITY {
            let Some(oldest) = entries.order.pop_front() else {
                break;
            };
            entries.map.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_answer_only_their_validator_and_stay_bounded() {
        let cache = ReportCache::default();
        let m = Digest::sha256_of(b"m");
        cache.put(&m, "\"a\"".into(), Bytes::from_static(b"one"));
        assert_eq!(cache.get(&m, "\"a\""), Some(Bytes::from_static(b"one")));
        assert_eq!(cache.get(&m, "\"b\""), None);
        cache.put(&m, "\"b\"".into(), Bytes::from_static(b"two"));
        assert_eq!(cache.get(&m, "\"a\""), None);
        assert_eq!(cache.get(&m, "\"b\""), Some(Bytes::from_static(b"two")));
        for i in 0..CAPACITY * 2 {
            cache.put(
                &Digest::sha256_of(format!("{i}").as_bytes()),
                "\"v\"".into(),
                Bytes::new(),
            );
        }
        let entries = cache.entries.lock().unwrap();
        assert_eq!(entries.map.len(), CAPACITY);
        assert_eq!(entries.order.len(), CAPACITY);
        assert!(!entries.map.contains_key(&m), "the oldest went first");
    }
}
