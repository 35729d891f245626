//! [`Tombstones`]: whether an original was deleted, asked of every region and remembered.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use super::attempt::Region;
use crate::error::{RegionCause, Result, StoreError};
use crate::hash::ContentHash;
use crate::store::Store;

/// The answers to "was `hash` deleted?", shared by a failover store's reads, writes and
/// repairs, each kept for the recheck interval (so a delete, or a restore, made through
/// another store is seen within it). Concurrent questions about one hash share one round of
/// lookups.
pub(super) struct Tombstones {
    answers: Cache<ContentHash, bool>,
}

/// Hashes remembered at most (about 10 MB).
const MAX_ANSWERS: u64 = 100_000;

impl Tombstones {
    pub(super) fn new(recheck: Duration) -> Self {
        Self {
            answers: Cache::builder()
                .max_capacity(MAX_ANSWERS)
                .time_to_live(recheck)
                .build(),
        }
    }

    /// Whether `hash` was deleted: the remembered answer, else every region's tombstone.
    pub(super) async fn is_deleted(&self, regions: &[Region], hash: ContentHash) -> Result<bool> {
        self.answers
            .try_get_with(hash, ask(regions, hash))
            .await
            .map_err(|causes: Arc<Vec<RegionCause>>| StoreError::Unavailable {
                causes: causes.to_vec(),
            })
    }

    /// Asks the regions now, whatever is remembered, and remembers the answer (for writes and
    /// repairs, which must not act on an answer up to a recheck interval old).
    pub(super) async fn is_deleted_now(
        &self,
        regions: &[Region],
        hash: ContentHash,
    ) -> Result<bool> {
        let deleted = ask(regions, hash)
            .await
            .map_err(|causes| StoreError::Unavailable { causes })?;
        self.answers.insert(hash, deleted).await;
        Ok(deleted)
    }

    /// Records what was found of `hash`: deleted, or not (restored, or no tombstone).
    pub(super) async fn set(&self, hash: ContentHash, deleted: bool) {
        self.answers.insert(hash, deleted).await;
    }
}

/// Asks every region whose breaker lets a request through for the tombstone of `hash`:
/// deleted when any has one; alive when none has and at least one answered; the causes when
/// none answered. A region that is down is not asked: the delete it missed is queued for it,
/// and its copies are refused meanwhile thanks to the tombstones of the regions that are up.
async fn ask(regions: &[Region], hash: ContentHash) -> Result<bool, Vec<RegionCause>> {
    let lookups = regions.iter().map(|region| async move {
        let Some(permit) = region.breaker.admit() else {
            return Err(region.circuit_open());
        };
        match region.layered.tombstone(&hash).await {
            Ok(found) => {
                permit.success();
                Ok(found.is_some())
            }
            Err(err) => {
                let cause = err.into_cause(&region.name);
                permit.failure(&cause.message);
                Err(cause)
            }
        }
    });
    let answers = futures::future::join_all(lookups).await;
    if answers.iter().any(|a| matches!(a, Ok(true))) {
        return Ok(true);
    }
    if answers.iter().any(|a| a.is_ok()) {
        return Ok(false);
    }
    Err(answers.into_iter().filter_map(|a| a.err()).collect())
}
