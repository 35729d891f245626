//! [`Takedowns`]: what this server knows of deleted originals, so that what it holds in memory
//! for one (results, probe facts, a working copy) does not outlive a delete made elsewhere.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use origami_store::{ContentHash, Store};

/// Whether originals were deleted, as far as the memory caches' hits need to know: a delete
/// made through this server is known at once ([`Takedowns::record`]); one made through another
/// server or `origami delete` is found by a lookup of the store's tombstones, started in the
/// background by the first hit on the original after `recheck`, so a hit never waits for it.
/// Cloning is cheap and shares the answers.
#[derive(Clone)]
pub(crate) struct Takedowns {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    /// The answer per original, kept `recheck` long.
    answers: Cache<ContentHash, bool, foldhash::fast::RandomState>,
}

impl std::fmt::Debug for Takedowns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Takedowns")
            .field("answers", &self.inner.answers.entry_count())
            .finish()
    }
}

/// Originals whose answers are kept at most (a few MB).
const MAX_ANSWERS: u64 = 100_000;

impl Takedowns {
    /// Answers from `store`'s tombstones, each kept `recheck` long.
    pub(crate) fn new(store: Arc<dyn Store>, recheck: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                answers: Cache::builder()
                    .max_capacity(MAX_ANSWERS)
                    .time_to_live(recheck)
                    .build_with_hasher(foldhash::fast::RandomState::default()),
            }),
        }
    }

    /// Whether `hash` is known to be deleted: for a memory hit, which must not wait. Without
    /// an answer younger than the recheck interval it answers what it knew (not deleted) and
    /// asks the store in the background; once that finds a tombstone, the hits on `hash` stop.
    pub(crate) fn is_deleted(&self, hash: &ContentHash) -> bool {
        if let Some(deleted) = self.inner.answers.get(hash) {
            return deleted;
        }
        // One lookup per interval: the placeholder keeps the next hits from starting another.
        self.inner.answers.insert(*hash, false);
        let inner = self.inner.clone();
        let hash = *hash;
        tokio::spawn(async move {
            match inner.store.tombstone(&hash).await {
                Ok(Some(_)) => {
                    tracing::info!(%hash, "original deleted elsewhere: its memory entries go");
                    inner.answers.insert(hash, true);
                }
                Ok(None) => {}
                Err(err) => tracing::debug!(%hash, error = %err, "tombstone lookup failed"),
            }
        });
        false
    }

    /// Records that `hash` was deleted (through this server) or restored.
    pub(crate) fn record(&self, hash: ContentHash, deleted: bool) {
        self.inner.answers.insert(hash, deleted);
    }
}
