//! Shared harness of the integration tests: private temp dirs and sockets,
//! running `flom` with a bound on its run time, background `flom` processes
//! (own process group, killed on drop), a guard that shuts down every daemon a
//! test started, a raw protocol client, FIFO and log helpers, and /proc
//! inspection (daemon pids, connection counts).
//!
//! Every wait in here has a bound and fails the test when it is exceeded.
#![allow(dead_code)]

pub mod vectors;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::ffi::CString;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_flom");

/// The default bound of every wait.
pub const T: Duration = Duration::from_secs(10);

/// The first bytes of every protocol message.
pub const PROLOGUE: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>";

/// The peer id found in the C transcripts of `../shared/vectors/`.
pub const VECTOR_PEER: &str = "3d1219c7c4c5404aaa1f6d2a48adfda4";

/// This host's unique id as flom sends it (the D-Bus machine id).
pub fn machine_id() -> String {
    for path in ["/var/lib/dbus/machine-id", "/etc/machine-id"] {
        if let Ok(s) = std::fs::read_to_string(path) {
            let id = s.trim();
            if !id.is_empty() {
                return id.to_string();
            }
        }
    }
    String::new()
}

// ------------------------------------------------------------ waiting

/// Polls `cond` until it holds; panics naming `what` after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

// --------------------------------------------------------- processes

/// The end of a `flom` run.
pub struct Out {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub label: String,
}

impl Out {
    /// The exit code; None when flom itself died by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn describe(&self) -> String {
        format!(
            "`{}`: status {:?} (signal {:?}) after {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.label,
            self.status.code(),
            self.status.signal(),
            self.elapsed,
            self.stdout,
            self.stderr
        )
    }

    /// Asserts the exit code (flom exited normally with `code`).
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.status.code(),
            Some(code),
            "unexpected exit status of {}",
            self.describe()
        );
        self
    }

    #[track_caller]
    pub fn expect_stderr(&self, exact: &str) -> &Self {
        assert_eq!(
            self.stderr,
            exact,
            "unexpected stderr of {}",
            self.describe()
        );
        self
    }

    #[track_caller]
    pub fn expect_stdout(&self, exact: &str) -> &Self {
        assert_eq!(
            self.stdout,
            exact,
            "unexpected stdout of {}",
            self.describe()
        );
        self
    }
}

/// A `flom` process running in the background, in its own process group.
/// Dropping it kills the whole group (flom and the command it runs).
pub struct Bg {
    pub pid: i32,
    pub label: String,
    started: Instant,
    status_rx: Receiver<ExitStatus>,
    out_rx: Receiver<Vec<u8>>,
    err_rx: Receiver<Vec<u8>>,
    status: Option<ExitStatus>,
}

fn reader(mut r: impl Read + Send + 'static) -> Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        let _ = tx.send(v);
    });
    rx
}

/// Starts `flom ARGS` in the background (stdin /dev/null, stdout and
/// stderr captured).
pub fn spawn_flom(args: &[&str]) -> Bg {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    spawn_command(cmd, format!("flom {}", args.join(" ")))
}

/// Starts `cmd` in the background in its own process group (stdin
/// /dev/null, stdout and stderr captured); dropping the `Bg` kills the group.
pub fn spawn_command(mut cmd: Command, label: String) -> Bg {
    // Taken before the spawn: `Out::elapsed` is never less than the child's life.
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {label}: {e}"));
    let pid = child.id() as i32;
    let out_rx = reader(child.stdout.take().unwrap());
    let err_rx = reader(child.stderr.take().unwrap());
    let (tx, status_rx) = mpsc::channel();
    std::thread::spawn(move || {
        if let Ok(st) = child.wait() {
            let _ = tx.send(st);
        }
    });
    Bg {
        pid,
        label,
        started,
        status_rx,
        out_rx,
        err_rx,
        status: None,
    }
}

