//! [`S3Store`]: one region of originals in an S3 (or S3-compatible) bucket.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use bytes::Bytes;
use futures::StreamExt;

use crate::blob::Blob;
use crate::error::{CauseKind, Result, StoreError};
use crate::hash::ContentHash;
use crate::key::DerivedKey;
use crate::media;
use crate::store::{
    Access, DeleteOutcome, GetResult, ListStream, ObjectMeta, PutOutcome, Store, Tombstone,
};

/// The `Cache-Control` set on every uploaded object: content-addressed objects never change.
pub const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// The user-metadata key (`x-amz-meta-blake3`) holding a derived object's BLAKE3, checked on read.
const DERIVED_DIGEST_META: &str = "blake3";

/// Static credentials, for tests and S3-compatible servers. Production should leave
/// [`S3Config::credentials`] unset and use the standard AWS chain (environment, profile, IMDS).
#[derive(Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
}

impl fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// One region: a bucket in an AWS region, or on an S3-compatible endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// The region's label in metrics, logs and `X-Origami-Region`.
    pub name: String,
    /// The bucket (3-63 characters).
    pub bucket: String,
    /// The AWS region of the bucket (used for signing).
    pub region: String,
    /// An S3-compatible endpoint such as `http://127.0.0.1:9000` (MinIO, tests). When set,
    /// requests use path-style addressing.
    pub endpoint: Option<String>,
    /// The prefix of originals' keys (default `originals/`).
    pub key_prefix: String,
    /// The prefix of derived objects' keys (default `derived/`, giving `derived/<hash>/<spec>`).
    pub derived_prefix: String,
    /// The prefix of deleted originals' tombstones (default `tombstones/`).
    pub tombstone_prefix: String,
    /// The timeout of one read attempt (GET, HEAD, one LIST page), connection included
    /// (default 2 s).
    pub read_timeout: Duration,
    /// The timeout of one upload attempt (default 30 s).
    pub write_timeout: Duration,
    /// The TCP (and TLS) connect timeout (default 1 s).
    pub connect_timeout: Duration,
    /// Attempts per request made by the SDK itself (default 1: a dead region fails fast and the
    /// failover layer, not retry-in-place, deals with it).
    pub max_attempts: u32,
    /// Static credentials; `None` (the default) uses the standard AWS credential chain.
    pub credentials: Option<StaticCredentials>,
}

impl S3Config {
    /// A configuration with the defaults for everything but the name, bucket and region.
    pub fn new(
        name: impl Into<String>,
        bucket: impl Into<String>,
        region: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            bucket: bucket.into(),
            region: region.into(),
            endpoint: None,
            key_prefix: "originals/".to_owned(),
            derived_prefix: "derived/".to_owned(),
            tombstone_prefix: "tombstones/".to_owned(),
            read_timeout: Duration::from_secs(2),
            write_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(1),
            max_attempts: 1,
            credentials: None,
        }
    }
}

/// One region of originals in an S3 bucket, through `aws-sdk-s3`.
///
/// Originals live at `<key_prefix><hash>`, derived objects at `<derived_prefix><hash>/<spec>`,
/// the tombstones of deleted originals at `<tombstone_prefix><hash>`.
/// Uploads set `Content-Type` (the [`Blob::content_type`] the caller named; for a derived object,
/// the type its spec's extension names) and [`CACHE_CONTROL`], since S3 serves only the headers an
/// object was stored with; reads report the stored `Content-Type` in
/// [`GetResult::content_type`]. Derived objects also carry their BLAKE3 in
/// `x-amz-meta-blake3`, checked when they are read back.
#[derive(Clone)]
pub struct S3Store {
    name: Arc<str>,
    client: Client,
    bucket: String,
    key_prefix: String,
    derived_prefix: String,
    tombstone_prefix: String,
    write_timeouts: TimeoutConfig,
    /// Set by [`Store::check`] when the credentials may not list the bucket: S3 then answers
    /// 403 for a missing key, which must read as "not found", not as a failing region.
    missing_is_forbidden: Arc<AtomicBool>,
}

impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store")
            .field("name", &self.name)
            .field("bucket", &self.bucket)
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

