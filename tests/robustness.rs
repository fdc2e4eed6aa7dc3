//! The daemon survives whatever a client sends: it drops only the offending
//! connection (or answers as the protocol says) and keeps serving
//! (spec/protocol.md §2, §7; vectors 12, 14, 19).

mod common;
use common::*;

/// Starts a daemon, lets `abuse` play with raw connections, then checks the
/// same daemon process still serves a normal client.
fn survives(name: &str, abuse: impl FnOnce(&Env)) {
    let env = Env::new(name);
    let pid = env.start_daemon();
    abuse(&env);
    env.flom(&["-o", "0", "--", "true"])
        .expect_code(0)
        .expect_stdout("")
        .expect_stderr("");
    assert!(pid_alive(pid), "the daemon died");
    assert_eq!(daemon_pids(&env.sock), [pid], "another process serves now");
}

/// Sends `bytes` on a new connection and expects it to be closed with no
/// answer.
fn dropped_without_answer(env: &Env, bytes: &[u8]) {
    let mut raw = Raw::connect(&env.sock);
    let _ = raw.send(bytes); // the daemon may close before we are done
    raw.expect_closed(T);
}

fn msg(level: &str, verb: &str, step: &str, body: &str) -> String {
    format!("{PROLOGUE}<msg level=\"{level}\" verb=\"{verb}\" step=\"{step}\">{body}</msg>")
}

#[test]
fn garbage_bytes() {
    survives("garbage", |env| {
        dropped_without_answer(env, b"\x00\x01\xffgarbage <<<>>> &&& \"'</msg>");
        dropped_without_answer(env, b"hello</msg>");
        dropped_without_answer(env, b"<msg></msg>");
        // Garbage with no terminator, then the client goes away.
        let mut raw = Raw::connect(&env.sock);
        raw.send(b"\xde\xad\xbe\xef not a message").unwrap();
        raw.shutdown_write();
        raw.expect_closed(T);
    });
}

#[test]
fn ten_kilobytes_without_terminator() {
    survives("oversized", |env| {
        dropped_without_answer(env, &vec![b'a'; 10 * 1024]);
        // A well-formed start that never ends.
        let mut big = lock_ex("_RESOURCE").into_bytes();
        big.truncate(big.len() - 6);
        big.extend(std::iter::repeat(b' ').take(10 * 1024));
        dropped_without_answer(env, &big);
    });
}

#[test]
fn long_but_bounded_message_is_served() {
    // C drops requests above 511 bytes (vector 19); this daemon accepts up
    // to 4096: a ~3.9 kB request with a 2800-character name is granted.
    survives("longname", |env| {
        let name = format!("r{}", "x".repeat(2799));
        let req = lock_ex(&name);
        assert!(req.len() > 3800 && req.len() < 4096, "{}", req.len());
        let mut raw = Raw::connect(&env.sock);
        raw.send_ok(&req);
        assert_eq!(raw.expect_msg(T), answer16(0));
        raw.send_ok(&unlock_msg(&name, false));
        raw.shutdown_write();
        raw.expect_closed(T);
    });
}

#[test]
fn truncated_message_then_close() {
    survives("truncated", |env| {
        let req = lock_ex("_RESOURCE");
        let mut raw = Raw::connect(&env.sock);
        raw.send(&req.as_bytes()[..req.len() / 2]).unwrap();
        raw.shutdown_write();
        raw.expect_closed(T);
        // And a truncated one whose client vanishes without a half-close.
        let mut raw = Raw::connect(&env.sock);
        raw.send(&req.as_bytes()[..req.len() - 3]).unwrap();
        drop(raw);
    });
}

#[test]
fn wrong_verb() {
    survives("wrongverb", |env| {
        dropped_without_answer(env, msg("3", "9", "8", "").as_bytes());
        dropped_without_answer(env, msg("3", "0", "8", "").as_bytes());
        // A discovery query belongs on UDP, not on the stream.
        dropped_without_answer(env, msg("3", "4", "8", "").as_bytes());
        // A lock answer sent by a client.
        let answer = answer16(0);
        dropped_without_answer(env, answer.as_bytes());
    });
}

