//! SECRET items are reachable only through their access lists, so each must always keep
//! someone on its list who can manage it: a SECRET project a MANAGER member, a SECRET
//! task a listed user with MANAGER rights on its project. Otherwise nobody — not even
//! an org owner — could ever reach the item again.
//!
//! Every change that can take such rights away (membership and role changes, grant
//! revocation, classification changes) takes the organization's lock first, so such
//! changes in one organization are serialized, and calls [`ensure_managed`] before
//! committing, which refuses the change when any SECRET item would be orphaned.

use crust_domain::OrgId;
use diesel::prelude::*;
use diesel::sql_types::Uuid as SqlUuid;

use crate::error::{DalError, DalResult};

/// Serializes access-list and dependency-graph changes within one organization, until
/// the transaction ends. A transaction-scoped advisory lock, not a row lock: a row lock
/// on the organization would also block every insert that references it.
pub(crate) fn lock_org(conn: &mut PgConnection, org: OrgId) -> DalResult<()> {
    let bytes = org.0.as_bytes();
    let key = i64::from_be_bytes([
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
    ]);
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(key)
        .execute(conn)?;
    Ok(())
}

#[derive(QueryableByName)]
struct Orphans {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// A SECRET project with no MANAGER member who is still more than a guest in the org.
const ORPHAN_PROJECTS: &str = "
SELECT count(*) AS n FROM projects p
 WHERE p.org_id = $1 AND p.classification = 'SECRET'
   AND NOT EXISTS (
       SELECT 1 FROM project_members pm
         JOIN memberships m ON m.org_id = p.org_id AND m.user_id = pm.user_id AND m.role <> 'GUEST'
        WHERE pm.project_id = p.id AND pm.role = 'MANAGER')";

/// A SECRET task none of whose listed users manages its project (as a MANAGER member,
/// or as org OWNER/ADMIN when the project itself is not SECRET).
const ORPHAN_TASKS: &str = "
SELECT count(*) AS n FROM tasks t JOIN projects p ON p.id = t.project_id
 WHERE t.org_id = $1 AND t.classification = 'SECRET'
   AND NOT EXISTS (
       SELECT 1 FROM task_grants g
         JOIN memberships m ON m.org_id = t.org_id AND m.user_id = g.user_id AND m.role <> 'GUEST'
        WHERE g.task_id = t.id
          AND (EXISTS (SELECT 1 FROM project_members pm
                        WHERE pm.project_id = t.project_id AND pm.user_id = g.user_id AND pm.role = 'MANAGER')
               OR (p.classification <> 'SECRET' AND m.role IN ('ADMIN', 'OWNER'))))";

/// Refuses the pending change if it leaves a SECRET item of the organization without
/// anyone able to manage its access list. The message names no item: the caller may
/// not be on the list.
pub(crate) fn ensure_managed(conn: &mut PgConnection, org: OrgId) -> DalResult<()> {
    for query in [ORPHAN_PROJECTS, ORPHAN_TASKS] {
        let orphans: Orphans = diesel::sql_query(query)
            .bind::<SqlUuid, _>(org.0)
            .get_result(conn)?;
        if orphans.n > 0 {
            return Err(DalError::Conflict(
                "this change would leave a SECRET item with nobody who can manage its access list; \
                 give someone else that role first"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// Whether `user` is the last active manager of a SECRET item of the organization:
/// deactivating them (their memberships stay) would leave it with nobody who can act
/// on its access list. Deactivated accounts do not count as managers here.
pub(crate) fn last_active_manager(
    conn: &mut PgConnection,
    org: OrgId,
    user: uuid::Uuid,
) -> DalResult<bool> {
    const PROJECTS: &str = "
SELECT count(*) AS n FROM projects p
 WHERE p.org_id = $1 AND p.classification = 'SECRET'
   AND EXISTS (SELECT 1 FROM project_members pm
                WHERE pm.project_id = p.id AND pm.user_id = $2 AND pm.role = 'MANAGER')
   AND NOT EXISTS (
       SELECT 1 FROM project_members pm
         JOIN memberships m ON m.org_id = p.org_id AND m.user_id = pm.user_id AND m.role <> 'GUEST'
         JOIN users u ON u.id = pm.user_id AND u.active
        WHERE pm.project_id = p.id AND pm.role = 'MANAGER' AND pm.user_id <> $2)";
    const TASKS: &str = "
SELECT count(*) AS n FROM tasks t JOIN projects p ON p.id = t.project_id
 WHERE t.org_id = $1 AND t.classification = 'SECRET'
   AND EXISTS (SELECT 1 FROM task_grants g WHERE g.task_id = t.id AND g.user_id = $2)
   AND NOT EXISTS (
       SELECT 1 FROM task_grants g
         JOIN memberships m ON m.org_id = t.org_id AND m.user_id = g.user_id AND m.role <> 'GUEST'
         JOIN users u ON u.id = g.user_id AND u.active
        WHERE g.task_id = t.id AND g.user_id <> $2
          AND (EXISTS (SELECT 1 FROM project_members pm
                        WHERE pm.project_id = t.project_id AND pm.user_id = g.user_id AND pm.role = 'MANAGER')
               OR (p.classification <> 'SECRET' AND m.role IN ('ADMIN', 'OWNER'))))";
    for query in [PROJECTS, TASKS] {
        let orphans: Orphans = diesel::sql_query(query)
            .bind::<SqlUuid, _>(org.0)
            .bind::<SqlUuid, _>(user)
            .get_result(conn)?;
        if orphans.n > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}
