//! Encryption at rest: AES-256-GCM (RustCrypto) over fixed-size chunks.
//!
//! Each file has its own random data key, stored only wrapped (AES-256-GCM) by a
//! master key from the configuration, with the master key's id beside it; the
//! wrapping binds the file's id and the key id, so a wrapped key moved to another row
//! does not open. The file is sealed in chunks of [`CHUNK`] bytes, each with its own
//! nonce: a random per-file prefix, the chunk's index and a flag set only on the last
//! chunk (the STREAM construction). A chunk moved to another place, a file cut short
//! after any chunk, or chunks taken from another file (another key, another prefix,
//! another id in the associated data) all fail to open. Fixed-size chunks let a range
//! be read without the rest of the file.

use std::collections::HashMap;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce, Tag};
use uuid::Uuid;

/// Plaintext bytes per chunk.
pub const CHUNK: u64 = 64 * 1024;
/// The GCM tag after each chunk.
pub const TAG: u64 = 16;
/// A chunk as stored.
pub const SEALED_CHUNK: u64 = CHUNK + TAG;
/// Random bytes at the start of every chunk nonce of a file.
pub const NONCE_PREFIX: usize = 7;
/// A wrapped data key: nonce (12), key (32), tag (16).
pub const WRAPPED_KEY: usize = 60;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// The data failed authentication: tampered, truncated, reordered or misplaced.
    #[error("the data failed its integrity check")]
    Integrity,
    #[error("no master key `{0}` is configured")]
    UnknownKey(String),
    #[error("the operating system's random generator failed")]
    Random,
    #[error("a file of this size cannot be sealed")]
    TooLarge,
}

/// Decodes a master key: base64 of exactly 32 bytes.
pub fn parse_master_key(text: &str) -> Option<[u8; 32]> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()?;
    bytes.try_into().ok()
}

fn random<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|_| CryptoError::Random)?;
    Ok(out)
}

/// The configured master keys, by id; one of them wraps new files.
#[derive(Clone)]
pub struct MasterKeys {
    active: String,
    keys: HashMap<String, Aes256Gcm>,
}

impl std::fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<&String> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("MasterKeys")
            .field("active", &self.active)
            .field("ids", &ids)
            .finish()
    }
}

impl MasterKeys {
    /// `active` wraps new files; every key in `keys` (which must hold it) reads.
    pub fn new(active: &str, keys: HashMap<String, [u8; 32]>) -> Result<Self, CryptoError> {
        if !keys.contains_key(active) {
            return Err(CryptoError::UnknownKey(active.to_owned()));
        }
        Ok(MasterKeys {
            active: active.to_owned(),
            keys: keys
                .into_iter()
                .map(|(kid, key)| (kid, Aes256Gcm::new(&Key::<Aes256Gcm>::from(key))))
                .collect(),
        })
    }

    pub fn active(&self) -> &str {
        &self.active
    }

    pub fn knows(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.keys.keys().cloned().collect();
        ids.sort();
        ids
    }

    fn key(&self, kid: &str) -> Result<&Aes256Gcm, CryptoError> {
        self.keys
            .get(kid)
            .ok_or_else(|| CryptoError::UnknownKey(kid.to_owned()))
    }

    fn wrap_aad(file: Uuid, kid: &str) -> Vec<u8> {
        let mut aad = b"crust file key v1\0".to_vec();
        aad.extend_from_slice(file.as_bytes());
        aad.extend_from_slice(kid.as_bytes());
        aad
    }

