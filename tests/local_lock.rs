//! Local locking with the `flom` command against its own daemon: the use
//! cases UC1–UC6 of the C test suite (spec/tests.md §9), exit statuses and
//! messages (spec/cli.md §6–§8), the incubator and idle lifespan, crash and
//! timeout clean-up, and signal forwarding.

mod common;
use common::*;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

const BUSY: &str = "Resource already locked, the lock cannot be obtained\n";
const CANT_WAIT: &str =
    "The resource could be available in the future, but the requester can't wait\n";

/// A command that logs `NAME-start`, blocks until `fifo` is released, then
/// logs `NAME-end`.
fn holder_cmd(log: &str, name: &str, fifo: &str) -> String {
    format!("echo {name}-start >> {log}; cat {fifo} >/dev/null; echo {name}-end >> {log}")
}

/// A command that logs `NAME-start` and `NAME-end` at once.
fn quick_cmd(log: &str, name: &str) -> String {
    format!("echo {name}-start >> {log}; echo {name}-end >> {log}")
}

#[test]
fn uc1_two_exclusive_holders_serialise() {
    let env = Env::new("uc1");
    env.start_daemon();
    let log = env.path("log");
    let fifo = env.fifo("rel");
    let mut a = env.spawn(&["--", "sh", "-c", &holder_cmd(&log, "A", &fifo)]);
    wait_line(&log, "A-start");
    let mut b = env.spawn(&["--", "sh", "-c", &quick_cmd(&log, "B")]);
    wait_conns(&env.sock, 2);
    assert_eq!(lines(&log), ["A-start"], "B ran while A held the lock");
    assert!(b.is_running(), "B ended while A held the lock");
    release(&fifo);
    a.wait(T).expect_code(0).expect_stderr("");
    b.wait(T).expect_code(0).expect_stderr("");
    assert_eq!(lines(&log), ["A-start", "A-end", "B-start", "B-end"]);
    env.assert_free("_RESOURCE");
}

#[test]
fn uc2_independent_resources_run_concurrently() {
    let env = Env::new("uc2");
    env.start_daemon();
    let log = env.path("log");
    let fifo = env.fifo("rel");
    let mut a = env.spawn(&["-r", "R1", "--", "sh", "-c", &holder_cmd(&log, "A", &fifo)]);
    wait_line(&log, "A-start");
    // B takes R2 (without waiting) while A still holds R1.
    env.flom(&[
        "-r",
        "R2",
        "-o",
        "0",
        "--",
        "sh",
        "-c",
        &quick_cmd(&log, "B"),
    ])
    .expect_code(0)
    .expect_stderr("");
    // ... and R1 is really held.
    env.assert_busy("R1");
    assert_eq!(lines(&log), ["A-start", "B-start", "B-end"]);
    assert!(a.is_running());
    release(&fifo);
    a.wait(T).expect_code(0);
    assert_eq!(lines(&log), ["A-start", "B-start", "B-end", "A-end"]);
}

#[test]
fn uc3_no_wait_on_a_busy_resource_exits_98() {
    let env = Env::new("uc3");
    env.start_daemon();
    let log = env.path("log");
    let fifo = env.fifo("rel");
    let mut a = env.spawn(&["--", "sh", "-c", &holder_cmd(&log, "A", &fifo)]);
    wait_line(&log, "A-start");
    env.flom(&["-o", "0", "--", "sh", "-c", &quick_cmd(&log, "B")])
        .expect_code(98)
        .expect_stdout("")
        .expect_stderr(BUSY);
    assert_eq!(lines(&log), ["A-start"], "the refused command ran");
    release(&fifo);
    a.wait(T).expect_code(0);
    // Later, the same request succeeds.
    env.flom(&["-o", "0", "--", "sh", "-c", &quick_cmd(&log, "C")])
        .expect_code(0)
        .expect_stderr("");
    assert_eq!(lines(&log), ["A-start", "A-end", "C-start", "C-end"]);
}

