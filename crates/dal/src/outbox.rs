//! The outbox: every email is a row written in the transaction of the change that
//! causes it, so a message goes out if and only if its change was committed. The
//! server's mail worker claims due rows (`FOR UPDATE SKIP LOCKED`, so several server
//! instances never claim one row twice), sends them and marks them sent, or retries
//! them later with exponential backoff until it gives up and marks them dead.
//!
//! A row holds an address, a greeting name, a template and — for messages whose link
//! carries one — a single-use token, erased once the message is sent or dead. No
//! tenant data is ever written here.

use chrono::{DateTime, Duration, Utc};
use crust_domain::mail::{greeting_name, Template};
use crust_domain::UserId;
use diesel::prelude::*;
use uuid::Uuid;

use crate::error::DalResult;
use crate::schema::outbox;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// A message to queue.
pub(crate) struct Letter<'a> {
    pub template: Template,
    pub recipient: &'a str,
    pub user: Option<UserId>,
    /// The recipient's name, used only when the account's address is verified (a
    /// name typed at sign-up for someone else's address must not reach that inbox).
    pub name: Option<&'a str>,
    pub token: Option<&'a str>,
}

/// Queues a message in the caller's transaction.
pub(crate) fn enqueue(conn: &mut PgConnection, letter: &Letter<'_>) -> DalResult<()> {
    diesel::insert_into(outbox::table)
        .values((
            outbox::template.eq(letter.template.as_str()),
            outbox::recipient.eq(letter.recipient),
            outbox::user_id.eq(letter.user.map(|u| u.0)),
            outbox::greeting_name.eq(letter.name.and_then(greeting_name)),
            outbox::token.eq(letter.token),
        ))
        .execute(conn)?;
    Ok(())
}

/// Has a message of this template gone to this address (case-insensitively) in the
/// last `window`?
pub(crate) fn sent_recently(
    conn: &mut PgConnection,
    recipient: &str,
    template: Template,
    window: Duration,
) -> DalResult<bool> {
    let recent: i64 = outbox::table
        .filter(lower(outbox::recipient).eq(lower(recipient)))
        .filter(outbox::template.eq(template.as_str()))
        .filter(outbox::created_at.gt(Utc::now() - window))
        .count()
        .get_result(conn)?;
    Ok(recent > 0)
}

/// Queues a message unless one of the same template went to the same address in the
/// last `window` (so asking again and again cannot flood an inbox). True if queued.
pub(crate) fn enqueue_unless_recent(
    conn: &mut PgConnection,
    letter: &Letter<'_>,
    window: Duration,
) -> DalResult<bool> {
    if sent_recently(conn, letter.recipient, letter.template, window)? {
        return Ok(false);
    }
    enqueue(conn, letter)?;
    Ok(true)
}

/// A claimed message, ready to render and send.
#[derive(Debug, Queryable)]
pub struct Outgoing {
    pub id: Uuid,
    template: String,
    user: Option<Uuid>,
    pub recipient: String,
    pub greeting_name: Option<String>,
    /// The link's secret; never log it.
    pub token: Option<String>,
    pub attempts: i32,
    /// The end of this claim: marking the message sent or failed only counts while
    /// the row still carries it (another worker may have claimed it since).
    claimed_until: DateTime<Utc>,
}

impl Outgoing {
    /// The template (a row's template is checked by the table, so unknown ones are
    /// only possible from a newer server; they are reported, not guessed).
    pub fn template(&self) -> Option<Template> {
        Template::parse(&self.template)
    }

    pub fn template_name(&self) -> &str {
        &self.template
    }
}

/// Claims up to `limit` due messages for `lease`: they are not due again until then,
/// so another worker (in this process or another) will not take them while this one
/// sends. Claiming counts as an attempt.
pub fn claim_due(conn: &mut PgConnection, limit: i64, lease: Duration) -> DalResult<Vec<Outgoing>> {
    conn.transaction(|conn| {
        let due: Vec<Uuid> = outbox::table
            .filter(outbox::status.eq("QUEUED"))
            .filter(outbox::next_attempt_at.le(Utc::now()))
            .order(outbox::next_attempt_at.asc())
            .limit(limit)
            .select(outbox::id)
            .for_update()
            .skip_locked()
            .load(conn)?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        Ok(
            diesel::update(outbox::table.filter(outbox::id.eq_any(&due)))
                .set((
                    outbox::next_attempt_at.eq(Utc::now() + lease),
                    outbox::attempts.eq(outbox::attempts + 1),
                ))
                .returning((
                    outbox::id,
                    outbox::template,
                    outbox::user_id,
                    outbox::recipient,
                    outbox::greeting_name,
                    outbox::token,
                    outbox::attempts,
                    outbox::next_attempt_at,
                ))
                .get_results(conn)?,
        )
    })
}

