//! `POST /tasks/{taskId}/attachments`: the body is `multipart/form-data` with the file
//! in a part named `file` (what a browser's `FormData` sends), or the raw bytes with the
//! name in `?name=`. Nothing is buffered beyond a chunk: bytes are counted, typed from
//! their first 8 KiB, encrypted and written as they arrive, and the upload is cut off
//! the moment it passes the size limit or the organization's room (413), its type is
//! refused (415), or the sender stalls (408). Whatever was written of a refused upload
//! is removed before the answer.

use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use crust_dal::attachments::{self, Attachment, NewAttachment, OverQuota, UploadSlot};
use crust_dal::audit::{Target, TargetKind};
use crust_domain::audit::Outcome;
use crust_domain::TaskId;
use futures_util::{Stream, StreamExt};
use serde_json::json;
use uuid::Uuid;

use super::{api_refusal, caller, download_path, path_id, refuse};
use crate::error::ApiError;
use crate::files::crypto::{self, DataKey};
use crate::files::kinds::{self, TextCheck, SNIFF_BYTES};
use crate::files::slots::Full;
use crate::files::store::{BlobStore, Sealer};
use crate::files::{human_size, Files};
use crate::state::AppState;

/// Non-file parts of a multipart body may take this much in all.
const MAX_FORM_FIELDS_BYTES: usize = 16 * 1024;
/// Boundaries and part headers may add this much to a multipart body.
const MAX_FRAMING_BYTES: usize = 16 * 1024;
/// What a form may add to the file's bytes in all.
const FORM_OVERHEAD: u64 = (MAX_FORM_FIELDS_BYTES + MAX_FRAMING_BYTES) as u64;
/// At most this many parts are read looking for the file.
const MAX_FORM_PARTS: usize = 8;

/// Why an upload stopped.
enum Stop {
    TooLarge,
    /// `left` exact for the organization's OWNERs and ADMINs, in whole MiB for others
    /// (the exact figure would show others' uploads, SECRET ones included).
    OverQuota {
        left: u64,
        exact: bool,
    },
    BadType(&'static str),
    Stalled,
    /// The client's body was malformed or the connection broke.
    Client(String),
    Store(crate::files::store::StoreError),
    /// Something on our side (the random generator, key wrapping); logged.
    Internal(String),
    Empty,
}

impl Stop {
    fn response(&self, files: &Files) -> HttpResponse {
        let limits = &files.limits;
        match self {
            Stop::TooLarge => refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "BAD_USER_INPUT",
                &format!(
                    "the file is larger than the {} limit ({} bytes)",
                    human_size(limits.max_bytes),
                    limits.max_bytes
                ),
            ),
            Stop::OverQuota { left, exact } => {
                let left_text = if *exact {
                    format!("{} ({left} bytes)", human_size(*left))
                } else {
                    format!("about {} MiB", left / (1024 * 1024))
                };
                refuse(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "BAD_USER_INPUT",
                    &format!(
                        "the organization's storage quota of {} would be exceeded: {left_text} left; delete attachments or ask an administrator for a larger quota",
                        human_size(limits.org_quota),
                    ),
                )
            }
            Stop::BadType(kind) => refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "BAD_USER_INPUT",
                &format!(
                    "files of type {kind} (detected from the file's content) are not accepted; accepted: {}",
                    limits.types.join(", ")
                ),
            ),
            Stop::Stalled => refuse(
                StatusCode::REQUEST_TIMEOUT,
                "BAD_USER_INPUT",
                &format!(
                    "the upload was too slow: nothing arrived for {} s, or it took longer than {} s in all",
                    limits.idle.as_secs(),
                    limits.total.as_secs()
                ),
            ),
            Stop::Client(why) => refuse(StatusCode::BAD_REQUEST, "BAD_USER_INPUT", why),
            Stop::Empty => refuse(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                "send the file in a multipart/form-data part named `file` (with a filename), or as the raw body with `?name=`",
            ),
            Stop::Internal(cause) => {
                tracing::error!(cause = %cause, "could not seal an upload");
                refuse(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "internal error")
            }
            Stop::Store(e) => {
                tracing::error!(error = %e, "could not store an upload");
                refuse(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "internal error")
            }
        }
    }
}

