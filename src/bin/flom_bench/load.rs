//! The load engine shared by `cycle`, `contend`, `floor` and the creation
//! phase of `idle`: C client threads, each repeating connect, lock, unlock,
//! close; and the trivial responder that `floor` measures against.

use crate::net::{self, LockOutcome, ProcStat};
use crate::opts::Target;
use crate::watch;
use flom::protocol;
use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Which resource each cycle locks.
#[derive(Clone, Debug)]
pub enum Names {
    /// Client i always locks `names[i]` (cycle: its own; contend: all the same).
    PerClient(Vec<String>),
    /// Every cycle locks a new resource `PREFIX<k>`, k = 0, 1, 2...
    PerOp(String),
}

#[derive(Clone, Debug)]
pub struct LoadSpec {
    pub target: Target,
    pub clients: usize,
    pub names: Names,
    pub lifespan_ms: u64,
    /// Run for this long...
    pub duration: Option<Duration>,
    /// ...or until this many cycles were done (over all clients).
    pub count: Option<u64>,
    pub daemon_pid: Option<u32>,
    pub peerid: String,
}

#[derive(Clone, Debug, Default)]
pub struct LoadResult {
    pub ops: u64,
    pub secs: f64,
    /// Cycle latencies (ns), unsorted.
    pub lat: Vec<u64>,
    /// Grants per client.
    pub per_client: Vec<u64>,
    /// Grants that were first enqueued (rc 1/2).
    pub queued: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Largest RSS and thread count of the daemon seen during the run.
    pub max_proc: Option<ProcStat>,
    /// When the first and the last cycle completed.
    pub first_done: Option<Instant>,
    pub last_done: Option<Instant>,
}

struct Shared {
    target: Target,
    names: Names,
    lifespan_ms: u64,
    count: Option<u64>,
    peerid: String,
    stop: AtomicBool,
    next: AtomicU64,
    running: AtomicUsize,
    barrier: Barrier,
}

#[derive(Default)]
struct WorkerOut {
    lat: Vec<u64>,
    grants: u64,
    queued: u64,
    error: Option<String>,
    first_done: Option<Instant>,
    last_done: Option<Instant>,
}

/// One client cycle: connect, lock, unlock, graceful close. Returns whether
/// the grant was first enqueued.
pub fn one_cycle(
    target: &Target,
    buf: &mut Vec<u8>,
    request: &[u8],
    unlock: &[u8],
) -> Result<bool, String> {
    buf.clear();
    let mut s = net::connect(target).map_err(|e| format!("connect {target}: {e}"))?;
    let queued = match net::lock(&mut s, buf, request).map_err(|e| format!("lock: {e}"))? {
        LockOutcome::Granted { queued } => queued,
        LockOutcome::Refused(rc) => return Err(format!("lock refused: rc={rc}")),
    };
    net::unlock_and_close(s, unlock).map_err(|e| format!("unlock: {e}"))?;
    Ok(queued)
}

fn worker(i: usize, sh: &Shared) -> WorkerOut {
    let mut out = WorkerOut {
        lat: Vec::with_capacity(8192),
        ..WorkerOut::default()
    };
    let (mut request, mut unlock) = match &sh.names {
        Names::PerClient(v) => (
            net::lock_request(&sh.peerid, &v[i], true, true, sh.lifespan_ms),
            net::unlock_message(&v[i]),
        ),
        Names::PerOp(_) => (Vec::new(), Vec::new()),
    };
    let mut buf = Vec::with_capacity(1024);
    sh.barrier.wait();
    loop {
        if sh.stop.load(Ordering::Relaxed) {
            break;
        }
        let k = sh.next.fetch_add(1, Ordering::Relaxed);
        if sh.count.is_some_and(|n| k >= n) {
            break;
        }
        if let Names::PerOp(prefix) = &sh.names {
            let name = format!("{prefix}{k}");
            request = net::lock_request(&sh.peerid, &name, true, true, sh.lifespan_ms);
            unlock = net::unlock_message(&name);
        }
        let t0 = Instant::now();
        match one_cycle(&sh.target, &mut buf, &request, &unlock) {
            Ok(queued) => {
                let t1 = Instant::now();
                out.lat.push((t1 - t0).as_nanos() as u64);
                out.grants += 1;
                out.queued += u64::from(queued);
                out.first_done.get_or_insert(t1);
                out.last_done = Some(t1);
                watch::tick();
            }
            Err(e) => {
                out.error = Some(e);
                break;
            }
        }
    }
    sh.running.fetch_sub(1, Ordering::SeqCst);
    out
}

