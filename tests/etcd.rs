//! Locks kept in etcd: a real 3-member cluster on loopback ports (data on
//! tmpfs) per test, two flom daemons on it (two sockets), and what clients
//! of each see: mutual exclusion for the lock modes, numeric quantities and
//! set elements across the daemons, waiters served in create-revision
//! order, a killed daemon's locks released after the lease TTL and not
//! before, a daemon cut off from etcd stopping its holder's command (exit
//! 99), the leader killed while locks are held and waited for, and a clear
//! error when etcd is down at start. Skipped when `etcd` is not installed.

mod common;
#[path = "common/etcd.rs"]
mod etcd_cluster;
#[path = "../src/tls/test_pki.rs"]
mod pki;

use common::{lines, mkfifo, release, run_flom, skip, spawn_flom, the_daemon, wait_line, Bg, Env};
use etcd_cluster::{etcd_installed, free_port, Cluster, Forwarder};
use std::time::{Duration, Instant};

const TTL: &str = "2";

/// One cluster at a time: 3 members per test on 2 shared cores would
/// starve each other's heartbeats (elections, timeouts) if run in parallel.
static ONE_CLUSTER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn need_etcd(test: &str) -> Option<std::sync::MutexGuard<'static, ()>> {
    if etcd_installed() {
        Some(ONE_CLUSTER.lock().unwrap_or_else(|e| e.into_inner()))
    } else {
        skip(test, "etcd not installed");
        None
    }
}

/// A daemon on `sock` keeping its locks in etcd at `endpoints`; the
/// arguments every client of it takes.
struct Side {
    sock: String,
    endpoints: String,
    ttl: String,
}

impl Side {
    fn new(env: &Env, name: &str, endpoints: &str, ttl: &str) -> Side {
        let side = Side {
            sock: env.other_sock(name),
            endpoints: endpoints.to_string(),
            ttl: ttl.to_string(),
        };
        run_flom(&side.args(&["-d", "-1", "-r", "warmup", "--", "true"]))
            .expect_code(0)
            .expect_stderr("");
        env.track(the_daemon(&side.sock));
        side
    }

    fn args<'a>(&'a self, rest: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec![
            "-s",
            self.sock.as_str(),
            "--etcd-endpoints",
            self.endpoints.as_str(),
            "--etcd-lease-ttl",
            self.ttl.as_str(),
        ];
        v.extend_from_slice(rest);
        v
    }

    fn run(&self, rest: &[&str]) -> common::Out {
        run_flom(&self.args(rest))
    }

    fn spawn(&self, rest: &[&str]) -> Bg {
        spawn_flom(&self.args(rest))
    }

    /// Holds `resource` (extra options `opts`) until `fifo` is released;
    /// returns once the command runs (it wrote `tag` to `log`).
    fn hold(&self, opts: &[&str], fifo: &str, log: &str, tag: &str) -> Bg {
        let script = etcd_cluster::hold_script(tag, fifo, log);
        let mut a: Vec<&str> = opts.to_vec();
        a.extend(["--", "sh", "-c", &script]);
        let bg = self.spawn(&a);
        wait_line(log, tag);
        bg
    }
}

fn compatible(held: &str, asked: &str) -> bool {
    let rank = |m: &str| {
        ["NL", "CR", "CW", "PR", "PW", "EX"]
            .iter()
            .position(|x| *x == m)
            .unwrap()
    };
    // The DLM table, row: held, column: asked.
    const T: [[bool; 6]; 6] = [
        [true, true, true, true, true, true],
        [true, true, true, true, true, false],
        [true, true, true, false, false, false],
        [true, true, false, true, false, false],
        [true, true, false, false, false, false],
        [true, false, false, false, false, false],
    ];
    T[rank(held)][rank(asked)]
}

#[test]
fn lock_modes_exclude_across_two_daemons() {
    let Some(_one) = need_etcd("lock_modes_exclude_across_two_daemons") else {
        return;
    };
    let cluster = Cluster::start("modes");
    let env = Env::new("etcd-modes");
    let a = Side::new(&env, "a", &cluster.url(0), TTL);
    let b = Side::new(&env, "b", &cluster.url(1), TTL);
    let modes = ["NL", "CR", "CW", "PR", "PW", "EX"];
    let log = env.path("log");
    for held in modes {
        let fifo = env.path(&format!("f-{held}"));
        mkfifo(&fifo);
        let mut holder = a.hold(
            &["-r", "R", "-l", held],
            &fifo,
            &log,
            &format!("hold-{held}"),
        );
        for asked in modes {
            let out = b.run(&["-r", "R", "-l", asked, "-o", "0", "--", "true"]);
            let expect = if compatible(held, asked) { 0 } else { 98 };
            assert_eq!(
                out.code(),
                Some(expect),
                "held {held}, asked {asked}: {}",
                out.describe()
            );
        }
        release(&fifo);
        holder.wait(common::T).expect_code(0);
    }
    // The keys went with the unlocks.
    cluster.wait_keys("/flom/r/", 0);
}

