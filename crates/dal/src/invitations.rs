//! Invitations: the only way an organization gains a member through the API. Inviting
//! answers the same whether or not the address has an account or is already a member
//! (a member gets no second invitation), so it tells the inviter nothing about an
//! address; the invitee accepts with the link's single-use token.

use chrono::{DateTime, Duration, Utc};
use crust_domain::mail::Template;
use crust_domain::{OrgId, OrgRole, UserId};
use diesel::prelude::*;
use uuid::Uuid;

use crate::accounts::BAD_LINK;
use crate::actor::Actor;
use crate::email_tokens;
use crate::error::{DalError, DalResult};
use crate::models::parse_org_role;
use crate::orgs::{check, check_role_change, role_of};
use crate::outbox::{self, Letter};
use crate::schema::{invitations, memberships, users};
use crate::sessions::Authenticated;
use crate::users::PasswordChecked;
use crust_domain::Action;

/// How long an invitation link stays good.
pub const INVITATION_TTL: Duration = Duration::days(7);

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// An open invitation, as the organization's OWNERs and ADMINs see it.
#[derive(Clone, Debug, Queryable)]
pub struct Invitation {
    pub id: Uuid,
    pub org_id: Uuid,
    pub email: String,
    role: String,
    pub invited_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Invitation {
    pub fn role(&self) -> OrgRole {
        parse_org_role(&self.role)
    }
}

type Columns = (
    invitations::id,
    invitations::org_id,
    invitations::email,
    invitations::role,
    invitations::invited_by,
    invitations::created_at,
    invitations::expires_at,
);

const COLUMNS: Columns = (
    invitations::id,
    invitations::org_id,
    invitations::email,
    invitations::role,
    invitations::invited_by,
    invitations::created_at,
    invitations::expires_at,
);

/// What inviting did, for the audit record only: the caller answers the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invited {
    /// A link was queued (a new invitation, or an open one renewed).
    Sent(Uuid),
    /// The address is already a member: nothing was sent.
    AlreadyMember,
    /// The open invitation's message went out less than a minute ago: nothing changed
    /// (an inbox is not flooded however often someone asks).
    Throttled,
}

/// One message per invitation at most this often.
const RESEND_INTERVAL: Duration = Duration::minutes(1);
/// At most this many invitations sent by one person in a day (any organization): the
/// invitations are not a way to mail strangers in bulk.
pub const DAILY_INVITATIONS: i64 = 200;

fn manage(actor: &Actor, org: OrgId) -> DalResult<()> {
    check(
        actor,
        org,
        Action::ManageOrgMembers,
        "manage this organization's members",
    )
}

/// Invites an address to the organization with a role (only OWNERs may invite
/// OWNERs). Inviting an address with an open invitation renews it: new link, new
/// expiry, the new role; the old link is dead.
pub fn invite(
    conn: &mut PgConnection,
    actor: &Actor,
    org: OrgId,
    email: &str,
    role: OrgRole,
) -> DalResult<Invited> {
    check_role_change(actor, org, None, Some(role))?;
    let email = crust_domain::validate::email(email)?;
    conn.transaction(|conn| {
        let today: i64 = invitations::table
            .filter(invitations::invited_by.eq(actor.user_id().0))
            .filter(invitations::sent_at.gt(Utc::now() - Duration::days(1)))
            .count()
            .get_result(conn)?;
        if today >= DAILY_INVITATIONS {
            return Err(DalError::Conflict(format!(
                "you have sent {DAILY_INVITATIONS} invitations in the last 24 hours, the most one person may; try again tomorrow"
            )));
        }
        let member: Option<Uuid> = users::table
            .inner_join(memberships::table)
            .filter(memberships::org_id.eq(org.0))
            .filter(lower(users::email).eq(lower(&email)))
            .select(users::id)
            .first(conn)
            .optional()?;
        if member.is_some() {
            return Ok(Invited::AlreadyMember);
        }
        let (token, hash) = email_tokens::generate()?;
        let now = Utc::now();
        let expires = now + INVITATION_TTL;
        let open: Option<(Uuid, String, DateTime<Utc>)> = invitations::table
            .filter(invitations::org_id.eq(org.0))
            .filter(lower(invitations::email).eq(lower(&email)))
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null())
            .select((invitations::id, invitations::role, invitations::sent_at))
            .for_update()
            .first(conn)
            .optional()?;
        let id = match open {
            Some((id, open_role, sent_at)) => {
                // Renewing an OWNER invitation (even to a lower role) is an OWNER's call.
                check_role_change(actor, org, Some(parse_org_role(&open_role)), Some(role))?;
                if sent_at > now - RESEND_INTERVAL {
                    return Ok(Invited::Throttled);
                }
                diesel::update(invitations::table.find(id))
                    .set((
                        invitations::token_hash.eq(&hash),
                        invitations::role.eq(role.as_str()),
                        invitations::invited_by.eq(actor.user_id().0),
                        invitations::expires_at.eq(expires),
                        invitations::sent_at.eq(now),
                    ))
                    .execute(conn)?;
                id
            }
            None => {
                // Another request invited the address a moment ago: answer the same.
                let inserted = conn.transaction(|conn| {
                    diesel::insert_into(invitations::table)
                        .values((
                            invitations::org_id.eq(org.0),
                            invitations::email.eq(&email),
                            invitations::role.eq(role.as_str()),
                            invitations::token_hash.eq(&hash),
                            invitations::invited_by.eq(actor.user_id().0),
                            invitations::expires_at.eq(expires),
                        ))
                        .returning(invitations::id)
                        .get_result::<Uuid>(conn)
                        .map_err(DalError::from)
                });
                match inserted {
                    Ok(id) => id,
                    Err(DalError::Conflict(_)) => return Ok(Invited::Throttled),
                    Err(e) => return Err(e),
                }
            }
        };
        outbox::enqueue(conn, &letter(&email, &token))?;
        Ok(Invited::Sent(id))
    })
}

