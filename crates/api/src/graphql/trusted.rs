//! Trusted documents (persisted operations): the operations an app was built with,
//! named by the SHA-256 of their text.
//!
//! The manifest is read once, at start, in either format the tools write:
//! - Apollo's (`generate-persisted-query-manifest`):
//!   `{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "body", …}]}`;
//! - GraphQL Code Generator's client preset (`persistedDocuments: true`): a map
//!   `{"<sha256>": "<document>"}`.
//!
//! Every entry's hash is checked against its text when the manifest is read: a
//! manifest whose hash and text disagree would make a client's hash run a document it
//! never sent, so the server refuses to start with it.
//!
//! Requests name a document by `extensions.persistedQuery.sha256Hash` (Apollo's
//! protocol); one that also sends the text must send the text of that hash.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

/// What is wrong with a manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read the trusted-document manifest {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the trusted-document manifest {path} is not JSON in Apollo's or GraphQL Code Generator's format: {why}")]
    Format { path: String, why: String },
    #[error(
        "the trusted-document manifest {path} lists {hash} for a text whose SHA-256 is {actual}"
    )]
    Mismatch {
        path: String,
        hash: String,
        actual: String,
    },
}

/// The documents of a manifest, by hash.
#[derive(Debug, Default)]
pub struct TrustedDocuments {
    by_hash: HashMap<String, Arc<str>>,
}

/// The SHA-256 of a text, as lower-case hex (the key both tools write).
pub fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl TrustedDocuments {
    pub fn load(path: &Path) -> Result<TrustedDocuments, ManifestError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: shown.clone(),
            source,
        })?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| ManifestError::Format {
                path: shown.clone(),
                why: e.to_string(),
            })?;
        let entries = entries(json).map_err(|why| ManifestError::Format {
            path: shown.clone(),
            why,
        })?;
        let mut by_hash = HashMap::with_capacity(entries.len());
        for (hash, body) in entries {
            let hash = hash.to_ascii_lowercase();
            let actual = sha256_hex(&body);
            if actual != hash {
                return Err(ManifestError::Mismatch {
                    path: shown,
                    hash,
                    actual,
                });
            }
            by_hash.insert(hash, Arc::from(body));
        }
        Ok(TrustedDocuments { by_hash })
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The document of `hash` (lower-case hex).
    pub fn get(&self, hash: &str) -> Option<Arc<str>> {
        self.by_hash.get(hash).cloned()
    }
}

/// (hash, text) pairs of either format.
fn entries(json: serde_json::Value) -> Result<Vec<(String, String)>, String> {
    use serde_json::Value as J;
    let J::Object(map) = json else {
        return Err("expected a JSON object".into());
    };
    if map.get("format").and_then(J::as_str) == Some("apollo-persisted-query-manifest") {
        if map.get("version").and_then(J::as_u64) != Some(1) {
            return Err("only version 1 of Apollo's manifest is known".into());
        }
        let Some(J::Array(operations)) = map.get("operations") else {
            return Err("`operations` must be a list".into());
        };
        return operations
            .iter()
            .map(|op| {
                let id = op.get("id").and_then(J::as_str);
                let body = op.get("body").and_then(J::as_str);
                match (id, body) {
                    (Some(id), Some(body)) => Ok((id.to_owned(), body.to_owned())),
                    _ => Err("every operation needs an `id` and a `body`".into()),
                }
            })
            .collect();
    }
    map.into_iter()
        .map(|(hash, body)| match body {
            J::String(body) => Ok((hash, body)),
            _ => Err(format!("the entry `{hash}` is not a document's text")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<TrustedDocuments, ManifestError> {
        let dir = std::env::temp_dir().join(format!("crust-trusted-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("manifest.json");
        std::fs::write(&path, text).unwrap();
        let loaded = TrustedDocuments::load(&path);
        std::fs::remove_dir_all(&dir).unwrap();
        loaded
    }

    #[test]
    fn both_formats_load_and_a_wrong_hash_is_refused() {
        let doc = "query Me { me { id } }";
        let hash = sha256_hex(doc);
        let apollo = serde_json::json!({
            "format": "apollo-persisted-query-manifest", "version": 1,
            "operations": [{"id": hash, "name": "Me", "type": "query", "body": doc}],
        });
        let codegen = serde_json::json!({ hash.clone(): doc });
        for manifest in [apollo, codegen] {
            let docs = load(&manifest.to_string()).unwrap();
            assert_eq!(docs.get(&hash).as_deref(), Some(doc));
            assert_eq!(docs.len(), 1);
        }
        let forged = serde_json::json!({ hash: "mutation { deleteEverything }" });
        assert!(matches!(
            load(&forged.to_string()),
            Err(ManifestError::Mismatch { .. })
        ));
        assert!(matches!(load("[1]"), Err(ManifestError::Format { .. })));
    }
}