/// `FLOM_FENCING_TOKEN` of an etcd daemon is the cluster's revision when
/// the grant was decided: it increases with every grant of the resource,
/// whichever daemon grants it.
#[test]
fn fencing_tokens_increase_across_daemons() {
    let Some(_one) = need_etcd("fencing_tokens_increase_across_daemons") else {
        return;
    };
    let cluster = Cluster::start("fence");
    let env = Env::new("etcd-fence");
    let a = Side::new(&env, "a", &cluster.url(0), TTL);
    let b = Side::new(&env, "b", &cluster.url(1), TTL);
    let log = env.path("log");
    let script = format!("echo \"$FLOM_FENCING_TOKEN\" >> {log}");
    for side in [&a, &b, &a, &b] {
        side.run(&["--fencing", "-r", "F", "--", "sh", "-c", &script])
            .expect_code(0);
    }
    let tokens: Vec<u64> = lines(&log)
        .iter()
        .map(|t| t.parse().unwrap_or_else(|_| panic!("token {t:?}")))
        .collect();
    assert_eq!(tokens.len(), 4);
    assert!(tokens.windows(2).all(|w| w[0] < w[1]), "{tokens:?}");
    // --verbose tells the request's etcd key (its daemon's lease, then
    // its number), once, before the grant.
    let out = a.run(&["--verbose", "-r", "F", "--", "true"]);
    out.expect_code(0);
    let told: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("etcd as key"))
        .collect();
    assert_eq!(told.len(), 1, "{}", out.describe());
    assert!(
        told[0].starts_with("flom: the request is kept in etcd as key '/flom/r/F/"),
        "{}",
        out.describe()
    );
    let granted = out.stderr.find("granted").unwrap_or(0);
    assert!(
        out.stderr.find("etcd as key").unwrap() < granted,
        "{}",
        out.describe()
    );
}

#[test]
fn waiters_are_served_in_create_revision_order() {
    let Some(_one) = need_etcd("waiters_are_served_in_create_revision_order") else {
        return;
    };
    let cluster = Cluster::start("fifo");
    let env = Env::new("etcd-fifo");
    let a = Side::new(&env, "a", &cluster.endpoints(), TTL);
    let b = Side::new(&env, "b", &cluster.url(2), TTL);
    let log = env.path("log");
    let fifo = env.path("f");
    mkfifo(&fifo);
    let mut holder = a.hold(&["-r", "Q"], &fifo, &log, "holder");
    let mut waiters = Vec::new();
    for (i, side) in [&b, &a, &b, &a].iter().enumerate() {
        let script = format!("echo w{i} >> {log}");
        waiters.push(side.spawn(&["-r", "Q", "--", "sh", "-c", &script]));
        cluster.wait_keys("/flom/r/Q/", i + 2);
    }
    // `--status` of either daemon lists the whole cluster's queue, in
    // create-revision order, each request named by the daemon keeping it.
    let (pid_a, pid_b) = (the_daemon(&a.sock), the_daemon(&b.sock));
    let daemon_of = |row: &Vec<&str>| row.last().unwrap().rsplit(':').next().unwrap().to_string();
    for side in [&a, &b] {
        let status = side.run(&["--status"]);
        status.expect_code(0).expect_stderr("");
        let rows: Vec<Vec<&str>> = status
            .stdout
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect())
            .filter(|r: &Vec<&str>| r[0] != "warmup") // (idle a while after Side::new)
            .collect();
        let states: Vec<&str> = rows.iter().map(|r| r[2]).collect();
        assert_eq!(
            states,
            ["held", "waiting", "waiting", "waiting", "waiting"],
            "{}",
            status.stdout
        );
        assert!(rows.iter().all(|r| r[0] == "Q"), "{}", status.stdout);
        let daemons: Vec<String> = rows.iter().map(daemon_of).collect();
        let (pa, pb) = (pid_a.to_string(), pid_b.to_string());
        assert_eq!(
            daemons,
            [
                pa.as_str(),
                pb.as_str(),
                pa.as_str(),
                pb.as_str(),
                pa.as_str()
            ],
            "{}",
            status.stdout
        );
        // Its own clients have a peer; the other daemon's do not.
        let own = if std::ptr::eq(side, &a) { &pa } else { &pb };
        for r in &rows {
            assert_eq!(
                r[6] == "localhost/",
                &daemon_of(r) == own,
                "{}",
                status.stdout
            );
        }
    }
    // --verbose adds each request's etcd key; --json says the scope.
    let verbose = a.run(&["--status", "--verbose"]);
    verbose.expect_code(0);
    let keys: Vec<&str> = verbose
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("RESOURCE"))
        .filter(|l| l.starts_with("Q "))
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    assert_eq!(keys.len(), 5, "{}", verbose.stdout);
    assert!(
        keys.iter().all(|k| k.starts_with("/flom/r/Q/")),
        "{}",
        verbose.stdout
    );
    let json = b.run(&["--status", "--json"]);
    json.expect_code(0);
    assert!(
        json.stdout.contains("\"scope\": \"cluster\""),
        "{}",
        json.stdout
    );
    assert_eq!(
        json.stdout.matches("\"etcd_key\": \"/flom/r/Q/").count(),
        5,
        "{}",
        json.stdout
    );
    release(&fifo);
    holder.wait(common::T).expect_code(0);
    for mut w in waiters {
        w.wait(common::T).expect_code(0);
    }
    let got = lines(&log);
    assert_eq!(got, ["holder", "holder-out", "w0", "w1", "w2", "w3"]);
}