#[test]
fn uc4_bounded_wait_expires_with_exit_98() {
    let env = Env::new("uc4");
    env.start_daemon();
    let log = env.path("log");
    let fifo = env.fifo("rel");
    let mut a = env.spawn(&["--", "sh", "-c", &holder_cmd(&log, "A", &fifo)]);
    wait_line(&log, "A-start");
    let out = env.flom(&["-o", "300", "--", "sh", "-c", &quick_cmd(&log, "B")]);
    out.expect_code(98)
        .expect_stdout("")
        .expect_stderr("The lock was not obtained because timeout (300 milliseconds) expired\n");
    assert!(
        out.elapsed >= Duration::from_millis(290),
        "gave up too early: {out_elapsed:?}",
        out_elapsed = out.elapsed
    );
    assert_eq!(lines(&log), ["A-start"]);
    release(&fifo);
    a.wait(T).expect_code(0);
    // UC4 (2/2): a bounded wait on a free resource runs the command.
    env.flom(&["-o", "1000", "--", "sh", "-c", &quick_cmd(&log, "C")])
        .expect_code(0)
        .expect_stderr("");
    assert_eq!(lines(&log), ["A-start", "A-end", "C-start", "C-end"]);
}

const MODES: [&str; 6] = ["NL", "CR", "CW", "PR", "PW", "EX"];

/// resources.md §3: may `req` be granted while `held` is held?
fn compatible(held: usize, req: usize) -> bool {
    const M: [[bool; 6]; 6] = [
        [true, true, true, true, true, true],
        [true, true, true, true, true, false],
        [true, true, true, false, false, false],
        [true, true, false, true, false, false],
        [true, true, false, false, false, false],
        [true, false, false, false, false, false],
    ];
    M[held][req]
}

#[test]
fn uc5_lock_mode_compatibility_matrix() {
    let env = Env::new("uc5matrix");
    env.start_daemon();
    let peer = machine_id();
    let mut failures = Vec::new();
    for (h, held) in MODES.iter().enumerate() {
        for (r, req) in MODES.iter().enumerate() {
            let res = format!("M{held}{req}");
            // The holder: a raw client granted `held` on its own resource.
            let mut holder = Raw::connect(&env.sock);
            holder.send_ok(&lock_msg(&peer, &res, h as u8, true, true, 0));
            assert_eq!(holder.expect_msg(T), answer16(0), "holder {held} on {res}");
            let out = env.flom(&["-r", &res, "-l", req, "-o", "0", "--", "true"]);
            let (code, err) = if compatible(h, r) {
                (0, "")
            } else {
                (98, BUSY)
            };
            if out.code() != Some(code) || out.stderr != err {
                failures.push(format!("held {held}, requested {req}: {}", out.describe()));
            }
            holder.send_ok(&unlock_msg(&res, false));
            holder.shutdown_write();
            holder.expect_closed(T);
        }
    }
    assert!(
        failures.is_empty(),
        "matrix mismatches:\n{}",
        failures.join("\n")
    );
}

#[test]
fn uc5_mode_names_in_any_letter_case() {
    let env = Env::new("uc5case");
    env.start_daemon();
    let peer = machine_id();
    // `-l pr` and `-l Pr` must both mean PR: compatible with a held PR and
    // refused under a held PW.
    let mut pr = Raw::connect(&env.sock);
    pr.send_ok(&lock_msg(&peer, "pr", 3, true, true, 0));
    assert_eq!(pr.expect_msg(T), answer16(0));
    let mut pw = Raw::connect(&env.sock);
    pw.send_ok(&lock_msg(&peer, "pw", 4, true, true, 0));
    assert_eq!(pw.expect_msg(T), answer16(0));
    for spelling in ["pr", "Pr", "PR"] {
        env.flom(&["-r", "pr", "-l", spelling, "-o", "0", "--", "true"])
            .expect_code(0);
        env.flom(&["-r", "pw", "-l", spelling, "-o", "0", "--", "true"])
            .expect_code(98)
            .expect_stderr(BUSY);
    }
}

