//! Wire compatibility with C FLoM 1.7.2, both directions, from the byte-exact
//! transcripts in `../shared/vectors/`:
//!
//! * daemon side: the client half of each conversation (`C>` lines) is
//!   replayed on raw connections against our daemon, and every `S>` line must
//!   come back byte for byte (peer id aside);
//! * client side: a scripted fake daemon checks that our `flom` sends the
//!   `C>` bytes exactly and answers with the C daemon's `S>` bytes.

mod common;
use common::vectors::{client_against_fake, conversation, load, Ev, FakeDaemon, Framing};
use common::*;
use std::collections::HashMap;
use std::os::unix::io::AsRawFd;
use std::time::{Duration, Instant};

// ------------------------------------------------------ transcripts

fn c_bytes(evs: &[Ev], conn: u32, nth: usize) -> String {
    evs.iter()
        .filter_map(|e| match e {
            Ev::C(n, b) if *n == conn => Some(b.clone()),
            _ => None,
        })
        .nth(nth)
        .expect("C> line")
}

#[test]
fn transcript_parser_reads_vector_01() {
    let Some(evs) = load("01-simple-default.txt") else {
        return;
    };
    let peer = machine_id();
    assert_eq!(evs.len(), 12, "{evs:#?}");
    assert_eq!(evs[0], Ev::Connect(1));
    assert_eq!(
        evs[1],
        Ev::C(1, lock_msg(&peer, "_RESOURCE", 5, true, true, 0))
    );
    assert_eq!(evs[2], Ev::S(1, answer16(0)));
    assert_eq!(evs[3], Ev::C(1, unlock_msg("_RESOURCE", false)));
    assert_eq!(evs[4], Ev::CloseByClient(1));
    assert_eq!(evs[5], Ev::CloseByDaemon(1));
    assert_eq!(evs[6], Ev::Connect(2));
}

// ------------------------------------------ replay against our daemon

struct Replay<'a> {
    file: &'a str,
    /// Connections left out (behaviour deliberately different from C).
    skip: &'a [u32],
    /// Real time that must pass before a connection (idle lifespans).
    pause_before: &'a [(u32, Duration)],
}

impl<'a> Replay<'a> {
    fn new(file: &'a str) -> Self {
        Replay {
            file,
            skip: &[],
            pause_before: &[],
        }
    }

    /// Replays the transcript in order against a fresh daemon; returns the
    /// env and the daemon's pid for further checks (None: vectors missing).
    fn run(&self) -> Option<(Env, i32)> {
        let evs = load(self.file)?;
        let tag: String = self.file.chars().take(2).collect();
        let env = Env::new(&format!("vector{tag}"));
        let pid = env.start_daemon();
        let mut conns: HashMap<u32, Raw> = HashMap::new();
        for (i, ev) in evs.iter().enumerate() {
            if self.skip.contains(&ev.conn()) {
                continue;
            }
            let ctx = format!("{} event #{i} {ev:?}", self.file);
            match ev {
                Ev::Connect(n) => {
                    if let Some((_, d)) = self.pause_before.iter().find(|(c, _)| c == n) {
                        std::thread::sleep(*d);
                    }
                    conns.insert(*n, Raw::connect(&env.sock));
                }
                Ev::C(n, bytes) => {
                    let r = conn(&mut conns, *n, &ctx);
                    r.send(bytes.as_bytes())
                        .unwrap_or_else(|e| panic!("{ctx}: send: {e}"));
                }
                Ev::S(n, bytes) => {
                    let r = conn(&mut conns, *n, &ctx);
                    match r.recv(T) {
                        Recv::Msg(got) => assert_eq!(&got, bytes, "{ctx}: daemon sent other bytes"),
                        other => panic!("{ctx}: expected the daemon's message, got {other:?}"),
                    }
                }
                Ev::CloseByClient(n) => {
                    let r = conn(&mut conns, *n, &ctx);
                    r.shutdown_write();
                }
                Ev::CloseByDaemon(n) => {
                    let r = conn(&mut conns, *n, &ctx);
                    match r.recv(T) {
                        Recv::Closed { partial } if partial.is_empty() => {}
                        other => panic!("{ctx}: expected the daemon to close, got {other:?}"),
                    }
                }
                Ev::UdpReq { .. } | Ev::UdpReply { .. } => unreachable!("no UDP in {}", self.file),
            }
        }
        Some((env, pid))
    }
}

