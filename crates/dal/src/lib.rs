//! Crust's data access layer.
//!
//! Owns the database: the diesel schema (private to this crate), the connection pool,
//! the embedded migrations and one module per aggregate. **Every entry point that
//! touches tenant data takes the acting user** ([`Actor`]): reads are filtered in SQL so
//! a row the actor may not see never leaves PostgreSQL (and answers
//! [`DalError::NotFound`]), and writes ask [`crust_domain::decide`] first. It never
//! speaks HTTP or GraphQL.
//!
//! Functions take `&mut PgConnection` so callers can compose several in one
//! transaction; mutations open their own transaction (nested ones become savepoints).
//! The API crate cannot run SQL on that connection (it has no diesel; the architecture
//! test keeps it so): all it can do with one is pass it to the functions here.
//!
//! # The proofs
//!
//! An [`Actor`] is made only from proof of who is acting:
//! [`sessions::Authenticated`] (a signed-in user; made only by [`sessions`] from a
//! session it found open, refreshed, or opened with [`users::PasswordChecked`] — which
//! only [`users::Credentials::check`] makes, by checking the password against the
//! stored hash, which never leaves this crate, or a flow that proved the address: a
//! verification link, an accepted invitation)
//! or [`Operator`] (the `crust` command line; its constructor exists only with the
//! `operator` feature, which only the CLI and the test harness enable).
//!
//! # Entry points that take no `Actor`, and why
//!
//! Before anyone is signed in (sign-up, login, refresh, logout — the token or password
//! presented is the credential):
//! - `users::credentials_by_email` (login; same work whether or not the account
//!   exists; the hash stays inside [`users::Credentials`]), `Credentials::check`
//!   (makes [`users::PasswordChecked`]), `PasswordHasher::new`, `PasswordHasher::with_peppers`,
//!   `password::split` (pure: the pepper id of a stored hash).
//! - The email flows ([`accounts`]), which answer nothing about an address: the
//!   caller gets no data back, only the proof or account id it needs for the record.
//!   `accounts::sign_up` (an unverified account and its link, or a notice to the
//!   owner of a taken address), `accounts::resend_verification`,
//!   `accounts::request_password_reset` (queue a link or nothing); and presenting a
//!   token from a message: `accounts::pending_verification` (reads a verification
//!   link; the password hash it holds stays inside [`accounts::PendingVerification`],
//!   whose `check` makes [`accounts::VerifiedLink`]), `accounts::verify_email` (takes
//!   that proof and makes the one that opens the first session), `accounts::reset_password`, `accounts::confirm_email_change`,
//!   `invitations::accept` (with [`sessions::Authenticated`] of the invited address,
//!   or making the invited address's account). `accounts::notice_account_locked`
//!   takes the id a failed login found for the address it was given and only queues
//!   a fixed notice to that account's own address.
//! - `sessions::create` (takes [`users::PasswordChecked`]), `sessions::rotate`
//!   (presenting a refresh token), `sessions::session_of_refresh_token` (presenting a
//!   refresh token: makes [`sessions::TokenHolder`], for the browser flow's CSRF check),
//!   `sessions::end` (logout, with [`sessions::Authenticated`] or a
//!   [`sessions::TokenHolder`]).
//! - `sessions::authenticate` (an access token's session: makes the proof). It takes the
//!   session and user ids the API read from a JWT whose signature the API checked: the
//!   signing keys live there, so this one proof rests on the API's check (the session
//!   must still be open and its user active). Refresh tokens, by contrast, are hashed
//!   here: the DAL's functions take the token itself, never what is stored.
//!
//! With the proof of a signed-in user, for their own account only:
//! - `Actor::signed_in`, `users::get_self`, `users::credentials_of`,
//!   `users::set_password_hash`, `sessions::open_for_user`, `sessions::revoke_own`,
//!   `sessions::revoke_others`, `audit::security_events`, `accounts::password_changed`
//!   (its notice), `accounts::request_email_change` (the password was checked first),
//!   `gdpr::export_own`, `gdpr::erase_own` (with [`users::PasswordChecked`] too).
//!
//! With the [`Operator`] proof (the CLI acts on the whole server):
//! - `pool::establish` (a direct connection), `Actor::for_operator`, `users::id_by_email`, `users::reset_password_hash`,
//!   `users::create_verified`, `orgs::add_member_as_operator`, `orgs::list_all`,
//!   `outbox::list`, `bi::grant`, `bi::rotate`, `bi::revoke`, `bi::list`,
//!   `bi::dictionary`, `bi::explain`, `bi::bulk_organization` (`bi::parse_cidr` is pure),
//!   `audit::verify`, `audit::prune`, `audit::export`, `migrate::run_pending`,
//!   `migrate::revert_all`, `admin::create_database_if_missing`,
//!   `offboarding::list_users`, `offboarding::deactivate`, `offboarding::reactivate`,
//!   `offboarding::offboard`, `gdpr::export_user`, `gdpr::erase_user`,
//!   `users::count_by_pepper`,
//!   `admin::drop_database_if_exists`, `admin::ensure_member_login`.
//!   For `crust keys rotate-files`: `attachments::count_by_key`,
//!   `attachments::wrapped_keys_not_under`, `attachments::rewrap` (wrapped data keys
//!   only; the master keys live in the API's configuration).
//!
//! Audit writing, called by the API's audit recorder inside the transaction of the
//! change it records (events are appended, never read back by these):
//! - `audit::append`, `audit::append_all`; `NewEvent::new`, `Target::new` build them.
//! - `projects::classified_secret`: which of the projects just served to the caller are
//!   SECRET, to record need-to-know reads (the caller has already been served them).
//!
//! The mail worker (the outbox holds addresses, greeting names and link tokens, never
//! tenant data): `outbox::claim_due`, `outbox::mark_sent`, `outbox::mark_failed`;
//! `outbox::backoff` is pure.
//!
//! The file store's purge queue (storage keys are random ids the server made; the
//! queue holds nothing else): `attachments::release` (an upload that failed gives back
//! its reservation), `attachments::claim_purges`, `attachments::purged`,
//! `attachments::purge_failed`; `attachments::exists` (after a download found its blob
//! gone — deleted meanwhile, or lost? — asked only about a file the caller was just
//! allowed to read).
//!
//! Live changes: `Listener::open` listens for the ids the `tasks` trigger announces
//! (never a row); the server reads each task again as each receiver before telling them.
//!
//! Plumbing that reads no tenant data:
//! - `pool::build_pool` (the server's pool, as its configured login), `pool::count_statements`,
//!   `pool::stop_counting`, `transaction`, `audit::appended_total` (a process counter); `migrate::pending_count` and
//!   `migrate::embedded_count` (readiness); `Operator::at_console`.
//! - Pure helpers: `batch::blocked` (over rows already filtered for the actor),
//!   `Page::first`, `Paged::new`, `Paged::empty`, `DalError::forbidden`, `DalError::check`.