#[test]
fn uc5_compatible_request_overtakes_a_queued_one() {
    // UC5 (1/9): PR held; PW requested and queued; a new PR is granted at
    // once; PW is granted when the first PR is released.
    let env = Env::new("uc5overtake");
    env.start_daemon();
    let log = env.path("log");
    let fifo = env.fifo("rel");
    let mut a = env.spawn(&[
        "-l",
        "PR",
        "--",
        "sh",
        "-c",
        &holder_cmd(&log, "PR1", &fifo),
    ]);
    wait_line(&log, "PR1-start");
    let mut pw = Raw::connect(&env.sock);
    pw.send_ok(&lock_msg(&machine_id(), "_RESOURCE", 4, true, true, 0));
    assert_eq!(pw.expect_msg(T), answer16(1), "PW must be queued");
    env.flom(&[
        "-l",
        "PR",
        "-o",
        "0",
        "--",
        "sh",
        "-c",
        &quick_cmd(&log, "PR2"),
    ])
    .expect_code(0)
    .expect_stderr("");
    assert!(pw.nothing_pending(), "PW was answered while PR1 holds");
    release(&fifo);
    a.wait(T).expect_code(0);
    assert_eq!(pw.expect_msg(T), answer24(0), "PW granted after PR1 ended");
    assert_eq!(
        lines(&log),
        ["PR1-start", "PR2-start", "PR2-end", "PR1-end"]
    );
    // PW now holds: a PR is refused.
    env.flom(&["-l", "PR", "-o", "0", "--", "true"])
        .expect_code(98)
        .expect_stderr(BUSY);
    pw.send_ok(&unlock_msg("_RESOURCE", false));
    pw.shutdown_write();
    pw.expect_closed(T);
    env.assert_free("_RESOURCE");
}

#[test]
fn uc6_separate_sockets_are_independent_daemons() {
    let env = Env::new("uc6");
    let foo = env.other_sock("foo");
    let bar = env.other_sock("bar");
    let pid_foo = env.start_daemon_on(&foo);
    let pid_bar = env.start_daemon_on(&bar);
    assert_ne!(pid_foo, pid_bar);
    let log = env.path("log");
    let fifo = env.fifo("rel");
    let mut a = spawn_flom(&["-s", &foo, "--", "sh", "-c", &holder_cmd(&log, "A", &fifo)]);
    wait_line(&log, "A-start");
    run_flom(&["-s", &foo, "-o", "0", "--", "true"])
        .expect_code(98)
        .expect_stderr(BUSY);
    run_flom(&[
        "-s",
        &bar,
        "-o",
        "0",
        "--",
        "sh",
        "-c",
        &quick_cmd(&log, "B"),
    ])
    .expect_code(0)
    .expect_stderr("");
    release(&fifo);
    a.wait(T).expect_code(0);
    assert_eq!(lines(&log), ["A-start", "B-start", "B-end", "A-end"]);
}

#[test]
fn exit_status_of_the_command_is_propagated() {
    let env = Env::new("exitstatus");
    env.start_daemon();
    env.flom(&["--", "sh", "-c", "exit 3"])
        .expect_code(3)
        .expect_stderr("");
    env.flom(&["--", "false"]).expect_code(1);
    env.flom(&["--", "sh", "-c", "exit 255"]).expect_code(255);
    env.flom(&["--", "sh", "-c", "echo out; echo err >&2"])
        .expect_code(0)
        .expect_stdout("out\n")
        .expect_stderr("err\n");
    // Arguments reach the command untouched, and no element is appended.
    env.flom(&["--", "sh", "-c", "echo \"$#:$1\"", "zero", "one two"])
        .expect_code(0)
        .expect_stdout("1:one two\n");
    env.assert_free("_RESOURCE");
}

#[test]
fn command_killed_by_signal_n_exits_128_plus_n() {
    let env = Env::new("killedby");
    env.start_daemon();
    env.flom(&["--", "sh", "-c", "kill -TERM $$"])
        .expect_code(143);
    env.flom(&["--", "sh", "-c", "kill -KILL $$"])
        .expect_code(137);
    env.flom(&["--", "sh", "-c", "kill -INT $$"])
        .expect_code(130);
    env.assert_free("_RESOURCE");
}

#[test]
fn no_command_exits_97() {
    let env = Env::new("nocommand");
    env.start_daemon();
    env.flom(&[])
        .expect_code(97)
        .expect_stdout("")
        .expect_stderr(NO_COMMAND);
    env.flom(&["--"]).expect_code(97).expect_stderr(NO_COMMAND);
    env.flom(&["-r", "foo", "-o", "0"])
        .expect_code(97)
        .expect_stderr(NO_COMMAND);
}