#[test]
fn quantities_and_set_elements_across_two_daemons() {
    let Some(_one) = need_etcd("quantities_and_set_elements_across_two_daemons") else {
        return;
    };
    let cluster = Cluster::start("qty");
    let env = Env::new("etcd-qty");
    let a = Side::new(&env, "a", &cluster.url(0), TTL);
    let b = Side::new(&env, "b", &cluster.url(1), TTL);
    let log = env.path("log");
    let fifo = env.path("f");
    mkfifo(&fifo);
    let mut holder = a.hold(&["-r", "N[3]", "-q", "2"], &fifo, &log, "two");
    b.run(&["-r", "N[3]", "-q", "2", "-o", "0", "--", "true"])
        .expect_code(98);
    b.run(&["-r", "N[3]", "-q", "1", "-o", "0", "--", "true"])
        .expect_code(0);
    // More than the capacity: never (as the in-memory daemon says it).
    b.run(&["-r", "N[3]", "-q", "4", "--", "true"])
        .expect_code(99);
    release(&fifo);
    holder.wait(common::T).expect_code(0);
    cluster.wait_keys("/flom/r/N[3]/", 0);
    b.run(&["-r", "N[3]", "-q", "3", "-o", "0", "--", "true"])
        .expect_code(0);

    // Set: each daemon's holder gets its own element; a third is refused.
    let (f1, f2) = (env.path("s1"), env.path("s2"));
    mkfifo(&f1);
    mkfifo(&f2);
    let hold_el = |side: &Side, f: &str, tag: &str| {
        let script = format!("echo {tag}:$1 >> {log}; cat {f} > /dev/null");
        let bg = side.spawn(&["-r", "red.green", "--", "sh", "-c", &script, "x"]);
        common::wait_until(common::T, tag, || {
            lines(&log)
                .iter()
                .any(|l| l.starts_with(&format!("{tag}:")))
        });
        bg
    };
    let mut h1 = hold_el(&a, &f1, "e1");
    let mut h2 = hold_el(&b, &f2, "e2");
    b.run(&["-r", "red.green", "-o", "0", "--", "true"])
        .expect_code(98);
    // Both holders and their elements, whichever daemon is asked.
    let status = a.run(&["--status", "--json"]);
    status.expect_code(0);
    for element in ["red", "green"] {
        assert!(
            status
                .stdout
                .contains(&format!("\"element\": \"{element}\"")),
            "{}",
            status.stdout
        );
    }
    let els: Vec<String> = lines(&log)
        .iter()
        .filter_map(|l| l.split_once(':').map(|x| x.1.to_string()))
        .collect();
    let mut sorted = els.clone();
    sorted.sort();
    assert_eq!(sorted, ["green", "red"], "elements {els:?}");
    release(&f1);
    release(&f2);
    h1.wait(common::T).expect_code(0);
    h2.wait(common::T).expect_code(0);
}

#[test]
fn killed_daemon_releases_after_the_ttl_not_before() {
    let Some(_one) = need_etcd("killed_daemon_releases_after_the_ttl_not_before") else {
        return;
    };
    let cluster = Cluster::start("kill");
    let env = Env::new("etcd-kill");
    let a = Side::new(&env, "a", &cluster.endpoints(), TTL);
    let b = Side::new(&env, "b", &cluster.endpoints(), TTL);
    let log = env.path("log");
    let fifo = env.path("f");
    mkfifo(&fifo);
    // `exec`: the command is `cat` itself, which the SIGTERM ends.
    let hold = format!("echo holder >> {log}; exec cat {fifo} > /dev/null");
    let mut holder = a.spawn(&["-r", "K", "--", "sh", "-c", &hold]);
    wait_line(&log, "holder");
    let script = format!("echo waiter >> {log}");
    let mut waiter = b.spawn(&["-r", "K", "--", "sh", "-c", &script]);
    cluster.wait_keys("/flom/r/K/", 2);
    let killed = Instant::now();
    // SAFETY: a daemon this test started.
    unsafe { libc::kill(the_daemon(&a.sock), libc::SIGKILL) };
    // Its holder is told at once; the lock stays in etcd until the TTL.
    let out = holder.wait(common::T);
    assert_eq!(out.code(), Some(99), "{}", out.describe());
    assert!(
        out.stderr.contains("the lock on 'K' was lost"),
        "{}",
        out.describe()
    );
    waiter.wait(Duration::from_secs(10)).expect_code(0);
    let after = killed.elapsed();
    println!("waiter granted {after:?} after the kill -9 (TTL {TTL} s)");
    assert!(
        after >= Duration::from_millis(1200),
        "granted too soon: {after:?}"
    );
    assert!(
        after <= Duration::from_secs(5),
        "granted too late: {after:?}"
    );
}

