//! Sign-up, login, refresh, logout and request authentication.
//!
//! Login answers the same for an unknown email, an inactive account and a wrong
//! password, and spends one bcrypt verification in each case, so neither the message
//! nor the timing tells whether an account exists. Failed attempts lock the (account,
//! client address) pair and slow the account down everywhere (see `throttle`).
//!
//! Over 400 lines on purpose: every sign-in flow shares the throttle, the hasher and
//! the audit transaction that records it; the pieces they share are here once.

use std::sync::Arc;

use chrono::{Duration, Utc};
use crust_dal::audit::{NewEvent, Target, TargetKind};
use crust_dal::models::User;
use crust_dal::sessions::{self, Refresh, RevokeReason};
use crust_dal::{accounts, users, Actor, DalError};
use crust_domain::audit::Outcome;
use crust_domain::{password::check_new_password, validate, SessionId, UserId};
use serde_json::json;

use crate::audit::Recorder;
use crate::auth::throttle::{AccountKey, Attempt, ClientKey, LoginThrottle};
use crate::auth::tokens::{new_refresh_token, TokenKeys};
use crate::config::Config;
use crate::db::Db;
use crate::error::ApiError;
use crate::mail::MailWake;
use crust_dal::password::PasswordHasher;
use crust_dal::users::PasswordChecked;

/// Also what an account whose address is not confirmed yet is told: telling it apart
/// would say that the address has an account (sign up with it, then log in).
const BAD_LOGIN: &str = "the email or password is incorrect (a new account must first be confirmed with the link we sent)";
const BAD_REFRESH: &str = "the refresh token is invalid or expired; sign in again";
const BAD_ACCESS: &str = "the access token is invalid or expired";
const UNVERIFIED: &str = "email_not_verified";

/// Who is calling: the DAL's proof of a signed-in user (made only by the DAL, from
/// a session it found open).
pub type Principal = crust_dal::sessions::Authenticated;

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
    pub(super) db: Db,
    hasher: Arc<PasswordHasher>,
    /// Where password hashing runs (bounded: see `hashing`).
    pub(super) hashing: super::hashing::HashingPool,
    keys: Arc<TokenKeys>,
    signup_enabled: bool,
    /// The token signing keys, current first: CSRF tokens are made with the current
    /// one and accepted under any (a browser's token outlives a key rotation until its
    /// next refresh hands it a new one).
    csrf_keys: Vec<crate::config::Secret>,
    pub(super) throttle: Arc<LoginThrottle>,
    idle_ttl: Duration,
    absolute_ttl: Duration,
    pub(super) mail: MailWake,
    pub(super) reset_interval: Duration,
}

impl AuthService {
    pub fn new(db: Db, config: &Config, mail: MailWake) -> Result<Self, ApiError> {
        let mut hasher = config
            .auth
            .password_hasher()
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let slots = super::hashing::slots(config.auth.password_hash_concurrency);
        if let Some(worker) =
            super::hash_worker::HashWorker::for_settings(config.auth.password_hash_priority, slots)
        {
            hasher = hasher.with_bcrypt(worker);
        }
        Ok(AuthService {
            db,
            hasher: Arc::new(hasher),
            hashing: super::hashing::HashingPool::new(
                config.auth.password_hash_concurrency,
                std::time::Duration::from_millis(config.auth.password_hash_wait_ms),
                config.auth.password_hash_priority,
            ),
            keys: Arc::new(TokenKeys::from_config(config)),
            signup_enabled: config.auth.signup_enabled,
            csrf_keys: std::iter::once(config.auth.jwt_secret.clone())
                .chain(config.auth.jwt_previous.values().cloned())
                .collect(),
            throttle: Arc::new(LoginThrottle::new(
                config.login.max_failures,
                std::time::Duration::from_secs(config.login.failure_window_secs),
                std::time::Duration::from_secs(config.login.lockout_secs),
                std::time::Duration::from_millis(config.login.max_delay_ms),
            )),
            idle_ttl: Duration::seconds(config.auth.refresh_idle_ttl_secs),
            absolute_ttl: Duration::seconds(config.auth.refresh_absolute_ttl_secs),
            mail,
            reset_interval: Duration::seconds(config.mail.reset_interval_secs),
        })
    }

