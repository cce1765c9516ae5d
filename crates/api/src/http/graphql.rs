//! The GraphQL endpoint over HTTP.
//!
//! Before anything runs, cheapest first: JSON only (415 otherwise), one operation unless
//! batching is configured, query text within its size limit, then the document checks
//! of [`crate::graphql::document`] (linear in the text: nesting, fragment expansion,
//! aliases, repeated fields), no mutation over GET. Only then is the caller
//! authenticated and rate-limited (sign-in operations recognised by their root fields,
//! through fragments), the operations execute under a deadline with a panic caught as
//! INTERNAL (with the request id), and a pool that cannot give a connection in time
//! answers 503 with Retry-After.
//!
//! Over 400 lines on purpose: it is one request's path through the endpoint, step by
//! step in the order it runs; split, that order would have to be read across files.

use std::panic::AssertUnwindSafe;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use async_graphql::{Request, Response, ServerError};
use crust_domain::audit::Outcome;
use futures_util::FutureExt;
use serde_json::json;

use super::error_response;
use super::rate_limit::{too_many_requests, Bucket, Verdict};
use super::request_id::RequestId;
use super::wire::{self, Answer, Media, Params};
use crate::config::GraphqlLimits;
use crate::error::ApiError;
use crate::graphql::document::{self, Verdict as Document};
use crate::graphql::RequestCtx;
use crate::state::AppState;

fn bad_input(status: StatusCode, message: &str) -> HttpResponse {
    error_response(status, "BAD_USER_INPUT", message)
}

pub(super) fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

pub async fn post(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let Some(media) = Media::negotiate(&req) else {
        return wire::not_acceptable();
    };
    let mut res = post_as(&state, &req, &body, media).await;
    media.label(&mut res);
    res
}

async fn post_as(state: &AppState, req: &HttpRequest, body: &[u8], media: Media) -> HttpResponse {
    if !is_json(req) {
        return bad_input(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send GraphQL requests as Content-Type: application/json",
        );
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return bad_input(
            StatusCode::BAD_REQUEST,
            "the body is empty: send a JSON object {\"query\": …, \"variables\": …}",
        );
    }
    let json: serde_json::Value = match serde_json::from_slice(body) {
        Ok(json) => json,
        Err(e) => {
            return bad_input(
                StatusCode::BAD_REQUEST,
                &format!(
                "the body is not JSON ({e}): send a JSON object {{\"query\": …, \"variables\": …}}"
            ),
            )
        }
    };
    let max_batch = state.limits.max_batch;
    let (batch, params) = match json {
        serde_json::Value::Array(list) => {
            if max_batch == 1 {
                return bad_input(
                    StatusCode::BAD_REQUEST,
                    "batched requests are disabled; send one operation per request",
                );
            }
            if list.len() > max_batch {
                return bad_input(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "a batch holds at most {max_batch} operations (this one holds {}); send the rest in another request",
                        list.len()
                    ),
                );
            }
            let mut params = Vec::with_capacity(list.len());
            for (i, item) in list.into_iter().enumerate() {
                match Params::from_json(item) {
                    Ok(p) => params.push(p),
                    Err(why) => {
                        return bad_input(
                            StatusCode::BAD_REQUEST,
                            &format!("operation {} of the batch: {why}", i + 1),
                        )
                    }
                }
            }
            (true, params)
        }
        single => match Params::from_json(single) {
            Ok(p) => (false, vec![p]),
            Err(why) => return bad_input(StatusCode::BAD_REQUEST, &why),
        },
    };
    let mut prepared = Vec::with_capacity(params.len());
    for p in params {
        match admit(state, req, p).await {
            Ok(p) => prepared.push(p),
            Err(refusal) => return refusal,
        }
    }
    execute(state, req, prepared, batch, media).await
}