#[test]
fn unlock_as_first_message() {
    // C 1.7.2 exits on this (protocol.md §7); we drop the connection only.
    survives("unlockfirst", |env| {
        dropped_without_answer(env, unlock_msg("_RESOURCE", false).as_bytes());
        dropped_without_answer(env, unlock_msg("_RESOURCE", true).as_bytes());
    });
}

#[test]
fn unlock_does_not_release_someone_elses_lock() {
    survives("unlockother", |env| {
        let mut holder = Raw::connect(&env.sock);
        holder.send_ok(&lock_ex("_RESOURCE"));
        assert_eq!(holder.expect_msg(T), answer16(0));
        dropped_without_answer(env, unlock_msg("_RESOURCE", false).as_bytes());
        env.assert_busy("_RESOURCE");
        holder.send_ok(&unlock_msg("_RESOURCE", false));
        holder.shutdown_write();
        holder.expect_closed(T);
    });
}

#[test]
fn ping_step_8_and_16() {
    // C 1.7.2 exits on these (vector 14); we drop the connection only.
    survives("ping", |env| {
        dropped_without_answer(env, msg("3", "3", "8", "").as_bytes());
        dropped_without_answer(env, msg("3", "3", "16", "").as_bytes());
    });
}

#[test]
fn protocol_level_2_is_dropped_without_answer() {
    // Vector 12, client H.
    survives("level2", |env| {
        let req = lock_ex("_RESOURCE").replace("level=\"3\"", "level=\"2\"");
        assert!(req.contains("level=\"2\""));
        dropped_without_answer(env, req.as_bytes());
    });
}

#[test]
fn invalid_base64_name() {
    survives("badb64", |env| {
        let good = lock_ex("_RESOURCE");
        for bad in ["@@@@", "X1JFU09VUkNF=", "X1JFU09VUkN", "!"] {
            let req = good.replace("X1JFU09VUkNF\"", &format!("{bad}\""));
            assert_ne!(req, good);
            dropped_without_answer(env, req.as_bytes());
        }
    });
}

#[test]
fn invalid_resource_name_gets_rc_minus_14_then_half_close() {
    // Vector 12, client G: exact bytes, then the daemon half-closes first.
    survives("badname", |env| {
        let peer = machine_id();
        let mut raw = Raw::connect(&env.sock);
        raw.send_ok(&format!(
            "{PROLOGUE}<msg level=\"3\" verb=\"1\" step=\"8\"><session peerid=\"rawclient\"/><resource name=\"MWFiYw==\" mode=\"5\" wait=\"1\" create=\"1\" lifespan=\"0\"/></msg>"
        ));
        let expected = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" ?><msg level=\"3\" verb=\"1\" step=\"16\"><session peerid=\"{peer}\"/><answer rc=\"-14\"/></msg>"
        );
        assert_eq!(raw.expect_msg(T), expected);
        // EOF from the daemon while our side is still open.
        raw.expect_closed(T);
        raw.shutdown_write();
        // Other invalid names: the same answer.
        for name in ["/a/", "a.b.", "pool[x]", "9lives"] {
            let mut raw = Raw::connect(&env.sock);
            raw.send_ok(&lock_msg(&peer, name, 5, true, true, 0));
            assert_eq!(raw.expect_msg(T), expected, "name {name:?}");
            raw.expect_closed(T);
        }
    });
}

#[test]
fn two_messages_in_one_write() {
    survives("twoinone", |env| {
        let mut raw = Raw::connect(&env.sock);
        let both = format!("{}{}", lock_ex("_RESOURCE"), unlock_msg("_RESOURCE", false));
        raw.send_ok(&both);
        assert_eq!(raw.expect_msg(T), answer16(0));
        // The unlock in the same write was applied: the resource is free
        // while this connection is still open.
        env.assert_free("_RESOURCE");
        assert!(raw.nothing_pending());
        raw.shutdown_write();
        raw.expect_closed(T);
    });
}

