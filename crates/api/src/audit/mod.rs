//! Recording the audit log for one request, by job: the [`Recorder`] of a request
//! (`recorder`), what it served that is need-to-know (`reads`), the audited unit of
//! work that writes a mutation's event in the mutation's transaction (`unit`),
//! redaction of what a request sent (`redact`), the object a mutation names
//! (`target`), and sampling of refusals made before authentication (`sampler`).
//!
//!
//! A [`Recorder`] is made per request with who is calling and from where. For a
//! GraphQL mutation, [`crate::graphql`]'s audit extension arms it with the field's
//! name, redacted arguments and target; the resolver's database work then runs
//! through [`Work::run`], which appends the event inside the same
//! transaction as the change. A mutation that is refused, or fails, before or during
//! that transaction gets its event afterwards from the extension, in a transaction of
//! its own — so a rolled-back change leaves only its refusal. Sign-in events are
//! written by the auth service in the transactions of the sessions they change, and
//! reads of need-to-know objects are written when the request's response is ready.

mod reads;
mod recorder;
mod redact;
mod sampler;
mod target;
mod unit;

pub use reads::SecretReads;
pub use recorder::{Pending, Recorder};
pub use redact::redact_request_variables;
pub use sampler::RefusalSampler;
pub use target::{target_of, Created};
pub use unit::Work;

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