    /// Wakes the mail worker after a transaction that queued mail committed.
    pub fn wake_mail(&self) {
        self.mail.wake();
    }

    /// How long an unused refresh token stays good.
    pub fn idle_ttl(&self) -> Duration {
        self.idle_ttl
    }

    pub fn hasher(&self) -> Arc<PasswordHasher> {
        self.hasher.clone()
    }

    /// Hashes a new password after checking it against the policy (off the executor).
    pub async fn hash_new_password(&self, password: String) -> Result<String, ApiError> {
        check_new_password(&password)
            .map_err(|e| ApiError::BadUserInput(format!("password: {e}")))?;
        let hasher = self.hasher.clone();
        self.hashing
            .run(move || hasher.hash(&password))
            .await?
            .map_err(|e| ApiError::internal(e.to_string()))
    }

    /// Sign-up answers the same for a new and a taken address: a new one gets a
    /// verification link, a taken one a notice to its owner (see `accounts::sign_up`).
    /// The password is hashed in every case, so the time is alike too.
    pub async fn sign_up(
        &self,
        email: &str,
        password: String,
        name: &str,
        rec: &Recorder,
    ) -> Result<(), ApiError> {
        if !self.signup_enabled {
            return Err(ApiError::Forbidden(
                "sign-up is disabled on this server".into(),
            ));
        }
        let email = validate::email(email).map_err(|e| ApiError::BadUserInput(e.to_string()))?;
        let name =
            validate::name("name", name).map_err(|e| ApiError::BadUserInput(e.to_string()))?;
        let hash = self.hash_new_password(password).await?;
        let rec2 = rec.clone();
        self.db
            .run(move |c| {
                crust_dal::transaction(c, |c| {
                    let outcome = accounts::sign_up(c, &email, &name, &hash)?;
                    let mut e = rec2.sign_in_event("signUp", Outcome::Ok);
                    e.reason = Some(outcome.as_str().into());
                    e.subject_user = outcome.user();
                    e.target = outcome.user().map(|u| Target::new(TargetKind::User, u.0));
                    e.variables = Some(rec2.sent(json!({ "email": email, "password": "" })));
                    rec2.append(c, &e)
                })
            })
            .await?;
        rec.mark_recorded();
        self.mail.wake();
        Ok(())
    }

    pub async fn login(
        &self,
        email: &str,
        password: String,
        rec: &Recorder,
    ) -> Result<SignedIn, ApiError> {
        let email = email.trim().to_owned();
        let lookup = email.clone();
        let (lowered, creds) = self
            .db
            .run(move |c| users::credentials_by_email(c, &lookup))
            .await?;
        let account = match &creds {
            Some(c) => AccountKey::User(c.user_id()),
            None => AccountKey::unknown(&lowered),
        };
        let client = ClientKey::of(rec.client().ip.as_deref());
        // A locked pair goes through the same wait and hashing as any other attempt and
        // fails the same way: neither message nor timing tells.
        let attempt = self.throttled(account, client).await;
        let locked = attempt.check.locked;
        let hasher = self.hasher.clone();
        let (verdict, user_id, proof, rehash) = self
            .hashing
            .run(move || match creds {
                Some(c) => {
                    let proof = c.check(&hasher, &password);
                    let verdict = match (proof.is_some(), c.is_active(), c.is_verified()) {
                        (true, true, true) => None,
                        (true, true, false) => Some(UNVERIFIED),
                        (true, false, _) => Some("inactive_account"),
                        (false, _, _) => Some("wrong_password"),
                    };
                    let rehash = (verdict.is_none() && c.needs_rehash(&hasher))
                        .then(|| hasher.hash(&password).ok())
                        .flatten();
                    (verdict, Some(c.user_id()), proof, rehash)
                }
                None => {
                    hasher.verify_dummy(&password);
                    (Some("unknown_account"), None, None, None)
                }
            })
            .await?;
        // For the record only: the caller is told the same thing in every case.
        let refusal = if locked {
            Some("account_locked")
        } else {
            verdict
        };
        if let Some(reason) = refusal {
            let newly_locked = attempt.failed() && !locked;
            tracing::info!(outcome = "failure", locked = newly_locked, "login refused");
            let mut e = rec.sign_in_event("login", Outcome::Forbidden);
            e.error_code = Some("UNAUTHENTICATED".into());
            e.reason = Some(reason.into());
            e.subject_user = user_id;
            e.target = user_id.map(|u| Target::new(TargetKind::User, u.0));
            e.variables = Some(rec.sent(json!({ "email": email, "password": "" })));
            self.record_refusal(rec, e, newly_locked).await?;
            return Err(ApiError::Unauthenticated(BAD_LOGIN));
        }
        let (Some(user_id), Some(proof)) = (user_id, proof) else {
            return Err(ApiError::Unauthenticated(BAD_LOGIN));
        };
        attempt.succeeded();
        tracing::info!(outcome = "success", user_id = %user_id, "login");
        self.open_session(rec, "login", move |_| Ok((proof, ())), rehash)
            .await
            .map(|(signed_in, ())| signed_in)
    }

