//! The acting user, loaded once per request with the memberships every ACL check needs.

use std::collections::HashMap;

use crust_domain::{OrgFacts, OrgId, OrgRole, UserId};
use diesel::prelude::*;
use uuid::Uuid;

use crate::error::{DalError, DalResult};
use crate::schema::{memberships, users};

#[derive(Clone, Debug)]
pub struct Actor {
    /// Private to the DAL: an actor is who a proof says, never re-pointed by a caller.
    pub(crate) user_id: UserId,
    org_roles: HashMap<OrgId, OrgRole>,
}

impl Actor {
    /// The signed-in user as an actor (see [`crate::sessions::Authenticated`]).
    pub fn signed_in(
        conn: &mut PgConnection,
        auth: &crate::sessions::Authenticated,
    ) -> DalResult<Actor> {
        Self::load(conn, auth.user_id())
    }

    /// A user as an actor for a command of the operator's (seed data, benchmarks).
    pub fn for_operator(
        _: &crate::Operator,
        conn: &mut PgConnection,
        user_id: UserId,
    ) -> DalResult<Actor> {
        Self::load(conn, user_id)
    }

    /// Someone who may see nothing of any organization (an account whose access has
    /// ended), for rules that ask what they may see now.
    pub(crate) fn without_memberships(user_id: UserId) -> Actor {
        Actor {
            user_id,
            org_roles: HashMap::new(),
        }
    }

    /// Loads an active user's memberships. An inactive or missing user is `NotFound`.
    pub(crate) fn load(conn: &mut PgConnection, user_id: UserId) -> DalResult<Actor> {
        let active: bool = users::table
            .find(user_id.0)
            .select(users::active)
            .first(conn)?;
        if !active {
            return Err(DalError::NotFound);
        }
        let rows: Vec<(Uuid, String)> = memberships::table
            .filter(memberships::user_id.eq(user_id.0))
            .select((memberships::org_id, memberships::role))
            .load(conn)?;
        let org_roles = rows
            .into_iter()
            .filter_map(|(org, role)| Some((OrgId(org), role.parse().ok()?)))
            .collect();
        Ok(Actor { user_id, org_roles })
    }

    pub fn user_id(&self) -> UserId {
        self.user_id
    }

    pub fn org_role(&self, org: OrgId) -> Option<OrgRole> {
        self.org_roles.get(&org).copied()
    }

    pub fn org_facts(&self, org: OrgId) -> OrgFacts {
        OrgFacts {
            role: self.org_role(org),
        }
    }

    /// Organizations the actor belongs to with at least `min` role.
    pub fn orgs_with(&self, min: OrgRole) -> Vec<Uuid> {
        self.org_roles
            .iter()
            .filter(|(_, r)| **r >= min)
            .map(|(o, _)| o.0)
            .collect()
    }

    pub fn uid(&self) -> Uuid {
        self.user_id.0
    }
}
