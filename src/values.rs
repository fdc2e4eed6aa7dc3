//! The values a setting can take, each kind with its check: signal names
//! and numbers, yes/no, resource names, socket paths, mount points, existing
//! files, network interfaces, C `strtol` integers, and the normalisations of
//! integers. Shared by the option table, the command line and config files.

use crate::config::UNIX_PATH_MAX;
use crate::resource::{resource_type, DEFAULT_RESOURCE_NAME};

/// Signal names by number (index 0 is signal 1), as `--signal-list` shows them.
pub const SIGNAL_NAMES: [&str; 31] = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// The name of signal `n` (1..=31).
pub fn signal_name(n: i32) -> Option<&'static str> {
    usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| SIGNAL_NAMES.get(i).copied())
}

/// A signal given by name (`SIGTERM`, any letter case) or by number (1..=31).
pub fn parse_signal(s: &str) -> Option<i32> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i32>().ok().filter(|n| (1..=31).contains(n));
    }
    SIGNAL_NAMES
        .iter()
        .position(|name| name.eq_ignore_ascii_case(s))
        .map(|i| i as i32 + 1)
}

/// The `--signal-list` table: `N) NAME<TAB>`, a newline after every 4th entry
/// and a final newline.
pub fn signal_list() -> String {
    let mut out = String::new();
    for (i, name) in SIGNAL_NAMES.iter().enumerate() {
        out.push_str(&format!("{}) {}\t", i + 1, name));
        if (i + 1) % 4 == 0 {
            out.push('\n');
        }
    }
    out.push('\n');
    out
}

/// Strict boolean: `yes`, `no`, `y`, `n` in any letter case.
pub fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("yes") || s.eq_ignore_ascii_case("y") {
        Some(true)
    } else if s.eq_ignore_ascii_case("no") || s.eq_ignore_ascii_case("n") {
        Some(false)
    } else {
        None
    }
}

/// Why a resource name cannot be set by the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceNameError {
    /// It matches no resource grammar.
    Invalid,
    /// It is the reserved default name `_RESOURCE`.
    Reserved,
}

/// Checks a resource name given by the user (config file or `-r`).
pub fn validate_resource_name(name: &str) -> Result<(), ResourceNameError> {
    if name == DEFAULT_RESOURCE_NAME {
        Err(ResourceNameError::Reserved)
    } else if resource_type(name).is_none() {
        Err(ResourceNameError::Invalid)
    } else {
        Ok(())
    }
}

/// Checks the length of an AF_UNIX socket path; the reason when too long.
pub fn check_socket_name(name: &str) -> Result<(), String> {
    if name.len() >= UNIX_PATH_MAX {
        Err(format!(
            "the socket name is {} bytes long, but a UNIX socket path must be shorter than {} bytes",
            name.len(),
            UNIX_PATH_MAX
        ))
    } else {
        Ok(())
    }
}

/// Checks that `dir` is a directory that can be opened; the reason otherwise.
pub fn check_mount_point(dir: &str) -> Result<(), String> {
    match std::fs::read_dir(dir) {
        Ok(_) => Ok(()),
        // A FUSE mount left by a killed daemon: the next daemon clears it.
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => Ok(()),
        Err(e) => Err(format!(
            "'{}' is not a directory that can be opened ({})",
            dir,
            io_reason(&e)
        )),
    }
}

/// The absolute canonical path of an existing file (TLS files); the reason
/// when it cannot be resolved.
pub fn canonical_file(path: &str) -> Result<String, String> {
    match std::fs::canonicalize(path) {
        Ok(p) => Ok(p.to_string_lossy().into_owned()),
        Err(e) => Err(format!("'{}' cannot be resolved ({})", path, io_reason(&e))),
    }
}

/// Whether the network interface `name` has an IPv6 address.
pub fn interface_has_ipv6(name: &str) -> bool {
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills a linked list that we walk read-only and free
    // with freeifaddrs before returning.
    unsafe {
        if libc::getifaddrs(&mut ifap) != 0 {
            return false;
        }
        let mut found = false;
        let mut cur = ifap;
        while !cur.is_null() {
            let ifa = &*cur;
            if !ifa.ifa_addr.is_null()
                && i32::from((*ifa.ifa_addr).sa_family) == libc::AF_INET6
                && !ifa.ifa_name.is_null()
                && std::ffi::CStr::from_ptr(ifa.ifa_name).to_bytes() == name.as_bytes()
            {
                found = true;
                break;
            }
            cur = ifa.ifa_next;
        }
        libc::freeifaddrs(ifap);
        found
    }
}

/// An I/O error as a short lower-case reason, without the `(os error N)` tail.
pub fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    };
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().collect::<String>() + chars.as_str(),
        None => s,
    }
}

/// `|v|`, saturating at `i32::MAX`.
pub fn abs_value(v: i32) -> i32 {
    v.saturating_abs()
}

/// `|v|`, with 0 turned into 1.
pub fn abs_at_least_one(v: i32) -> i32 {
    v.saturating_abs().max(1)
}

/// Why an integer option value was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntError {
    /// Not a number, or trailing characters.
    Invalid,
    /// Outside the 32-bit signed range.
    OutOfRange,
}

/// Parses an integer like C `strtol(s, &end, 0)` with GOption's checks:
/// optional leading whitespace and sign, `0x` hex, leading-`0` octal or
/// decimal, nothing after the digits, 32-bit signed range.
pub fn parse_c_int(s: &str) -> Result<i32, IntError> {
    let (neg, radix, digits) = crate::trace::split_c_integer(
        s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']),
    );
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(IntError::Invalid);
    }
    let mut v: i128 = 0;
    for c in digits.chars() {
        v = (v * i128::from(radix) + i128::from(c.to_digit(radix).unwrap_or(0)))
            .min(i128::from(u64::MAX));
    }
    if neg {
        v = -v;
    }
    i32::try_from(v).map_err(|_| IntError::OutOfRange)
}
