//! Process start of the daemon: the double fork and detach of `spawn`, the
//! readiness pipe that tells the starting client the daemon's start-up
//! return code, the daemon's `main`, and the self-pipe that turns SIGTERM /
//! SIGINT into a readable descriptor for the loop.

use super::Daemon;
use crate::config::Config;
use crate::rc;
use std::io::{self, Write};
use std::os::unix::io::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};

/// Forks a daemon for `config` (double fork, `setsid`) and waits for its
/// start-up return code on a pipe: 0 once its listeners accept connections.
/// Called by a client that found no daemon.
pub fn spawn(config: &Config) -> i32 {
    spawn_explained(config).0
}

/// Like `spawn`, with the sentence a daemon that could not start sent after
/// its return code (a refused lock file or socket path), if any.
pub fn spawn_explained(config: &Config) -> (i32, Option<String>) {
    crate::trace!(
        crate::trace::CLIENT | crate::trace::CONNS,
        "connection: no daemon there: starting one"
    );
    let (rc, why) = spawn_daemon(config);
    crate::trace!(
        crate::trace::CLIENT | crate::trace::CONNS,
        "connection: daemon start: rc={rc} ({})",
        rc::strerror(rc)
    );
    (rc, why)
}

fn spawn_daemon(config: &Config) -> (i32, Option<String>) {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: plain pipe2 into a local array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return (rc::PIPE_ERROR, None);
    }
    let (read_end, write_end) = (fds[0], fds[1]);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: the client is single-threaded; the child only forks again,
    // calls async-signal-safe functions until the daemon proper runs.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        // SAFETY: closing our own descriptors.
        unsafe {
            libc::close(read_end);
            libc::close(write_end);
        }
        return (rc::FORK_ERROR, None);
    }
    if pid == 0 {
        // SAFETY: see above; every branch ends in _exit.
        unsafe {
            libc::close(read_end);
            if libc::fork() != 0 {
                libc::_exit(0);
            }
            libc::setsid();
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
            if libc::fork() != 0 {
                libc::_exit(0);
            }
            let code = daemon_main(config, write_end);
            libc::_exit(code);
        }
    }
    // SAFETY: closing our copy of the write end, reaping the first child.
    unsafe {
        libc::close(write_end);
        let mut status = 0;
        while libc::waitpid(pid, &mut status, 0) < 0
            && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
        {}
    }
    let mut buf = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        // SAFETY: reading into a local buffer.
        let n = unsafe { libc::read(read_end, buf[got..].as_mut_ptr().cast(), 4 - got) };
        if n > 0 {
            got += n as usize;
        } else if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        } else {
            break;
        }
    }
    let mut why = Vec::new();
    if got == 4 && i32::from_ne_bytes(buf) != rc::OK {
        let mut chunk = [0u8; 512];
        loop {
            // SAFETY: reading into a local buffer.
            let n = unsafe { libc::read(read_end, chunk.as_mut_ptr().cast(), chunk.len()) };
            if n > 0 && why.len() < 4096 {
                why.extend_from_slice(&chunk[..n as usize]);
            } else if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            } else {
                break;
            }
        }
    }
    // SAFETY: closing our read end.
    unsafe { libc::close(read_end) };
    if got < 4 {
        return (rc::DAEMON_NOT_STARTED, None);
    }
    let why = (!why.is_empty()).then(|| String::from_utf8_lossy(&why).into_owned());
    (i32::from_ne_bytes(buf), why)
}

/// The sentence a daemon that cannot start sends its client after the
/// return code (set while the daemon opens its listeners).
static START_FAILURE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Records why the daemon cannot start, for the starting client.
pub(super) fn explain_start_failure(why: String) {
    *START_FAILURE.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
}

/// Tells the starting client how the start went: the return code, then
/// (on a failure) the sentence it prints; closes the readiness pipe.
fn tell_starter(ready_pipe: RawFd, start_rc: i32, why: &str) {
    let bytes = start_rc.to_ne_bytes();
    // SAFETY: writing 4 bytes and the sentence to the readiness pipe, then
    // closing it.
    unsafe {
        libc::write(ready_pipe, bytes.as_ptr().cast(), 4);
        if !why.is_empty() {
            libc::write(ready_pipe, why.as_ptr().cast(), why.len());
        }
        libc::close(ready_pipe);
    }
}