#[test]
fn second_lock_on_the_same_connection_drops_it_and_releases() {
    survives("twolocks", |env| {
        let mut raw = Raw::connect(&env.sock);
        raw.send_ok(&lock_ex("_RESOURCE"));
        assert_eq!(raw.expect_msg(T), answer16(0));
        raw.send_ok(&lock_ex("other"));
        raw.expect_closed(T);
        env.assert_free("_RESOURCE");
    });
}

#[test]
fn message_split_byte_by_byte() {
    survives("bytebybyte", |env| {
        let mut raw = Raw::connect(&env.sock);
        for b in lock_ex("_RESOURCE").bytes() {
            raw.send(&[b]).unwrap();
        }
        assert_eq!(raw.expect_msg(T), answer16(0));
        env.assert_busy("_RESOURCE");
        for b in unlock_msg("_RESOURCE", false).bytes() {
            raw.send(&[b]).unwrap();
        }
        raw.shutdown_write();
        raw.expect_closed(T);
        env.assert_free("_RESOURCE");
    });
}

#[test]
fn many_abusive_connections_at_once() {
    survives("manyabusive", |env| {
        let mut held = Vec::new();
        for i in 0..50 {
            let mut raw = Raw::connect(&env.sock);
            match i % 3 {
                0 => raw.send(b"garbage").unwrap(),
                1 => raw.send(&lock_ex("_RESOURCE").as_bytes()[..40]).unwrap(),
                _ => {}
            }
            held.push(raw);
        }
        wait_conns(&env.sock, 50);
        // Half-open, idle and partial connections do not block anyone.
        env.assert_free("_RESOURCE");
        drop(held);
    });
}

#[test]
fn request_then_immediate_close() {
    survives("vanish", |env| {
        // Granted to a client already gone: the grant write fails and the
        // lock goes with the connection.
        for _ in 0..20 {
            let mut raw = Raw::connect(&env.sock);
            raw.send_ok(&lock_ex("_RESOURCE"));
            drop(raw);
        }
        // Queued waiters that vanish, then the holder leaves: grants go to
        // dead connections and must not stick.
        let mut holder = Raw::connect(&env.sock);
        holder.send_ok(&lock_ex("_RESOURCE"));
        // The daemon may not have seen the last closes yet: then the holder
        // is queued first and granted when they are processed.
        let first = holder.expect_msg(T);
        if first == answer16(1) {
            assert_eq!(holder.expect_msg(T), answer24(0));
        } else {
            assert_eq!(first, answer16(0));
        }
        for _ in 0..20 {
            let mut raw = Raw::connect(&env.sock);
            raw.send_ok(&lock_ex("_RESOURCE"));
            assert_eq!(raw.expect_msg(T), answer16(1));
            raw.shutdown_write();
            drop(raw);
        }
        let mut last = Raw::connect(&env.sock);
        last.send_ok(&lock_ex("_RESOURCE"));
        assert_eq!(last.expect_msg(T), answer16(1));
        drop(holder);
        assert_eq!(last.expect_msg(T), answer24(0));
        drop(last);
        wait_until(T, "the daemon to see every close", || {
            conn_count(&env.sock) == 0
        });
    });
}

/// Sends `req` on a new connection, expects `answer`, then unlocks `name`
/// and closes.
fn lock_round_trip(env: &Env, req: &str, answer: &str, name: &str) {
    let mut raw = Raw::connect(&env.sock);
    raw.send_ok(req);
    assert_eq!(raw.expect_msg(T), answer, "request {req:?}");
    raw.send_ok(&unlock_msg(name, false));
    raw.shutdown_write();
    raw.expect_closed(T);
}

