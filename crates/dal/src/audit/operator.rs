//! The operator's commands over every chain: verify, prune and export (they need the
//! [`crate::Operator`] proof and the table owner's rights).

use super::read::filtered;
use super::*;

/// The first link of a chain that does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokenLink {
    pub chain: Uuid,
    pub seq: i64,
    pub event: Option<Uuid>,
    pub problem: String,
}

#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    pub chains: usize,
    pub events: u64,
    /// The first broken link of each broken chain.
    pub broken: Vec<BrokenLink>,
}

const BATCH: i64 = 1000;

/// Walks every chain from its start and checks each link: numbering, the previous
/// hash, the event's own hash, the client digests of unpruned events, and that the
/// chain's head names its last event (so deleting the newest events shows too).
pub fn verify(_: &crate::Operator, conn: &mut PgConnection) -> DalResult<VerifyReport> {
    // One snapshot: events appended while the walk runs would otherwise look like a
    // head ahead of its chain.
    conn.build_transaction()
        .repeatable_read()
        .read_only()
        .run(verify_snapshot)
}

fn verify_snapshot(conn: &mut PgConnection) -> DalResult<VerifyReport> {
    let mut chains: Vec<Uuid> = events::table.select(events::chain).distinct().load(conn)?;
    let head_chains: Vec<Uuid> = heads::table.select(heads::chain).load(conn)?;
    chains.extend(head_chains);
    chains.sort();
    chains.dedup();
    let mut report = VerifyReport {
        chains: chains.len(),
        ..VerifyReport::default()
    };
    for chain in chains {
        if let Some(broken) = verify_chain(conn, chain, &mut report.events)? {
            report.broken.push(broken);
        }
    }
    Ok(report)
}

fn verify_chain(
    conn: &mut PgConnection,
    chain: Uuid,
    counted: &mut u64,
) -> DalResult<Option<BrokenLink>> {
    let broken = |seq, event, problem: &str| {
        Ok(Some(BrokenLink {
            chain,
            seq,
            event,
            problem: problem.to_owned(),
        }))
    };
    let mut expected_seq = 1_i64;
    let mut running = GENESIS.to_vec();
    loop {
        let batch: Vec<Event> = events::table
            .filter(events::chain.eq(chain))
            .filter(events::seq.ge(expected_seq))
            .order(events::seq)
            .limit(BATCH)
            .select(Event::as_select())
            .load(conn)?;
        let done = (batch.len() as i64) < BATCH;
        for e in batch {
            *counted += 1;
            if e.seq != expected_seq {
                return broken(
                    expected_seq,
                    None,
                    &format!("event {expected_seq} is missing (next is {})", e.seq),
                );
            }
            if e.prev_hash != running {
                return broken(
                    e.seq,
                    Some(e.id),
                    "its previous-hash does not match the event before it",
                );
            }
            if let Some(salt) = &e.client_salt {
                if client_digest(salt, e.ip.as_deref()).as_slice() != e.ip_digest
                    || client_digest(salt, e.user_agent.as_deref()).as_slice()
                        != e.user_agent_digest
                {
                    return broken(
                        e.seq,
                        Some(e.id),
                        "its IP address or user agent was changed",
                    );
                }
            }
            if chain_hash(&running, &e.content()).as_slice() != e.hash {
                return broken(e.seq, Some(e.id), "its content does not match its hash");
            }
            running = e.hash;
            expected_seq += 1;
        }
        if done {
            break;
        }
    }
    let head: Option<(i64, Vec<u8>)> = heads::table
        .find(chain)
        .select((heads::seq, heads::hash))
        .first(conn)
        .optional()?;
    let last = expected_seq - 1;
    match head {
        Some((seq, hash)) if seq == last && hash == running => Ok(None),
        Some((seq, _)) if seq > last => broken(
            last + 1,
            None,
            &format!("events {} to {seq} are missing from the end", last + 1),
        ),
        Some(_) => broken(last, None, "the chain's head does not match its last event"),
        None => broken(last, None, "the chain has no head"),
    }
}

/// Pseudonymizes the client details of events that happened before `cutoff`: the IP
/// keeps only its network (`audit_pseudonymize_ip`, the same function the table's
/// trigger checks against), the user agent is blanked, and the salt that could link
/// them to their digests is dropped. The chain stays verifiable. Returns how many
/// events were pruned. Needs the table owner (the application role may not update).
pub fn prune(
    _: &crate::Operator,
    conn: &mut PgConnection,
    cutoff: DateTime<Utc>,
) -> DalResult<usize> {
    let mut pruned = 0;
    loop {
        let n = conn.transaction(|conn| -> DalResult<usize> {
            conn.batch_execute("SET LOCAL crust.audit_prune = 'on'")?;
            Ok(diesel::sql_query(
                "UPDATE audit_events SET ip = audit_pseudonymize_ip(ip), \
                 user_agent = CASE WHEN user_agent IS NULL THEN NULL ELSE '[pruned]' END, \
                 client_salt = NULL, pruned_at = now() \
                 WHERE id IN (SELECT id FROM audit_events \
                   WHERE pruned_at IS NULL AND occurred_at < $1 LIMIT $2 FOR UPDATE)",
            )
            .bind::<diesel::sql_types::Timestamptz, _>(cutoff)
            .bind::<diesel::sql_types::BigInt, _>(BATCH)
            .execute(conn)?)
        })?;
        pruned += n;
        if (n as i64) < BATCH {
            return Ok(pruned);
        }
    }
}

/// Every event of one organization (or of the global chain) in a time range, oldest
/// first, handed to `write` one at a time (the export never holds the log in memory).
pub fn export(
    _: &crate::Operator,
    conn: &mut PgConnection,
    org: Option<Uuid>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    mut write: impl FnMut(&Event) -> std::io::Result<()>,
) -> DalResult<u64> {
    let chain = org.unwrap_or(GLOBAL_CHAIN);
    let filter = EventFilter {
        from,
        to,
        ..EventFilter::default()
    };
    let mut after = 0_i64;
    let mut written = 0;
    loop {
        let batch: Vec<Event> = filtered(chain, &filter)
            .filter(events::seq.gt(after))
            .order(events::seq)
            .limit(BATCH)
            .select(Event::as_select())
            .load(conn)?;
        for e in &batch {
            write(e).map_err(|err| DalError::Invalid(format!("writing the export: {err}")))?;
            written += 1;
            after = e.seq;
        }
        if (batch.len() as i64) < BATCH {
            return Ok(written);
        }
    }
}