fn conn<'m>(conns: &'m mut HashMap<u32, Raw>, n: u32, ctx: &str) -> &'m mut Raw {
    conns
        .get_mut(&n)
        .unwrap_or_else(|| panic!("{ctx}: unknown connection"))
}

/// After a replay: the same daemon is alive and serves a normal client.
fn still_serving(env: &Env, pid: i32) {
    assert!(pid_alive(pid), "the daemon died");
    env.flom(&["-o", "0", "--", "true"]).expect_code(0);
    assert_eq!(daemon_pids(&env.sock), [pid]);
}

#[test]
fn daemon_replays_01_simple_default() {
    if let Some((env, pid)) = Replay::new("01-simple-default.txt").run() {
        still_serving(&env, pid);
    }
}

#[test]
fn daemon_replays_02_ex_wait() {
    if let Some((env, pid)) = Replay::new("02-ex-wait.txt").run() {
        still_serving(&env, pid);
    }
}

#[test]
fn daemon_replays_03_busy_nowait() {
    if let Some((env, pid)) = Replay::new("03-busy-nowait.txt").run() {
        still_serving(&env, pid);
    }
}

#[test]
fn daemon_replays_04_wait_timeout() {
    // The waiter's 500 ms client-side timeout is replayed as an immediate
    // half-close: nothing of it is on the wire.
    if let Some((env, pid)) = Replay::new("04-wait-timeout.txt").run() {
        still_serving(&env, pid);
    }
}

#[test]
fn daemon_replays_05_shared_pr() {
    if let Some((env, pid)) = Replay::new("05-shared-pr.txt").run() {
        still_serving(&env, pid);
    }
}

#[test]
fn daemon_replays_06_numeric() {
    if let Some((env, pid)) = Replay::new("06-numeric.txt").run() {
        still_serving(&env, pid);
    }
}

#[test]
fn daemon_replays_11_create_no_idle() {
    // Connection 4 comes 3 s after connection 3 in the capture, once the
    // 2000 ms idle lifespan (+ the locker's last idle period) is over; it is
    // the one real wait of the replays.
    let r = Replay {
        file: "11-create-no-idle.txt",
        skip: &[],
        pause_before: &[(4, Duration::from_millis(3500))],
    };
    if let Some((env, pid)) = r.run() {
        still_serving(&env, pid);
    }
}

#[test]
fn daemon_replays_12_invalid_names() {
    // conn 1: `_t_%Z[1]` (no time grain) closed without answer; conn 2: an
    // invalid name gets rc=-14 and a half-close; conn 3: level 2 is closed.
    if let Some((env, pid)) = Replay::new("12-invalid-names.txt").run() {
        still_serving(&env, pid);
    }
}

#[test]
fn daemon_replays_13_mngmnt_shutdown() {
    // Quiesce, requests still served, then the immediate shutdown (conn 4)
    // ends the daemon; unlike C it removes its socket.
    if let Some((env, pid)) = Replay::new("13-mngmnt-shutdown.txt").run() {
        wait_until(T, "the daemon to exit after -X", || !pid_alive(pid));
        wait_until(T, "the socket to be removed", || !exists(&env.sock));
    }
}

#[test]
fn daemon_replays_14_ping() {
    // The pings of conns 3 and 4 are closed without answer exactly as in the
    // capture, but the daemon survives them (C exits).
    if let Some((env, pid)) = Replay::new("14-ping.txt").run() {
        still_serving(&env, pid);
    }
}

