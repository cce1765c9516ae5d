//! Login sessions and their refresh-token families.
//!
//! A session is created at login with one refresh token. Each refresh marks the
//! presented token used and issues the next one; a used token presented again is
//! reuse (a stolen token raced its owner) and revokes the whole session. Only SHA-256
//! hashes of tokens are stored. Expiry: idle (time since the last refresh) and
//! absolute (since login).
//!
//! [`Authenticated`] is the proof that a user is signed in. Only this module makes it:
//! from a session found open in the database ([`authenticate`]), just opened with a
//! checked password ([`create`], which takes [`crate::users::PasswordChecked`]) or just
//! refreshed with a refresh token ([`rotate`]). What acts on a user's own account —
//! their [`crate::Actor`], their sessions, their password, their security events —
//! takes it instead of a bare user id.
//!
//! About 400 lines: a session, its refresh-token family and the proofs made from them
//! belong together.

use chrono::{DateTime, Duration, Utc};
use crust_domain::{SessionId, UserId};
use diesel::prelude::*;
use uuid::Uuid;

use crate::error::DalResult;
use crate::schema::{refresh_tokens, sessions, users};

/// Why a session was ended (stored as text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeReason {
    Logout,
    RefreshReuse,
    PasswordChanged,
    Deactivated,
    Admin,
}

impl RevokeReason {
    fn as_str(self) -> &'static str {
        match self {
            RevokeReason::Logout => "LOGOUT",
            RevokeReason::RefreshReuse => "REFRESH_REUSE",
            RevokeReason::PasswordChanged => "PASSWORD_CHANGED",
            RevokeReason::Deactivated => "DEACTIVATED",
            RevokeReason::Admin => "ADMIN",
        }
    }
}

/// Proof that a user is signed in (see the module docs); it cannot be made elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Authenticated {
    user: UserId,
    session: SessionId,
}

impl Authenticated {
    pub fn user_id(&self) -> UserId {
        self.user
    }

    pub fn session_id(&self) -> SessionId {
        self.session
    }
}

/// Proof of holding a refresh token of a session (spent or not): made only by
/// [`session_of_refresh_token`]. Enough to end that session (logout from a browser).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenHolder {
    user: UserId,
    session: SessionId,
}

impl TokenHolder {
    pub fn user_id(&self) -> UserId {
        self.user
    }

    pub fn session_id(&self) -> SessionId {
        self.session
    }
}

/// What proves a right to end a session: signing in with it, or holding its token.
pub trait HoldsSession: private::Sealed {
    fn user_id(&self) -> UserId;
    fn session_id(&self) -> SessionId;
}

mod private {
    pub trait Sealed {}
    impl Sealed for super::Authenticated {}
    impl Sealed for super::TokenHolder {}
}

impl HoldsSession for Authenticated {
    fn user_id(&self) -> UserId {
        self.user
    }
    fn session_id(&self) -> SessionId {
        self.session
    }
}

impl HoldsSession for TokenHolder {
    fn user_id(&self) -> UserId {
        self.user
    }
    fn session_id(&self) -> SessionId {
        self.session
    }
}

/// How a refresh token is stored: its SHA-256 (a 256-bit random token needs no salt or
/// stretching). Hashed here, so callers must hold the token itself, not what is stored.
fn token_hash(token: &str) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Where a login came from (kept for the user's session list and the audit log).
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = sessions)]
struct NewSession<'a> {
    id: Uuid,
    user_id: Uuid,
    absolute_expires_at: DateTime<Utc>,
    ip: Option<&'a str>,
    user_agent: Option<&'a str>,
}

