//! The form of GraphQL over HTTP (the GraphQL-over-HTTP spec): which media type an
//! answer takes, what a request's parameters may be, and which status an answer gets.
//!
//! - **Media types.** `application/graphql-response+json` and `application/json` are
//!   both answered, chosen from `Accept` (its q-values respected; a missing `Accept`,
//!   `*/*` and `application/*` mean `application/json`, which every client reads);
//!   406 when `Accept` allows neither.
//! - **Parameters.** `query` a string, `operationName` a string or null, `variables` and
//!   `extensions` maps or null: anything else is 400 with what was wrong, before any
//!   GraphQL work. `query` may be left out only when `extensions.persistedQuery` names
//!   a trusted document.
//! - **Status.** A request error (the document could not be parsed, validated or given
//!   its variables, or the request was refused before it ran) has no `data` entry.
//!   Under `application/json` it is answered 200, as older clients expect; under
//!   `application/graphql-response+json` it is 400, or 401/403/429/500 where its code
//!   says so. A response with `data` (even null, with field errors) is 200.

use std::collections::BTreeMap;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use async_graphql::{Response, ServerError, Value};
use serde_json::{Map, Value as Json};

/// The media type of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    /// `application/graphql-response+json`: status codes tell request errors apart.
    GraphqlResponse,
    /// `application/json`: every GraphQL answer is 200, as older clients expect.
    Json,
}

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

impl Media {
    pub fn content_type(self) -> &'static str {
        match self {
            Media::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Media::Json => "application/json",
        }
    }

    /// The media type `Accept` asks for; `None` when it allows neither (answer
    /// [`not_acceptable`]).
    pub fn negotiate(req: &HttpRequest) -> Option<Media> {
        let accept = req
            .headers()
            .get_all(header::ACCEPT)
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        from_accept(&accept)
    }

    /// Gives an answer built as `application/json` this media type (the bodies are the
    /// same JSON).
    pub fn label(self, res: &mut HttpResponse) {
        if self == Media::GraphqlResponse {
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(self.content_type()),
            );
        }
    }
}

/// The answer when `Accept` allows neither media type.
pub fn not_acceptable() -> HttpResponse {
    super::error_response(
        StatusCode::NOT_ACCEPTABLE,
        "BAD_USER_INPUT",
        "this endpoint answers application/graphql-response+json or application/json; the request's Accept header allows neither",
    )
}

/// Chooses by q-value; at equal q an exact media type beats a wildcard, and
/// `application/graphql-response+json` beats `application/json`.
fn from_accept(accept: &str) -> Option<Media> {
    if accept.trim().is_empty() {
        return Some(Media::Json);
    }
    // (q in thousandths, exactness, preference, media)
    let mut best: Option<(u16, u8, u8, Media)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let kind = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1000), |(_, v)| quality(v.trim()));
        let Some(q) = q.filter(|q| *q > 0) else {
            continue;
        };
        let candidate = match kind.as_str() {
            GRAPHQL_RESPONSE => (q, 2, 1, Media::GraphqlResponse),
            "application/json" => (q, 2, 0, Media::Json),
            "application/*" | "*/*" => (q, 1, 0, Media::Json),
            _ => continue,
        };
        if best.is_none_or(|b| (candidate.0, candidate.1, candidate.2) > (b.0, b.1, b.2)) {
            best = Some(candidate);
        }
    }
    best.map(|b| b.3)
}