fn max_stat(a: Option<ProcStat>, b: Option<ProcStat>) -> Option<ProcStat> {
    match (a, b) {
        (Some(x), Some(y)) => Some(ProcStat {
            rss_kib: x.rss_kib.max(y.rss_kib),
            threads: x.threads.max(y.threads),
        }),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Runs the load and gathers its figures. Worker errors end that worker and
/// are counted; they do not abort the run.
pub fn run_load(spec: &LoadSpec) -> LoadResult {
    let clients = spec.clients.max(1);
    let sh = Arc::new(Shared {
        target: spec.target.clone(),
        names: spec.names.clone(),
        lifespan_ms: spec.lifespan_ms,
        count: spec.count,
        peerid: spec.peerid.clone(),
        stop: AtomicBool::new(false),
        next: AtomicU64::new(0),
        running: AtomicUsize::new(clients),
        barrier: Barrier::new(clients + 1),
    });
    let handles: Vec<JoinHandle<WorkerOut>> = (0..clients)
        .map(|i| {
            let sh = Arc::clone(&sh);
            std::thread::Builder::new()
                .name(format!("client{i}"))
                .stack_size(256 * 1024)
                .spawn(move || worker(i, &sh))
                .expect("spawn client thread")
        })
        .collect();
    sh.barrier.wait();
    let t0 = Instant::now();
    let mut max_proc = None;
    let deadline = spec.duration.map(|d| t0 + d);
    while sh.running.load(Ordering::SeqCst) > 0 {
        let now = Instant::now();
        let nap = match deadline {
            Some(d) if now >= d => break,
            Some(d) => (d - now).min(Duration::from_millis(100)),
            None => Duration::from_millis(50),
        };
        std::thread::sleep(nap);
        max_proc = max_stat(max_proc, net::proc_status(spec.daemon_pid));
    }
    sh.stop.store(true, Ordering::SeqCst);
    let mut r = LoadResult::default();
    let mut end = t0;
    for h in handles {
        let o = h.join().unwrap_or_default();
        r.ops += o.grants;
        r.queued += o.queued;
        r.per_client.push(o.grants);
        r.lat.extend_from_slice(&o.lat);
        if let Some(t) = o.last_done {
            end = end.max(t);
            r.last_done = Some(r.last_done.map_or(t, |x| x.max(t)));
        }
        if let Some(t) = o.first_done {
            r.first_done = Some(r.first_done.map_or(t, |x| x.min(t)));
        }
        if let Some(e) = o.error {
            r.errors += 1;
            r.first_error.get_or_insert(e);
        }
    }
    r.secs = (end - t0).as_secs_f64();
    r.max_proc = max_stat(max_proc, net::proc_status(spec.daemon_pid));
    r
}

// ------------------------------------------------------------ the floor

/// A trivial responder on a temporary UNIX socket: it reads one message,
/// answers it with a fixed step-16 rc 0 answer, then reads until the client
/// half-closes and closes. One thread per concurrent client, blocking I/O:
/// the cheapest server the same byte exchange can have. It runs in a forked
/// child process, as a daemon does, so the floor pays the same
/// cross-process wake-ups as a real daemon.
pub struct Floor {
    path: PathBuf,
    pid: libc::pid_t,
    stop_write: libc::c_int,
}

static FLOOR_SEQ: AtomicU64 = AtomicU64::new(0);

fn floor_handle(mut s: UnixStream, answer: &[u8]) -> io::Result<()> {
    let mut buf = [0u8; 1024];
    let mut len = 0;
    loop {
        if len == buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request too long",
            ));
        }
        let n = s.read(&mut buf[len..])?;
        if n == 0 {
            return Ok(());
        }
        len += n;
        if protocol::find_message_end(&buf[..len], 0).is_some() {
            break;
        }
    }
    s.write_all(answer)?;
    while s.read(&mut buf)? != 0 {}
    Ok(())
}

