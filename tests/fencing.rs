//! Fencing tokens (`--fencing`, `[Resource]/Fencing`): the command gets
//! FLOM_FENCING_TOKEN, strictly increasing with every grant of a resource
//! for the daemon's life (queued grants, other resources, a resource
//! destroyed and created again); unset without `--fencing` (even when
//! inherited) and against a daemon that ignores the request (C FLoM, played
//! by a raw fake daemon); a C-style client gets C's bytes from our daemon,
//! and our client without `--fencing` sends C's bytes.

mod common;

use common::netns::{args, TcpPort};
use common::{answer16, lock_ex, machine_id, release, Env, Raw, PROLOGUE, T};
use std::os::unix::net::UnixListener;
use std::process::Command;

/// The command that prints the token (or `unset`).
const SHOW: [&str; 4] = ["--", "sh", "-c", "echo \"[${FLOM_FENCING_TOKEN-unset}]\""];

fn token_of(stdout: &str) -> Option<u64> {
    let t = stdout.trim().strip_prefix('[')?.strip_suffix(']')?;
    t.parse().ok()
}

#[track_caller]
fn fenced(env: &Env, resource: &str) -> u64 {
    let out = env.flom(&args(&[&["--fencing", "-r", resource], &SHOW]));
    out.expect_code(0).expect_stderr("");
    token_of(&out.stdout).unwrap_or_else(|| panic!("no token: {}", out.describe()))
}

#[test]
fn tokens_increase_with_every_grant_of_a_resource() {
    let env = Env::new("fencing-increase");
    env.start_daemon();
    let a1 = fenced(&env, "acct");
    let b1 = fenced(&env, "other");
    let a2 = fenced(&env, "acct");
    // A grant without --fencing counts too (it is a grant of the resource).
    env.flom(&["-r", "acct", "--", "true"]).expect_code(0);
    let a3 = fenced(&env, "acct");
    assert!(a1 < a2 && a2 + 1 < a3, "acct: {a1} {a2} {a3}");
    assert!(b1 > 0);

    // A queued request gets its token when it is granted.
    let hold = env.fifo("hold");
    let mut holder = env.spawn(&["--fencing", "-r", "acct", "--", "cat", &hold]);
    let status = || env.flom(&["--status"]).stdout;
    common::wait_until(T, "the holder", || status().contains(" held "));
    let mut waiter = env.spawn(&args(&[&["--fencing", "-r", "acct"], &SHOW]));
    common::wait_until(T, "the waiter", || status().contains(" waiting "));
    // The holder's token shows in --status; the waiter has none yet.
    let table = status();
    let held: Vec<&str> = table
        .lines()
        .find(|l| l.contains(" held "))
        .unwrap()
        .split_whitespace()
        .collect();
    let a4: u64 = held[5].parse().unwrap();
    assert!(a4 > a3, "{table}");
    release(&hold);
    holder.wait(T).expect_code(0);
    let out = waiter.wait(T);
    out.expect_code(0);
    let a5 = token_of(&out.stdout).unwrap();
    assert!(a5 > a4, "queued grant {a5} after {a4}");

    // Tokens of a set, a numeric pool and a hierarchical path, too.
    for r in ["x.y", "pool[2]", "/tree/leaf"] {
        let t1 = fenced_any(&env, r);
        let t2 = fenced_any(&env, r);
        assert!(t1 < t2, "{r}: {t1} {t2}");
    }
}

/// `fenced`, for resources whose element is appended to the command.
fn fenced_any(env: &Env, resource: &str) -> u64 {
    let out = env.flom(&[
        "--fencing",
        "-r",
        resource,
        "--",
        "sh",
        "-c",
        "echo \"[${FLOM_FENCING_TOKEN-unset}]\"",
    ]);
    out.expect_code(0);
    token_of(&out.stdout).unwrap_or_else(|| panic!("no token: {}", out.describe()))
}

#[test]
fn a_resource_created_again_still_gets_higher_tokens() {
    let env = Env::new("fencing-recreate");
    env.start_daemon();
    let before = fenced(&env, "short");
    // The unused locker goes away after its idle lifespan (1 s + grace).
    common::wait_until(T, "the idle resource to be destroyed", || {
        !env.flom(&["--status"]).stdout.contains("short ")
    });
    let after = fenced(&env, "short");
    assert!(after > before, "{after} after {before}");
}

#[test]
fn set_from_a_config_file_and_over_tcp() {
    let env = Env::new("fencing-config");
    let conf = env.path("f.conf");
    std::fs::write(&conf, "[Resource]\nFencing=yes\n").unwrap();
    let port = TcpPort::new();
    let a = port.args();
    common::run_flom(&args(&[&a, &["-d", "-1", "--", "true"]])).expect_code(0);
    let run = || {
        let out = common::run_flom(&args(&[&a, &["-c", &conf, "-r", "net"], &SHOW]));
        out.expect_code(0);
        token_of(&out.stdout).unwrap_or_else(|| panic!("no token: {}", out.describe()))
    };
    let (t1, t2) = (run(), run());
    assert!(t1 < t2);
    // -V prints it; the C dump lines stay the same 29.
    let out = common::run_flom(&args(&[&a, &["-c", &conf, "-V", "-r", "net"], &SHOW]));
    assert!(out.stdout.contains(&format!("Fencing token is {}", t2 + 1)));
    assert!(!out.stdout.contains("Fencing="), "{}", out.stdout);
}

