//! Daemon shutdown on request (spec/tests.md §7, spec/cli.md §5): `-X` /
//! `--immediate-exit` and `-x` / `--quiesce-exit`, with and without a lock
//! holder, each on the test's own socket, every wait bounded.

mod common;

use common::cli::*;
use common::{
    exists, lines, pid_alive, release, wait_daemon_gone, wait_line, wait_no_process_for, Env,
    IMMEDIATE, QUIESCE, T,
};

/// Waits (bounded) until the daemon `pid` has exited, no process serves
/// the socket any more and the socket file is gone.
#[track_caller]
fn wait_gone(env: &Env, pid: i32) {
    wait_daemon_gone(pid, &env.sock);
    wait_no_process_for(&env.sock);
}

/// A holder `flom -s SOCK -- sh -c '...; cat FIFO; ...'` logging
/// `start`/`end`; returns it once it holds the lock.
fn holder(env: &Env, home: &str, log: &str, fifo: &str) -> Proc {
    let script = format!("echo start >> {log}; cat {fifo} >/dev/null; echo end >> {log}");
    let p = spawn(home, &["-s", &env.sock, "--", "sh", "-c", &script]);
    wait_line(log, "start");
    p
}

fn idle_shutdown(tag: &str, opt: &str, banner: &str) {
    let env = Env::new(tag);
    let home = home(&env);
    let pid = env.start_daemon();
    flom(&home, &["-s", &env.sock, opt])
        .expect_code(0)
        .expect_stdout(banner)
        .expect_stderr("");
    wait_gone(&env, pid);
}

#[test]
fn immediate_shutdown_of_an_idle_daemon_short() {
    idle_shutdown("shutimm0", "-X", IMMEDIATE);
}

#[test]
fn immediate_shutdown_of_an_idle_daemon_long() {
    idle_shutdown("shutimm1", "--immediate-exit", IMMEDIATE);
}

// The daemon keeps an unused resource about 2 s (C's locker idle time),
// so a quiesced daemon that has served a request exits within ~2 s
// (the C suite allows 3 s).
#[test]
fn quiesce_shutdown_of_an_idle_daemon_short() {
    idle_shutdown("shutqui0", "-x", QUIESCE);
}

#[test]
fn quiesce_shutdown_of_an_idle_daemon_long() {
    idle_shutdown("shutqui1", "--quiesce-exit", QUIESCE);
}

#[test]
fn immediate_shutdown_with_a_holder() {
    let env = Env::new("shutimmhold");
    let home = home(&env);
    let pid = env.start_daemon();
    let log = env.path("log");
    let fifo = env.fifo("rel");
    let mut h = holder(&env, &home, &log, &fifo);
    // the daemon goes at once, although a lock is held
    flom(&home, &["-s", &env.sock, "-X"])
        .expect_code(0)
        .expect_stdout(IMMEDIATE)
        .expect_stderr("");
    wait_gone(&env, pid);
    assert!(h.is_running(), "the holder ended with the daemon");
    // the command is not interrupted; the unlock then fails: exit 99
    release(&fifo);
    let out = h.wait(T);
    out.expect_code(99)
        .expect_stdout("")
        .expect_stderr("flom: the command ran, but the lock on resource '_RESOURCE' could not be released because the daemon had gone (stopped while the command ran); nothing is left to release.\n");
    assert_eq!(lines(&log), ["start", "end"]);
    // no daemon is left: -d 0 cannot connect
    let out = flom(&home, &["-s", &env.sock, "-d", "0", "--", "true"]);
    out.expect_code(99).expect_stdout("");
    assert!(
        out.stderr
            .starts_with("flom: no daemon accepts connections on socket "),
        "{}",
        out.describe()
    );
}

#[test]
fn quiesce_shutdown_with_a_holder() {
    let env = Env::new("shutquihold");
    let home = home(&env);
    let pid = env.start_daemon();
    let log = env.path("log");
    let fifo = env.fifo("rel");
    let mut h = holder(&env, &home, &log, &fifo);
    flom(&home, &["-s", &env.sock, "--quiesce-exit"])
        .expect_code(0)
        .expect_stdout(QUIESCE)
        .expect_stderr("");
    // the daemon waits for the holder; meanwhile requests are still served
    assert!(pid_alive(pid), "the daemon left while a lock is held");
    flom(
        &home,
        &["-s", &env.sock, "-r", "other", "-o", "0", "--", "true"],
    )
    .expect_code(0);
    env.assert_busy("_RESOURCE");
    assert!(pid_alive(pid) && exists(&env.sock));
    release(&fifo);
    h.wait(T).expect_code(0).expect_stdout("").expect_stderr("");
    assert_eq!(lines(&log), ["start", "end"]);
    wait_gone(&env, pid);
}

#[test]
fn shutdown_never_runs_the_command_nor_starts_a_daemon() {
    let env = Env::new("shutnocmd");
    let home = home(&env);
    let marker = env.path("ran");
    let none = format!(
        "flom: no daemon to shut down was found on socket {}; nothing was stopped.\n",
        env.sock
    );
    for (opt, banner) in [("-x", QUIESCE), ("-X", IMMEDIATE)] {
        flom(&home, &["-s", &env.sock, opt, "--", "touch", &marker])
            .expect_code(99)
            .expect_stdout(banner)
            .expect_stderr(&none);
    }
    assert!(!exists(&marker) && !exists(&env.sock));
    // with a daemon: exit 0, and the command is still not run
    let pid = env.start_daemon();
    flom(&home, &["-s", &env.sock, "-X", "--", "touch", &marker])
        .expect_code(0)
        .expect_stdout(IMMEDIATE);
    wait_gone(&env, pid);
    assert!(!exists(&marker));
}

#[test]
fn verbose_dump_precedes_the_shutdown_request() {
    // order of checks: dump, config check, then -x/-X (cli.md §4)
    let env = Env::new("shutverbose");
    let home = home(&env);
    let out = flom(&home, &["-V", "-s", &env.sock, "-x"]);
    out.expect_code(99).expect_plain_stderr(&format!(
        "flom: no daemon to shut down was found on socket {}; nothing was stopped.\n",
        env.sock
    ));
    let dump: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(dump.len(), 30, "{}", out.describe());
    assert_eq!(dump[29], QUIESCE.trim_end());
    assert!(dump[..29].iter().all(|l| l.starts_with('[')));
    assert!(dump.contains(&format!("[Daemon]/SocketName='{}'", env.sock).as_str()));
}