/// The responder child: serves on `listener` until `stop_read` reaches EOF.
fn floor_child(
    listener: UnixListener,
    workers: usize,
    answer: Vec<u8>,
    ready: libc::c_int,
    stop_read: libc::c_int,
) -> ! {
    let listener = Arc::new(listener);
    let answer: Arc<[u8]> = Arc::from(answer);
    for i in 0..workers.max(1) {
        let (l, a) = (Arc::clone(&listener), Arc::clone(&answer));
        let _ = std::thread::Builder::new()
            .name(format!("floor{i}"))
            .stack_size(128 * 1024)
            .spawn(move || loop {
                if let Ok((s, _)) = l.accept() {
                    let _ = floor_handle(s, &a);
                }
            });
    }
    let mut b = [0u8; 1];
    // SAFETY: plain reads/writes on pipe ends this child owns, then _exit.
    unsafe {
        libc::write(ready, b"r".as_ptr().cast(), 1);
        libc::close(ready);
        while libc::read(stop_read, b.as_mut_ptr().cast(), 1) > 0 {}
        libc::_exit(0);
    }
}

fn pipe() -> io::Result<[libc::c_int; 2]> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 into a local array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fds)
}

impl Floor {
    pub fn start(workers: usize, peerid: &str) -> io::Result<Floor> {
        let seq = FLOOR_SEQ.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "flom-bench-floor-{}-{seq}.sock",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        watch::add_temp_file(path.clone());
        let mut answer = String::new();
        protocol::encode_lock_answer(&mut answer, protocol::STEP_FIRST_ANSWER, peerid, 0, None);
        let ready = pipe()?;
        let stop = pipe()?;
        // SAFETY: the child only spawns its own threads and serves, then
        // _exits; it never returns into the parent's code.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: closing the parent's ends in the child.
            unsafe {
                libc::close(ready[0]);
                libc::close(stop[1]);
            }
            floor_child(listener, workers, answer.into_bytes(), ready[1], stop[0]);
        }
        drop(listener);
        let mut b = [0u8; 1];
        // SAFETY: closing the child's ends and reading the ready byte.
        let ok = unsafe {
            libc::close(ready[1]);
            libc::close(stop[0]);
            let n = libc::read(ready[0], b.as_mut_ptr().cast(), 1);
            libc::close(ready[0]);
            n == 1
        };
        let floor = Floor {
            path,
            pid,
            stop_write: stop[1],
        };
        if !ok {
            floor.stop();
            return Err(io::Error::other("the floor responder did not start"));
        }
        Ok(floor)
    }

    pub fn target(&self) -> Target {
        Target::Unix(self.path.clone())
    }

    pub fn stop(self) {
        let mut status = 0;
        // SAFETY: closing our stop pipe end makes the child exit; reap it.
        unsafe {
            libc::close(self.stop_write);
            libc::waitpid(self.pid, &mut status, 0);
        }
        watch::remove_temp_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_against_the_floor() {
        let floor = Floor::start(2, "").unwrap();
        let spec = LoadSpec {
            target: floor.target(),
            clients: 2,
            names: Names::PerClient(vec!["a0".into(), "a1".into()]),
            lifespan_ms: 0,
            duration: None,
            count: Some(50),
            daemon_pid: None,
            peerid: String::new(),
        };
        let r = run_load(&spec);
        floor.stop();
        assert_eq!(r.errors, 0, "{:?}", r.first_error);
        assert_eq!(r.ops, 50);
        assert_eq!(r.lat.len(), 50);
        assert_eq!(r.per_client.iter().sum::<u64>(), 50);
        assert_eq!(r.queued, 0);
        assert!(r.first_done.is_some() && r.last_done >= r.first_done);
    }

    #[test]
    fn refused_connection_is_an_error_not_a_hang() {
        let spec = LoadSpec {
            target: Target::Unix("/nonexistent/flom-bench.sock".into()),
            clients: 1,
            names: Names::PerOp("x".into()),
            lifespan_ms: 0,
            duration: Some(Duration::from_secs(5)),
            count: None,
            daemon_pid: None,
            peerid: String::new(),
        };
        let r = run_load(&spec);
        assert_eq!(r.ops, 0);
        assert_eq!(r.errors, 1);
        assert!(r.first_error.unwrap().contains("connect"));
    }
}