#[test]
fn daemon_cut_off_from_etcd_stops_its_command() {
    let Some(_one) = need_etcd("daemon_cut_off_from_etcd_stops_its_command") else {
        return;
    };
    let cluster = Cluster::start("cut");
    let env = Env::new("etcd-cut");
    let fwd = Forwarder::start(cluster.members[0].client);
    let a = Side::new(&env, "a", &fwd.url(), TTL);
    let b = Side::new(&env, "b", &cluster.endpoints(), TTL);
    let log = env.path("log");
    let script = format!(
        "trap 'echo TERM >> {log}; exit 0' TERM; echo holder >> {log}; while :; do sleep 0.05; done"
    );
    let mut holder = a.spawn(&["-r", "C", "--", "sh", "-c", &script]);
    wait_line(&log, "holder");
    let w = format!("echo waiter >> {log}");
    let mut waiter = b.spawn(&["-r", "C", "--", "sh", "-c", &w]);
    cluster.wait_keys("/flom/r/C/", 2);
    let cut = Instant::now();
    fwd.cut();
    let out = holder.wait(common::T);
    let told = cut.elapsed();
    assert_eq!(out.code(), Some(99), "{}", out.describe());
    assert!(
        out.stderr.contains("the lock on 'C' was lost"),
        "{}",
        out.describe()
    );
    waiter.wait(common::T).expect_code(0);
    let granted = cut.elapsed();
    println!("cut off: holder stopped after {told:?}, other side granted after {granted:?}");
    assert_eq!(lines(&log), ["holder", "TERM", "waiter"]);
    assert!(told < Duration::from_secs(3), "{told:?}");
}

#[test]
fn leader_killed_while_locks_are_held_and_waited_for() {
    let Some(_one) = need_etcd("leader_killed_while_locks_are_held_and_waited_for") else {
        return;
    };
    let mut cluster = Cluster::start("leader");
    let env = Env::new("etcd-leader");
    let eps = cluster.endpoints();
    let a = Side::new(&env, "a", &eps, "4");
    let b = Side::new(&env, "b", &eps, "4");
    let log = env.path("log");
    let fifo = env.path("f");
    mkfifo(&fifo);
    let mut holder = a.hold(&["-r", "L"], &fifo, &log, "holder");
    let w = format!("echo waiter >> {log}");
    let mut waiter = b.spawn(&["-r", "L", "--", "sh", "-c", &w]);
    cluster.wait_keys("/flom/r/L/", 2);
    let leader = cluster.leader().expect("a leader");
    cluster.kill_member(leader);
    // A request made during the election is retried until a leader serves.
    b.run(&["-r", "L2", "--", "true"]).expect_code(0);
    // Past a new election and several keepalives: nothing lost, nothing doubled.
    std::thread::sleep(Duration::from_secs(5));
    assert!(holder.is_running(), "the holder lost its lock");
    assert_eq!(lines(&log), ["holder"]);
    release(&fifo);
    holder.wait(common::T).expect_code(0);
    waiter.wait(common::T).expect_code(0);
    assert_eq!(lines(&log), ["holder", "holder-out", "waiter"]);
}

/// `out` failed with exit status 99 and one line on stderr, starting with
/// `start`.
#[track_caller]
fn one_sentence(out: &common::Out, start: &str) {
    assert_eq!(out.code(), Some(99), "{}", out.describe());
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.describe());
    assert!(out.stderr.starts_with(start), "{}", out.describe());
}

#[test]
fn etcd_down_at_start_is_a_clear_error() {
    // No etcd needed: nothing listens on the port.
    let env = Env::new("etcd-down");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let out = run_flom(&["-s", &env.sock, "--etcd-endpoints", &url, "--", "true"]);
    // One sentence, naming the endpoint (no second one about the daemon).
    one_sentence(&out, &format!("flom: cannot reach etcd at {url}"));
    let out = run_flom(&["-s", &env.sock, "--etcd-endpoints", "ftp:/x", "--", "true"]);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.describe());
    assert!(
        out.stderr.starts_with("flom: etcd endpoint 'ftp:/x'"),
        "{}",
        out.describe()
    );
    // Something that is not etcd answers with an error page: one line.
    let web = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", web.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut c, _) = web.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = c.read(&mut buf);
        let page = "<html><body>\n<h1>Not Found</h1>\n<p>nothing here</p>\n</body></html>\n";
        let _ = write!(
            c,
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{page}",
            page.len()
        );
    });
    let out = run_flom(&["-s", &env.sock, "--etcd-endpoints", &url, "--", "true"]);
    server.join().unwrap();
    assert_eq!(out.code(), Some(99), "{}", out.describe());
    assert_eq!(
        out.stderr.trim_end(),
        format!("flom: etcd at {url} rejected /v3/lease/grant (HTTP 404): 'Not Found' (not an etcd answer: is it an etcd v3 client URL?)"),
        "{}",
        out.describe()
    );
}

