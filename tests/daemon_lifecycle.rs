//! The daemon's life: auto-start by the first client, lifespan, `-x`
//! (quiesce) and `-X` (immediate) shutdown, SIGTERM/SIGINT, and the start
//! race between first clients (spec/daemon.md §2, §7, §8; cli.md §5).

mod common;
use common::*;
use std::sync::{Arc, Barrier};
use std::time::Duration;

#[test]
fn first_client_starts_the_daemon() {
    let env = Env::new("autostart");
    assert!(!exists(&env.sock));
    env.flom(&["-d", "-1", "--", "true"])
        .expect_code(0)
        .expect_stdout("")
        .expect_stderr("");
    assert!(
        is_socket(&env.sock),
        "no socket file after the first client"
    );
    let pid = the_daemon(&env.sock);
    env.track(pid);
    // It is detached: its own session, not the test's.
    // SAFETY: getsid on our own process and on the daemon's pid.
    let (mine, its) = unsafe { (libc::getsid(0), libc::getsid(pid)) };
    assert_ne!(mine, its, "the daemon is still in the client's session");
    // A second client uses it (no second daemon).
    env.flom(&["-d", "-1", "--", "true"]).expect_code(0);
    assert_eq!(daemon_pids(&env.sock), [pid]);
    assert_eq!(detached_processes_for(&env.sock), [pid]);
}

#[test]
fn daemon_process_attributes() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new("attrs");
    let pid = env.start_daemon();
    // Named like the client (`pgrep flom` finds it), with the client's argv.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "flom");
    assert_eq!(
        cmdline(pid),
        [BIN, "-s", &env.sock, "-d", "-1", "-r", "warmup", "--", "true"]
    );
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
        std::path::Path::new("/")
    );
    // Nothing inherited from the client: no terminal, and no pipe shared
    // with another process (a `$(flom ...)` would hang): every pipe it holds
    // has both ends in the daemon (its own self-pipe, if any).
    let mut pipes: std::collections::HashMap<String, usize> = Default::default();
    for e in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        let target = std::fs::read_link(e.unwrap().path()).unwrap();
        let t = target.to_string_lossy().into_owned();
        assert!(
            !t.contains("/dev/pts") && !t.contains("tty"),
            "the daemon holds {t}"
        );
        if t.starts_with("pipe:") {
            *pipes.entry(t).or_default() += 1;
        }
    }
    for (pipe, ends) in pipes {
        assert_eq!(ends, 2, "the daemon holds one end of {pipe}");
    }
    // Private by default (SocketAccess=user): srw------- socket and a 0600
    // lock file next to it, whatever the daemon's umask 0.
    let mode = std::fs::metadata(&env.sock).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "socket mode {mode:o}");
    let lock = format!("{}.lock", env.sock);
    let mode = std::fs::metadata(&lock).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "lock file mode {mode:o}");
}

#[test]
fn stale_socket_of_a_killed_daemon_is_replaced() {
    let env = Env::new("stale");
    let pid = env.start_daemon();
    // SAFETY: killing the daemon this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    wait_until(T, "the daemon to die", || !pid_alive(pid));
    assert!(is_socket(&env.sock), "SIGKILL cannot remove the socket");
    env.flom(&["-d", "-1", "--", "true"])
        .expect_code(0)
        .expect_stderr("");
    let fresh = the_daemon(&env.sock);
    env.track(fresh);
    assert_ne!(fresh, pid);
}

#[test]
fn a_parked_client_keeps_a_short_lived_daemon_alive() {
    // The client starts a daemon with a 300 ms lifespan and waits 1.5 s in
    // its incubator: the daemon must stay for it, so the client ends with
    // its own timeout (98), not with a lost connection (99).
    let env = Env::new("parkedalive");
    let out = env.flom(&[
        "-d", "300", "-r", "absent", "-e", "no", "-o", "1500", "--", "true",
    ]);
    out.expect_code(98)
        .expect_stderr("The lock was not obtained because timeout (1500 milliseconds) expired\n");
    if let Some(&pid) = daemon_pids(&env.sock).first() {
        env.track(pid);
        wait_until(T, "the idle daemon to go", || !pid_alive(pid));
    }
    wait_until(T, "the socket to be removed", || !exists(&env.sock));
}