/// The message went out: its token is erased, and the audit log records which
/// message went to which account (`mailSent`, the template as its reason; never the
/// address or the link).
pub fn mark_sent(conn: &mut PgConnection, message: &Outgoing) -> DalResult<()> {
    conn.transaction(|conn| {
        let updated = diesel::update(
            outbox::table
                .find(message.id)
                .filter(outbox::status.eq("QUEUED"))
                .filter(outbox::next_attempt_at.eq(message.claimed_until)),
        )
        .set((
            outbox::status.eq("SENT"),
            outbox::sent_at.eq(Utc::now()),
            outbox::token.eq(None::<String>),
            outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
        if updated > 0 {
            let mut e = crate::audit::NewEvent::new(
                "mailSent",
                crust_domain::audit::Outcome::Ok,
                crate::audit::Origin::default(),
            );
            e.reason = Some(message.template.clone());
            e.subject_user = message.user.map(UserId);
            e.target = message
                .user
                .map(|u| crate::audit::Target::new(crate::audit::TargetKind::User, u));
            crate::audit::append(conn, &e)?;
        }
        Ok(())
    })
}

/// What became of a message whose sending failed.
#[derive(Debug, PartialEq, Eq)]
pub enum Failed {
    RetryAt(DateTime<Utc>),
    /// Given up after the last attempt: the row stays, marked dead, token erased.
    Dead,
}

/// Records a failed attempt: retried after `base × 2^(attempts − 1)` (at most a day),
/// or dead once `max_attempts` were made, or at once when the failure is `permanent`
/// (the message cannot be built: no retry will help).
pub fn mark_failed(
    conn: &mut PgConnection,
    message: &Outgoing,
    error: &str,
    max_attempts: u32,
    base: Duration,
    permanent: bool,
) -> DalResult<Failed> {
    let error: String = error.chars().take(500).collect();
    let row = outbox::table
        .find(message.id)
        .filter(outbox::status.eq("QUEUED"))
        .filter(outbox::next_attempt_at.eq(message.claimed_until));
    if permanent || message.attempts >= max_attempts as i32 {
        diesel::update(row)
            .set((
                outbox::status.eq("DEAD"),
                outbox::token.eq(None::<String>),
                outbox::last_error.eq(&error),
            ))
            .execute(conn)?;
        return Ok(Failed::Dead);
    }
    let at = Utc::now() + backoff(base, message.attempts);
    diesel::update(row)
        .set((
            outbox::next_attempt_at.eq(at),
            outbox::last_error.eq(&error),
        ))
        .execute(conn)?;
    Ok(Failed::RetryAt(at))
}

/// `base × 2^(attempt − 1)`, capped at a day.
pub fn backoff(base: Duration, attempt: i32) -> Duration {
    let exponent = attempt.clamp(1, 30) - 1;
    let factor = 1i64 << exponent;
    let day = Duration::days(1);
    base.checked_mul(factor as i32)
        .filter(|d| *d <= day)
        .unwrap_or(day)
}

/// One row of the outbox as the operator sees it (never the token).
#[derive(Debug, Queryable)]
pub struct OutboxRow {
    pub id: Uuid,
    pub template: String,
    pub recipient: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// What is queued (due now or retrying later) and dead, oldest first; sent messages
/// too when `include_sent`. At most `limit` rows.
pub fn list(
    _: &crate::Operator,
    conn: &mut PgConnection,
    include_sent: bool,
    limit: i64,
) -> DalResult<Vec<OutboxRow>> {
    let mut query = outbox::table
        .select((
            outbox::id,
            outbox::template,
            outbox::recipient,
            outbox::status,
            outbox::attempts,
            outbox::next_attempt_at,
            outbox::last_error,
            outbox::created_at,
            outbox::sent_at,
        ))
        .order((outbox::created_at.asc(), outbox::id.asc()))
        .limit(limit)
        .into_boxed();
    if !include_sent {
        query = query.filter(outbox::status.ne("SENT"));
    }
    Ok(query.load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_a_day() {
        let base = Duration::seconds(30);
        assert_eq!(backoff(base, 1), Duration::seconds(30));
        assert_eq!(backoff(base, 2), Duration::seconds(60));
        assert_eq!(backoff(base, 4), Duration::seconds(240));
        assert_eq!(backoff(base, 30), Duration::days(1));
    }
}