#[test]
fn command_that_cannot_be_executed_exits_97_and_releases() {
    let env = Env::new("noexec");
    env.start_daemon();
    let out = env.flom(&["--", "/nonexistent/cmd"]);
    out.expect_code(97).expect_stdout("");
    assert!(
        out.stderr
            .starts_with("flom: unable to execute command '/nonexistent/cmd'")
            && out.stderr.ends_with('\n')
            && out.stderr.lines().count() == 1,
        "{}",
        out.describe()
    );
    let script = env.path("script");
    std::fs::write(&script, "#!/bin/sh\necho ran\n").unwrap();
    let out = env.flom(&["--", &script]);
    out.expect_code(97).expect_stdout("");
    assert!(
        out.stderr.starts_with("flom: unable to execute command"),
        "{}",
        out.describe()
    );
    env.assert_free("_RESOURCE");
}

#[test]
fn no_daemon_with_lifespan_0_exits_99() {
    let env = Env::new("nodaemon");
    env.flom(&["-d", "0", "--", "true"])
        .expect_code(99)
        .expect_stdout("")
        .expect_stderr(&format!(
            "flom: no daemon accepts connections on socket {}, and -d 0 (daemon lifespan 0) forbids starting one: start a daemon there, check the address, or leave out -d 0.\n",
            env.sock
        ));
    assert!(!exists(&env.sock), "a daemon was started");
    assert!(detached_processes_for(&env.sock).is_empty());
}

#[test]
fn create_no_on_a_missing_resource_exits_96() {
    let env = Env::new("createno");
    env.start_daemon();
    let log = env.path("log");
    env.flom(&[
        "-r",
        "missing",
        "-e",
        "no",
        "-o",
        "0",
        "--",
        "sh",
        "-c",
        &quick_cmd(&log, "X"),
    ])
    .expect_code(96)
    .expect_stdout("")
    .expect_stderr(CANT_WAIT);
    assert!(lines(&log).is_empty());
    // It did not create the resource either.
    env.flom(&["-r", "missing", "-e", "no", "-o", "0", "--", "true"])
        .expect_code(96)
        .expect_stderr(CANT_WAIT);
}

#[test]
fn create_no_waits_in_the_incubator_until_created() {
    let env = Env::new("incubator");
    env.start_daemon();
    let peer = machine_id();
    // A raw waiter proves each step: parked (rc 2), queued behind the creator
    // (step 24 rc 1), granted when the creator leaves (step 24 rc 0).
    let mut parked = Raw::connect(&env.sock);
    parked.send_ok(&lock_msg(&peer, "incub", 5, true, false, 0));
    assert_eq!(parked.expect_msg(T), answer16(2));
    let log = env.path("log");
    let fifo = env.fifo("rel");
    let mut creator = env.spawn(&[
        "-r",
        "incub",
        "--",
        "sh",
        "-c",
        &holder_cmd(&log, "A", &fifo),
    ]);
    wait_line(&log, "A-start");
    assert_eq!(parked.expect_msg(T), answer24(1));
    // A flom client with -e no now finds the resource and queues as well.
    let mut b = env.spawn(&[
        "-r",
        "incub",
        "-e",
        "no",
        "--",
        "sh",
        "-c",
        &quick_cmd(&log, "B"),
    ]);
    wait_conns(&env.sock, 3);
    assert!(parked.nothing_pending());
    release(&fifo);
    creator.wait(T).expect_code(0);
    assert_eq!(parked.expect_msg(T), answer24(0));
    assert!(b.is_running(), "B ran while the raw waiter holds the lock");
    parked.send_ok(&unlock_msg("incub", false));
    parked.shutdown_write();
    parked.expect_closed(T);
    b.wait(T).expect_code(0).expect_stderr("");
    assert_eq!(lines(&log), ["A-start", "A-end", "B-start", "B-end"]);
}

