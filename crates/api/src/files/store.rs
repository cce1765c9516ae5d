//! The blob store behind attachments: `object_store`'s interface over a local directory
//! (the default) or an S3-compatible server. Whatever the backend, only ciphertext is
//! written: [`Sealer`] encrypts on the way in, [`open_range`] checks and decrypts on the
//! way out.
//!
//! Layout: `org/<organization id>/<random id>` — ids the server made, nothing a client
//! sent. One prefix per organization keeps an organization's files together for an
//! export or a restore; the database rows hold their keys, so a backup needs both (and
//! the master keys, kept elsewhere).

use std::ops::Range;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{BoxStream, StreamExt};
use object_store::path::Path as StorePath;
use object_store::{GetOptions, GetRange, ObjectStore, WriteMultipart};
use uuid::Uuid;

use super::crypto::{self, CryptoError, FileCipher, CHUNK, SEALED_CHUNK, TAG};
use crate::config::FilesConfig;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("file store: {0}")]
    Backend(#[from] object_store::Error),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("the stored file is shorter or longer than its record says")]
    WrongLength,
    #[error("file store setup: {0}")]
    Setup(String),
}

impl StoreError {
    /// The stored bytes are not what was written: tampering, truncation, corruption.
    pub fn is_integrity(&self) -> bool {
        matches!(
            self,
            StoreError::Crypto(CryptoError::Integrity) | StoreError::WrongLength
        )
    }
}

/// Where blobs go.
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    /// For logs and `crust` output: `directory …` or `s3://bucket`.
    pub description: String,
    part_bytes: usize,
}

/// Bytes buffered before a part is handed to the store: S3's smallest part is 5 MiB;
/// a local file takes small ones, so an upload holds little memory.
const S3_PART_BYTES: usize = 5 * 1024 * 1024;
const LOCAL_PART_BYTES: usize = 256 * 1024;

impl BlobStore {
    pub fn from_config(cfg: &FilesConfig) -> Result<Self, StoreError> {
        match &cfg.store {
            None => Self::local(&cfg.dir),
            Some(url) => {
                let rest = url.trim_start_matches("s3://");
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                let mut builder = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(&cfg.s3_region);
                if let Some(endpoint) = &cfg.s3_endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"));
                }
                if let Some(id) = &cfg.s3_access_key_id {
                    builder = builder.with_access_key_id(id);
                }
                if let Some(secret) = &cfg.s3_secret_access_key {
                    builder = builder.with_secret_access_key(secret.expose());
                }
                let s3 = builder.build()?;
                let inner: Arc<dyn ObjectStore> = if prefix.trim_matches('/').is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(object_store::prefix::PrefixStore::new(
                        s3,
                        prefix.trim_matches('/'),
                    ))
                };
                Ok(BlobStore {
                    inner,
                    description: format!("s3://{bucket}"),
                    part_bytes: S3_PART_BYTES,
                })
            }
        }
    }

    /// A local directory, created owner-only (0700) and made so if it exists.
    pub fn local(dir: &std::path::Path) -> Result<Self, StoreError> {
        let setup = |e: std::io::Error| StoreError::Setup(format!("{}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(setup)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(setup)?;
        }
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)?
            .with_automatic_cleanup(true);
        Ok(BlobStore {
            inner: Arc::new(fs),
            description: format!("directory {}", dir.display()),
            part_bytes: LOCAL_PART_BYTES,
        })
    }

    /// A new, unguessable storage key in the organization's prefix.
    pub fn new_key(org: Uuid) -> String {
        format!("org/{org}/{}", Uuid::new_v4())
    }

    /// Starts writing a blob.
    pub async fn create(&self, key: &str) -> Result<WriteMultipart, StoreError> {
        let upload = self.inner.put_multipart(&StorePath::from(key)).await?;
        Ok(WriteMultipart::new_with_chunk_size(upload, self.part_bytes))
    }

    /// Removes a blob; one already gone is fine.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.inner.delete(&StorePath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether a blob exists (tests, `crust`).
    pub async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        match self.inner.head(&StorePath::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// Encrypts a file chunk by chunk into a blob being written.
pub struct Sealer {
    out: WriteMultipart,
    cipher: FileCipher,
    pending: Vec<u8>,
    index: u64,
    size: u64,
}

impl Sealer {
    pub fn new(out: WriteMultipart, cipher: FileCipher) -> Self {
        Sealer {
            out,
            cipher,
            pending: Vec::with_capacity(CHUNK as usize),
            index: 0,
            size: 0,
        }
    }

    /// Plaintext bytes taken so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Takes more of the file. A chunk is sealed only once a byte after it has
    /// arrived: until the end, nobody knows which chunk is the last.
    pub async fn write(&mut self, mut data: &[u8]) -> Result<(), StoreError> {
        self.size += data.len() as u64;
        while !data.is_empty() {
            if self.pending.len() == CHUNK as usize {
                self.seal(false).await?;
            }
            let room = CHUNK as usize - self.pending.len();
            let (now, later) = data.split_at(room.min(data.len()));
            self.pending.extend_from_slice(now);
            data = later;
        }
        Ok(())
    }

    async fn seal(&mut self, last: bool) -> Result<(), StoreError> {
        let mut chunk = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK as usize));
        self.cipher.seal(self.index, last, &mut chunk)?;
        self.index += 1;
        // Back-pressure: at most two parts in flight.
        self.out.wait_for_capacity(2).await?;
        self.out.write(&chunk);
        Ok(())
    }

    /// Seals the last chunk and completes the blob; answers the plaintext size.
    pub async fn finish(mut self) -> Result<u64, StoreError> {
        self.seal(true).await?;
        self.out.finish().await?;
        Ok(self.size)
    }

    /// Gives the blob up (the store removes what was written).
    pub async fn abort(self) {
        if let Err(e) = self.out.abort().await {
            tracing::warn!(error = %e, "could not abort a partial upload");
        }
    }
}