    /// The data key of `file`, wrapped by the master key `kid`.
    pub fn wrap(&self, kid: &str, file: Uuid, data_key: &DataKey) -> Result<Vec<u8>, CryptoError> {
        let master = self.key(kid)?;
        let nonce: [u8; 12] = random()?;
        let mut body = data_key.bytes.to_vec();
        let tag = master
            .encrypt_in_place_detached(&Nonce::from(nonce), &Self::wrap_aad(file, kid), &mut body)
            .map_err(|_| CryptoError::Integrity)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&body);
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Opens a data key wrapped by [`MasterKeys::wrap`] for the same file and key id.
    pub fn unwrap(&self, kid: &str, file: Uuid, wrapped: &[u8]) -> Result<DataKey, CryptoError> {
        let master = self.key(kid)?;
        if wrapped.len() != WRAPPED_KEY {
            return Err(CryptoError::Integrity);
        }
        let (nonce, rest) = wrapped.split_at(12);
        let (body, tag) = rest.split_at(32);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| CryptoError::Integrity)?;
        let tag: [u8; 16] = tag.try_into().map_err(|_| CryptoError::Integrity)?;
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(body);
        master
            .decrypt_in_place_detached(
                &Nonce::from(nonce),
                &Self::wrap_aad(file, kid),
                &mut bytes,
                &Tag::from(tag),
            )
            .map_err(|_| CryptoError::Integrity)?;
        let key = DataKey { bytes };
        bytes.fill(0);
        Ok(key)
    }
}

/// A file's own key.
pub struct DataKey {
    bytes: [u8; 32],
}

impl Drop for DataKey {
    fn drop(&mut self) {
        self.bytes.fill(0);
    }
}

impl DataKey {
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(DataKey { bytes: random()? })
    }

    /// The cipher for one file's chunks.
    pub fn file_cipher(&self, file: Uuid, prefix: [u8; NONCE_PREFIX]) -> FileCipher {
        FileCipher {
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(self.bytes)),
            prefix,
            file,
        }
    }
}

/// A fresh random nonce prefix for a new file.
pub fn new_nonce_prefix() -> Result<[u8; NONCE_PREFIX], CryptoError> {
    random()
}

/// Seals and opens the chunks of one file.
#[derive(Clone)]
pub struct FileCipher {
    cipher: Aes256Gcm,
    prefix: [u8; NONCE_PREFIX],
    file: Uuid,
}

impl FileCipher {
    fn nonce(&self, index: u64, last: bool) -> Result<[u8; 12], CryptoError> {
        let index = u32::try_from(index).map_err(|_| CryptoError::TooLarge)?;
        let mut nonce = [0u8; 12];
        nonce[..NONCE_PREFIX].copy_from_slice(&self.prefix);
        nonce[NONCE_PREFIX..11].copy_from_slice(&index.to_be_bytes());
        nonce[11] = u8::from(last);
        Ok(nonce)
    }

    /// Encrypts chunk `index` in place and appends its tag.
    pub fn seal(&self, index: u64, last: bool, chunk: &mut Vec<u8>) -> Result<(), CryptoError> {
        let nonce = self.nonce(index, last)?;
        let tag = self
            .cipher
            .encrypt_in_place_detached(&Nonce::from(nonce), self.file.as_bytes(), chunk)
            .map_err(|_| CryptoError::Integrity)?;
        chunk.extend_from_slice(&tag);
        Ok(())
    }

    /// Checks and decrypts sealed chunk `index` in place, dropping its tag.
    pub fn open(&self, index: u64, last: bool, sealed: &mut Vec<u8>) -> Result<(), CryptoError> {
        let nonce = self.nonce(index, last)?;
        let body_len = sealed
            .len()
            .checked_sub(TAG as usize)
            .ok_or(CryptoError::Integrity)?;
        let tag: [u8; 16] = sealed[body_len..]
            .try_into()
            .map_err(|_| CryptoError::Integrity)?;
        sealed.truncate(body_len);
        self.cipher
            .decrypt_in_place_detached(
                &Nonce::from(nonce),
                self.file.as_bytes(),
                sealed,
                &Tag::from(tag),
            )
            .map_err(|_| CryptoError::Integrity)
    }
}

/// How many chunks a file of `size` bytes has (an empty file has one, empty).
pub fn chunk_count(size: u64) -> u64 {
    size.div_ceil(CHUNK).max(1)
}