#[test]
fn daemon_with_a_short_lifespan_goes_away_by_itself() {
    let env = Env::new("lifespan");
    env.flom(&["-d", "300", "--", "true"]).expect_code(0);
    let pid = the_daemon(&env.sock);
    env.track(pid);
    wait_daemon_gone(pid, &env.sock);
}

#[test]
fn short_lifespan_daemon_outlives_a_long_holder() {
    // A 300 ms daemon lifespan counts from the last client, not from the
    // start: a holder for 0.8 s still unlocks fine.
    let env = Env::new("longholder");
    env.flom(&["-d", "300", "--", "sleep", "0.8"])
        .expect_code(0)
        .expect_stderr("");
    if let Some(&pid) = daemon_pids(&env.sock).first() {
        env.track(pid);
    }
}

#[test]
fn quiesce_waits_for_the_holder_then_exits() {
    let env = Env::new("quiesce");
    let pid = env.start_daemon();
    let log = env.path("log");
    let fifo = env.fifo("rel");
    let mut a = env.spawn(&[
        "--",
        "sh",
        "-c",
        &format!("echo A-start >> {log}; cat {fifo} >/dev/null; echo A-end >> {log}"),
    ]);
    wait_line(&log, "A-start");
    let out = env.flom(&["-x"]);
    out.expect_code(0).expect_stdout(QUIESCE).expect_stderr("");
    // The daemon closes a management connection at once (C: the client
    // waits 1 s for a reply that never comes).
    assert!(
        out.elapsed < Duration::from_millis(900),
        "-x took {:?}",
        out.elapsed
    );
    assert!(pid_alive(pid), "the daemon left while a lock is held");
    // New requests are still served during a quiesce.
    env.flom(&["-r", "other", "-o", "0", "--", "true"])
        .expect_code(0);
    env.assert_busy("_RESOURCE");
    release(&fifo);
    a.wait(T).expect_code(0).expect_stderr("");
    assert_eq!(lines(&log), ["A-start", "A-end"]);
    wait_daemon_gone(pid, &env.sock);
}

#[test]
fn quiesce_of_an_idle_daemon() {
    let env = Env::new("quiesceidle");
    let pid = env.start_daemon();
    env.flom(&["-x"]).expect_code(0).expect_stdout(QUIESCE);
    wait_daemon_gone(pid, &env.sock);
}

#[test]
fn management_connection_is_closed_at_once() {
    let env = Env::new("mgmtclose");
    let pid = env.start_daemon();
    let log = env.path("log");
    let fifo = env.fifo("rel");
    let mut a = env.spawn(&["--", "sh", "-c", &format!("echo A >> {log}; cat {fifo}")]);
    wait_line(&log, "A");
    let mut raw = Raw::connect(&env.sock);
    raw.send_ok(&mgmt_msg(&machine_id(), false));
    // No answer, and the close comes well before the client's 1 s wait.
    raw.expect_closed(Duration::from_millis(800));
    assert!(pid_alive(pid));
    release(&fifo);
    a.wait(T).expect_code(0);
    wait_daemon_gone(pid, &env.sock);
}

#[test]
fn immediate_shutdown_ends_the_daemon_and_holders_fail_to_unlock() {
    let env = Env::new("immediate");
    let pid = env.start_daemon();
    let log = env.path("log");
    let fifo = env.fifo("rel");
    let mut a = env.spawn(&[
        "--",
        "sh",
        "-c",
        &format!("echo A-start >> {log}; cat {fifo} >/dev/null; echo A-end >> {log}"),
    ]);
    wait_line(&log, "A-start");
    env.flom(&["-X"])
        .expect_code(0)
        .expect_stdout(IMMEDIATE)
        .expect_stderr("");
    wait_daemon_gone(pid, &env.sock);
    release(&fifo);
    let out = a.wait(T);
    out.expect_code(99).expect_stdout("");
    assert_eq!(
        out.stderr,
        "flom: the command ran, but the lock on resource '_RESOURCE' could not be released because the daemon had gone (stopped while the command ran); nothing is left to release.\n",
        "{}",
        out.describe()
    );
    assert_eq!(lines(&log), ["A-start", "A-end"]);
}

