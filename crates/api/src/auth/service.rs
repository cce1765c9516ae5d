//! Sign-up, login, refresh, logout and request authentication.
//!
//! Login answers the same for an unknown email, an inactive account and a wrong
//! password, and spends one bcrypt verification in each case, so neither the message
//! nor the timing tells whether an account exists.

use std::sync::Arc;

use chrono::{Duration, Utc};
use crust_dal::models::User;
use crust_dal::sessions::{self, ClientInfo, Refresh, RevokeReason};
use crust_dal::{users, Actor, DalError};
use crust_domain::{password::check_new_password, validate, SessionId, UserId};

use crate::auth::password::PasswordHasher;
use crate::auth::throttle::LoginThrottle;
use crate::auth::tokens::{new_refresh_token, refresh_token_hash, TokenKeys};
use crate::config::Config;
use crate::db::{blocking, Db};
use crate::error::ApiError;

const BAD_LOGIN: &str = "the email or password is incorrect";
const BAD_REFRESH: &str = "the refresh token is invalid or expired; sign in again";
const BAD_ACCESS: &str = "the access token is invalid or expired";

/// The authenticated caller of a request.
#[derive(Clone, Copy, Debug)]
pub struct Principal {
    pub user_id: UserId,
    pub session_id: SessionId,
}

/// What a successful sign-in returns.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: i64,
    pub session: SessionId,
    pub user: User,
}

pub type AuthError = ApiError;

#[derive(Clone)]
pub struct AuthService {
    db: Db,
    hasher: Arc<PasswordHasher>,
    keys: Arc<TokenKeys>,
    signup_enabled: bool,
    csrf_key: crate::config::Secret,
    throttle: Arc<LoginThrottle>,
    idle_ttl: Duration,
    absolute_ttl: Duration,
}

impl AuthService {
    pub fn new(db: Db, config: &Config) -> Result<Self, ApiError> {
        let hasher = PasswordHasher::new(config.password_pepper.clone(), config.bcrypt_cost)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(AuthService {
            db,
            hasher: Arc::new(hasher),
            keys: Arc::new(TokenKeys::from_config(config)),
            signup_enabled: config.signup_enabled,
            csrf_key: config.jwt_secret.clone(),
            throttle: Arc::new(LoginThrottle::new(
                config.login_max_failures,
                std::time::Duration::from_secs(config.login_failure_window_secs),
                std::time::Duration::from_secs(config.login_lockout_secs),
            )),
            idle_ttl: Duration::seconds(config.refresh_idle_ttl_secs),
            absolute_ttl: Duration::seconds(config.refresh_absolute_ttl_secs),
        })
    }

    pub fn hasher(&self) -> Arc<PasswordHasher> {
        self.hasher.clone()
    }

    /// Hashes a new password after checking it against the policy (off the executor).
    pub async fn hash_new_password(&self, password: String) -> Result<String, ApiError> {
        check_new_password(&password)
            .map_err(|e| ApiError::BadUserInput(format!("password: {e}")))?;
        let hasher = self.hasher.clone();
        blocking(move || hasher.hash(&password))
            .await?
            .map_err(|e| ApiError::internal(e.to_string()))
    }

    pub async fn sign_up(
        &self,
        email: &str,
        password: String,
        name: &str,
        client: ClientInfo,
    ) -> Result<SignedIn, ApiError> {
        if !self.signup_enabled {
            return Err(ApiError::Forbidden(
                "sign-up is disabled on this server".into(),
            ));
        }
        let email = validate::email(email).map_err(|e| ApiError::BadUserInput(e.to_string()))?;
        let name =
            validate::name("name", name).map_err(|e| ApiError::BadUserInput(e.to_string()))?;
        let hash = self.hash_new_password(password).await?;
        let user = self
            .db
            .run(move |c| users::create(c, &email, &name, &hash))
            .await?;
        self.open_session(UserId(user.id), client).await
    }

    pub async fn login(
        &self,
        email: &str,
        password: String,
        client: ClientInfo,
    ) -> Result<SignedIn, ApiError> {
        let email = email.trim().to_owned();
        // A cooling-off account goes through the same lookup and hashing as any other
        // attempt, and fails the same way: neither message nor timing tells.
        let locked = self.throttle.is_locked(&email);
        let lookup = email.clone();
        let creds = self
            .db
            .run(move |c| users::credentials_by_email(c, &lookup))
            .await?;
        let hasher = self.hasher.clone();
        let (ok, user_id, rehash) = blocking(move || match creds {
            Some(c) => {
                let ok = hasher.verify(&password, &c.password_hash) && c.active;
                let rehash = (ok && hasher.needs_rehash(&c.password_hash))
                    .then(|| hasher.hash(&password).ok())
                    .flatten();
                (ok, Some(UserId(c.id)), rehash)
            }
            None => {
                hasher.verify_dummy(&password);
                (false, None, None)
            }
        })
        .await?;
        let user_id = match (ok && !locked, user_id) {
            (true, Some(id)) => id,
            _ => {
                let now_locked = self.throttle.failed(&email);
                tracing::info!(outcome = "failure", locked = now_locked, "login refused");
                return Err(ApiError::Unauthenticated(BAD_LOGIN));
            }
        };
        self.throttle.succeeded(&email);
        if let Some(new_hash) = rehash {
            self.db
                .run(move |c| users::set_password_hash(c, user_id, &new_hash))
                .await?;
        }
        tracing::info!(outcome = "success", user_id = %user_id, "login");
        self.open_session(user_id, client).await
    }

