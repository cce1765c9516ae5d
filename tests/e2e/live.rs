//! Live boards over graphql-ws (`/graphql/ws`), from a real WebSocket client: what a
//! follower is told and never told, two server instances telling each other's changes
//! through PostgreSQL, the socket closing when the session ends, and the limits.

use std::time::Duration;

use crust_e2e::scenario::Scenario;
use crust_e2e::{Session, TestApp};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Socket(Ws);

/// What arrived: a message, or the close frame's code and reason.
#[derive(Debug)]
enum Got {
    Message(Value),
    Closed(u16, String),
    Nothing,
}

async fn open(base: &str, origin: Option<&str>) -> Result<Socket, u16> {
    let url = format!("{}/graphql/ws", base.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("Origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => Ok(Socket(ws)),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
        Err(e) => panic!("cannot connect: {e}"),
    }
}

impl Socket {
    async fn send(&mut self, message: Value) {
        self.0
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
    }

    /// The next message or close, waiting at most `wait`.
    async fn next_within(&mut self, wait: Duration) -> Got {
        loop {
            match tokio::time::timeout(wait, self.0.next()).await {
                Err(_) => return Got::Nothing,
                Ok(None) => return Got::Closed(1006, String::new()),
                Ok(Some(Err(_))) => return Got::Closed(1006, String::new()),
                Ok(Some(Ok(Message::Text(text)))) => {
                    return Got::Message(serde_json::from_str(&text).unwrap())
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return match frame {
                        Some(f) => Got::Closed(u16::from(f.code), f.reason.to_string()),
                        None => Got::Closed(1005, String::new()),
                    }
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// The close frame, if one comes (or came) before the socket is quiet for `quiet`;
    /// messages on the way are passed over.
    async fn closed_within(&mut self, quiet: Duration) -> Option<(u16, String)> {
        loop {
            match self.next_within(quiet).await {
                Got::Closed(code, reason) => return Some((code, reason)),
                Got::Message(_) => continue,
                Got::Nothing => return None,
            }
        }
    }

    async fn next(&mut self) -> Value {
        match self.next_within(Duration::from_secs(10)).await {
            Got::Message(m) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// The close frame, letting pass the messages sent before it.
    async fn closed(&mut self) -> (u16, String) {
        for _ in 0..10 {
            match self.next_within(Duration::from_secs(10)).await {
                Got::Closed(code, reason) => return (code, reason),
                Got::Message(_) => continue,
                Got::Nothing => break,
            }
        }
        panic!("expected the socket to close");
    }

    /// Nothing arrives for a while.
    async fn quiet(&mut self) {
        match self.next_within(Duration::from_millis(1500)).await {
            Got::Nothing => {}
            other => panic!("expected nothing, got {other:?}"),
        }
    }

    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({
            "id": id, "type": "subscribe",
            "payload": { "query": query, "variables": variables },
        }))
        .await;
    }
}

/// A socket signed in as `who`.
async fn signed_in(base: &str, who: &Session) -> Socket {
    let mut socket = open(base, None).await.unwrap();
    socket
        .send(json!({ "type": "connection_init", "payload": { "accessToken": who.access } }))
        .await;
    assert_eq!(socket.next().await["type"], "connection_ack");
    socket
}

const BOARD: &str = "subscription($b: ID) { boardChanged(boxId: $b) { kind taskId task { id title status boxId } } }";

async fn rename(app: &TestApp, who: &Session, base: &str, task: &str, title: &str) {
    let res = app
        .http
        .post(format!("{base}/graphql"))
        .bearer_auth(&who.access)
        .json(&json!({
            "query": "mutation($i: UpdateTaskInput!) { updateTask(input: $i) { task { id } } }",
            "variables": { "i": { "taskId": task, "title": title } },
        }))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body}");
}

/// Renames `task` until the follower hears of it (a subscription is in place only once
/// the server has read its `subscribe`, which nothing acknowledges), then lets any
/// straggling echo of the nudges pass. Returns the last title told.
async fn until_told(
    app: &TestApp,
    who: &Session,
    base: &str,
    task: &str,
    socket: &mut Socket,
) -> String {
    for i in 0..40 {
        rename(app, who, base, task, &format!("Nudge {i}")).await;
        if let Got::Message(m) = socket.next_within(Duration::from_millis(500)).await {
            let mut title = change(&m)["task"]["title"].as_str().unwrap().to_owned();
            while let Got::Message(m) = socket.next_within(Duration::from_millis(700)).await {
                title = change(&m)["task"]["title"].as_str().unwrap().to_owned();
            }
            return title;
        }
    }
    panic!("the follower never heard of a change");
}

/// An owner and their organization, a member "bob", a project all of it may read, and
/// a task on the project's board.
pub(crate) async fn board_with_bob(app: &TestApp) -> Scenario<'_> {
    Scenario::new(app)
        .await
        .with_member("bob", "MEMBER")
        .await
        .with_project("ORGANIZATION", "CONFIDENTIAL")
        .await
        .with_task("CONFIDENTIAL")
        .await
}

/// A message's type and subscription id.
fn kind_and_id(message: &Value) -> (Option<&str>, Option<&str>) {
    (message["type"].as_str(), message["id"].as_str())
}

/// The message of an `error` message's first error.
fn refusal(message: &Value) -> &str {
    assert_eq!(message["type"], "error", "{message}");
    message["payload"][0]["message"]
        .as_str()
        .unwrap_or_default()
}

/// The change a `next` message carries.
fn change(message: &Value) -> &Value {
    assert_eq!(message["type"], "next", "{message}");
    &message["payload"]["data"]["boardChanged"]
}

#[tokio::test]
async fn a_follower_is_told_what_it_may_see_and_nothing_else() {
    let app = TestApp::start().await;
    let w = board_with_bob(&app).await;
    let (owner, bob) = (&w.owner, w.user("bob"));
    let visible = w.task_id().to_owned();
    let secret = app
        .create_task(owner, w.project(), Some(w.box_id()), "SECRET")
        .await;
    let granted = app
        .create_task(owner, w.project(), Some(w.box_id()), "SECRET")
        .await;
    app.grant(owner, &granted, bob, "VIEW").await;

    let mut socket = signed_in(&app.base, bob).await;
    socket
        .subscribe("1", BOARD, json!({ "b": w.box_id() }))
        .await;
    until_told(&app, owner, &app.base, &visible, &mut socket).await;
    rename(&app, owner, &app.base, &visible, "Renamed").await;
    let got = socket.next().await;
    let told = change(&got);
    assert_eq!(told["kind"], "UPDATED");
    assert_eq!(told["task"]["title"], "Renamed");
    assert_eq!(told["taskId"], visible.as_str());

    // A SECRET task bob is not on: its changes never reach him. The next thing he
    // hears of is the next visible change.
    rename(&app, owner, &app.base, &secret, "Secret plans").await;
    rename(&app, owner, &app.base, &granted, "Shared secret").await;
    let got = socket.next().await;
    assert_eq!(change(&got)["task"]["title"], "Shared secret", "{got}");

    // Once his grant is revoked, that task goes silent too.
    app.ok(
        owner,
        "mutation($i: RevokeTaskAccessInput!) { revokeTaskAccess(input: $i) { __typename } }",
        json!({ "i": { "taskId": granted, "userId": bob.id } }),
    )
    .await;
    rename(&app, owner, &app.base, &granted, "No longer shared").await;
    rename(&app, owner, &app.base, &visible, "Renamed again").await;
    let got = socket.next().await;
    assert_eq!(change(&got)["task"]["title"], "Renamed again", "{got}");

    // Created, then deleted; a SECRET task's deletion is told to nobody.
    let fresh = app
        .create_task(owner, w.project(), Some(w.box_id()), "CONFIDENTIAL")
        .await;
    let got = socket.next().await;
    assert_eq!(change(&got)["kind"], "CREATED");
    assert_eq!(change(&got)["taskId"], fresh.as_str());
    for task in [&secret, &fresh] {
        app.ok(
            owner,
            "mutation($i: DeleteTaskInput!) { deleteTask(input: $i) { deletedTaskId } }",
            json!({ "i": { "taskId": task } }),
        )
        .await;
    }
    let got = socket.next().await;
    assert_eq!(change(&got)["kind"], "DELETED");
    assert_eq!(change(&got)["taskId"], fresh.as_str());
    assert!(change(&got)["task"].is_null());
    socket.quiet().await;

    // Another tenant's board cannot be followed: it does not exist for bob.
    let other = Scenario::new(&app)
        .await
        .with_project("ORGANIZATION", "CONFIDENTIAL")
        .await;
    socket
        .subscribe("2", BOARD, json!({ "b": other.box_id() }))
        .await;
    let got = socket.next().await;
    assert_eq!(kind_and_id(&got), (Some("next"), Some("2")), "{got}");
    assert_eq!(
        got["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{got}"
    );
    assert!(got["payload"]["data"].is_null());
    let got = socket.next().await;
    assert_eq!(kind_and_id(&got), (Some("complete"), Some("2")));
}

#[tokio::test]
async fn one_task_can_be_followed_alone() {
    let app = TestApp::start().await;
    let w = board_with_bob(&app).await.with_task("CONFIDENTIAL").await;
    let (followed, other) = (w.task_ids()[0].clone(), w.task_ids()[1].clone());
    let mut socket = signed_in(&app.base, w.user("bob")).await;
    socket
        .subscribe(
            "t",
            "subscription($t: ID!) { taskChanged(taskId: $t) { kind taskId task { title } } }",
            json!({ "t": followed }),
        )
        .await;
    // In place once told of a nudge; a change to another task of the same box is not told.
    for i in 0.. {
        assert!(i < 40, "the follower never heard of a change");
        rename(&app, &w.owner, &app.base, &followed, &format!("Nudge {i}")).await;
        if let Got::Message(_) = socket.next_within(Duration::from_millis(500)).await {
            break;
        }
    }
    while let Got::Message(_) = socket.next_within(Duration::from_millis(700)).await {}
    rename(&app, &w.owner, &app.base, &other, "Not this one").await;
    rename(&app, &w.owner, &app.base, &followed, "This one").await;
    let got = socket.next().await;
    let told = &got["payload"]["data"]["taskChanged"];
    assert_eq!(
        (told["kind"].as_str(), told["taskId"].as_str()),
        (Some("UPDATED"), Some(followed.as_str())),
        "{got}"
    );
    assert_eq!(told["task"]["title"], "This one");
}

#[tokio::test]
async fn a_change_through_another_instance_reaches_this_ones_followers() {
    let app = TestApp::start().await;
    // A second instance on the same database, as behind a load balancer.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other = crust_api::server::spawn(&app.config, listener, 1).unwrap();
    let other_base = format!("http://{}", other.addr);
    let w = board_with_bob(&app).await;
    let mut socket = signed_in(&app.base, w.user("bob")).await;
    socket
        .subscribe(
            "s",
            "subscription($s: ID) { boardChanged(sliceId: $s) { kind taskId task { id title } } }",
            json!({ "s": w.slice() }),
        )
        .await;
    // Every change below goes through the other instance.
    until_told(&app, &w.owner, &other_base, w.task_id(), &mut socket).await;
    rename(
        &app,
        &w.owner,
        &other_base,
        w.task_id(),
        "Through the other one",
    )
    .await;
    let got = socket.next().await;
    assert_eq!(
        change(&got)["task"]["title"],
        "Through the other one",
        "{got}"
    );
    other.stop();
}

#[tokio::test]
async fn the_socket_closes_with_4403_when_the_session_ends() {
    let app = TestApp::start_with(|c| c.graphql.ws_recheck_ms = 200).await;
    let w = Scenario::new(&app)
        .await
        .with_member("bob", "MEMBER")
        .await
        .with_member("carol", "MEMBER")
        .await
        .with_project("ORGANIZATION", "CONFIDENTIAL")
        .await;

    // Signed out: closed within seconds.
    let mut socket = signed_in(&app.base, w.user("bob")).await;
    socket
        .subscribe("1", BOARD, json!({ "b": w.box_id() }))
        .await;
    app.ok(w.user("bob"), "mutation { logout { revoked } }", json!({}))
        .await;
    let (code, reason) = socket.closed().await;
    assert_eq!(code, 4403, "{reason}");
    assert!(reason.contains("session ended"), "{reason}");

    // Deactivated by an admin: the same.
    let mut socket = signed_in(&app.base, w.user("carol")).await;
    app.ok(
        &w.owner,
        "mutation($i: DeactivateMemberInput!) { deactivateMember(input: $i) { deactivatedUserId } }",
        json!({ "i": { "organizationId": w.org, "userId": w.user("carol").id } }),
    )
    .await;
    assert_eq!(socket.closed().await.0, 4403);

    // A refused token never gets an ack; a subscription before connection_init is
    // refused outright.
    let mut socket = open(&app.base, None).await.unwrap();
    socket
        .send(json!({ "type": "connection_init", "payload": { "accessToken": "not-a-token" } }))
        .await;
    assert_eq!(socket.closed().await.0, 4403);
    let mut socket = open(&app.base, None).await.unwrap();
    socket
        .subscribe("1", BOARD, json!({ "b": w.box_id() }))
        .await;
    assert_eq!(socket.closed().await.0, 4401);
}

/// A busy database says nothing of a session. With the sessions table locked and a
/// pool of one, every session recheck fails: the one holding the only connection when
/// its statement is cut (400 ms), the others finding no connection in time (500 ms).
/// The sockets stay open (they used to be closed with 4403, "session ended"); once the
/// database answers again, an ended session still closes its socket.
#[tokio::test]
async fn a_busy_database_does_not_end_live_sessions() {
    let app = TestApp::start_with(|c| {
        c.graphql.ws_recheck_ms = 200;
        c.database.pool_size = 1;
        c.database.checkout_timeout_ms = 500;
        c.database.statement_timeout_ms = 400;
    })
    .await;
    let (ann, ben) = (app.user("Ann").await, app.user("Ben").await);
    let mut sockets = [
        signed_in(&app.base, &ann).await,
        signed_in(&app.base, &ben).await,
    ];
    let held = app.lock_table("sessions", Duration::from_millis(2500));
    // The lock and a second after it: rechecks run every 200 ms meanwhile.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    for socket in &mut sockets {
        if let Some((code, reason)) = socket.closed_within(Duration::from_millis(200)).await {
            panic!("closed while the database was busy: {code} {reason}");
        }
    }
    held.join().unwrap();
    app.ok(&ann, "mutation { logout { revoked } }", json!({}))
        .await;
    let (code, reason) = sockets[0].closed().await;
    assert_eq!(code, 4403, "{reason}");
    assert!(matches!(
        sockets[1].next_within(Duration::from_millis(600)).await,
        Got::Nothing
    ));

    // Not for long, though: a socket whose session goes unchecked for 15 rechecks (3 s
    // here) closes with 1013, "try again later", never with 4403; and a socket opened
    // meanwhile is told the same at connection_init, not that its token was refused.
    let cy = app.user("Cy").await;
    sockets[0] = signed_in(&app.base, &cy).await;
    let held = app.lock_table("sessions", Duration::from_secs(5));
    let mut late = open(&app.base, None).await.unwrap();
    late.send(json!({ "type": "connection_init", "payload": { "accessToken": cy.access } }))
        .await;
    let (code, reason) = late.closed().await;
    assert_eq!(code, 1013, "{reason}");
    assert!(reason.contains("Try again later"), "{reason}");
    held.join().unwrap();
    let mut closed = Vec::new();
    for socket in &mut sockets {
        if let Some((code, reason)) = socket.closed_within(Duration::from_millis(500)).await {
            assert_eq!(code, 1013, "{reason}");
            closed.push(code);
        }
    }
    assert_eq!(closed, [1013, 1013]);
}

#[tokio::test]
async fn the_socket_closes_with_4403_when_its_token_expires() {
    // Tokens live a second, plus the 30 s of clock leeway every token check allows.
    let app = TestApp::start_with(|c| {
        c.auth.access_token_ttl_secs = 1;
        c.graphql.ws_recheck_ms = 200;
    })
    .await;
    let who = app.user("Brief").await;
    let started = std::time::Instant::now();
    let mut socket = signed_in(&app.base, &who).await;
    let closed = loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "still open a minute later"
        );
        match socket.next_within(Duration::from_secs(5)).await {
            Got::Closed(code, reason) => break (code, reason),
            Got::Message(_) | Got::Nothing => continue,
        }
    };
    assert_eq!(closed.0, 4403, "{}", closed.1);
    assert!(closed.1.contains("fresh token"), "{}", closed.1);
    assert!(
        started.elapsed() >= Duration::from_secs(25),
        "closed before the token expired: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn origins_operations_and_limits_are_enforced() {
    let app = TestApp::start_with(|c| {
        c.http.cors_origins = vec!["https://app.example".into()];
        c.graphql.ws_max_subscriptions = 2;
        c.graphql.ws_max_connections_per_user = 1;
        c.graphql.ws_messages_per_second = 10;
        c.graphql.ws_max_message_bytes = 4096;
    })
    .await;
    let w = Scenario::new(&app)
        .await
        .with_project("ORGANIZATION", "CONFIDENTIAL")
        .await;

    // A page of another origin cannot open a socket (CORS does not cover WebSockets).
    assert_eq!(
        open(&app.base, Some("https://evil.example")).await.err(),
        Some(403)
    );
    // Nor a sandboxed frame or a file (`null`), nor the server's own origin while it
    // serves no app (see `the_servers_own_origin_counts_only_when_it_serves_the_app`).
    assert_eq!(open(&app.base, Some("null")).await.err(), Some(403));
    assert_eq!(open(&app.base, Some(&app.base)).await.err(), Some(403));
    let mut socket = open(&app.base, Some("https://app.example")).await.unwrap();
    socket
        .send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", w.owner.access) } }))
        .await;
    assert_eq!(socket.next().await["type"], "connection_ack");

    // A second socket of the same user: closed.
    let mut second = open(&app.base, None).await.unwrap();
    second
        .send(json!({ "type": "connection_init", "payload": { "accessToken": w.owner.access } }))
        .await;
    assert_eq!(second.closed().await.0, 4429);

    // Queries and mutations go over HTTP, whatever form the document takes.
    for (i, query) in [
        "mutation { logout { revoked } }",
        "query { me { id } }",
        "{ ...F } fragment F on Query { me { id } }",
    ]
    .iter()
    .enumerate()
    {
        socket.subscribe(&format!("op{i}"), query, json!({})).await;
        let got = socket.next().await;
        assert_eq!(got["type"], "error", "{got}");
        assert!(refusal(&got).contains("only subscriptions"));
    }
    // The session still stands: the mutation did not run.
    app.ok(&w.owner, "{ me { id } }", json!({})).await;

    // One root field per subscription: two would be two streams under one id.
    socket
        .subscribe(
            "two",
            "subscription($b: ID) { x: boardChanged(boxId: $b) { kind } y: boardChanged(boxId: $b) { kind } }",
            json!({ "b": w.box_id() }),
        )
        .await;
    let got = socket.next().await;
    assert_eq!(got["type"], "error", "{got}");
    assert!(refusal(&got).contains("exactly one root field"));

    // Subscriptions per connection.
    socket
        .subscribe("a", BOARD, json!({ "b": w.box_id() }))
        .await;
    socket
        .subscribe("b", BOARD, json!({ "b": w.box_id() }))
        .await;
    socket
        .subscribe("c", BOARD, json!({ "b": w.box_id() }))
        .await;
    let got = socket.next().await;
    assert_eq!(kind_and_id(&got), (Some("error"), Some("c")), "{got}");
    assert!(refusal(&got).contains("holds 2 subscriptions"));
    // Completing one makes room.
    socket.send(json!({ "id": "a", "type": "complete" })).await;
    let got = socket.next().await;
    assert_eq!(kind_and_id(&got), (Some("complete"), Some("a")));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    socket
        .subscribe("d", BOARD, json!({ "b": w.box_id() }))
        .await;
    socket.quiet().await;

    // A message too large closes the socket.
    socket
        .send(json!({ "type": "ping", "payload": { "pad": "x".repeat(5000) } }))
        .await;
    assert_eq!(socket.closed().await.0, 1009);

    // The old protocol's `start` would name a query the checks never saw: closed.
    let mut socket = signed_in(&app.base, &w.owner).await;
    socket
        .send(json!({ "id": "q", "type": "start", "payload": { "query": "{ __schema { types { name } } }" } }))
        .await;
    assert_eq!(socket.closed().await.0, 4400);

    // So do too many messages a second.
    let mut socket = signed_in(&app.base, &w.owner).await;
    for _ in 0..25 {
        socket.send(json!({ "type": "ping" })).await;
    }
    let mut code = 0;
    for _ in 0..30 {
        if let Got::Closed(c, _) = socket.next_within(Duration::from_secs(5)).await {
            code = c;
            break;
        }
    }
    assert_eq!(code, 4429);
}

#[tokio::test]
async fn a_costly_subscription_is_refused_with_its_explanation() {
    let app = TestApp::start().await;
    let who = app.user("Follower").await;
    let mut socket = signed_in(&app.base, &who).await;
    socket
        .subscribe(
            "1",
            "subscription { ...F } fragment F on Subscription { boardChanged(boxId: \"00000000-0000-0000-0000-000000000000\") { a: kind b: kind c: kind d: kind e: kind f: kind g: kind h: kind i: kind j: kind k: kind l: kind m: kind n: kind o: kind p: kind } }",
            json!({}),
        )
        .await;
    let got = socket.next().await;
    assert!(refusal(&got).contains("aliases"));
    assert_eq!(got["payload"][0]["extensions"]["code"], "BAD_USER_INPUT");
    // The engine's own refusal (validation) gets the code and advice it gets over HTTP.
    socket
        .subscribe(
            "2",
            "subscription { taskChanged(taskId: \"00000000-0000-0000-0000-000000000000\") { colour } }",
            json!({}),
        )
        .await;
    // (async-graphql answers it as a `next` without data, then `complete`.)
    let got = socket.next().await;
    let error = &got["payload"]["errors"][0];
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.ends_with("ask only for fields schema.graphql lists for that type")),
        "{got}"
    );
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{got}");
}