#[test]
fn immediate_shutdown_of_an_idle_daemon_removes_the_socket() {
    let env = Env::new("immediateidle");
    let pid = env.start_daemon();
    env.flom(&["-X"]).expect_code(0).expect_stdout(IMMEDIATE);
    wait_daemon_gone(pid, &env.sock);
    // And a later client starts a fresh one.
    env.flom(&["-d", "-1", "--", "true"]).expect_code(0);
    let fresh = the_daemon(&env.sock);
    env.track(fresh);
    assert_ne!(fresh, pid);
}

#[test]
fn shutdown_without_a_daemon_exits_99() {
    let env = Env::new("shutdownnone");
    // C prints nothing; we say why nothing was stopped.
    let none = format!(
        "flom: no daemon to shut down was found on socket {}; nothing was stopped.\n",
        env.sock
    );
    env.flom(&["-x"])
        .expect_code(99)
        .expect_stdout(QUIESCE)
        .expect_stderr(&none);
    env.flom(&["-X"])
        .expect_code(99)
        .expect_stdout(IMMEDIATE)
        .expect_stderr(&none);
    // -x/-X never start a daemon, and a command after them is ignored.
    let log = env.path("log");
    env.flom(&["-x", "--", "sh", "-c", &format!("echo ran >> {log}")])
        .expect_code(99)
        .expect_stdout(QUIESCE);
    assert!(!exists(&env.sock));
    assert!(lines(&log).is_empty());
    // A socket file with no daemon behind it (connection refused).
    let _dead = std::os::unix::net::UnixListener::bind(&env.sock).unwrap();
    drop(_dead);
    env.flom(&["-X"])
        .expect_code(99)
        .expect_stdout(IMMEDIATE)
        .expect_stderr(&none);
}

fn signal_ends_the_daemon_cleanly(name: &str, sig: i32) {
    let env = Env::new(name);
    let pid = env.start_daemon();
    // SAFETY: signalling the daemon this test started.
    unsafe { libc::kill(pid, sig) };
    wait_daemon_gone(pid, &env.sock);
    assert!(daemon_pids(&env.sock).is_empty());
}

#[test]
fn sigterm_ends_the_daemon_and_removes_the_socket() {
    signal_ends_the_daemon_cleanly("sigtermd", libc::SIGTERM);
}

#[test]
fn sigint_ends_the_daemon_and_removes_the_socket() {
    signal_ends_the_daemon_cleanly("sigintd", libc::SIGINT);
}

#[test]
fn sighup_does_not_end_the_daemon() {
    let env = Env::new("sighupd");
    let pid = env.start_daemon();
    // SAFETY: signalling the daemon this test started.
    unsafe { libc::kill(pid, libc::SIGHUP) };
    // Still serving afterwards (a request is a round trip through its loop).
    env.assert_free("_RESOURCE");
    assert!(pid_alive(pid));
    assert_eq!(daemon_pids(&env.sock), [pid]);
}

#[test]
fn first_clients_racing_start_exactly_one_daemon() {
    let env = Env::new("race");
    let n = 8;
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let barrier = barrier.clone();
            let sock = env.sock.clone();
            std::thread::spawn(move || {
                barrier.wait();
                run_flom(&["-s", &sock, "-d", "2000", "--", "true"])
            })
        })
        .collect();
    let outs: Vec<Out> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for out in &outs {
        out.expect_code(0).expect_stdout("").expect_stderr("");
    }
    wait_until(T, "a single daemon process for the socket", || {
        detached_processes_for(&env.sock).len() == 1
    });
    let pid = the_daemon(&env.sock);
    env.track(pid);
    assert_eq!(detached_processes_for(&env.sock), [pid]);
    env.assert_free("_RESOURCE");
}

#[test]
fn unusable_socket_directory_fails_at_once() {
    // C: the new daemon reports its start-up error on the pipe and the
    // client fails with it at once (no retry: only a lost flock race is
    // retried).
    let env = Env::new("baddir");
    let sock = env.path("missing/s");
    let out = run_flom(&["-s", &sock, "--", "true"]);
    out.expect_code(99).expect_stdout("");
    assert!(
        out.stderr.starts_with("flom: cannot use socket ")
            && out.stderr.contains("/missing does not exist; create it"),
        "{}",
        out.describe()
    );
    assert!(
        out.elapsed < Duration::from_millis(1500),
        "took {:?}",
        out.elapsed
    );
}
