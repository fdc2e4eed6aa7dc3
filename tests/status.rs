//! `flom --status` and `--status --json`: the daemon's resources, holders,
//! waiters and incubator, over the UNIX socket, TCP and discovery; the
//! answer of a daemon that does not know the request (a C FLoM daemon
//! closes the connection), played by a raw fake daemon; option misuse.

mod common;

use common::netns::{args, Net, TcpPort, CMD_BOUND};
use common::{machine_id, poll_until, release, Env, Out, PROLOGUE, T};
use std::io::Read;
use std::os::unix::net::UnixListener;
use std::process::Command;

/// Turns the JSON document into one line per item (parsed by python3, so
/// the test also proves the document is valid JSON):
/// `R name type`, `H name mode quantity element token peer pid?`, `W …`, `I name type …`.
const SUMMARY: &str = r#"
import json, re, sys
d = json.load(sys.stdin)
assert d["version"] == 1 and isinstance(d["time_ms"], int) and d["daemon_id"] is not None
def e(tag, x, held):
    assert x["age_ms"] >= 0 and x["since_ms"] <= d["time_ms"]
    f = [tag, x["name"], str(x["mode"]), str(x["quantity"])]
    if held:
        f += [str(x["element"]), "token" if isinstance(x["fencing_token"], int) else "none"]
    f += [re.sub(r"/[0-9]+$", "/PORT", x["peer"]), "pid" if isinstance(x["pid"], int) else "nopid"]
    if "type" in x:
        f.insert(2, x["type"])
    print(" ".join(f))
for r in d["resources"]:
    print("R", r["name"], r["type"])
    for h in r["holders"]: e("H", h, True)
    for w in r["waiters"]: e("W", w, False)
for i in d["incubator"]: e("I", i, False)
"#;

fn summary(json: &str) -> Vec<String> {
    let mut child = Command::new("python3")
        .args(["-c", SUMMARY])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "not the documented JSON: {}\n{json}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn json_of(out: &Out) -> Vec<String> {
    out.expect_code(0).expect_stderr("");
    summary(&out.stdout)
}

/// Polls `--status --json` (with `opts`) until its summary is `want`.
#[track_caller]
fn wait_summary(run: impl Fn() -> Out, want: &[&str]) -> Vec<String> {
    let mut last = Vec::new();
    let ok = poll_until(T, || {
        last = json_of(&run());
        last == want
    });
    assert!(ok, "status summary {last:#?}, expected {want:#?}");
    last
}

