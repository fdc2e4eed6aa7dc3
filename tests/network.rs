//! Network integration tests: TCP (IPv4, IPv6 link-local, IPv4-mapped IPv6),
//! UDP multicast discovery (IPv4 and IPv6), management over the network,
//! daemon lifespans and TCP keepalive, across two hosts built as network
//! namespaces joined by a veth pair (see `common/netns.rs`), plus one loopback
//! test. Tests that need namespaces skip (with a printed reason) when not
//! root or when `ip netns` is unavailable.

mod common;

use common::netns::*;
use common::{lines as log_lines, poll_until, release, skip, spawn_flom, wait_line, Bg, Env, Out};
use common::{IMMEDIATE_BANNER, QUIESCE_BANNER};
use std::time::{Duration, Instant};

/// `sh -c` script of a holder: logs `<who>-holding`, waits for the FIFO to
/// be released, logs `<who>-end`.
fn holder_script(who: &str, log: &str, fifo: &str) -> String {
    format!("echo {who}-holding >> {log}; cat {fifo} >/dev/null; echo {who}-end >> {log}")
}

/// `sh -c` script that logs one line.
fn logger_script(line: &str, log: &str) -> String {
    format!("echo {line} >> {log}")
}

/// The `sending ...` line `--verbose` prints for a discovery datagram.
fn sending_line(group: &str, port: &str) -> String {
    format!("sending UDP multicast datagram to {group}/{port} ('{DISCOVER_DATAGRAM}')")
}

/// Checks a `reply from GROUP/PORT is '...'` line: the reply must advertise
/// `address` (exactly); returns the advertised TCP port.
#[track_caller]
fn check_reply_line(line: &str, group: &str, port: &str, address: &str) -> u16 {
    let prefix = format!(
        r#"reply from {group}/{port} is '<?xml version="1.0" encoding="UTF-8" ?><msg level="3" verb="4" step="16"><network address="{address}" port=""#
    );
    let rest = line
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("unexpected reply line {line:?}, expected prefix {prefix:?}"));
    let p = rest
        .strip_suffix(r#""/></msg>'"#)
        .unwrap_or_else(|| panic!("unexpected end of reply line {line:?}"));
    let p: u16 = p
        .parse()
        .unwrap_or_else(|_| panic!("bad port in reply line {line:?}"));
    assert_ne!(p, 0, "reply advertises port 0: {line:?}");
    p
}

/// Asserts a successful verbose discovery run: first line the request,
/// second the reply (advertising `address`), then the command's own lines.
/// Returns the advertised TCP port.
#[track_caller]
fn check_discovered(out: &Out, group: &str, port: &str, address: &str, rest: &[&str]) -> u16 {
    out.expect_code(0);
    let lines = out.lines();
    assert_eq!(lines.len(), 2 + rest.len(), "stdout: {:?}", out.stdout);
    assert_eq!(lines[0], sending_line(group, port));
    let tcp = check_reply_line(lines[1], group, port, address);
    assert_eq!(&lines[2..], rest);
    tcp
}

// ------------------------------------------------------------ Use Case 7

/// Use Case 7 ordering on two hosts: a holder on B, a waiter on A that must
/// wait for it. `daemon`, `on_a` and `on_b` are the address options (`-a ...
/// -p ...`, possibly with `-n`) used by the daemon's starter and the clients
/// on A and B.
fn use_case_7(net: &Net, port: u16, daemon: &[&str], on_a: &[&str], on_b: &[&str]) {
    let log = net.path("LOG");
    let fifo = net.mkfifo("RELEASE");

    // The daemon on A, started by a client that lives forever (-d -1).
    net.a
        .flom(&args(&[daemon, &["-d", "-1", "--", "true"]]))
        .expect_code(0);
    assert!(net.a.tcp_listening(port), "no daemon listening on A");

    // B holds the lock until released.
    let script = holder_script("B", &log, &fifo);
    let mut holder = net
        .b
        .spawn(&args(&[on_b, &["-d", "0", "--", "sh", "-c", &script]]));
    wait_line(&log, "B-holding");

    // A asks for the same lock: it must wait.
    let script = logger_script("A-run", &log);
    let mut waiter = net
        .a
        .spawn(&args(&[on_a, &["-d", "0", "--", "sh", "-c", &script]]));
    wait_blocked_on_lock(&mut waiter, port);
    assert_eq!(
        log_lines(&log),
        ["B-holding"],
        "A ran while B held the lock"
    );

    release(&fifo);
    holder.wait(CMD_BOUND).expect_code(0);
    waiter.wait(CMD_BOUND).expect_code(0);
    assert_eq!(log_lines(&log), ["B-holding", "B-end", "A-run"]);

    // The -d -1 daemon is still there; -X over TCP stops it.
    assert!(net.a.tcp_listening(port), "the -d -1 daemon went away");
    let out = net.b.flom(&args(&[on_b, &["-X"]]));
    out.expect_code(0);
    assert_eq!(out.lines(), [IMMEDIATE_BANNER]);
    assert!(
        poll_until(common::T, || !net.a.tcp_listening(port)),
        "daemon still listening after -X"
    );
    net.a.wait_no_process();
}

