//! The daemon's system log: ident `flom`, the pid, facility LOG_DAEMON, and
//! the message catalogue of C FLoM (ids FLM000I…, same levels and
//! parameters; our own wording).

use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the system's log daemon listens.
const LOG_SOCKET: &str = "/dev/log";

/// The connection to the log daemon, made at the first line (and again
/// after the log daemon restarted).
static LOG: Mutex<Option<UnixDatagram>> = Mutex::new(None);

/// Opens the log once the daemon has detached (the connection itself is
/// made at the first line).
pub fn open() {
    *LOG.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

fn connect() -> Option<UnixDatagram> {
    let s = UnixDatagram::unbound().ok()?;
    s.connect(LOG_SOCKET).ok()?;
    s.set_nonblocking(true).ok()?;
    Some(s)
}

/// Sends one line as syslog(3) formats it (`<PRI>Mmm dd hh:mm:ss
/// flom[PID]: MESSAGE`, facility LOG_DAEMON), but never waits: a log
/// daemon that stalls (its queue full) loses lines instead of stopping the
/// daemon's loop, which syslog(3) would block.
fn log(priority: libc::c_int, msg: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let line = format!(
        "<{}>{} flom[{}]: {}",
        libc::LOG_DAEMON | priority,
        crate::locker::timestamp::strftime_local("%b %e %T", now),
        std::process::id(),
        msg.replace('\0', " ")
    );
    let mut log = LOG.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..2 {
        if log.is_none() {
            *log = connect();
        }
        let Some(s) = log.as_ref() else {
            return;
        };
        match s.send(line.as_bytes()) {
            Ok(_) => return,
            // Full: the line is lost, the loop goes on.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            // The log daemon restarted: connect again once.
            Err(_) => *log = None,
        }
    }
}

pub fn notice(msg: &str) {
    log(libc::LOG_NOTICE, msg);
}

pub fn info(msg: &str) {
    log(libc::LOG_INFO, msg);
}

pub fn warning(msg: &str) {
    log(libc::LOG_WARNING, msg);
}

pub fn error(msg: &str) {
    log(libc::LOG_ERR, msg);
}
