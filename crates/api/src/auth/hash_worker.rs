//! Password hashes (bcrypt's work) in a process of their own, below everything else.
//!
//! Why a process, when the hashing threads already run at SCHED_IDLE: Linux shares CPU
//! time between sessions (autogroups) before it shares it between the threads of a
//! session. PostgreSQL is one session and the server another; a hashing thread inside
//! the server's session takes that session's whole share whenever the server's other
//! threads wait — for PostgreSQL. On a machine where the server shares two cores with
//! PostgreSQL, `crust bench`'s sign-in storm let the board's p99 grow to 3–6 times its
//! quiet value, whatever the threads' priority; with autogroups switched off, the same
//! build stayed under 1.6 times. A process in a session of its own, whose autogroup is
//! at nice 19 (`idle`) or 10 (`low`) and whose threads are at that priority too, is
//! given CPU time only when the others leave it some — and where autogroups are off,
//! its threads' priority does that.
//!
//! The `crust` binary says it can serve as this worker ([`hash_in_a_worker_process`])
//! and does when started as `crust hash-worker` ([`is_worker_invocation`],
//! [`serve_stdio`]); the server starts it from `/proc/self/exe`, the very binary it
//! runs, even if the file on disk was replaced by an upgrade since. A server in a
//! process that did not say so (tests embedding the API) hashes on its own threads.
//!
//! The worker sees only the HMAC of a password, never the password or the pepper.
//! One line each way per job, from the server's end of the pipes:
//! `<id> h <cost> <secret>` → `<id> ok <hash>` or `<id> err`;
//! `<id> v <secret> <hash>` → `<id> yes` or `<id> no`. The worker's first line is
//! `ready`, then anything it could not lower, for the server's log.
//!
//! A worker that dies (killed, out of memory), does not say `ready` within
//! [`START_WITHIN`], or leaves a job unanswered for [`ANSWER_WITHIN`] (stopped, frozen),
//! is ended, and another is started in the background for a later job, at most once
//! every [`RESPAWN_PAUSE`]. Its jobs, any answer that is not one of the above (a hash
//! must be a well-formed bcrypt hash of the cost asked), and every job while no worker
//! is ready, are done on the calling thread instead: no sign-in is counted as a wrong
//! password because of the worker. A worker that falls silent does hold its jobs'
//! hashing slots until [`ANSWER_WITHIN`]; sign-ins that find no free slot meanwhile are
//! told to retry (503), as in any storm.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use crust_dal::password::{Bcrypt, HashError, InThisThread};

use crate::config::HashPriority;

/// The first argument that makes the `crust` binary a hash worker.
pub const SUBCOMMAND: &str = "hash-worker";

/// How long after a worker could not be started, or died, before another is tried.
pub const RESPAWN_PAUSE: Duration = Duration::from_secs(5);

/// The longest a new worker may take to say `ready` before it is ended.
pub const START_WITHIN: Duration = Duration::from_secs(10);

/// The longest a job waits for the worker's answer. Far beyond a hash that is merely
/// slow because the cores are busy (the sign-in waiting for it has long been told to
/// retry by then, yet its slot stays taken): a worker this late is stopped or stuck.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(60);

static THIS_BINARY_SERVES: AtomicBool = AtomicBool::new(false);

/// Said by a binary that runs [`serve_stdio`] when started with [`SUBCOMMAND`]: its
/// servers then hash in a worker process (at the `idle` and `low` priorities).
pub fn hash_in_a_worker_process() {
    THIS_BINARY_SERVES.store(true, Ordering::SeqCst);
}

/// Whether these command-line arguments (program name first) start a hash worker.
pub fn is_worker_invocation(args: &[OsString]) -> bool {
    args.get(1).map(OsString::as_os_str) == Some(OsStr::new(SUBCOMMAND))
}

/// The server's end: bcrypt done by the worker process.
pub struct HashWorker {
    next_id: AtomicU64,
    shared: Arc<Shared>,
}

/// What the thread starting a worker shares with the callers.
struct Shared {
    priority: HashPriority,
    threads: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    link: Option<Link>,
    /// No new worker before this (one could not be started, or one died).
    paused_until: Option<Instant>,
    /// A worker is being started (without holding the lock: it may take a while on a
    /// busy machine); jobs meanwhile are done on their own threads.
    starting: bool,
}

/// The pipe to a running worker; a job holds a clone while it waits, so the state's
/// lock is not held. Once the last clone is dropped, the worker's stdin closes and the
/// worker ends (the thread reading its answers then reaps it).
#[derive(Clone)]
struct Link {
    stdin: Arc<Mutex<ChildStdin>>,
    answers: Arc<Answers>,
    /// Taken by the reader to reap it once it ended; killed from here when stuck.
    child: Arc<Mutex<Option<Child>>>,
}