/// Where a file's bytes are taken to.
struct Intake<'a> {
    files: &'a Files,
    key: &'a str,
    cipher: Option<crypto::FileCipher>,
    /// min(size limit, room left in the quota)
    limit: u64,
    left: u64,
    /// The caller may see the organization's exact use (OWNER, ADMIN).
    exact: bool,
    started: Instant,
}

impl Intake<'_> {
    /// When the whole upload must be in.
    fn deadline(&self) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.started + self.files.limits.total)
    }

    /// Reads the file to its end (or the first reason to stop) and stores it sealed.
    /// Answers its size and type.
    async fn take<S, E>(&mut self, mut body: S) -> Result<(u64, &'static str), Stop>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let idle = self.files.limits.idle;
        let deadline = self.deadline();
        let mut head: Vec<u8> = Vec::new();
        let mut sealer: Option<Sealer> = None;
        let mut kind = "";
        let mut text: Option<TextCheck> = None;
        let mut seen: u64 = 0;
        let outcome = loop {
            let wait = (tokio::time::Instant::now() + idle).min(deadline);
            let next = match tokio::time::timeout_at(wait, body.next()).await {
                Ok(next) => next,
                Err(_) => break Err(Stop::Stalled),
            };
            let bytes = match next {
                None => break Ok(()),
                Some(Err(e)) => break Err(Stop::Client(format!("the upload broke off: {e}"))),
                Some(Ok(bytes)) => bytes,
            };
            seen += bytes.len() as u64;
            if seen > self.limit {
                break Err(self.over());
            }
            match sealer.as_mut() {
                Some(s) => {
                    if text.as_mut().is_some_and(|t| !t.feed(&bytes)) {
                        text = None;
                        match self.not_text() {
                            Ok(k) => kind = k,
                            Err(stop) => break Err(stop),
                        }
                    }
                    if let Err(e) = s.write(&bytes).await {
                        break Err(Stop::Store(e));
                    }
                }
                None => {
                    head.extend_from_slice(&bytes);
                    if head.len() >= SNIFF_BYTES {
                        match self.open(&head).await {
                            Ok((s, k, t)) => {
                                (kind, text) = (k, t);
                                sealer = Some(s);
                                head = Vec::new();
                            }
                            Err(stop) => break Err(stop),
                        }
                    }
                }
            }
        };
        if let Err(stop) = outcome {
            if let Some(s) = sealer {
                s.abort().await;
            }
            return Err(stop);
        }
        let sealer = match sealer {
            Some(s) => s,
            None => {
                let (s, k, t) = self.open(&head).await?;
                (kind, text) = (k, t);
                s
            }
        };
        if text.is_some_and(|t| !t.complete()) {
            match self.not_text() {
                Ok(k) => kind = k,
                Err(stop) => {
                    sealer.abort().await;
                    return Err(stop);
                }
            }
        }
        match sealer.finish().await {
            Ok(size) => Ok((size, kind)),
            Err(e) => Err(Stop::Store(e)),
        }
    }

    fn over(&self) -> Stop {
        if self.limit < self.files.limits.max_bytes {
            Stop::OverQuota {
                left: self.left,
                exact: self.exact,
            }
        } else {
            Stop::TooLarge
        }
    }

    /// A file that began as text turned out not to be: it is binary, if that is
    /// accepted at all.
    fn not_text(&self) -> Result<&'static str, Stop> {
        let kind = "application/octet-stream";
        if kinds::allowed(&self.files.limits.types, kind) {
            Ok(kind)
        } else {
            Err(Stop::BadType(kind))
        }
    }

    /// Types the file from its first bytes and starts its blob with them; a file typed
    /// from text comes with the check that it stays text.
    async fn open(
        &mut self,
        head: &[u8],
    ) -> Result<(Sealer, &'static str, Option<TextCheck>), Stop> {
        let kind = kinds::detect(&head[..head.len().min(SNIFF_BYTES)]);
        if !kinds::allowed(&self.files.limits.types, kind) {
            return Err(Stop::BadType(kind));
        }
        let mut text = kinds::is_sniffed_text(kind).then(TextCheck::default);
        // The type came from the first SNIFF_BYTES; all of the head must be text too.
        let kind = if text.as_mut().is_some_and(|t| !t.feed(head)) {
            text = None;
            self.not_text()?
        } else {
            kind
        };
        let Some(cipher) = self.cipher.take() else {
            return Err(Stop::Client("one file per request".into()));
        };
        let out = self
            .files
            .store
            .create(self.key)
            .await
            .map_err(Stop::Store)?;
        let mut sealer = Sealer::new(out, cipher);
        if let Err(e) = sealer.write(head).await {
            sealer.abort().await;
            return Err(Stop::Store(e));
        }
        Ok((sealer, kind, text))
    }
}