#[test]
fn create_no_flom_client_waits_then_runs() {
    let env = Env::new("incubflom");
    env.start_daemon();
    let log = env.path("log");
    let fifo = env.fifo("rel");
    let mut b = env.spawn(&[
        "-r",
        "later",
        "-e",
        "no",
        "--",
        "sh",
        "-c",
        &quick_cmd(&log, "B"),
    ]);
    wait_conns(&env.sock, 1);
    let mut a = env.spawn(&[
        "-r",
        "later",
        "--",
        "sh",
        "-c",
        &holder_cmd(&log, "A", &fifo),
    ]);
    wait_line(&log, "A-start");
    assert!(b.is_running());
    release(&fifo);
    a.wait(T).expect_code(0);
    b.wait(T).expect_code(0).expect_stderr("");
    assert_eq!(lines(&log), ["A-start", "A-end", "B-start", "B-end"]);
}

#[test]
fn create_no_parked_request_granted_at_once_when_compatible() {
    // A parked PR request is handed to the locker a PR creator makes, and is
    // granted next to it: step 16 rc 2, then step 24 rc 0.
    let env = Env::new("incubcompat");
    env.start_daemon();
    let mut parked = Raw::connect(&env.sock);
    parked.send_ok(&lock_msg(&machine_id(), "shared", 3, true, false, 0));
    assert_eq!(parked.expect_msg(T), answer16(2));
    let log = env.path("log");
    let fifo = env.fifo("rel");
    let mut creator = env.spawn(&[
        "-r",
        "shared",
        "-l",
        "PR",
        "--",
        "sh",
        "-c",
        &holder_cmd(&log, "A", &fifo),
    ]);
    wait_line(&log, "A-start");
    assert_eq!(parked.expect_msg(T), answer24(0));
    // Both hold PR now: EX is refused.
    env.flom(&["-r", "shared", "-l", "EX", "-o", "0", "--", "true"])
        .expect_code(98)
        .expect_stderr(BUSY);
    release(&fifo);
    creator.wait(T).expect_code(0);
    parked.send_ok(&unlock_msg("shared", false));
    parked.shutdown_write();
    parked.expect_closed(T);
}

#[test]
fn create_no_parked_request_times_out_with_exit_98() {
    // UC16 (4/8): the client gives up while parked in the incubator.
    let env = Env::new("incubtimeout");
    env.start_daemon();
    env.flom(&["-r", "never", "-e", "no", "-o", "300", "--", "true"])
        .expect_code(98)
        .expect_stderr("The lock was not obtained because timeout (300 milliseconds) expired\n");
    // The parked request left with its connection: creating the resource
    // now hands it to nobody.
    env.flom(&["-r", "never", "-o", "0", "--", "true"])
        .expect_code(0);
    env.assert_free("never");
}

#[test]
fn the_command_does_not_inherit_the_daemon_connection() {
    let env = Env::new("cloexec");
    env.start_daemon();
    let out = env.flom(&[
        "--",
        "sh",
        "-c",
        "for f in /proc/$$/fd/*; do readlink $f || true; done",
    ]);
    out.expect_code(0);
    assert!(
        !out.stdout.contains("socket:"),
        "the command inherited a socket:\n{}",
        out.describe()
    );
}

#[test]
fn idle_lifespan_keeps_the_resource() {
    let env = Env::new("idlekeep");
    env.start_daemon();
    env.flom(&["-r", "idle", "-i", "2000", "--", "true"])
        .expect_code(0);
    let created = Instant::now();
    std::thread::sleep(Duration::from_millis(500)); // the idle time is the point
    env.flom(&["-r", "idle", "-e", "no", "-o", "0", "--", "true"])
        .expect_code(0)
        .expect_stderr("");
    // That use restarted the idle time: 3.1 s after the creation (past
    // 2000 ms + the locker's last idle second) but 2.6 s after the last use
    // the resource is still there.
    std::thread::sleep(Duration::from_millis(3100).saturating_sub(created.elapsed()));
    env.flom(&["-r", "idle", "-e", "no", "-o", "0", "--", "true"])
        .expect_code(0)
        .expect_stderr("");
}

#[test]
fn default_idle_lifespan_forgets_the_resource() {
    let env = Env::new("idleforget");
    env.start_daemon();
    env.flom(&["-r", "brief", "--", "true"]).expect_code(0);
    // Right after, it still exists. The idle lifespan of this later request
    // is ignored: only the creating request's one counts.
    env.flom(&[
        "-r", "brief", "-e", "no", "-o", "0", "-i", "60000", "--", "true",
    ])
    .expect_code(0);
    let used = Instant::now();
    // More than 3 s after the last use it is gone (C: gone after ~2.5 s).
    std::thread::sleep(Duration::from_millis(3100).saturating_sub(used.elapsed()));
    env.flom(&["-r", "brief", "-e", "no", "-o", "0", "--", "true"])
        .expect_code(96)
        .expect_stderr(CANT_WAIT);
}