#[test]
fn use_case_7_ipv4_two_hosts() {
    let Some(net) = Net::new("use_case_7_ipv4_two_hosts", "uc7v4") else {
        return;
    };
    let tcp = ["-a", A_V4, "-p", "28201"];
    use_case_7(&net, 28201, &tcp, &tcp, &tcp);
}

#[test]
fn use_case_7_ipv6_link_local_with_interface() {
    let test = "use_case_7_ipv6_link_local_with_interface";
    let Some(net) = Net::new(test, "uc7v6") else {
        return;
    };
    if !net.ipv6 {
        return skip(test, "no IPv6 in this kernel");
    }
    let port = "28202";
    let with_dash_n_a = ["-a", A_LL, "-n", A_IF, "-p", port];
    let with_dash_n_b = ["-a", A_LL, "-n", B_IF, "-p", port];
    let percent_a = format!("{A_LL}%{A_IF}");
    let percent_b = format!("{A_LL}%{B_IF}");
    let with_percent_a = ["-a", &percent_a, "-p", port];
    let with_percent_b = ["-a", &percent_b, "-p", port];

    // Without an interface a link-local address is a clear error (and no
    // daemon is started, even when the lifespan would allow it).
    for lifespan in ["0", "-1"] {
        let out = net
            .b
            .flom(&["-a", A_LL, "-p", port, "-d", lifespan, "--", "true"]);
        out.expect_code(99);
        assert!(
            out.stderr.contains("-n"),
            "the error does not mention -n: {:?}",
            out.stderr
        );
        net.b.wait_no_process();
    }

    // Daemon started with -n, holder with -n, waiter with ADDR%IFACE.
    use_case_7(&net, 28202, &with_dash_n_a, &with_percent_a, &with_dash_n_b);

    // Daemon started with ADDR%IFACE, clients with both notations.
    net.a
        .flom(&args(&[&with_percent_a, &["-d", "-1", "--", "true"]]))
        .expect_code(0);
    for opts in [&with_dash_n_b[..], &with_percent_b[..]] {
        let out = net
            .b
            .flom(&args(&[opts, &["-d", "0", "--", "echo", "B-ran"]]));
        out.expect_code(0);
        assert_eq!(out.lines(), ["B-ran"]);
    }
    // Still no interface: still the error, even with a daemon there.
    let out = net
        .b
        .flom(&["-a", A_LL, "-p", port, "-d", "0", "--", "true"]);
    out.expect_code(99);
    assert!(out.stderr.contains("-n"), "stderr: {:?}", out.stderr);
    net.b
        .flom(&args(&[&with_percent_b, &["-X"]]))
        .expect_code(0);
    assert!(poll_until(common::T, || !net.a.tcp_listening(28202)));
}