/// Where only trusted documents run, the socket is held to it as POST /graphql is: a
/// subscription named by hash runs, any other text is FORBIDDEN and an unknown hash is
/// Apollo's PersistedQueryNotFound, each with the code HTTP would give.
#[tokio::test]
async fn over_the_socket_only_trusted_documents_run_when_so_configured() {
    let app = TestApp::start().await;
    let w = board_with_bob(&app).await.with_task("CONFIDENTIAL").await;
    let task = w.task_ids()[0].clone();
    // The follower's instance runs trusted documents only; the fixtures above and the
    // changes below go through one that runs anything.
    let (_dir, path) = crate::over_http::manifest(&[BOARD]);
    let mut config = app.config.clone();
    config.graphql.trusted_documents = Some(path);
    config.graphql.trusted_documents_only = true;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let strict = crust_api::server::spawn(&config, listener, 1).unwrap();
    let mut socket = signed_in(&format!("http://{}", strict.addr), w.user("bob")).await;
    let mut trusted = crate::over_http::by_hash(BOARD);
    trusted["variables"] = json!({ "b": w.box_id() });
    socket
        .send(json!({ "id": "trusted", "type": "subscribe", "payload": trusted }))
        .await;
    socket
        .subscribe(
            "other",
            "subscription($t: ID!) { taskChanged(taskId: $t) { kind } }",
            json!({ "t": task }),
        )
        .await;
    let got = socket.next().await;
    assert_eq!(got["id"], "other", "{got}");
    assert!(refusal(&got).contains("persistedQuery.sha256Hash"));
    assert_eq!(got["payload"][0]["extensions"]["code"], "FORBIDDEN");
    socket
        .send(json!({ "id": "unknown", "type": "subscribe",
            "payload": crate::over_http::by_hash("subscription { taskChanged(taskId: \"x\") { kind } }") }))
        .await;
    let got = socket.next().await;
    assert_eq!(refusal(&got), "PersistedQueryNotFound");
    assert_eq!(got["payload"][0]["extensions"]["code"], "NOT_FOUND");
    // The trusted one runs: a change to the box is told.
    for i in 0.. {
        assert!(i < 40, "the trusted subscription never told a change");
        rename(&app, &w.owner, &app.base, &task, &format!("Nudge {i}")).await;
        if let Got::Message(m) = socket.next_within(Duration::from_millis(500)).await {
            assert_eq!(m["id"], "trusted", "{m}");
            break;
        }
    }
    strict.stop();
}

