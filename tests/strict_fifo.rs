//! Queue order of the daemon, default and `--strict-fifo` ([Daemon]/StrictFifo),
//! for simple and hierarchical locks and numeric pools: a holder, a queued
//! request that conflicts with it, then a newcomer compatible with the holder.
//! By default (C FLoM's order) the newcomer passes the queued request; under
//! strict FIFO it waits behind it and is granted only after it.
//!
//! The clients are raw protocol connections, so the test reads the daemon's
//! state from its answers (rc 0 granted, rc 1 queued) instead of sleeping. A
//! `flom -o 0` probe on another resource is the barrier that tells the
//! daemon has handled everything sent before it (one event loop).

mod common;

use common::*;

const PR: u8 = 3;
const PW: u8 = 4;
const EX: u8 = 5;

/// A lock request for `name` (mode for simple and hierarchical names,
/// quantity for numeric ones, as the C client lays them out).
fn lock_req(name: &str, mode: u8, quantity: u32, wait: bool) -> String {
    let b = b64(name);
    let w = u8::from(wait);
    let body = if name.contains('[') {
        format!("<resource name=\"{b}\" wait=\"{w}\" quantity=\"{quantity}\" create=\"1\" lifespan=\"0\"/>")
    } else {
        format!("<resource name=\"{b}\" mode=\"{mode}\" wait=\"{w}\" create=\"1\" lifespan=\"0\"/>")
    };
    format!(
        "{PROLOGUE}<msg level=\"3\" verb=\"1\" step=\"8\"><session peerid=\"{}\"/>{body}</msg>",
        machine_id()
    )
}

/// A raw client that sent a request and got its first answer `rc`.
#[track_caller]
fn client(env: &Env, name: &str, mode: u8, quantity: u32, rc: i32) -> Raw {
    let mut r = Raw::connect(&env.sock);
    r.send_ok(&lock_req(name, mode, quantity, true));
    assert_eq!(r.expect_msg(T), answer16(rc), "first answer to {name}");
    r
}

#[track_caller]
fn granted_later(r: &mut Raw, who: &str) {
    assert_eq!(r.expect_msg(T), answer24(0), "{who}: grant");
}

fn unlock(r: &mut Raw, name: &str) {
    r.send_ok(&unlock_msg(name, false));
}

/// The daemon has handled everything sent before this call.
#[track_caller]
fn barrier(env: &Env) {
    env.flom(&["-r", "barrier", "-o", "0", "--", "true"])
        .expect_code(0);
}

#[track_caller]
fn still_waiting(env: &Env, r: &Raw, who: &str) {
    barrier(env);
    assert!(r.nothing_pending(), "{who} got an answer");
}

/// A daemon on the test's socket, strict or not; `how` chooses between the
/// option and the config key for the strict one.
fn start(env: &Env, strict: bool, how: &str) -> i32 {
    let conf = env.path("strict.conf");
    std::fs::write(&conf, "[Daemon]\nStrictFifo=yes\n").unwrap();
    let mut args = vec!["-s", env.sock.as_str(), "-d", "-1"];
    if strict {
        match how {
            "file" => args.extend(["-c", conf.as_str()]),
            _ => args.push("--strict-fifo"),
        }
    }
    args.extend(["-r", "warmup", "--", "true"]);
    run_flom(&args).expect_code(0).expect_stderr("");
    let pid = the_daemon(&env.sock);
    env.track(pid);
    pid
}

/// holder, queued conflicting request, compatible newcomer; then releases.
/// `holder`, `queued`, `newcomer`: (name, mode, quantity).
fn scenario(
    tag: &str,
    strict: bool,
    holder: (&str, u8, u32),
    queued: (&str, u8, u32),
    newcomer: (&str, u8, u32),
) {
    let env = Env::new(&format!("fifo-{tag}-{}", u8::from(strict)));
    start(
        &env,
        strict,
        if tag == "simple" { "file" } else { "option" },
    );
    let mut h = client(&env, holder.0, holder.1, holder.2, 0);
    let mut q = client(&env, queued.0, queued.1, queued.2, 1);
    if !strict {
        // C's order: the newcomer passes the queued request...
        let mut n = client(&env, newcomer.0, newcomer.1, newcomer.2, 0);
        unlock(&mut h, holder.0);
        // ...which still waits, now for the newcomer.
        still_waiting(&env, &q, "the queued request");
        unlock(&mut n, newcomer.0);
        granted_later(&mut q, "the queued request");
        return;
    }
    // Strict: the newcomer queues behind the earlier request...
    let mut n = client(&env, newcomer.0, newcomer.1, newcomer.2, 1);
    // ...and a newcomer that cannot wait is busy (rc 4).
    let mut busy = Raw::connect(&env.sock);
    busy.send_ok(&lock_req(newcomer.0, newcomer.1, newcomer.2, false));
    assert_eq!(busy.expect_msg(T), answer16(4), "no-wait newcomer");
    unlock(&mut h, holder.0);
    granted_later(&mut q, "the queued request");
    still_waiting(&env, &n, "the newcomer");
    unlock(&mut q, queued.0);
    granted_later(&mut n, "the newcomer");
}

