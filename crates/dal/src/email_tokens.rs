//! Single-use tokens for the links in messages: 256 random bits from the OS, sent only
//! in the message (through the outbox) and stored here as their SHA-256. Issuing a new
//! token for a purpose kills the account's unused ones for it ("the old link is dead").

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, Utc};
use crust_domain::UserId;
use diesel::prelude::*;
use uuid::Uuid;

use crate::error::{DalError, DalResult};
use crate::schema::email_tokens;

/// What a link is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    VerifyEmail,
    ResetPassword,
    ChangeEmail,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "VERIFY_EMAIL",
            Purpose::ResetPassword => "RESET_PASSWORD",
            Purpose::ChangeEmail => "CHANGE_EMAIL",
        }
    }
}

/// A fresh token and its stored form.
pub(crate) fn generate() -> DalResult<(String, Vec<u8>)> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|_| DalError::Internal("the OS random generator failed".into()))?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&token);
    Ok((token, hash))
}

pub(crate) fn hash(token: &str) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes()).to_vec()
}

/// What a new token carries besides its purpose and account.
#[derive(Default)]
pub(crate) struct Carried<'a> {
    pub password_hash: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// Issues a token for `user` and `email`, killing the account's unused ones for the
/// same purpose. Returns the token itself, for the message only.
pub(crate) fn issue(
    conn: &mut PgConnection,
    purpose: Purpose,
    user: UserId,
    email: &str,
    ttl: Duration,
    carried: Carried<'_>,
) -> DalResult<String> {
    kill(conn, purpose, user)?;
    issue_alongside(conn, purpose, user, email, ttl, carried)
}

/// Issues a token and leaves the account's other unused ones for the purpose alive
/// (verification links: each carries the password chosen with it, so a sign-up by
/// someone else must not kill the owner's own link).
pub(crate) fn issue_alongside(
    conn: &mut PgConnection,
    purpose: Purpose,
    user: UserId,
    email: &str,
    ttl: Duration,
    carried: Carried<'_>,
) -> DalResult<String> {
    let (token, hash) = generate()?;
    diesel::insert_into(email_tokens::table)
        .values((
            email_tokens::token_hash.eq(hash),
            email_tokens::purpose.eq(purpose.as_str()),
            email_tokens::user_id.eq(user.0),
            email_tokens::email.eq(email),
            email_tokens::password_hash.eq(carried.password_hash),
            email_tokens::name.eq(carried.name),
            email_tokens::expires_at.eq(Utc::now() + ttl),
        ))
        .execute(conn)?;
    Ok(token)
}

/// What the account's newest unused token for `purpose` carries (password hash, name).
pub(crate) fn pending_carried(
    conn: &mut PgConnection,
    purpose: Purpose,
    user: UserId,
) -> DalResult<(Option<String>, Option<String>)> {
    Ok(email_tokens::table
        .filter(email_tokens::user_id.eq(user.0))
        .filter(email_tokens::purpose.eq(purpose.as_str()))
        .filter(email_tokens::used_at.is_null())
        .order(email_tokens::created_at.desc())
        .select((email_tokens::password_hash, email_tokens::name))
        .first(conn)
        .optional()?
        .unwrap_or((None, None)))
}

/// Marks the account's unused tokens for `purpose` used.
pub(crate) fn kill(conn: &mut PgConnection, purpose: Purpose, user: UserId) -> DalResult<()> {
    diesel::update(
        email_tokens::table
            .filter(email_tokens::user_id.eq(user.0))
            .filter(email_tokens::purpose.eq(purpose.as_str()))
            .filter(email_tokens::used_at.is_null()),
    )
    .set(email_tokens::used_at.eq(Utc::now()))
    .execute(conn)?;
    Ok(())
}

/// Marks every unused token of the account used, whatever its purpose (a password
/// reset or change: a link someone else may hold must not outlive it).
pub(crate) fn kill_all(conn: &mut PgConnection, user: UserId) -> DalResult<()> {
    diesel::update(
        email_tokens::table
            .filter(email_tokens::user_id.eq(user.0))
            .filter(email_tokens::used_at.is_null()),
    )
    .set(email_tokens::used_at.eq(Utc::now()))
    .execute(conn)?;
    Ok(())
}

/// A good token, read but not spent.
pub(crate) struct Unspent {
    pub user: UserId,
    pub email: String,
    pub password_hash: Option<String>,
}

/// Reads a presented token without spending it: it must exist for `purpose`, be
/// unused and unexpired.
pub(crate) fn peek(
    conn: &mut PgConnection,
    purpose: Purpose,
    presented: &str,
) -> DalResult<Option<Unspent>> {
    Ok(email_tokens::table
        .filter(email_tokens::token_hash.eq(hash(presented)))
        .filter(email_tokens::purpose.eq(purpose.as_str()))
        .filter(email_tokens::used_at.is_null())
        .filter(email_tokens::expires_at.gt(Utc::now()))
        .select((
            email_tokens::user_id,
            email_tokens::email,
            email_tokens::password_hash,
        ))
        .first::<(Uuid, String, Option<String>)>(conn)
        .optional()?
        .map(|(user, email, password_hash)| Unspent {
            user: UserId(user),
            email,
            password_hash,
        }))
}

/// A token that was good, now spent.
pub(crate) struct Spent {
    pub user: UserId,
    pub email: String,
    pub password_hash: Option<String>,
    pub name: Option<String>,
}

/// Spends a presented token: it must exist for `purpose`, be unused and unexpired.
/// The row is locked, so two uses at once cannot both succeed. `None` for anything
/// else, all alike.
pub(crate) fn spend(
    conn: &mut PgConnection,
    purpose: Purpose,
    presented: &str,
) -> DalResult<Option<Spent>> {
    let hash = hash(presented);
    let row: Option<(Uuid, String, Option<String>, Option<String>)> = email_tokens::table
        .find(&hash)
        .filter(email_tokens::purpose.eq(purpose.as_str()))
        .filter(email_tokens::used_at.is_null())
        .filter(email_tokens::expires_at.gt(Utc::now()))
        .select((
            email_tokens::user_id,
            email_tokens::email,
            email_tokens::password_hash,
            email_tokens::name,
        ))
        .for_update()
        .first(conn)
        .optional()?;
    let Some((user, email, password_hash, name)) = row else {
        return Ok(None);
    };
    diesel::update(email_tokens::table.find(&hash))
        .set(email_tokens::used_at.eq(Utc::now()))
        .execute(conn)?;
    Ok(Some(Spent {
        user: UserId(user),
        email,
        password_hash,
        name,
    }))
}
