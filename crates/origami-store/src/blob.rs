//! [`Blob`]: a body whose BLAKE3 hash is known, hashed while it streamed in.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::error::{Result, StoreError};
use crate::hash::ContentHash;
use crate::media::OCTET_STREAM;

/// How [`Blob::from_stream`] and [`Blob::from_reader`] buffer a body.
#[derive(Debug, Clone)]
pub struct BlobOptions {
    /// Bodies up to this many bytes stay in memory; larger ones are spooled to a temporary file as
    /// they arrive (default 8 MiB).
    pub memory_limit: usize,
    /// Bodies larger than this are rejected with [`StoreError::InvalidInput`] (default: no limit).
    pub max_len: Option<u64>,
    /// Where spool files go (default: the system temporary directory).
    pub spool_dir: Option<PathBuf>,
    /// The body's media type, when the caller knows it before reading the body (a request's
    /// `Content-Type`); see [`Blob::with_content_type`] to set it afterwards (default: none,
    /// stored as `application/octet-stream`).
    pub content_type: Option<String>,
}

impl Default for BlobOptions {
    fn default() -> Self {
        Self {
            memory_limit: 8 << 20,
            max_len: None,
            spool_dir: None,
            content_type: None,
        }
    }
}

/// A body ready to be written to any number of stores: its bytes (in memory, or spooled to a
/// temporary file deleted when the last clone is dropped), their length and their BLAKE3 hash.
///
/// A `Blob` can only be made by hashing its content, so its hash is always right; stores trust it
/// and write the content under that hash. Cloning is cheap.
///
/// The store does not guess media types: the caller names one ([`Blob::with_content_type`], or
/// [`BlobOptions::content_type`]), for instance from its own sniffer run over [`Blob::head`];
/// backends that keep one (S3's `Content-Type`) store it, others ignore it.
#[derive(Clone)]
pub struct Blob {
    inner: Arc<Inner>,
    /// Outside `inner` so that naming it does not copy the body.
    content_type: Option<Arc<str>>,
}

struct Inner {
    hash: ContentHash,
    len: u64,
    head: Vec<u8>,
    data: Data,
}

enum Data {
    Memory(Bytes),
    File(tempfile::TempPath),
}

/// How many leading bytes are kept for the caller's content-type sniffing ([`Blob::head`]).
const HEAD_LEN: usize = 32;

impl Blob {
    /// Hashes an in-memory body.
    pub fn from_bytes(data: impl Into<Bytes>) -> Self {
        let data = data.into();
        let hash = ContentHash::of(&data);
        let head = data[..data.len().min(HEAD_LEN)].to_vec();
        Self {
            inner: Arc::new(Inner {
                hash,
                len: data.len() as u64,
                head,
                data: Data::Memory(data),
            }),
            content_type: None,
        }
    }

    /// The same blob (sharing its body), with the media type `content_type`.
    pub fn with_content_type(mut self, content_type: impl Into<Arc<str>>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Hashes a streamed body chunk by chunk, spooling it to a temporary file past
    /// [`BlobOptions::memory_limit`].
    ///
    /// A stream error becomes [`StoreError::Body`]; a body over [`BlobOptions::max_len`] becomes
    /// [`StoreError::InvalidInput`].
    pub async fn from_stream<S>(stream: S, options: &BlobOptions) -> Result<Self>
    where
        S: Stream<Item = io::Result<Bytes>> + Send,
    {
        let mut spool = Spool::new(options);
        let mut stream = std::pin::pin!(stream);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(StoreError::Body)?;
            spool.push(&chunk).await?;
        }
        spool.finish().await
    }

    /// Hashes a body read from `reader`, spooling it like [`Blob::from_stream`].
    pub async fn from_reader<R>(reader: R, options: &BlobOptions) -> Result<Self>
    where
        R: AsyncRead + Send,
    {
        let mut spool = Spool::new(options);
        let mut reader = std::pin::pin!(reader);
        let mut buf = vec![0u8; 256 << 10];
        loop {
            let n = reader.read(&mut buf).await.map_err(StoreError::Body)?;
            if n == 0 {
                break;
            }
            spool.push(&buf[..n]).await?;
        }
        spool.finish().await
    }

    /// The BLAKE3 hash of the content.
    pub fn hash(&self) -> &ContentHash {
        &self.inner.hash
    }

    /// The content's length in bytes.
    pub fn len(&self) -> u64 {
        self.inner.len
    }

    /// True when the content is empty.
    pub fn is_empty(&self) -> bool {
        self.inner.len == 0
    }

    /// The content's media type as the caller named it, else `application/octet-stream`.
    pub fn content_type(&self) -> &str {
        self.content_type.as_deref().unwrap_or(OCTET_STREAM)
    }

    /// The first bytes of the content (up to 32, all of it when shorter): enough for a caller to
    /// sniff the media type of a streamed body without reading it back.
    pub fn head(&self) -> &[u8] {
        &self.inner.head
    }

    /// The content, when it is held in memory.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match &self.inner.data {
            Data::Memory(bytes) => Some(bytes),
            Data::File(_) => None,
        }
    }

    /// The spool file holding the content, when it was too large to keep in memory.
    pub fn spool_path(&self) -> Option<&Path> {
        match &self.inner.data {
            Data::Memory(_) => None,
            Data::File(path) => Some(path),
        }
    }

    /// The whole content in memory (read back from the spool file if needed).
    pub async fn to_bytes(&self) -> io::Result<Bytes> {
        match &self.inner.data {
            Data::Memory(bytes) => Ok(bytes.clone()),
            Data::File(path) => Ok(Bytes::from(tokio::fs::read(path).await?)),
        }
    }
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blob")
            .field("hash", &self.inner.hash)
            .field("len", &self.inner.len)
            .field("spooled", &self.spool_path().is_some())
            .field("content_type", &self.content_type)
            .finish()
    }
}

