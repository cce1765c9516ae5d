//! Workspaces: named groups of projects inside an organization.

use crust_domain::{Action, OrgId, WorkspaceId};
use diesel::prelude::*;

use crate::actor::Actor;
use crate::error::{DalError, DalResult};
use crate::models::Workspace;
use crate::orgs::check;
use crate::page::{Page, Paged};
use crate::schema::workspaces;

pub fn list(
    conn: &mut PgConnection,
    actor: &Actor,
    org: OrgId,
    page: Page,
) -> DalResult<Paged<Workspace>> {
    check(
        actor,
        org,
        Action::ReadOrgDirectory,
        "list this organization's workspaces",
    )?;
    let total = workspaces::table
        .filter(workspaces::org_id.eq(org.0))
        .count()
        .get_result(conn)?;
    let items = workspaces::table
        .filter(workspaces::org_id.eq(org.0))
        .order((workspaces::name, workspaces::id))
        .offset(page.offset)
        .limit(page.limit)
        .select(Workspace::as_select())
        .load(conn)?;
    Ok(Paged::new(items, total, page))
}

/// A workspace of one of the actor's organizations (any other id is `NotFound`).
pub fn get(conn: &mut PgConnection, actor: &Actor, id: WorkspaceId) -> DalResult<Workspace> {
    let ws: Workspace = workspaces::table
        .find(id.0)
        .filter(workspaces::org_id.eq_any(actor.orgs_with(crust_domain::OrgRole::Member)))
        .select(Workspace::as_select())
        .first(conn)?;
    Ok(ws)
}

fn unique_name(e: DalError) -> DalError {
    match e {
        DalError::Conflict(_) => {
            DalError::Conflict("a workspace with this name already exists".into())
        }
        other => other,
    }
}

pub fn create(
    conn: &mut PgConnection,
    actor: &Actor,
    org: OrgId,
    name: &str,
) -> DalResult<Workspace> {
    check(
        actor,
        org,
        Action::ManageOrg,
        "manage this organization's workspaces",
    )?;
    let name = crust_domain::validate::name("name", name)?;
    diesel::insert_into(workspaces::table)
        .values((workspaces::org_id.eq(org.0), workspaces::name.eq(&name)))
        .returning(Workspace::as_returning())
        .get_result(conn)
        .map_err(|e| unique_name(e.into()))
}

pub fn rename(
    conn: &mut PgConnection,
    actor: &Actor,
    id: WorkspaceId,
    name: &str,
) -> DalResult<Workspace> {
    let ws = get(conn, actor, id)?;
    check(
        actor,
        OrgId(ws.org_id),
        Action::ManageOrg,
        "manage this organization's workspaces",
    )?;
    let name = crust_domain::validate::name("name", name)?;
    diesel::update(workspaces::table.find(id.0))
        .set(workspaces::name.eq(&name))
        .returning(Workspace::as_returning())
        .get_result(conn)
        .map_err(|e| unique_name(e.into()))
}

/// Deletes a workspace; its projects stay in the organization, outside any workspace.
pub fn delete(conn: &mut PgConnection, actor: &Actor, id: WorkspaceId) -> DalResult<()> {
    let ws = get(conn, actor, id)?;
    check(
        actor,
        OrgId(ws.org_id),
        Action::ManageOrg,
        "manage this organization's workspaces",
    )?;
    diesel::delete(workspaces::table.find(id.0)).execute(conn)?;
    Ok(())
}