#[test]
fn kill_9_of_a_holder_releases_the_lock_at_once() {
    let env = Env::new("kill9");
    env.start_daemon();
    let log = env.path("log");
    let fifo = env.fifo("rel");
    let mut a = env.spawn(&["--", "sh", "-c", &holder_cmd(&log, "A", &fifo)]);
    wait_line(&log, "A-start");
    let mut waiter = Raw::connect(&env.sock);
    waiter.send_ok(&lock_ex("_RESOURCE"));
    assert_eq!(waiter.expect_msg(T), answer16(1));
    a.signal(libc::SIGKILL);
    assert_eq!(a.wait_status(T).signal(), Some(libc::SIGKILL));
    // The command of A still runs (it is blocked on the FIFO) but the lock
    // went with the connection.
    assert_eq!(waiter.expect_msg(T), answer24(0));
    assert_eq!(lines(&log), ["A-start"]);
    env.assert_busy("_RESOURCE");
    waiter.send_ok(&unlock_msg("_RESOURCE", false));
    waiter.shutdown_write();
    waiter.expect_closed(T);
    env.assert_free("_RESOURCE");
}

#[test]
fn a_waiter_that_times_out_leaves_the_queue() {
    let env = Env::new("leavequeue");
    env.start_daemon();
    let log = env.path("log");
    let fifo = env.fifo("rel");
    let mut a = env.spawn(&["--", "sh", "-c", &holder_cmd(&log, "A", &fifo)]);
    wait_line(&log, "A-start");
    let mut b = env.spawn(&["-o", "1000", "--", "sh", "-c", &quick_cmd(&log, "B")]);
    // B is queued first (unless a very slow host let its wait end already:
    // then C is alone in the queue and the test is only weaker).
    wait_until(T, "B to connect", || {
        conn_count(&env.sock) >= 2 || !b.is_running()
    });
    let mut c = Raw::connect(&env.sock);
    c.send_ok(&lock_ex("_RESOURCE"));
    assert_eq!(c.expect_msg(T), answer16(1));
    b.wait(T)
        .expect_code(98)
        .expect_stderr("The lock was not obtained because timeout (1000 milliseconds) expired\n");
    wait_until(T, "B's connection to go", || conn_count(&env.sock) == 2);
    release(&fifo);
    a.wait(T).expect_code(0);
    assert_eq!(
        c.expect_msg(T),
        answer24(0),
        "the next waiter gets the lock"
    );
    assert_eq!(lines(&log), ["A-start", "A-end"], "B ran after giving up");
    c.send_ok(&unlock_msg("_RESOURCE", false));
    c.shutdown_write();
    c.expect_closed(T);
    env.assert_free("_RESOURCE");
}

/// Sends `sig` to a flom whose command is `exec cat FIFO`: the command must
/// die of it, flom must exit 128+sig (normally, not killed) and release.
fn forwarded_signal_kills_the_command(name: &str, sig: i32) {
    let env = Env::new(name);
    env.start_daemon();
    let log = env.path("log");
    let fifo = env.fifo("rel");
    let mut a = env.spawn(&[
        "--",
        "sh",
        "-c",
        &format!("echo $$ >> {log}; exec cat {fifo}"),
    ]);
    wait_until(T, "the command's pid in the log", || lines(&log).len() == 1);
    let cmd_pid: i32 = lines(&log)[0].parse().unwrap();
    wait_until(T, "the command to exec cat", || {
        cmdline(cmd_pid).first().map(String::as_str) == Some("cat")
    });
    a.signal(sig);
    let out = a.wait(T);
    out.expect_code(128 + sig);
    assert!(!pid_alive(cmd_pid), "the command survived signal {sig}");
    env.assert_free("_RESOURCE");
}

#[test]
fn sigterm_to_flom_is_forwarded_to_the_command() {
    forwarded_signal_kills_the_command("fwdterm", libc::SIGTERM);
}