/// Accumulates a body: hashes every chunk, keeps it in memory up to a limit, then spools to disk.
struct Spool<'a> {
    options: &'a BlobOptions,
    hasher: blake3::Hasher,
    len: u64,
    head: Vec<u8>,
    memory: BytesMut,
    file: Option<(tokio::fs::File, tempfile::TempPath)>,
}

impl<'a> Spool<'a> {
    fn new(options: &'a BlobOptions) -> Self {
        Self {
            options,
            hasher: blake3::Hasher::new(),
            len: 0,
            head: Vec::with_capacity(HEAD_LEN),
            memory: BytesMut::new(),
            file: None,
        }
    }

    async fn push(&mut self, chunk: &[u8]) -> Result<()> {
        self.len += chunk.len() as u64;
        if let Some(max) = self.options.max_len {
            if self.len > max {
                return Err(StoreError::InvalidInput(format!(
                    "body larger than the {max}-byte limit"
                )));
            }
        }
        if self.head.len() < HEAD_LEN {
            let take = (HEAD_LEN - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.hasher.update(chunk);
        if self.file.is_none() && self.memory.len() + chunk.len() > self.options.memory_limit {
            let dir = self
                .options
                .spool_dir
                .clone()
                .unwrap_or_else(std::env::temp_dir);
            let named = tokio::task::spawn_blocking(move || {
                tempfile::Builder::new()
                    .prefix(".origami-spool-")
                    .tempfile_in(dir)
            })
            .await
            .map_err(|e| StoreError::Body(io::Error::other(e)))?
            .map_err(spool_error)?;
            let (file, path) = named.into_parts();
            let mut file = tokio::fs::File::from_std(file);
            file.write_all(&self.memory).await.map_err(spool_error)?;
            self.memory = BytesMut::new();
            self.file = Some((file, path));
        }
        match &mut self.file {
            Some((file, _)) => file.write_all(chunk).await.map_err(spool_error)?,
            None => self.memory.extend_from_slice(chunk),
        }
        Ok(())
    }

    async fn finish(self) -> Result<Blob> {
        let hash = ContentHash::from(self.hasher.finalize());
        let data = match self.file {
            Some((mut file, path)) => {
                file.flush().await.map_err(spool_error)?;
                Data::File(path)
            }
            None => Data::Memory(self.memory.freeze()),
        };
        Ok(Blob {
            inner: Arc::new(Inner {
                hash,
                len: self.len,
                head: self.head,
                data,
            }),
            content_type: self.options.content_type.as_deref().map(Arc::from),
        })
    }
}

fn spool_error(err: io::Error) -> StoreError {
    StoreError::Body(io::Error::new(
        err.kind(),
        format!("spooling the body to a temporary file: {err}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stream_and_bytes_agree_and_spool() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let small = Blob::from_bytes(data.clone());
        let chunks: Vec<io::Result<Bytes>> = data
            .chunks(10_000)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let options = BlobOptions {
            memory_limit: 64 << 10,
            ..Default::default()
        };
        let streamed = Blob::from_stream(futures::stream::iter(chunks), &options)
            .await
            .unwrap();
        assert_eq!(streamed.hash(), small.hash());
        assert_eq!(streamed.len(), data.len() as u64);
        let path = streamed.spool_path().expect("spooled").to_path_buf();
        assert_eq!(
            streamed.to_bytes().await.unwrap(),
            Bytes::from(data.clone())
        );
        drop(streamed);
        assert!(!path.exists(), "spool file removed with the last clone");

        let read = Blob::from_reader(&data[..], &BlobOptions::default())
            .await
            .unwrap();
        assert_eq!(read.hash(), small.hash());
        assert!(read.as_bytes().is_some());
    }

    #[tokio::test]
    async fn content_type_is_the_callers() {
        let png = Blob::from_bytes(&b"\x89PNG\r\n\x1a\n"[..]);
        assert_eq!(png.content_type(), OCTET_STREAM, "never sniffed");
        assert_eq!(png.head(), b"\x89PNG\r\n\x1a\n");
        let named = png.clone().with_content_type("image/png");
        assert_eq!(named.content_type(), "image/png");
        assert_eq!(named.hash(), png.hash());
        let options = BlobOptions {
            content_type: Some("image/jpeg".to_owned()),
            ..Default::default()
        };
        let read = Blob::from_reader(&[0xffu8, 0xd8, 0xff][..], &options)
            .await
            .unwrap();
        assert_eq!(read.content_type(), "image/jpeg");
        let long = Blob::from_bytes(vec![7u8; 100]);
        assert_eq!(long.head().len(), HEAD_LEN);
    }

    #[tokio::test]
    async fn limits_and_stream_errors() {
        let options = BlobOptions {
            max_len: Some(10),
            ..Default::default()
        };
        let err = Blob::from_reader(&[0u8; 11][..], &options)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidInput(_)), "{err}");
        let chunks = vec![
            Ok(Bytes::from_static(b"abc")),
            Err(io::Error::other("client went away")),
        ];
        let err = Blob::from_stream(futures::stream::iter(chunks), &BlobOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Body(_)), "{err}");
    }
}