impl S3Store {
    /// Builds the SDK client for `config` (loading credentials from the standard chain unless
    /// static ones are given).
    pub async fn new(config: S3Config) -> Result<Self> {
        validate(&config)?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(config.region.clone()));
        if let Some(creds) = &config.credentials {
            loader = loader.credentials_provider(Credentials::new(
                creds.access_key_id.clone(),
                creds.secret_access_key.clone(),
                None,
                None,
                "origami-static",
            ));
        }
        let shared = loader.load().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .retry_config(RetryConfig::standard().with_max_attempts(config.max_attempts.max(1)))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(config.connect_timeout)
                    .operation_attempt_timeout(config.read_timeout)
                    .build(),
            );
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint).force_path_style(true);
        }
        Ok(Self::from_client(
            Client::from_conf(builder.build()),
            &config,
        ))
    }

    /// Wraps an existing client (its retry and timeout settings are used as they are, but for
    /// uploads, which use [`S3Config::write_timeout`]).
    pub fn from_client(client: Client, config: &S3Config) -> Self {
        Self {
            name: Arc::from(config.name.as_str()),
            client,
            bucket: config.bucket.clone(),
            key_prefix: config.key_prefix.clone(),
            derived_prefix: config.derived_prefix.clone(),
            tombstone_prefix: config.tombstone_prefix.clone(),
            write_timeouts: TimeoutConfig::builder()
                .connect_timeout(config.connect_timeout)
                .operation_attempt_timeout(config.write_timeout)
                .build(),
            missing_is_forbidden: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The object key of the original `hash`.
    pub fn key_of(&self, hash: &ContentHash) -> String {
        format!("{}{hash}", self.key_prefix)
    }

    /// The object key of the tombstone of `hash`.
    pub fn tombstone_key_of(&self, hash: &ContentHash) -> String {
        format!("{}{hash}", self.tombstone_prefix)
    }

    /// Lists the keys under `prefix`, as pages of keys with the prefix removed.
    fn list_keys(&self, prefix: String) -> futures::stream::BoxStream<'static, Result<String>> {
        let pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&prefix)
            .into_paginator()
            .send();
        let store = self.clone();
        futures::stream::unfold(
            (pages, store, prefix),
            |(mut pages, store, prefix)| async move {
                let page = pages.next().await?;
                let items: Vec<Result<String>> = match page {
                    Err(err) => vec![Err(store.error("LIST", &prefix, err))],
                    Ok(page) => page
                        .contents()
                        .iter()
                        .filter_map(|object| object.key()?.strip_prefix(prefix.as_str()))
                        .map(|key| Ok(key.to_owned()))
                        .collect(),
                };
                Some((futures::stream::iter(items), (pages, store, prefix)))
            },
        )
        .flatten()
        .boxed()
    }

    /// The per-request configuration of writes: the write timeouts, not the read ones.
    fn for_writes(&self) -> aws_sdk_s3::config::Builder {
        aws_sdk_s3::config::Builder::default().timeout_config(self.write_timeouts.clone())
    }

    /// Deletes `key` (S3 answers success for a missing key too).
    async fn delete_key(&self, key: &str) -> Result<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .customize()
            .config_override(self.for_writes())
            .send()
            .await
            .map_err(|e| self.error("DELETE", key, e))?;
        Ok(())
    }

    /// The object key of the derived object `key`.
    pub fn derived_key_of(&self, key: &DerivedKey) -> String {
        format!("{}{}/{}", self.derived_prefix, key.hash(), key.spec())
    }

    fn error<E>(
        &self,
        what: &str,
        key: impl fmt::Display,
        err: SdkError<E, HttpResponse>,
    ) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        // 404 is "not found" unless S3 says the bucket itself is missing: a misconfigured region
        // must look unavailable, not empty. (HEAD answers carry no error code.)
        let status = err.raw_response().map(|r| r.status().as_u16());
        let code = err.as_service_error().and_then(|e| e.code());
        if code != Some("NoSuchBucket")
            && (status == Some(404) || matches!(code, Some("NoSuchKey" | "NotFound")))
        {
            return StoreError::not_found(key);
        }
        // Without s3:ListBucket, S3 hides whether a key exists: a missing one is 403
        // AccessDenied (HEAD: a bare 403). Only then, and only for that code, is 403 "not
        // found"; rejected credentials (InvalidAccessKeyId, SignatureDoesNotMatch, ...) stay
        // failures.
        if status == Some(403)
            && matches!(code, None | Some("AccessDenied"))
            && self.missing_is_forbidden.load(Ordering::Relaxed)
        {
            return StoreError::not_found(key);
        }
        let kind = match &err {
            SdkError::TimeoutError(_) => CauseKind::Timeout,
            SdkError::DispatchFailure(failure) if failure.is_timeout() => CauseKind::Timeout,
            _ => CauseKind::Error,
        };
        StoreError::unavailable(
            &*self.name,
            kind,
            format!("{what} {key}: {}", DisplayErrorContext(&err)),
        )
    }

    /// Reads `key`: the result, and the derived-object digest stored with it, if any.
    async fn get_object(
        &self,
        key: String,
        shown: impl fmt::Display,
    ) -> Result<(GetResult, Option<String>)> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| self.error("GET", &shown, e))?;
        let digest = out
            .metadata()
            .and_then(|m| m.get(DERIVED_DIGEST_META))
            .cloned();
        let content_type = out.content_type().map(str::to_owned);
        let body = out.body.collect().await.map_err(|e| {
            let message = format!("GET {shown}: reading the body: {}", DisplayErrorContext(&e));
            if chain_contains(&e, "checksum mismatch") {
                // The SDK checked the body against the checksum S3 stored at upload: corrupt copy.
                return StoreError::Integrity {
                    region: self.name.to_string(),
                    key: shown.to_string(),
                    detail: message,
                };
            }
            let kind = if chain_contains(&e, "timed out") {
                CauseKind::Timeout
            } else {
                CauseKind::Error
            };
            StoreError::unavailable(&*self.name, kind, message)
        })?;
        let got = GetResult::new(body.into_bytes(), Arc::clone(&self.name))
            .with_content_type(content_type);
        Ok((got, digest))
    }
}