#[test]
fn sigint_to_flom_is_forwarded_to_the_command() {
    forwarded_signal_kills_the_command("fwdint", libc::SIGINT);
}

#[test]
fn sighup_to_flom_is_forwarded_to_the_command() {
    forwarded_signal_kills_the_command("fwdhup", libc::SIGHUP);
}

#[test]
fn command_that_handles_the_forwarded_signal_sets_the_status() {
    let env = Env::new("fwdtrap");
    env.start_daemon();
    let log = env.path("log");
    let fifo = env.fifo("rel");
    // The command traps TERM, logs it and exits 7; `wait` is interrupted
    // by the trapped signal.
    let script = format!(
        "trap 'echo got-TERM >> {log}; exit 7' TERM; cat {fifo} >/dev/null 2>&1 & echo ready >> {log}; wait"
    );
    let mut a = env.spawn(&["--", "sh", "-c", &script]);
    wait_line(&log, "ready");
    a.signal(libc::SIGTERM);
    assert_eq!(a.wait_status(T).code(), Some(7));
    assert_eq!(lines(&log), ["ready", "got-TERM"]);
    env.assert_free("_RESOURCE");
}

#[test]
fn the_command_starts_with_default_signal_dispositions() {
    // flom (a Rust program) ignores SIGPIPE itself; its command must not
    // inherit that, nor any blocked signal.
    let env = Env::new("sigdefault");
    env.start_daemon();
    let out = env.flom(&["--", "grep", "-E", "^Sig(Ign|Blk):", "/proc/self/status"]);
    out.expect_code(0);
    let mask = |name: &str| -> u64 {
        let line = out
            .stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {}", out.describe()));
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    let bit = |sig: i32| 1u64 << (sig - 1);
    let ign = mask("SigIgn:");
    for sig in [libc::SIGPIPE, libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        assert_eq!(
            ign & bit(sig),
            0,
            "signal {sig} ignored in the command: {}",
            out.describe()
        );
    }
    assert_eq!(mask("SigBlk:"), 0, "blocked signals in the command");
}

#[test]
fn a_release_grants_every_compatible_waiter_in_queue_order() {
    // resources.md §4: the queue is scanned head to tail at each release;
    // each request compatible with the holders (including those granted
    // earlier in the same scan) is granted, the others keep their place.
    let env = Env::new("scan");
    env.start_daemon();
    let peer = machine_id();
    let lock = |mode: u8| -> Raw {
        let mut r = Raw::connect(&env.sock);
        r.send_ok(&lock_msg(&peer, "Q", mode, true, true, 0));
        r
    };
    let bye = |mut r: Raw| {
        r.send_ok(&unlock_msg("Q", false));
        r.shutdown_write();
        r.expect_closed(T);
    };
    let (cr, cw, pr, ex) = (1, 2, 3, 5);
    let mut holder = lock(ex);
    assert_eq!(holder.expect_msg(T), answer16(0));
    let mut q: Vec<Raw> = Vec::new();
    for mode in [cr, cw, pr, ex, cr] {
        let mut r = lock(mode);
        assert_eq!(r.expect_msg(T), answer16(1));
        q.push(r);
    }
    let (mut a, mut b, mut c, mut d, mut e) = {
        let mut it = q.into_iter();
        let mut n = || it.next().unwrap();
        (n(), n(), n(), n(), n())
    };
    bye(holder);
    // CR and CW go together, PR (vs CW) and EX wait, the last CR overtakes.
    assert_eq!(a.expect_msg(T), answer24(0), "CR");
    assert_eq!(b.expect_msg(T), answer24(0), "CW");
    assert_eq!(e.expect_msg(T), answer24(0), "last CR");
    assert!(c.nothing_pending(), "PR granted next to CW");
    assert!(d.nothing_pending(), "EX granted next to CR/CW");
    bye(b);
    assert_eq!(c.expect_msg(T), answer24(0), "PR once CW is gone");
    assert!(d.nothing_pending());
    bye(a);
    bye(e);
    assert!(d.nothing_pending(), "EX granted next to PR");
    bye(c);
    assert_eq!(d.expect_msg(T), answer24(0), "EX last");
    bye(d);
    env.assert_free("Q");
}