#[test]
fn unset_without_fencing_even_when_inherited() {
    let env = Env::new("fencing-unset");
    env.start_daemon();
    let mut cmd = Command::new(common::BIN);
    cmd.args(["-s", &env.sock, "-r", "plain"]).args(SHOW);
    cmd.env("FLOM_FENCING_TOKEN", "12345");
    let out = common::spawn_command(cmd, "flom (token inherited)".into()).wait(T);
    out.expect_code(0).expect_stdout("[unset]\n");
}

/// A daemon speaking C FLoM's bytes: reads one lock request, grants it with
/// C's answer, waits for the unlock and closes. Returns the request.
fn fake_c_daemon(path: &str) -> std::thread::JoinHandle<String> {
    let listener = UnixListener::bind(path).expect("bind the fake daemon");
    std::thread::spawn(move || {
        let (s, _) = listener.accept().expect("accept");
        let mut raw = Raw::from_stream(s);
        let request = raw.expect_msg(T);
        raw.send_ok(&answer16(0));
        let _ = raw.recv(T); // the unlock
        drop(raw);
        request
    })
}

#[test]
fn against_a_daemon_that_ignores_it() {
    let env = Env::new("fencing-old");
    let sock = env.path("c");
    let fake = fake_c_daemon(&sock);
    let out = common::run_flom(&args(&[&["-s", &sock, "--fencing", "-r", "R"], &SHOW]));
    out.expect_code(0)
        .expect_stdout("[unset]\n")
        .expect_stderr("");
    // The request is C's plus one empty element, which C's parser skips.
    assert_eq!(
        fake.join().unwrap(),
        format!(
            "{PROLOGUE}<msg level=\"3\" verb=\"1\" step=\"8\"><session peerid=\"{}\"/><resource name=\"Ug==\" mode=\"5\" wait=\"1\" create=\"1\" lifespan=\"0\"/><fencing/></msg>",
            machine_id()
        )
    );
    // Without --fencing our client sends exactly C's bytes.
    let sock2 = env.path("c2");
    let fake = fake_c_daemon(&sock2);
    let out = common::run_flom(&args(&[&["-s", &sock2, "-r", "R"], &SHOW]));
    out.expect_code(0).expect_stdout("[unset]\n");
    assert_eq!(fake.join().unwrap(), lock_ex("R"));
}

#[test]
fn a_c_client_gets_c_bytes_and_ours_gets_a_token() {
    let env = Env::new("fencing-bytes");
    env.start_daemon();
    // C's request: C's answer, byte for byte, in one write.
    let mut c = Raw::connect(&env.sock);
    c.send_one_write(&lock_ex("bytes"));
    c.expect_exact_one_read(&answer16(0), T, "C client's grant");
    // Queued then granted: C's later answer.
    let mut c2 = Raw::connect(&env.sock);
    c2.send_one_write(&lock_ex("bytes"));
    c2.expect_exact_one_read(&answer16(1), T, "C client queued");
    c.send_ok(&common::unlock_msg("bytes", false));
    c2.expect_exact_one_read(&common::answer24(0), T, "C client's later grant");
    drop(c);

    // The same request with <fencing/>: the grant carries the token.
    let fenced = lock_ex("bytes2").replace("/></msg>", "/><fencing/></msg>");
    let mut ours = Raw::connect(&env.sock);
    ours.send_one_write(&fenced);
    let got = ours.expect_msg(T);
    let head = format!(
        "{PROLOGUE}<msg level=\"3\" verb=\"1\" step=\"16\"><session peerid=\"{}\"/><answer rc=\"0\"/><fencing token=\"",
        machine_id()
    );
    let token = got
        .strip_prefix(&head)
        .and_then(|t| t.strip_suffix("\"/></msg>"))
        .unwrap_or_else(|| panic!("grant with a token: {got}"));
    assert!(token.parse::<u64>().unwrap() > 0, "{got}");
    // Queued, then granted at step 24 with a higher token.
    let mut ours2 = Raw::connect(&env.sock);
    ours2.send_one_write(&fenced);
    assert_eq!(ours2.expect_msg(T), answer16(1));
    ours.send_ok(&common::unlock_msg("bytes2", false));
    let later = ours2.expect_msg(T);
    let t2: u64 = later
        .strip_prefix(&format!(
            "{PROLOGUE}<msg level=\"3\" verb=\"1\" step=\"24\"><answer rc=\"0\"/><fencing token=\""
        ))
        .and_then(|t| t.strip_suffix("\"/></msg>"))
        .unwrap_or_else(|| panic!("later grant with a token: {later}"))
        .parse()
        .unwrap();
    assert!(t2 > token.parse::<u64>().unwrap());
    // A refusal never carries one.
    let mut busy = Raw::connect(&env.sock);
    busy.send_one_write(&fenced.replace("wait=\"1\"", "wait=\"0\""));
    assert_eq!(busy.expect_msg(T), answer16(4));
    drop(busy);
    drop(ours2);
    drop(c2);
}