/// What the thread reading a worker's answers shares with the callers.
#[derive(Default)]
struct Answers {
    waiting: Mutex<HashMap<u64, mpsc::Sender<String>>>,
    ended: AtomicBool,
}

impl HashWorker {
    /// A worker for these settings, when this binary can be one and the priority asks
    /// for it (`normal` hashes on the server's own threads). Started now, in the
    /// background, so that what it could not lower is logged at start-up.
    pub fn for_settings(priority: HashPriority, threads: usize) -> Option<Arc<HashWorker>> {
        if priority == HashPriority::Normal
            || !THIS_BINARY_SERVES.load(Ordering::SeqCst)
            || !cfg!(target_os = "linux")
        {
            return None;
        }
        let worker = HashWorker {
            next_id: AtomicU64::new(0),
            shared: Arc::new(Shared {
                priority,
                threads: threads.max(1),
                state: Mutex::new(State::default()),
            }),
        };
        let _ = worker.link();
        Some(Arc::new(worker))
    }

    /// The running worker's pipe. When none runs, one is started in the background
    /// (unless one is being started or one failed lately), and the caller hashes on its
    /// own thread meanwhile: no job waits for a worker to start.
    fn link(&self) -> Option<Link> {
        let mut state = self.shared.state.lock().ok()?;
        if let Some(link) = &state.link {
            if !link.answers.ended.load(Ordering::SeqCst) {
                return Some(link.clone());
            }
            state.link = None;
            state.paused_until = Some(Instant::now() + RESPAWN_PAUSE);
        }
        if state.starting || state.paused_until.is_some_and(|t| Instant::now() < t) {
            return None;
        }
        state.starting = true;
        drop(state);
        let shared = self.shared.clone();
        let spawned = std::thread::Builder::new()
            .name("crust-hash-start".into())
            .spawn(move || shared.start_now());
        if let Err(e) = spawned {
            let mut state = self.shared.state.lock().ok()?;
            state.starting = false;
            state.paused_until = Some(Instant::now() + RESPAWN_PAUSE);
            tracing::error!("could not start a thread to start the password hashing process: {e}");
        }
        None
    }

    /// Ends a worker that left a job unanswered too long: no job goes to it any more,
    /// and once killed its reader lets every waiting job go and reaps it.
    fn end_stuck(linked: &Link) {
        tracing::error!(
            "the password hashing process left a job unanswered for {} s: ended",
            ANSWER_WITHIN.as_secs()
        );
        linked.answers.ended.store(true, Ordering::SeqCst);
        if let Some(child) = linked.child.lock().ok().as_mut().and_then(|c| c.as_mut()) {
            let _ = child.kill();
        }
    }
}

/// Says that no worker is being started any more when dropped — also by a panic.
struct Starting<'a>(&'a Shared);

impl Drop for Starting<'_> {
    fn drop(&mut self) {
        if let Ok(mut state) = self.0.state.lock() {
            state.starting = false;
        }
    }
}

impl Shared {
    /// Starts a worker (on a thread of its own: see [`HashWorker::link`]).
    fn start_now(&self) {
        let _starting = Starting(self);
        let started = self.start();
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        match started {
            Ok(link) => {
                state.link = Some(link);
                state.paused_until = None;
            }
            Err(e) => {
                tracing::error!(
                    "could not start the password hashing process ({e}); hashing on the server's threads for now"
                );
                state.paused_until = Some(Instant::now() + RESPAWN_PAUSE);
            }
        }
    }