    /// Waits out the account's delay (on a timer, not a thread) and says whether this
    /// client's attempts on it are locked. Called before any password is checked, so a
    /// client that stops listening early learns nothing from the wait.
    async fn throttled(&self, account: AccountKey, client: ClientKey) -> Attempt<'_> {
        let attempt = self.throttle.begin(account, client);
        let check = attempt.check;
        if !check.delay.is_zero() {
            tracing::info!(
                delay_ms = check.delay.as_millis() as u64,
                "sign-in slowed down"
            );
            tokio::time::sleep(check.delay).await;
        }
        attempt
    }

    /// Records a refused attempt on an account and, when it was the failure that
    /// locked the account for this client address, the lockout, in one transaction.
    pub(super) async fn record_refusal(
        &self,
        rec: &Recorder,
        refusal: NewEvent,
        newly_locked: bool,
    ) -> Result<(), ApiError> {
        let rec2 = rec.clone();
        self.db
            .run(move |c| {
                crust_dal::transaction(c, |c| {
                    rec2.append(c, &refusal)?;
                    if newly_locked {
                        if let Some(user) = refusal.subject_user {
                            accounts::notice_account_locked(c, user)?;
                        }
                        let mut lock = refusal;
                        lock.action = "accountLocked".into();
                        lock.reason = Some("too_many_failures".into());
                        lock.variables = None;
                        rec2.append(c, &lock)?;
                    }
                    Ok(())
                })
            })
            .await?;
        rec.mark_recorded();
        if newly_locked {
            self.mail.wake();
        }
        Ok(())
    }

    /// Runs `prepare` (which makes the user, or names the one whose password was just
    /// checked), opens a session for that user, stores `rehash` as their password hash
    /// if given, and records `action`, all in one transaction.
    pub(super) async fn open_session<T: Send + 'static>(
        &self,
        rec: &Recorder,
        action: &'static str,
        prepare: impl FnOnce(&mut crust_dal::PgConnection) -> crust_dal::DalResult<(PasswordChecked, T)>
            + Send
            + 'static,
        rehash: Option<String>,
    ) -> Result<(SignedIn, T), ApiError> {
        let refresh_token = new_refresh_token().map_err(|e| ApiError::internal(e.to_string()))?;
        let stored = refresh_token.clone();
        let absolute = self.absolute_ttl;
        let rec2 = rec.clone();
        let (session, user, extra) = self
            .db
            .run(move |c| {
                crust_dal::transaction(c, |c| {
                    let (proof, extra) = prepare(c)?;
                    let auth = sessions::create(c, proof, &stored, &rec2.client(), absolute)?;
                    let user_id = auth.user_id();
                    if let Some(hash) = &rehash {
                        users::set_password_hash(c, &auth, hash)?;
                    }
                    let user = users::get_self(c, &auth)?;
                    let session = auth.session_id();
                    let mut e = rec2.sign_in_event(action, Outcome::Ok);
                    e.actor = Some(user_id);
                    e.session = Some(session);
                    e.subject_user = Some(user_id);
                    e.target = Some(Target::new(TargetKind::Session, session.0));
                    e.variables = Some(rec2.sent(json!({ "email": user.email, "password": "" })));
                    rec2.append(c, &e)?;
                    Ok((session, user, extra))
                })
            })
            .await?;
        rec.mark_recorded();
        // A sign-in from a new device queues a notice.
        self.mail.wake();
        Ok((self.signed_in(user, session, refresh_token)?, extra))
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
    pub async fn refresh(&self, presented: &str, rec: &Recorder) -> Result<SignedIn, ApiError> {
        let presented = presented.to_owned();
        let next = new_refresh_token().map_err(|e| ApiError::internal(e.to_string()))?;
        let next_stored = next.clone();
        let idle = self.idle_ttl;
        let rec2 = rec.clone();
        let outcome = self
            .db
            .run(move |c| {
                crust_dal::transaction(c, |c| {
                    let outcome = sessions::rotate(c, &presented, &next_stored, idle)?;
                    let (user, event) = match &outcome {
                        Refresh::Rotated(auth) => {
                            let mut e = rec2.sign_in_event("refreshSession", Outcome::Ok);
                            e.actor = Some(auth.user_id());
                            e.session = Some(auth.session_id());
                            e.subject_user = Some(auth.user_id());
                            (Some(users::get_self(c, auth)?), e)
                        }
                        Refresh::Reused { user, session } => {
                            let mut e =
                                rec2.sign_in_event("refreshTokenReused", Outcome::Forbidden);
                            e.error_code = Some("UNAUTHENTICATED".into());
                            e.reason = Some("spent_token_presented_again".into());
                            e.session = Some(*session);
                            e.subject_user = Some(*user);
                            (None, e)
                        }
                        Refresh::Invalid => {
                            let mut e = rec2.sign_in_event("refreshSession", Outcome::Forbidden);
                            e.error_code = Some("UNAUTHENTICATED".into());
                            e.reason = Some("unknown_or_expired_token".into());
                            (None, e)
                        }
                    };
                    let mut event = event;
                    event.variables = Some(rec2.sent(json!({ "refreshToken": "" })));
                    event.target = event.session.map(|s| Target::new(TargetKind::Session, s.0));
                    rec2.append(c, &event)?;
                    Ok((outcome, user))
                })
            })
            .await?;
        rec.mark_recorded();
        match outcome {
            (Refresh::Rotated(auth), Some(user)) => self.signed_in(user, auth.session_id(), next),
            (Refresh::Reused { .. }, _) => {
                tracing::warn!("refresh token reuse detected; session revoked");
                self.mail.wake();
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
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            Self::csrf_mac(&self.csrf_keys[0], session)
                .finalize()
                .into_bytes(),
        )
    }

    fn csrf_mac(key: &crate::config::Secret, session: SessionId) -> hmac::Hmac<sha2::Sha256> {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(key.expose().as_bytes())
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
            .is_ok_and(|bytes| {
                self.csrf_keys
                    .iter()
                    .any(|key| Self::csrf_mac(key, session).verify_slice(&bytes).is_ok())
            })
    }

    /// The session a refresh token belongs to, if any, as proof of holding it.
    pub async fn session_of(
        &self,
        refresh_token: &str,
    ) -> Result<Option<sessions::TokenHolder>, ApiError> {
        let token = refresh_token.to_owned();
        self.db
            .run(move |c| sessions::session_of_refresh_token(c, &token))
            .await
    }

    /// Ends the session the caller holds (logout, in the API or the browser flow) and
    /// records it.
    pub async fn logout(
        &self,
        proof: impl sessions::HoldsSession + Send + 'static,
        rec: &Recorder,
    ) -> Result<(), ApiError> {
        let rec2 = rec.clone();
        let session = proof.session_id();
        self.db
            .run(move |c| {
                crust_dal::transaction(c, |c| {
                    sessions::end(c, &proof)?;
                    let mut e = rec2.event("logout", Outcome::Ok);
                    e.actor = Some(proof.user_id());
                    e.subject_user = e.actor;
                    e.session = Some(session);
                    e.target = Some(Target::new(TargetKind::Session, session.0));
                    rec2.append(c, &e)
                })
            })
            .await?;
        rec.mark_recorded();
        Ok(())
    }

    /// Checks the caller's current password before a change to their account. Wrong
    /// passwords count like failed logins: they lock this client address out of the
    /// account and slow the account down. `action` names the change in the record.
    pub(super) async fn check_current_password(
        &self,
        principal: &Principal,
        current: String,
        action: &str,
        rec: &Recorder,
    ) -> Result<PasswordChecked, ApiError> {
        let user_id = principal.user_id();
        let me = *principal;
        let (_, creds) = self.db.run(move |c| users::credentials_of(c, &me)).await?;
        let account = AccountKey::User(user_id);
        let client = ClientKey::of(rec.client().ip.as_deref());
        let attempt = self.throttled(account, client).await;
        let locked = attempt.check.locked;
        let hasher = self.hasher.clone();
        let checked = self
            .hashing
            .run(move || creds.check(&hasher, &current))
            .await?;
        let checked = match checked {
            Some(checked) if !locked => checked,
            _ => {
                let newly_locked = attempt.failed() && !locked;
                let mut e = rec.event(action, Outcome::Forbidden);
                e.variables = Some(rec.sent(json!({})));
                e.error_code = Some("FORBIDDEN".into());
                e.reason = Some(
                    if locked {
                        "account_locked"
                    } else {
                        "wrong_password"
                    }
                    .into(),
                );
                self.record_refusal(rec, e, newly_locked).await?;
                return Err(ApiError::Forbidden(
                    "the current password is incorrect".into(),
                ));
            }
        };
        attempt.succeeded();
        Ok(checked)
    }

    /// Erases the caller's account after checking their password (see
    /// `crust_dal::gdpr`): refused for the last OWNER of an organization.
    pub async fn delete_account(
        &self,
        principal: Principal,
        password: String,
        rec: &Recorder,
    ) -> Result<(), ApiError> {
        let user_id = principal.user_id();
        let checked = self
            .check_current_password(&principal, password, "deleteMyAccount", rec)
            .await?;
        let rec2 = rec.clone();
        self.db
            .run(move |c| {
                crust_dal::transaction(c, |c| {
                    // The event goes in before the account's events are pseudonymized,
                    // so it loses its client details with them.
                    crust_dal::gdpr::erase_own(c, &principal, checked, |c, erased| {
                        let mut e = rec2.event("deleteMyAccount", Outcome::Ok);
                        e.subject_user = Some(user_id);
                        e.variables = Some(
                            json!({
                                "membershipsRemoved": erased.memberships,
                                "sessionsEnded": erased.sessions,
                            })
                            .to_string(),
                        );
                        rec2.append(c, &e)
                    })?;
                    Ok(())
                })
            })
            .await?;
        rec.mark_recorded();
        Ok(())
    }

    /// Changes the caller's password after checking the current one, ends every other
    /// session of theirs and sends the "password changed" notice.
    pub async fn change_password(
        &self,
        principal: Principal,
        current: String,
        new: String,
        rec: &Recorder,
    ) -> Result<usize, ApiError> {
        let user_id = principal.user_id();
        self.check_current_password(&principal, current, "changePassword", rec)
            .await?;
        let hash = self.hash_new_password(new).await?;
        let rec2 = rec.clone();
        let ended = self
            .db
            .run(move |c| {
                crust_dal::transaction(c, |c| {
                    users::set_password_hash(c, &principal, &hash)?;
                    let ended =
                        sessions::revoke_others(c, &principal, RevokeReason::PasswordChanged)?;
                    accounts::password_changed(c, &principal)?;
                    let mut e = rec2.event("changePassword", Outcome::Ok);
                    e.subject_user = Some(user_id);
                    e.variables = Some(json!({ "otherSessionsEnded": ended }).to_string());
                    rec2.append(c, &e)?;
                    Ok(ended)
                })
            })
            .await?;
        rec.mark_recorded();
        self.mail.wake();
        Ok(ended)
    }

    /// Checks a bearer token and its session, and loads the acting user.
    pub async fn authenticate(&self, bearer: &str) -> Result<(Principal, Actor), ApiError> {
        let claims = self
            .keys
            .verify(bearer)
            .map_err(|_| ApiError::Unauthenticated(BAD_ACCESS))?;
        let (user, session) = (UserId(claims.sub), SessionId(claims.sid));
        let (principal, actor) = self
            .db
            .run(move |c| {
                let principal =
                    sessions::authenticate(c, session, user)?.ok_or(DalError::NotFound)?;
                Ok((principal, Actor::signed_in(c, &principal)?))
            })
            .await
            .map_err(|e| match e {
                ApiError::NotFound => ApiError::Unauthenticated(BAD_ACCESS),
                other => other,
            })?;
        Ok((principal, actor))
    }
}
