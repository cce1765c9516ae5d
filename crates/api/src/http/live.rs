//! `/graphql/ws`: subscriptions over the `graphql-transport-ws` protocol.
//!
//! Before the upgrade: a browser's `Origin` must be one of `CRUST_CORS_ORIGINS` or, when
//! the server serves the app itself (`CRUST_SPA_DIR`), the server's own; and the
//! client must offer the `graphql-transport-ws` subprotocol. After it, this layer stands
//! between the socket and async-graphql's protocol engine:
//! - `connection_init` must come first, within 10 s (4408), carrying an access token
//!   (`{"accessToken": "…"}` or `{"Authorization": "Bearer …"}`); a refused one closes
//!   the socket with 4403, and so does a session that ends later (logout, deactivation,
//!   an expired token), checked every `CRUST_WS_RECHECK_MS`;
//! - a user holds at most `CRUST_WS_MAX_CONNECTIONS_PER_USER` sockets (4429), each at most
//!   `CRUST_WS_MAX_SUBSCRIPTIONS` subscriptions, messages of at most
//!   `CRUST_WS_MAX_MESSAGE_BYTES` (1009) at most `CRUST_WS_MESSAGES_PER_SECOND` (4429);
//! - each `subscribe` passes the same document checks as `POST /graphql` (size,
//!   nesting, fragments, cost and depth with their explanations, trusted documents) and
//!   must be a subscription: queries and mutations go over HTTP, where they are rate
//!   limited and audited.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, Session};
use async_graphql::http::{WebSocket, WebSocketProtocols as Protocols, WsMessage};
use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::ServerError;
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::wire::Params;
use crate::error::ApiError;
use crate::graphql::document;
use crate::live::LiveCaller;
use crate::state::AppState;

const PROTOCOL: &str = "graphql-transport-ws";
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a message may wait for a client that does not read.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// How long, in recheck intervals, a session may go unchecked (its checks failing on
/// the database) before its socket closes with 1013: 30 s at the default 2 s.
const UNCHECKED_RECHECKS: u64 = 15;
/// Did checking the session fail on the database (busy or away) rather than answer?
/// Expired and malformed tokens are refused before any database work.
fn could_not_check(error: &ApiError) -> bool {
    matches!(error, ApiError::Unavailable | ApiError::Internal(_))
}

/// Why a socket closes (or is refused) when its session cannot be checked.
const CANNOT_CHECK: &str = "Try again later: the session cannot be checked just now (the server is busy); reconnect shortly";

pub async fn socket(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> actix_web::Result<HttpResponse> {
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        // One of the configured origins, or — when this server serves the app itself
        // (CRUST_SPA_DIR) — the server's own origin, scheme included. A browser sets
        // both Origin and Host; a page can set neither. `null` (sandboxed frames,
        // files) is never accepted, not even under `*`.
        let own = state.serves_app.then(|| {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        });
        let allowed = origin.to_str().is_ok_and(|o| {
            o != "null"
                && (own.as_deref() == Some(o)
                    || state
                        .cors_origins
                        .iter()
                        .any(|allowed| allowed == "*" || allowed == o))
        });
        if !allowed {
            return Ok(super::error_response(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "this page's origin may not open live connections (CRUST_CORS_ORIGINS)",
            ));
        }
    }
    // Each upgrade, and so each sign-in attempt of `connection_init`, draws from the
    // client network's anonymous bucket.
    let client = super::client_ip(&req, &state.trusted_proxies)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    if let super::rate_limit::Verdict::Limited { limit, retry_after } = state
        .rate_limits
        .check(super::rate_limit::Bucket::Anonymous, &client)
    {
        return Ok(super::rate_limit::too_many_requests(limit, retry_after));
    }
    let offered = req
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == PROTOCOL);
    if !offered {
        return Ok(super::error_response(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            "open the socket with the graphql-transport-ws subprotocol (the graphql-ws library does)",
        ));
    }
    let (mut res, session, stream) = actix_ws::handle(&req, body)?;
    res.headers_mut().insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        header::HeaderValue::from_static(PROTOCOL),
    );
    let max = state.limits.ws_max_message_bytes;
    let stream = stream
        .max_frame_size(max)
        .aggregate_continuations()
        .max_continuation_size(max);
    let state = state.into_inner();
    actix_web::rt::spawn(async move {
        let mut connection = Connection { state, session };
        connection.run(stream).await;
    });
    Ok(res)
}

