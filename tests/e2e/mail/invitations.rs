//! Invitations: the only way an organization gains a member through the API. The
//! inviter learns nothing about the address; the invitee accepts with the link.

use crust_e2e::mail::SmtpPeer;
use crust_e2e::{error_code, session_from, Session, TestApp, TEST_PASSWORD};
use serde_json::{json, Value};

use super::{app_with, assert_not_in_audit, message, outbox_drained, remember};

const INVITE: &str = "mutation($o: ID!, $e: String!, $r: OrgRole!) { inviteToOrganization(input: {organizationId: $o, email: $e, role: $r}) { email expiresAt } }";
const ACCEPT: &str = "mutation($i: AcceptInvitationInput!) { acceptInvitation(input: $i) { organizationId session { accessToken refreshToken user { id email } } } }";
const PENDING: &str =
    "query($o: ID!) { organizationInvitations(organizationId: $o) { id email role expired } }";

async fn invite(app: &TestApp, who: &Session, org: &str, email: &str, role: &str) -> Value {
    app.gql(
        Some(&who.access),
        INVITE,
        json!({ "o": org, "e": email, "r": role }),
    )
    .await
}

async fn accept(app: &TestApp, who: Option<&Session>, input: Value) -> Value {
    app.gql(
        who.map(|s| s.access.as_str()),
        ACCEPT,
        json!({ "i": input }),
    )
    .await
}

fn shape(body: &Value) -> Value {
    // What the inviter sees, without the clock.
    let mut b = body.clone();
    b["data"]["inviteToOrganization"]["expiresAt"] = Value::Null;
    b
}

