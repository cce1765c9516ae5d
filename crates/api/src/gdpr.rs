//! The JSON form of a person's data export (`exportMyData`, `crust user export`): one
//! document a person can read and another service can import, with what was withheld
//! counted rather than silently left out.

use crust_dal::gdpr::{PersonalData, MAX_EXPORTED_EVENTS};
use serde_json::{json, Value};

/// The export's format version: bumped when a field changes meaning or goes away.
pub const FORMAT: u32 = 1;

pub fn personal_data_json(d: &PersonalData) -> Value {
    let p = &d.profile;
    json!({
        "format": FORMAT,
        "exportedAt": chrono::Utc::now(),
        "profile": {
            "id": p.id,
            "email": p.email,
            "name": p.name,
            "active": p.active,
            "emailVerified": p.email_verified,
            "emailWhenTaskReady": p.email_task_ready,
            "createdAt": p.created_at,
        },
        "memberships": d.memberships.iter().map(|m| json!({
            "organizationId": m.organization_id,
            "organization": m.organization,
            "role": m.role.as_str(),
            "since": m.since,
        })).collect::<Vec<_>>(),
        "projectRoles": d.project_roles.iter().map(|r| json!({
            "projectId": r.project_id,
            "project": r.project,
            "role": r.role,
            "since": r.since,
        })).collect::<Vec<_>>(),
        "sessions": d.sessions.iter().map(|s| json!({
            "id": s.id,
            "createdAt": s.created_at,
            "lastRefreshedAt": s.last_refreshed_at,
            "expiresAt": s.expires_at,
            "revokedAt": s.revoked_at,
            "revokedReason": s.revoked_reason,
            "ip": s.ip,
            "userAgent": s.user_agent,
        })).collect::<Vec<_>>(),
        "tasks": d.tasks.iter().map(|t| json!({
            "id": t.id,
            "projectId": t.project_id,
            "title": t.title,
            "status": t.status,
            "createdByYou": t.created_by_them,
            "assignedToYou": t.assigned_to_them,
        })).collect::<Vec<_>>(),
        "comments": d.comments.iter().map(|c| json!({
            "id": c.id,
            "taskId": c.task_id,
            "body": c.body,
            "createdAt": c.created_at,
            "editedAt": c.edited_at,
        })).collect::<Vec<_>>(),
        "auditEvents": d.audit_events.iter().map(|e| json!({
            "id": e.id,
            "occurredAt": e.occurred_at,
            "action": e.action,
            "outcome": e.outcome,
            "organizationId": e.organization_id,
            "targetType": e.target_type,
            "targetId": e.target_id,
            "byYou": e.by_them,
            "ip": e.ip,
            "userAgent": e.user_agent,
        })).collect::<Vec<_>>(),
        "auditEventsTotal": d.audit_events_total,
        "auditEventsListedAtMost": MAX_EXPORTED_EVENTS,
        "withheld": {
            "why": "tasks and comments on tasks you may no longer see belong to their \
                    organization now, and need-to-know audit events are listed only to \
                    those cleared for them: ask that organization's OWNER or ADMIN",
            "tasks": d.withheld_tasks,
            "comments": d.withheld_comments,
            "auditEvents": d.withheld_audit_events,
        },
    })
}
