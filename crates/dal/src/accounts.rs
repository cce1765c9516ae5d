//! The account flows that run through email: sign-up with verification, password
//! reset, change of address, and the security notices. None of them tells the caller
//! whether an address has an account: each does its work and queues its message (or
//! none) in one transaction, and the caller answers the same in every case.

use chrono::Duration;
use crust_domain::mail::Template;
use crust_domain::UserId;
use diesel::prelude::*;
use uuid::Uuid;

use crate::email_tokens::{self, Carried, Purpose};
use crate::error::{DalError, DalResult};
use crate::outbox::{self, Letter};
use crate::password::PasswordHasher;
use crate::schema::{sessions, users};
use crate::sessions::{Authenticated, RevokeReason};
use crate::users::PasswordChecked;

/// What every spent, unknown, expired or foreign link answers.
pub const BAD_LINK: &str = "this link is invalid, expired or already used; ask for a new one";

const VERIFY_TTL: Duration = Duration::hours(24);
const RESET_TTL: Duration = Duration::hours(1);
const CHANGE_EMAIL_TTL: Duration = Duration::hours(24);
/// The same notice goes to one address at most this often.
const NOTICE_INTERVAL: Duration = Duration::minutes(10);
/// "Not seen for this account in the last 30 days."
const DEVICE_MEMORY: Duration = Duration::days(30);

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

#[derive(Clone, Queryable)]
struct Account {
    id: Uuid,
    email: String,
    name: String,
    active: bool,
    verified: bool,
}

fn by_email(conn: &mut PgConnection, email: &str) -> DalResult<Option<Account>> {
    Ok(users::table
        .filter(lower(users::email).eq(lower(email)))
        .select((
            users::id,
            users::email,
            users::name,
            users::active,
            users::email_verified,
        ))
        .for_update()
        .first(conn)
        .optional()?)
}

fn by_id(conn: &mut PgConnection, user: UserId) -> DalResult<Account> {
    Ok(users::table
        .find(user.0)
        .select((
            users::id,
            users::email,
            users::name,
            users::active,
            users::email_verified,
        ))
        .first(conn)?)
}

impl Account {
    fn user(&self) -> UserId {
        UserId(self.id)
    }

    /// The name to greet by: only once the address is verified (a name typed at
    /// sign-up for someone else's address must not reach that inbox).
    fn greeting(&self) -> Option<&str> {
        self.verified.then_some(self.name.as_str())
    }

    fn notice(&self, template: Template) -> Letter<'_> {
        Letter {
            template,
            recipient: &self.email,
            user: Some(self.user()),
            name: self.greeting(),
            token: None,
        }
    }
}

/// What sign-up did, for the audit record only: the caller answers the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignUp {
    /// A new, unverified account; a verification link is on its way.
    Created(UserId),
    /// The address has an unverified account: a new link goes out beside the earlier
    /// ones; each sets, when followed with its own password, the password and name
    /// given with it.
    Renewed(UserId),
    /// The address has an account: its owner is told someone tried.
    Taken(UserId),
    /// Nothing was sent: a message of this kind went to the address a moment ago.
    Throttled,
}

impl SignUp {
    pub fn as_str(self) -> &'static str {
        match self {
            SignUp::Created(_) => "created",
            SignUp::Renewed(_) => "verification_renewed",
            SignUp::Taken(_) => "address_taken",
            SignUp::Throttled => "throttled",
        }
    }

    pub fn user(self) -> Option<UserId> {
        match self {
            SignUp::Created(u) | SignUp::Renewed(u) | SignUp::Taken(u) => Some(u),
            SignUp::Throttled => None,
        }
    }
}