#[test]
fn ipv4_mapped_ipv6_daemon_address() {
    let test = "ipv4_mapped_ipv6_daemon_address";
    let Some(net) = Net::new(test, "mapped") else {
        return;
    };
    if !net.ipv6 {
        return skip(test, "no IPv6 in this kernel");
    }
    let mapped = format!("::ffff:{A_V4}");
    let port = "28203";
    let m = ["-a", mapped.as_str(), "-p", port];
    let plain = ["-a", A_V4, "-p", port];
    net.a
        .flom(&args(&[&m, &["-d", "-1", "--", "true"]]))
        .expect_code(0);
    assert!(net.a.tcp_listening(28203));
    // Reached through the mapped address and the plain IPv4 one, from both hosts.
    for (host, opts) in [
        (&net.b, &m),
        (&net.b, &plain),
        (&net.a, &m),
        (&net.a, &plain),
    ] {
        let out = host.flom(&args(&[opts, &["-d", "0", "--", "echo", "ran"]]));
        out.expect_code(0);
        assert_eq!(out.lines(), ["ran"]);
    }
    // Use Case 7 ordering through the mapped address.
    let log = net.path("LOG");
    let fifo = net.mkfifo("RELEASE");
    let script = holder_script("B", &log, &fifo);
    let mut holder = net
        .b
        .spawn(&args(&[&m, &["-d", "0", "--", "sh", "-c", &script]]));
    wait_line(&log, "B-holding");
    let script = logger_script("A-run", &log);
    let mut waiter = net
        .a
        .spawn(&args(&[&plain, &["-d", "0", "--", "sh", "-c", &script]]));
    wait_blocked_on_lock(&mut waiter, 28203);
    assert_eq!(log_lines(&log), ["B-holding"]);
    release(&fifo);
    holder.wait(CMD_BOUND).expect_code(0);
    waiter.wait(CMD_BOUND).expect_code(0);
    assert_eq!(log_lines(&log), ["B-holding", "B-end", "A-run"]);

    net.b.flom(&args(&[&m, &["-X"]])).expect_code(0);
    assert!(poll_until(common::T, || !net.a.tcp_listening(28203)));
    net.a.wait_no_process();
}

// ------------------------------------------------------------ Use Case 9

/// Dynamic mode (discovery only) with multicast group `group`.
fn dynamic_discovery(net: &Net, group: &str) {
    let mp = "28301";
    let g = ["-A", group, "-P", mp];

    // No daemon anywhere: -d 0 fails after the configured attempts.
    let out = net.b.flom(&args(&[
        &g,
        &["-d", "0", "-D", "2", "-I", "200", "-V", "--", "true"],
    ]));
    out.expect_code(99);
    let no_reply = format!("no reply from {group}/{mp}");
    let send = sending_line(group, mp);
    assert_eq!(
        out.lines(),
        [send.as_str(), &no_reply, &send, &no_reply],
        "stderr: {}",
        out.stderr
    );
    assert!(
        out.elapsed >= Duration::from_millis(400),
        "2 attempts of 200 ms took only {:?}",
        out.elapsed
    );
    assert!(
        out.stderr
            .contains("and -d 0 (daemon lifespan 0) forbids starting one"),
        "stderr: {:?}",
        out.stderr
    );
    net.a.wait_no_process();
    net.b.wait_no_process();

    // A daemon started on A with -d -1 stays and answers.
    net.a
        .flom(&args(&[&g, &["-d", "-1", "--", "true"]]))
        .expect_code(0);
    assert!(net.a.udp_bound(28301), "no discovery responder on A");
    assert!(!net.a.pids().is_empty());
    // Local discovery on A.
    net.a
        .flom(&args(&[&g, &["-d", "0", "--", "true"]]))
        .expect_code(0);
    // B discovers it; the wildcard daemon advertises an empty address.
    let out = net
        .b
        .flom(&args(&[&g, &["-d", "0", "-V", "--", "echo", "B-ran"]]));
    let tcp = check_discovered(&out, group, mp, "", &["B-ran"]);
    assert!(
        net.a.tcp_listening(tcp),
        "the advertised port {tcp} is not A's listener"
    );
    net.b.wait_no_process();

    // Quiesce shutdown after discovery.
    let out = net.b.flom(&args(&[&g, &["-x"]]));
    out.expect_code(0);
    assert_eq!(out.lines(), [QUIESCE_BANNER]);
    assert!(
        poll_until(common::T, || net.a.pids().is_empty()),
        "daemon still running after -x: {:?}",
        net.a.pids()
    );
    assert!(!net.a.udp_bound(28301) && !net.a.tcp_listening(tcp));

    // -d 3000 without daemon starts one (on B) that answers discovery...
    net.b
        .flom(&args(&[&g, &["-d", "3000", "--", "true"]]))
        .expect_code(0);
    assert!(!net.b.pids().is_empty(), "-d 3000 started no daemon");
    assert!(net.b.udp_bound(28301));
    let out = net.a.flom(&args(&[&g, &["-d", "0", "-V", "--", "true"]]));
    let tcp = check_discovered(&out, group, mp, "", &[]);
    assert!(net.b.tcp_listening(tcp));
    assert!(net.a.pids().is_empty(), "a -d 0 client started a daemon");
    // ...and is gone a few seconds after its last client.
    let last_client = Instant::now();
    assert!(
        poll_until(common::T, || net.b.pids().is_empty()),
        "the -d 3000 daemon is still running after {:?}",
        last_client.elapsed()
    );
    assert!(!net.b.udp_bound(28301));
    // And then there is nothing to discover any more.
    net.b
        .flom(&args(&[
            &g,
            &["-d", "0", "-D", "1", "-I", "200", "--", "true"],
        ]))
        .expect_code(99);
}