/// Opens a session with its first refresh token (given as its hash), for the user
/// whose password was just checked (or who was just created with it).
pub fn create(
    conn: &mut PgConnection,
    proof: crate::users::PasswordChecked,
    refresh_token: &str,
    client: &ClientInfo,
    absolute_ttl: Duration,
) -> DalResult<Authenticated> {
    let user_id = proof.user_id();
    let id = Uuid::new_v4();
    let user_agent = client
        .user_agent
        .as_deref()
        .map(|ua| truncate_chars(ua, 512));
    conn.transaction(|conn| {
        diesel::insert_into(sessions::table)
            .values(NewSession {
                id,
                user_id: user_id.0,
                absolute_expires_at: Utc::now() + absolute_ttl,
                ip: client.ip.as_deref(),
                user_agent: user_agent.as_deref(),
            })
            .execute(conn)?;
        diesel::insert_into(refresh_tokens::table)
            .values((
                refresh_tokens::token_hash.eq(token_hash(refresh_token)),
                refresh_tokens::session_id.eq(id),
            ))
            .execute(conn)?;
        crate::accounts::notice_if_new_device(
            conn,
            user_id,
            id,
            client.ip.as_deref(),
            user_agent.as_deref(),
        )?;
        Ok(Authenticated {
            user: user_id,
            session: SessionId(id),
        })
    })
}

// A user agent is informational; storing a bounded prefix is deliberate, not data loss.
fn truncate_chars(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The proof for an access token's session, if that session of that user is still
/// open and the user active. (Checked on every authenticated request, so logout and
/// revocation take effect at once.)
pub fn authenticate(
    conn: &mut PgConnection,
    session: SessionId,
    user: UserId,
) -> DalResult<Option<Authenticated>> {
    let row: Option<(Option<DateTime<Utc>>, DateTime<Utc>, bool)> = sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(session.0))
        .filter(sessions::user_id.eq(user.0))
        .select((
            sessions::revoked_at,
            sessions::absolute_expires_at,
            users::active,
        ))
        .first(conn)
        .optional()?;
    let open = matches!(row, Some((None, expires, true)) if expires > Utc::now());
    Ok(open.then_some(Authenticated { user, session }))
}

/// The outcome of presenting a refresh token.
#[derive(Debug, PartialEq, Eq)]
pub enum Refresh {
    /// The token was current: it is now spent and `next` is the session's next one.
    Rotated(Authenticated),
    /// Unknown token, or the session is revoked or expired.
    Invalid,
    /// A spent token came back: the session has been revoked.
    Reused { session: SessionId, user: UserId },
}

/// Spends a refresh token and stores its successor, in one transaction with the token
/// row locked, so two concurrent uses of one token cannot both succeed.
pub fn rotate(
    conn: &mut PgConnection,
    presented: &str,
    next: &str,
    idle_ttl: Duration,
) -> DalResult<Refresh> {
    let (presented_hash, new_hash) = (token_hash(presented), token_hash(next));
    conn.transaction(|conn| {
        let token: Option<(Uuid, Option<DateTime<Utc>>)> = refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(&presented_hash))
            .select((refresh_tokens::session_id, refresh_tokens::used_at))
            .for_update()
            .first(conn)
            .optional()?;
        let Some((session_id, used_at)) = token else {
            return Ok(Refresh::Invalid);
        };
        if used_at.is_some() {
            let ended = revoke(conn, SessionId(session_id), RevokeReason::RefreshReuse)?;
            let user: Uuid = sessions::table
                .find(session_id)
                .select(sessions::user_id)
                .first(conn)?;
            if ended {
                crate::accounts::notice_refresh_reuse(conn, UserId(user))?;
            }
            return Ok(Refresh::Reused {
                session: SessionId(session_id),
                user: UserId(user),
            });
        }
        let (user_id, revoked_at, last, absolute, active): (
            Uuid,
            Option<DateTime<Utc>>,
            DateTime<Utc>,
            DateTime<Utc>,
            bool,
        ) = sessions::table
            .inner_join(users::table)
            .filter(sessions::id.eq(session_id))
            .select((
                sessions::user_id,
                sessions::revoked_at,
                sessions::last_refreshed_at,
                sessions::absolute_expires_at,
                users::active,
            ))
            .for_update()
            .first(conn)?;
        let now = Utc::now();
        if revoked_at.is_some() || !active || now >= absolute || now >= last + idle_ttl {
            return Ok(Refresh::Invalid);
        }
        diesel::update(refresh_tokens::table.find(&presented_hash))
            .set(refresh_tokens::used_at.eq(now))
            .execute(conn)?;
        diesel::insert_into(refresh_tokens::table)
            .values((
                refresh_tokens::token_hash.eq(&new_hash),
                refresh_tokens::session_id.eq(session_id),
            ))
            .execute(conn)?;
        diesel::update(sessions::table.find(session_id))
            .set(sessions::last_refreshed_at.eq(now))
            .execute(conn)?;
        Ok(Refresh::Rotated(Authenticated {
            user: UserId(user_id),
            session: SessionId(session_id),
        }))
    })
}