/// Sign-up: makes an unverified account and queues its verification link, or tells
/// the owner of a taken address. `password_hash` is already made, so the work (and
/// time) is alike in every case.
pub fn sign_up(
    conn: &mut PgConnection,
    email: &str,
    name: &str,
    password_hash: &str,
) -> DalResult<SignUp> {
    conn.transaction(|conn| match by_email(conn, email)? {
        None => {
            // A sign-up for the same address committed in between: answer as for a
            // taken address (in a savepoint, so this transaction goes on).
            let inserted = conn.transaction(|conn| {
                diesel::insert_into(users::table)
                    .values((
                        users::email.eq(email),
                        users::name.eq(name),
                        users::password_hash.eq(password_hash),
                        users::email_verified.eq(false),
                    ))
                    .returning(users::id)
                    .get_result::<Uuid>(conn)
                    .map_err(DalError::from)
            });
            let id = match inserted {
                Ok(id) => id,
                Err(DalError::Conflict(_)) => return Ok(SignUp::Throttled),
                Err(e) => return Err(e),
            };
            let user = UserId(id);
            let token = email_tokens::issue(
                conn,
                Purpose::VerifyEmail,
                user,
                email,
                VERIFY_TTL,
                Carried {
                    password_hash: Some(password_hash),
                    name: None,
                },
            )?;
            outbox::enqueue(conn, &verify_letter(email, user, &token))?;
            Ok(SignUp::Created(user))
        }
        Some(account) if account.verified || !account.active => {
            let sent = account.active
                && outbox::enqueue_unless_recent(
                    conn,
                    &account.notice(Template::SignUpAttempt),
                    NOTICE_INTERVAL,
                )?;
            Ok(if sent {
                SignUp::Taken(account.user())
            } else {
                SignUp::Throttled
            })
        }
        Some(account) => {
            if recently_sent(conn, &account.email, Template::VerifyEmail)? {
                return Ok(SignUp::Throttled);
            }
            let token = email_tokens::issue_alongside(
                conn,
                Purpose::VerifyEmail,
                account.user(),
                &account.email,
                VERIFY_TTL,
                Carried {
                    password_hash: Some(password_hash),
                    name: Some(name),
                },
            )?;
            outbox::enqueue(conn, &verify_letter(&account.email, account.user(), &token))?;
            Ok(SignUp::Renewed(account.user()))
        }
    })
}

fn verify_letter<'a>(email: &'a str, user: UserId, token: &'a str) -> Letter<'a> {
    Letter {
        template: Template::VerifyEmail,
        recipient: email,
        user: Some(user),
        name: None,
        token: Some(token),
    }
}

/// A verification link or an address-change link goes to one address at most once
/// a minute.
fn recently_sent(conn: &mut PgConnection, email: &str, template: Template) -> DalResult<bool> {
    outbox::sent_recently(conn, email, template, Duration::minutes(1))
}

/// A verification link that is good, for an active account not yet verified, with the
/// password chosen when it was made. The link alone is not enough: whoever follows it
/// must also give that password, so a link someone else's sign-up sent to your inbox
/// cannot set their password on your address (pre-account takeover).
pub struct PendingVerification {
    token: String,
    password_hash: String,
}

/// Proof that the password given with a verification link is the one chosen with it.
pub struct VerifiedLink {
    token: String,
}

impl PendingVerification {
    /// Checks the password (bcrypt: off the executor, without a pooled connection).
    pub fn check(self, hasher: &PasswordHasher, password: &str) -> Option<VerifiedLink> {
        hasher
            .verify(password, &self.password_hash)
            .then_some(VerifiedLink { token: self.token })
    }
}

/// Reads a verification link without spending it. `None` for a bad, spent or expired
/// link, or an account that is verified already or inactive, all alike.
pub fn pending_verification(
    conn: &mut PgConnection,
    token: &str,
) -> DalResult<Option<PendingVerification>> {
    let Some(unspent) = email_tokens::peek(conn, Purpose::VerifyEmail, token)? else {
        return Ok(None);
    };
    let (email, active, verified, row_hash): (String, bool, bool, String) = users::table
        .find(unspent.user.0)
        .select((
            users::email,
            users::active,
            users::email_verified,
            users::password_hash,
        ))
        .first(conn)?;
    if !active || verified || !email.eq_ignore_ascii_case(&unspent.email) {
        return Ok(None);
    }
    Ok(Some(PendingVerification {
        token: token.to_owned(),
        password_hash: unspent.password_hash.unwrap_or(row_hash),
    }))
}