#[test]
fn daemon_replays_19_long_names() {
    // C drops conn 3 (a 591-byte request, over its 512-byte buffer); this
    // daemon accepts up to 4096 bytes and grants it.
    let r = Replay {
        file: "19-long-names.txt",
        skip: &[3],
        pause_before: &[],
    };
    if let Some((env, pid)) = r.run() {
        let evs = load("19-long-names.txt").unwrap();
        let req = c_bytes(&evs, 3, 0);
        let mut raw = Raw::connect(&env.sock);
        raw.send_ok(&req);
        assert_eq!(raw.expect_msg(T), answer16(0));
        raw.shutdown_write();
        raw.expect_closed(T);
        still_serving(&env, pid);
    }
}

#[test]
fn daemon_replays_20_client_errors() {
    if let Some((env, pid)) = Replay::new("20-client-errors.txt").run() {
        still_serving(&env, pid);
    }
}

// ------------------------------------------- our client, a fake daemon

/// A scripted daemon: a listener on the test's socket, driven by the test.
/// Runs `flom -s SOCK -d 0 ARGS` against a fake daemon playing connection
/// `conn` of `file`; returns flom's end.
fn against_fake(name: &str, file: &str, conn: u32, args: &[&str], chunk: usize) -> Option<Out> {
    let evs = load(file)?;
    let script = conversation(&evs, conn);
    Some(against_fake_script(name, &script, args, chunk).0)
}

fn against_fake_script(name: &str, script: &[Ev], args: &[&str], chunk: usize) -> (Out, Env) {
    let env = Env::new(name);
    let out = client_against_fake(&env, script, args, Framing::Pieces(chunk), "script");
    (out, env)
}

#[test]
fn client_01_grant_and_unlock() {
    if let Some(out) = against_fake("fake01", "01-simple-default.txt", 1, &["--", "true"], 4096) {
        out.expect_code(0).expect_stdout("").expect_stderr("");
    }
}

#[test]
fn client_01_answer_arriving_in_small_pieces() {
    if let Some(out) = against_fake("fake01b", "01-simple-default.txt", 1, &["--", "true"], 1) {
        out.expect_code(0).expect_stdout("").expect_stderr("");
    }
    if let Some(out) = against_fake("fake01c", "01-simple-default.txt", 1, &["--", "true"], 7) {
        out.expect_code(0).expect_stdout("").expect_stderr("");
    }
}

#[test]
fn client_02_queued_then_granted_at_step_24() {
    if let Some(out) = against_fake("fake02", "02-ex-wait.txt", 2, &["--", "echo", "ran"], 4096) {
        out.expect_code(0).expect_stdout("ran\n").expect_stderr("");
    }
}

#[test]
fn client_03_busy_exits_98() {
    if let Some(out) = against_fake(
        "fake03",
        "03-busy-nowait.txt",
        2,
        &["-o", "0", "--", "echo", "ran"],
        4096,
    ) {
        out.expect_code(98)
            .expect_stdout("")
            .expect_stderr("Resource already locked, the lock cannot be obtained\n");
    }
}

#[test]
fn client_04_timeout_closes_and_exits_98() {
    if let Some(out) = against_fake(
        "fake04",
        "04-wait-timeout.txt",
        2,
        &["-o", "500", "--", "echo", "ran"],
        4096,
    ) {
        out.expect_code(98).expect_stdout("").expect_stderr(
            "The lock was not obtained because timeout (500 milliseconds) expired\n",
        );
        assert!(
            out.elapsed >= Duration::from_millis(490),
            "{:?}",
            out.elapsed
        );
    }
}

#[test]
fn client_05_pr_and_ex_requests() {
    if let Some(out) = against_fake(
        "fake05a",
        "05-shared-pr.txt",
        1,
        &["-l", "PR", "--", "true"],
        4096,
    ) {
        out.expect_code(0).expect_stderr("");
    }
    if let Some(out) = against_fake(
        "fake05c",
        "05-shared-pr.txt",
        3,
        &["-l", "EX", "--", "true"],
        4096,
    ) {
        out.expect_code(0).expect_stderr("");
    }
}

#[test]
fn client_06_numeric_request_layout() {
    if let Some(out) = against_fake(
        "fake06b",
        "06-numeric.txt",
        2,
        &["-r", "pool[3]", "-q", "2", "--", "true"],
        4096,
    ) {
        out.expect_code(0).expect_stderr("");
    }
}

