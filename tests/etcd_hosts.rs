//! Locks kept in etcd, two network namespaces as two hosts: the 3 etcd
//! members run inside a namespace E (peers over E's loopback, clients on
//! every address of E), and two flom daemons run in namespaces H1 and H2,
//! each joined to E by its own veth pair (E–H1 198.18.11.0/24, E–H2
//! 198.18.12.0/24, the benchmark range: nothing exists in the machine's
//! own namespace) and each with its own UTS hostname (`host1`, `host2`).
//! Each daemon's endpoint list is the three members' URLs on the E address
//! of its own link. Checked: mutual exclusion across the hosts (and
//! `--status` of one host naming the other's holder `host1:PID`), and a
//! host whose link goes down while it holds a lock another host waits for
//! (its command gets SIGTERM and `flom` exits 99, then the other host is
//! granted, and only after host1's command was told). Skipped when `etcd`
//! is missing or namespaces are unusable.

mod common;
#[path = "common/etcd.rs"]
mod etcd_cluster;

use common::netns::{namespaces_usable, run_ip, Namespace, CMD_BOUND};
use common::{lines, mkfifo, release, skip, wait_line, Bg, Env, Out, BIN, T};
use etcd_cluster::{etcd_installed, Cluster};
use std::time::{Duration, Instant};

const TTL: &str = "2";

/// One cluster at a time (as in `tests/etcd.rs`): 3 members per test on
/// 2 shared cores would starve each other's heartbeats.
static ONE_CLUSTER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One host: a namespace joined to E by a veth pair, its hostname, and
/// the daemon it runs (a UNIX socket in the test's directory).
struct Host {
    ns: Namespace,
    name: &'static str,
    /// The host's end of its link (inside `ns`).
    dev: &'static str,
    sock: String,
    endpoints: String,
    daemon: i32,
}

impl Host {
    /// `flom -s SOCK --etcd-*... REST`, started inside this host: its
    /// network namespace and a UTS namespace named after the host.
    fn spawn(&self, rest: &[&str]) -> Bg {
        let mut args = vec![
            "--uts",
            "sh",
            "-c",
            "hostname \"$HOST_NAME\" && exec \"$0\" \"$@\"",
            BIN,
            "-s",
            self.sock.as_str(),
            "--etcd-endpoints",
            self.endpoints.as_str(),
            "--etcd-lease-ttl",
            TTL,
        ];
        args.extend_from_slice(rest);
        let mut c = std::process::Command::new(common::netns::ip_binary().unwrap_or("ip"));
        c.args(["netns", "exec", &self.ns.name, "unshare"])
            .args(&args)
            .env("HOST_NAME", self.name);
        common::spawn_command(c, format!("[{}] flom {}", self.name, rest.join(" ")))
    }

    #[track_caller]
    fn run(&self, rest: &[&str]) -> Out {
        self.spawn(rest).wait(CMD_BOUND)
    }

    /// Holds `opts` until `fifo` is released; returns once the command
    /// runs (it wrote `tag` to `log`).
    fn hold(&self, opts: &[&str], fifo: &str, log: &str, tag: &str) -> Bg {
        let script = etcd_cluster::hold_script(tag, fifo, log);
        let mut a: Vec<&str> = opts.to_vec();
        a.extend(["--", "sh", "-c", &script]);
        let bg = self.spawn(&a);
        wait_line(log, tag);
        bg
    }
}

/// E, the cluster in it, the two hosts and the test's directory. On drop
/// (even after a failed assertion): every process of both hosts is
/// killed, then the members, then the namespaces are deleted.
struct Scene {
    h1: Host,
    h2: Host,
    cluster: Cluster,
    /// Kept for its drop (the namespace deleted after the members).
    _e: Namespace,
    env: Env,
}

impl Drop for Scene {
    fn drop(&mut self) {
        // The daemons and clients first (the fields' drops then stop the
        // members, delete the namespaces and the directory).
        self.h1.ns.kill_all();
        self.h2.ns.kill_all();
    }
}

