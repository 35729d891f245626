//! [`sync`]: make every region hold a verified copy of every original, and finish every delete
//! (`origami sync`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;

use crate::blob::Blob;
use crate::error::{CauseKind, RegionCause, StoreError};
use crate::hash::ContentHash;
use crate::store::Store;

/// How [`sync`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOptions {
    /// Re-read and re-hash every copy, and rewrite corrupt ones from a good copy.
    pub verify: bool,
    /// Report what would be copied, write nothing.
    pub dry_run: bool,
    /// Objects processed at once (default 8).
    pub concurrency: usize,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            verify: false,
            dry_run: false,
            concurrency: 8,
        }
    }
}

/// Progress reported by [`sync`] as it goes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SyncEvent {
    /// A region was listed.
    Listed {
        /// The region.
        region: String,
        /// Its originals, or why it could not be listed.
        result: Result<u64, String>,
    },
    /// Listing is over: this many objects will be examined.
    Planned {
        /// Objects to examine.
        objects: u64,
    },
    /// One object is done.
    Object(ObjectReport),
}

/// What [`sync`] did for one object.
#[derive(Debug, Clone)]
pub struct ObjectReport {
    /// The object.
    pub hash: ContentHash,
    /// Regions it was copied to (or would be, in a dry run) because they lacked it.
    pub copied_to: Vec<String>,
    /// Regions whose corrupt copy was rewritten (or would be, in a dry run).
    pub repaired_in: Vec<String>,
    /// Regions where the original, deleted elsewhere, was deleted too (or would be): a copy
    /// left there, or its tombstone missing.
    pub deleted_in: Vec<String>,
    /// Regions that could not be brought up to date, and why.
    pub failed: Vec<RegionCause>,
}

/// The totals of a [`sync`] run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Distinct originals found across the regions.
    pub objects: u64,
    /// Objects examined (those lacking a copy somewhere, or all of them with `verify`).
    pub examined: u64,
    /// Copies made (or that would be made) into regions lacking them.
    pub copied: u64,
    /// Corrupt copies found.
    pub corrupt: u64,
    /// Corrupt copies rewritten (or that would be).
    pub repaired: u64,
    /// Deletes made (or that would be) in regions that missed them.
    pub deleted: u64,
    /// Copies that could not be made or repaired, and deletes that could not be made.
    pub failed: u64,
    /// Regions that could not be listed (nothing was copied to them).
    pub unlisted: Vec<RegionCause>,
}

impl SyncReport {
    /// True when every region was listed and every copy is in place (or would be).
    pub fn is_clean(&self) -> bool {
        self.failed == 0 && self.unlisted.is_empty()
    }
}

/// Lists every region and copies each original to every region lacking it, from a copy verified
/// against its hash; with [`SyncOptions::verify`], also re-hashes every copy and rewrites corrupt
/// ones. Idempotent, and safe while the regions are serving: writes are whole objects under their
/// content hash, so a concurrent reader sees the old copy or the new one, both good.
///
/// Deleted originals (a tombstone in any region) are never copied: every region that still
/// holds one, or lacks its tombstone, gets the delete instead ([`Store::delete`]), so a region
/// that was down during a takedown does not bring the original back.
///
/// Regions that cannot be listed are reported and left alone. `on_event` sees progress.
pub async fn sync(
    regions: &[Arc<dyn Store>],
    options: &SyncOptions,
    on_event: &(dyn Fn(&SyncEvent) + Send + Sync),
) -> SyncReport {
    let mut report = SyncReport {
        dry_run: options.dry_run,
        ..SyncReport::default()
    };

    // 1. List every region: its originals and its tombstones.
    let listings = futures::future::join_all(regions.iter().map(|store| async move {
        let collect = |mut stream: crate::store::ListStream| async move {
            let mut hashes = Vec::new();
            while let Some(item) = stream.next().await {
                hashes.push(item.map_err(|e| e.into_cause(store.name()))?);
            }
            Ok::<_, RegionCause>(hashes)
        };
        let (originals, tombstones) =
            futures::join!(collect(store.list()), collect(store.list_tombstones()));
        Ok::<_, RegionCause>((originals?, tombstones?))
    }))
    .await;
    let mut holders: HashMap<ContentHash, Vec<bool>> = HashMap::new();
    let mut tombstoned: HashMap<ContentHash, Vec<bool>> = HashMap::new();
    let mut listed = vec![false; regions.len()];
    for (idx, listing) in listings.into_iter().enumerate() {
        let region = regions[idx].name().to_owned();
        match listing {
            Ok((hashes, tombstones)) => {
                for hash in tombstones {
                    tombstoned
                        .entry(hash)
                        .or_insert_with(|| vec![false; regions.len()])[idx] = true;
                }
                listed[idx] = true;
                on_event(&SyncEvent::Listed {
                    region,
                    result: Ok(hashes.len() as u64),
                });
                for hash in hashes {
                    holders
                        .entry(hash)
                        .or_insert_with(|| vec![false; regions.len()])[idx] = true;
                }
            }
            Err(cause) => {
                on_event(&SyncEvent::Listed {
                    region,
                    result: Err(cause.message.clone()),
                });
                report.unlisted.push(cause);
            }
        }
    }
    report.objects = holders.len() as u64;

    // 2. Finish the deletes: every listed region that holds a deleted original, or lacks its
    //    tombstone, deletes it.
    let deleted: HashSet<ContentHash> = tombstoned.keys().copied().collect();
    let mut deletes: Vec<(ContentHash, Vec<usize>)> = tombstoned
        .into_iter()
        .map(|(hash, has_tombstone)| {
            let held = holders.get(&hash);
            let targets = (0..regions.len())
                .filter(|&i| listed[i] && (!has_tombstone[i] || held.is_some_and(|held| held[i])))
                .collect();
            (hash, targets)
        })
        .filter(|(_, targets): &(ContentHash, Vec<usize>)| !targets.is_empty())
        .collect();
    deletes.sort_by_key(|(hash, _)| *hash);
    for (hash, targets) in deletes {
        let mut object = ObjectReport {
            hash,
            copied_to: vec![],
            repaired_in: vec![],
            deleted_in: vec![],
            failed: vec![],
        };
        for idx in targets {
            let store = &regions[idx];
            if !options.dry_run {
                if let Err(err) = store.delete(&hash).await {
                    object.failed.push(err.into_cause(store.name()));
                    continue;
                }
            }
            object.deleted_in.push(store.name().to_owned());
        }
        report.deleted += object.deleted_in.len() as u64;
        report.failed += object.failed.len() as u64;
        on_event(&SyncEvent::Object(object));
    }

    // 3. Decide what to examine (never a deleted original).
    let mut work: Vec<(ContentHash, Vec<bool>)> = holders
        .into_iter()
        .filter(|(hash, _)| !deleted.contains(hash))
        .filter(|(_, held)| options.verify || held.iter().zip(&listed).any(|(h, l)| *l && !*h))
        .collect();
    work.sort_by_key(|(hash, _)| *hash);
    report.examined = work.len() as u64;
    on_event(&SyncEvent::Planned {
        objects: report.examined,
    });

    // 4. Bring each object up to date, a few at a time.
    let listed = &listed;
    let mut results = futures::stream::iter(work)
        .map(|(hash, held)| sync_object(regions, listed, hash, held, options))
        .buffer_unordered(options.concurrency.max(1));
    while let Some((object, corrupt)) = results.next().await {
        report.copied += object.copied_to.len() as u64;
        report.repaired += object.repaired_in.len() as u64;
        report.corrupt += corrupt;
        report.failed += object.failed.len() as u64;
        on_event(&SyncEvent::Object(object));
    }
    report
}

