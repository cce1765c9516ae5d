//! The object a mutation acts on, read from its arguments, and the object a create
//! mutation made.

use crust_dal::audit::{Target, TargetKind};
use serde_json::Value;
use uuid::Uuid;

/// Which argument names the object a mutation acts on, most specific first.
const TARGET_KEYS: [(&str, TargetKind); 11] = [
    ("attachmentId", TargetKind::Attachment),
    ("taskId", TargetKind::Task),
    ("commentId", TargetKind::Comment),
    ("boxId", TargetKind::Box),
    ("sliceId", TargetKind::Slice),
    ("projectId", TargetKind::Project),
    ("recipeId", TargetKind::Recipe),
    ("invitationId", TargetKind::Invitation),
    ("workspaceId", TargetKind::Workspace),
    ("organizationId", TargetKind::Organization),
    ("sessionId", TargetKind::Session),
];

/// Does `key` appear in `value`, at any depth?
pub(super) fn has_key(value: &Value, key: &str) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| k == key || has_key(v, key)),
        Value::Array(items) => items.iter().any(|v| has_key(v, key)),
        _ => false,
    }
}

/// Every string in `value` (at any depth) that is a UUID, deduplicated.
pub(super) fn ids_in(value: &Value, out: &mut Vec<Uuid>) {
    match value {
        Value::String(s) => {
            if let Ok(id) = s.parse::<Uuid>() {
                if !out.contains(&id) {
                    out.push(id);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| ids_in(v, out)),
        Value::Object(map) => map.values().for_each(|v| ids_in(v, out)),
        _ => {}
    }
}

/// The target a mutation names in its arguments (`input: {taskId …}` or top level).
pub fn target_of(arguments: &Value) -> Option<Target> {
    let scope = match arguments.get("input") {
        Some(input @ Value::Object(_)) => input,
        _ => arguments,
    };
    TARGET_KEYS.iter().find_map(|(key, kind)| {
        let id = scope.get(*key)?.as_str()?.parse::<Uuid>().ok()?;
        Some(Target::new(*kind, id))
    })
}

/// An object a create mutation made: it becomes the event's target.
pub trait Created {
    fn created(&self) -> Target;
}

macro_rules! created {
    ($($model:ty => $kind:ident),* $(,)?) => {
        $(impl Created for $model {
            fn created(&self) -> Target {
                Target::new(TargetKind::$kind, self.id)
            }
        })*
    };
}

created! {
    crust_dal::models::Organization => Organization,
    crust_dal::models::Workspace => Workspace,
    crust_dal::models::Project => Project,
    crust_dal::models::Slice => Slice,
    crust_dal::models::TaskBox => Box,
    crust_dal::models::Task => Task,
    crust_dal::models::Comment => Comment,
    crust_dal::models::Recipe => Recipe,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_most_specific_id_is_the_target() {
        let id = Uuid::new_v4();
        let other = Uuid::new_v4();
        let t = target_of(
            &json!({"input": {"projectId": other.to_string(), "taskId": id.to_string()}}),
        );
        assert_eq!(t, Some(Target::new(TargetKind::Task, id)));
        let t = target_of(&json!({"sessionId": id.to_string()}));
        assert_eq!(t, Some(Target::new(TargetKind::Session, id)));
        assert_eq!(target_of(&json!({"input": {"taskId": "not-a-uuid"}})), None);
        assert_eq!(target_of(&json!({"input": {"title": "x"}})), None);
    }

    #[test]
    fn every_id_at_any_depth_is_named() {
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let mut named = Vec::new();
        ids_in(
            &json!({"input": {"taskId": a.to_string(), "dependsOnTaskId": b.to_string(),
                "assigneeIds": [c.to_string(), a.to_string()], "title": "not an id", "n": 3}}),
            &mut named,
        );
        assert_eq!(named.len(), 3);
        assert!([a, b, c].iter().all(|id| named.contains(id)));
    }
}