/// Turns a request's parameters into a request to prepare: its document (named by
/// hash, or sent), within the text's size limit.
async fn admit(
    state: &AppState,
    req: &HttpRequest,
    params: Params,
) -> Result<Prepared, HttpResponse> {
    let (request, trusted) = match resolve(state, params) {
        Ok(resolved) => resolved,
        Err(response) => return Ok(Prepared::Refused(*response, false)),
    };
    // A trusted document is run whatever its length: the app was built with it.
    if !trusted {
        if let Some(refusal) = too_long(state, &request) {
            if looks_like_mutation(&request) {
                refused_mutation(state, req, "query_too_long").await;
            }
            return Err(refusal);
        }
    }
    Ok(prepare(state, request, trusted))
}

/// The request's document: the trusted document its hash names, or its text (trusted
/// when the manifest lists the text's hash). Apollo's protocol: an unknown hash sent
/// alone is answered `PersistedQueryNotFound`, and a client may then send the text
/// with the hash.
pub(super) fn resolve(state: &AppState, params: Params) -> Result<(Request, bool), Box<Response>> {
    let Params {
        query,
        operation_name,
        variables,
        persisted,
    } = params;
    let (text, trusted) = match (persisted, query) {
        (Some(hash), query) => {
            if let Some(text) = &query {
                let actual = crate::graphql::sha256_hex(text);
                if actual != hash {
                    return Err(Box::new(refusal(ApiError::BadUserInput(format!(
                        "extensions.persistedQuery.sha256Hash is {hash}, but the SHA-256 of the query sent with it is {actual}"
                    )))));
                }
            }
            match (state.trusted.get(&hash), query) {
                (Some(text), _) => (text.to_string(), true),
                (None, Some(text)) => (text, false),
                (None, None) => return Err(Box::new(persisted_query_not_found(&hash))),
            }
        }
        (None, Some(text)) => {
            let trusted = !state.trusted.is_empty()
                && state
                    .trusted
                    .get(&crate::graphql::sha256_hex(&text))
                    .is_some();
            (text, trusted)
        }
        (None, None) => unreachable!("Params always holds a query or a hash"),
    };
    let mut request =
        Request::new(text).variables(async_graphql::Variables::from_json(variables.into()));
    request.operation_name = operation_name;
    Ok((request, trusted))
}

/// The refusal of a document that is not trusted where only trusted ones run
/// (`CRUST_TRUSTED_DOCUMENTS_ONLY`), over HTTP and over `/graphql/ws`.
pub(super) const UNTRUSTED: &str = "this server runs only trusted documents (the operations its apps were built with): send `extensions.persistedQuery.sha256Hash` of a document in its manifest";

