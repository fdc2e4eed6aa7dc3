//! The C FLoM 1.7.2 wire transcripts of the resource types,
//! `../shared/vectors/06`–`10` (numeric, set, hierarchical, sequence,
//! timestamp), both ways:
//!
//! * daemon side: the `C>` lines of every conversation are replayed on raw
//!   connections against our daemon, in transcript order, and every `S>`
//!   line must come back byte for byte (the peer id is this host's; in 10
//!   the timestamps are checked against the local clock instead, and a
//!   request that the C daemon queued until the next second may be granted
//!   at once when the second changed in between);
//! * client side: a scripted fake daemon plays the C daemon's side of one
//!   connection; our `flom`, given the options of that client (plus lock
//!   mode / quantity options the type ignores, cli.md §2), must send the
//!   `C>` bytes exactly, and its exit status and output must be those of
//!   the transcript header.
//!
//! Without `../shared/vectors` every test prints why and passes.

mod common;

use common::types::*;
use common::vectors::{client_against_fake, conversation, load, read_vector, Ev, Framing};
use common::*;
use std::collections::HashMap;

// ------------------------------------------------------ transcripts

/// What the header of `file` says about client `letter`: exit status,
/// stdout lines, stderr lines.
struct ClientInfo {
    exit: i32,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

fn client_info(file: &str, letter: char) -> Option<ClientInfo> {
    let text = read_vector(file)?;
    let mut it = text
        .lines()
        .skip_while(|l| !l.starts_with(&format!("# client {letter}: ")))
        .skip(1);
    let mut info = ClientInfo {
        exit: -1,
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    let mut into_stdout = true;
    for l in it.by_ref() {
        let Some(rest) = l.strip_prefix("#   ") else {
            break;
        };
        if let Some(x) = rest.split("exit status ").nth(1) {
            info.exit = x.trim().parse().expect("exit status");
        } else if rest.starts_with("stdout:") {
            into_stdout = true;
        } else if rest.starts_with("stderr:") {
            into_stdout = false;
        } else if let Some(line) = rest.strip_prefix("| ") {
            if into_stdout {
                info.stdout.push(line.to_string());
            } else {
                info.stderr.push(line.to_string());
            }
        } else if rest == "|" {
            let v = if into_stdout {
                &mut info.stdout
            } else {
                &mut info.stderr
            };
            v.push(String::new());
        }
    }
    assert_ne!(info.exit, -1, "{file}: no client {letter}");
    Some(info)
}

// ------------------------------------------ replay against our daemon

/// The value of `element="..."` in `msg`, and `msg` with it blanked.
fn split_element(msg: &str) -> Option<(String, String)> {
    let (head, rest) = msg.split_once(" element=\"")?;
    let end = rest.find('"')?;
    Some((
        rest[..end].to_string(),
        format!("{head} element=\"*{}", &rest[end..]),
    ))
}

/// Replays `file` against a fresh daemon. With `timestamps`, elements are
/// not compared byte for byte but collected per connection (then checked
/// by the caller), and a step-16 rc=1 may instead be a step-16 grant when
/// the clock moved to a new unit in between (the step-24 grant that
/// followed it in the capture is then not expected).
fn replay(file: &str, timestamps: bool) -> Option<(Env, HashMap<u32, Vec<String>>)> {
    let evs = load(file)?;
    let env = Env::new(&format!("tv{}", &file[..2]));
    env.start_daemon();
    let mut conns: HashMap<u32, Raw> = HashMap::new();
    let mut elems: HashMap<u32, Vec<String>> = HashMap::new();
    let mut granted_early: Vec<u32> = Vec::new();
    for (i, ev) in evs.iter().enumerate() {
        let ctx = format!("{file} event #{i} {ev:?}");
        let n = ev.conn();
        match ev {
            Ev::Connect(_) => {
                conns.insert(n, Raw::connect(&env.sock));
            }
            Ev::C(_, bytes) => conns
                .get_mut(&n)
                .unwrap()
                .send(bytes.as_bytes())
                .unwrap_or_else(|e| panic!("{ctx}: send: {e}")),
            Ev::S(_, bytes) => {
                if timestamps && granted_early.contains(&n) && bytes.contains("step=\"24\"") {
                    granted_early.retain(|&c| c != n);
                    continue;
                }
                let got = match conns.get_mut(&n).unwrap().recv(T) {
                    Recv::Msg(m) => m,
                    other => panic!("{ctx}: expected the daemon's message, got {other:?}"),
                };
                if !timestamps {
                    assert_eq!(&got, bytes, "{ctx}: the daemon sent other bytes");
                    continue;
                }
                let queued16 = bytes.contains("step=\"16\"") && bytes.contains("rc=\"1\"");
                match (split_element(bytes), split_element(&got)) {
                    (Some((_, want)), Some((e, blank))) => {
                        assert_eq!(blank, want, "{ctx}: the daemon sent other bytes");
                        elems.entry(n).or_default().push(e);
                    }
                    (None, Some((e, blank))) if queued16 => {
                        // Granted at once: the second changed meanwhile.
                        let want =
                            bytes.replace("<answer rc=\"1\"/>", "<answer rc=\"0\" element=\"*\"/>");
                        assert_eq!(blank, want, "{ctx}: the daemon sent other bytes");
                        eprintln!("{ctx}: granted at once (the clock moved on)");
                        elems.entry(n).or_default().push(e);
                        granted_early.push(n);
                    }
                    _ => assert_eq!(&got, bytes, "{ctx}: the daemon sent other bytes"),
                }
            }
            Ev::CloseByClient(_) => conns.get_mut(&n).unwrap().shutdown_write(),
            Ev::CloseByDaemon(_) => match conns.get_mut(&n).unwrap().recv(T) {
                Recv::Closed { partial } if partial.is_empty() => {}
                other => panic!("{ctx}: expected the daemon to close, got {other:?}"),
            },
            Ev::UdpReq { .. } | Ev::UdpReply { .. } => unreachable!("no UDP in {file}"),
        }
    }
    Some((env, elems))
}

#[test]
fn daemon_replays_06_numeric() {
    if let Some((env, _)) = replay("06-numeric.txt", false) {
        env.assert_free("pool[3]");
    }
}

#[test]
fn daemon_replays_07_resource_set() {
    if let Some((env, _)) = replay("07-resource-set.txt", false) {
        // Every element is free again; the cursor moved one step per grant
        // (five grants: red, green, blue, red, red): it points at blue.
        env.flom(&["-r", "red.green.blue", "-o", "0", "--", "echo"])
            .expect_code(0)
            .expect_stdout("blue\n");
    }
}

#[test]
fn daemon_replays_08_hierarchical() {
    if let Some((env, _)) = replay("08-hierarchical.txt", false) {
        env.assert_free("/a");
    }
}

#[test]
fn daemon_replays_09_sequence() {
    if let Some((env, _)) = replay("09-sequence.txt", false) {
        // The sequences went on where the transcript left them.
        env.flom(&["-r", "_s_seq[3]", "--", "echo"])
            .expect_code(0)
            .expect_stdout("3\n");
        env.flom(&["-r", "_S_tseq[3]", "--", "echo"])
            .expect_code(0)
            .expect_stdout("4\n");
    }
}

#[test]
fn daemon_replays_10_timestamp() {
    let before = now_secs();
    let Some((env, elems)) = replay("10-timestamp.txt", true) else {
        return;
    };
    let after = now_secs();
    let slow = "_t_ts.%D.%T[2]";
    let fast = "_t_ts%S#fff[1]";
    let got = |c: u32| -> String {
        let v = elems
            .get(&c)
            .unwrap_or_else(|| panic!("no element on conn {c}"));
        assert_eq!(v.len(), 1, "conn {c}: {v:?}");
        v[0].clone()
    };
    let (e1, e2, e3, e4) = (got(1), got(2), got(3), got(4));
    check_timestamps(slow, &[e1, e2], before, after);
    check_timestamps(fast, &[e3.clone(), e4.clone()], before, after);
    // The daemon goes on handing out later values.
    let out = env.flom(&["-r", fast, "--", "echo"]);
    out.expect_code(0).expect_stderr("");
    let e5 = out.stdout.trim_end().to_string();
    check_timestamps(fast, &[e3, e4, e5], before, now_secs());
}

// ------------------------------------------- our client, a fake daemon

/// Runs `flom -s SOCK -d 0 ARGS` against a fake daemon playing the daemon
/// side of connection `conn` of `file`: the client's bytes must be the
/// transcript's exactly.
fn against_fake(test: &str, file: &str, conn: u32, args: &[&str]) -> Option<Out> {
    let evs = load(file)?;
    let script = conversation(&evs, conn);
    let env = Env::new(test);
    let what = format!("{file} conn {conn}");
    Some(client_against_fake(
        &env,
        &script,
        args,
        Framing::Pieces(usize::MAX),
        &what,
    ))
}

/// Checks `out` against the transcript header of client `letter`; the
/// socket name of the capture is replaced by `sock`.
#[track_caller]
fn like_header(out: &Out, file: &str, letter: char, sock: &str) {
    let Some(info) = client_info(file, letter) else {
        return;
    };
    out.expect_code(info.exit);
    let c_sock = format!("/tmp/v/c{}.sock", &file[..2]);
    let want: Vec<String> = info
        .stdout
        .iter()
        .filter(|l| *l != "(no env var containing flom)")
        .map(|l| l.replace(&c_sock, sock))
        .collect();
    let got: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(got, want, "stdout of {}", out.describe());
    let plain = out.stderr_without_notes();
    let got_err: Vec<&str> = plain.lines().collect();
    assert_eq!(got_err, info.stderr, "stderr of {}", out.describe());
}

/// The socket a test named `test` uses (Env's layout).
fn sock_of(test: &str) -> String {
    format!("/tmp/flom-test-{test}-{}/s", std::process::id())
}

const ARGV0_ARGS: &str = "echo \"argv0=$0 args=$*\"";
const ARGV0: &str = "echo \"argv0=$0\"";

/// One client of a transcript against the fake daemon, checked against the
/// transcript's bytes and header.
fn client_case(test: &str, file: &str, conn: u32, args: &[&str]) {
    let letter = char::from(b'A' + (conn - 1) as u8);
    if let Some(out) = against_fake(test, file, conn, args) {
        like_header(&out, file, letter, &sock_of(test));
    }
}

#[test]
fn client_06_numeric_with_an_ignored_lock_mode() {
    // A: `-r pool[3] -q 2`; -l PR is forced to EX (no mode on the wire).
    client_case(
        "cv06a",
        "06-numeric.txt",
        1,
        &["-r", "pool[3]", "-q", "2", "-l", "PR", "--", "true"],
    );
    // B: queued, then granted at step 24.
    client_case(
        "cv06b",
        "06-numeric.txt",
        2,
        &["-r", "pool[3]", "-q", "2", "--", "true"],
    );
    // C, D: impossible, with and without waiting.
    client_case(
        "cv06c",
        "06-numeric.txt",
        3,
        &["-r", "pool[3]", "-q", "4", "-o", "0", "--", "true"],
    );
    client_case(
        "cv06d",
        "06-numeric.txt",
        4,
        &["-r", "pool[3]", "-q", "4", "--", "true"],
    );
}

#[test]
fn client_07_set_element_is_the_last_argument() {
    // A, B, C: the element arrives as $0 of `sh -c`; the ignored -l and -q
    // do not change the request.
    for (conn, extra) in [
        (1u32, &["-l", "PR", "-q", "3"][..]),
        (2, &[]),
        (3, &["-l", "NL"]),
    ] {
        let mut args = vec!["-r", "red.green.blue"];
        args.extend_from_slice(extra);
        args.extend(["--", "sh", "-c", ARGV0_ARGS]);
        client_case(&format!("cv07{conn}"), "07-resource-set.txt", conn, &args);
    }
    // D: busy without waiting.
    client_case(
        "cv07d",
        "07-resource-set.txt",
        4,
        &["-r", "red.green.blue", "-o", "0", "--", "echo", "D-got"],
    );
    // E: queued, granted red at step 24.
    client_case(
        "cv07e",
        "07-resource-set.txt",
        5,
        &["-r", "red.green.blue", "--", "echo", "E-got"],
    );
    // F: verbose: the configuration dump, the element, the command.
    client_case(
        "cv07f",
        "07-resource-set.txt",
        6,
        &[
            "-r",
            "red.green.blue",
            "-V",
            "--",
            "printf",
            "[%s]\n",
            "F-arg",
        ],
    );
}

#[test]
fn client_08_hierarchical_with_an_ignored_quantity() {
    client_case(
        "cv08a",
        "08-hierarchical.txt",
        1,
        &["-r", "/a/b/c", "-q", "2", "--", "true"],
    );
    client_case(
        "cv08b",
        "08-hierarchical.txt",
        2,
        &["-r", "/a/b", "-o", "0", "--", "true"],
    );
    client_case(
        "cv08c",
        "08-hierarchical.txt",
        3,
        &["-r", "/a/x", "--", "true"],
    );
    client_case(
        "cv08d",
        "08-hierarchical.txt",
        4,
        &["-r", "/a/b", "--", "true"],
    );
}

#[test]
fn client_09_sequence_values_and_rollback() {
    for (conn, res, extra) in [
        (1u32, "_s_seq[3]", &["-l", "PR", "-q", "2"][..]),
        (2, "_s_seq[3]", &[]),
        (3, "_S_tseq[3]", &[]),
        (4, "_S_tseq[3]", &["-q", "5"]),
    ] {
        let mut args = vec!["-r", res];
        args.extend_from_slice(extra);
        args.extend(["--", "sh", "-c", ARGV0_ARGS]);
        client_case(&format!("cv09{conn}"), "09-sequence.txt", conn, &args);
    }
    // E: the command exits 3: unlock with rollback="1", flom exits 3.
    client_case(
        "cv09e",
        "09-sequence.txt",
        5,
        &[
            "-r",
            "_S_tseq[3]",
            "--",
            "sh",
            "-c",
            "echo \"argv0=$0\"; exit 3",
        ],
    );
    client_case(
        "cv09f",
        "09-sequence.txt",
        6,
        &["-r", "_S_tseq[3]", "--", "sh", "-c", ARGV0],
    );
    for conn in [7u32, 8] {
        client_case(
            &format!("cv09{conn}"),
            "09-sequence.txt",
            conn,
            &["-r", "_s_keep[3]", "-i", "5000", "--", "sh", "-c", ARGV0],
        );
    }
}

#[test]
fn client_10_timestamp_values_are_passed_verbatim() {
    client_case(
        "cv10a",
        "10-timestamp.txt",
        1,
        &[
            "-r",
            "_t_ts.%D.%T[2]",
            "-l",
            "CR",
            "--",
            "sh",
            "-c",
            ARGV0_ARGS,
        ],
    );
    // B: queued (rc=1), then the next second's value at step 24.
    client_case(
        "cv10b",
        "10-timestamp.txt",
        2,
        &["-r", "_t_ts.%D.%T[2]", "-q", "2", "--", "sh", "-c", ARGV0],
    );
    client_case(
        "cv10c",
        "10-timestamp.txt",
        3,
        &["-r", "_t_ts%S#fff[1]", "--", "sh", "-c", ARGV0],
    );
    client_case(
        "cv10d",
        "10-timestamp.txt",
        4,
        &["-r", "_t_ts%S#fff[1]", "--", "sh", "-c", ARGV0],
    );
}

#[test]
fn header_parser_reads_client_f_of_07() {
    let Some(info) = client_info("07-resource-set.txt", 'F') else {
        return;
    };
    assert_eq!(info.exit, 0);
    assert_eq!(info.stdout.len(), 32, "{:?}", info.stdout);
    assert_eq!(
        info.stdout[29..],
        ["Locked element is 'red'", "[F-arg]", "[red]"]
    );
    assert!(info.stderr.is_empty());
    let Some(d) = client_info("06-numeric.txt", 'D') else {
        return;
    };
    assert_eq!(d.exit, 99);
    assert_eq!(d.stderr, [IMPOSSIBLE.trim_end()]);
}