/// The stored size of a file of `size` bytes.
pub fn sealed_len(size: u64) -> u64 {
    size + TAG * chunk_count(size)
}

/// The plaintext length of chunk `index` of a file of `size` bytes.
pub fn chunk_len(size: u64, index: u64) -> u64 {
    size.saturating_sub(index * CHUNK).min(CHUNK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> MasterKeys {
        MasterKeys::new(
            "a",
            HashMap::from([("a".into(), [1u8; 32]), ("b".into(), [2u8; 32])]),
        )
        .expect("keys")
    }

    fn sealed(cipher: &FileCipher, chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        chunks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut v = c.to_vec();
                cipher
                    .seal(i as u64, i + 1 == chunks.len(), &mut v)
                    .expect("seal");
                v
            })
            .collect()
    }

    #[test]
    fn a_wrapped_key_opens_only_for_its_file_and_key_id() {
        let keys = keys();
        let (file, other) = (Uuid::new_v4(), Uuid::new_v4());
        let dk = DataKey::generate().expect("key");
        let wrapped = keys.wrap("a", file, &dk).expect("wrap");
        assert_eq!(wrapped.len(), WRAPPED_KEY);
        assert!(keys.unwrap("a", file, &wrapped).is_ok());
        assert_eq!(
            keys.unwrap("a", other, &wrapped).err(),
            Some(CryptoError::Integrity)
        );
        assert_eq!(
            keys.unwrap("b", file, &wrapped).err(),
            Some(CryptoError::Integrity)
        );
        assert!(matches!(
            keys.unwrap("c", file, &wrapped),
            Err(CryptoError::UnknownKey(_))
        ));
        let rewrapped = keys
            .wrap("b", file, &keys.unwrap("a", file, &wrapped).expect("open"))
            .expect("wrap");
        assert!(keys.unwrap("b", file, &rewrapped).is_ok());
    }

    #[test]
    fn chunks_cannot_be_reordered_truncated_or_swapped_between_files() {
        let dk = DataKey::generate().expect("key");
        let (f1, f2) = (Uuid::new_v4(), Uuid::new_v4());
        let c1 = dk.file_cipher(f1, [7; NONCE_PREFIX]);
        let c2 = dk.file_cipher(f2, [8; NONCE_PREFIX]);
        let s1 = sealed(&c1, &[b"first", b"second", b"third"]);
        let s2 = sealed(&c2, &[b"other", b"file!"]);
        // In place, every chunk opens.
        for (i, chunk) in s1.iter().enumerate() {
            let mut v = chunk.clone();
            c1.open(i as u64, i == 2, &mut v).expect("open");
        }
        // Reordered: chunk 1 at index 0.
        assert!(c1.open(0, false, &mut s1[1].clone()).is_err());
        // Truncated after chunk 1: chunk 1 read as the last one.
        assert!(c1.open(1, true, &mut s1[1].clone()).is_err());
        // Swapped in from another file, at the same index.
        assert!(c1.open(0, false, &mut s2[0].clone()).is_err());
        // A flipped bit.
        let mut flipped = s1[0].clone();
        flipped[2] ^= 1;
        assert!(c1.open(0, false, &mut flipped).is_err());
    }

    #[test]
    fn sizes_of_the_sealed_layout() {
        assert_eq!(chunk_count(0), 1);
        assert_eq!(chunk_count(CHUNK), 1);
        assert_eq!(chunk_count(CHUNK + 1), 2);
        assert_eq!(sealed_len(0), TAG);
        assert_eq!(sealed_len(CHUNK + 1), CHUNK + 1 + 2 * TAG);
        assert_eq!(chunk_len(CHUNK + 1, 1), 1);
        assert_eq!(chunk_len(CHUNK, 0), CHUNK);
        assert_eq!(chunk_len(0, 0), 0);
    }
}