/// Builds the scene for `test` (namespace names carry our pid and `tag`);
/// None after printing why when etcd or namespaces are unavailable. The
/// guard returned keeps other clusters of this file from running.
fn scene(test: &str, tag: &str) -> Option<(Scene, std::sync::MutexGuard<'static, ()>)> {
    if !etcd_installed() {
        skip(test, "etcd not installed");
        return None;
    }
    if !namespaces_usable(test) {
        return None;
    }
    let one = ONE_CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let add = |t: &str| match Namespace::add(&format!("{tag}-{t}")) {
        Ok(ns) => Some(ns),
        Err(e) => {
            skip(test, &format!("`ip netns` unavailable: {e}"));
            None
        }
    };
    let (e, n1, n2) = (add("e")?, add("h1")?, add("h2")?);
    // The veth ends are created directly inside the namespaces.
    for (dev_e, ns, dev_h) in [("e1", &n1, "h1"), ("e2", &n2, "h2")] {
        if let Err(err) = run_ip(&[
            "link", "add", dev_e, "netns", &e.name, "type", "veth", "peer", "name", dev_h, "netns",
            &ns.name,
        ]) {
            skip(test, &format!("cannot create a veth pair: {err}"));
            return None;
        }
    }
    for (ns, dev, addr) in [
        (&e, "e1", "198.18.11.1/24"),
        (&e, "e2", "198.18.12.1/24"),
        (&n1, "h1", "198.18.11.2/24"),
        (&n2, "h2", "198.18.12.2/24"),
    ] {
        ns.must_ip(&["link", "set", "lo", "up"]);
        ns.must_ip(&["addr", "add", addr, "dev", dev]);
        ns.must_ip(&["link", "set", dev, "up"]);
    }
    let mut prefix = vec![common::netns::ip_binary().unwrap_or("ip")];
    prefix.extend(["netns", "exec", e.name.as_str()]);
    let cluster = Cluster::start_in(
        &format!("hosts-{tag}"),
        &prefix,
        &format!("/run/netns/{}", e.name),
        "0.0.0.0",
    );
    let env = Env::new(&format!("etcd-hosts-{tag}"));
    let host = |ns: Namespace, name: &'static str, dev: &'static str, e_addr: &str| Host {
        sock: env.other_sock(name),
        endpoints: cluster.endpoints_on(e_addr),
        ns,
        name,
        dev,
        daemon: 0,
    };
    let h1 = host(n1, "host1", "h1", "198.18.11.1");
    let h2 = host(n2, "host2", "h2", "198.18.12.1");
    let mut s = Scene {
        h1,
        h2,
        cluster,
        _e: e,
        env,
    };
    // Each daemon is started by its host's first client.
    for h in [&mut s.h1, &mut s.h2] {
        let out = h.run(&["-d", "-1", "-r", "warmup", "--", "true"]);
        out.expect_code(0).expect_stderr("");
        // The client is gone: the daemon is the host's only process.
        h.daemon = h.ns.only_process();
        s.env.track(h.daemon);
    }
    Some((s, one))
}

/// The `--status` rows (split on blanks) of resource `resource`.
fn rows<'a>(status: &'a Out, resource: &str) -> Vec<Vec<&'a str>> {
    status
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|r| r.first() == Some(&resource))
        .collect()
}

#[test]
fn two_hosts_exclude_each_other() {
    let test = "two_hosts_exclude_each_other";
    let Some((s, _one)) = scene(test, "mx") else {
        return;
    };
    let (h1, h2) = (&s.h1, &s.h2);
    let log = s.env.path("log");
    let fifo = s.env.path("f");
    mkfifo(&fifo);
    let mut holder = h1.hold(&["-r", "R", "-l", "EX"], &fifo, &log, "holder");
    h2.run(&["-r", "R", "-o", "0", "--", "true"])
        .expect_code(98)
        .expect_stderr("Resource already locked, the lock cannot be obtained\n");
    // NL is compatible with EX; another resource is free.
    h2.run(&["-r", "R", "-l", "NL", "-o", "0", "--", "true"])
        .expect_code(0);
    h2.run(&["-r", "R2", "-l", "EX", "-o", "0", "--", "true"])
        .expect_code(0);
    // host2's daemon lists host1's holder, named HOST:PID of host1's daemon.
    let status = h2.run(&["--status"]);
    status.expect_code(0).expect_stderr("");
    println!("{}", status.stdout);
    let held = rows(&status, "R");
    assert_eq!(held.len(), 1, "{}", status.stdout);
    assert_eq!(held[0][2], "held", "{}", status.stdout);
    assert_eq!(
        *held[0].last().unwrap(),
        format!("host1:{}", h1.daemon),
        "{}",
        status.stdout
    );
    // And host1's daemon names itself the same way.
    let own = h1.run(&["--status"]);
    own.expect_code(0);
    assert_eq!(
        rows(&own, "R").first().and_then(|r| r.last().copied()),
        Some(format!("host1:{}", h1.daemon).as_str()),
        "{}",
        own.stdout
    );
    release(&fifo);
    holder.wait(T).expect_code(0);
    s.cluster.wait_keys("/flom/r/R/", 0);
    h2.run(&["-r", "R", "-o", "0", "--", "true"]).expect_code(0);
    assert_eq!(lines(&log), ["holder", "holder-out"]);
}

