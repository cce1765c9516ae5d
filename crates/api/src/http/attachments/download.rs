//! `GET /attachments/{id}`: the file, to those who may read its task (anyone else gets
//! the 404 of a file that does not exist), decrypted as it streams, always as a
//! download: `Content-Disposition: attachment`, `nosniff`, a sandboxing CSP, and a
//! passive `Content-Type` (anything a browser could run goes as
//! `application/octet-stream`).
//!
//! The requested bytes are checked before the answer starts: a first pass reads and
//! authenticates every chunk they touch, the second serves them. A file that fails
//! (tampered, truncated, chunks reordered, blob missing) is refused with a 500 that
//! carries the request id, and an audit event records it; none of it is served.

use actix_web::body::SizedStream;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use crust_dal::attachments::{self, Attachment};
use crust_dal::audit::{Target, TargetKind};
use crust_domain::audit::Outcome;
use futures_util::StreamExt;
use serde_json::json;

use super::range::{self, Ask};
use super::{api_refusal, caller, path_id};
use crate::audit::Recorder;
use crate::files::crypto::NONCE_PREFIX;
use crate::files::kinds;
use crate::files::store::{open_range, Sealed, StoreError};
use crate::state::AppState;

/// Served files may not run anything, even opened directly.
const CSP: &str = "sandbox; default-src 'none'; frame-ancestors 'none'";

pub async fn download(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let (principal, actor) = match caller(&state, &req).await {
        Ok(c) => c,
        Err(res) => return *res,
    };
    let id = match path_id(&path) {
        Ok(id) => id,
        Err(res) => return *res,
    };
    let rec = super::super::recorder(&state, &req, Some(&principal));
    let found = state.db.run(move |c| attachments::get(c, &actor, id)).await;
    let attachment = match found {
        Ok(a) => a,
        Err(e) => return api_refusal(&e),
    };
    let size = attachment.size_bytes.max(0) as u64;
    let ask = range::parse(
        req.headers()
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok()),
        req.headers().contains_key(header::IF_RANGE),
        size,
    );
    let (status, bytes) = match ask {
        Ask::Whole => (StatusCode::OK, 0..size),
        Ask::Part(r) => (StatusCode::PARTIAL_CONTENT, r),
        Ask::Unsatisfiable => {
            let mut res = super::super::error_response(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "BAD_USER_INPUT",
                &format!("the range asked for is outside the file's {size} bytes"),
            );
            res.headers_mut().insert(
                header::CONTENT_RANGE,
                header::HeaderValue::from_str(&format!("bytes */{size}"))
                    .unwrap_or(header::HeaderValue::from_static("bytes */0")),
            );
            return res;
        }
    };
    let file = match sealed(&state, &attachment) {
        Ok(file) => file,
        Err(e) => return unreadable(&state, &req, &rec, &attachment, &e).await,
    };
    // First pass: every chunk the answer touches must authenticate.
    let checked = async {
        let mut stream = open_range(&state.files.store, file.clone(), bytes.clone()).await?;
        while let Some(part) = stream.next().await {
            part?;
        }
        Ok::<_, StoreError>(())
    }
    .await;
    if let Err(e) = checked {
        return unreadable(&state, &req, &rec, &attachment, &e).await;
    }
    // Recorded once the file checked out and before a byte of it leaves: the log holds
    // every download, and no download that did not happen.
    let ranged = status == StatusCode::PARTIAL_CONTENT;
    if let Err(e) = record_download(&state, &rec, &attachment, ranged).await {
        return api_refusal(&e);
    }
    let stream = open_range(&state.files.store, file, bytes.clone()).await;
    let stream = match stream {
        Ok(s) => s,
        Err(e) => return unreadable(&state, &req, &rec, &attachment, &e).await,
    };
    let stream = stream.map(|part| {
        part.map_err(|e| {
            // Checked a moment ago: changed since. The connection is cut mid-body.
            tracing::error!(error = %e, "a file changed while being served");
            e
        })
    });
    let mut res = HttpResponse::build(status);
    res.insert_header((
        header::CONTENT_TYPE,
        kinds::served_type(&attachment.content_type),
    ))
    .insert_header((
        header::CONTENT_DISPOSITION,
        kinds::content_disposition(&attachment.name),
    ))
    .insert_header(("X-Content-Type-Options", "nosniff"))
    .insert_header(("Cache-Control", "private, no-store"))
    .insert_header(("Content-Security-Policy", CSP))
    .insert_header((header::ACCEPT_RANGES, "bytes"));
    if status == StatusCode::PARTIAL_CONTENT {
        res.insert_header((
            header::CONTENT_RANGE,
            format!(
                "bytes {}-{}/{size}",
                bytes.start,
                bytes.end.saturating_sub(1)
            ),
        ));
    }
    res.body(SizedStream::new(bytes.end - bytes.start, stream))
}