#[test]
fn hierarchical_paths_and_sequences_across_two_daemons() {
    let Some(_one) = need_etcd("hierarchical_paths_and_sequences_across_two_daemons") else {
        return;
    };
    let cluster = Cluster::start("hier");
    let env = Env::new("etcd-hier");
    let a = Side::new(&env, "a", &cluster.url(0), TTL);
    let b = Side::new(&env, "b", &cluster.url(1), TTL);
    let log = env.path("log");
    let fifo = env.path("f");
    mkfifo(&fifo);
    let mut holder = a.hold(&["-r", "/top/left"], &fifo, &log, "left");
    b.run(&["-r", "/top/right", "-o", "0", "--", "true"])
        .expect_code(0);
    b.run(&["-r", "/top", "-o", "0", "--", "true"])
        .expect_code(98);
    b.run(&["-r", "/top/left/deep", "-o", "0", "--", "true"])
        .expect_code(98);
    b.run(&["-r", "/top/left", "-l", "NL", "-o", "0", "--", "true"])
        .expect_code(0);
    release(&fifo);
    holder.wait(common::T).expect_code(0);
    // The unlock's delete is committed a moment after flom exits.
    cluster.wait_keys("/flom/r/%2Ftop/", 0);
    b.run(&["-r", "/top", "-o", "0", "--", "true"])
        .expect_code(0);

    // A sequence numbers its grants across the daemons, 1, 2, 3, …
    let number = |side: &Side, name: &str, status: &str| -> String {
        let script = format!("echo $1; exit {status}");
        let out = side.run(&["-r", name, "--", "sh", "-c", &script, "x"]);
        out.stdout.trim().to_string()
    };
    let got: Vec<String> = [&a, &b, &a, &b]
        .iter()
        .map(|s| number(s, "_s_seq[2]", "0"))
        .collect();
    assert_eq!(got, ["1", "2", "3", "4"]);
    // Transactional: a failed command's number (rollback) is handed out again.
    assert_eq!(number(&a, "_S_tx[1]", "0"), "1");
    assert_eq!(number(&b, "_S_tx[1]", "3"), "2");
    assert_eq!(number(&a, "_S_tx[1]", "0"), "2");
    assert_eq!(number(&b, "_S_tx[1]", "0"), "3");

    // Timestamps: unique across the daemons (one per grain, here 1/10 s).
    let stamps: Vec<String> = [&a, &b, &a, &b, &a, &b]
        .iter()
        .map(|s| number(s, "_t_%H%M%S#f[1]", "0"))
        .collect();
    let mut unique = stamps.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), stamps.len(), "{stamps:?}");
    assert!(stamps.iter().all(|t| t.len() == 8), "{stamps:?}");
}

#[test]
fn whole_cluster_restarted_while_a_lock_is_held() {
    let Some(_one) = need_etcd("whole_cluster_restarted_while_a_lock_is_held") else {
        return;
    };
    let mut cluster = Cluster::start("restart");
    let env = Env::new("etcd-restart");
    let eps = cluster.endpoints();
    // A TTL long enough for a restart of the whole cluster.
    let a = Side::new(&env, "a", &eps, "10");
    let b = Side::new(&env, "b", &eps, "10");
    let log = env.path("log");
    let fifo = env.path("f");
    mkfifo(&fifo);
    let mut holder = a.hold(&["-r", "W"], &fifo, &log, "holder");
    let w = format!("echo waiter >> {log}");
    let mut waiter = b.spawn(&["-r", "W", "--", "sh", "-c", &w]);
    cluster.wait_keys("/flom/r/W/", 2);
    let down = Instant::now();
    for i in 0..3 {
        cluster.kill_member(i);
    }
    for i in 0..3 {
        cluster.start_member(i);
    }
    cluster.wait_ready(Duration::from_secs(20));
    println!("cluster back after {:?}", down.elapsed());
    // The keys and the lease survived: the holder holds, the waiter waits.
    cluster.wait_keys("/flom/r/W/", 2);
    std::thread::sleep(Duration::from_secs(2));
    assert!(holder.is_running(), "the holder lost its lock");
    assert_eq!(lines(&log), ["holder"]);
    release(&fifo);
    holder.wait(common::T).expect_code(0);
    waiter.wait(common::T).expect_code(0);
    assert_eq!(lines(&log), ["holder", "holder-out", "waiter"]);
}