/// Returns the object's report and the number of corrupt copies found.
async fn sync_object(
    regions: &[Arc<dyn Store>],
    listed: &[bool],
    hash: ContentHash,
    held: Vec<bool>,
    options: &SyncOptions,
) -> (ObjectReport, u64) {
    let mut report = ObjectReport {
        hash,
        copied_to: vec![],
        repaired_in: vec![],
        deleted_in: vec![],
        failed: vec![],
    };
    let missing: Vec<usize> = (0..regions.len())
        .filter(|&i| listed[i] && !held[i])
        .collect();
    let holders: Vec<usize> = (0..regions.len()).filter(|&i| held[i]).collect();

    if options.dry_run && !options.verify {
        report.copied_to = missing
            .iter()
            .map(|&i| regions[i].name().to_owned())
            .collect();
        return (report, 0);
    }

    // Find a good copy; with `verify`, check every copy.
    let mut good = None;
    let mut corrupt = Vec::new();
    for &idx in &holders {
        if good.is_some() && !options.verify {
            break;
        }
        let store = &regions[idx];
        match store.get(&hash).await {
            Ok(got) if ContentHash::of(&got.bytes) == hash => {
                good.get_or_insert(got);
            }
            Ok(got) => {
                let actual = ContentHash::of(&got.bytes);
                tracing::warn!(%hash, region = store.name(), %actual, "corrupt copy");
                corrupt.push(idx);
            }
            Err(StoreError::Integrity { detail, .. }) => {
                tracing::warn!(%hash, region = store.name(), %detail, "corrupt copy");
                corrupt.push(idx);
            }
            Err(StoreError::NotFound { .. }) => {
                // Listed but gone (or listed by a concurrent sync): treat as missing.
                report.failed.push(RegionCause::new(
                    store.name(),
                    CauseKind::NotFound,
                    "listed but not found on read",
                ));
            }
            Err(err) => report.failed.push(err.into_cause(store.name())),
        }
    }
    let corrupt_found = corrupt.len() as u64;
    let Some(good) = good else {
        for &idx in missing.iter().chain(&corrupt) {
            report.failed.push(RegionCause::new(
                regions[idx].name(),
                CauseKind::Integrity,
                "no intact copy in any region",
            ));
        }
        return (report, corrupt_found);
    };

    // The copies keep the source's media type when its backend recorded one.
    let mut blob = Blob::from_bytes(good.bytes);
    if let Some(content_type) = good.content_type {
        blob = blob.with_content_type(content_type);
    }
    for (targets, repaired) in [(&missing, false), (&corrupt, true)] {
        for &idx in targets {
            let store = &regions[idx];
            let name = store.name().to_owned();
            if !options.dry_run {
                if let Err(err) = store.put(&blob).await {
                    report.failed.push(err.into_cause(&name));
                    continue;
                }
            }
            if repaired {
                report.repaired_in.push(name);
            } else {
                report.copied_to.push(name);
            }
        }
    }
    (report, corrupt_found)
}