/// The name given in `?name=`.
fn query_name(req: &HttpRequest) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v.into_owned())
}

pub async fn upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let started = Instant::now();
    let (principal, actor) = match caller(&state, &req).await {
        Ok(c) => c,
        Err(res) => return *res,
    };
    let task = match path_id(&path) {
        Ok(id) => TaskId(id),
        Err(res) => return *res,
    };
    let files = &state.files;
    // Held to the end of the request.
    let _user_slot = match files.slots.for_user(principal.user_id().0) {
        Ok(slot) => slot,
        Err(full) => return busy(full),
    };
    let rec = super::super::recorder(&state, &req, Some(&principal));
    let (a, hold) = (actor.clone(), files.reservation_secs());
    let slot: UploadSlot = match state
        .db
        .run(move |c| attachments::begin_upload(c, &a, task, BlobStore::new_key, hold))
        .await
    {
        Ok(slot) => slot,
        Err(e) => {
            if matches!(e, ApiError::Forbidden(_) | ApiError::NotFound) {
                let user = principal.user_id().to_string();
                super::super::record_early_refusal(
                    &state,
                    &rec,
                    "uploadAttachment",
                    e.code(),
                    "may not attach files to this task",
                    &user,
                )
                .await;
            }
            return api_refusal(&e);
        }
    };
    let key = slot.storage_key.as_str();
    let _org_slot = match files.slots.for_org(slot.task.org_id) {
        Ok(org_slot) => org_slot,
        Err(full) => {
            give_back(&state, key).await;
            return busy(full);
        }
    };
    let left = files
        .limits
        .org_quota
        .saturating_sub(slot.used.max(0) as u64);
    // Only OWNERs and ADMINs may learn the organization's exact use: for anyone else
    // the quota is applied when the file is recorded, not by cutting the transfer (or
    // refusing a declared length) exactly where the room ends — which would tell it.
    let exact = sees_exact_use(&actor, slot.task.org_id);
    let mut intake = Intake {
        files,
        key,
        cipher: None,
        limit: if exact {
            files.limits.max_bytes.min(left)
        } else {
            files.limits.max_bytes
        },
        left,
        exact,
        started,
    };
    // A declared length already over the limit is refused before a byte is read
    // (a multipart body's other parts and framing may add a little).
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > intake.limit.saturating_add(FORM_OVERHEAD)) {
        give_back(&state, key).await;
        return intake.over().response(files);
    }
    let file_id = Uuid::new_v4();
    let (data_key, prefix) =
        match DataKey::generate().and_then(|k| crypto::new_nonce_prefix().map(|p| (k, p))) {
            Ok(k) => k,
            Err(e) => {
                give_back(&state, key).await;
                return Stop::Internal(e.to_string()).response(files);
            }
        };
    intake.cipher = Some(data_key.file_cipher(file_id, prefix));
    let (name, size, kind) = match receive(&req, payload, &mut intake).await {
        Ok(r) => r,
        Err(stop) => {
            give_back(&state, key).await;
            if matches!(
                stop,
                Stop::TooLarge | Stop::OverQuota { .. } | Stop::BadType(_)
            ) {
                tracing::info!(task = %task.0, "upload refused");
            }
            return stop.response(files);
        }
    };
    let wrapped = match files.keys.wrap(files.keys.active(), file_id, &data_key) {
        Ok(w) => w,
        Err(e) => {
            give_back(&state, key).await;
            return Stop::Internal(e.to_string()).response(files);
        }
    };
    let new = NewAttachment {
        id: file_id,
        task_id: task.0,
        org_id: slot.task.org_id,
        uploader_id: Some(principal.user_id().0),
        name: kinds::name_for(&name, kind),
        content_type: kind.to_owned(),
        size_bytes: size as i64,
        storage_key: key.to_owned(),
        key_id: files.keys.active().to_owned(),
        wrapped_key: wrapped,
        nonce_prefix: prefix.to_vec(),
    };
    let quota = files.limits.org_quota as i64;
    let recorded = record(&state, principal, &rec, new, quota).await;
    match &recorded {
        Ok(Recorded::Created(_)) => {}
        // The commit itself may have failed after it succeeded: the blob stays, and the
        // purge removes it if its reservation is still there (it is not, if recorded).
        Err(ApiError::Internal(_) | ApiError::Unavailable) => {}
        _ => give_back(&state, key).await,
    }
    let refused = match &recorded {
        Ok(Recorded::SessionEnded) => Some("UNAUTHENTICATED"),
        Err(e @ (ApiError::NotFound | ApiError::Forbidden(_))) => Some(e.code()),
        _ => None,
    };
    if let Some(code) = refused {
        super::super::record_early_refusal(
            &state,
            &rec,
            "uploadAttachment",
            code,
            "no longer allowed when the transfer ended",
            &principal.user_id().to_string(),
        )
        .await;
    }
    match recorded {
        Ok(Recorded::Created(created)) => created_response(&created),
        Ok(Recorded::OverQuota { used, exact }) => Stop::OverQuota {
            left: files.limits.org_quota.saturating_sub(used.max(0) as u64),
            exact,
        }
        .response(files),
        Ok(Recorded::SessionEnded) => refuse(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "the session ended while the file was being sent; sign in and send it again",
        ),
        Err(e) => api_refusal(&e),
    }
}