    fn start(&self) -> std::io::Result<Link> {
        let priority = self.priority.name();
        let mut command = Command::new("/proc/self/exe");
        command
            .args([SUBCOMMAND, priority, &self.threads.to_string()])
            // It needs nothing of the server's environment, secrets included — but the
            // binary may need its libraries' path to start at all.
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(libraries) = std::env::var_os("LD_LIBRARY_PATH") {
            command.env("LD_LIBRARY_PATH", libraries);
        }
        let mut child = command.spawn()?;
        let pipes = (child.stdin.take(), child.stdout.take());
        let child = Arc::new(Mutex::new(Some(child)));
        // A worker that does not say `ready` in time is killed, which ends the wait.
        let (greeted_in_time, in_time) = mpsc::channel::<()>();
        let watched = child.clone();
        let _ = std::thread::Builder::new()
            .name("crust-hash-watch".into())
            .spawn(move || {
                if in_time.recv_timeout(START_WITHIN) == Err(mpsc::RecvTimeoutError::Timeout) {
                    if let Some(child) = watched.lock().ok().as_mut().and_then(|c| c.as_mut()) {
                        let _ = child.kill();
                    }
                }
            });
        let greeted = Self::greet(pipes);
        let _ = greeted_in_time.send(());
        let reaped = || {
            if let Some(mut child) = child.lock().ok().and_then(|mut c| c.take()) {
                let _ = child.kill();
                let _ = child.wait();
            }
        };
        let (stdin, stdout) = match greeted {
            Ok(pipes) => pipes,
            Err(e) => {
                reaped();
                return Err(e);
            }
        };
        let answers = Arc::new(Answers::default());
        let (reading, reaping) = (answers.clone(), child.clone());
        let reader = std::thread::Builder::new()
            .name("crust-hash-answers".into())
            .spawn(move || read_answers(stdout, &reaping, &reading));
        if let Err(e) = reader {
            reaped();
            return Err(e);
        }
        Ok(Link {
            stdin: Arc::new(Mutex::new(stdin)),
            answers,
            child,
        })
    }

    /// The worker's pipes, once it has said it is ready (and what it could not lower).
    fn greet(
        pipes: (Option<ChildStdin>, Option<ChildStdout>),
    ) -> std::io::Result<(ChildStdin, BufReader<ChildStdout>)> {
        let (Some(stdin), Some(stdout)) = pipes else {
            return Err(std::io::Error::other("the worker's pipes were not made"));
        };
        let mut stdout = BufReader::new(stdout);
        let mut hello = String::new();
        stdout.read_line(&mut hello)?;
        let Some(notes) = hello.trim_end().strip_prefix("ready") else {
            return Err(std::io::Error::other(format!(
                "the worker did not say it was ready: {hello:?}"
            )));
        };
        if !notes.trim().is_empty() {
            tracing::warn!("password hashing process: {}", notes.trim());
        }
        Ok((stdin, stdout))
    }
}

impl HashWorker {
    /// The worker's answer to `job`, or `None` when there is no worker to ask or it
    /// ended before answering (tried on a new one once).
    fn ask(&self, job: &str) -> Option<String> {
        for _ in 0..2 {
            let linked = self.link()?;
            let (stdin, answers) = (&linked.stdin, &linked.answers);
            let id = self.next_id.fetch_add(1, Ordering::SeqCst);
            let (tell, answer) = mpsc::channel();
            answers.waiting.lock().ok()?.insert(id, tell);
            // The reader marks the end before it drops the waiting senders: a sender
            // put in after that is seen here, one put in before is dropped by it.
            if answers.ended.load(Ordering::SeqCst) {
                answers.waiting.lock().ok()?.remove(&id);
                continue;
            }
            let sent = stdin
                .lock()
                .ok()
                .map(|mut pipe| writeln!(pipe, "{id} {job}").and_then(|()| pipe.flush()));
            if !matches!(sent, Some(Ok(()))) {
                answers.waiting.lock().ok()?.remove(&id);
                answers.ended.store(true, Ordering::SeqCst);
                continue;
            }
            match answer.recv_timeout(ANSWER_WITHIN) {
                Ok(text) => return Some(text),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    answers.waiting.lock().ok()?.remove(&id);
                    HashWorker::end_stuck(&linked);
                    return None;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {}
            }
        }
        None
    }
}

impl Drop for HashWorker {
    fn drop(&mut self) {
        // Closing its stdin ends the worker; its reader thread reaps it.
        if let Ok(mut state) = self.shared.state.lock() {
            state.link = None;
        }
    }
}

/// `$2b$<cost>$` and 53 characters of bcrypt's alphabet (salt and hash): what a hash
/// made at `cost` looks like. Anything else from the worker is not stored.
fn is_bcrypt_hash_of_cost(hash: &str, cost: u32) -> bool {
    let fields: Vec<&str> = hash.split('$').collect();
    match fields.as_slice() {
        ["", version, made_at, rest] => {
            matches!(*version, "2a" | "2b" | "2x" | "2y")
                && made_at.len() == 2
                && made_at.parse::<u32>().ok() == Some(cost)
                && rest.len() == 53
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
        }
        _ => false,
    }
}

/// Only what cannot break a line or a field of the protocol is sent to the worker.
fn fits_a_field(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic())
}