impl Bg {
    /// The exit status if flom has ended, without waiting.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.status_rx.try_recv().ok();
        }
        self.status
    }

    pub fn is_running(&mut self) -> bool {
        self.try_status().is_none()
    }

    /// Waits (bounded) for flom to exit; returns only its status (for
    /// processes whose command left descendants holding the output pipes).
    #[track_caller]
    pub fn wait_status(&mut self, timeout: Duration) -> ExitStatus {
        if let Some(st) = self.status {
            return st;
        }
        match self.status_rx.recv_timeout(timeout) {
            Ok(st) => {
                self.status = Some(st);
                st
            }
            Err(_) => {
                self.kill_group();
                panic!("`{}` did not exit within {timeout:?}", self.label);
            }
        }
    }

    /// Waits (bounded) for flom to exit and for its output.
    #[track_caller]
    pub fn wait(&mut self, timeout: Duration) -> Out {
        let status = self.wait_status(timeout);
        let elapsed = self.started.elapsed();
        let grab = |rx: &Receiver<Vec<u8>>, which: &str| -> String {
            match rx.recv_timeout(Duration::from_secs(5)) {
                Ok(v) => String::from_utf8_lossy(&v).into_owned(),
                Err(_) => panic!(
                    "`{}` exited but its {which} stayed open (a descendant holds it)",
                    self.label
                ),
            }
        };
        let stdout = grab(&self.out_rx, "stdout");
        let stderr = grab(&self.err_rx, "stderr");
        Out {
            status,
            stdout,
            stderr,
            elapsed,
            label: self.label.clone(),
        }
    }

    /// Sends `sig` to flom only (not to its command).
    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling a child process we started.
        unsafe { libc::kill(self.pid, sig) };
    }

    fn kill_group(&self) {
        // SAFETY: the group was created for this child (process_group(0));
        // Linux does not reuse a pid while it is still some group's id.
        unsafe { libc::kill(-self.pid, libc::SIGKILL) };
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        self.kill_group();
        if self.status.is_none() {
            let _ = self.status_rx.recv_timeout(Duration::from_secs(5));
        }
    }
}

/// Runs `flom ARGS` to its end (bounded by `T`).
#[track_caller]
pub fn run_flom(args: &[&str]) -> Out {
    spawn_flom(args).wait(T)
}

// ------------------------------------------------------------- /proc

fn proc_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The lines of /proc/net/unix naming `sock` as (flags, state, inode).
fn unix_entries(sock: &str) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    text.lines()
        .skip(1)
        .filter(|l| l.ends_with(sock))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() >= 8 && f[7] == sock {
                Some((f[3].to_string(), f[5].to_string(), f[6].to_string()))
            } else {
                None
            }
        })
        .collect()
}

/// Connections the daemon listening on `sock` has (accepted or in its
/// backlog): /proc/net/unix lists them with the listener's path.
pub fn conn_count(sock: &str) -> usize {
    unix_entries(sock)
        .iter()
        .filter(|(flags, st, _)| flags != "00010000" && st == "03")
        .count()
}

/// Waits until the daemon of `sock` has at least `n` connections.
#[track_caller]
pub fn wait_conns(sock: &str, n: usize) {
    // Reading /proc/net/unix costs kernel time proportional to every UNIX
    // socket of the host: poll it gently.
    let deadline = Instant::now() + T;
    loop {
        let now = conn_count(sock);
        if now >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {T:?} waiting for {n} connection(s) to {sock} (seen: {now})"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Pids of the processes holding the listening socket bound to `sock`.
/// Only processes whose command line names `sock` are looked at (a daemon's
/// command line is the one of the client that started it, and the tests
/// always pass `-s SOCK`): scanning every descriptor of every process is
/// slow on a busy host.
pub fn daemon_pids(sock: &str) -> Vec<i32> {
    let inodes: BTreeSet<String> = unix_entries(sock)
        .into_iter()
        .filter(|(flags, _, _)| flags == "00010000")
        .map(|(_, _, inode)| format!("socket:[{inode}]"))
        .collect();
    if inodes.is_empty() {
        return Vec::new();
    }
    let mut pids = Vec::new();
    for pid in proc_pids() {
        if !cmdline(pid).iter().any(|a| a == sock) {
            continue;
        }
        let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let holds = dir.filter_map(|e| e.ok()).any(|e| {
            std::fs::read_link(e.path())
                .map(|t| inodes.contains(t.to_string_lossy().as_ref()))
                .unwrap_or(false)
        });
        if holds {
            pids.push(pid);
        }
    }
    pids
}

/// The only daemon serving `sock` (waits for it, bounded).
#[track_caller]
pub fn the_daemon(sock: &str) -> i32 {
    let mut pids = Vec::new();
    wait_until(T, &format!("a daemon listening on {sock}"), || {
        pids = daemon_pids(sock);
        !pids.is_empty()
    });
    assert_eq!(
        pids.len(),
        1,
        "more than one process serves {sock}: {pids:?}"
    );
    pids[0]
}

fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rfind(')')?;
    stat[after + 1..].trim_start().chars().next()
}

/// Alive and not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    matches!(proc_state(pid), Some(s) if s != 'Z' && s != 'X')
}

