//! The one harness of the integration tests. This module: private temp
//! dirs and sockets (`Env`, the guard that shuts down every daemon a test
//! started), running `flom` with a bound on its run time, background
//! processes (own process group, killed on drop), the bounded waits, FIFO
//! and log helpers. Submodules: `daemon` (daemons and processes through
//! /proc), `raw` (raw protocol connections and messages), `vectors` (the C
//! transcripts), `netns` (`ip`, network namespaces, veth hosts, socket
//! tables), `cli` (runs with a private HOME, config dumps), `types` (scenes
//! of resource-type clients, taps, a loopback TCP daemon guard).
//!
//! Every wait in here has a bound and fails the test when it is exceeded.
#![allow(dead_code)]

pub mod cli;
pub mod daemon;
pub mod netns;
pub mod raw;
pub mod relay;
pub mod types;
pub mod vectors;

/// What `flom` prints when no command is given: C FLoM's line and the hint.
pub const NO_COMMAND: &str = "No command to execute!\nflom: no command to run was given: write it after the options and --, as in flom -r NAME -- COMMAND [ARG...]; see flom --help.\n";

/// The hint after an unknown option `option`.
pub fn unknown_option_hint(option: &str) -> String {
    format!("flom: {option} is not an option of flom: see flom --help for the options; the options of a command go after --, as in flom -- COMMAND {option}.\n")
}

/// The hint after any other parse failure.
pub const HELP_HINT: &str = "flom: see flom --help for the options and their values.\n";

pub use daemon::*;
pub use raw::*;

use std::cell::RefCell;
use std::ffi::CString;
use std::io::{self, Read};
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

/// Prints a skip reason where `cargo test` shows it (not captured).
pub fn skip(test: &str, why: &str) {
    eprintln!("SKIPPED {test}: {why}");
}

// ------------------------------------------------------------ waiting

/// Polls `cond` every 5 ms until it holds or `timeout` passes; whether it
/// held (for callers that report the failure themselves).
pub fn poll_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Polls `cond` until it holds; panics naming `what` after `timeout`.
#[track_caller]
pub fn wait_until(timeout: Duration, what: &str, cond: impl FnMut() -> bool) {
    if !poll_until(timeout, cond) {
        panic!("timed out after {timeout:?} waiting for: {what}");
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

    /// Stdout lines other than the `-V` configuration dump (`[Group]/Key=…`).
    pub fn lines(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| !(l.starts_with('[') && l.contains("]/")))
            .collect()
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

    /// Stderr without the `-V` notes of our own (config files read, lock
    /// requested, waiting, granted), which C FLoM does not print.
    pub fn stderr_without_notes(&self) -> String {
        const NOTES: [&str; 5] = [
            "flom: configuration read from ",
            "flom: no configuration file was read",
            "flom: requesting the lock on resource '",
            "flom: waiting for resource '",
            "flom: lock on resource '",
        ];
        self.stderr
            .split_inclusive('\n')
            .filter(|l| !NOTES.iter().any(|n| l.starts_with(n)))
            .collect()
    }

    /// Like `expect_stderr`, the `-V` notes of our own set aside.
    #[track_caller]
    pub fn expect_plain_stderr(&self, exact: &str) -> &Self {
        assert_eq!(
            self.stderr_without_notes(),
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