fn cells(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[test]
fn holders_waiters_and_incubator_over_the_unix_socket() {
    let env = Env::new("status-unix");
    env.start_daemon();
    let hold = env.fifo("hold");
    let pool = env.fifo("pool");
    let mut holder = env.spawn(&["-r", "db", "--fencing", "--", "cat", &hold]);
    let mut numeric = env.spawn(&["-r", "pool[3]", "-q", "2", "--", "cat", &pool]);
    let setf = env.fifo("set");
    // The element is appended to the command: `sh -c 'cat "$1"' sh FIFO red`.
    let mut set = env.spawn(&[
        "-r",
        "red.green",
        "--",
        "sh",
        "-c",
        "cat \"$1\"",
        "sh",
        &setf,
    ]);
    let want_held = [
        "R db simple",
        "H db EX None None token localhost/ pid",
        "R pool[3] numeric",
        "H pool[3] None 2 None token localhost/ pid",
        "R red.green set",
        "H red.green None None red token localhost/ pid",
        "R warmup simple",
    ];
    let status = || env.flom(&["--status", "--json"]);
    // warmup (the daemon's first resource) may have expired already.
    let ok = poll_until(T, || {
        let s = json_of(&status());
        s == want_held || s[..] == want_held[..6]
    });
    assert!(ok, "holders never showed: {:?}", json_of(&status()));
    let mut waiter = env.spawn(&["-r", "db", "-l", "PR", "--", "true"]);
    let mut incubated = env.spawn(&["-e", "no", "-r", "later", "--", "true"]);
    let s = wait_summary(
        || env.flom(&["--status", "--json"]),
        &[
            "R db simple",
            "H db EX None None token localhost/ pid",
            "W db PR None localhost/ pid",
            "R pool[3] numeric",
            "H pool[3] None 2 None token localhost/ pid",
            "R red.green set",
            "H red.green None None red token localhost/ pid",
            "I later simple EX None localhost/ pid",
        ],
    );
    assert_eq!(s.len(), 8);

    // The table: a header, then one row per entry, pids of the clients.
    let out = env.flom(&["--status"]);
    out.expect_code(0).expect_stderr("");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        cells(lines[0]),
        ["RESOURCE", "TYPE", "STATE", "MODE", "ELEMENT", "TOKEN", "PEER", "PID", "SINCE", "AGE"]
    );
    let rows: Vec<Vec<&str>> = lines[1..].iter().map(|l| cells(l)).collect();
    assert_eq!(rows.len(), 5, "{}", out.stdout);
    let holder_pid = holder.pid.to_string();
    assert_eq!(
        rows[0][..8],
        [
            "db",
            "simple",
            "held",
            "EX",
            "-",
            rows[0][5],
            "localhost/",
            &holder_pid
        ]
    );
    assert!(rows[0][5].parse::<u64>().unwrap() > 0, "a token: {rows:?}");
    assert_eq!(rows[1][..6], ["db", "simple", "waiting", "PR", "-", "-"]);
    assert_eq!(rows[1][7], waiter.pid.to_string());
    assert_eq!(rows[2][..4], ["pool[3]", "numeric", "held", "q=2"]);
    assert_eq!(rows[3][..5], ["red.green", "set", "held", "-", "red"]);
    assert_eq!(rows[4][..4], ["later", "simple", "incubated", "EX"]);
    assert_eq!(rows[4][7], incubated.pid.to_string());
    for r in &rows {
        // SINCE is a local date and time, AGE a short duration.
        assert_eq!(r.len(), 11, "{r:?}");
        assert!(r[8].len() == 10 && r[9].len() == 8, "{r:?}");
    }

    // Releases show: the waiter takes db, then every resource is idle.
    release(&hold);
    holder.wait(T).expect_code(0);
    waiter.wait(T).expect_code(0);
    release(&pool);
    release(&setf);
    numeric.wait(T).expect_code(0);
    set.wait(T).expect_code(0);
    env.flom(&["-r", "later", "--", "true"]).expect_code(0);
    incubated.wait(T).expect_code(0);
    let s = json_of(&status());
    assert!(
        s.iter().all(|l| l.starts_with("R ")),
        "nothing is held or waited for any more: {s:?}"
    );
    let table = env.flom(&["--status"]);
    for row in table.stdout.lines().skip(1) {
        assert_eq!(cells(row)[2..], ["idle", "-", "-", "-", "-", "-", "-", "-"]);
    }
}

#[test]
fn a_hierarchical_holder_shows_its_own_path_over_tcp() {
    let env = Env::new("status-tcp");
    let port = TcpPort::new();
    let a = port.args();
    common::run_flom(&args(&[&a, &["-d", "-1", "--", "true"]])).expect_code(0);
    let hold = env.fifo("hold");
    let mut holder = common::spawn_flom(&args(&[&a, &["-r", "/top/sub", "--", "cat", &hold]]));
    wait_summary(
        || common::run_flom(&args(&[&a, &["--status", "--json"]])),
        &[
            "R /top/sub hierarchical",
            "H /top/sub EX None None token 127.0.0.1/PORT nopid",
        ],
    );
    let mut waiter = common::spawn_flom(&args(&[&a, &["-r", "/top", "-l", "PR", "--", "true"]]));
    wait_summary(
        || common::run_flom(&args(&[&a, &["--status", "--json"]])),
        &[
            "R /top/sub hierarchical",
            "H /top/sub EX None None token 127.0.0.1/PORT nopid",
            "W /top PR None 127.0.0.1/PORT nopid",
        ],
    );
    let out = common::run_flom(&args(&[&a, &["--status"]]));
    out.expect_code(0);
    let rows: Vec<Vec<&str>> = out.stdout.lines().skip(1).map(cells).collect();
    assert_eq!(rows[0][..3], ["/top/sub", "hierarchical", "held"]);
    assert!(rows[0][6].starts_with("127.0.0.1/"), "{rows:?}");
    assert_eq!(rows[0][7], "-", "a TCP peer has no pid");
    release(&hold);
    holder.wait(T).expect_code(0);
    waiter.wait(T).expect_code(0);
}