/// Follows a verification link whose password was checked: the address is verified,
/// the account takes the password and name chosen with the link, every other
/// verification link dies, and the proof opens the account's first session.
pub fn verify_email(conn: &mut PgConnection, link: VerifiedLink) -> DalResult<PasswordChecked> {
    conn.transaction(|conn| {
        let spent = spend(conn, Purpose::VerifyEmail, &link.token)?;
        let account = by_id(conn, spent.user)?;
        if !account.active || account.verified || !account.email.eq_ignore_ascii_case(&spent.email)
        {
            return Err(DalError::Invalid(BAD_LINK.into()));
        }
        diesel::update(users::table.find(account.id))
            .set((
                users::email_verified.eq(true),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        if let Some(hash) = &spent.password_hash {
            diesel::update(users::table.find(account.id))
                .set(users::password_hash.eq(hash))
                .execute(conn)?;
        }
        if let Some(name) = &spent.name {
            diesel::update(users::table.find(account.id))
                .set(users::name.eq(name))
                .execute(conn)?;
        }
        email_tokens::kill(conn, Purpose::VerifyEmail, account.user())?;
        Ok(PasswordChecked::new(account.user()))
    })
}

/// Sends a new verification link to an unverified account (at most once a minute);
/// does nothing for any other address. The account, if a link was queued (for the
/// record only).
pub fn resend_verification(conn: &mut PgConnection, email: &str) -> DalResult<Option<UserId>> {
    conn.transaction(|conn| {
        let Some(account) = by_email(conn, email)? else {
            return Ok(None);
        };
        if account.verified
            || !account.active
            || recently_sent(conn, &account.email, Template::VerifyEmail)?
        {
            return Ok(None);
        }
        // A sign-up again before verifying left its password and name on the last
        // link: the new link carries them on, or they would be lost.
        let pending = email_tokens::pending_carried(conn, Purpose::VerifyEmail, account.user())?;
        let token = email_tokens::issue_alongside(
            conn,
            Purpose::VerifyEmail,
            account.user(),
            &account.email,
            VERIFY_TTL,
            Carried {
                password_hash: pending.0.as_deref(),
                name: pending.1.as_deref(),
            },
        )?;
        outbox::enqueue(conn, &verify_letter(&account.email, account.user(), &token))?;
        Ok(Some(account.user()))
    })
}

/// Queues a reset link for an active account, at most one per address every
/// `interval`; does nothing for any other address. The account, if a link was queued
/// (for the record only).
pub fn request_password_reset(
    conn: &mut PgConnection,
    email: &str,
    interval: Duration,
) -> DalResult<Option<UserId>> {
    conn.transaction(|conn| {
        let Some(account) = by_email(conn, email)? else {
            return Ok(None);
        };
        if !account.active {
            return Ok(None);
        }
        if outbox::sent_recently(conn, &account.email, Template::PasswordReset, interval)? {
            return Ok(None);
        }
        let token = email_tokens::issue(
            conn,
            Purpose::ResetPassword,
            account.user(),
            &account.email,
            RESET_TTL,
            Carried::default(),
        )?;
        outbox::enqueue(
            conn,
            &Letter {
                token: Some(&token),
                ..account.notice(Template::PasswordReset)
            },
        )?;
        Ok(Some(account.user()))
    })
}

/// Spends a link's token for `purpose`, or answers [`BAD_LINK`] like every bad link.
fn spend(conn: &mut PgConnection, purpose: Purpose, token: &str) -> DalResult<email_tokens::Spent> {
    email_tokens::spend(conn, purpose, token)?.ok_or_else(|| DalError::Invalid(BAD_LINK.into()))
}

/// A plain name from an address's local part (`ann.lee@…` → `ann.lee`).
fn name_from_address(email: &str) -> String {
    let local = email.split('@').next().unwrap_or_default();
    let plain: String = local
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '\''))
        .take(crust_domain::mail::MAX_GREETING_CHARS)
        .collect();
    if plain.is_empty() {
        "user".to_owned()
    } else {
        plain
    }
}

/// What a completed reset did.
#[derive(Debug)]
pub struct Reset {
    pub user: UserId,
    pub sessions_ended: usize,
}