#[tokio::test]
async fn inviting_tells_the_inviter_nothing_about_the_address() {
    let peer = SmtpPeer::start();
    let app = app_with(&peer).await;
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Acme").await;
    let member = app.user("member").await;
    app.add_org_member(&owner, &org, &member, "MEMBER").await;
    let outsider = app.user("outsider").await;

    let unknown = invite(&app, &owner, &org, "nobody@example.test", "MEMBER").await;
    let has_account = invite(&app, &owner, &org, &outsider.email, "MEMBER").await;
    let already = invite(&app, &owner, &org, &member.email, "MEMBER").await;
    assert!(unknown.get("errors").is_none(), "{unknown}");
    assert_eq!(
        shape(&unknown)["data"]["inviteToOrganization"]["email"],
        "nobody@example.test"
    );
    for other in [&has_account, &already] {
        assert_eq!(
            shape(other)["data"]["inviteToOrganization"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            shape(&unknown)["data"]["inviteToOrganization"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>()
        );
        assert!(other.get("errors").is_none(), "{other}");
    }
    peer.wait_for("nobody@example.test", 1).await;
    peer.wait_for(&outsider.email, 1).await;
    outbox_drained(&app).await;
    assert!(
        peer.to(&member.email).is_empty(),
        "a member gets no second invitation"
    );

    // Only OWNERs and ADMINs invite; only OWNERs invite OWNERs.
    let by_member = invite(&app, &member, &org, "x@example.test", "MEMBER").await;
    assert_eq!(error_code(&by_member), Some("FORBIDDEN"));
    let listed_by_member = app
        .gql(Some(&member.access), PENDING, json!({ "o": org }))
        .await;
    assert_eq!(
        error_code(&listed_by_member),
        Some("FORBIDDEN"),
        "{listed_by_member}"
    );
    let admin = app.user("admin").await;
    app.add_org_member(&owner, &org, &admin, "ADMIN").await;
    assert_eq!(
        error_code(&invite(&app, &admin, &org, "y@example.test", "OWNER").await),
        Some("FORBIDDEN")
    );
    assert!(invite(&app, &admin, &org, "y@example.test", "GUEST")
        .await
        .get("errors")
        .is_none());

    // The message carries no organization data: only fixed text and the link.
    let mail = &peer.wait_for("nobody@example.test", 1).await[0];
    assert!(!mail.shows("Acme"));
    assert_eq!(mail.subject, "You are invited to Crust");
    remember(&mail.token());
}

#[tokio::test]
async fn a_new_address_accepts_by_creating_its_account_once() {
    let peer = SmtpPeer::start();
    let app = app_with(&peer).await;
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Acme").await;
    invite(&app, &owner, &org, "Newbie@Example.test", "MEMBER").await;
    let pending = app.ok(&owner, PENDING, json!({ "o": org })).await;
    assert_eq!(
        pending["organizationInvitations"][0]["email"],
        "Newbie@Example.test"
    );
    assert_eq!(pending["organizationInvitations"][0]["role"], "MEMBER");
    let token = peer.wait_for("newbie@example.test", 1).await[0].token();
    remember(&token);

    let missing = accept(&app, None, json!({ "token": token })).await;
    assert!(message(&missing).contains("name and password"), "{missing}");
    let joined = accept(
        &app,
        None,
        json!({ "token": token, "name": "Newbie", "password": TEST_PASSWORD }),
    )
    .await;
    assert_eq!(
        joined["data"]["acceptInvitation"]["organizationId"],
        org.as_str(),
        "{joined}"
    );
    let session = session_from(&joined["data"]["acceptInvitation"]["session"]).unwrap();
    let mine = app
        .ok(
            &session,
            "query($o: ID!) { organization(id: $o) { viewerRole } }",
            json!({ "o": org }),
        )
        .await;
    assert_eq!(mine["organization"]["viewerRole"], "MEMBER");
    // The address counts as verified: login works at once.
    assert!(
        app.login("newbie@example.test", TEST_PASSWORD).await["data"]["login"]["accessToken"]
            .is_string()
    );
    // Spent; and the invitation is no longer pending.
    let again = accept(
        &app,
        None,
        json!({ "token": token, "name": "Again", "password": TEST_PASSWORD }),
    )
    .await;
    assert_eq!(error_code(&again), Some("BAD_USER_INPUT"));
    assert_eq!(
        app.ok(&owner, PENDING, json!({ "o": org })).await["organizationInvitations"],
        json!([])
    );
    assert_not_in_audit(&app, &token);
}

#[tokio::test]
async fn an_existing_account_accepts_signed_in_as_the_invited_address_only() {
    let peer = SmtpPeer::start();
    let app = app_with(&peer).await;
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Acme").await;
    let invitee = app.user("invitee").await;
    let intruder = app.user("intruder").await;
    invite(&app, &owner, &org, &invitee.email, "ADMIN").await;
    let token = peer.wait_for(&invitee.email, 1).await[0].token();
    remember(&token);

    let garbage = accept(&app, Some(&intruder), json!({ "token": "garbage" })).await;
    let foreign = accept(&app, Some(&intruder), json!({ "token": token })).await;
    assert_eq!(error_code(&foreign), Some("BAD_USER_INPUT"));
    assert_eq!(
        message(&foreign),
        message(&garbage),
        "another address's token answers like garbage"
    );
    // Anonymous with a password cannot make a second account for the address.
    let anon = accept(
        &app,
        None,
        json!({ "token": token, "name": "Dup", "password": TEST_PASSWORD }),
    )
    .await;
    assert!(message(&anon).contains("sign in"), "{anon}");

    let joined = accept(&app, Some(&invitee), json!({ "token": token })).await;
    assert_eq!(
        joined["data"]["acceptInvitation"]["organizationId"],
        org.as_str(),
        "{joined}"
    );
    assert!(joined["data"]["acceptInvitation"]["session"].is_null());
    let role = app
        .ok(
            &invitee,
            "query($o: ID!) { organization(id: $o) { viewerRole } }",
            json!({ "o": org }),
        )
        .await;
    assert_eq!(role["organization"]["viewerRole"], "ADMIN");
}

#[tokio::test]
async fn revoked_resent_and_expired_invitations_kill_their_links() {
    let peer = SmtpPeer::start();
    let app = app_with(&peer).await;
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Acme").await;
    let bad = message(
        &accept(
            &app,
            None,
            json!({ "token": "garbage", "name": "N", "password": TEST_PASSWORD }),
        )
        .await,
    );

    // Revoked.
    invite(&app, &owner, &org, "revoked@example.test", "MEMBER").await;
    let token = peer.wait_for("revoked@example.test", 1).await[0].token();
    remember(&token);
    let id = app.ok(&owner, PENDING, json!({ "o": org })).await["organizationInvitations"][0]["id"]
        .clone();
    app.ok(
        &owner,
        "mutation($i: ID!) { revokeInvitation(input: {invitationId: $i}) { revokedInvitationId } }",
        json!({ "i": id }),
    )
    .await;
    let body = accept(
        &app,
        None,
        json!({ "token": token, "name": "N", "password": TEST_PASSWORD }),
    )
    .await;
    assert_eq!(message(&body), bad);

    // Resent: the old link dies, the new one works.
    invite(&app, &owner, &org, "resent@example.test", "MEMBER").await;
    let old = peer.wait_for("resent@example.test", 1).await[0].token();
    remember(&old);
    let id = app.ok(&owner, PENDING, json!({ "o": org })).await["organizationInvitations"][0]["id"]
        .clone();
    // Not twice a minute: the invitee's inbox is not flooded.
    let resend =
        "mutation($i: ID!) { resendInvitation(input: {invitationId: $i}) { invitation { id } } }";
    let early = app
        .gql(Some(&owner.access), resend, json!({ "i": id }))
        .await;
    assert_eq!(error_code(&early), Some("CONFLICT"));
    assert!(
        message(&early).contains("less than a minute ago"),
        "{early}"
    );
    let mut conn = app.db.connect();
    crust_e2e::db::texts(&mut conn, "UPDATE invitations SET sent_at = sent_at - interval '2 minutes' WHERE email = $1 RETURNING id::text AS v", "resent@example.test");
    app.ok(&owner, resend, json!({ "i": id })).await;
    let mails = peer.wait_for("resent@example.test", 2).await;
    let new = mails.iter().map(|m| m.token()).find(|t| *t != old).unwrap();
    remember(&new);
    assert_eq!(
        message(
            &accept(
                &app,
                None,
                json!({ "token": old, "name": "N", "password": TEST_PASSWORD })
            )
            .await
        ),
        bad
    );
    assert!(accept(
        &app,
        None,
        json!({ "token": new, "name": "N", "password": TEST_PASSWORD })
    )
    .await["data"]["acceptInvitation"]["session"]
        .is_object());

    // Expired.
    invite(&app, &owner, &org, "late@example.test", "MEMBER").await;
    let token = peer.wait_for("late@example.test", 1).await[0].token();
    remember(&token);
    let mut conn = app.db.connect();
    crust_e2e::db::texts(&mut conn, "UPDATE invitations SET expires_at = now() - interval '1 second' WHERE email = $1 RETURNING id::text AS v", "late@example.test");
    let pending = app.ok(&owner, PENDING, json!({ "o": org })).await;
    assert_eq!(pending["organizationInvitations"][0]["expired"], true);
    assert_eq!(
        message(
            &accept(
                &app,
                None,
                json!({ "token": token, "name": "N", "password": TEST_PASSWORD })
            )
            .await
        ),
        bad
    );

    // Each step is in the organization's audit log.
    let actions = app
        .ok(
            &owner,
            "query($o: ID!) { auditEvents(organizationId: $o, first: 50) { nodes { action } } }",
            json!({ "o": org }),
        )
        .await;
    let actions: Vec<&str> = actions["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["action"].as_str().unwrap())
        .collect();
    for a in [
        "inviteToOrganization",
        "revokeInvitation",
        "resendInvitation",
        "acceptInvitation",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
}

#[tokio::test]
async fn inviting_again_and_again_floods_no_inbox_and_an_admin_cannot_downgrade_an_owner_invitation(
) {
    let peer = SmtpPeer::start();
    let app = app_with(&peer).await;
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Acme").await;
    for _ in 0..5 {
        let body = invite(&app, &owner, &org, "spammed@example.test", "MEMBER").await;
        assert!(body.get("errors").is_none(), "{body}");
    }
    outbox_drained(&app).await;
    assert_eq!(peer.wait_for("spammed@example.test", 1).await.len(), 1);

    let admin = app.user("admin").await;
    app.add_org_member(&owner, &org, &admin, "ADMIN").await;
    invite(&app, &owner, &org, "heir@example.test", "OWNER").await;
    let mut conn = app.db.connect();
    crust_e2e::db::texts(&mut conn, "UPDATE invitations SET sent_at = sent_at - interval '2 minutes' WHERE email = $1 RETURNING id::text AS v", "heir@example.test");
    let downgrade = invite(&app, &admin, &org, "heir@example.test", "GUEST").await;
    assert_eq!(error_code(&downgrade), Some("FORBIDDEN"), "{downgrade}");
    let pending = app.ok(&owner, PENDING, json!({ "o": org })).await;
    let heir = pending["organizationInvitations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["email"] == "heir@example.test")
        .unwrap()
        .clone();
    assert_eq!(heir["role"], "OWNER");
}

#[tokio::test]
async fn one_person_sends_at_most_a_daily_number_of_invitations() {
    let peer = SmtpPeer::start();
    let app = app_with(&peer).await;
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Acme").await;
    // As if the day's invitations had been sent already.
    let mut conn = app.db.connect();
    crust_e2e::db::texts(&mut conn, "INSERT INTO invitations (org_id, email, role, token_hash, invited_by, expires_at) SELECT o.id, 'bulk' || i || '@example.test', 'MEMBER', sha256(('t' || i)::bytea), u.id, now() + interval '7 days' FROM organizations o, users u, generate_series(1, 200) i WHERE u.id::text = $1 AND o.name = 'Acme' RETURNING id::text AS v", &owner.id);
    let refused = invite(&app, &owner, &org, "one-more@example.test", "MEMBER").await;
    assert_eq!(error_code(&refused), Some("CONFLICT"), "{refused}");
    assert!(
        message(&refused).contains("200 invitations in the last 24 hours"),
        "{refused}"
    );
}