#[test]
fn status_through_discovery() {
    let Some(net) = Net::new("status_through_discovery", "status") else {
        return;
    };
    let g = ["-A", "239.255.70.9", "-P", "28911"];
    net.a
        .flom(&args(&[&g, &["-d", "-1", "--", "true"]]))
        .expect_code(0);
    let fifo = net.mkfifo("hold");
    let mut holder = net
        .b
        .spawn(&args(&[&g, &["-r", "remote", "--", "cat", &fifo]]));
    let mut last = Vec::new();
    let seen = poll_until(T, || {
        let out = net.b.flom(&args(&[&g, &["--status", "--json"]]));
        if out.code() != Some(0) {
            return false;
        }
        last = summary(&out.stdout);
        last.iter().any(|l| l.starts_with("H remote EX"))
    });
    assert!(seen, "the remote holder never showed: {last:?}");
    assert!(
        last.contains(&format!(
            "H remote EX None None token {}/PORT nopid",
            net.b.v4
        )),
        "{last:?}"
    );
    release(&fifo);
    holder.wait(CMD_BOUND).expect_code(0);
    net.b.flom(&args(&[&g, &["-X"]])).expect_code(0);
    net.a.wait_no_process();
}

/// A daemon that reads the request and closes without a byte, as C FLoM
/// 1.7.2 does with a management message it finds invalid; returns what it
/// read.
fn fake_old_daemon(path: &str, read_first: bool) -> std::thread::JoinHandle<String> {
    let listener = UnixListener::bind(path).expect("bind the fake daemon");
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut got = Vec::new();
        if read_first {
            s.set_read_timeout(Some(T)).unwrap();
            let mut b = [0u8; 1024];
            while !got.ends_with(b"</msg>") {
                match s.read(&mut b) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&b[..n]),
                }
            }
        }
        drop(s);
        String::from_utf8_lossy(&got).into_owned()
    })
}

#[test]
fn a_daemon_that_does_not_know_the_request() {
    let env = Env::new("status-old");
    let sock = env.path("old");
    let fake = fake_old_daemon(&sock, true);
    let out = common::run_flom(&["-s", &sock, "--status"]);
    out.expect_code(99).expect_stdout("").expect_stderr(
        "flom: this daemon does not support --status (a C FLoM daemon shows its state in its VFS, -m DIR)\n",
    );
    // The request is C's management message with an element C finds invalid.
    assert_eq!(
        fake.join().unwrap(),
        format!(
            "{PROLOGUE}<msg level=\"3\" verb=\"5\" step=\"8\"><session peerid=\"{}\"/><status version=\"1\"/></msg>",
            machine_id()
        )
    );
    // A daemon that closes before reading (the client may see a reset).
    let sock2 = env.path("old2");
    let fake = fake_old_daemon(&sock2, false);
    let out = common::run_flom(&["-s", &sock2, "--status", "--json"]);
    fake.join().unwrap();
    out.expect_code(99).expect_stdout("");
    assert!(
        out.stderr
            .starts_with("flom: this daemon does not support --status"),
        "{}",
        out.describe()
    );
}

#[test]
fn misuse_and_no_daemon() {
    let env = Env::new("status-misuse");
    let out = env.flom(&["--json"]);
    out.expect_code(99)
        .expect_stderr("flom: --json goes with --status: use flom --status --json\n");
    let out = env.flom(&["--status", "-x"]);
    out.expect_code(99);
    assert!(out
        .stderr
        .starts_with("flom: --status cannot be combined with -x/-X"));
    let out = env.flom(&["--status"]);
    out.expect_code(99).expect_stdout("");
    assert_eq!(
        out.stderr,
        format!(
            "flom: the status request failed: no daemon answers at {} (--status never starts one); check -s, -a or -A\n",
            env.sock
        )
    );
    assert!(!common::exists(&env.sock), "--status started a daemon");
    // The help lists both options.
    let help = env.flom(&["--help"]);
    assert!(help.stdout.contains("--status") && help.stdout.contains("--json"));
}