/// Follows a reset link: the new password is stored, the address counts as verified
/// (the link proved it), every session of the account ends and a notice is queued.
pub fn reset_password(
    conn: &mut PgConnection,
    token: &str,
    password_hash: &str,
) -> DalResult<Reset> {
    conn.transaction(|conn| {
        let spent = spend(conn, Purpose::ResetPassword, token)?;
        let mut account = by_id(conn, spent.user)?;
        if !account.active || !account.email.eq_ignore_ascii_case(&spent.email) {
            return Err(DalError::Invalid(BAD_LINK.into()));
        }
        if !account.verified {
            // The name came with a sign-up nobody confirmed (perhaps someone else's
            // for this address): the address's own local part replaces it.
            account.name = name_from_address(&account.email);
        }
        // The link proved the address.
        account.verified = true;
        diesel::update(users::table.find(account.id))
            .set((
                users::password_hash.eq(password_hash),
                users::email_verified.eq(true),
                users::name.eq(&account.name),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        // Every link of the account dies: a pending change of address someone else
        // started, an old verification link.
        email_tokens::kill_all(conn, account.user())?;
        let sessions_ended =
            crate::sessions::revoke_all(conn, account.user(), RevokeReason::PasswordChanged)?;
        outbox::enqueue(conn, &account.notice(Template::PasswordChanged))?;
        Ok(Reset {
            user: account.user(),
            sessions_ended,
        })
    })
}

/// After a signed-in change of password: every link of the account dies (a change of
/// address started by whoever knew the old password must not survive it) and the
/// "password changed" notice is queued.
pub fn password_changed(conn: &mut PgConnection, auth: &Authenticated) -> DalResult<()> {
    let account = by_id(conn, auth.user_id())?;
    email_tokens::kill_all(conn, account.user())?;
    outbox::enqueue(conn, &account.notice(Template::PasswordChanged))
}

/// Starts a change of address (the caller checked the password): a link goes to the
/// new address; nothing changes until the account follows it. A new request always
/// makes a new link and kills the previous one, whether or not the new address is
/// free; when it belongs to another account (or a link went to it a moment ago) no
/// message goes out, and the caller answers the same (and records nothing of it: the
/// caller reads their own events).
pub fn request_email_change(
    conn: &mut PgConnection,
    auth: &Authenticated,
    new_email: &str,
) -> DalResult<()> {
    conn.transaction(|conn| {
        let account = by_id(conn, auth.user_id())?;
        let token = email_tokens::issue(
            conn,
            Purpose::ChangeEmail,
            account.user(),
            new_email,
            CHANGE_EMAIL_TTL,
            Carried::default(),
        )?;
        if by_email(conn, new_email)?.is_some()
            || recently_sent(conn, new_email, Template::ConfirmNewEmail)?
        {
            return Ok(());
        }
        outbox::enqueue(
            conn,
            &Letter {
                template: Template::ConfirmNewEmail,
                recipient: new_email,
                user: Some(account.user()),
                name: account.greeting(),
                token: Some(&token),
            },
        )?;
        Ok(())
    })
}

/// Follows the link sent to a new address, signed in as the account that asked: the
/// change takes effect and both the old and the new address are told. (Signed in: a
/// link someone else's account sent to your inbox must not bind your address to their
/// account.) Anything else answers [`BAD_LINK`] and spends nothing.
pub fn confirm_email_change(
    conn: &mut PgConnection,
    auth: &Authenticated,
    token: &str,
) -> DalResult<UserId> {
    conn.transaction(|conn| {
        let spent = spend(conn, Purpose::ChangeEmail, token)?;
        if spent.user != auth.user_id() {
            return Err(DalError::Invalid(BAD_LINK.into()));
        }
        let old = by_id(conn, spent.user)?;
        if !old.active || by_email(conn, &spent.email)?.is_some() {
            return Err(DalError::Invalid(BAD_LINK.into()));
        }
        diesel::update(users::table.find(old.id))
            .set((
                users::email.eq(&spent.email),
                users::email_verified.eq(true),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .map_err(|e| match DalError::from(e) {
                DalError::Conflict(_) => DalError::Invalid(BAD_LINK.into()),
                other => other,
            })?;
        outbox::enqueue(conn, &old.notice(Template::EmailChanged))?;
        let new = Account {
            email: spent.email,
            verified: true,
            ..old.clone()
        };
        outbox::enqueue(conn, &new.notice(Template::EmailChanged))?;
        Ok(new.user())
    })
}

/// After a session opened: tells the account's owner if this client address and user
/// agent have not opened a session of theirs in the last 30 days (and the account had
/// signed in before: a first sign-in is no news). True if a notice was queued.
pub(crate) fn notice_if_new_device(
    conn: &mut PgConnection,
    user: UserId,
    new_session: Uuid,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> DalResult<bool> {
    let since = chrono::Utc::now() - DEVICE_MEMORY;
    let earlier = sessions::table
        .filter(sessions::user_id.eq(user.0))
        .filter(sessions::id.ne(new_session));
    let any_before: bool = diesel::select(diesel::dsl::exists(earlier)).get_result(conn)?;
    if !any_before {
        return Ok(false);
    }
    let mut same = earlier.filter(sessions::created_at.gt(since)).into_boxed();
    same = match ip {
        Some(ip) => same.filter(sessions::ip.eq(ip)),
        None => same.filter(sessions::ip.is_null()),
    };
    same = match user_agent {
        Some(ua) => same.filter(sessions::user_agent.eq(ua)),
        None => same.filter(sessions::user_agent.is_null()),
    };
    let seen: bool = diesel::select(diesel::dsl::exists(same)).get_result(conn)?;
    if seen {
        return Ok(false);
    }
    let account = by_id(conn, user)?;
    outbox::enqueue_unless_recent(conn, &account.notice(Template::NewDevice), NOTICE_INTERVAL)
}

/// A spent refresh token came back and its session was ended: tell the owner.
pub(crate) fn notice_refresh_reuse(conn: &mut PgConnection, user: UserId) -> DalResult<()> {
    let account = by_id(conn, user)?;
    outbox::enqueue_unless_recent(
        conn,
        &account.notice(Template::RefreshTokenReused),
        NOTICE_INTERVAL,
    )?;
    Ok(())
}

/// Failed sign-ins just locked an account for one client address: tell the owner, at
/// most once an hour (an attacker rotating addresses must not flood the inbox). Takes
/// the id a failed sign-in found for the address it was given; nothing is returned.
pub fn notice_account_locked(conn: &mut PgConnection, user: UserId) -> DalResult<()> {
    let account = by_id(conn, user)?;
    if account.active {
        outbox::enqueue_unless_recent(
            conn,
            &account.notice(Template::AccountLocked),
            Duration::hours(1),
        )?;
    }
    Ok(())
}
