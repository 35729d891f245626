//! [`HitMemo`]: what a rendition URL already answered resolves to, so that the next request for
//! the same path goes to the result cache without routing, parsing, canonicalising or hashing.
//!
//! A cache hit through the router costs the route match, the boxed per-route layers, the
//! extractors (which copy the header map), the path parse, the canonical pipeline written out as
//! the cache key, and a BLAKE3 digest for the ETag: most of the user-space time of a hit
//! (measured with `perf` on the `hot` workload of `benches/load.sh`). A path that was answered
//! once names the same key and ETag for ever (the URL is immutable and the configuration fixed
//! for the process), so both are remembered here by path.
//!
//! The memo holds no bodies: every answer still comes from the result cache (and passes its
//! takedown check), so a memo entry whose body was evicted or taken down just falls through to
//! the router. Only URLs with an explicit output format are remembered (a negotiated one depends
//! on `Accept`).

use std::sync::Arc;

use moka::sync::Cache;
use origami_store::ContentHash;

/// What a path resolved to: the original, the result-cache key and the strong ETag.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// The original's hash.
    pub(crate) hash: ContentHash,
    /// The result-cache key (`<hash>/<spec>`).
    pub(crate) key: Box<str>,
    /// The quoted strong ETag.
    pub(crate) etag: Box<str>,
}

/// Paths answered before, and what they resolved to. Cloning is cheap and shares the memo.
#[derive(Debug, Clone)]
pub(crate) struct HitMemo {
    /// Keyed by strings a client chooses (paths), hashed with a per-process random seed.
    paths: Cache<Box<str>, Arc<Resolved>, foldhash::fast::RandomState>,
}

/// What an entry weighs: its strings and a fixed overhead for the entry and its `Arc`.
#[allow(clippy::borrowed_box)] // the signature moka's weigher takes for these keys
fn weight(path: &Box<str>, resolved: &Arc<Resolved>) -> u32 {
    let bytes = path.len() + resolved.key.len() + resolved.etag.len() + 128;
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

impl HitMemo {
    /// The share of `[cache] memory_bytes` the memo may take on top of the result cache
    /// (1/`SHARE`): 4 MiB, about 14 000 paths, at the default 256 MiB.
    pub(crate) const SHARE: u64 = 64;

    /// An empty memo of at most `max_bytes` of paths, keys and ETags.
    pub(crate) fn new(max_bytes: u64) -> Self {
        Self {
            paths: Cache::builder()
                .max_capacity(max_bytes)
                .weigher(weight)
                .build_with_hasher(foldhash::fast::RandomState::default()),
        }
    }

    /// What `path` resolved to when it was last answered, if it is remembered.
    pub(crate) fn get(&self, path: &str) -> Option<Arc<Resolved>> {
        self.paths.get(path)
    }

    /// Remembers that `path` names the rendition of `hash` at result-cache key `key`, with
    /// `etag`. Called by the router's answer, so a path is only remembered once it passed every
    /// check (signature, allowed sizes, presets, the grammar).
    pub(crate) fn remember(&self, path: &str, hash: ContentHash, key: &str, etag: &str) {
        if self.paths.contains_key(path) {
            return;
        }
        self.paths.insert(
            Box::from(path),
            Arc::new(Resolved {
                hash,
                key: Box::from(key),
                etag: Box::from(etag),
            }),
        );
    }

    /// Entries and their weight, after pending evictions ran (for tests).
    #[cfg(test)]
    fn size(&self) -> (u64, u64) {
        self.paths.run_pending_tasks();
        (self.paths.entry_count(), self.paths.weighted_size())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_paths_within_its_bound() {
        let memo = HitMemo::new(64 << 10);
        let hash = ContentHash::of(b"an original");
        memo.remember("/thumb/1/1/a.jpg", hash, "a/v3/thumb/1/1.jpg", "\"etag\"");
        let found = memo.get("/thumb/1/1/a.jpg").expect("remembered");
        assert_eq!((found.hash, &*found.key), (hash, "a/v3/thumb/1/1.jpg"));
        assert!(memo.get("/thumb/1/2/a.jpg").is_none());
        for i in 0..10_000 {
            memo.remember(&format!("/thumb/{i}/1/a.jpg"), hash, "key", "\"etag\"");
        }
        let (entries, bytes) = memo.size();
        assert!(bytes <= 64 << 10, "{bytes} bytes in {entries} entries");
        assert!(entries > 100, "{entries}");
    }
}
