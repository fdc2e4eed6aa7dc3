//! Daemons and processes seen through /proc: the daemon listening on a
//! socket, its connections, liveness and command lines, the detached
//! processes of a socket, the shutdown banners, and the bounded waits for a
//! daemon to go.

use super::{wait_until, T};
use std::collections::BTreeSet;
use std::os::unix::fs::FileTypeExt;
use std::time::{Duration, Instant};

/// First line `-x` prints.
pub const QUIESCE_BANNER: &str = "Starting FLoM daemon quiesce shutdown...";
/// First line `-X` prints.
pub const IMMEDIATE_BANNER: &str = "Starting FLoM daemon immediate shutdown...";
/// What `-x` prints.
pub const QUIESCE: &str = "Starting FLoM daemon quiesce shutdown...\n";
/// What `-X` prints.
pub const IMMEDIATE: &str = "Starting FLoM daemon immediate shutdown...\n";

/// Every pid in /proc.
pub fn proc_pids() -> Vec<i32> {
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

/// Waits (bounded) until `pid` has ended and `sock` is gone.
#[track_caller]
pub fn wait_daemon_gone(pid: i32, sock: &str) {
    wait_until(T, &format!("daemon {pid} to exit"), || !pid_alive(pid));
    wait_until(T, &format!("{sock} to be removed"), || !exists(sock));
}

/// Waits (bounded) until no detached process names `sock` any more.
#[track_caller]
pub fn wait_no_process_for(sock: &str) {
    wait_until(T, &format!("no process left for {sock}"), || {
        detached_processes_for(sock).is_empty()
    });
}