/// No upload slot was free.
fn busy(full: Full) -> HttpResponse {
    let (status, code, message) = match full {
        Full::User(n) => (
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            format!("{n} uploads of yours are already running; send this one when one of them has finished"),
        ),
        Full::Org(n) => (
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            format!("{n} uploads of your organization are already running; send this one when one of them has finished"),
        ),
        Full::Server(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "INTERNAL",
            "the server is taking as many uploads as it can; retry shortly".to_owned(),
        ),
    };
    let mut res = refuse(status, code, &message);
    res.headers_mut().insert(
        actix_web::http::header::RETRY_AFTER,
        actix_web::http::header::HeaderValue::from_static("5"),
    );
    res
}

/// Whether `actor` may learn the organization's exact storage use.
fn sees_exact_use(actor: &crust_dal::Actor, org: Uuid) -> bool {
    actor.orgs_with(crust_domain::OrgRole::Admin).contains(&org)
}

/// How recording an upload ended.
enum Recorded {
    Created(Box<Attachment>),
    /// `exact`: as [`sees_exact_use`], with the rights read when recording.
    OverQuota {
        used: i64,
        exact: bool,
    },
    /// The caller's session was ended (logout, deactivation) during the transfer.
    SessionEnded,
}

/// Records the uploaded file and its audit event in one transaction. The transfer may
/// have taken minutes: the session must still be open, and the caller's rights are
/// read again (the check inside `finish_upload` uses them).
async fn record(
    state: &AppState,
    principal: crate::auth::Principal,
    rec: &crate::audit::Recorder,
    new: NewAttachment,
    quota: i64,
) -> Result<Recorded, ApiError> {
    let rec = rec.clone();
    let (user, session) = (principal.user_id(), principal.session_id());
    state
        .db
        .run(move |c| {
            crust_dal::transaction(c, |c| {
                let Some(now) = crust_dal::sessions::authenticate(c, session, user)? else {
                    return Ok(Recorded::SessionEnded);
                };
                let actor = crust_dal::Actor::signed_in(c, &now)?;
                let new_org = new.org_id;
                let created = match attachments::finish_upload(c, &actor, new, quota)? {
                    Ok(created) => created,
                    Err(OverQuota { used }) => {
                        let exact = sees_exact_use(&actor, new_org);
                        return Ok(Recorded::OverQuota { used, exact });
                    }
                };
                let mut event = rec.event("uploadAttachment", Outcome::Ok);
                event.variables = Some(
                    json!({
                        "attachmentId": created.id,
                        "name": created.name,
                        "size": created.size_bytes,
                        "contentType": created.content_type,
                    })
                    .to_string(),
                );
                let event = event.about(c, Some(Target::new(TargetKind::Task, created.task_id)))?;
                rec.append(c, &event)?;
                Ok(Recorded::Created(Box::new(created)))
            })
        })
        .await
}

