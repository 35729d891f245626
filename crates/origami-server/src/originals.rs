//! [`Originals`]: reading originals from the store (or from the memory cache, where the
//! `/original/` route put them), and what their headers say, cached by hash.

use std::sync::Arc;

use bytes::Bytes;
use moka::future::Cache;
use origami_engine::{ImageFormat, ImageInfo};
use origami_store::{ContentHash, Store};

use crate::api_error::ApiError;
use crate::cache::{Cached, Made, Outcome, ResultCache};

/// What is known about an original without decoding it.
#[derive(Debug, Clone)]
pub struct OriginalInfo {
    /// The probe result.
    pub info: ImageInfo,
    /// The original's size in bytes.
    pub bytes: u64,
}

/// Originals as the routes and the miss path see them. Cloning is cheap.
#[derive(Debug, Clone)]
pub(crate) struct Originals {
    store: Arc<dyn Store>,
    cache: ResultCache,
    infos: Cache<ContentHash, OriginalInfo>,
}

/// The result-cache key of an original's bytes.
fn original_key(hash: &ContentHash) -> String {
    format!("{hash}/original")
}

impl Originals {
    /// Originals from `store`, sharing the result cache `cache` with the derivatives.
    pub(crate) fn new(store: Arc<dyn Store>, cache: ResultCache) -> Self {
        Self {
            store,
            cache,
            infos: Cache::builder().max_capacity(100_000).build(),
        }
    }

    /// Reads an original: from the memory cache when `/original/` put it there, else from the
    /// store. Returns the bytes and the region that served them (`cache` for memory).
    pub(crate) async fn read(&self, hash: &ContentHash) -> Result<(Bytes, Arc<str>), ApiError> {
        if let Some(found) = self.cache.peek(hash, &original_key(hash)).await {
            return Ok((found.bytes, Arc::from("cache")));
        }
        let got = self.store.get(hash).await?;
        Ok((got.bytes, got.region))
    }

    /// An original through the memory cache (the `/original/` route).
    pub(crate) async fn cached(&self, hash: &ContentHash) -> Result<(Cached, Outcome), ApiError> {
        let hash = *hash;
        let store = self.store.clone();
        self.cache
            .get_or_make(&hash, &original_key(&hash), || async move {
                let got = store.get(&hash).await?;
                let content_type = ImageFormat::sniff(&got.bytes)
                    .map_or("application/octet-stream", |f| f.mime_type());
                let cached = Cached {
                    bytes: got.bytes,
                    content_type,
                    origin: got.region,
                };
                Ok((cached, Made::Computed))
            })
            .await
    }

    /// The size of an original, when it is known without reading it: its probe facts or its
    /// bytes are in memory.
    pub(crate) async fn known_size(&self, hash: &ContentHash) -> Option<u64> {
        if let Some(info) = self.infos.get(hash).await {
            return Some(info.bytes);
        }
        let cached = self.cache.peek(hash, &original_key(hash)).await?;
        Some(cached.bytes.len() as u64)
    }

    /// Whether `hash` is known to be deleted (see [`Takedowns::is_deleted`](crate::takedowns::Takedowns::is_deleted)).
    pub(crate) fn is_deleted(&self, hash: &ContentHash) -> bool {
        self.cache.takedowns().is_deleted(hash)
    }

    /// Drops the probe facts of `hash` (it was deleted; its bytes go with the result cache).
    pub(crate) async fn forget(&self, hash: &ContentHash) {
        self.infos.invalidate(hash).await;
    }

    /// Probe facts about an original (cached by hash, until it is known to be deleted).
    pub(crate) async fn info(&self, hash: &ContentHash) -> Result<OriginalInfo, ApiError> {
        if self.cache.takedowns().is_deleted(hash) {
            self.infos.invalidate(hash).await;
        }
        let hash = *hash;
        let result = self
            .infos
            .try_get_with(hash, async move {
                let (bytes, region) = self.read(&hash).await?;
                let info = origami_engine::probe(&bytes)
                    .map_err(|e| ApiError::from(e).with_region(Some(region.to_string())))?;
                Ok::<_, ApiError>(OriginalInfo {
                    info,
                    bytes: bytes.len() as u64,
                })
            })
            .await;
        result.map_err(|e| (*e).clone())
    }
}