pub mod accounts;
pub mod actor;
pub mod admin;
pub mod attachments;
pub mod audit;
pub mod batch;
pub mod bi;
pub mod board;
mod by_position;
pub mod comments;
pub mod dependencies;
mod email_tokens;
pub mod error;
pub mod gdpr;
pub mod invitations;
pub mod live;
pub mod migrate;
pub mod models;
mod need_to_know;
pub mod notifications;
pub mod offboarding;
pub mod operator;
pub mod orgs;
pub mod outbox;
pub mod page;
pub mod password;
pub mod pool;
pub mod projects;
mod raw;
pub mod recipes;
mod schema;
pub mod search;
pub mod sessions;
pub mod structure;
pub mod sums;
pub mod tasks;
pub mod users;
mod visibility;
pub mod workspaces;

pub use actor::Actor;
pub use diesel::PgConnection;
pub use error::{DalError, DalResult};
pub use operator::Operator;
pub use page::{Page, Paged};
pub use pool::{
    build_pool, count_statements, establish, stop_counting, PgPool, PoolSettings, SqlCounts,
};

/// Runs `f` in a transaction (a savepoint inside an open one) for callers above the
/// DAL that must put several steps in one, such as a change and its audit event.
pub fn transaction<T>(
    conn: &mut PgConnection,
    f: impl FnOnce(&mut PgConnection) -> DalResult<T>,
) -> DalResult<T> {
    use diesel::Connection;
    conn.transaction(f)
}