#[test]
fn use_case_9_ipv6_dynamic_discovery() {
    let test = "use_case_9_ipv6_dynamic_discovery";
    let Some(net) = Net::new(test, "uc9v6") else {
        return;
    };
    if !net.ipv6 {
        return skip(test, "no IPv6 in this kernel");
    }
    dynamic_discovery(&net, "ff02::1");
}

#[test]
fn use_case_9_ipv4_dynamic_discovery() {
    let Some(net) = Net::new("use_case_9_ipv4_dynamic_discovery", "uc9v4") else {
        return;
    };
    dynamic_discovery(&net, "239.255.70.1");
}

/// Interface-local IPv6 group (ff01::1, as the C suite uses): discovery on
/// the daemon's own host.
#[test]
fn discovery_ipv6_interface_local_group_same_host() {
    let test = "discovery_ipv6_interface_local_group_same_host";
    let Some(net) = Net::new(test, "ff01") else {
        return;
    };
    if !net.ipv6 {
        return skip(test, "no IPv6 in this kernel");
    }
    let g = ["-A", "ff01::1", "-P", "28302"];
    net.a
        .flom(&args(&[&g, &["-d", "-1", "--", "true"]]))
        .expect_code(0);
    let out = net.a.flom(&args(&[&g, &["-d", "0", "-V", "--", "true"]]));
    check_discovered(&out, "ff01::1", "28302", "", &[]);
    net.a.flom(&args(&[&g, &["-X"]])).expect_code(0);
    net.a.wait_no_process();
}

// ------------------------------------------------------------ -a and -A

#[test]
fn unicast_and_discovery_daemon() {
    let Some(net) = Net::new("unicast_and_discovery_daemon", "both") else {
        return;
    };
    let (port, mp, group) = ("28401", "28402", "239.255.70.2");
    let a = ["-a", A_V4, "-p", port];
    let g = ["-A", group, "-P", mp];

    // Without daemon -d 0 fails and starts nothing.
    net.b
        .flom(&args(&[&a, &g, &["-d", "0", "-I", "200", "--", "true"]]))
        .expect_code(99);
    net.b.wait_no_process();
    net.a.wait_no_process();

    // Started with both, it listens on ADDR:PORT and answers discovery.
    net.a
        .flom(&args(&[&a, &g, &["-d", "-1", "--", "true"]]))
        .expect_code(0);
    assert!(net.a.tcp_listening(28401) && net.a.udp_bound(28402));
    let out = net.b.flom(&args(&[&g, &["-d", "0", "-V", "--", "true"]]));
    let tcp = check_discovered(&out, group, mp, A_V4, &[]);
    assert_eq!(tcp, 28401, "discovery must advertise the unicast port");
    for opts in [&a[..], &g[..], &args(&[&a, &g])[..]] {
        let out = net
            .b
            .flom(&args(&[opts, &["-d", "0", "--", "echo", "ran"]]));
        out.expect_code(0);
        assert_eq!(out.lines(), ["ran"], "with {opts:?}");
    }
    net.b.wait_no_process();
    net.b.flom(&args(&[&a, &["-X"]])).expect_code(0);
    assert!(poll_until(common::T, || net.a.pids().is_empty()));
    assert!(!net.a.tcp_listening(28401) && !net.a.udp_bound(28402));

    // Limited life: the daemon goes away after its last client.
    net.a
        .flom(&args(&[&a, &g, &["-d", "1000", "--", "true"]]))
        .expect_code(0);
    net.b
        .flom(&args(&[&g, &["-d", "0", "--", "true"]]))
        .expect_code(0);
    assert!(
        poll_until(common::T, || net.a.pids().is_empty()),
        "-d 1000 daemon still running"
    );
    assert!(!net.a.tcp_listening(28401) && !net.a.udp_bound(28402));
}