#[test]
fn simple_default_reader_passes_a_queued_writer() {
    scenario("simple", false, ("R", PR, 1), ("R", PW, 1), ("R", PR, 1));
}

#[test]
fn simple_strict_reader_waits_behind_a_queued_writer() {
    scenario("simple", true, ("R", PR, 1), ("R", PW, 1), ("R", PR, 1));
}

#[test]
fn hierarchical_default_descendant_passes_a_queued_ancestor() {
    scenario(
        "hier",
        false,
        ("/h/b", PR, 1),
        ("/h", EX, 1),
        ("/h/b/c", PR, 1),
    );
}

#[test]
fn hierarchical_strict_descendant_waits_behind_a_queued_ancestor() {
    scenario(
        "hier",
        true,
        ("/h/b", PR, 1),
        ("/h", EX, 1),
        ("/h/b/c", PR, 1),
    );
}

#[test]
fn numeric_default_small_request_passes_a_queued_large_one() {
    // p[3]: 2 held, 3 queued, 1 asked.
    scenario(
        "num",
        false,
        ("p[3]", EX, 2),
        ("p[3]", EX, 3),
        ("p[3]", EX, 1),
    );
}

#[test]
fn numeric_strict_small_request_waits_behind_a_queued_large_one() {
    // p[3]: 2 held, 3 queued, 1 asked (3 and 1 do not fit together, so the
    // newcomer is granted only once the large request has let go).
    scenario(
        "num",
        true,
        ("p[3]", EX, 2),
        ("p[3]", EX, 3),
        ("p[3]", EX, 1),
    );
}

#[test]
fn strict_readers_cannot_starve_a_writer() {
    let env = Env::new("fifo-starve");
    start(&env, true, "option");
    let mut first = client(&env, "db", PR, 1, 0);
    let mut writer = client(&env, "db", EX, 1, 1);
    // A stream of readers, each arriving while a reader holds the lock.
    let mut readers: Vec<Raw> = (0..3).map(|_| client(&env, "db", PR, 1, 1)).collect();
    // The command line agrees: a compatible PR cannot get in (exit 98).
    env.flom(&["-r", "db", "-l", "PR", "-o", "0", "--", "true"])
        .expect_code(98);
    unlock(&mut first, "db");
    granted_later(&mut writer, "the writer");
    for r in &readers {
        still_waiting(&env, r, "a reader");
    }
    unlock(&mut writer, "db");
    // The readers behind the writer are granted together.
    for (i, r) in readers.iter_mut().enumerate() {
        granted_later(r, &format!("reader {i}"));
    }
}

#[test]
fn strict_hierarchical_other_branch_is_not_held_back() {
    let env = Env::new("fifo-branch");
    start(&env, true, "option");
    let _h = client(&env, "/t/a", EX, 1, 0);
    let _q = client(&env, "/t/a", EX, 1, 1);
    // /t/b is another path of the same tree (and locker): no earlier waiter.
    let _b = client(&env, "/t/b", EX, 1, 0);
}

#[test]
fn strict_queued_request_leaving_lets_the_next_go() {
    let env = Env::new("fifo-leave");
    start(&env, true, "option");
    let _h = client(&env, "R", PR, 1, 0);
    let w = client(&env, "R", PW, 1, 1);
    let mut r = client(&env, "R", PR, 1, 1);
    // The writer gives up (its flom timed out or was killed).
    drop(w);
    granted_later(&mut r, "the reader behind the writer");
}

#[test]
fn default_queue_order_without_the_option() {
    let env = Env::new("fifo-default-cli");
    start(&env, false, "");
    let _h = client(&env, "R", PR, 1, 0);
    let _w = client(&env, "R", PW, 1, 1);
    env.flom(&["-r", "R", "-l", "PR", "-o", "0", "--", "true"])
        .expect_code(0);
}