static SIGNAL_PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_stop_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; the pipe is non-blocking.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

/// Closes every inherited descriptor but `keep`, and points 0, 1, 2 at
/// /dev/null, so a daemon never holds a pipe its starting client's caller
/// is reading.
fn detach_descriptors(keep: RawFd) {
    let fds: Vec<RawFd> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
        Err(_) => (0..1024).collect(),
    };
    for fd in fds {
        if fd != keep {
            // SAFETY: closing descriptors this process owns; none is in use by Rust objects.
            unsafe { libc::close(fd) };
        }
    }
    // SAFETY: opening /dev/null onto the lowest free descriptors 0, 1, 2.
    unsafe {
        let null = b"/dev/null\0";
        for _ in 0..3 {
            libc::open(null.as_ptr().cast(), libc::O_RDWR);
        }
    }
}

/// The daemon process proper; returns its exit status.
pub(super) fn daemon_main(config: &Config, ready_pipe: RawFd) -> i32 {
    // A relative mount point is relative to the starting client's directory.
    let mut config = config.clone();
    config.mount_point_vfs = config
        .mount_point_vfs
        .map(|d| crate::vfs::absolute_path(&d));
    let config = &config;
    // SAFETY: process-wide settings of a freshly forked daemon.
    unsafe {
        libc::chdir(c"/".as_ptr());
        libc::umask(0);
    }
    // etcd is asked for a lease while stderr is still the starting
    // client's, so that an unreachable cluster is told there.
    let etcd = match crate::store::etcd::Session::open(config) {
        Ok(s) => s,
        Err(sentence) => {
            tell_starter(ready_pipe, rc::DAEMON_NOT_STARTED, &sentence);
            return 1;
        }
    };
    crate::trace::forget_destination();
    detach_descriptors(ready_pipe);
    open_logs(config);
    let _ = crate::net::raise_fd_limit();
    let result = Daemon::new(config, etcd);
    let start_rc = match &result {
        Ok(_) => 0,
        Err(rc) => *rc,
    };
    let why = START_FAILURE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .filter(|_| start_rc != 0)
        .unwrap_or_default();
    tell_starter(ready_pipe, start_rc, &why);
    match result {
        Ok(mut daemon) => {
            crate::trace!(
                crate::trace::DAEMON,
                "daemon ready, lifespan {} ms",
                config.daemon_lifespan
            );
            crate::syslog::notice("FLM003N the daemon is ready to serve lock requests");
            daemon.run();
            crate::trace!(crate::trace::DAEMON, "daemon finished serving");
            crate::syslog::notice("FLM004N the daemon has finished serving and exits");
            0
        }
        Err(_) => 1,
    }
}

/// Installs the SIGTERM / SIGINT handlers (which write to a self-pipe) and
/// ignores SIGHUP and SIGPIPE; returns the pipe's read end.
pub(super) fn install_signals() -> Result<RawFd, i32> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 into a local array, then signal dispositions of our own process.
    unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) != 0 {
            return Err(rc::PIPE_ERROR);
        }
        SIGNAL_PIPE_WRITE.store(fds[1], Ordering::Relaxed);
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    Ok(fds[0])
}

/// Drains the signal self-pipe; true when a stop signal arrived.
pub(super) fn stop_signalled(signal_read: RawFd) -> bool {
    let mut buf = [0u8; 16];
    // SAFETY: reading from our non-blocking signal pipe.
    let n = unsafe { libc::read(signal_read, buf.as_mut_ptr().cast(), buf.len()) };
    n > 0
}

/// Opens the daemon's system log, then its trace file (`-t`), whose
/// refusal (an unsafe path) is logged.
pub(super) fn open_logs(config: &Config) {
    crate::syslog::open();
    if let Err(why) = crate::trace::init(
        config.daemon_trace_file.as_deref(),
        config.append_trace_file,
    ) {
        crate::syslog::error(&format!("FLM029E {why}"));
    }
}
