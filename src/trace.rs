//! Trace facility: the `FLOM_TRACE_MASK` bit mask of enabled modules, the
//! trace destination (stderr, or the file named by `-T`/`-t`), and the
//! [`trace!`](crate::trace!) macro writing
//! `YYYY-MM-DD HH:MM:SS.uuuuuu [PID/0xTHREAD] text` lines in local time.
//!
//! A disabled trace costs one relaxed atomic load. The mask is read from the
//! environment on first use (or by [`init`]).

use crate::security::{open_private, OpenHow};
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

pub const GENERIC: u32 = 0x1;
pub const CONFIG: u32 = 0x2;
pub const EXEC: u32 = 0x4;
pub const CLIENT: u32 = 0x8;
pub const DAEMON: u32 = 0x10;
pub const CONNS: u32 = 0x20;
pub const PARSER: u32 = 0x40;
pub const MSG: u32 = 0x80;
pub const LOCKER: u32 = 0x100;
pub const RSRC: u32 = 0x200;
pub const RESOURCE_SIMPLE: u32 = 0x400;
pub const RESOURCE_NUMERIC: u32 = 0x800;
pub const RESOURCE_SET: u32 = 0x1000;
pub const RESOURCE_HIER: u32 = 0x2000;
pub const RESOURCE_SEQUENCE: u32 = 0x4000;
pub const RESOURCE_TIMESTAMP: u32 = 0x8000;
/// Daemon management and the VFS (FUSE).
pub const DAEMON_MNGMNT: u32 = 0x40000;
pub const API: u32 = 0x80000;
pub const DEBUG_FEATURES: u32 = 0x100000;
pub const TLS: u32 = 0x200000;
pub const TCP: u32 = 0x400000;

/// Name of the environment variable holding the mask.
pub const MASK_ENV_VAR: &str = "FLOM_TRACE_MASK";

/// Marks "mask not read from the environment yet" (a real mask is 32 bits).
const UNINIT: u64 = u64::MAX;

static MASK: AtomicU64 = AtomicU64::new(UNINIT);
/// The trace file; `None` means stderr.
static DEST: Mutex<Option<File>> = Mutex::new(None);

/// Parses a mask like C `strtoul(s, NULL, 0)`: leading whitespace, optional
/// sign, `0x` hex / leading-0 octal / decimal, stopping at the first invalid
/// character; no digits → 0.
pub fn parse_mask(s: &str) -> u32 {
    let (neg, radix, digits) = split_c_integer(s.trim_start());
    let mut v: u64 = 0;
    for c in digits.chars() {
        match c.to_digit(radix) {
            Some(d) => {
                v = v
                    .saturating_mul(u64::from(radix))
                    .saturating_add(u64::from(d))
            }
            None => break,
        }
    }
    let v = v.min(u64::from(u32::MAX)) as u32;
    if neg {
        v.wrapping_neg()
    } else {
        v
    }
}

#[cold]
fn load_mask() -> u32 {
    let m = std::env::var(MASK_ENV_VAR)
        .map(|s| parse_mask(&s))
        .unwrap_or(0);
    MASK.store(u64::from(m), Ordering::Relaxed);
    m
}

/// The current mask (read from `FLOM_TRACE_MASK` on first use).
pub fn mask() -> u32 {
    match MASK.load(Ordering::Relaxed) {
        UNINIT => load_mask(),
        m => m as u32,
    }
}

/// Replaces the mask (tests, or a program that wants tracing on).
pub fn set_mask(m: u32) {
    MASK.store(u64::from(m), Ordering::Relaxed);
}

/// Whether any bit of `module` is enabled.
#[inline]
pub fn enabled(module: u32) -> bool {
    match MASK.load(Ordering::Relaxed) {
        0 => false,
        UNINIT => load_mask() & module != 0,
        m => (m as u32) & module != 0,
    }
}

/// Lets go of the trace file without closing it: a daemon about to close
/// every inherited descriptor calls this, so the `File` does not later
/// close a descriptor number that has been reused.
pub fn forget_destination() {
    let mut dest = DEST.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(f) = dest.take() {
        std::mem::forget(f);
    }
}

/// Reads the mask from the environment (once) and chooses the destination: the file
/// `path` (truncated, or appended to when `append`) or stderr when `None`.
/// The file is opened even when the mask is 0; if it cannot be opened the
/// current destination is kept (as C FLoM does). Err: the path is there
/// but refused (a symbolic link, not a regular file, another user's file).
pub fn init(path: Option<&str>, append: bool) -> Result<(), String> {
    mask();
    let mut dest = DEST.lock().unwrap_or_else(|e| e.into_inner());
    match path {
        None => *dest = None,
        Some(p) => {
            // Never through a symbolic link, created 0600, only a file of ours.
            let how = if append {
                OpenHow::Append
            } else {
                OpenHow::Truncate
            };
            match open_private(std::path::Path::new(p), how, "the trace file") {
                Ok(f) => *dest = Some(f),
                Err(e) if e.unsafe_path => return Err(e.message),
                Err(_) => {}
            }
        }
    }
    Ok(())
}

/// The `YYYY-MM-DD HH:MM:SS.uuuuuu [PID/0xTHREAD] ` header, local time.
pub fn header() -> String {
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    // SAFETY: plain libc calls on stack values we own.
    let tm = unsafe {
        libc::gettimeofday(&mut tv, std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&tv.tv_sec, &mut tm);
        tm
    };
    // SAFETY: pthread_self has no preconditions.
    let thread = unsafe { libc::pthread_self() } as usize;
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06} [{}/{:#x}] ",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        tv.tv_usec,
        std::process::id(),
        thread
    )
}

