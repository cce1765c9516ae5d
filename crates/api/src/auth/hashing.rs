//! Password hashing (bcrypt) is slow on purpose and takes a whole core while it runs:
//! under a sign-in storm, unbounded, it would take every core and every blocking thread
//! that reads need. So hashes run on threads of their own, never on the blocking pool
//! that database statements use:
//! - at most `CRUST_PASSWORD_HASH_CONCURRENCY` at once; the others wait their turn — at
//!   most `CRUST_PASSWORD_HASH_WAIT_MS`, then 503 with `Retry-After`;
//! - at a lower OS priority, `CRUST_PASSWORD_HASH_PRIORITY`: by default SCHED_IDLE, so
//!   while the cores are busy the scheduler gives the time to reads (and to PostgreSQL)
//!   first, and a storm slows sign-ins rather than the reads beside it. On an idle
//!   machine a hash runs at full speed either way. Where the binary can (`crust serve`),
//!   bcrypt's work itself is done by a process of its own ([`super::hash_worker`], which
//!   says why); these threads then only hand it over and wait, and do it themselves
//!   while that process is gone.
//!
//! The price of `idle`: a hash that has started is not bounded in time. While reads
//! keep every core busy it gets only what they leave, and the sign-ins behind it wait
//! their turn and are turned away. Reads first is the promise; `normal` trades it back.
//!
//! Why not a nice value: `crust bench`'s sign-in storm measured both on one machine,
//! where the server shares two cores with PostgreSQL: nice 10 let the board's p99 grow
//! past twice its quiet value in half the runs, SCHED_IDLE in none (README) — on that
//! machine; on another, SCHED_IDLE threads inside the server's process did no better
//! (3–6 times), which is what the separate process answers.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, Semaphore};

use crate::config::HashPriority;
use crate::error::ApiError;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct HashingPool {
    permits: Arc<Semaphore>,
    max_wait: Duration,
    running: Arc<AtomicI64>,
    /// To the hashing threads; they end when the last clone of the pool is dropped.
    jobs: mpsc::Sender<Job>,
}

impl HashingPool {
    /// `concurrency` 0 means half the cores, at least one.
    pub fn new(concurrency: usize, max_wait: Duration, priority: HashPriority) -> Self {
        let concurrency = slots(concurrency);
        crate::metrics::metrics()
            .password_hash_slots
            .set(i64::try_from(concurrency).unwrap_or(i64::MAX));
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..concurrency {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("crust-hash-{n}"))
                .spawn(move || hashing_thread(&queue, priority, n == 0));
            if let Err(e) = spawned {
                // Fewer threads than slots: hashes wait for a free thread in the queue.
                tracing::error!("could not start a password hashing thread: {e}");
            }
        }
        HashingPool {
            permits: Arc::new(Semaphore::new(concurrency)),
            max_wait,
            running: Arc::new(AtomicI64::new(0)),
            jobs,
        }
    }

    /// Runs `f` (a password hash or check) on a hashing thread once a slot is free.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let metrics = crate::metrics::metrics();
        metrics.password_hash_waiting.inc();
        let permit =
            tokio::time::timeout(self.max_wait, self.permits.clone().acquire_owned()).await;
        metrics.password_hash_waiting.dec();
        let permit = match permit {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) | Err(_) => {
                tracing::warn!("password hashing is saturated: asked to retry");
                return Err(ApiError::Unavailable);
            }
        };
        let running = Running::start(&self.running);
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            // Given back before the answer is sent — and by a panic, while unwinding,
            // before `done` is dropped. A tuple drops in order: no longer counted as
            // running before the slot frees (else the peak could read two in one slot).
            let slot = (running, permit);
            let out = f();
            drop(slot);
            let _ = done.send(out);
        });
        self.jobs
            .send(job)
            .map_err(|_| ApiError::internal("password hashing threads are gone"))?;
        // A job that panicked dropped its sender: an error, and its thread goes on.
        result
            .await
            .map_err(|_| ApiError::internal("password hashing failed"))
    }
}