#[test]
fn lenient_parsing_of_well_formed_variants() {
    // protocol.md §7 (GLib markup parser): the XML declaration is optional,
    // attribute order is irrelevant, whitespace between elements is fine,
    // a missing `level` is accepted, unknown elements without attributes
    // are ignored.
    survives("lenient", |env| {
        let peer = machine_id();
        let b = b64("_RESOURCE");
        let variants = [
            format!("<msg level=\"3\" verb=\"1\" step=\"8\"><session peerid=\"{peer}\"/><resource name=\"{b}\" mode=\"5\" wait=\"1\" create=\"1\" lifespan=\"0\"/></msg>"),
            format!("{PROLOGUE}<msg step=\"8\" verb=\"1\" level=\"3\"><session peerid=\"{peer}\"/><resource lifespan=\"0\" create=\"1\" wait=\"1\" mode=\"5\" name=\"{b}\"/></msg>"),
            format!("{PROLOGUE}\n<msg level=\"3\" verb=\"1\" step=\"8\">\n  <session peerid=\"{peer}\" />\n  <resource name=\"{b}\" mode=\"5\" wait=\"1\" create=\"1\" lifespan=\"0\" />\n</msg>"),
            format!("{PROLOGUE}<msg verb=\"1\" step=\"8\"><session peerid=\"{peer}\"/><resource name=\"{b}\" mode=\"5\" wait=\"1\" create=\"1\" lifespan=\"0\"/></msg>"),
            format!("{PROLOGUE}<msg level=\"3\" verb=\"1\" step=\"8\"><session peerid=\"{peer}\"/><extra/><resource name=\"{b}\" mode=\"5\" wait=\"1\" create=\"1\" lifespan=\"0\"/></msg>"),
        ];
        for v in &variants {
            lock_round_trip(env, v, &answer16(0), "_RESOURCE");
        }
    });
}

#[test]
fn unknown_element_with_attributes_is_invalid() {
    survives("unknownattr", |env| {
        let req = lock_ex("_RESOURCE").replace("<resource", "<extra a=\"1\"/><resource");
        dropped_without_answer(env, req.as_bytes());
        let req = lock_ex("_RESOURCE").replace("lifespan=\"0\"", "lifespan=\"0\" rollback=\"1\"");
        dropped_without_answer(env, req.as_bytes());
    });
}

#[test]
fn missing_mode_means_null_lock() {
    // Missing attributes default to 0: a simple lock without `mode` is NL,
    // compatible even with a held EX.
    survives("nomode", |env| {
        let mut holder = Raw::connect(&env.sock);
        holder.send_ok(&lock_ex("_RESOURCE"));
        assert_eq!(holder.expect_msg(T), answer16(0));
        let req = lock_ex("_RESOURCE").replace(" mode=\"5\"", "");
        lock_round_trip(env, &req, &answer16(0), "_RESOURCE");
        env.assert_busy("_RESOURCE");
        drop(holder);
        wait_until(T, "the daemon to see the holder go", || {
            conn_count(&env.sock) == 0
        });
    });
}

fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn out_of_descriptors_the_daemon_waits_without_spinning() {
    survives("emfile", |env| {
        let pid = the_daemon(&env.sock);
        let base = fd_count(pid);
        // Lower the daemon's descriptor limit to what it has plus 3.
        let mut old = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        let new = libc::rlimit {
            rlim_cur: (base + 3) as libc::rlim_t,
            rlim_max: (base + 3) as libc::rlim_t,
        };
        // SAFETY: prlimit on the daemon this test started (we run as its owner).
        let r = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, &new, &mut old) };
        assert_eq!(r, 0, "prlimit: {}", std::io::Error::last_os_error());
        let conns: Vec<Raw> = (0..8).map(|_| Raw::connect(&env.sock)).collect();
        wait_until(T, "the daemon to run out of descriptors", || {
            fd_count(pid) >= base + 3
        });
        let before = cpu_ticks(pid);
        std::thread::sleep(std::time::Duration::from_millis(1000)); // measuring
        let used = cpu_ticks(pid) - before;
        drop(conns);
        assert!(
            used < 20,
            "the daemon used {used} ticks of CPU in 1 s while out of descriptors"
        );
    });
}