impl Bcrypt for HashWorker {
    fn hash(&self, secret: &str, cost: u32) -> Result<String, HashError> {
        if !fits_a_field(secret) {
            return InThisThread.hash(secret, cost);
        }
        // Only a well-formed hash is taken; anything else is done here.
        let made = self.ask(&format!("h {cost} {secret}")).and_then(|answer| {
            answer
                .strip_prefix("ok ")
                .filter(|hash| is_bcrypt_hash_of_cost(hash, cost))
                .map(str::to_owned)
        });
        match made {
            Some(hash) => Ok(hash),
            None => InThisThread.hash(secret, cost),
        }
    }

    fn verify(&self, secret: &str, hash: &str) -> bool {
        if !fits_a_field(secret) || !fits_a_field(hash) {
            return InThisThread.verify(secret, hash);
        }
        // Only `yes` or `no` is an answer: anything else is checked here, so that a
        // worker's failure is never taken for a wrong password.
        match self.ask(&format!("v {secret} {hash}")).as_deref() {
            Some("yes") => true,
            Some("no") => false,
            _ => InThisThread.verify(secret, hash),
        }
    }
}

/// Hands each of the worker's answers to whoever waits for it; when the worker ends,
/// says so, lets every waiting caller go (they hash on their own threads) and reaps it.
fn read_answers(stdout: BufReader<ChildStdout>, child: &Mutex<Option<Child>>, answers: &Answers) {
    for line in stdout.lines() {
        let Ok(line) = line else { break };
        let Some((id, text)) = line.split_once(' ') else {
            continue;
        };
        let Ok(id) = id.parse::<u64>() else { continue };
        let waiting = answers.waiting.lock().ok().and_then(|mut w| w.remove(&id));
        if let Some(tell) = waiting {
            let _ = tell.send(text.to_owned());
        }
    }
    answers.ended.store(true, Ordering::SeqCst);
    if let Ok(mut waiting) = answers.waiting.lock() {
        waiting.clear();
    }
    let Some(mut child) = child.lock().ok().and_then(|mut c| c.take()) else {
        return;
    };
    let _ = child.kill();
    let status = child.wait();
    tracing::warn!(
        ?status,
        "the password hashing process ended; a new one is started for a later hash"
    );
}

/// The worker's end (`crust hash-worker <idle|low> <threads>`): steps aside (a session
/// of its own, its autogroup and threads lowered), says `ready`, then answers jobs
/// from stdin on `threads` threads until stdin closes — when the server has gone.
pub fn serve_stdio(args: &[OsString]) -> std::io::Result<()> {
    let arg = |n: usize| args.get(n).and_then(|a| a.to_str());
    let priority = HashPriority::named(arg(2).unwrap_or_default()).map_err(|e| {
        std::io::Error::other(format!(
            "`{SUBCOMMAND}` is started by `crust serve`, with a priority: {e}"
        ))
    })?;
    let threads: usize = arg(3)
        .and_then(|n| n.parse().ok())
        .filter(|n| (1..=256).contains(n))
        .ok_or_else(|| std::io::Error::other("a number of threads (1–256) is needed"))?;
    let notes = step_aside(priority);
    let out = Arc::new(Mutex::new(std::io::stdout()));
    {
        let mut out = out.lock().map_err(|_| std::io::Error::other("stdout"))?;
        writeln!(out, "ready{}", notes)?;
        out.flush()?;
    }
    let (jobs, queue) = mpsc::channel::<String>();
    let queue = Arc::new(Mutex::new(queue));
    for _ in 0..threads {
        let (queue, out) = (queue.clone(), out.clone());
        // Each thread is scheduled as the one that starts it (`step_aside`).
        std::thread::spawn(move || {
            loop {
                let job = match queue.lock() {
                    Ok(queue) => queue.recv(),
                    Err(_) => return,
                };
                let Ok(job) = job else { return };
                // A panic is an answer too (`err`), not a job left waiting.
                let reply = std::panic::catch_unwind(|| answer(&job)).unwrap_or_else(|_| {
                    let id = job.split(' ').next().unwrap_or_default();
                    format!("{id} err")
                });
                let Ok(mut out) = out.lock() else { return };
                if writeln!(out, "{reply}").and_then(|()| out.flush()).is_err() {
                    // The server has gone.
                    std::process::exit(0);
                }
            }
        });
    }
    for line in std::io::stdin().lock().lines() {
        if jobs.send(line?).is_err() {
            break;
        }
    }
    Ok(())
}

