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
use object_store::{ObjectStore, WriteMultipart};
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
    /// The directory of a local store: its partial uploads are files of its own.
    local_root: Option<std::path::PathBuf>,
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
                    local_root: None,
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
            local_root: Some(dir.to_path_buf()),
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

    /// Removes a blob; one already gone is fine. In a local store, what an upload cut
    /// off by a crash left staged beside it (`<key>#<n>`) goes too. (In S3, parts of an
    /// upload never completed are the bucket's lifecycle rule's to abort.)
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.inner.delete(&StorePath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(root) = &self.local_root {
            let blob = root.join(key);
            tokio::task::spawn_blocking(move || remove_staged(&blob))
                .await
                .map_err(|e| StoreError::Setup(e.to_string()))?
                .map_err(|e| StoreError::Setup(e.to_string()))?;
        }
        Ok(())
    }
}

/// Removes `<blob>#<n>` files, the local store's staged parts of an unfinished upload
/// (numbered from 1, a higher number on a clash; 0 is looked at too). Probed by name,
/// never by listing the organization's folder.
fn remove_staged(blob: &std::path::Path) -> std::io::Result<()> {
    let mut missing = 0;
    for n in 0.. {
        let mut name = blob.as_os_str().to_owned();
        name.push(format!("#{n}"));
        match std::fs::remove_file(&name) {
            Ok(()) => missing = 0,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                missing += 1;
                if n >= 1 && missing >= 2 {
                    return Ok(());
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
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
#[derive(Clone)]
pub struct Sealed {
    pub key: String,
    pub size: u64,
    pub cipher: FileCipher,
}

/// Sealed chunks read from the store at once: big reads (one blocking read or one
/// request each), a bounded amount of memory.
const WINDOW_CHUNKS: u64 = 16;

/// Where a ranged read is.
struct RangedRead {
    store: Arc<dyn ObjectStore>,
    path: StorePath,
    next: u64,
    last: u64,
    n_chunks: u64,
    file: Sealed,
    range: Range<u64>,
}

/// The next window of chunks, checked, decrypted and cut to the range.
async fn window(st: &mut RangedRead) -> Result<Bytes, StoreError> {
    let end = (st.next + WINDOW_CHUNKS - 1).min(st.last);
    let from = st.next * SEALED_CHUNK;
    let to = (end * SEALED_CHUNK + crypto::chunk_len(st.file.size, end) + TAG)
        .min(crypto::sealed_len(st.file.size));
    let sealed = st.store.get_range(&st.path, from..to).await?;
    if sealed.len() as u64 != to - from {
        return Err(StoreError::WrongLength);
    }
    let mut out = BytesMut::new();
    let mut offset = 0usize;
    for index in st.next..=end {
        let want = (crypto::chunk_len(st.file.size, index) + TAG) as usize;
        let mut chunk = sealed
            .get(offset..offset + want)
            .ok_or(StoreError::WrongLength)?
            .to_vec();
        offset += want;
        st.file
            .cipher
            .open(index, index + 1 == st.n_chunks, &mut chunk)?;
        // Keep only the requested part of this chunk.
        let chunk_start = index * CHUNK;
        let len = chunk.len() as u64;
        let lo = st.range.start.saturating_sub(chunk_start).min(len) as usize;
        let hi = st.range.end.saturating_sub(chunk_start).min(len) as usize;
        out.extend_from_slice(&chunk[lo..hi.max(lo)]);
    }
    st.next = end + 1;
    Ok(out.freeze())
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
    let path = StorePath::from(file.key.as_str());
    let meta = store.inner.head(&path).await?;
    if meta.size != crypto::sealed_len(file.size) {
        return Err(StoreError::WrongLength);
    }
    let state = RangedRead {
        store: store.inner.clone(),
        path,
        next: first,
        last,
        n_chunks,
        file,
        range,
    };
    Ok(futures_util::stream::unfold(Some(state), |st| async move {
        let mut st = st?;
        if st.next > st.last {
            return None;
        }
        match window(&mut st).await {
            Ok(part) => Some((Ok(part), Some(st))),
            // After an error, nothing more.
            Err(e) => Some((Err(e), None)),
        }
    })
    .boxed())
}