    async fn open_session(
        &self,
        user_id: UserId,
        client: ClientInfo,
    ) -> Result<SignedIn, ApiError> {
        let refresh_token = new_refresh_token().map_err(|e| ApiError::internal(e.to_string()))?;
        let refresh_hash = refresh_token_hash(&refresh_token);
        let absolute = self.absolute_ttl;
        let (session, user) = self
            .db
            .run(move |c| {
                let session = sessions::create(c, user_id, &refresh_hash, &client, absolute)?;
                Ok((session, users::get_self(c, user_id)?))
            })
            .await?;
        self.signed_in(user, session, refresh_token)
    }

    fn signed_in(
        &self,
        user: User,
        session: SessionId,
        refresh_token: String,
    ) -> Result<SignedIn, ApiError> {
        let (access_token, expires_at) = self
            .keys
            .issue(user.id, session.0, Utc::now().timestamp())
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(SignedIn {
            access_token,
            refresh_token,
            expires_at,
            session,
            user,
        })
    }

    /// Spends a refresh token and returns a new pair. Reuse of a spent token revokes
    /// the session it belonged to.
    pub async fn refresh(&self, presented: &str) -> Result<SignedIn, ApiError> {
        let presented_hash = refresh_token_hash(presented);
        let next = new_refresh_token().map_err(|e| ApiError::internal(e.to_string()))?;
        let next_hash = refresh_token_hash(&next);
        let idle = self.idle_ttl;
        let outcome = self
            .db
            .run(move |c| {
                let outcome = sessions::rotate(c, &presented_hash, &next_hash, idle)?;
                let user = match &outcome {
                    Refresh::Rotated { user, .. } => Some(users::get_self(c, *user)?),
                    _ => None,
                };
                Ok((outcome, user))
            })
            .await?;
        match outcome {
            (Refresh::Rotated { session, .. }, Some(user)) => self.signed_in(user, session, next),
            (Refresh::Reused, _) => {
                tracing::warn!("refresh token reuse detected; session revoked");
                Err(ApiError::Unauthenticated(BAD_REFRESH))
            }
            _ => Err(ApiError::Unauthenticated(BAD_REFRESH)),
        }
    }

    /// The CSRF token of a session for the browser (cookie) flow: an HMAC of the session
    /// id under the server's key, so it cannot be guessed or made by another site, and
    /// needs no storage.
    pub fn csrf_token(&self, session: SessionId) -> String {
        use base64::Engine;
        use hmac::Mac;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(self.csrf_mac(session).finalize().into_bytes())
    }

    fn csrf_mac(&self, session: SessionId) -> hmac::Hmac<sha2::Sha256> {
        use hmac::Mac;
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(self.csrf_key.expose().as_bytes())
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"crust-csrf:");
        mac.update(session.0.as_bytes());
        mac
    }

    /// Checks a presented CSRF token in constant time.
    pub fn csrf_matches(&self, session: SessionId, presented: &str) -> bool {
        use base64::Engine;
        use hmac::Mac;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(presented)
            .is_ok_and(|bytes| self.csrf_mac(session).verify_slice(&bytes).is_ok())
    }

    /// The session a refresh token belongs to, if any.
    pub async fn session_of(&self, refresh_token: &str) -> Result<Option<SessionId>, ApiError> {
        let hash = refresh_token_hash(refresh_token);
        self.db
            .run(move |c| sessions::session_of_refresh_token(c, &hash))
            .await
    }

    /// Revokes a session (the browser flow's logout).
    pub async fn revoke(&self, session: SessionId) -> Result<(), ApiError> {
        self.db
            .run(move |c| sessions::revoke(c, session, RevokeReason::Logout))
            .await
    }

    /// Revokes the caller's session: its access and refresh tokens stop working now.
    pub async fn logout(&self, principal: Principal) -> Result<(), ApiError> {
        self.db
            .run(move |c| sessions::revoke(c, principal.session_id, RevokeReason::Logout))
            .await
    }

    /// Checks a bearer token and its session, and loads the acting user.
    pub async fn authenticate(&self, bearer: &str) -> Result<(Principal, Actor), ApiError> {
        let claims = self
            .keys
            .verify(bearer)
            .map_err(|_| ApiError::Unauthenticated(BAD_ACCESS))?;
        let principal = Principal {
            user_id: UserId(claims.sub),
            session_id: SessionId(claims.sid),
        };
        let actor = self
            .db
            .run(move |c| {
                if !sessions::is_active(c, principal.session_id, principal.user_id)? {
                    return Err(DalError::NotFound);
                }
                Actor::load(c, principal.user_id)
            })
            .await
            .map_err(|e| match e {
                ApiError::NotFound => ApiError::Unauthenticated(BAD_ACCESS),
                other => other,
            })?;
        Ok((principal, actor))
    }
}
