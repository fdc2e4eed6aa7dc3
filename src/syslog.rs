//! The daemon's system log: ident `flom`, the pid, facility LOG_DAEMON, and
//! the message catalogue of C FLoM (ids FLM000I…, same levels and
//! parameters; our own wording).

use std::ffi::CString;

/// Opens the log once the daemon has detached.
pub fn open() {
    // SAFETY: the ident is a static NUL-terminated string that outlives the log.
    unsafe { libc::openlog(c"flom".as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
}

fn log(priority: libc::c_int, msg: &str) {
    if let Ok(c) = CString::new(msg.replace('\0', " ")) {
        // SAFETY: a constant format string and one valid C string argument.
        unsafe { libc::syslog(libc::LOG_DAEMON | priority, c"%s".as_ptr(), c.as_ptr()) };
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
