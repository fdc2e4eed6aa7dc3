//! The signal table of FLoM: names and numbers 1..31 (`--signal-list`,
//! `--ignore-signal`, `[Monitor]/IgnoredSignals`).

pub const NAMES: [&str; 31] = [
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
pub fn name(n: i32) -> Option<&'static str> {
    usize::try_from(n)
        .ok()
        .filter(|&i| (1..=31).contains(&i))
        .map(|i| NAMES[i - 1])
}

/// The number of a signal given by name (`SIGTERM`, `TERM`, any case) or number.
pub fn parse(s: &str) -> Option<i32> {
    if let Ok(n) = s.trim().parse::<i32>() {
        return name(n).map(|_| n);
    }
    let upper = s.trim().to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    NAMES.iter().position(|&n| n == full).map(|i| i as i32 + 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        assert_eq!(super::name(15), Some("SIGTERM"));
        assert_eq!(super::parse("sigterm"), Some(15));
        assert_eq!(super::parse("TERM"), Some(15));
        assert_eq!(super::parse("3"), Some(3));
        assert_eq!(super::parse("SIGXXXX"), None);
        assert_eq!(super::parse("32"), None);
    }
}