fn created_response(created: &Attachment) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, download_path(created.id)))
        .json(json!({
            "id": created.id,
            "taskId": created.task_id,
            "name": created.name,
            "size": created.size_bytes,
            "contentType": created.content_type,
            "createdAt": created.created_at,
            "downloadUrl": download_path(created.id),
        }))
}

/// Reads the body in whichever form it came: answers the file's name, size and type.
async fn receive(
    req: &HttpRequest,
    payload: web::Payload,
    intake: &mut Intake<'_>,
) -> Result<(String, u64, &'static str), Stop> {
    let deadline = intake.deadline();
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !content_type.starts_with("multipart/form-data") {
        let Some(name) = query_name(req) else {
            return Err(Stop::Empty);
        };
        let (size, kind) = intake.take(payload).await?;
        return Ok((kinds::sanitize_name(&name), size, kind));
    }
    // The multipart parser buffers what it has not framed yet: everything it is given
    // is counted, and past the file's limit plus the other parts' allowance (and
    // framing) the body is over, whatever its parts look like.
    let cap = intake.limit + FORM_OVERHEAD;
    let over = std::rc::Rc::new(std::cell::Cell::new(false));
    let flag = over.clone();
    let mut taken = 0u64;
    let bounded = payload.map(move |chunk| {
        let chunk = chunk?;
        taken += chunk.len() as u64;
        if taken > cap {
            flag.set(true);
            return Err(actix_web::error::PayloadError::Overflow);
        }
        Ok(chunk)
    });
    let mut form = actix_multipart::Multipart::new(req.headers(), bounded);
    // The file's own reading stops at the deadline and cleans up after itself; this
    // outer bound (a little later) is for the parts before it.
    let outer = deadline + std::time::Duration::from_secs(5);
    let result = tokio::time::timeout_at(outer, read_form(&mut form, intake)).await;
    match result {
        Err(_) => Err(Stop::Stalled),
        Ok(Err(_)) if over.get() => Err(intake.over()),
        Ok(r) => r,
    }
}

/// The parts of a form, up to the file.
async fn read_form(
    form: &mut actix_multipart::Multipart,
    intake: &mut Intake<'_>,
) -> Result<(String, u64, &'static str), Stop> {
    let idle = intake.files.limits.idle;
    let mut other_bytes = 0usize;
    for _ in 0..MAX_FORM_PARTS {
        let next = tokio::time::timeout(idle, form.next())
            .await
            .map_err(|_| Stop::Stalled)?;
        let mut field = match next {
            None => return Err(Stop::Empty),
            Some(Err(e)) => return Err(Stop::Client(format!("malformed multipart body: {e}"))),
            Some(Ok(field)) => field,
        };
        let filename = field.content_disposition().and_then(|cd| {
            (cd.get_name() == Some("file"))
                .then(|| cd.get_filename().map(str::to_owned))
                .flatten()
        });
        match filename {
            Some(name) => {
                let (size, kind) = intake.take(&mut field).await?;
                return Ok((kinds::sanitize_name(&name), size, kind));
            }
            None => {
                // Other parts are read and dropped, within a small bound.
                while let Some(chunk) = tokio::time::timeout(idle, field.next())
                    .await
                    .map_err(|_| Stop::Stalled)?
                {
                    let chunk = chunk
                        .map_err(|e| Stop::Client(format!("malformed multipart body: {e}")))?;
                    other_bytes += chunk.len();
                    if other_bytes > MAX_FORM_FIELDS_BYTES {
                        return Err(Stop::Client(format!(
                            "parts other than `file` may take at most {MAX_FORM_FIELDS_BYTES} bytes"
                        )));
                    }
                }
            }
        }
    }
    Err(Stop::Client(format!(
        "the file must be among the first {MAX_FORM_PARTS} parts of the form"
    )))
}

/// Removes what a failed upload wrote (if anything) and gives back its reservation.
/// If either fails, the reservation stays and the purge removes the blob later.
async fn give_back(state: &AppState, key: &str) {
    if let Err(e) = state.files.store.delete(key).await {
        tracing::warn!(error = %e, "could not remove a refused upload; the purge will");
        return;
    }
    let k = key.to_owned();
    if let Err(e) = state.db.run(move |c| attachments::release(c, &k)).await {
        tracing::warn!(
            error = e.message(),
            "could not release an upload's reservation"
        );
    }
}