struct Connection {
    state: std::sync::Arc<AppState>,
    session: Session,
}

/// Why a connection ends, as a close frame.
struct Close(u16, String);

impl Close {
    fn new(code: u16, reason: impl Into<String>) -> Self {
        Close(code, reason.into())
    }
}

impl Connection {
    async fn run(&mut self, mut incoming: actix_ws::AggregatedMessageStream) {
        let close = self.serve(&mut incoming).await;
        let Close(code, mut reason) = close;
        // A close frame's reason holds at most 123 bytes.
        while reason.len() > 123 {
            reason.pop();
        }
        let session = self.session.clone();
        let _ = session
            .close(Some(CloseReason {
                code: CloseCode::from(code),
                description: Some(reason),
            }))
            .await;
    }

    async fn serve(&mut self, incoming: &mut actix_ws::AggregatedMessageStream) -> Close {
        let ((live, (_, actor)), init) = match self.handshake(incoming).await {
            Ok(signed_in) => signed_in,
            Err(close) => return close,
        };
        let state = self.state.clone();
        let limits = &state.limits;
        let Some(_slot) = state
            .live_connections
            .open(actor.uid(), limits.ws_max_connections_per_user)
        else {
            return Close::new(
                4429,
                format!(
                    "too many live connections: at most {} per user; close another tab's first",
                    limits.ws_max_connections_per_user
                ),
            );
        };
        // Only the token: resolvers sign it in again whenever they need the caller,
        // never a caller as they were at the handshake.
        let mut data = async_graphql::Data::default();
        data.insert(live.clone());
        let (to_engine, from_layer) = tokio::sync::mpsc::channel::<String>(16);
        let messages = Box::pin(futures_util::stream::unfold(
            from_layer,
            |mut rx| async move { rx.recv().await.map(|m| (m, rx)) },
        ));
        let schema = state.schemas.signed_in.clone();
        let mut engine =
            WebSocket::new(schema, messages, Protocols::GraphQLWS).connection_data(data);
        if to_engine.send(init).await.is_err() {
            return Close::new(1011, "internal error");
        }
        let mut active: HashSet<String> = HashSet::new();
        let mut recheck = tokio::time::interval(Duration::from_millis(limits.ws_recheck_ms));
        // A check that outlasts the interval (a busy database) is not followed by a
        // burst of the ones it missed.
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        recheck.tick().await;
        // Since when the session could not be checked (the database busy or away).
        let mut unchecked_since: Option<Instant> = None;
        let unchecked_for_long =
            Duration::from_millis(limits.ws_recheck_ms.saturating_mul(UNCHECKED_RECHECKS));
        let mut window = (Instant::now(), 0usize);
        loop {
            tokio::select! {
                out = engine.next() => match out {
                    Some(WsMessage::Text(text)) => {
                        let text = settle(text, &mut active);
                        // A client that stops reading must not hold the socket (and
                        // its session's rechecks) forever.
                        match tokio::time::timeout(SEND_TIMEOUT, self.session.text(text)).await {
                            Ok(Ok(())) => {}
                            Ok(Err(_)) => return Close::new(1000, ""),
                            Err(_) => return Close::new(1008, "the client does not read its messages"),
                        }
                    }
                    Some(WsMessage::Close(code, reason)) => return Close::new(code, reason),
                    None => return Close::new(1000, ""),
                },
                message = incoming.next() => {
                    let text = match message {
                        Some(Ok(AggregatedMessage::Text(text))) => text.to_string(),
                        Some(Ok(AggregatedMessage::Ping(bytes))) => {
                            let _ = self.session.pong(&bytes).await;
                            continue;
                        }
                        Some(Ok(AggregatedMessage::Pong(_))) => continue,
                        Some(Ok(AggregatedMessage::Binary(_))) => {
                            return Close::new(4400, "send text frames holding JSON");
                        }
                        Some(Ok(AggregatedMessage::Close(_))) | None => return Close::new(1000, ""),
                        Some(Err(e)) => return too_large_or_broken(e, limits.ws_max_message_bytes),
                    };
                    let now = Instant::now();
                    if now.duration_since(window.0) >= Duration::from_secs(1) {
                        window = (now, 0);
                    }
                    window.1 += 1;
                    if window.1 > limits.ws_messages_per_second {
                        return Close::new(
                            4429,
                            format!(
                                "too many messages: at most {} a second",
                                limits.ws_messages_per_second
                            ),
                        );
                    }
                    match self.admit(&live, text, &mut active).await {
                        Ok(Some(text)) => {
                            if to_engine.send(text).await.is_err() {
                                return Close::new(1011, "internal error");
                            }
                        }
                        Ok(None) => {}
                        Err(close) => return close,
                    }
                }
                _ = recheck.tick() => {
                    match live.now().await {
                        Ok(_) => unchecked_since = None,
                        // A busy or unreachable database says nothing of the session:
                        // ask again at the next tick (meanwhile every change is checked
                        // as the caller anyway, and told as MISSED when that fails) —
                        // but not for long: a session that ended in the meantime must
                        // not keep its socket.
                        Err(e) if could_not_check(&e) => {
                            let since = *unchecked_since.get_or_insert_with(Instant::now);
                            if since.elapsed() >= unchecked_for_long {
                                return Close::new(1013, CANNOT_CHECK);
                            }
                        }
                        Err(_) => {
                            return Close::new(
                                4403,
                                "Forbidden: the session ended (signed out, deactivated, or the access token expired); connect again with a fresh token",
                            );
                        }
                    }
                }
            }
        }
    }