/// Writes one trace line (header + text + newline unless the text ends with
/// one). Used by the [`trace!`](crate::trace!) macro after the mask test.
pub fn write_line(args: fmt::Arguments<'_>) {
    let mut line = header();
    fmt::write(&mut line, args).ok();
    if !line.ends_with('\n') {
        line.push('\n');
    }
    let mut dest = DEST.lock().unwrap_or_else(|e| e.into_inner());
    match dest.as_mut() {
        Some(f) => {
            let _ = f.write_all(line.as_bytes());
            let _ = f.flush();
        }
        None => {
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }
}

/// `trace!(MODULE_BIT, "format", args...)`: writes a trace line when the bit
/// is set in `FLOM_TRACE_MASK`; otherwise costs one atomic load.
#[macro_export]
macro_rules! trace {
    ($module:expr, $($arg:tt)+) => {
        if $crate::trace::enabled($module) {
            $crate::trace::write_line(::std::format_args!($($arg)+));
        }
    };
}

/// Splits C integer text the way `strtol(s, _, 0)` reads it: sign, radix
/// (`0x` hex, leading-`0` octal, else decimal) and the digits that follow.
pub fn split_c_integer(t: &str) -> (bool, u32, &str) {
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if (t.starts_with("0x") || t.starts_with("0X"))
        && t[2..].starts_with(|c: char| c.is_ascii_hexdigit())
    {
        (neg, 16, &t[2..])
    } else if t.starts_with('0') {
        (neg, 8, t)
    } else {
        (neg, 10, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_parsing_like_strtoul() {
        assert_eq!(parse_mask("0x1f"), 0x1f);
        assert_eq!(parse_mask("0X10"), 16);
        assert_eq!(parse_mask("010"), 8);
        assert_eq!(parse_mask("255"), 255);
        assert_eq!(parse_mask("  12"), 12);
        assert_eq!(parse_mask("12zz"), 12);
        assert_eq!(parse_mask("0x"), 0);
        assert_eq!(parse_mask("09"), 0);
        assert_eq!(parse_mask("abc"), 0);
        assert_eq!(parse_mask(""), 0);
        assert_eq!(parse_mask("-1"), u32::MAX);
        assert_eq!(parse_mask("0xffffffffff"), u32::MAX);
    }

    #[test]
    fn module_bits() {
        let all = [
            GENERIC,
            CONFIG,
            EXEC,
            CLIENT,
            DAEMON,
            CONNS,
            PARSER,
            MSG,
            LOCKER,
            RSRC,
            RESOURCE_SIMPLE,
            RESOURCE_NUMERIC,
            RESOURCE_SET,
            RESOURCE_HIER,
            RESOURCE_SEQUENCE,
            RESOURCE_TIMESTAMP,
            DAEMON_MNGMNT,
            API,
            DEBUG_FEATURES,
            TLS,
            TCP,
        ];
        let mut acc = 0;
        for b in all {
            assert_eq!(b.count_ones(), 1);
            assert_eq!(acc & b, 0);
            acc |= b;
        }
        assert_eq!(TCP, 0x400000);
        assert_eq!(DAEMON_MNGMNT, 0x40000);
    }

    #[test]
    fn header_format() {
        let h = header();
        let b = h.as_bytes();
        // 2024-03-02 12:34:56.123456 [PID/0x...]
        assert_eq!(b[4], b'-');
        assert_eq!(b[7], b'-');
        assert_eq!(b[10], b' ');
        assert_eq!(b[13], b':');
        assert_eq!(b[16], b':');
        assert_eq!(b[19], b'.');
        assert_eq!(b[26], b' ');
        assert!(h[..26]
            .bytes()
            .enumerate()
            .all(|(i, c)| [4, 7, 10, 13, 16, 19].contains(&i) || c.is_ascii_digit()));
        let pid = format!("[{}/0x", std::process::id());
        assert!(h[27..].starts_with(&pid), "{h}");
        assert!(h.ends_with("] "));
    }

    /// The only test touching the global mask and destination; it uses bits
    /// no module uses, so traces of other tests running meanwhile stay out.
    #[test]
    fn file_destination_and_mask() {
        const T1: u32 = 0x8000_0000;
        const T2: u32 = 0x4000_0000;
        const T3: u32 = 0x2000_0000;
        let path = std::env::temp_dir().join(format!("flom-trace-test-{}.trc", std::process::id()));
        let p = path.to_str().unwrap();
        std::fs::write(&path, "old\n").unwrap();
        // opened (truncated) even when the mask is 0
        assert_eq!(init(Some(p), false), Ok(()));
        set_mask(0);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        crate::trace!(T1, "invisible {}", 1);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        set_mask(T1 | T2);
        assert!(enabled(T2) && !enabled(T3));
        crate::trace!(T1, "visible {}", 42);
        crate::trace!(T3, "other module");
        crate::trace!(T2, "with newline\n");
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text:?}");
        assert!(lines[0].ends_with("] visible 42"));
        assert!(lines[1].ends_with("] with newline"));
        // append mode keeps the content
        assert_eq!(init(Some(p), true), Ok(()));
        set_mask(T1);
        crate::trace!(T1, "appended");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        // an unopenable file keeps the current destination
        assert_eq!(init(Some("/nonexistent-dir-flom/x.trc"), false), Ok(()));
        crate::trace!(T1, "still here");
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 4);
        assert_eq!(init(None, false), Ok(()));
        set_mask(0);
        let _ = std::fs::remove_file(&path);
    }
}