/// An HTTP q-value (`0`, `0.5`, `1.000`) in thousandths; `None` if malformed.
fn quality(v: &str) -> Option<u16> {
    let (whole, fraction) = v.split_once('.').unwrap_or((v, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// A request's parameters, checked.
#[derive(Debug, Default)]
pub struct Params {
    pub query: Option<String>,
    pub operation_name: Option<String>,
    pub variables: Map<String, Json>,
    /// `extensions.persistedQuery.sha256Hash`, lower-case hex.
    pub persisted: Option<String>,
}

/// Why a request's parameters were refused (answered 400).
pub type Refusal = String;

impl Params {
    /// The parameters of a JSON body's object.
    pub fn from_json(value: Json) -> Result<Params, Refusal> {
        let Json::Object(mut map) = value else {
            return Err(
                "the body is not a GraphQL request: expected a JSON object {\"query\": …, \"variables\": …}"
                    .into(),
            );
        };
        let query = match map.remove("query") {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => Some(s),
            Some(_) => return Err("`query` must be a string holding the GraphQL document".into()),
        };
        let operation_name = match map.remove("operationName") {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => Some(s),
            Some(_) => return Err("`operationName` must be a string or null".into()),
        };
        let variables = match map.remove("variables") {
            None | Some(Json::Null) => Map::new(),
            Some(Json::Object(v)) => v,
            Some(_) => {
                return Err(
                    "`variables` must be a JSON object mapping names to values, or null".into(),
                )
            }
        };
        let extensions = match map.remove("extensions") {
            None | Some(Json::Null) => Map::new(),
            Some(Json::Object(v)) => v,
            Some(_) => return Err("`extensions` must be a JSON object, or null".into()),
        };
        Params::checked(query, operation_name, variables, extensions)
    }

    /// The parameters of a GET request's query string (`variables` and `extensions` as
    /// JSON text).
    pub fn from_query_string(text: &str) -> Result<Params, Refusal> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(text)
            .map_err(|_| "the query string is not URL-encoded".to_owned())?;
        let mut seen = std::collections::HashSet::new();
        let mut map = Map::new();
        for (key, value) in pairs {
            if !seen.insert(key.clone()) {
                return Err(format!("the query string names `{key}` more than once"));
            }
            let value = match key.as_str() {
                "variables" | "extensions" => serde_json::from_str(&value)
                    .map_err(|_| format!("`{key}` must be URL-encoded JSON"))?,
                _ => Json::String(value),
            };
            map.insert(key, value);
        }
        Params::from_json(Json::Object(map))
    }

    fn checked(
        query: Option<String>,
        operation_name: Option<String>,
        variables: Map<String, Json>,
        extensions: Map<String, Json>,
    ) -> Result<Params, Refusal> {
        let persisted = match extensions.get("persistedQuery") {
            None | Some(Json::Null) => None,
            Some(Json::Object(p)) => {
                if p.get("version")
                    .and_then(Json::as_u64)
                    .is_some_and(|v| v != 1)
                {
                    return Err("`extensions.persistedQuery.version` must be 1".into());
                }
                let hash = p
                    .get("sha256Hash")
                    .and_then(Json::as_str)
                    .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .ok_or("`extensions.persistedQuery.sha256Hash` must be the document's SHA-256, as 64 hex digits")?;
                Some(hash.to_ascii_lowercase())
            }
            Some(_) => return Err("`extensions.persistedQuery` must be a JSON object".into()),
        };
        if query.is_none() && persisted.is_none() {
            return Err("the request has no `query`: send the operation's text as `query`, or name a trusted document with `extensions.persistedQuery.sha256Hash`".into());
        }
        Ok(Params {
            query,
            operation_name,
            variables,
            persisted,
        })
    }
}

/// Is this a request error (one that stopped the request before execution)? Such
/// responses have no data and no error at a field's path.
pub fn is_request_error(response: &Response) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// A response as sent: a request error has no `data` entry at all (the GraphQL spec:
/// "if an error was raised before execution begins, the data entry should not be
/// present").
pub struct Answer<'a> {
    data: Option<&'a Value>,
    errors: &'a [ServerError],
    extensions: &'a BTreeMap<String, Value>,
}

impl<'a> Answer<'a> {
    pub fn of(response: &'a Response) -> Self {
        Answer {
            data: (!is_request_error(response)).then_some(&response.data),
            errors: &response.errors,
            extensions: &response.extensions,
        }
    }

    /// Writes the answer's JSON: `data` (with the plain walk's answers spliced in as
    /// written, see `graphql::plain`), then `errors` and `extensions` when there are any.
    pub fn write(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.push(b'{');
        let mut first = true;
        let mut key = |out: &mut Vec<u8>, name: &str| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            out.extend_from_slice(name.as_bytes());
        };
        if let Some(data) = self.data {
            key(out, r#""data":"#);
            crate::graphql::plain::write_value(out, data)?;
        }
        if !self.errors.is_empty() {
            key(out, r#""errors":"#);
            serde_json::to_writer(&mut *out, self.errors)?;
        }
        if !self.extensions.is_empty() {
            key(out, r#""extensions":"#);
            serde_json::to_writer(&mut *out, self.extensions)?;
        }
        out.push(b'}');
        Ok(())
    }
}

/// The body of an HTTP answer: the one answer, or a batch's as a list.
pub fn body(answers: &[Answer<'_>], batch: bool) -> serde_json::Result<Vec<u8>> {
    // The spliced answers' size, plus room for what is around them.
    let spliced: usize = answers
        .iter()
        .filter_map(|a| a.data)
        .map(crate::graphql::plain::spliced_len)
        .sum();
    let mut out = Vec::with_capacity(spliced + 4096);
    if batch {
        out.push(b'[');
    }
    for (i, answer) in answers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        answer.write(&mut out)?;
    }
    if batch {
        out.push(b']');
    } else if answers.is_empty() {
        out.extend_from_slice(b"null");
    }
    Ok(out)
}

/// The status of a single (unbatched) response under `media`.
pub fn status(media: Media, response: &Response) -> StatusCode {
    if media == Media::Json || !is_request_error(response) {
        return StatusCode::OK;
    }
    let code = response
        .errors
        .first()
        .and_then(|e| e.extensions.as_ref())
        .and_then(|x| x.get("code"))
        .and_then(|c| match c {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        });
    match code {
        Some("UNAUTHENTICATED") => StatusCode::UNAUTHORIZED,
        Some("FORBIDDEN") => StatusCode::FORBIDDEN,
        Some("RATE_LIMITED") => StatusCode::TOO_MANY_REQUESTS,
        Some("INTERNAL") => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_is_negotiated_by_quality_then_exactness() {
        assert_eq!(from_accept(""), Some(Media::Json));
        assert_eq!(from_accept("*/*"), Some(Media::Json));
        assert_eq!(from_accept("application/*"), Some(Media::Json));
        assert_eq!(from_accept(GRAPHQL_RESPONSE), Some(Media::GraphqlResponse));
        assert_eq!(
            from_accept("application/graphql-response+json, application/json;q=0.9"),
            Some(Media::GraphqlResponse)
        );
        assert_eq!(
            from_accept("application/graphql-response+json;q=0.5, application/json"),
            Some(Media::Json)
        );
        assert_eq!(
            from_accept("application/json, application/graphql-response+json"),
            Some(Media::GraphqlResponse)
        );
        assert_eq!(
            from_accept("text/html,application/xhtml+xml,*/*;q=0.8"),
            Some(Media::Json)
        );
        assert_eq!(from_accept("text/html"), None);
        assert_eq!(from_accept("application/json;q=0"), None);
        assert_eq!(from_accept("application/json;q=2"), None, "malformed q");
        assert_eq!(from_accept("Application/JSON"), Some(Media::Json));
    }

    #[test]
    fn parameters_of_the_wrong_kind_are_refused_with_what_was_wrong() {
        let refused = |v: Json| Params::from_json(v).err().unwrap_or_default();
        assert!(refused(serde_json::json!({"query": 0})).contains("`query`"));
        assert!(refused(serde_json::json!({"notquery": "{a}"})).contains("no `query`"));
        assert!(
            refused(serde_json::json!({"query": "{a}", "operationName": false}))
                .contains("`operationName`")
        );
        assert!(
            refused(serde_json::json!({"query": "{a}", "variables": "x"})).contains("`variables`")
        );
        assert!(
            refused(serde_json::json!({"query": "{a}", "extensions": []})).contains("`extensions`")
        );
        assert!(refused(serde_json::json!(["{a}"])).contains("JSON object"));
        let hash = "A".repeat(64);
        let p = Params::from_json(serde_json::json!({
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": hash}},
            "variables": null, "operationName": null,
        }))
        .ok();
        assert_eq!(p.and_then(|p| p.persisted), Some("a".repeat(64)));
        assert!(refused(
            serde_json::json!({"extensions": {"persistedQuery": {"sha256Hash": "abc"}}})
        )
        .contains("64 hex digits"));
    }

    #[test]
    fn get_parameters_are_read_once_each() {
        let p = Params::from_query_string(
            "query=query%20Q%28%24n%3AString%21%29%7B__typename%7D&operationName=Q&variables=%7B%22n%22%3A%22x%22%7D",
        );
        let p = p.ok();
        assert_eq!(
            p.as_ref().and_then(|p| p.operation_name.as_deref()),
            Some("Q")
        );
        assert_eq!(
            p.as_ref().and_then(|p| p.variables.get("n").cloned()),
            Some(Json::String("x".into()))
        );
        assert!(Params::from_query_string("query=a&query=b").is_err());
        assert!(Params::from_query_string("query=a&variables=%7Bnot").is_err());
    }
}
