//! [`LocalStore`]: originals in a local directory, the embedded default.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;

use crate::blob::Blob;
use crate::error::{CauseKind, Result, StoreError};
use crate::hash::ContentHash;
use crate::key::DerivedKey;
use crate::store::{
    DeleteOutcome, GetResult, ListStream, ObjectMeta, PutOutcome, Store, Tombstone,
};

/// Originals in a local directory.
///
/// Layout: `<root>/ab/cd/<hash>` (the first two pairs of hex digits shard the directories),
/// derived objects under `<root>/derived/<hash>/<spec>`, tombstones of deleted originals at
/// `<root>/tombstones/<hash>`, and temporary files under `<root>/.tmp`.
/// Every write goes to a fresh temporary file that is fsynced and then renamed over the final
/// name (and the directory fsynced), so a reader never sees a partial file and concurrent writers
/// of the same hash are safe: each renames its own complete copy of the same bytes.
#[derive(Debug, Clone)]
pub struct LocalStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: String,
    root: PathBuf,
    tmp_counter: AtomicU64,
}

/// Temporary files older than this, left by a crash, are removed when a store is opened.
const STALE_TMP_AGE: Duration = Duration::from_secs(3600);

impl LocalStore {
    /// Opens (creating if needed) a store rooted at `root`, named `local`.
    pub fn new(root: impl Into<PathBuf>) -> io::Result<Self> {
        Self::with_name("local", root)
    }