/// host1 holds C, host2 waits for it, host1's link goes down: host1's
/// command gets SIGTERM and its `flom` exits 99, host2's waiter is granted
/// (all bounded). Returns the log (`holder`, `TERM`, `waiter` in the
/// order they happened) and when host1's holder stopped and host2's
/// waiter ended, after the cut.
fn cut_off(test: &str, tag: &str) -> Option<(Vec<String>, Duration, Duration)> {
    let (s, _one) = scene(test, tag)?;
    let (h1, h2) = (&s.h1, &s.h2);
    let log = s.env.path("log");
    let script = format!(
        "trap 'echo TERM >> {log}; exit 0' TERM; echo holder >> {log}; while :; do sleep 0.05; done"
    );
    let mut holder = h1.spawn(&["-r", "C", "--", "sh", "-c", &script]);
    wait_line(&log, "holder");
    let w = format!("echo waiter >> {log}");
    let mut waiter = h2.spawn(&["-r", "C", "--", "sh", "-c", &w]);
    s.cluster.wait_keys("/flom/r/C/", 2);
    let cut = Instant::now();
    // Packets dropped, not refused: the link itself goes down.
    h1.ns.must_ip(&["link", "set", h1.dev, "down"]);
    // Both ends watched at once: when each was seen to end.
    let (mut told, mut granted) = (None, None);
    common::wait_until(T, "host1's holder and host2's waiter to end", || {
        if told.is_none() && !holder.is_running() {
            told = Some(cut.elapsed());
        }
        if granted.is_none() && !waiter.is_running() {
            granted = Some(cut.elapsed());
        }
        told.is_some() && granted.is_some()
    });
    let (told, granted) = (told.unwrap(), granted.unwrap());
    let out = holder.wait(T);
    assert_eq!(out.code(), Some(99), "{}", out.describe());
    assert!(
        out.stderr.contains("the lock on 'C' was lost"),
        "{}",
        out.describe()
    );
    waiter.wait(T).expect_code(0);
    let log = lines(&log);
    println!("host1 cut off: holder stopped after {told:?}, host2 granted after {granted:?}, log {log:?}");
    let mut sorted = log.clone();
    sorted.sort();
    assert_eq!(sorted, ["TERM", "holder", "waiter"], "{log:?}");
    assert_eq!(log[0], "holder");
    assert!(told < Duration::from_secs(6), "{told:?}");
    assert!(granted < Duration::from_secs(6), "{granted:?}");
    // host2's daemon lists no request on C any more (at most the idle
    // marker its own release left).
    let status = h2.run(&["--status"]);
    status.expect_code(0);
    assert!(
        rows(&status, "C").iter().all(|r| r[2] == "idle"),
        "{}",
        status.stdout
    );
    Some((log, told, granted))
}

/// The lease is given up 3/4 of the TTL after the last keepalive, every
/// wait of a keepalive bounded by that moment even when the member's
/// packets are dropped: host1's command is told before etcd lets host2 in.
#[test]
fn host_cut_off_is_told_before_the_other_host_is_granted() {
    let Some((log, told, granted)) = cut_off(
        "host_cut_off_is_told_before_the_other_host_is_granted",
        "order",
    ) else {
        return;
    };
    assert_eq!(
        log,
        ["holder", "TERM", "waiter"],
        "told {told:?}, granted {granted:?}"
    );
}