/// A daemon on an IPv6 link-local address that also answers discovery: the
/// reply carries the address without interface, and the client connects
/// through the interface the reply came from.
#[test]
fn unicast_link_local_and_discovery_daemon_ipv6() {
    let test = "unicast_link_local_and_discovery_daemon_ipv6";
    let Some(net) = Net::new(test, "bothv6") else {
        return;
    };
    if !net.ipv6 {
        return skip(test, "no IPv6 in this kernel");
    }
    let (port, mp, group) = ("28403", "28404", "ff02::1");
    let g = ["-A", group, "-P", mp];
    net.a
        .flom(&args(&[
            &["-a", A_LL, "-n", A_IF, "-p", port],
            &g,
            &["-d", "-1", "--", "true"],
        ]))
        .expect_code(0);
    for host in [&net.b, &net.a] {
        let out = host.flom(&args(&[&g, &["-d", "0", "-V", "--", "echo", "ran"]]));
        let tcp = check_discovered(&out, group, mp, A_LL, &["ran"]);
        assert_eq!(tcp, 28403);
    }
    net.b
        .flom(&args(&[
            &["-a", A_LL, "-n", B_IF, "-p", port],
            &["-d", "0", "--", "true"],
        ]))
        .expect_code(0);
    net.b.flom(&args(&[&g, &["-X"]])).expect_code(0);
    assert!(poll_until(common::T, || net.a.pids().is_empty()));
    assert!(!net.a.tcp_listening(28403) && !net.a.udp_bound(28404));
}

/// Several clients find no daemon at the same moment and all start one: one
/// daemon wins the port, the others' bind errors are tolerated, every
/// client runs, one at a time.
#[test]
fn concurrent_starters_share_one_tcp_daemon() {
    let Some(net) = Net::new("concurrent_starters_share_one_tcp_daemon", "race") else {
        return;
    };
    let log = net.path("LOG");
    let a = ["-a", A_V4, "-p", "28405"];
    let scripts: Vec<String> = (0..6)
        .map(|i| format!("echo start-{i} >> {log}; echo end-{i} >> {log}"))
        .collect();
    let procs: Vec<Bg> = scripts
        .iter()
        .map(|s| {
            net.a
                .spawn(&args(&[&a, &["-d", "1000", "--", "sh", "-c", s]]))
        })
        .collect();
    for mut p in procs {
        p.wait(CMD_BOUND).expect_code(0);
    }
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 12, "log: {lines:?}");
    for pair in lines.chunks(2) {
        let i = pair[0].strip_prefix("start-").expect("start line");
        assert_eq!(pair[1], format!("end-{i}"), "interleaved runs: {lines:?}");
    }
    assert!(
        poll_until(common::T, || net.a.pids().len() == 1),
        "not exactly one daemon: {:?}",
        net.a.pids()
    );
    assert!(net.a.tcp_listening(28405));
    net.a.wait_no_process();
}

// ------------------------------------------------------------ management