/// Apollo's clients recognise this message and send the text with the hash.
fn persisted_query_not_found(hash: &str) -> Response {
    let mut error = ServerError::new("PersistedQueryNotFound", None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", "NOT_FOUND");
    extensions.set(
        "detail",
        format!("no trusted document of this server has the SHA-256 {hash}: send the operation's text as `query` with the hash, or build the app's manifest into the server (CRUST_TRUSTED_DOCUMENTS)"),
    );
    error.extensions = Some(extensions);
    Response::from_errors(vec![error])
}

/// A request after the document checks: to run, with what the checks learned, or
/// already answered.
enum Prepared {
    Run(Request, Facts),
    /// The answer, and whether the text looked like a mutation (such refusals are
    /// recorded, sampled, once the request has drawn from its rate limit).
    Refused(Response, bool),
}

/// The size of a value as JSON, counted without building the text.
fn json_size(value: &impl serde::Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Serializing plain values into a sink cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// What the document checks learned about a request that may run.
struct Facts {
    root_fields: Vec<String>,
    mutation: bool,
    /// Does some response key repeat, so that the engine merges answers?
    merges: bool,
    /// The size of its variables, as JSON.
    variables_bytes: usize,
    /// Is it one of the trusted documents (`CRUST_TRUSTED_DOCUMENTS`)?
    trusted: bool,
}

/// Variables an anonymous request may send: sign-in inputs are small, and a caller who
/// may not run anything else has no use for more (it would only make validation work).
const ANONYMOUS_VARIABLES_MAX: usize = 16 * 1024;

impl Facts {
    /// Does every root field of the document (through fragments) allow anonymous
    /// callers? (An unparsable document has none, and async-graphql reports its syntax.)
    fn public(&self) -> bool {
        self.root_fields
            .iter()
            .all(|f| crate::graphql::is_public(f))
    }

    /// Does the document name a sign-in, password or heavy field (through fragments)?
    fn signs_in(&self) -> bool {
        self.root_fields
            .iter()
            .any(|f| crate::graphql::is_sign_in(f))
    }

    /// Is every root field of the document (every operation's, through fragments) one
    /// that checks or sets a password? Only such documents skip the turn to execute:
    /// one that merely names such a field beside others, or in an operation that does
    /// not run, waits like any other.
    fn only_hashes_passwords(&self) -> bool {
        !self.root_fields.is_empty()
            && self
                .root_fields
                .iter()
                .all(|f| crate::graphql::hashes_passwords(f))
    }

    /// Does any operation of the document ask for `__schema` or `__type` (which exist
    /// on the query root only)?
    fn introspects(&self) -> bool {
        self.root_fields
            .iter()
            .any(|f| f == "__schema" || f == "__type")
    }
}

/// Refuses an anonymous request that names a root field needing a token before its
/// document is validated, so that whether a field exists cannot be told from the
/// answer; a mutation is recorded as the gate would record it.
async fn refuse_anonymous(
    ctx: &RequestCtx,
    recorder: &crate::audit::Recorder,
    db: &crate::db::Db,
    request: &mut Request,
    facts: &Facts,
) -> Response {
    let code = "UNAUTHENTICATED";
    if facts.mutation {
        let variables = request.variables.clone();
        let operation = request.operation_name.clone();
        if let Ok(doc) = request.parsed_query() {
            let fields = document::selected_root_fields(doc, operation.as_deref());
            let refused = fields
                .into_iter()
                .find(|f| !crate::graphql::is_public(&f.name.node));
            if let Some(field) = refused {
                crate::graphql::record_refused_field(recorder, db, field, &variables, code).await;
            }
        }
    }
    let e = ApiError::Unauthenticated(ctx.auth_error.unwrap_or(crate::graphql::SIGN_IN_FIRST));
    tracing::info!(code, "anonymous request for fields that need a token");
    refusal(e)
}

/// A GraphQL response that refuses the request with `e`.
fn refusal(e: ApiError) -> Response {
    Response::from_errors(vec![e.to_server_error()])
}

/// Runs the document checks. A refused document is answered like any GraphQL error
/// (HTTP 200, code BAD_USER_INPUT); a refused mutation is recorded (see `execute`)
/// like the other refusals made before authentication.
fn prepare(state: &AppState, mut request: Request, trusted: bool) -> Prepared {
    let variables_bytes = json_size(&request.variables);
    let input = document::Input {
        query: &request.query,
        operation_name: request.operation_name.as_deref(),
        variables_bytes,
    };
    match document::check(input, &state.limits) {
        Ok(Document::Checked(checked)) => {
            let document::Checked {
                doc,
                root_fields,
                mutation,
                merges,
            } = *checked;
            request.set_parsed_query(doc);
            Prepared::Run(
                request,
                Facts {
                    root_fields,
                    mutation,
                    merges,
                    variables_bytes,
                    trusted,
                },
            )
        }
        Ok(Document::Unparsable) => {
            let mutation = looks_like_mutation(&request);
            Prepared::Run(
                request,
                Facts {
                    root_fields: Vec::new(),
                    mutation,
                    merges: true,
                    variables_bytes,
                    trusted,
                },
            )
        }
        Err(e) => {
            tracing::info!(reason = %e.message(), "query document refused");
            // A text that never says `mutation` holds none.
            let mutation = request.query.contains("mutation");
            Prepared::Refused(refusal(e), mutation)
        }
    }
}

pub async fn get(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let Some(media) = Media::negotiate(&req) else {
        return wire::not_acceptable();
    };
    let mut res = get_as(&state, &req, media).await;
    media.label(&mut res);
    res
}

async fn get_as(state: &AppState, req: &HttpRequest, media: Media) -> HttpResponse {
    let params = match Params::from_query_string(req.query_string()) {
        Ok(params) => params,
        Err(why) => return bad_input(StatusCode::BAD_REQUEST, &why),
    };
    let mut prepared = match admit(state, req, params).await {
        Ok(prepared) => prepared,
        Err(refusal) => return refusal,
    };
    if let Prepared::Run(request, facts) = &mut prepared {
        let name = request.operation_name.clone();
        if facts.mutation
            && request
                .parsed_query()
                .is_ok_and(|doc| super::live::subscribes(doc, name.as_deref()))
        {
            return bad_input(StatusCode::BAD_REQUEST, crate::graphql::ONLY_OVER_WS);
        }
    }
    // GET must never change anything (it is a "simple" cross-site request).
    if matches!(&prepared, Prepared::Run(_, facts) if facts.mutation) {
        refused_mutation(state, req, "mutation_over_get").await;
        let mut res = bad_input(
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations must be sent with POST and Content-Type: application/json",
        );
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return res;
    }
    execute(state, req, vec![prepared], false, media).await
}

fn too_long(state: &AppState, request: &Request) -> Option<HttpResponse> {
    too_long_to_run(&state.limits, &request.query)
        .map(|why| bad_input(StatusCode::PAYLOAD_TOO_LARGE, &why))
}

/// Why a document that is not trusted is too long to run, over HTTP and the socket.
pub(super) fn too_long_to_run(limits: &GraphqlLimits, query: &str) -> Option<String> {
    let max = limits.max_query_chars;
    let chars = query.chars().count();
    (chars > max).then(|| {
        format!(
            "the query is {chars} characters long; at most {max} are accepted: split it into smaller operations, or send it by hash as a trusted document"
        )
    })
}

/// Records a mutation refused before it was parsed or run.
async fn refused_mutation(state: &AppState, req: &HttpRequest, reason: &str) {
    super::record_refused_request(state, req, "mutation", "BAD_USER_INPUT", reason).await;
}

/// A cheap look at a text (too long to parse, or unparsable): does it start like a
/// mutation?
fn looks_like_mutation(request: &Request) -> bool {
    request.query.trim_start().starts_with("mutation")
}

fn retry_later(message: &str) -> HttpResponse {
    let mut res = error_response(StatusCode::SERVICE_UNAVAILABLE, "INTERNAL", message);
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    res
}

async fn execute(
    state: &AppState,
    req: &HttpRequest,
    requests: Vec<Prepared>,
    batch: bool,
    media: Media,
) -> HttpResponse {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let refused_mutations = requests
        .iter()
        .any(|r| matches!(r, Prepared::Refused(_, true)));
    if requests.iter().all(|r| matches!(r, Prepared::Refused(..))) {
        // Nothing will run, so who asked need not be known; but refusals are no free
        // lunch: the client's network draws from the anonymous bucket, so they can be
        // neither sent nor recorded without limit.
        let client = super::client_ip(req, &state.trusted_proxies)
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        if let Verdict::Limited { limit, retry_after } =
            state.rate_limits.check(Bucket::Anonymous, &client)
        {
            let rec = super::recorder(state, req, None);
            super::record_rate_limited(state, &rec, Bucket::Anonymous, &client).await;
            return too_many_requests(limit, retry_after);
        }
        if refused_mutations {
            refused_mutation(state, req, "document_refused").await;
        }
        let responses = requests
            .into_iter()
            .filter_map(|r| match r {
                Prepared::Refused(response, _) => Some(response),
                Prepared::Run(..) => None,
            })
            .collect();
        return respond(
            state,
            responses,
            &request_id,
            &Default::default(),
            None,
            (batch, media),
        );
    }
    let ctx = match request_ctx(state, req).await {
        Ok(ctx) => ctx,
        Err(e) => return retry_later(&e.message()),
    };
    let recorder = super::recorder(state, req, ctx.caller.as_ref().map(|(p, _)| p));
    let allowance = match rate_limit(state, &ctx, &requests) {
        Ok(allowance) => allowance,
        Err((bucket, key, refusal)) => {
            super::record_rate_limited(state, &recorder, bucket, &key).await;
            return *refusal;
        }
    };
    if refused_mutations {
        refused_mutation(state, req, "document_refused").await;
    }
    // Per request: a database handle that counts statements and records mutations,
    // and the DataLoaders.
    let (db, statements) = state.db.counting();
    let work = crate::audit::Work::new(db.clone(), recorder.clone());
    let mut responses = Vec::with_capacity(requests.len());
    let schema = state.schemas.for_caller(ctx.caller.is_some());
    let metrics = crate::metrics::metrics();
    for prepared in requests {
        let started = std::time::Instant::now();
        let (mut request, facts) = match prepared {
            Prepared::Run(request, facts) => (request, facts),
            Prepared::Refused(response, _) => {
                metrics.answered(metrics.operation(false, &[]), &outcome(&response), 0.0);
                responses.push(response);
                continue;
            }
        };
        let operation = metrics.operation(facts.mutation, &facts.root_fields);
        if ctx.caller.is_none() && facts.variables_bytes > ANONYMOUS_VARIABLES_MAX {
            let e = ApiError::BadUserInput(format!(
                "without signing in, variables may hold at most {ANONYMOUS_VARIABLES_MAX} bytes; these hold {}: send smaller variables (the sign-in fields need only a few short strings)",
                facts.variables_bytes
            ));
            metrics.answered(operation, "BAD_USER_INPUT", elapsed(started));
            responses.push(refusal(e));
            continue;
        }
        if ctx.caller.is_none() && !facts.public() {
            let response = refuse_anonymous(&ctx, &recorder, &db, &mut request, &facts).await;
            metrics.answered(operation, &outcome(&response), elapsed(started));
            responses.push(response);
            continue;
        }
        if ctx.caller.is_some() && state.limits.trusted_documents_only && !facts.trusted {
            if facts.mutation {
                refused_mutation(state, req, "untrusted_document").await;
            }
            let e = ApiError::Forbidden(UNTRUSTED.into());
            metrics.answered(operation, "FORBIDDEN", elapsed(started));
            responses.push(refusal(e));
            continue;
        }
        // Cost and depth, with what to change, for signed-in callers (an anonymous
        // caller gets async-graphql's plain refusal: the figures would map the schema).
        if ctx.caller.is_some() {
            let variables = std::mem::take(&mut request.variables);
            let too_costly = request
                .parsed_query()
                .ok()
                .and_then(|doc| crate::graphql::cost::check(doc, &variables, &state.limits).err());
            request.variables = variables;
            if let Some(error) = too_costly {
                if facts.mutation {
                    refused_mutation(state, req, "query_too_costly").await;
                }
                metrics.answered(operation, "BAD_USER_INPUT", elapsed(started));
                responses.push(Response::from_errors(vec![error]));
                continue;
            }
        }
        // Introspection is refused here, where the document's root fields are known
        // through fragments and aliases, rather than per field as it resolves.
        if !state.limits.introspection && facts.introspects() {
            if facts.mutation {
                refused_mutation(state, req, "introspection_disabled").await;
            }
            let e = ApiError::Forbidden("introspection is disabled on this server".into());
            metrics.answered(operation, "FORBIDDEN", elapsed(started));
            responses.push(refusal(e));
            continue;
        }
        // A text that never says `mutation` holds none. Anything else is kept, to
        // record it should it be refused before it runs, and for the audit extension.
        let copy = request.query.contains("mutation").then(|| {
            let mut copy = Request::new(request.query.clone()).variables(request.variables.clone());
            copy.operation_name = request.operation_name.clone();
            copy
        });
        let fields_before = recorder.mutation_fields();
        let mut request = request
            .data(work.clone())
            .data(ctx.clone())
            .data(recorder.clone());
        // Answered by `respond`, which writes the plain walk's answers as they are —
        // unless the engine is to merge answers of one key, which it does for objects
        // only (a spliced page would lose the other half).
        if !facts.merges {
            request = request.data(crate::graphql::plain::Spliced);
        }
        if let Some(copy) = &copy {
            request = request.data(crate::graphql::RequestVariables(copy.variables.clone()));
        }
        if let Some((_, actor)) = &ctx.caller {
            request = request.data(crate::graphql::loaders(
                db.clone(),
                actor.clone(),
                !facts.mutation,
            ));
        }
        // Sign-in operations wait for the hashing pool instead: holding a turn here
        // while they do, a sign-in storm would starve the reads.
        let turn = (!facts.only_hashes_passwords()).then(|| state.executions.clone());
        let activity = state.activity.clone();
        // Test profile only: a slow but healthy operation that holds its turn, not a
        // thread.
        let slow = state.test_hooks && request.query.contains("crustTestSlow");
        let run = AssertUnwindSafe(async move {
            let _turn = match turn {
                Some(turns) => Some(turns.acquire_owned().await),
                None => None,
            };
            if slow {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
            activity.started();
            schema.execute(request).await
        })
        .catch_unwind();
        match tokio::time::timeout(state.request_deadline, run).await {
            Err(_) => {
                metrics.answered(operation, "INTERNAL", elapsed(started));
                tracing::warn!("request deadline passed");
                // A mutation stopped mid-way rolled back, and is recorded as an error;
                // one that never got its turn to run is recorded as refused.
                if let Some(pending) = recorder.finish().filter(|p| !p.recorded) {
                    let code = Some("INTERNAL".to_owned());
                    recorder
                        .record_unfinished(&db, pending, Outcome::Error, code)
                        .await;
                } else if facts.mutation && recorder.mutation_fields() == fields_before {
                    refused_mutation(state, req, "deadline_passed").await;
                }
                return retry_later(
                    "the request took too long and was stopped; retry or ask for less",
                );
            }
            Ok(Err(panic)) => {
                metrics.answered(operation, "INTERNAL", elapsed(started));
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(request_id = %request_id, panic = %what, "resolver panicked");
                // A mutation that panicked mid-way rolled back (its transaction was
                // dropped); its record is an `error`, written here.
                if let Some(pending) = recorder.finish().filter(|p| !p.recorded) {
                    let code = Some("INTERNAL".to_owned());
                    recorder
                        .record_unfinished(&db, pending, Outcome::Error, code)
                        .await;
                }
                return HttpResponse::InternalServerError().json(json!({ "errors": [{
                    "message": "internal error",
                    "extensions": { "code": "INTERNAL", "requestId": request_id },
                }] }));
            }
            Ok(Ok(response)) => {
                metrics.answered(operation, &outcome(&response), elapsed(started));
                let ran = recorder.mutation_fields() > fields_before;
                if let (false, true, Some(copy), Some(error)) =
                    (ran, recorder.enabled(), copy, response.errors.first())
                {
                    if facts.mutation {
                        let (rec, message) = (recorder.clone(), error.message.clone());
                        let sent = copy.variables.into_value().into_json().unwrap_or_default();
                        let query = copy.query;
                        if let Err(e) = db
                            .run(move |c| rec.refused_operation(c, &query, sent, &message))
                            .await
                        {
                            tracing::error!(
                                error = e.message(),
                                "could not record a refused mutation"
                            );
                        }
                    }
                }
                responses.push(response)
            }
        }
        if let Some(reads) = recorder.take_reads() {
            let rec = recorder.clone();
            if let Err(e) = db.run(move |c| rec.record_reads(c, reads)).await {
                // Need-to-know data is never served unrecorded: withhold the response.
                tracing::error!(
                    error = e.message(),
                    "could not record reads of need-to-know objects"
                );
                return retry_later("the request could not be completed; retry shortly");
            }
        }
    }
    respond(
        state,
        responses,
        &request_id,
        &statements,
        Some(allowance),
        (batch, media),
    )
}

fn elapsed(started: std::time::Instant) -> f64 {
    started.elapsed().as_secs_f64()
}

/// A response's outcome as metrics label it: `ok`, or its first error's code when it
/// is one of ours (async-graphql's own errors are `error`).
fn outcome(response: &Response) -> String {
    const CODES: [&str; 7] = [
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "NOT_FOUND",
        "BAD_USER_INPUT",
        "RATE_LIMITED",
        "CONFLICT",
        "INTERNAL",
    ];
    let Some(error) = response.errors.first() else {
        return "ok".into();
    };
    let code = error
        .extensions
        .as_ref()
        .and_then(|x| x.get("code"))
        .and_then(|v| match v {
            async_graphql::Value::String(s) => CODES.iter().find(|c| **c == s.as_str()),
            _ => None,
        });
    code.map_or("error", |c| c).to_owned()
}

/// The HTTP answer for a request's GraphQL responses.
fn respond(
    state: &AppState,
    mut responses: Vec<Response>,
    request_id: &str,
    sql: &crust_dal::SqlCounts,
    allowance: Option<Verdict>,
    (batch, media): (bool, Media),
) -> HttpResponse {
    tracing::debug!(
        sql_statements = sql.statements(),
        sql_round_trips = sql.round_trips(),
        sql_hops = sql.hops(),
        "graphql request"
    );
    let mut retryable = false;
    for response in &mut responses {
        retryable |= finish(
            response,
            request_id,
            state.report_sql_statements.then_some(sql),
        );
    }
    let status = match (retryable, batch, responses.first()) {
        (true, ..) => StatusCode::SERVICE_UNAVAILABLE,
        // A batch's answers each carry their own errors.
        (false, true, _) | (false, false, None) => StatusCode::OK,
        (false, false, Some(response)) => wire::status(media, response),
    };
    let mut res = HttpResponse::build(status);
    if status == StatusCode::UNAUTHORIZED {
        res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
    }
    if retryable {
        res.insert_header((header::RETRY_AFTER, "1"));
    }
    if let Some(Verdict::Allowed { limit, remaining }) = allowance {
        res.insert_header(("RateLimit-Limit", limit.to_string()));
        res.insert_header(("RateLimit-Remaining", remaining.to_string()));
    }
    let answers: Vec<Answer> = responses.iter().map(Answer::of).collect();
    let answers = if batch {
        &answers[..]
    } else {
        &answers[..answers.len().min(1)]
    };
    match wire::body(answers, batch) {
        Ok(body) => res.insert_header(header::ContentType::json()).body(body),
        Err(e) => {
            tracing::error!(request_id, error = %e, "could not write a GraphQL answer");
            HttpResponse::InternalServerError().json(json!({ "errors": [{
                "message": "internal error",
                "extensions": { "code": "INTERNAL", "requestId": request_id },
            }] }))
        }
    }
}

/// Marks INTERNAL errors with the request id; says whether any error is worth a retry.
fn finish(response: &mut Response, request_id: &str, sql: Option<&crust_dal::SqlCounts>) -> bool {
    let mut retryable = false;
    for error in &mut response.errors {
        let code = error
            .extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .cloned();
        if code.is_none() {
            // Errors raised by async-graphql itself (syntax, validation, limits).
            set(error, "code", "BAD_USER_INPUT".into());
            crate::graphql::advise(&mut error.message);
        }
        if code.as_ref().map(|c| c.to_string()) == Some("\"INTERNAL\"".into()) {
            set(error, "requestId", request_id.into());
        }
        retryable |= error
            .extensions
            .as_ref()
            .and_then(|x| x.get("retryable"))
            .is_some();
    }
    if let Some(sql) = sql {
        let extensions = &mut response.extensions;
        extensions.insert("sqlStatements".into(), sql.statements().into());
        extensions.insert("sqlRoundTrips".into(), sql.round_trips().into());
        extensions.insert("sqlHops".into(), sql.hops().into());
    }
    retryable
}

fn set(error: &mut ServerError, key: &str, value: async_graphql::Value) {
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set(key, value);
}

/// Does any operation of the request use a sign-in field? Root fields are read after
/// expanding fragments, so `... on Mutation { login }` counts like `login`.
fn signs_in(requests: &[Prepared]) -> bool {
    requests.iter().any(|r| match r {
        Prepared::Run(_, facts) => facts.signs_in(),
        Prepared::Refused(..) => false,
    })
}

/// Draws from the caller's bucket (their user id, or their IP when anonymous) and, for
/// sign-in operations, from the stricter sign-in bucket of their IP.
#[allow(clippy::type_complexity)]
fn rate_limit(
    state: &AppState,
    ctx: &RequestCtx,
    requests: &[Prepared],
) -> Result<Verdict, (Bucket, String, Box<HttpResponse>)> {
    let ip = ctx.client.ip.clone().unwrap_or_default();
    let mut checks = vec![match &ctx.caller {
        Some((principal, _)) => (Bucket::User, principal.user_id().to_string()),
        None => (Bucket::Anonymous, ip.clone()),
    }];
    if signs_in(requests) {
        checks.push((Bucket::SignIn, ip));
    }
    // Every operation of a batch draws from the caller's bucket, as if sent alone.
    let operations = requests
        .iter()
        .filter(|r| matches!(r, Prepared::Run(..)))
        .count()
        .max(1);
    let mut verdict = Verdict::Allowed {
        limit: 0,
        remaining: 0,
    };
    for (i, (bucket, key)) in checks.into_iter().enumerate() {
        let draws = if i == 0 { operations } else { 1 };
        for _ in 0..draws {
            verdict = state.rate_limits.check(bucket, &key);
            if let Verdict::Limited { limit, retry_after } = verdict {
                tracing::info!(?bucket, retry_after = retry_after.as_secs(), "rate limited");
                return Err((bucket, key, Box::new(too_many_requests(limit, retry_after))));
            }
        }
    }
    Ok(verdict)
}

/// Who is calling. A missing or refused bearer token leaves the caller anonymous
/// (the gate then answers UNAUTHENTICATED for anything but sign-in); only a database
/// outage is an error here.
async fn request_ctx(state: &AppState, req: &HttpRequest) -> Result<RequestCtx, ApiError> {
    let client = super::client_info(req, &state.trusted_proxies);
    let mut ctx = RequestCtx {
        client,
        ..RequestCtx::default()
    };
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(ctx);
    };
    let bearer = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(token) = bearer else {
        ctx.auth_error = Some("the Authorization header must be `Bearer <access token>`");
        return Ok(ctx);
    };
    match state.auth.authenticate(token).await {
        Ok(caller) => ctx.caller = Some(caller),
        Err(ApiError::Unauthenticated(reason)) => {
            tracing::info!(reason, "bearer token refused");
            ctx.auth_error = Some(reason);
        }
        Err(other) => return Err(other),
    }
    Ok(ctx)
}