#[test]
fn client_06_impossible_exits_99() {
    const IMPOSSIBLE: &str =
        "Resource will never satisfy the request, the lock cannot be obtained\n";
    if let Some(out) = against_fake(
        "fake06c",
        "06-numeric.txt",
        3,
        &["-r", "pool[3]", "-q", "4", "-o", "0", "--", "echo", "ran"],
        4096,
    ) {
        out.expect_code(99)
            .expect_stdout("")
            .expect_stderr(IMPOSSIBLE);
    }
    if let Some(out) = against_fake(
        "fake06d",
        "06-numeric.txt",
        4,
        &["-r", "pool[3]", "-q", "4", "--", "echo", "ran"],
        4096,
    ) {
        out.expect_code(99)
            .expect_stdout("")
            .expect_stderr(IMPOSSIBLE);
    }
}

#[test]
fn client_11_cant_wait_exits_96() {
    if let Some(out) = against_fake(
        "fake11a",
        "11-create-no-idle.txt",
        1,
        &["-r", "missing", "-e", "no", "-o", "0", "--", "echo", "ran"],
        4096,
    ) {
        out.expect_code(96).expect_stdout("").expect_stderr(
            "The resource could be available in the future, but the requester can't wait\n",
        );
    }
}

#[test]
fn client_11_idle_lifespan_is_sent() {
    if let Some(out) = against_fake(
        "fake11b",
        "11-create-no-idle.txt",
        2,
        &["-r", "idle", "-i", "2000", "--", "true"],
        4096,
    ) {
        out.expect_code(0).expect_stderr("");
    }
}

#[test]
fn client_11_incubator_rc2_then_two_step_24_answers() {
    if let Some(out) = against_fake(
        "fake11e",
        "11-create-no-idle.txt",
        5,
        &["-r", "incub", "-e", "no", "--", "echo", "ran"],
        4096,
    ) {
        out.expect_code(0).expect_stdout("ran\n").expect_stderr("");
    }
}

#[test]
fn client_13_quiesce_message() {
    if let Some(out) = against_fake("fake13b", "13-mngmnt-shutdown.txt", 2, &["-x"], 4096) {
        out.expect_code(0)
            .expect_stdout("Starting FLoM daemon quiesce shutdown...\n")
            .expect_stderr("");
    }
}

#[test]
fn client_13_immediate_message() {
    if let Some(out) = against_fake("fake13d", "13-mngmnt-shutdown.txt", 4, &["-X"], 4096) {
        out.expect_code(0)
            .expect_stdout("Starting FLoM daemon immediate shutdown...\n")
            .expect_stderr("");
    }
}

#[test]
fn client_20_exec_failure_unlocks_with_rollback_and_exits_97() {
    if let Some(out) = against_fake(
        "fake20",
        "20-client-errors.txt",
        1,
        &["--", "/nonexistent/cmd"],
        4096,
    ) {
        out.expect_code(97).expect_stdout("");
        assert!(
            out.stderr
                .starts_with("flom: unable to execute command '/nonexistent/cmd'"),
            "{}",
            out.describe()
        );
    }
}

/// Vector 01's first conversation with the unlock's rollback set.
fn rollback_script() -> Option<Vec<Ev>> {
    let evs = load("01-simple-default.txt")?;
    Some(
        conversation(&evs, 1)
            .into_iter()
            .map(|e| match e {
                Ev::C(n, b) if b.contains("verb=\"2\"") => {
                    let r = b.replace("rollback=\"0\"", "rollback=\"1\"");
                    assert_ne!(r, b);
                    Ev::C(n, r)
                }
                e => e,
            })
            .collect(),
    )
}