#[test]
fn management_over_tcp_and_after_discovery() {
    let Some(net) = Net::new("management_over_tcp_and_after_discovery", "mgmt") else {
        return;
    };
    let a = ["-a", A_V4, "-p", "28501"];
    let g = ["-A", "239.255.70.3", "-P", "28502"];

    // Without daemon: the banner, exit 99, and no daemon started.
    for (opts, flag, banner) in [
        (&a[..], "-X", IMMEDIATE_BANNER),
        (&g[..], "-x", QUIESCE_BANNER),
    ] {
        let out = net.b.flom(&args(&[opts, &["-I", "200", "-d", "-1", flag]]));
        out.expect_code(99);
        assert_eq!(out.lines(), [banner]);
        net.b.wait_no_process();
        net.a.wait_no_process();
    }

    // -X over TCP.
    net.a
        .flom(&args(&[&a, &["-d", "-1", "--", "true"]]))
        .expect_code(0);
    let out = net.b.flom(&args(&[&a, &["-X"]]));
    out.expect_code(0);
    assert_eq!(out.lines(), [IMMEDIATE_BANNER]);
    assert!(
        poll_until(common::T, || !net.a.tcp_listening(28501)),
        "TCP daemon still listening after -X"
    );
    net.a.wait_no_process();

    // -x after discovery.
    net.a
        .flom(&args(&[&g, &["-d", "-1", "--", "true"]]))
        .expect_code(0);
    let out = net.b.flom(&args(&[&g, &["-x"]]));
    out.expect_code(0);
    assert_eq!(out.lines(), [QUIESCE_BANNER]);
    assert!(
        poll_until(common::T, || !net.a.udp_bound(28502)),
        "discovery daemon still bound after -x"
    );
    net.a.wait_no_process();
}

/// Quiesce (`-x`) and immediate (`-X`) shutdown over TCP while a client on
/// the other host holds the lock.
#[test]
fn management_with_a_holder_over_tcp() {
    let Some(net) = Net::new("management_with_a_holder_over_tcp", "mgmth") else {
        return;
    };
    let a = ["-a", A_V4, "-p", "28503"];
    let log = net.path("LOG");
    let fifo = net.mkfifo("RELEASE");
    let script = holder_script("B", &log, &fifo);

    // Quiesce: the daemon keeps serving until its last client is gone.
    net.a
        .flom(&args(&[&a, &["-d", "-1", "--", "true"]]))
        .expect_code(0);
    let mut holder = net
        .b
        .spawn(&args(&[&a, &["-d", "0", "--", "sh", "-c", &script]]));
    wait_line(&log, "B-holding");
    let out = net.a.flom(&args(&[&a, &["-x"]]));
    out.expect_code(0);
    assert_eq!(out.lines(), [QUIESCE_BANNER]);
    let out = net.a.flom(&args(&[
        &a,
        &["-r", "other", "-d", "0", "--", "echo", "served"],
    ]));
    out.expect_code(0);
    assert_eq!(
        out.lines(),
        ["served"],
        "no new request served while quiescing"
    );
    assert!(
        net.a.tcp_listening(28503),
        "quiesced daemon left its holder"
    );
    release(&fifo);
    holder.wait(CMD_BOUND).expect_code(0);
    assert_eq!(log_lines(&log), ["B-holding", "B-end"]);
    assert!(
        poll_until(common::T, || net.a.pids().is_empty()),
        "quiesced daemon still running after its last client"
    );

    // Immediate: the daemon goes at once, holder or not.
    let _ = std::fs::remove_file(&log);
    net.a
        .flom(&args(&[&a, &["-d", "-1", "--", "true"]]))
        .expect_code(0);
    let mut holder = net
        .b
        .spawn(&args(&[&a, &["-d", "0", "--", "sh", "-c", &script]]));
    wait_line(&log, "B-holding");
    let out = net.a.flom(&args(&[&a, &["-X"]]));
    out.expect_code(0);
    assert_eq!(out.lines(), [IMMEDIATE_BANNER]);
    assert!(
        poll_until(common::T, || !net.a.tcp_listening(28503)),
        "daemon still listening after -X"
    );
    net.a.wait_no_process();
    assert!(holder.is_running(), "the holder ended with the daemon");
    assert_eq!(log_lines(&log), ["B-holding"]);
    release(&fifo);
    // Over TCP the unlock may still be written into the dead connection:
    // the holder ends either with its command's status or with 99.
    let out = holder.wait(CMD_BOUND);
    assert!(
        matches!(out.code(), Some(0) | Some(99)),
        "holder exit {:?} stderr {:?}",
        out.code(),
        out.stderr
    );
}