#[test]
fn create_no_waits_for_the_resource_across_daemons() {
    let Some(_one) = need_etcd("create_no_waits_for_the_resource_across_daemons") else {
        return;
    };
    let cluster = Cluster::start("incub");
    let env = Env::new("etcd-incub");
    let a = Side::new(&env, "a", &cluster.url(0), TTL);
    let b = Side::new(&env, "b", &cluster.url(1), TTL);
    let log = env.path("log");
    // Nothing holds Z: a create=no request that cannot wait is refused.
    b.run(&["-r", "Z", "-e", "no", "-o", "0", "--", "true"])
        .expect_code(96);
    let w = format!("echo late >> {log}");
    let mut late = b.spawn(&["-r", "Z", "-e", "no", "--", "sh", "-c", &w]);
    // It waits (no key) until the other daemon's client creates Z.
    std::thread::sleep(Duration::from_millis(300));
    assert!(late.is_running());
    assert!(cluster.keys("/flom/r/Z/").is_empty());
    let fifo = env.path("f");
    mkfifo(&fifo);
    let mut holder = a.hold(&["-r", "Z"], &fifo, &log, "holder");
    cluster.wait_keys("/flom/r/Z/", 2);
    release(&fifo);
    holder.wait(common::T).expect_code(0);
    late.wait(common::T).expect_code(0);
    assert_eq!(lines(&log), ["holder", "holder-out", "late"]);

    // A released resource stays for its idle lifespan (-i, plus 1 s of
    // grace), across daemons: --status lists it idle and a create=no
    // request finds it; the last release's lifespan wins.
    a.run(&["-r", "Y", "-i", "5000", "--", "true"])
        .expect_code(0);
    let status = b.run(&["--status"]);
    status.expect_code(0);
    let idle: Vec<&str> = status
        .stdout
        .lines()
        .filter(|l| l.starts_with("Y "))
        .collect();
    assert_eq!(idle.len(), 1, "{}", status.stdout);
    assert!(idle[0].contains(" idle "), "{}", status.stdout);
    b.run(&["-r", "Y", "-e", "no", "-o", "0", "--", "true"])
        .expect_code(0);
    // b's release (-i 0: 2 s) replaced a's marker; b deletes it when it
    // expires, then Y is gone.
    cluster.wait_keys("/flom/i/Y", 0);
    b.run(&["-r", "Y", "-e", "no", "-o", "0", "--", "true"])
        .expect_code(96);
}

#[test]
fn immediate_shutdown_revokes_the_lease() {
    let Some(_one) = need_etcd("immediate_shutdown_revokes_the_lease") else {
        return;
    };
    let cluster = Cluster::start("revoke");
    let env = Env::new("etcd-revoke");
    let a = Side::new(&env, "a", &cluster.endpoints(), "30");
    let log = env.path("log");
    let fifo = env.path("f");
    mkfifo(&fifo);
    let hold = format!("echo holder >> {log}; exec cat {fifo} > /dev/null");
    let mut holder = a.spawn(&["-r", "V", "--", "sh", "-c", &hold]);
    wait_line(&log, "holder");
    cluster.wait_keys("/flom/r/V/", 1);
    run_flom(&["-s", &a.sock, "-X"]);
    // The lease is revoked as the daemon ends: its keys go at once, not
    // after the 30 s TTL.
    cluster.wait_keys("/flom/r/V/", 0);
    let out = holder.wait(common::T);
    assert_eq!(out.code(), Some(99), "{}", out.describe());
}

#[test]
fn cluster_down_then_back_a_daemon_serves_again() {
    let Some(_one) = need_etcd("cluster_down_then_back_a_daemon_serves_again") else {
        return;
    };
    let mut cluster = Cluster::start("back");
    let env = Env::new("etcd-back");
    let a = Side::new(&env, "a", &cluster.endpoints(), TTL);
    let log = env.path("log");
    let fifo = env.path("f");
    mkfifo(&fifo);
    let hold = format!("echo holder >> {log}; exec cat {fifo} > /dev/null");
    let mut holder = a.spawn(&["-r", "B", "--", "sh", "-c", &hold]);
    wait_line(&log, "holder");
    for i in 0..3 {
        cluster.kill_member(i);
    }
    // No keepalive for 3/4 of the TTL: the lease is given up, the holder told.
    let out = holder.wait(common::T);
    assert_eq!(out.code(), Some(99), "{}", out.describe());
    assert!(
        out.stderr.contains("the lock on 'B' was lost"),
        "{}",
        out.describe()
    );
    // --status while etcd is down: the daemon's own clients, and why.
    let status = a.run(&["--status"]);
    status.expect_code(0);
    assert!(
        status
            .stderr
            .starts_with("flom: warning: etcd could not be read"),
        "{}",
        status.describe()
    );
    assert!(
        status.stdout.starts_with("RESOURCE"),
        "{}",
        status.describe()
    );
    for i in 0..3 {
        cluster.start_member(i);
    }
    cluster.wait_ready(Duration::from_secs(20));
    // The daemon takes a new lease and revokes the old one (whose key the
    // restarted cluster kept): B is free again well before the old TTL.
    let back = Instant::now();
    common::wait_until(
        Duration::from_secs(10),
        "a lock through the daemon again",
        || a.run(&["-r", "B", "-o", "0", "--", "true"]).code() == Some(0),
    );
    println!(
        "served again {:?} after the cluster came back",
        back.elapsed()
    );
}

