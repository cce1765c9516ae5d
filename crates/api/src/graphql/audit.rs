//! The audit log in GraphQL: the arguments each mutation is recorded with (the
//! mutation root records them, see `root`), the organization's `auditEvents`, the
//! caller's sessions and `revokeSession`, and `changePassword`.

use async_graphql::parser::types::Field;
use async_graphql::{Context, Enum, InputObject, Object, Result, Value, Variables, ID};
use chrono::{DateTime, Utc};
use crust_dal::audit::{Event, EventFilter};
use crust_domain::audit::Outcome;
use crust_domain::OrgId;

use super::connection::{paged, Conn};
use super::ids::{id, parse};
use crate::audit::Recorder;
use crate::db::Db;
use crate::error::ApiError;

/// The request's variables, for recording the arguments each mutation was sent.
#[derive(Clone, Default)]
pub struct RequestVariables(pub Variables);

/// A field's arguments as JSON, variables filled in (a missing one is null).
pub(crate) fn arguments(field: &Field, variables: &Variables) -> serde_json::Value {
    let map = field
        .arguments
        .iter()
        .map(|(name, value)| {
            let value = value
                .node
                .clone()
                .into_const_with(|var| {
                    Ok::<_, std::convert::Infallible>(
                        variables.get(&var).cloned().unwrap_or(Value::Null),
                    )
                })
                .ok()
                .and_then(|v| v.into_json().ok())
                .unwrap_or(serde_json::Value::Null);
            (name.node.to_string(), value)
        })
        .collect();
    serde_json::Value::Object(map)
}

/// Records a mutation field refused before its document was validated (an anonymous
/// caller naming a field that needs a token) as the gate's refusal would be recorded.
pub(crate) async fn record_refused_field(
    recorder: &Recorder,
    db: &Db,
    field: &Field,
    variables: &Variables,
    code: &str,
) {
    if !recorder.enabled() {
        return;
    }
    recorder.begin(field.name.node.as_str(), arguments(field, variables));
    if let Some(pending) = recorder.finish() {
        let outcome = Outcome::of_error_code(code);
        recorder
            .record_unfinished(db, pending, outcome, Some(code.to_owned()))
            .await;
    }
}

/// How a recorded action ended.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum AuditOutcome {
    Ok,
    /// Refused for who asked (unauthenticated, forbidden, not found, rate limited).
    Forbidden,
    /// Refused for what was sent (bad input, conflict).
    Invalid,
    Error,
}

/// One entry of the audit log.
pub struct AuditEvent(pub(super) Event);

#[Object]
impl AuditEvent {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    /// The event's place in its chain (its organization's, or the global one).
    async fn sequence(&self) -> i64 {
        self.0.seq
    }
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
    /// The mutation's name (`updateTask`), `read` for a need-to-know object served,
    /// or a sign-in event: `login`, `logout`, `refreshSession`, `refreshTokenReused`,
    /// `changePassword`, `accountLocked`, `loginRateLimited`, `rateLimited`, `signUp`.
    async fn action(&self) -> &str {
        &self.0.action
    }
    async fn outcome(&self) -> AuditOutcome {
        match self.0.outcome.as_str() {
            "ok" => AuditOutcome::Ok,
            "forbidden" => AuditOutcome::Forbidden,
            "invalid" => AuditOutcome::Invalid,
            _ => AuditOutcome::Error,
        }
    }
    /// The error code the caller got, for a refusal.
    async fn error_code(&self) -> Option<&str> {
        self.0.error_code.as_deref()
    }
    /// Why a sign-in failed (`wrong_password`, `unknown_account`, `inactive_account`,
    /// `account_locked`) and similar detail.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// Who acted (none: anonymous).
    async fn actor_id(&self) -> Option<ID> {
        self.0.actor_id.map(id)
    }
    async fn session_id(&self) -> Option<ID> {
        self.0.session_id.map(id)
    }
    /// The account the event concerns: the actor's own, or the account a sign-in
    /// attempt named.
    async fn subject_user_id(&self) -> Option<ID> {
        self.0.subject_user_id.map(id)
    }
    async fn organization_id(&self) -> Option<ID> {
        self.0.organization_id.map(id)
    }
    /// `Task`, `Project`, `Box`, `Slice`, `Comment`, `Recipe`, `Workspace`,
    /// `Organization`, `Session` or `User`.
    async fn target_type(&self) -> Option<&str> {
        self.0.target_type.as_deref()
    }
    async fn target_id(&self) -> Option<ID> {
        self.0.target_id.map(id)
    }
    /// The arguments sent, as JSON text, with every value under a key naming a
    /// password, token, secret, authorization or cookie replaced by "[REDACTED]".
    async fn variables(&self) -> Option<&str> {
        self.0.variables.as_deref()
    }
    /// The request's id: the same as in its `X-Request-Id` header and the server log.
    async fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }
    /// The client's IP (behind trusted proxies, the client they name). After the
    /// retention period only its network remains.
    async fn ip(&self) -> Option<&str> {
        self.0.ip.as_deref()
    }
    async fn user_agent(&self) -> Option<&str> {
        self.0.user_agent.as_deref()
    }
    /// When the IP and user agent were pseudonymized.
    async fn pruned_at(&self) -> Option<DateTime<Utc>> {
        self.0.pruned_at
    }
    /// SHA-256 chain link, hex: over the previous event's hash and this content.
    async fn hash(&self) -> String {
        crust_domain::audit::hex(&self.0.hash)
    }
}

#[derive(InputObject, Default)]
pub struct AuditEventFilter {
    pub actor_id: Option<ID>,
    /// An action name, e.g. `updateTask` or `login`.
    pub action: Option<String>,
    pub target_id: Option<ID>,
    /// Events at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Events before this time.
    pub to: Option<DateTime<Utc>>,
}

impl AuditEventFilter {
    fn into_dal(self) -> Result<EventFilter, ApiError> {
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from > to {
                return Err(ApiError::BadUserInput(
                    "from: must not be after `to`; swap the two times".into(),
                ));
            }
        }
        Ok(EventFilter {
            actor: self
                .actor_id
                .map(|a| parse::<crust_domain::UserId>("actorId", &a).map(|u| u.0))
                .transpose()?,
            action: self.action,
            target: self
                .target_id
                .map(|t| parse::<uuid::Uuid>("targetId", &t))
                .transpose()?,
            from: self.from,
            to: self.to,
        })
    }
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The organization's audit log, newest first (org OWNER or ADMIN). Events about
    /// a need-to-know (SECRET) object are listed only to those who may see it.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        organization_id: ID,
        filter: Option<AuditEventFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<AuditEvent>> {
        let org: OrgId = parse("organizationId", &organization_id)?;
        let filter = filter.unwrap_or_default().into_dal()?;
        let fetch = move |c: &mut _, a: &_, p| crust_dal::audit::for_org(c, a, org, &filter, p);
        Ok(paged(ctx, first, after, fetch, AuditEvent).await?)
    }
}