// ------------------------------------------------------------ lifespans

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// tests.md §15 lifespan cases for a TCP daemon on host A (address options
/// built by `on_a` for A and `on_b` for B from a port).
fn tcp_lifespans(
    net: &Net,
    on_a: impl Fn(&str) -> Vec<String>,
    on_b: impl Fn(&str) -> Vec<String>,
) {
    let (p1, p2) = ("28601", "28602");

    // -d 0 without daemon: 99 and nothing running.
    let b1 = on_b(p1);
    let out = net.b.flom(&args(&[&refs(&b1), &["-d", "0", "--", "true"]]));
    out.expect_code(99);
    assert!(
        out.stderr
            .contains("and -d 0 (daemon lifespan 0) forbids starting one"),
        "stderr: {:?}",
        out.stderr
    );
    net.a.wait_no_process();
    net.b.wait_no_process();

    // -d -1 on p1 and -d 1000 on p2, both used by a client from B.
    let a1 = on_a(p1);
    let a2 = on_a(p2);
    let b2 = on_b(p2);
    net.a
        .flom(&args(&[&refs(&a1), &["-d", "-1", "--", "true"]]))
        .expect_code(0);
    net.a
        .flom(&args(&[&refs(&a2), &["-d", "1000", "--", "true"]]))
        .expect_code(0);
    for b in [&b1, &b2] {
        net.b
            .flom(&args(&[&refs(b), &["-d", "0", "--", "true"]]))
            .expect_code(0);
    }
    let last_client = Instant::now();
    assert!(net.a.tcp_listening(28601) && net.a.tcp_listening(28602));
    // The limited one goes away a few seconds after its last client...
    assert!(
        poll_until(common::T, || !net.a.tcp_listening(28602)),
        "-d 1000 daemon still listening {:?} after its last client",
        last_client.elapsed()
    );
    // ...while the unlimited one stays.
    assert!(net.a.tcp_listening(28601), "the -d -1 daemon went away");
    net.b
        .flom(&args(&[&refs(&b1), &["-d", "0", "--", "true"]]))
        .expect_code(0);
    net.b.flom(&args(&[&refs(&b1), &["-X"]])).expect_code(0);
    assert!(poll_until(common::T, || !net.a.tcp_listening(28601)));
    net.a.wait_no_process();
}

#[test]
fn lifespans_of_ipv4_tcp_daemons() {
    let Some(net) = Net::new("lifespans_of_ipv4_tcp_daemons", "lsv4") else {
        return;
    };
    let tcp = |p: &str| vec!["-a".to_string(), A_V4.to_string(), "-p".into(), p.into()];
    tcp_lifespans(&net, tcp, tcp);
}

#[test]
fn lifespans_of_ipv6_link_local_tcp_daemons() {
    let test = "lifespans_of_ipv6_link_local_tcp_daemons";
    let Some(net) = Net::new(test, "lsv6") else {
        return;
    };
    if !net.ipv6 {
        return skip(test, "no IPv6 in this kernel");
    }
    let with = |iface: &'static str| {
        move |p: &str| {
            ["-a", A_LL, "-n", iface, "-p", p]
                .iter()
                .map(|s| s.to_string())
                .collect()
        }
    };
    tcp_lifespans(&net, with(A_IF), with(B_IF));
}

// ------------------------------------------------------------ keepalive

/// A holder's host is cut off (its veth end set down inside its namespace)
/// while it holds the lock: the daemon's keepalive (time 2 s, interval 1 s,
/// 2 probes) must drop the connection and grant a waiter within ~4 s.
fn keepalive_releases_vanished_holder(net: &Net, on_a: &[&str], on_b: &[&str], port: u16) {
    let log = net.path("LOG");
    let fifo = net.mkfifo("RELEASE");
    let out = net.a.flom(&args(&[
        on_a,
        &[
            "-d",
            "-1",
            "--tcp-keepalive-time=2",
            "--tcp-keepalive-intvl=1",
            "--tcp-keepalive-probes=2",
            "--",
            "true",
        ],
    ]));
    out.expect_code(0);
    assert!(net.a.tcp_listening(port));

    let script = holder_script("B", &log, &fifo);
    let _holder = net
        .b
        .spawn(&args(&[on_b, &["-d", "0", "--", "sh", "-c", &script]]));
    wait_line(&log, "B-holding");
    let script = logger_script("A-run", &log);
    let mut waiter = net.a.spawn(&args(&[
        on_a,
        &["-d", "0", "-o", "20000", "--", "sh", "-c", &script],
    ]));
    wait_blocked_on_lock(&mut waiter, port);
    assert_eq!(log_lines(&log), ["B-holding"]);

    // B vanishes: its link goes down (the holder's flom keeps running).
    let cut = Instant::now();
    net.b.ip(&["link", "set", B_IF, "down"]);
    wait_line(&log, "A-run");
    let released_after = cut.elapsed();
    waiter.wait(CMD_BOUND).expect_code(0);
    assert_eq!(log_lines(&log), ["B-holding", "A-run"]);
    assert!(
        released_after <= Duration::from_secs(8),
        "lock of the vanished host released only after {released_after:?}"
    );
}