/// The keys of `keys` that are hashes, as hashes (others are skipped).
fn hashes(keys: futures::stream::BoxStream<'static, Result<String>>) -> ListStream {
    keys.filter_map(|key| async move {
        match key {
            Ok(key) => key.parse().ok().map(Ok),
            Err(err) => Some(Err(err)),
        }
    })
    .boxed()
}

/// True when some error in the chain mentions `needle` (the SDK's body errors are not typed).
fn chain_contains(err: &(dyn std::error::Error + 'static), needle: &str) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.to_string().to_ascii_lowercase().contains(needle) {
            return true;
        }
        cur = e.source();
    }
    false
}

fn validate(config: &S3Config) -> Result<()> {
    let bad = |why: String| {
        Err(StoreError::InvalidInput(format!(
            "S3 region {:?}: {why}",
            config.name
        )))
    };
    if config.name.is_empty() {
        return bad("empty name".to_owned());
    }
    if !(3..=63).contains(&config.bucket.len()) {
        return bad(format!(
            "bucket name {:?} must be 3 to 63 characters",
            config.bucket
        ));
    }
    if config.region.is_empty() {
        return bad("empty AWS region".to_owned());
    }
    Ok(())
}

#[async_trait]
impl Store for S3Store {
    fn name(&self) -> &str {
        &self.name
    }

    async fn get(&self, hash: &ContentHash) -> Result<GetResult> {
        Ok(self.get_object(self.key_of(hash), hash).await?.0)
    }

