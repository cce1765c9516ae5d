//! Diesel table definitions, written to match `migrations/` (a test runs every query
//! against the migrated database, so a drift fails there).

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        name -> Text,
        password_hash -> Text,
        active -> Bool,
        email_verified -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        email_task_ready -> Bool,
        erased_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    outbox (id) {
        id -> Uuid,
        template -> Text,
        recipient -> Text,
        user_id -> Nullable<Uuid>,
        greeting_name -> Nullable<Text>,
        token -> Nullable<Text>,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    email_tokens (token_hash) {
        token_hash -> Bytea,
        purpose -> Text,
        user_id -> Uuid,
        email -> Text,
        password_hash -> Nullable<Text>,
        name -> Nullable<Text>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    invitations (id) {
        id -> Uuid,
        org_id -> Uuid,
        email -> Text,
        role -> Text,
        token_hash -> Bytea,
        invited_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        sent_at -> Timestamptz,
        expires_at -> Timestamptz,
        accepted_at -> Nullable<Timestamptz>,
        accepted_by -> Nullable<Uuid>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    notifications (id) {
        id -> Uuid,
        user_id -> Uuid,
        kind -> Text,
        task_id -> Uuid,
        created_at -> Timestamptz,
        read_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        user_id -> Uuid,
        created_at -> Timestamptz,
        last_refreshed_at -> Timestamptz,
        absolute_expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        revoked_reason -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Bytea,
        session_id -> Uuid,
        created_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    organizations (id) {
        id -> Uuid,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    memberships (org_id, user_id) {
        org_id -> Uuid,
        user_id -> Uuid,
        role -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    workspaces (id) {
        id -> Uuid,
        org_id -> Uuid,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    projects (id) {
        id -> Uuid,
        org_id -> Uuid,
        workspace_id -> Nullable<Uuid>,
        name -> Text,
        description -> Text,
        status -> Text,
        visibility -> Text,
        classification -> Text,
        start_date -> Nullable<Date>,
        due_date -> Nullable<Date>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    project_members (project_id, user_id) {
        project_id -> Uuid,
        user_id -> Uuid,
        role -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    slices (id) {
        id -> Uuid,
        project_id -> Uuid,
        name -> Text,
        position -> Int4,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    boxes (id) {
        id -> Uuid,
        slice_id -> Uuid,
        project_id -> Uuid,
        name -> Text,
        position -> Int4,
        created_at -> Timestamptz,
        board_column -> Bool,
        done_column -> Bool,
    }
}

diesel::table! {
    tasks (id) {
        id -> Uuid,
        org_id -> Uuid,
        project_id -> Uuid,
        box_id -> Nullable<Uuid>,
        title -> Text,
        description -> Text,
        status -> Text,
        progress -> Int2,
        classification -> Text,
        start_date -> Nullable<Date>,
        due_date -> Nullable<Date>,
        duration_days -> Nullable<Int4>,
        position -> Int4,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        recipe_role -> Nullable<Text>,
    }
}

diesel::table! {
    task_assignees (task_id, user_id) {
        task_id -> Uuid,
        user_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    task_grants (task_id, user_id) {
        task_id -> Uuid,
        user_id -> Uuid,
        access -> Text,
        granted_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    task_dependencies (task_id, depends_on_task_id) {
        task_id -> Uuid,
        depends_on_task_id -> Uuid,
        org_id -> Uuid,
        kind -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    comments (id) {
        id -> Uuid,
        task_id -> Uuid,
        org_id -> Uuid,
        author_id -> Nullable<Uuid>,
        body -> Text,
        created_at -> Timestamptz,
        edited_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    recipes (id) {
        id -> Uuid,
        org_id -> Uuid,
        workspace_id -> Nullable<Uuid>,
        name -> Text,
        description -> Text,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    recipe_slices (id) {
        id -> Uuid,
        recipe_id -> Uuid,
        name -> Text,
        position -> Int4,
    }
}

diesel::table! {
    recipe_boxes (id) {
        id -> Uuid,
        slice_id -> Uuid,
        name -> Text,
        position -> Int4,
        board_column -> Bool,
        done_column -> Bool,
    }
}

diesel::table! {
    recipe_tasks (id) {
        id -> Uuid,
        box_id -> Uuid,
        title -> Text,
        description -> Text,
        position -> Int4,
        start_offset_days -> Nullable<Int4>,
        due_offset_days -> Nullable<Int4>,
        duration_days -> Nullable<Int4>,
        role -> Nullable<Text>,
    }
}

diesel::table! {
    recipe_task_dependencies (task_id, depends_on_task_id) {
        task_id -> Uuid,
        depends_on_task_id -> Uuid,
        kind -> Text,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Uuid,
        chain -> Uuid,
        seq -> Int8,
        occurred_at -> Timestamptz,
        action -> Text,
        outcome -> Text,
        error_code -> Nullable<Text>,
        reason -> Nullable<Text>,
        actor_id -> Nullable<Uuid>,
        session_id -> Nullable<Uuid>,
        subject_user_id -> Nullable<Uuid>,
        organization_id -> Nullable<Uuid>,
        target_type -> Nullable<Text>,
        target_id -> Nullable<Uuid>,
        need_to_know -> Bool,
        variables -> Nullable<Text>,
        request_id -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        client_salt -> Nullable<Bytea>,
        ip_digest -> Bytea,
        user_agent_digest -> Bytea,
        pruned_at -> Nullable<Timestamptz>,
        prev_hash -> Bytea,
        hash -> Bytea,
        need_to_know_ids -> Array<Uuid>,
    }
}

diesel::table! {
    audit_chain_heads (chain) {
        chain -> Uuid,
        seq -> Int8,
        hash -> Bytea,
    }
}

diesel::table! {
    attachments (id) {
        id -> Uuid,
        task_id -> Uuid,
        org_id -> Uuid,
        uploader_id -> Nullable<Uuid>,
        name -> Text,
        content_type -> Text,
        size_bytes -> Int8,
        storage_key -> Text,
        key_id -> Text,
        wrapped_key -> Bytea,
        nonce_prefix -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    blob_purges (storage_key) {
        storage_key -> Text,
        not_before -> Timestamptz,
        attempts -> Int4,
        last_error -> Nullable<Text>,
    }
}

diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(memberships -> organizations (org_id));
diesel::joinable!(project_members -> users (user_id));
diesel::joinable!(task_assignees -> users (user_id));
diesel::joinable!(task_grants -> tasks (task_id));
diesel::joinable!(attachments -> tasks (task_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(sessions -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    refresh_tokens,
    organizations,
    memberships,
    workspaces,
    projects,
    project_members,
    slices,
    boxes,
    tasks,
    task_assignees,
    task_grants,
    task_dependencies,
    comments,
    recipes,
    recipe_slices,
    recipe_boxes,
    recipe_tasks,
    recipe_task_dependencies,
    audit_events,
    audit_chain_heads,
    outbox,
    email_tokens,
    invitations,
    notifications,
    attachments,
    blob_purges,
);