/// The download's audit event (a need-to-know read when the task is).
async fn record_download(
    state: &AppState,
    rec: &Recorder,
    attachment: &Attachment,
    ranged: bool,
) -> Result<(), crate::error::ApiError> {
    let mut event = rec.event("downloadAttachment", Outcome::Ok);
    event.variables = Some(
        json!({ "attachmentId": attachment.id, "name": attachment.name, "range": ranged })
            .to_string(),
    );
    let (r, task) = (rec.clone(), attachment.task_id);
    state
        .db
        .run(move |c| {
            let event = event.about(c, Some(Target::new(TargetKind::Task, task)))?;
            r.append(c, &event)
        })
        .await
}

/// The file's cipher, from its wrapped key.
fn sealed(state: &AppState, a: &Attachment) -> Result<Sealed, StoreError> {
    let data_key = state.files.keys.unwrap(&a.key_id, a.id, &a.wrapped_key)?;
    let prefix: [u8; NONCE_PREFIX] = a
        .nonce_prefix
        .as_slice()
        .try_into()
        .map_err(|_| StoreError::WrongLength)?;
    Ok(Sealed {
        key: a.storage_key.clone(),
        size: a.size_bytes.max(0) as u64,
        cipher: data_key.file_cipher(a.id, prefix),
    })
}

/// A file that cannot be served: logged, recorded, and answered with the request id.
async fn unreadable(
    state: &AppState,
    req: &HttpRequest,
    rec: &Recorder,
    attachment: &Attachment,
    error: &StoreError,
) -> HttpResponse {
    let request_id = req
        .extensions()
        .get::<crate::http::RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let missing = matches!(
        error,
        StoreError::Backend(object_store::Error::NotFound { .. })
    );
    if missing {
        // Deleted since it was looked up (its blob goes right after its row): gone, as
        // for anyone else, and no integrity failure.
        let id = attachment.id;
        match state
            .db
            .run(move |c| crust_dal::attachments::exists(c, id))
            .await
        {
            Ok(false) => return super::api_refusal(&crate::error::ApiError::NotFound),
            Ok(true) => {}
            // Not known whether it was lost: no integrity failure recorded on a guess.
            Err(e) => return super::api_refusal(&e),
        }
    }
    let integrity = error.is_integrity() || missing;
    if integrity {
        tracing::error!(attachment = %attachment.id, error = %error, "a stored file failed its integrity check and was not served");
        let mut event = rec.event("attachmentIntegrityFailure", Outcome::Error);
        event.error_code = Some("INTERNAL".into());
        // A class, never the store's message (it may hold paths); the log has it.
        event.reason = Some(
            if matches!(error, StoreError::Backend(_)) {
                "stored file missing"
            } else {
                "failed authentication"
            }
            .into(),
        );
        event.variables = Some(json!({ "attachmentId": attachment.id }).to_string());
        let (r, task) = (rec.clone(), attachment.task_id);
        let recorded = state
            .db
            .run(move |c| {
                let event = event.about(c, Some(Target::new(TargetKind::Task, task)))?;
                r.append(c, &event)
            })
            .await;
        if let Err(e) = recorded {
            tracing::error!(error = e.message(), "could not record an integrity failure");
        }
    } else {
        tracing::error!(attachment = %attachment.id, error = %error, "a stored file could not be read");
    }
    let message = if integrity {
        format!("this file failed its integrity check and was not served; quote request id {request_id} when you report it")
    } else {
        format!("this file could not be read just now; retry, or quote request id {request_id} when you report it")
    };
    HttpResponse::InternalServerError()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({ "errors": [{
            "message": message,
            "extensions": { "code": "INTERNAL", "requestId": request_id }
        }]}))
}