pub fn cmdline(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Live processes whose command line has `sock` as an argument and that are
/// not in this test's session: the daemons (a daemon calls setsid) started
/// for `sock`, whether or not they listen.
pub fn detached_processes_for(sock: &str) -> Vec<i32> {
    // SAFETY: getsid on ourselves and on pids read from /proc.
    let my_sid = unsafe { libc::getsid(0) };
    proc_pids()
        .into_iter()
        .filter(|&pid| {
            pid_alive(pid)
                && cmdline(pid).iter().any(|a| a == sock)
                && unsafe { libc::getsid(pid) } != my_sid
        })
        .collect()
}

pub fn exists(path: &str) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

pub fn is_socket(path: &str) -> bool {
    std::fs::symlink_metadata(path)
        .map(|m| m.file_type().is_socket())
        .unwrap_or(false)
}

// ----------------------------------------------------- the test's env

/// A private directory and socket path for one test, and the guard of the
/// daemons the test starts: on drop, every registered socket gets
/// `flom -s SOCK -X`, then any daemon still alive is killed, then the
/// directory is removed.
pub struct Env {
    pub dir: PathBuf,
    pub sock: String,
    socks: RefCell<Vec<String>>,
    pids: RefCell<Vec<i32>>,
}

impl Env {
    pub fn new(name: &str) -> Env {
        let dir = PathBuf::from(format!("/tmp/flom-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create test dir");
        let sock = dir.join("s").to_string_lossy().into_owned();
        Env {
            dir,
            sock: sock.clone(),
            socks: RefCell::new(vec![sock]),
            pids: RefCell::new(Vec::new()),
        }
    }

    /// A path inside the test's directory.
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    /// Another socket path in the test's directory, shut down on drop.
    pub fn other_sock(&self, name: &str) -> String {
        let s = self.path(name);
        self.socks.borrow_mut().push(s.clone());
        s
    }

    /// Records a daemon pid to kill on drop if `-X` did not end it.
    pub fn track(&self, pid: i32) {
        self.pids.borrow_mut().push(pid);
    }

    /// Starts a daemon that lives until shut down (`-d -1`) on the test's
    /// socket; returns its pid.
    pub fn start_daemon(&self) -> i32 {
        let sock = self.sock.clone();
        self.start_daemon_on(&sock)
    }

    pub fn start_daemon_on(&self, sock: &str) -> i32 {
        assert!(!exists(sock), "{sock} exists before the daemon starts");
        run_flom(&["-s", sock, "-d", "-1", "-r", "warmup", "--", "true"])
            .expect_code(0)
            .expect_stdout("")
            .expect_stderr("");
        let pid = the_daemon(sock);
        self.track(pid);
        pid
    }

    /// Runs `flom -s SOCK ARGS` to its end.
    #[track_caller]
    pub fn flom(&self, args: &[&str]) -> Out {
        let mut a = vec!["-s", self.sock.as_str()];
        a.extend_from_slice(args);
        run_flom(&a)
    }

    /// Starts `flom -s SOCK ARGS` in the background.
    pub fn spawn(&self, args: &[&str]) -> Bg {
        let mut a = vec!["-s", self.sock.as_str()];
        a.extend_from_slice(args);
        spawn_flom(&a)
    }

    /// Creates a FIFO in the test's directory.
    pub fn fifo(&self, name: &str) -> String {
        let p = self.path(name);
        mkfifo(&p);
        p
    }

    /// Asserts the resource is free right now (`-o 0` gets it).
    #[track_caller]
    pub fn assert_free(&self, resource: &str) {
        self.flom(&with_resource(resource, &["-o", "0", "--", "true"]))
            .expect_code(0)
            .expect_stderr("");
    }

    /// Asserts the resource is held right now (`-o 0` is refused).
    #[track_caller]
    pub fn assert_busy(&self, resource: &str) {
        self.flom(&with_resource(resource, &["-o", "0", "--", "true"]))
            .expect_code(98)
            .expect_stderr("Resource already locked, the lock cannot be obtained\n");
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let socks = self.socks.borrow().clone();
        let mut pids: Vec<i32> = self.pids.borrow().clone();
        for s in &socks {
            pids.extend(daemon_pids(s));
        }
        for s in &socks {
            if is_socket(s) {
                let p = spawn_flom(&["-s", s, "-X"]);
                let _ = p.status_rx.recv_timeout(Duration::from_secs(5));
            }
        }
        for pid in pids {
            let ours = cmdline(pid).iter().any(|a| socks.contains(a));
            if ours && pid_alive(pid) {
                // SAFETY: a daemon this test started (its argv names our socket).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ------------------------------------------------------ files, FIFOs

pub fn mkfifo(path: &str) {
    let c = CString::new(path).unwrap();
    // SAFETY: plain mkfifo on a NUL-terminated path.
    let r = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(r, 0, "mkfifo {path}: {}", io::Error::last_os_error());
}

/// Lets the command blocked in `cat FIFO` go: opens the FIFO for writing
/// (once the reader has opened it) and closes it, so `cat` sees EOF.
#[track_caller]
pub fn release(fifo: &str) {
    let c = CString::new(fifo).unwrap();
    let mut fd = -1;
    wait_until(T, &format!("a reader on {fifo}"), || {
        // SAFETY: non-blocking open of a FIFO; ENXIO while nobody reads it.
        fd = unsafe { libc::open(c.as_ptr(), libc::O_WRONLY | libc::O_NONBLOCK) };
        fd >= 0
    });
    // SAFETY: closing the descriptor we opened.
    unsafe { libc::close(fd) };
}

/// The lines of a log file (empty when it does not exist yet).
pub fn lines(path: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Waits until the log file has the line `line`.
#[track_caller]
pub fn wait_line(path: &str, line: &str) {
    wait_until(T, &format!("line {line:?} in {path}"), || {
        lines(path).iter().any(|l| l == line)
    });
}

// ------------------------------------------------------- the protocol

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard Base64 with `=` padding.
pub fn b64(input: &str) -> String {
    let mut out = String::new();
    for chunk in input.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A simple-resource lock request (verb 1 step 8), as the C client lays it out.
pub fn lock_msg(
    peer: &str,
    name: &str,
    mode: u8,
    wait: bool,
    create: bool,
    lifespan: i64,
) -> String {
    format!(
        "{PROLOGUE}<msg level=\"3\" verb=\"1\" step=\"8\"><session peerid=\"{peer}\"/><resource name=\"{}\" mode=\"{mode}\" wait=\"{}\" create=\"{}\" lifespan=\"{lifespan}\"/></msg>",
        b64(name),
        u8::from(wait),
        u8::from(create)
    )
}

/// The default lock request for `name` (EX, wait, create).
pub fn lock_ex(name: &str) -> String {
    lock_msg(&machine_id(), name, 5, true, true, 0)
}

pub fn unlock_msg(name: &str, rollback: bool) -> String {
    format!(
        "{PROLOGUE}<msg level=\"3\" verb=\"2\" step=\"8\"><resource name=\"{}\" rollback=\"{}\" /></msg>",
        b64(name),
        u8::from(rollback)
    )
}

pub fn mgmt_msg(peer: &str, immediate: bool) -> String {
    format!(
        "{PROLOGUE}<msg level=\"3\" verb=\"5\" step=\"8\"><session peerid=\"{peer}\"/><shutdown immediate=\"{}\"/></msg>",
        u8::from(immediate)
    )
}

/// The daemon's first answer (step 16).
pub fn answer16(rc: i32) -> String {
    format!(
        "{PROLOGUE}<msg level=\"3\" verb=\"1\" step=\"16\"><session peerid=\"{}\"/><answer rc=\"{rc}\"/></msg>",
        machine_id()
    )
}

/// A later answer (step 24).
pub fn answer24(rc: i32) -> String {
    format!("{PROLOGUE}<msg level=\"3\" verb=\"1\" step=\"24\"><answer rc=\"{rc}\"/></msg>")
}

/// What a raw read produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Recv {
    /// One complete message (up to and including `</msg>`).
    Msg(String),
    /// The peer closed; `partial` holds bytes of an unfinished message.
    Closed {
        partial: String,
    },
    Timeout,
}

/// A raw protocol connection driven by the test.
pub struct Raw {
    pub s: UnixStream,
    buf: Vec<u8>,
    eof: bool,
}

impl Raw {
    #[track_caller]
    pub fn connect(sock: &str) -> Raw {
        let s = UnixStream::connect(sock).unwrap_or_else(|e| panic!("connect {sock}: {e}"));
        Raw::from_stream(s)
    }

    pub fn from_stream(s: UnixStream) -> Raw {
        Raw {
            s,
            buf: Vec::new(),
            eof: false,
        }
    }

    /// Writes all of `bytes`; errors (the peer may have closed) are returned.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.s.write_all(bytes)
    }

    #[track_caller]
    pub fn send_ok(&mut self, bytes: &str) {
        self.send(bytes.as_bytes()).expect("send to the daemon");
    }

    pub fn shutdown_write(&self) {
        let _ = self.s.shutdown(std::net::Shutdown::Write);
    }

    /// Reads one message, bounded by `timeout`. A connection reset counts
    /// as a close.
    pub fn recv(&mut self, timeout: Duration) -> Recv {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(p) = self.buf.windows(6).position(|w| w == b"</msg>") {
                let msg: Vec<u8> = self.buf.drain(..p + 6).collect();
                return Recv::Msg(String::from_utf8_lossy(&msg).into_owned());
            }
            if self.eof {
                return Recv::Closed {
                    partial: String::from_utf8_lossy(&self.buf).into_owned(),
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Recv::Timeout;
            }
            self.s
                .set_read_timeout(Some((deadline - now).max(Duration::from_millis(1))))
                .unwrap();
            let mut chunk = [0u8; 4096];
            match self.s.read(&mut chunk) {
                Ok(0) => self.eof = true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.eof = true, // ECONNRESET and the like
            }
        }
    }

    /// Expects one complete message.
    #[track_caller]
    pub fn expect_msg(&mut self, timeout: Duration) -> String {
        match self.recv(timeout) {
            Recv::Msg(m) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// Expects the peer to close without sending anything (more).
    #[track_caller]
    pub fn expect_closed(&mut self, timeout: Duration) {
        match self.recv(timeout) {
            Recv::Closed { partial } if partial.is_empty() => {}
            other => panic!("expected the peer to close without data, got {other:?}"),
        }
    }

    /// True when no byte is waiting to be read right now (and the peer has
    /// not closed).
    pub fn nothing_pending(&self) -> bool {
        if !self.buf.is_empty() || self.eof {
            return false;
        }
        let mut b = [0u8; 1];
        // SAFETY: non-blocking peek into a local buffer.
        let r = unsafe {
            libc::recv(
                self.s.as_raw_fd(),
                b.as_mut_ptr().cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
    }
}

/// Waits (bounded) until `fd` is readable; true if it is.
pub fn poll_readable(fd: i32, timeout: Duration) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one descriptor we own.
    let r = unsafe { libc::poll(&mut p, 1, timeout.as_millis() as i32) };
    r > 0
}

/// `-r NAME` followed by `rest`; the default resource `_RESOURCE` cannot be
/// named on the command line, so it is just left out.
pub fn with_resource<'a>(resource: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut v = Vec::new();
    if resource != "_RESOURCE" {
        v.extend(["-r", resource]);
    }
    v.extend_from_slice(rest);
    v
}