#[test]
fn client_command_failure_unlocks_with_rollback() {
    let Some(script) = rollback_script() else {
        return;
    };
    let (out, _env) = against_fake_script("fakerb3", &script, &["--", "sh", "-c", "exit 3"], 4096);
    out.expect_code(3).expect_stderr("");
    // A command killed by a signal counts as a failure too (C: exit 0,
    // rollback 0).
    let (out, _env) = against_fake_script(
        "fakerbsig",
        &script,
        &["--", "sh", "-c", "kill -TERM $$"],
        4096,
    );
    out.expect_code(143).expect_stderr("");
}

#[test]
fn client_daemon_closing_without_answer_exits_99() {
    let env = Env::new("fakeclose");
    let fake = FakeDaemon::new(&env);
    let expected = lock_ex("_RESOURCE");
    let mut client = env.spawn(&["-d", "0", "--", "echo", "ran"]);
    // The daemon reads the request and closes. Our client may retry once
    // (a daemon that was exiting); every attempt carries the same request.
    let deadline = Instant::now() + T;
    let mut attempts = 0;
    while client.is_running() {
        assert!(Instant::now() < deadline, "the client did not give up");
        if poll_readable(fake.listener.as_raw_fd(), Duration::from_millis(20)) {
            let mut raw = Raw::from_stream(fake.listener.accept().unwrap().0);
            assert_eq!(raw.expect_msg(T), expected);
            attempts += 1;
            drop(raw);
        }
    }
    assert!((1..=2).contains(&attempts), "{attempts} connections");
    client
        .wait(T)
        .expect_code(99)
        .expect_stdout("")
        .expect_stderr("flom: the daemon closed the connection before granting the lock on resource '_RESOURCE' (stopped, e.g. by flom -X, or it refused the request: see the system log); try again.\n");
}

/// The client's lock request of vector 01, then `answer` from the fake
/// daemon, which then waits for the client to close.
fn client_gets(name: &str, answer: &str) -> Option<Out> {
    let evs = load("01-simple-default.txt")?;
    let script = [
        Ev::C(1, c_bytes(&evs, 1, 0)),
        Ev::S(1, answer.to_string()),
        Ev::CloseByClient(1),
    ];
    Some(against_fake_script(name, &script, &["--", "echo", "ran"], 4096).0)
}

#[test]
fn client_rejects_an_answer_of_another_level() {
    let answer = answer16(0).replace("level=\"3\"", "level=\"2\"");
    if let Some(out) = client_gets("fakelevel", &answer) {
        out.expect_code(99).expect_stdout("");
        assert!(
            out.stderr.starts_with("flom: the daemon answered the lock request on resource '_RESOURCE' with another protocol level"),
            "{}",
            out.describe()
        );
    }
}

#[test]
fn client_rejects_a_first_answer_that_is_not_step_16() {
    if let Some(out) = client_gets("fakestep", &answer24(0)) {
        out.expect_code(99).expect_stdout("");
        assert!(
            out.stderr.starts_with("flom: the daemon's answer to the lock request on resource '_RESOURCE' cannot be understood"),
            "{}",
            out.describe()
        );
    }
}

#[test]
fn client_rejects_garbage_answers() {
    if let Some(out) = client_gets("fakegarbage", "<?xml garbage </msg>") {
        out.expect_code(99).expect_stdout("");
        assert!(
            out.stderr.starts_with("flom: the daemon's answer to the lock request on resource '_RESOURCE' cannot be understood"),
            "{}",
            out.describe()
        );
    }
}

#[test]
fn client_queued_then_daemon_vanishes_exits_99() {
    // Vector 02's waiter, but the daemon goes away after rc=1 (e.g. -X).
    let Some(evs) = load("02-ex-wait.txt") else {
        return;
    };
    let script = [
        Ev::C(2, c_bytes(&evs, 2, 0)),
        Ev::S(2, answer16(1)),
        Ev::CloseByDaemon(2),
        Ev::CloseByClient(2),
    ];
    let (out, _env) = against_fake_script("fakevanish", &script, &["--", "echo", "ran"], 4096);
    out.expect_code(99)
        .expect_stdout("")
        .expect_stderr("flom: the daemon closed the connection before granting the lock on resource '_RESOURCE' (stopped, e.g. by flom -X, or it refused the request: see the system log); try again.\n");
}