#[tokio::test]
async fn the_servers_own_origin_counts_only_when_it_serves_the_app() {
    let dir = std::env::temp_dir().join(format!("crust-app-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>app</title>").unwrap();
    std::fs::write(dir.join(".hidden"), "not for the web").unwrap();
    std::os::unix::fs::symlink(
        concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
        dir.join("link.toml"),
    )
    .unwrap();
    let app = TestApp::start_with(|c| c.http.spa_dir = Some(dir.clone())).await;
    // The page the server serves, on the server's own origin: allowed.
    assert!(open(&app.base, Some(&app.base)).await.is_ok());
    let page = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    // The same host under another scheme, or another port: another origin.
    let https = app.base.replace("http://", "https://");
    assert_eq!(open(&app.base, Some(&https)).await.err(), Some(403));
    let other_port = format!("{}1", app.base);
    assert_eq!(open(&app.base, Some(&other_port)).await.err(), Some(403));
    // Nothing outside the app's directory, whatever the path says or a link points at,
    // and no dotfile.
    for path in [
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/.hidden",
        "/link.toml",
    ] {
        let res = app.http.get(app.url(path)).send().await.unwrap();
        assert!(res.status().is_client_error(), "{path}: {}", res.status());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Each upgrade draws from the client network's anonymous bucket (and so does each
/// sign-in a `connection_init` carries): opening sockets in a loop meets a 429 like any
/// other request, and the refused upgrade opens nothing.
#[tokio::test]
async fn upgrades_are_rate_limited_like_requests() {
    // 100/hour gives a burst of 5.
    let app = TestApp::start_with(|c| {
        c.rate_limits = crust_api::config::RateLimits {
            user_per_hour: 10_000_000,
            anonymous_per_hour: 100,
            sign_in_per_hour: 10_000_000,
        }
    })
    .await;
    let mut open_sockets = Vec::new();
    for _ in 0..5 {
        open_sockets.push(open(&app.base, None).await.expect("within the burst"));
    }
    assert_eq!(open(&app.base, None).await.err(), Some(429));
    // The sockets opened before are not closed by the refusal of another.
    let socket = &mut open_sockets[0];
    socket.send(json!({ "type": "ping" })).await;
    assert_eq!(socket.next().await["type"], "pong");
}
