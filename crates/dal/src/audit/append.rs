//! Appending events to their organization's hash chain, one appender per chain at a
//! time, inside the transaction of the change they record.

use super::*;

/// The advisory-lock class of audit chains (two-key locks, apart from other locks).
const CHAIN_LOCKS: i32 = 0x4175_6469; // "Audi"

/// Appends an event to its chain and returns its id. Call it last in the transaction
/// of the change it records: it locks the chain's head until that transaction ends.
/// Outside a transaction it opens one of its own.
pub fn append(conn: &mut PgConnection, e: &NewEvent) -> DalResult<Uuid> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let open = AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .ok()
        .flatten()
        .is_some();
    if open {
        // No savepoint: an error here fails the enclosing transaction anyway.
        append_locked(conn, e)
    } else {
        conn.transaction(|conn| append_locked(conn, e))
    }
}

fn append_locked(conn: &mut PgConnection, e: &NewEvent) -> DalResult<Uuid> {
    let chain = e.organization.unwrap_or(GLOBAL_CHAIN);
    // Appenders of one chain take turns until their transactions end; the insert's
    // trigger checks the link and advances the head (see the `audit` migration).
    diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2::text))")
        .bind::<diesel::sql_types::Integer, _>(CHAIN_LOCKS)
        .bind::<SqlUuid, _>(chain)
        .execute(conn)?;
    let (last, prev): (i64, Vec<u8>) = heads::table
        .find(chain)
        .select((heads::seq, heads::hash))
        .first(conn)
        .optional()?
        .unwrap_or((0, GENESIS.to_vec()));
    let seq = last + 1;
    let id = Uuid::new_v4();
    // 122 random bits from the OS generator: enough that a digest cannot be
    // matched against a list of likely addresses.
    let salt = Uuid::new_v4().into_bytes();
    // PostgreSQL keeps microseconds; the hash must cover what is stored.
    let occurred_at = Utc::now()
        .duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or_else(|_| Utc::now());
    let mut event = Event {
        id,
        chain,
        seq,
        occurred_at,
        action: e.action.clone(),
        outcome: e.outcome.as_str().to_owned(),
        error_code: e.error_code.clone(),
        reason: e.reason.clone(),
        actor_id: e.actor.map(|u| u.0),
        session_id: e.session.map(|s| s.0),
        subject_user_id: e.subject_user.map(|u| u.0),
        organization_id: e.organization,
        target_type: e.target.map(|t| t.kind.as_str().to_owned()),
        target_id: e.target.map(|t| t.id),
        need_to_know: e.need_to_know,
        variables: e.variables.clone(),
        request_id: e.origin.request_id.clone(),
        ip: e.origin.ip.clone(),
        user_agent: e.origin.user_agent.clone(),
        client_salt: Some(salt.to_vec()),
        ip_digest: client_digest(&salt, e.origin.ip.as_deref()).to_vec(),
        user_agent_digest: client_digest(&salt, e.origin.user_agent.as_deref()).to_vec(),
        pruned_at: None,
        hash: Vec::new(),
        prev_hash: prev,
        need_to_know_ids: e.need_to_know_ids.clone(),
    };
    // The same content `verify` hashes, by the same function.
    event.hash = chain_hash(&event.prev_hash, &event.content()).to_vec();
    diesel::insert_into(events::table)
        .values(&event)
        .execute(conn)?;
    APPENDED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(id)
}

static APPENDED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Events this process has appended since it started (metrics). An append inside a
/// transaction that later rolled back is counted too: this counts the log's work.
pub fn appended_total() -> u64 {
    APPENDED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Appends several events in one transaction, taking the chains' locks in one order
/// (so two such batches can never wait on each other).
pub fn append_all(conn: &mut PgConnection, mut list: Vec<NewEvent>) -> DalResult<()> {
    list.sort_by_key(|e| e.organization.unwrap_or(GLOBAL_CHAIN));
    conn.transaction(|conn| {
        for e in &list {
            append(conn, e)?;
        }
        Ok(())
    })
}
