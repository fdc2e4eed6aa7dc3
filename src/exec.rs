//! Running the command while the lock is held: spawn it as a child, forward
//! SIGTERM/SIGINT/SIGHUP to it, ignore the signals the user listed, wait for
//! it, and tell how it ended (`error::exit_status` turns that into flom's
//! exit status).

use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

/// Signals forwarded to the command unless ignored.
const FORWARDED: [i32; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

static CHILD_PID: AtomicI32 = AtomicI32::new(0);
static PENDING_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward_signal(sig: libc::c_int) {
    let pid = CHILD_PID.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    } else {
        PENDING_SIGNAL.store(sig, Ordering::SeqCst);
    }
}

/// The pid of the command now running, 0 when none (`lost_lock` signals it).
pub fn running_child() -> i32 {
    CHILD_PID.load(Ordering::SeqCst)
}

fn set_disposition(sig: i32, handler: libc::sighandler_t) -> libc::sigaction {
    // SAFETY: installing a disposition for our own process; `old` receives the previous one.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, &sa, &mut old);
        old
    }
}

fn signal_name(sig: i32) -> String {
    crate::config::signal_name(sig)
        .map(str::to_string)
        .unwrap_or_else(|| sig.to_string())
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It exited with this status (0..255).
    Exited(i32),
    /// It was killed by this signal.
    Signalled(i32),
    /// It could not be started, or flom lost track of it (message printed).
    NotExecuted,
    /// waitpid reported neither an exit nor a death by signal.
    Unknown,
}

/// The variable that gives the command its lock's fencing token.
pub const FENCING_TOKEN_VAR: &str = "FLOM_FENCING_TOKEN";

/// Runs `argv` (argv[0] looked up in PATH) and waits for it; with a fencing
/// token the command finds it in FLOM_FENCING_TOKEN, which is otherwise
/// unset (never inherited from an outer flom).
pub fn run_command(argv: &[String], ignored: &[i32], fencing_token: Option<u64>) -> Ending {
    let forwarded: Vec<i32> = FORWARDED
        .iter()
        .copied()
        .filter(|s| !ignored.contains(s))
        .collect();
    let mut saved = Vec::new();
    PENDING_SIGNAL.store(0, Ordering::SeqCst);
    CHILD_PID.store(0, Ordering::SeqCst);
    for &sig in &forwarded {
        saved.push((
            sig,
            set_disposition(sig, forward_signal as extern "C" fn(libc::c_int) as usize),
        ));
    }
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]);
    match fencing_token {
        Some(t) => command.env(FENCING_TOKEN_VAR, t.to_string()),
        None => command.env_remove(FENCING_TOKEN_VAR),
    };
    let child = command.spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            restore(&saved);
            eprintln!(
                "flom: unable to execute command '{}': {}",
                argv[0],
                describe(&e)
            );
            return Ending::NotExecuted;
        }
    };
    let pid = child.id() as i32;
    CHILD_PID.store(pid, Ordering::SeqCst);
    let pending = PENDING_SIGNAL.swap(0, Ordering::SeqCst);
    if pending != 0 {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid, pending) };
    }
    // The child keeps default dispositions: SIG_IGN is set only in flom.
    for &sig in ignored {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            eprintln!(
                "Warning: couldn't ignore signal {}:{}",
                sig,
                signal_name(sig)
            );
            continue;
        }
        saved.push((sig, set_disposition(sig, libc::SIG_IGN)));
    }
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        if r < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            restore(&saved);
            eprintln!(
                "flom: lost track of the command: {}",
                std::io::Error::last_os_error()
            );
            return Ending::NotExecuted;
        }
    }
    CHILD_PID.store(0, Ordering::SeqCst);
    restore(&saved);
    drop(child);
    if libc::WIFEXITED(status) {
        Ending::Exited(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        Ending::Signalled(libc::WTERMSIG(status))
    } else {
        Ending::Unknown
    }
}

fn restore(saved: &[(i32, libc::sigaction)]) {
    for (sig, old) in saved.iter().rev() {
        // SAFETY: restoring the disposition saved by set_disposition.
        unsafe { libc::sigaction(*sig, old, std::ptr::null_mut()) };
    }
}

fn describe(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory (is it in PATH?)".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}
