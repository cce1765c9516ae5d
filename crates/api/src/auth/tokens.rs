//! Access tokens (JWT, HS256 pinned, `kid` from a fixed key table) and refresh tokens
//! (256 random bits, only their SHA-256 stored).

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{
    decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::Config;

/// Clock leeway when checking `exp`/`nbf` (PRODUCT.md: at most 30 s).
pub const LEEWAY_SECS: u64 = 30;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub sid: Uuid,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the access token is invalid or expired")]
    Invalid,
    #[error("could not sign a token")]
    Signing,
}

/// Signs with the current key; verifies with any key of the table, chosen by `kid`.
pub struct TokenKeys {
    current_kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_secs: i64,
}

impl TokenKeys {
    pub fn from_config(config: &Config) -> Self {
        // The process uses one crypto backend; installing twice is harmless.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        let mut decoding = HashMap::new();
        decoding.insert(
            config.auth.jwt_kid.clone(),
            DecodingKey::from_secret(config.auth.jwt_secret.expose().as_bytes()),
        );
        for (kid, secret) in &config.auth.jwt_previous {
            decoding.insert(
                kid.clone(),
                DecodingKey::from_secret(secret.expose().as_bytes()),
            );
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[&config.auth.jwt_issuer]);
        validation.set_audience(&[&config.auth.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        TokenKeys {
            current_kid: config.auth.jwt_kid.clone(),
            encoding: EncodingKey::from_secret(config.auth.jwt_secret.expose().as_bytes()),
            decoding,
            validation,
            issuer: config.auth.jwt_issuer.clone(),
            audience: config.auth.jwt_audience.clone(),
            ttl_secs: config.auth.access_token_ttl_secs,
        }
    }

    /// Issues an access token; returns it with its expiry (unix seconds).
    pub fn issue(&self, user: Uuid, session: Uuid, now: i64) -> Result<(String, i64), TokenError> {
        let exp = now + self.ttl_secs;
        let claims = Claims {
            sub: user,
            sid: session,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            nbf: now,
            exp,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current_kid.clone());
        let token = encode(&header, &claims, &self.encoding).map_err(|_| TokenError::Signing)?;
        Ok((token, exp))
    }

    /// Verifies signature, algorithm, issuer, audience and time claims. The `kid` is
    /// only ever a key in the table (never a path or URL); no `kid` means no key.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.decoding.get(kid))
            .ok_or(TokenError::Invalid)?;
        decode::<Claims>(token, key, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| TokenError::Invalid)
    }
}

/// A fresh refresh token: 256 bits from the OS generator, URL-safe base64.
pub fn new_refresh_token() -> Result<String, TokenError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| TokenError::Signing)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}