    /// Waits for `connection_init` and signs its token in; answers pings meanwhile.
    async fn handshake(
        &mut self,
        incoming: &mut actix_ws::AggregatedMessageStream,
    ) -> Result<
        (
            (LiveCaller, (crate::auth::Principal, crust_dal::Actor)),
            String,
        ),
        Close,
    > {
        let deadline = tokio::time::sleep(INIT_TIMEOUT);
        tokio::pin!(deadline);
        loop {
            let message = tokio::select! {
                _ = &mut deadline => {
                    return Err(Close::new(4408, "Connection initialisation timeout"));
                }
                message = incoming.next() => message,
            };
            let text = match message {
                Some(Ok(AggregatedMessage::Text(text))) => text,
                Some(Ok(AggregatedMessage::Ping(bytes))) => {
                    let _ = self.session.pong(&bytes).await;
                    continue;
                }
                Some(Ok(AggregatedMessage::Pong(_))) => continue,
                Some(Ok(AggregatedMessage::Binary(_))) => {
                    return Err(Close::new(4400, "send text frames holding JSON"))
                }
                Some(Ok(AggregatedMessage::Close(_))) | None => return Err(Close::new(1000, "")),
                Some(Err(e)) => {
                    return Err(too_large_or_broken(
                        e,
                        self.state.limits.ws_max_message_bytes,
                    ))
                }
            };
            let Ok(message) = serde_json::from_str::<Value>(&text) else {
                return Err(Close::new(4400, "messages are JSON objects with a `type`"));
            };
            match message["type"].as_str() {
                Some("connection_init") => {
                    let token = token_of(&message["payload"]).ok_or_else(|| {
                        Close::new(
                            4403,
                            "Forbidden: connection_init's payload must hold {\"accessToken\": \"…\"}",
                        )
                    })?;
                    let live = LiveCaller {
                        token: token.into(),
                        auth: self.state.auth.clone(),
                    };
                    return match live.now().await {
                        Ok(caller) => Ok(((live, caller), text.to_string())),
                        // Not the token's fault: reconnecting later may succeed.
                        Err(e) if could_not_check(&e) => Err(Close::new(1013, CANNOT_CHECK)),
                        Err(e) => {
                            tracing::info!(reason = %e.message(), "live connection refused at connection_init");
                            Err(Close::new(
                                4403,
                                "Forbidden: the access token was refused; sign in again",
                            ))
                        }
                    };
                }
                Some("ping") => {
                    let _ = self.session.text(r#"{"type":"pong"}"#).await;
                }
                Some("pong") => {}
                Some("subscribe") => {
                    return Err(Close::new(4401, "Unauthorized: send connection_init first"))
                }
                _ => return Err(Close::new(4400, "unknown message type")),
            }
        }
    }

    /// What to hand the protocol engine for a client's message (`None`: answered
    /// here), or why to close.
    async fn admit(
        &mut self,
        live: &LiveCaller,
        text: String,
        active: &mut HashSet<String>,
    ) -> Result<Option<String>, Close> {
        let Ok(mut message) = serde_json::from_str::<Value>(&text) else {
            return Err(Close::new(4400, "messages are JSON objects with a `type`"));
        };
        match message["type"].as_str() {
            Some("connection_init") => Err(Close::new(4429, "Too many initialisation requests")),
            Some("complete") => {
                if let Some(id) = message["id"].as_str() {
                    active.remove(id);
                }
                Ok(Some(message.to_string()))
            }
            Some("subscribe") => {
                let Some(id) = message["id"].as_str().map(str::to_owned) else {
                    return Err(Close::new(4400, "subscribe needs an `id`"));
                };
                if active.contains(&id) {
                    return Err(Close::new(
                        4409,
                        format!("Subscriber for {id} already exists"),
                    ));
                }
                let max = self.state.limits.ws_max_subscriptions;
                if active.len() >= max {
                    return self
                        .refuse(&id, ApiError::BadUserInput(format!("this connection already holds {max} subscriptions, the most it may: complete one first, or follow a whole slice with one boardChanged(sliceId:)")).to_server_error())
                        .await;
                }
                match self.check(live, message["payload"].clone()).await {
                    Ok(query) => {
                        message["payload"]["query"] = Value::String(query);
                        active.insert(id);
                        Ok(Some(message.to_string()))
                    }
                    Err(why) => self.refuse(&id, why).await,
                }
            }
            // Answered by the engine; anything else (async-graphql also reads the old
            // protocol's `start` and `stop`, which would skip the checks above) closes.
            Some("ping") | Some("pong") => Ok(Some(message.to_string())),
            _ => Err(Close::new(
                4400,
                "unknown message type: graphql-transport-ws clients send subscribe, complete, ping and pong",
            )),
        }
    }

    /// The document a `subscribe` runs, after the checks of `POST /graphql`.
    /// Refusals carry what they carry over HTTP: the code (FORBIDDEN for an untrusted
    /// document, UNAUTHENTICATED for an ended session) and the cost's figures.
    async fn check(&self, live: &LiveCaller, payload: Value) -> Result<String, ServerError> {
        // The session may have ended since the last recheck: an ended one learns nothing
        // more, not even what its document would cost.
        live.now().await.map_err(|e| e.to_server_error())?;
        let bad = |why: String| ApiError::BadUserInput(why).to_server_error();
        let params = Params::from_json(payload).map_err(bad)?;
        let operation_name = params.operation_name.clone();
        let variables = async_graphql::Variables::from_json(params.variables.clone().into());
        let variables_bytes = serde_json::to_vec(&params.variables).map_or(0, |v| v.len());
        let (request, trusted) =
            super::graphql::resolve(&self.state, params).map_err(|response| {
                response.errors.into_iter().next().unwrap_or_else(|| {
                    ApiError::internal("a refusal without error").to_server_error()
                })
            })?;
        let limits = &self.state.limits;
        if !trusted {
            if let Some(why) = super::graphql::too_long_to_run(limits, &request.query) {
                return Err(bad(why));
            }
        }
        if limits.trusted_documents_only && !trusted {
            return Err(ApiError::Forbidden(super::graphql::UNTRUSTED.into()).to_server_error());
        }
        let input = document::Input {
            query: &request.query,
            operation_name: operation_name.as_deref(),
            variables_bytes,
        };
        let checked = match document::check(input, limits) {
            Ok(document::Verdict::Checked(checked)) => checked,
            Ok(document::Verdict::Unparsable) => {
                let why = async_graphql::parser::parse_query(&request.query)
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                return Err(bad(format!("the query is not a GraphQL document: {why}")));
            }
            Err(e) => return Err(e.to_server_error()),
        };
        if !subscribes(&checked.doc, operation_name.as_deref()) {
            return Err(bad("only subscriptions are served over /graphql/ws: send queries and mutations to POST /graphql".into()));
        }
        // GraphQL's own rule, which async-graphql does not enforce: each root field of a
        // subscription would be a stream of its own, outside the per-connection cap.
        let roots = document::selected_root_fields(&checked.doc, operation_name.as_deref()).len();
        if roots != 1 {
            return Err(bad(format!("a subscription selects exactly one root field (this one selects {roots}): send one subscribe per field")));
        }
        crate::graphql::cost::check(&checked.doc, &variables, limits)?;
        Ok(request.query)
    }

    async fn refuse(&mut self, id: &str, error: ServerError) -> Result<Option<String>, Close> {
        let error = json!({ "id": id, "type": "error", "payload": [error] });
        if self.session.text(error.to_string()).await.is_err() {
            return Err(Close::new(1000, ""));
        }
        Ok(None)
    }
}

/// Does the operation the request selects subscribe?
pub(super) fn subscribes(
    doc: &async_graphql::parser::types::ExecutableDocument,
    name: Option<&str>,
) -> bool {
    let operation = match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        _ => None,
    };
    operation.is_some_and(|op| op.node.ty == OperationType::Subscription)
}