    async fn check(&self) -> Result<Access> {
        let listed = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&self.key_prefix)
            .max_keys(1)
            .send()
            .await;
        let access = match listed {
            Ok(_) => Access::FULL,
            Err(err)
                if err.raw_response().map(|r| r.status().as_u16()) == Some(403)
                    && err.as_service_error().and_then(|e| e.code()) == Some("AccessDenied") =>
            {
                // Signed correctly and refused: the credentials work, without listing.
                Access::WITHOUT_LIST
            }
            Err(err) => return Err(self.error("LIST", &self.bucket, err)),
        };
        self.missing_is_forbidden
            .store(!access.can_list, Ordering::Relaxed);
        Ok(access)
    }

    async fn head(&self, hash: &ContentHash) -> Result<ObjectMeta> {
        let out = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.key_of(hash))
            .send()
            .await
            .map_err(|e| self.error("HEAD", hash, e))?;
        Ok(ObjectMeta {
            hash: *hash,
            size: out
                .content_length()
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
            last_modified: out
                .last_modified()
                .and_then(|t| std::time::SystemTime::try_from(*t).ok()),
        })
    }

    async fn put(&self, blob: &Blob) -> Result<PutOutcome> {
        let hash = blob.hash();
        let body = match (blob.as_bytes(), blob.spool_path()) {
            (Some(bytes), _) => ByteStream::from(bytes.clone()),
            (None, Some(path)) => ByteStream::from_path(path).await.map_err(|e| {
                StoreError::Body(std::io::Error::other(format!(
                    "reading the spooled body: {e}"
                )))
            })?,
            (None, None) => ByteStream::from_static(b""),
        };
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key_of(hash))
            .content_type(blob.content_type())
            .cache_control(CACHE_CONTROL)
            .content_length(i64::try_from(blob.len()).unwrap_or(i64::MAX))
            .body(body)
            .customize()
            .config_override(self.for_writes())
            .send()
            .await
            .map_err(|e| self.error("PUT", hash, e))?;
        Ok(PutOutcome {
            hash: *hash,
            size: blob.len(),
            stored_in: vec![self.name.to_string()],
            missed: vec![],
        })
    }

    fn list(&self) -> ListStream {
        hashes(self.list_keys(self.key_prefix.clone()))
    }

    async fn delete(&self, hash: &ContentHash) -> Result<DeleteOutcome> {
        // The tombstone first: from then on the original is refused, whatever happens to the
        // rest of the delete.
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.tombstone_key_of(hash))
            .content_type("text/plain")
            .body(ByteStream::from_static(crate::local::TOMBSTONE_BODY))
            .customize()
            .config_override(self.for_writes())
            .send()
            .await
            .map_err(|e| self.error("PUT", format!("tombstone of {hash}"), e))?;
        let had_original = match self.head(hash).await {
            Ok(_) => true,
            Err(StoreError::NotFound { .. }) => false,
            Err(err) => return Err(err),
        };
        if had_original {
            self.delete_key(&self.key_of(hash)).await?;
        }
        let prefix = format!("{}{hash}/", self.derived_prefix);
        let mut derived = Vec::new();
        let mut listing = self.list_keys(prefix.clone());
        while let Some(spec) = listing.next().await {
            match spec {
                Ok(spec) => derived.push(spec),
                // Without s3:ListBucket the derived objects cannot be found: the tombstone keeps
                // them from being served.
                Err(_) if self.missing_is_forbidden.load(Ordering::Relaxed) => {
                    tracing::warn!(region = %self.name, %hash, "cannot list the derived objects to delete (no s3:ListBucket); the tombstone keeps them from being served");
                    break;
                }
                Err(err) => return Err(err),
            }
        }
        for spec in &derived {
            self.delete_key(&format!("{prefix}{spec}")).await?;
        }
        derived.sort();
        Ok(DeleteOutcome::single(
            *hash,
            self.name.to_string(),
            had_original,
            derived,
        ))
    }

    async fn tombstone(&self, hash: &ContentHash) -> Result<Option<Tombstone>> {
        let found = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.tombstone_key_of(hash))
            .send()
            .await;
        match found {
            Ok(out) => Ok(Some(Tombstone {
                hash: *hash,
                deleted_at: out
                    .last_modified()
                    .and_then(|t| std::time::SystemTime::try_from(*t).ok()),
            })),
            Err(err) => match self.error("HEAD", format!("tombstone of {hash}"), err) {
                StoreError::NotFound { .. } => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn restore(&self, hash: &ContentHash) -> Result<()> {
        self.delete_key(&self.tombstone_key_of(hash)).await
    }

    fn list_tombstones(&self) -> ListStream {
        hashes(self.list_keys(self.tombstone_prefix.clone()))
    }

    async fn get_derived(&self, key: &DerivedKey) -> Result<GetResult> {
        let (got, digest) = self.get_object(self.derived_key_of(key), key).await?;
        if let Some(expected) = digest {
            let actual = ContentHash::of(&got.bytes).to_string();
            if expected != actual {
                return Err(StoreError::Integrity {
                    region: self.name.to_string(),
                    key: key.to_string(),
                    detail: format!("content hashes to {actual}, stored digest {expected}"),
                });
            }
        }
        Ok(got)
    }

    async fn put_derived(&self, key: &DerivedKey, data: Bytes) -> Result<()> {
        let content_type = media::for_spec(key.spec());
        let digest = ContentHash::of(&data).to_string();
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.derived_key_of(key))
            .content_type(content_type)
            .cache_control(CACHE_CONTROL)
            .metadata(DERIVED_DIGEST_META, digest)
            .content_length(i64::try_from(data.len()).unwrap_or(i64::MAX))
            .body(ByteStream::from(data))
            .customize()
            .config_override(self.for_writes())
            .send()
            .await
            .map_err(|e| self.error("PUT", key, e))?;
        Ok(())
    }
}