#[test]
fn keepalive_releases_lock_of_vanished_ipv4_host() {
    let Some(net) = Net::new("keepalive_releases_lock_of_vanished_ipv4_host", "kav4") else {
        return;
    };
    let tcp = ["-a", A_V4, "-p", "28701"];
    keepalive_releases_vanished_holder(&net, &tcp, &tcp, 28701);
}

#[test]
fn keepalive_releases_lock_of_vanished_ipv6_host() {
    let test = "keepalive_releases_lock_of_vanished_ipv6_host";
    let Some(net) = Net::new(test, "kav6") else {
        return;
    };
    if !net.ipv6 {
        return skip(test, "no IPv6 in this kernel");
    }
    let on_a = ["-a", A_LL, "-n", A_IF, "-p", "28702"];
    let on_b = ["-a", A_LL, "-n", B_IF, "-p", "28702"];
    keepalive_releases_vanished_holder(&net, &on_a, &on_b, 28702);
}

// ------------------------------------------------------------ loopback

/// A daemon on a loopback address (no namespace): started with -d -1, used
/// by a second client, stopped with -X.
fn loopback_daemon(env: &Env, addr: &str) {
    let Some(guard) = TcpPort::on(addr) else {
        return skip("loopback_ipv4_and_ipv6", &format!("cannot bind {addr}"));
    };
    let port = guard.port;
    let a = guard.args();
    let run = |extra: &[&str]| spawn_flom(&args(&[&a, extra])).wait(CMD_BOUND);
    run(&["-d", "-1", "--", "true"]).expect_code(0);
    assert!(local_tcp_listening(port), "no daemon on {addr}:{port}");
    let daemons = local_listener_pids(port);
    assert_eq!(
        daemons.len(),
        1,
        "daemon pids on {addr}:{port}: {daemons:?}"
    );

    let log = env.path(&format!("LOG-{port}"));
    let fifo = env.fifo(&format!("RELEASE-{port}"));
    let script = holder_script("first", &log, &fifo);
    let mut holder = spawn_flom(&args(&[&a, &["-d", "0", "--", "sh", "-c", &script]]));
    wait_line(&log, "first-holding");
    let script = logger_script("second-run", &log);
    let mut second = spawn_flom(&args(&[&a, &["-d", "0", "--", "sh", "-c", &script]]));
    wait_blocked_on_lock(&mut second, port);
    assert_eq!(log_lines(&log), ["first-holding"]);
    release(&fifo);
    holder.wait(CMD_BOUND).expect_code(0);
    second.wait(CMD_BOUND).expect_code(0);
    assert_eq!(
        log_lines(&log),
        ["first-holding", "first-end", "second-run"]
    );

    assert_eq!(
        local_listener_pids(port),
        daemons,
        "the -d -1 daemon changed"
    );
    let out = run(&["-X"]);
    out.expect_code(0);
    assert_eq!(out.lines(), [IMMEDIATE_BANNER]);
    assert!(
        poll_until(common::T, || !local_tcp_listening(port)),
        "daemon on {addr}:{port} still listening after -X"
    );
    // No other daemon was started: -d 0 now fails.
    run(&["-d", "0", "--", "true"]).expect_code(99);
}

#[test]
fn loopback_ipv4_and_ipv6() {
    let env = Env::new("loopback");
    loopback_daemon(&env, "127.0.0.1");
    if std::fs::read_to_string("/proc/net/if_inet6")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("00000000000000000000000000000001"))
    {
        loopback_daemon(&env, "::1");
    } else {
        skip("loopback_ipv4_and_ipv6", "no ::1 here, IPv6 part skipped");
    }
}