fn letter<'a>(email: &'a str, token: &'a str) -> Letter<'a> {
    Letter {
        template: Template::Invitation,
        recipient: email,
        user: None,
        name: None,
        token: Some(token),
    }
}

/// The organization's open invitations (expired ones too, until renewed or revoked),
/// newest first. OWNERs and ADMINs only.
pub fn list_open(conn: &mut PgConnection, actor: &Actor, org: OrgId) -> DalResult<Vec<Invitation>> {
    manage(actor, org)?;
    Ok(invitations::table
        .filter(invitations::org_id.eq(org.0))
        .filter(invitations::accepted_at.is_null())
        .filter(invitations::revoked_at.is_null())
        .order((invitations::created_at.desc(), invitations::id.desc()))
        .limit(1000)
        .select(COLUMNS)
        .load(conn)?)
}

/// An open invitation the actor may manage (else `NotFound`, like a missing one).
fn managed(conn: &mut PgConnection, actor: &Actor, id: Uuid) -> DalResult<Invitation> {
    let invitation: Invitation = invitations::table
        .find(id)
        .filter(invitations::accepted_at.is_null())
        .filter(invitations::revoked_at.is_null())
        .select(COLUMNS)
        .for_update()
        .first(conn)?;
    let org = OrgId(invitation.org_id);
    if actor.org_role(org).is_none() {
        return Err(DalError::NotFound);
    }
    check_role_change(actor, org, None, Some(invitation.role()))?;
    Ok(invitation)
}

/// Revokes an open invitation: its link is dead.
pub fn revoke(conn: &mut PgConnection, actor: &Actor, id: Uuid) -> DalResult<Invitation> {
    conn.transaction(|conn| {
        let invitation = managed(conn, actor, id)?;
        diesel::update(invitations::table.find(id))
            .set(invitations::revoked_at.eq(Utc::now()))
            .execute(conn)?;
        Ok(invitation)
    })
}

/// Sends an open invitation again with a new link (the old one is dead) and a new
/// expiry.
pub fn resend(conn: &mut PgConnection, actor: &Actor, id: Uuid) -> DalResult<Invitation> {
    conn.transaction(|conn| {
        managed(conn, actor, id)?;
        let sent_at: DateTime<Utc> = invitations::table
            .find(id)
            .select(invitations::sent_at)
            .first(conn)?;
        let now = Utc::now();
        if sent_at > now - RESEND_INTERVAL {
            return Err(DalError::Conflict(
                "this invitation was sent less than a minute ago; resend it later".into(),
            ));
        }
        let (token, hash) = email_tokens::generate()?;
        let invitation: Invitation = diesel::update(invitations::table.find(id))
            .set((
                invitations::token_hash.eq(&hash),
                invitations::invited_by.eq(actor.user_id().0),
                invitations::expires_at.eq(now + INVITATION_TTL),
                invitations::sent_at.eq(now),
            ))
            .returning(COLUMNS)
            .get_result(conn)?;
        outbox::enqueue(conn, &letter(&invitation.email, &token))?;
        Ok(invitation)
    })
}