/// One job's answer line (see the module's docs); anything malformed gets `err`.
fn answer(job: &str) -> String {
    let mut fields = job.split(' ');
    let id = fields.next().unwrap_or_default();
    let fields: Vec<&str> = fields.collect();
    let reply = match fields.as_slice() {
        ["h", cost, secret] => match cost.parse() {
            Ok(cost) => InThisThread
                .hash(secret, cost)
                .map_or_else(|_| "err".to_owned(), |hash| format!("ok {hash}")),
            Err(_) => "err".to_owned(),
        },
        ["v", secret, hash] => {
            if InThisThread.verify(secret, hash) {
                "yes".to_owned()
            } else {
                "no".to_owned()
            }
        }
        _ => "err".to_owned(),
    };
    format!("{id} {reply}")
}

/// A session of its own (so an autogroup of its own, where the kernel groups by
/// session) at the priority's nice value, and that priority for this thread. Returns
/// what could not be done, for the server's log (empty when everything was).
fn step_aside(priority: HashPriority) -> String {
    let mut notes = String::new();
    if let Err(e) = new_session() {
        notes.push_str(&format!(" no session of its own ({e});"));
    }
    let nice = match priority {
        HashPriority::Idle => Some("19"),
        HashPriority::Low => Some("10"),
        HashPriority::Normal => None,
    };
    // Absent where the kernel has no autogroups; then the threads' priority is what
    // counts, and it is set below.
    if let Some(nice) = nice {
        match std::fs::write("/proc/self/autogroup", nice) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => notes.push_str(&format!(" its autogroup stays at nice 0 ({e});")),
        }
    }
    if let Err(e) = super::hashing::lower_this_threads_priority(priority) {
        notes.push_str(&format!(" its threads run at normal priority ({e});"));
    }
    notes
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn new_session() -> std::io::Result<()> {
    // SAFETY: setsid takes no arguments and only changes this process's session.
    if unsafe { libc::setsid() } == -1 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn new_session() -> std::io::Result<()> {
    Err(std::io::Error::other("only on Linux with glibc"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worker_answers_each_job_by_its_id_and_malformed_ones_with_err() {
        let secret = "c2VjcmV0LW9mLWEtdGVzdA==";
        let made = answer(&format!("7 h 4 {secret}"));
        let hash = made.strip_prefix("7 ok ").unwrap();
        assert!(hash.starts_with("$2"), "{made}");
        assert_eq!(answer(&format!("8 v {secret} {hash}")), "8 yes");
        assert_eq!(answer(&format!("9 v other {hash}")), "9 no");
        assert_eq!(answer(&format!("10 v {secret} not-a-hash")), "10 no");
        for bad in [
            "11 h many {secret}".to_owned(),
            format!("11 h 4 {secret} extra"),
            "11 x y z".to_owned(),
            "11".to_owned(),
            String::new(),
        ] {
            assert!(answer(&bad).ends_with(" err"), "{bad:?}: {}", answer(&bad));
        }
    }

    #[test]
    fn only_a_bcrypt_hash_of_the_cost_asked_is_taken_from_the_worker() {
        let made = InThisThread.hash("c2VjcmV0", 4).unwrap();
        assert!(is_bcrypt_hash_of_cost(&made, 4), "{made}");
        assert!(!is_bcrypt_hash_of_cost(&made, 5));
        for bad in [
            "",
            "$2b$04$",
            "$2b$04$short",
            "$3b$04$abcdefghijklmnopqrstuvabcdefghijklmnopqrstuvwxyz01234",
            "$2b$4$abcdefghijklmnopqrstuvabcdefghijklmnopqrstuvwxyz012345",
            "$2b$04$abcdefghijklmnopqrstuvabcdefghijklmnopqrstuvwxyz0123!",
            "$2b$04$abcdefghijklmnopqrstuvabcdefghijklmnopqrstuvwxyz0123$",
        ] {
            assert!(!is_bcrypt_hash_of_cost(bad, 4), "{bad:?}");
        }
        let good = "$2b$04$abcdefghijklmnopqrstuvabcdefghijklmnopqrstuvwxyz01234";
        assert_eq!(good.len(), 60);
        assert!(is_bcrypt_hash_of_cost(good, 4));
    }

    #[test]
    fn only_plain_fields_cross_the_pipe() {
        assert!(fits_a_field("$2b$04$abcdefghijklmnopqrstuv"));
        for bad in ["", "a b", "a\nb", "é", "a\tb"] {
            assert!(!fits_a_field(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_server_of_a_binary_that_did_not_say_so_hashes_on_its_own_threads() {
        // The test harness is not a `crust` binary: it never said it could serve.
        assert!(HashWorker::for_settings(HashPriority::Idle, 1).is_none());
        assert!(HashWorker::for_settings(HashPriority::Normal, 1).is_none());
    }
}