/// The hashes that run at once for `CRUST_PASSWORD_HASH_CONCURRENCY` = `concurrency`
/// (0: half the cores, at least one).
pub fn slots(concurrency: usize) -> usize {
    if concurrency == 0 {
        std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
    } else {
        concurrency
    }
}

/// One hash counted as running (for metrics) until dropped.
struct Running(Arc<AtomicI64>);

impl Running {
    fn start(running: &Arc<AtomicI64>) -> Running {
        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
        crate::metrics::metrics().hashes_running(now);
        Running(running.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn hashing_thread(queue: &Mutex<mpsc::Receiver<Job>>, priority: HashPriority, first: bool) {
    match lower_this_threads_priority(priority) {
        // Said once, not once per thread.
        Err(e) if first => tracing::warn!("password hashing runs at normal priority: {e}"),
        _ => {}
    }
    loop {
        // The lock is held only while waiting for the next job, not while it runs.
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        // A panicking hash must not take the thread (and its slot) with it.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
    }
}

/// Schedules the calling thread (not the process: on Linux, both a nice value and a
/// scheduling policy are per thread) as `priority` says.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub(crate) fn lower_this_threads_priority(priority: HashPriority) -> std::io::Result<()> {
    // SAFETY: gettid, setpriority and sched_setscheduler take plain integers and a
    // pointer to a sched_param that lives across the call; they only change how the
    // kernel schedules this thread.
    let failed = unsafe {
        match priority {
            HashPriority::Normal => 0,
            HashPriority::Low => {
                libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10)
            }
            HashPriority::Idle => {
                let param = libc::sched_param { sched_priority: 0 };
                // pid 0: the calling thread.
                libc::sched_setscheduler(0, libc::SCHED_IDLE, &param)
            }
        }
    };
    if failed == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn lower_this_threads_priority(priority: HashPriority) -> std::io::Result<()> {
    match priority {
        HashPriority::Normal => Ok(()),
        _ => Err(std::io::Error::other(
            "thread priorities are only set on Linux with glibc",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (nice value, scheduling policy) of the calling thread, from /proc (Linux).
    fn scheduling_of_this_thread() -> (i32, u32) {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // After the command name's closing parenthesis come fields 3 onwards: nice is
        // field 19, policy field 41.
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        (
            fields[19 - 3].parse().unwrap(),
            fields[41 - 3].parse().unwrap(),
        )
    }

    const SCHED_OTHER: u32 = 0;
    const SCHED_IDLE: u32 = 5;

    #[tokio::test]
    async fn hashes_run_on_their_own_threads_at_the_lower_priority_asked() {
        let here = (std::thread::current().id(), scheduling_of_this_thread());
        for (priority, expected) in [
            (HashPriority::Idle, (0, SCHED_IDLE)),
            (HashPriority::Low, (10, SCHED_OTHER)),
            (HashPriority::Normal, (0, SCHED_OTHER)),
        ] {
            let pool = HashingPool::new(2, Duration::from_secs(5), priority);
            let there = pool
                .run(|| (std::thread::current().id(), scheduling_of_this_thread()))
                .await
                .unwrap();
            assert_eq!(there.1, expected, "{priority:?}");
            assert_ne!(here.0, there.0);
        }
        assert_eq!(
            here.1,
            (0, SCHED_OTHER),
            "the caller's priority is untouched"
        );
        // Blocking-pool threads (where statements run) keep the normal priority.
        let blocking = tokio::task::spawn_blocking(scheduling_of_this_thread)
            .await
            .unwrap();
        assert_eq!(blocking, (0, SCHED_OTHER));
    }

    #[tokio::test]
    async fn a_panicking_hash_is_an_error_and_its_slot_and_thread_come_back() {
        let pool = HashingPool::new(1, Duration::from_secs(5), HashPriority::Idle);
        let failed = pool.run(|| -> u32 { panic!("boom") }).await;
        assert!(failed.is_err());
        assert_eq!(
            pool.running.load(Ordering::SeqCst),
            0,
            "no longer counted as running"
        );
        // One slot, one thread: the next hash runs only if both came back.
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
    }
}