/// Who accepts an invitation.
pub enum Acceptor<'a> {
    /// A signed-in user: must be the invited address's account.
    SignedIn(&'a Authenticated),
    /// Nobody signed in: the invited address gets a new account (its address counts as
    /// verified: the link proved it), unless it already has one.
    NewAccount {
        name: &'a str,
        password_hash: &'a str,
    },
}

/// What accepting did.
pub struct Accepted {
    pub invitation: Uuid,
    pub org: OrgId,
    pub user: UserId,
    pub role: OrgRole,
    /// For a new account: opens its first session.
    pub new_account: Option<PasswordChecked>,
}

/// Accepts an invitation with its link's token. A token that is unknown, spent,
/// revoked, expired or for another address than the signed-in user's all answer
/// [`BAD_LINK`].
pub fn accept(conn: &mut PgConnection, token: &str, acceptor: Acceptor<'_>) -> DalResult<Accepted> {
    conn.transaction(|conn| {
        let bad = || DalError::Invalid(BAD_LINK.into());
        let (id, org, email, role): (Uuid, Uuid, String, String) = invitations::table
            .filter(invitations::token_hash.eq(email_tokens::hash(token)))
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null())
            .filter(invitations::expires_at.gt(Utc::now()))
            .select((
                invitations::id,
                invitations::org_id,
                invitations::email,
                invitations::role,
            ))
            .for_update()
            .first(conn)
            .optional()?
            .ok_or_else(bad)?;
        let org = OrgId(org);
        let role = parse_org_role(&role);
        let account: Option<(Uuid, bool)> = users::table
            .filter(lower(users::email).eq(lower(&email)))
            .select((users::id, users::active))
            .first(conn)
            .optional()?;
        let (user, new_account) = match (acceptor, account) {
            (Acceptor::SignedIn(auth), Some((id, true))) if id == auth.user_id().0 => {
                (auth.user_id(), None)
            }
            (Acceptor::SignedIn(_), _) | (_, Some((_, false))) => return Err(bad()),
            (Acceptor::NewAccount { .. }, Some(_)) => {
                return Err(DalError::Invalid(
                    "this invitation is for an address that has an account: sign in with it, then accept the invitation".into(),
                ))
            }
            (
                Acceptor::NewAccount {
                    name,
                    password_hash,
                },
                None,
            ) => {
                let (user, proof) =
                    crate::users::insert_verified(conn, &email, name, password_hash)?;
                (UserId(user.id), Some(proof))
            }
        };
        // Accepting proves the address; verification links (which may carry a password
        // someone else chose at sign-up) die.
        diesel::update(users::table.find(user.0))
            .set(users::email_verified.eq(true))
            .execute(conn)?;
        email_tokens::kill(conn, email_tokens::Purpose::VerifyEmail, user)?;
        if role_of(conn, org, user.0)?.is_none() {
            diesel::insert_into(memberships::table)
                .values((
                    memberships::org_id.eq(org.0),
                    memberships::user_id.eq(user.0),
                    memberships::role.eq(role.as_str()),
                ))
                .execute(conn)?;
        }
        diesel::update(invitations::table.find(id))
            .set((
                invitations::accepted_at.eq(Utc::now()),
                invitations::accepted_by.eq(user.0),
            ))
            .execute(conn)?;
        Ok(Accepted {
            invitation: id,
            org,
            user,
            role,
            new_account,
        })
    })
}

/// Revokes the open invitations someone sent (their access ended: no one joins on the
/// word of a deactivated, offboarded or erased account). Returns how many.
pub(crate) fn revoke_pending_sent_by(conn: &mut PgConnection, user: UserId) -> DalResult<usize> {
    Ok(diesel::update(
        invitations::table
            .filter(invitations::invited_by.eq(user.0))
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null()),
    )
    .set(invitations::revoked_at.eq(Utc::now()))
    .execute(conn)?)
}