/// The access token of a `connection_init` payload.
fn token_of(payload: &Value) -> Option<String> {
    if let Some(token) = payload["accessToken"].as_str() {
        return Some(token.to_owned());
    }
    let header = payload["Authorization"]
        .as_str()
        .or_else(|| payload["authorization"].as_str())?;
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(|t| t.trim().to_owned())
}

/// An engine message on its way out: ids it finished (`complete` or `error`) leave the
/// active set, and its own refusals (validation of a subscription, sent as `error` or
/// as a `next` without data) get the code and the advice they get over HTTP.
fn settle(text: String, active: &mut HashSet<String>) -> String {
    let Ok(mut message) = serde_json::from_str::<Value>(&text) else {
        return text;
    };
    let errors = match message["type"].as_str() {
        Some("complete") | Some("error") => {
            if let Some(id) = message["id"].as_str() {
                active.remove(id);
            }
            message["payload"].as_array_mut()
        }
        Some("next") if message["payload"]["data"].is_null() => {
            message["payload"]["errors"].as_array_mut()
        }
        _ => None,
    };
    let Some(errors) = errors else {
        return text;
    };
    let mut changed = false;
    for error in errors
        .iter_mut()
        .filter(|e| e["extensions"]["code"].is_null())
    {
        if let Some(text) = error["message"].as_str() {
            let mut advised = text.to_owned();
            crate::graphql::advise(&mut advised);
            error["message"] = Value::String(advised);
        }
        error["extensions"]["code"] = Value::String("BAD_USER_INPUT".into());
        changed = true;
    }
    if changed {
        message.to_string()
    } else {
        text
    }
}

fn too_large_or_broken(e: actix_ws::ProtocolError, max: usize) -> Close {
    match e {
        actix_ws::ProtocolError::Overflow => {
            Close::new(1009, format!("messages may hold at most {max} bytes"))
        }
        _ => Close::new(1002, "not a WebSocket frame"),
    }
}