#[test]
fn etcd_settings_from_a_config_file() {
    // [Etcd] in a config file (-c) like the options; no etcd needed.
    let env = Env::new("etcd-conf");
    let port = free_port();
    let conf = env.path("flom.conf");
    let text = format!("[Etcd]\nEndpoints=http://127.0.0.1:{port}\nPrefix=/locks/\nLeaseTtl=5\n");
    std::fs::write(&conf, text).unwrap();
    let out = run_flom(&["-s", &env.sock, "-c", &conf, "--", "true"]);
    assert!(
        out.stderr.starts_with(&format!(
            "flom: cannot reach etcd at http://127.0.0.1:{port}"
        )),
        "{}",
        out.describe()
    );
    std::fs::write(
        &conf,
        format!("[Etcd]\nEndpoints=http://127.0.0.1:{port}\nPrefix=locks\n"),
    )
    .unwrap();
    let out = run_flom(&["-s", &env.sock, "-c", &conf, "--", "true"]);
    assert!(
        out.stderr.starts_with("flom: [Etcd]/Prefix 'locks' must"),
        "{}",
        out.describe()
    );
}

#[test]
fn killed_client_releases_at_once() {
    let Some(_one) = need_etcd("killed_client_releases_at_once") else {
        return;
    };
    let cluster = Cluster::start("client");
    let env = Env::new("etcd-client");
    // A long TTL: the release must come from the hang-up, not the lease.
    let a = Side::new(&env, "a", &cluster.url(0), "30");
    let b = Side::new(&env, "b", &cluster.url(1), "30");
    let log = env.path("log");
    let fifo = env.path("f");
    mkfifo(&fifo);
    let holder = a.hold(&["-r", "H"], &fifo, &log, "holder");
    let w = format!("echo waiter >> {log}");
    let mut waiter = b.spawn(&["-r", "H", "--", "sh", "-c", &w]);
    cluster.wait_keys("/flom/r/H/", 2);
    let killed = Instant::now();
    drop(holder); // SIGKILL to flom and its command
    waiter.wait(common::T).expect_code(0);
    assert!(
        killed.elapsed() < Duration::from_secs(5),
        "{:?}",
        killed.elapsed()
    );
    assert_eq!(lines(&log), ["holder", "waiter"]);
}

/// A CA, a member certificate for IP 127.0.0.1 and a client certificate,
/// all signed by the CA, in `dir` (ca.pem, member.pem/.key, client.pem/.key).
fn etcd_pki(dir: &std::path::Path) {
    use pki::openssl;
    std::fs::create_dir_all(dir).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec![
        "req",
        "-x509",
        "-days",
        "2",
        "-subj",
        "/CN=flom test etcd CA",
    ];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(dir, &ca);
    std::fs::write(dir.join("member.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for (name, cn) in [("member", "etcd member"), ("client", "flom daemon")] {
        let subj = format!("/CN={cn}");
        let mut req = vec!["req", "-subj", &subj];
        req.extend(ec);
        let (key, csr, pem, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        req.extend(["-keyout", &key, "-out", &csr]);
        openssl(dir, &req);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &ext,
                "-out",
                &pem,
            ],
        );
    }
}

/// One etcd member serving https (client certificates required) and, for
/// the test's own reads, plain http on a second port; killed on drop.
struct TlsMember {
    child: std::process::Child,
    https: u16,
    http: u16,
}

