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
//! A worker that dies (killed, out of memory) is replaced for the next job, at most
//! once every [`RESPAWN_PAUSE`]; a job it had, and any job while it cannot be
//! started, is done on the calling thread instead: a sign-in is never refused, nor
//! counted as a wrong password, because the worker went away.

use std::collections::HashMap;
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

static THIS_BINARY_SERVES: AtomicBool = AtomicBool::new(false);

/// Said by a binary that runs [`serve_stdio`] when started with [`SUBCOMMAND`]: its
/// servers then hash in a worker process (at the `idle` and `low` priorities).
pub fn hash_in_a_worker_process() {
    THIS_BINARY_SERVES.store(true, Ordering::SeqCst);
}

/// Whether these command-line arguments (program name first) start a hash worker.
pub fn is_worker_invocation(args: &[String]) -> bool {
    args.get(1).map(String::as_str) == Some(SUBCOMMAND)
}

/// The server's end: bcrypt done by the worker process.
pub struct HashWorker {
    priority: HashPriority,
    threads: usize,
    next_id: AtomicU64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    link: Option<Link>,
    /// No new worker before this (one could not be started, or one died).
    paused_until: Option<Instant>,
}

/// The pipe to a running worker. Dropping it closes the worker's stdin, and the worker
/// ends (the thread reading its answers then reaps it).
struct Link {
    stdin: Arc<Mutex<ChildStdin>>,
    answers: Arc<Answers>,
}

/// What the thread reading a worker's answers shares with the callers.
#[derive(Default)]
struct Answers {
    waiting: Mutex<HashMap<u64, mpsc::Sender<String>>>,
    ended: AtomicBool,
}

impl HashWorker {
    /// A worker for these settings, when this binary can be one and the priority asks
    /// for it (`normal` hashes on the server's own threads). Started now, so that its
    /// first sign-in does not wait for it and what it could not lower is logged at
    /// start-up.
    pub fn for_settings(priority: HashPriority, threads: usize) -> Option<HashWorker> {
        if priority == HashPriority::Normal
            || !THIS_BINARY_SERVES.load(Ordering::SeqCst)
            || !cfg!(target_os = "linux")
        {
            return None;
        }
        let worker = HashWorker {
            priority,
            threads: threads.max(1),
            next_id: AtomicU64::new(0),
            state: Mutex::new(State::default()),
        };
        let _ = worker.link();
        Some(worker)
    }

    /// The running worker's pipe, starting one if none runs and none failed lately.
    fn link(&self) -> Option<(Arc<Mutex<ChildStdin>>, Arc<Answers>)> {
        let mut state = self.state.lock().ok()?;
        if let Some(link) = &state.link {
            if !link.answers.ended.load(Ordering::SeqCst) {
                return Some((link.stdin.clone(), link.answers.clone()));
            }
            state.link = None;
            state.paused_until = Some(Instant::now() + RESPAWN_PAUSE);
        }
        if state.paused_until.is_some_and(|t| Instant::now() < t) {
            return None;
        }
        match self.start() {
            Ok(link) => {
                let shared = (link.stdin.clone(), link.answers.clone());
                state.link = Some(link);
                state.paused_until = None;
                Some(shared)
            }
            Err(e) => {
                tracing::error!(
                    "could not start the password hashing process ({e}); hashing on the server's threads for now"
                );
                state.paused_until = Some(Instant::now() + RESPAWN_PAUSE);
                None
            }
        }
    }

    fn start(&self) -> std::io::Result<Link> {
        let priority = match self.priority {
            HashPriority::Idle => "idle",
            HashPriority::Low => "low",
            HashPriority::Normal => "normal",
        };
        let mut child = Command::new("/proc/self/exe")
            .args([SUBCOMMAND, priority, &self.threads.to_string()])
            // It needs nothing of the server's environment, secrets included.
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other("the worker's pipes were not made"));
        };
        let mut stdout = BufReader::new(stdout);
        let mut hello = String::new();
        stdout.read_line(&mut hello)?;
        let Some(notes) = hello.trim_end().strip_prefix("ready") else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other(format!(
                "the worker did not say it was ready: {hello:?}"
            )));
        };
        if !notes.trim().is_empty() {
            tracing::warn!("password hashing process: {}", notes.trim());
        }
        let answers = Arc::new(Answers::default());
        let reading = answers.clone();
        std::thread::Builder::new()
            .name("crust-hash-answers".into())
            .spawn(move || read_answers(stdout, child, &reading))?;
        Ok(Link {
            stdin: Arc::new(Mutex::new(stdin)),
            answers,
        })
    }

    /// The worker's answer to `job`, or `None` when there is no worker to ask or it
    /// ended before answering (tried on a new one once).
    fn ask(&self, job: &str) -> Option<String> {
        for _ in 0..2 {
            let (stdin, answers) = self.link()?;
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
            if let Ok(text) = answer.recv() {
                return Some(text);
            }
        }
        None
    }
}

impl Drop for HashWorker {
    fn drop(&mut self) {
        // Closing its stdin ends the worker; its reader thread reaps it.
        if let Ok(mut state) = self.state.lock() {
            state.link = None;
        }
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
        match self.ask(&format!("h {cost} {secret}")) {
            Some(answer) => answer
                .strip_prefix("ok ")
                .map(str::to_owned)
                .ok_or(HashError),
            None => InThisThread.hash(secret, cost),
        }
    }

    fn verify(&self, secret: &str, hash: &str) -> bool {
        if !fits_a_field(secret) || !fits_a_field(hash) {
            return InThisThread.verify(secret, hash);
        }
        match self.ask(&format!("v {secret} {hash}")) {
            Some(answer) => answer == "yes",
            None => InThisThread.verify(secret, hash),
        }
    }
}

/// Hands each of the worker's answers to whoever waits for it; when the worker ends,
/// says so, lets every waiting caller go (they hash on their own threads) and reaps it.
fn read_answers(stdout: BufReader<ChildStdout>, mut child: Child, answers: &Answers) {
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
pub fn serve_stdio(args: &[String]) -> std::io::Result<()> {
    let priority = match args.get(2).map(String::as_str) {
        Some("idle") => HashPriority::Idle,
        Some("low") => HashPriority::Low,
        Some("normal") => HashPriority::Normal,
        other => {
            return Err(std::io::Error::other(format!(
                "`{SUBCOMMAND}` is started by `crust serve`, with a priority (idle, low, normal), not {other:?}"
            )))
        }
    };
    let threads: usize = args
        .get(3)
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
        std::thread::spawn(move || {
            let _ = super::hashing::lower_this_threads_priority(priority);
            loop {
                let job = match queue.lock() {
                    Ok(queue) => queue.recv(),
                    Err(_) => return,
                };
                let Ok(job) = job else { return };
                let reply = answer(&job);
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