    /// Opens (creating if needed) a store rooted at `root`, with the given region name.
    pub fn with_name(name: impl Into<String>, root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        fs::create_dir_all(root.join(".tmp"))?;
        remove_stale_tmp_files(&root.join(".tmp"));
        Ok(Self {
            inner: Arc::new(Inner {
                name: name.into(),
                root,
                tmp_counter: AtomicU64::new(0),
            }),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Where the original `hash` lives: `<root>/ab/cd/<hash>`.
    pub fn path_of(&self, hash: &ContentHash) -> PathBuf {
        let hex = hash.to_string();
        self.inner.root.join(&hex[0..2]).join(&hex[2..4]).join(hex)
    }

    /// Where the derived object `key` lives: `<root>/derived/<hash>/<spec>`.
    pub fn derived_path_of(&self, key: &DerivedKey) -> PathBuf {
        // The spec is validated: relative, `[a-z0-9/._-]`, no `.`/`..` segments.
        self.inner
            .root
            .join("derived")
            .join(key.hash().to_string())
            .join(key.spec())
    }

    /// Where the tombstone of `hash` lives: `<root>/tombstones/<hash>`.
    pub fn tombstone_path_of(&self, hash: &ContentHash) -> PathBuf {
        self.inner.root.join("tombstones").join(hash.to_string())
    }

    fn unavailable(&self, what: &str, err: io::Error) -> StoreError {
        StoreError::unavailable(&self.inner.name, CauseKind::Error, format!("{what}: {err}"))
    }

    fn tmp_path(&self, label: &str) -> PathBuf {
        let n = self.inner.tmp_counter.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        self.inner
            .root
            .join(".tmp")
            .join(format!("{label}.{}.{n}.{nanos}.tmp", std::process::id()))
    }

    async fn read(&self, path: PathBuf, key: impl std::fmt::Display) -> Result<GetResult> {
        match tokio::fs::read(&path).await {
            // A directory holds bare bytes: no content type to report.
            Ok(data) => Ok(GetResult::new(Bytes::from(data), self.inner.name.as_str())),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Err(StoreError::not_found(key)),
            Err(err) => Err(self.unavailable(&format!("reading {}", path.display()), err)),
        }
    }

    async fn write(&self, target: PathBuf, label: String, source: Source) -> Result<()> {
        let tmp = self.tmp_path(&label);
        let shown = target.display().to_string();
        tokio::task::spawn_blocking(move || write_atomic(&tmp, &target, source))
            .await
            .map_err(|e| self.unavailable("write task", io::Error::other(e)))?
            .map_err(|e| self.unavailable(&format!("writing {shown}"), e))
    }
}

enum Source {
    Bytes(Bytes),
    File(PathBuf),
}

/// Writes `source` to `tmp`, fsyncs it, renames it to `target` and fsyncs the directory.
fn write_atomic(tmp: &Path, target: &Path, source: Source) -> io::Result<()> {
    let result = (|| {
        let mut file = fs::File::create_new(tmp)?;
        match source {
            Source::Bytes(bytes) => file.write_all(&bytes)?,
            Source::File(path) => {
                io::copy(&mut fs::File::open(path)?, &mut file)?;
            }
        }
        file.sync_all()?;
        drop(file);
        let dir = target
            .parent()
            .ok_or_else(|| io::Error::other("target has no parent directory"))?;
        create_dir_all_synced(dir)?;
        fs::rename(tmp, target)?;
        fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(tmp);
    }
    result
}

/// `fs::create_dir_all`, then fsyncs the parent of every directory it created, so that a new
/// shard directory (`ab/`, `ab/cd/`) survives a crash along with the file renamed into it.
fn create_dir_all_synced(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir
        .parent()
        .ok_or_else(|| io::Error::other("cannot create a root directory"))?;
    create_dir_all_synced(parent)?;
    match fs::create_dir(dir) {
        Ok(()) => fs::File::open(parent)?.sync_all(),
        // Another writer created it meanwhile (and syncs its parent itself).
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

fn remove_stale_tmp_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TMP_AGE);
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The files under `dir`, as `/`-separated paths relative to it, sorted.
fn files_under(dir: &Path) -> io::Result<Vec<String>> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let path = format!("{prefix}{name}");
            if entry.file_type()?.is_dir() {
                walk(&entry.path(), &format!("{path}/"), out)?;
            } else {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    match walk(dir, "", &mut out) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    out.sort();
    Ok(out)
}

/// Removes `path`, a missing one included; true when it existed.
fn remove_if_present(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}

fn is_hex_pair(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|s| s.len() == 2 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// Walks `<root>/ab/cd/<hash>`, sending every valid hash whose shard matches its name.
fn walk(root: &Path, tx: &tokio::sync::mpsc::Sender<Result<ContentHash>>, name: &str) {
    let send_err = |what: &Path, err: io::Error| {
        let msg = format!("listing {}: {err}", what.display());
        let _ = tx.blocking_send(Err(StoreError::unavailable(name, CauseKind::Error, msg)));
    };
    let dirs = |path: &Path| -> io::Result<Vec<(std::ffi::OsString, PathBuf)>> {
        let mut out: Vec<_> = fs::read_dir(path)?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()) && is_hex_pair(&e.file_name()))
            .map(|e| (e.file_name(), e.path()))
            .collect();
        out.sort();
        Ok(out)
    };
    let level1 = match dirs(root) {
        Ok(d) => d,
        Err(err) => return send_err(root, err),
    };
    for (a, dir_a) in level1 {
        let level2 = match dirs(&dir_a) {
            Ok(d) => d,
            Err(err) => return send_err(&dir_a, err),
        };
        for (b, dir_b) in level2 {
            let entries = match fs::read_dir(&dir_b) {
                Ok(e) => e,
                Err(err) => return send_err(&dir_b, err),
            };
            for entry in entries.flatten() {
                let Some(hash) = entry
                    .file_name()
                    .to_str()
                    .and_then(|s| s.parse::<ContentHash>().ok())
                else {
                    continue;
                };
                let hex = hash.to_string();
                if a.to_str() != Some(&hex[0..2]) || b.to_str() != Some(&hex[2..4]) {
                    continue;
                }
                if tx.blocking_send(Ok(hash)).is_err() {
                    return; // the consumer went away
                }
            }
        }
    }
}

#[async_trait]
impl Store for LocalStore {
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// `<root>/.tmp`, on the store's own file system (no copy across devices) and cleaned of
    /// files older than an hour whenever the store is opened.
    fn spool_dir(&self) -> Option<PathBuf> {
        Some(self.inner.root.join(".tmp"))
    }

    async fn get(&self, hash: &ContentHash) -> Result<GetResult> {
        self.read(self.path_of(hash), hash).await
    }

    async fn head(&self, hash: &ContentHash) -> Result<ObjectMeta> {
        match tokio::fs::metadata(self.path_of(hash)).await {
            Ok(meta) => Ok(ObjectMeta {
                hash: *hash,
                size: meta.len(),
                last_modified: meta.modified().ok(),
            }),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Err(StoreError::not_found(hash)),
            Err(err) => Err(self.unavailable("stat", err)),
        }
    }

    async fn put(&self, blob: &Blob) -> Result<PutOutcome> {
        let source = match (blob.as_bytes(), blob.spool_path()) {
            (Some(bytes), _) => Source::Bytes(bytes.clone()),
            (None, Some(path)) => Source::File(path.to_path_buf()),
            (None, None) => Source::Bytes(Bytes::new()),
        };
        // `blob` (and so its spool file) outlives the write: we await it here.
        self.write(self.path_of(blob.hash()), blob.hash().to_string(), source)
            .await?;
        Ok(PutOutcome {
            hash: *blob.hash(),
            size: blob.len(),
            stored_in: vec![self.inner.name.clone()],
            missed: vec![],
        })
    }

    fn list(&self) -> ListStream {
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let root = self.inner.root.clone();
        let name = self.inner.name.clone();
        tokio::task::spawn_blocking(move || walk(&root, &tx, &name));
        futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
        .boxed()
    }

    async fn get_derived(&self, key: &DerivedKey) -> Result<GetResult> {
        self.read(self.derived_path_of(key), key).await
    }

    async fn put_derived(&self, key: &DerivedKey, data: Bytes) -> Result<()> {
        self.write(
            self.derived_path_of(key),
            "derived".to_owned(),
            Source::Bytes(data),
        )
        .await
    }

    async fn delete(&self, hash: &ContentHash) -> Result<DeleteOutcome> {
        // The tombstone first, durably: from then on the original is refused, whatever
        // happens to the rest of the delete.
        self.write(
            self.tombstone_path_of(hash),
            "tombstone".to_owned(),
            Source::Bytes(Bytes::from_static(TOMBSTONE_BODY)),
        )
        .await?;
        let original = self.path_of(hash);
        let derived_dir = self.inner.root.join("derived").join(hash.to_string());
        let removed = tokio::task::spawn_blocking(move || {
            let had_original = remove_if_present(&original)?;
            let derived = files_under(&derived_dir)?;
            match fs::remove_dir_all(&derived_dir) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
            Ok((had_original, derived))
        })
        .await
        .map_err(|e| self.unavailable("delete task", io::Error::other(e)))?
        .map_err(|e| self.unavailable(&format!("deleting {hash}"), e))?;
        let (had_original, derived) = removed;
        Ok(DeleteOutcome::single(
            *hash,
            self.inner.name.clone(),
            had_original,
            derived,
        ))
    }

    async fn tombstone(&self, hash: &ContentHash) -> Result<Option<Tombstone>> {
        match tokio::fs::metadata(self.tombstone_path_of(hash)).await {
            Ok(meta) => Ok(Some(Tombstone {
                hash: *hash,
                deleted_at: meta.modified().ok(),
            })),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(self.unavailable("stat tombstone", err)),
        }
    }

    async fn restore(&self, hash: &ContentHash) -> Result<()> {
        let path = self.tombstone_path_of(hash);
        tokio::task::spawn_blocking(move || remove_if_present(&path))
            .await
            .map_err(|e| self.unavailable("restore task", io::Error::other(e)))?
            .map_err(|e| self.unavailable(&format!("removing the tombstone of {hash}"), e))?;
        Ok(())
    }

    fn list_tombstones(&self) -> ListStream {
        let dir = self.inner.root.join("tombstones");
        let name = self.inner.name.clone();
        futures::stream::once(async move {
            let listed = tokio::task::spawn_blocking(move || files_under(&dir)).await;
            let items: Vec<Result<ContentHash>> = match listed {
                Ok(Ok(files)) => files
                    .iter()
                    .filter_map(|f| f.parse().ok())
                    .map(Ok)
                    .collect(),
                Ok(Err(err)) => vec![Err(StoreError::unavailable(
                    &name,
                    CauseKind::Error,
                    format!("listing tombstones: {err}"),
                ))],
                Err(err) => vec![Err(StoreError::unavailable(
                    &name,
                    CauseKind::Error,
                    format!("listing tombstones: {err}"),
                ))],
            };
            futures::stream::iter(items)
        })
        .flatten()
        .boxed()
    }
}

/// What a tombstone holds: its existence is the record; the text is for people finding it.
pub(crate) const TOMBSTONE_BODY: &[u8] =
    b"origami tombstone: this original was deleted; remove this object to allow it again\n";