impl TlsMember {
    fn start(dir: &std::path::Path, pki: &std::path::Path) -> TlsMember {
        let (https, http, peer) = (free_port(), free_port(), free_port());
        let log = std::fs::File::create(dir.join("etcd.log")).unwrap();
        let clients = format!("https://127.0.0.1:{https},http://127.0.0.1:{http}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let p = |f: &str| pki.join(f).to_str().unwrap().to_string();
        let child = std::process::Command::new("etcd")
            .args(["--name", "tls0", "--data-dir"])
            .arg(dir.join("data"))
            .args([
                "--listen-client-urls",
                &clients,
                "--advertise-client-urls",
                &clients,
            ])
            .args([
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
            ])
            .args(["--initial-cluster", &format!("tls0={peer_url}")])
            .args([
                "--cert-file",
                &p("member.pem"),
                "--key-file",
                &p("member.key"),
            ])
            .args(["--client-cert-auth", "--trusted-ca-file", &p("ca.pem")])
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start etcd");
        let m = TlsMember { child, https, http };
        common::wait_until(Duration::from_secs(20), "the TLS member serves", || {
            let body = serde_json::json!({"key": etcd_cluster::b64("/ready"), "value": etcd_cluster::b64("1")});
            etcd_cluster::post(m.http, "/v3/kv/put", &body).is_some()
        });
        m
    }
}

impl Drop for TlsMember {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// https:// endpoints: the member's certificate checked against
/// [Etcd]/CaFile, the daemon's client certificate shown; a missing CA or
/// client certificate is one sentence naming the endpoint.
#[test]
fn tls_to_etcd_with_a_client_certificate() {
    let Some(_one) = need_etcd("tls_to_etcd_with_a_client_certificate") else {
        return;
    };
    let env = Env::new("etcd-tls");
    let pki = env.dir.join("pki");
    etcd_pki(&pki);
    let member = TlsMember::start(&env.dir, &pki);
    let url = format!("https://127.0.0.1:{}", member.https);
    let file = |f: &str| pki.join(f).to_str().unwrap().to_string();
    let (ca, cert, key) = (file("ca.pem"), file("client.pem"), file("client.key"));
    let tls = |sock: &str, rest: &[&str]| {
        let mut a = vec![
            "-s".to_string(),
            sock.to_string(),
            format!("--etcd-endpoints={url}"),
            format!("--etcd-ca-file={ca}"),
            format!("--etcd-cert-file={cert}"),
            format!("--etcd-key-file={key}"),
            "--etcd-lease-ttl=5".to_string(),
        ];
        a.extend(rest.iter().map(|s| s.to_string()));
        a
    };
    let run = |args: Vec<String>| run_flom(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (sa, sb) = (env.other_sock("a"), env.other_sock("b"));
    run(tls(&sa, &["-d", "-1", "-r", "warmup", "--", "true"]))
        .expect_code(0)
        .expect_stderr("");
    env.track(the_daemon(&sa));
    run(tls(&sb, &["-d", "-1", "-r", "warmup", "--", "true"]))
        .expect_code(0)
        .expect_stderr("");
    env.track(the_daemon(&sb));
    // Mutual exclusion through the TLS member, and the key is there.
    let (log, fifo) = (env.path("log"), env.path("f"));
    mkfifo(&fifo);
    let script = format!("echo held >> {log}; cat {fifo} > /dev/null");
    let mut holder = spawn_flom(
        &tls(&sa, &["-r", "T", "--", "sh", "-c", &script])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    wait_line(&log, "held");
    run(tls(&sb, &["-r", "T", "-o", "0", "--", "true"])).expect_code(98);
    let range = serde_json::json!({"key": etcd_cluster::b64("/flom/r/T/"), "range_end": etcd_cluster::b64("/flom/r/T0"), "keys_only": true});
    let held = etcd_cluster::post(member.http, "/v3/kv/range", &range).unwrap();
    assert_eq!(held["kvs"].as_array().map(Vec::len), Some(1), "{held}");
    let w = format!("echo waiter >> {log}");
    let mut waiter = spawn_flom(
        &tls(&sb, &["-r", "T", "--", "sh", "-c", &w])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    common::wait_until(common::T, "the waiter's key", || {
        etcd_cluster::post(member.http, "/v3/kv/range", &range)
            .and_then(|v| v["kvs"].as_array().map(Vec::len))
            == Some(2)
    });
    release(&fifo);
    holder.wait(common::T).expect_code(0);
    waiter.wait(common::T).expect_code(0);
    assert_eq!(lines(&log), ["held", "waiter"]);

    // Without the CA (the system's CAs do not know it): not trusted.
    let sc = env.other_sock("c");
    let out = run_flom(&["-s", &sc, &format!("--etcd-endpoints={url}"), "--", "true"]);
    one_sentence(&out, &format!("flom: cannot reach etcd at {url}"));
    assert!(
        out.stderr.contains("not trusted") && out.stderr.contains("[Etcd]/CaFile"),
        "{}",
        out.describe()
    );
    assert!(
        !out.stderr.contains("[Etcd]/Endpoints"),
        "{}",
        out.describe()
    );
    // With the CA but no client certificate: the member refuses.
    let out = run_flom(&[
        "-s",
        &sc,
        &format!("--etcd-endpoints={url}"),
        &format!("--etcd-ca-file={ca}"),
        "--",
        "true",
    ]);
    one_sentence(&out, &format!("flom: cannot reach etcd at {url}"));
    assert!(out.stderr.contains("[Etcd]/CertFile"), "{}", out.describe());
    // A certificate without its key is a usage mistake, told before etcd.
    let out = run_flom(&[
        "-s",
        &sc,
        &format!("--etcd-endpoints={url}"),
        &format!("--etcd-cert-file={cert}"),
        "--",
        "true",
    ]);
    assert_eq!(out.code(), Some(99), "{}", out.describe());
    assert!(out.stderr.contains("go together"), "{}", out.describe());
    for s in [&sa, &sb] {
        run(tls(s, &["-X"])).expect_code(0);
    }
}