/// A stored file to read: where, how big, and its cipher.
pub struct Sealed {
    pub key: String,
    pub size: u64,
    pub cipher: FileCipher,
}

/// Checks and decrypts bytes `range` of a stored file (an empty range reads nothing
/// but still checks the chunk it falls in). Every chunk read is authenticated before
/// any of its bytes is yielded; the stored length must be exactly what the record
/// says.
pub async fn open_range(
    store: &BlobStore,
    file: Sealed,
    range: Range<u64>,
) -> Result<BoxStream<'static, Result<Bytes, StoreError>>, StoreError> {
    let n_chunks = crypto::chunk_count(file.size);
    let first = range.start / CHUNK;
    let last = if range.end > range.start {
        (range.end - 1) / CHUNK
    } else {
        first
    }
    .min(n_chunks - 1);
    let sealed_len = crypto::sealed_len(file.size);
    let from = first * SEALED_CHUNK;
    let to = ((last + 1) * SEALED_CHUNK).min(sealed_len);
    let got = store
        .inner
        .get_opts(
            &StorePath::from(file.key.as_str()),
            GetOptions {
                range: Some(GetRange::Bounded(from..to)),
                ..GetOptions::default()
            },
        )
        .await?;
    if got.meta.size != sealed_len {
        return Err(StoreError::WrongLength);
    }
    let source = got.into_stream();
    struct State {
        source: BoxStream<'static, object_store::Result<Bytes>>,
        buf: BytesMut,
        index: u64,
        last: u64,
        n_chunks: u64,
        file: Sealed,
        range: Range<u64>,
        done: bool,
    }
    let state = State {
        source,
        buf: BytesMut::new(),
        index: first,
        last,
        n_chunks,
        file,
        range,
        done: false,
    };
    Ok(futures_util::stream::unfold(state, |mut st| async move {
        if st.done || st.index > st.last {
            return None;
        }
        let want = (crypto::chunk_len(st.file.size, st.index) + TAG) as usize;
        while st.buf.len() < want {
            match st.source.next().await {
                Some(Ok(bytes)) => st.buf.extend_from_slice(&bytes),
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(StoreError::from(e)), st));
                }
                None => {
                    st.done = true;
                    return Some((Err(StoreError::WrongLength), st));
                }
            }
        }
        let mut chunk = st.buf.split_to(want).to_vec();
        let is_last = st.index + 1 == st.n_chunks;
        if let Err(e) = st.file.cipher.open(st.index, is_last, &mut chunk) {
            st.done = true;
            return Some((Err(e.into()), st));
        }
        // Keep only the requested part of this chunk.
        let chunk_start = st.index * CHUNK;
        let lo = st
            .range
            .start
            .saturating_sub(chunk_start)
            .min(chunk.len() as u64) as usize;
        let hi = (st.range.end.saturating_sub(chunk_start)).min(chunk.len() as u64) as usize;
        st.index += 1;
        let part = Bytes::from(chunk).slice(lo..hi.max(lo));
        Some((Ok(part), st))
    })
    .boxed())
}