/// Ends the session the caller proves a right to (logout; idempotent).
pub fn end(conn: &mut PgConnection, proof: &impl HoldsSession) -> DalResult<()> {
    revoke(conn, proof.session_id(), RevokeReason::Logout).map(|_| ())
}

/// Ends a session now (idempotent: the first reason is kept).
/// True if the session was open and is now ended.
fn revoke(conn: &mut PgConnection, session: SessionId, reason: RevokeReason) -> DalResult<bool> {
    let ended = diesel::update(
        sessions::table
            .find(session.0)
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(diesel::dsl::now),
        sessions::revoked_reason.eq(reason.as_str()),
    ))
    .execute(conn)?;
    Ok(ended > 0)
}

/// Ends every other session of the signed-in user (a password change keeps the session
/// that made it). Returns how many were ended.
pub fn revoke_others(
    conn: &mut PgConnection,
    auth: &Authenticated,
    reason: RevokeReason,
) -> DalResult<usize> {
    let (user, keep) = (auth.user, auth.session.0);
    Ok(diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user.0))
            .filter(sessions::id.ne(keep))
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(diesel::dsl::now),
        sessions::revoked_reason.eq(reason.as_str()),
    ))
    .execute(conn)?)
}

/// Ends every open session of an account (a password reset: whoever had a session
/// may be the reason for it).
pub(crate) fn revoke_all(
    conn: &mut PgConnection,
    user: UserId,
    reason: RevokeReason,
) -> DalResult<usize> {
    Ok(diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user.0))
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(diesel::dsl::now),
        sessions::revoked_reason.eq(reason.as_str()),
    ))
    .execute(conn)?)
}

/// The session a refresh token belongs to (spent or not), for checks made before
/// using the token (the browser flow's CSRF token is bound to the session).
pub fn session_of_refresh_token(
    conn: &mut PgConnection,
    token: &str,
) -> DalResult<Option<TokenHolder>> {
    Ok(refresh_tokens::table
        .inner_join(sessions::table)
        .filter(refresh_tokens::token_hash.eq(token_hash(token)))
        .select((sessions::user_id, sessions::id))
        .first::<(Uuid, Uuid)>(conn)
        .optional()?
        .map(|(user, session)| TokenHolder {
            user: UserId(user),
            session: SessionId(session),
        }))
}

/// A login as its user sees it in their session list.
#[derive(Clone, Debug, Queryable)]
pub struct SessionInfo {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_refreshed_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The user's sessions that are still open (not revoked, not idle for `idle_ttl`, not
/// past their absolute expiry), newest first.
pub fn open_for_user(
    conn: &mut PgConnection,
    auth: &Authenticated,
    idle_ttl: Duration,
) -> DalResult<Vec<SessionInfo>> {
    let (user, now) = (auth.user, Utc::now());
    Ok(sessions::table
        .filter(sessions::user_id.eq(user.0))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::absolute_expires_at.gt(now))
        .filter(sessions::last_refreshed_at.gt(now - idle_ttl))
        .order(sessions::created_at.desc())
        .select((
            sessions::id,
            sessions::created_at,
            sessions::last_refreshed_at,
            sessions::absolute_expires_at,
            sessions::ip,
            sessions::user_agent,
        ))
        .load(conn)?)
}

/// Ends one of the user's own open sessions; anyone else's, or one already ended, is
/// `NotFound`.
pub fn revoke_own(
    conn: &mut PgConnection,
    auth: &Authenticated,
    session: SessionId,
) -> DalResult<()> {
    let user = auth.user;
    let n = diesel::update(
        sessions::table
            .find(session.0)
            .filter(sessions::user_id.eq(user.0))
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(diesel::dsl::now),
        sessions::revoked_reason.eq(RevokeReason::Logout.as_str()),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(crate::DalError::NotFound);
    }
    Ok(())
}
