//! Network faults between two hosts (network namespaces joined by a veth
//! pair, see `netns/mod.rs`): a holder's host cut off, loss and delay on the
//! client link, the daemon's host vanishing while clients wait, discovery
//! over lossy multicast. Each asserts what the user sees: exit status,
//! message, and a time bound, and prints the times it measured.
//!
//! Faults are made with `tc netem` where the kernel has it; otherwise loss
//! (and cutting a host off) with an nftables `numgen random` drop rule, and
//! delay with a relay inside the client host that holds every chunk for
//! the delay each way (`common::relay`). Without either, or without root,
//! the tests skip saying why.

mod common;

use common::netns::*;
use common::relay;
use common::{lines as log_lines, release, skip, wait_line, Bg};
use std::time::{Duration, Instant};

/// How faults are injected on a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    Netem,
    Nft,
}

/// Finds the fault tool this kernel offers, trying it on `host`.
fn fault_tool(test: &str, host: &Host) -> Option<Tool> {
    let netem = host.exec(
        "tc",
        &[
            "qdisc", "add", "dev", host.iface, "root", "netem", "delay", "1ms",
        ],
    );
    if netem.code() == Some(0) {
        host.exec("tc", &["qdisc", "del", "dev", host.iface, "root"]);
        return Some(Tool::Netem);
    }
    let nft = host.exec("nft", &["add", "table", "inet", "flomt"]);
    if nft.code() == Some(0) {
        host.exec("nft", &["delete", "table", "inet", "flomt"]);
        eprintln!("NOTE {test}: no sch_netem in this kernel ({}); using nftables drop rules, and a delaying relay for latency", netem.stderr.trim());
        return Some(Tool::Nft);
    }
    skip(
        test,
        &format!(
            "neither tc netem ({}) nor nftables ({}) works here",
            netem.stderr.trim(),
            nft.stderr.trim()
        ),
    );
    None
}

/// Installs the nftables table `flomt` of `host`: drop `chance` of the
/// packets (only UDP when `udp_only`) received on its link, and sent on it
/// too when `outgoing` (a dropped send fails locally with EPERM, so only a
/// host that is cut off gets that).
#[track_caller]
fn nft_drop(host: &Host, loss: u32, udp_only: bool, outgoing: bool) {
    host.exec("nft", &["delete", "table", "inet", "flomt"]);
    let proto = if udp_only { "meta l4proto udp " } else { "" };
    let chance = if loss >= 100 {
        String::new()
    } else {
        format!("numgen random mod 100 < {loss} ")
    };
    let i = host.iface;
    let mut rules = format!(
        "table inet flomt {{\n chain in {{ type filter hook input priority 0; iif \"{i}\" {proto}{chance}drop; }}\n"
    );
    if outgoing {
        rules.push_str(&format!(
            " chain out {{ type filter hook output priority 0; oif \"{i}\" {proto}{chance}drop; }}\n"
        ));
    }
    rules.push_str("}\n");
    let file = format!("{}/nft-{}", std::env::temp_dir().display(), host.ns.name);
    std::fs::write(&file, rules).unwrap();
    host.exec("nft", &["-f", &file]).expect_code(0);
    let _ = std::fs::remove_file(&file);
}

/// Makes the link between the hosts lose `loss` percent of the packets in
/// each direction (only UDP when `udp_only`, with nftables), delayed by
/// `delay_ms` each way where netem is there. Returns whether the delay was
/// applied.
#[track_caller]
fn impair(tool: Tool, net: &Net, loss: u32, delay_ms: u32, udp_only: bool) -> bool {
    for host in [&net.a, &net.b] {
        match tool {
            Tool::Netem => {
                let (d, l) = (format!("{delay_ms}ms"), format!("{loss}%"));
                let mut a = vec!["qdisc", "replace", "dev", host.iface, "root", "netem"];
                if delay_ms > 0 {
                    a.extend(["delay", &d]);
                }
                a.extend(["loss", &l]);
                host.exec("tc", &a).expect_code(0);
            }
            Tool::Nft => nft_drop(host, loss, udp_only, false),
        }
    }
    if tool == Tool::Netem && udp_only {
        eprintln!("NOTE: netem loss applies to all traffic, TCP included");
    }
    tool == Tool::Netem || delay_ms == 0
}

/// Cuts `host` off the link: every packet in and out is lost.
#[track_caller]
fn cut_off(tool: Tool, host: &Host) {
    match tool {
        Tool::Netem => {
            host.exec(
                "tc",
                &[
                    "qdisc", "replace", "dev", host.iface, "root", "netem", "loss", "100%",
                ],
            )
            .expect_code(0);
        }
        Tool::Nft => nft_drop(host, 100, false, true),
    }
}

/// Restores the link.
fn restore(tool: Tool, net: &Net) {
    for host in [&net.a, &net.b] {
        match tool {
            Tool::Netem => host.exec("tc", &["qdisc", "del", "dev", host.iface, "root"]),
            Tool::Nft => host.exec("nft", &["delete", "table", "inet", "flomt"]),
        };
    }
}

fn setup(test: &str, tag: &str) -> Option<(Net, Tool)> {
    let net = Net::new(test, tag)?;
    let tool = fault_tool(test, &net.b)?;
    Some((net, tool))
}

/// A daemon on A on the TCP port, living until shut down.
fn start_daemon(net: &Net, port: &str, extra: &[&str]) {
    let mut a = vec!["-a", A_V4, "-p", port, "-d", "-1"];
    a.extend_from_slice(extra);
    a.extend(["--", "true"]);
    net.a.flom(&a).expect_code(0);
    assert!(
        net.a.tcp_listening(port.parse().unwrap()),
        "no daemon listening on {port}"
    );
}

// ------------------------------------------------------------ holder cut off

/// The holder's host is cut off (its link stays up, every packet is lost):
/// the daemon's keepalive (idle 2 s, interval 1 s, 2 probes) drops the
/// connection and grants the waiter within idle + interval x probes = 4 s
/// of the cut (plus scheduling slack).
#[test]
fn holder_host_cut_off_lock_freed_within_keepalive_bound() {
    let test = "holder_host_cut_off_lock_freed_within_keepalive_bound";
    let Some((net, tool)) = setup(test, "nfcut") else {
        return;
    };
    let port = "28801";
    start_daemon(
        &net,
        port,
        &[
            "--tcp-keepalive-time=2",
            "--tcp-keepalive-intvl=1",
            "--tcp-keepalive-probes=2",
        ],
    );
    let log = net.path("LOG");
    let fifo = net.mkfifo("RELEASE");
    let tcp = ["-a", A_V4, "-p", port, "-d", "0"];
    let script = format!("echo B-holding >> {log}; cat {fifo} >/dev/null; echo B-end >> {log}");
    let _holder = net.b.spawn(&args(&[&tcp, &["--", "sh", "-c", &script]]));
    wait_line(&log, "B-holding");
    let mut waiter = net.a.spawn(&args(&[
        &tcp,
        &[
            "-o",
            "20000",
            "--",
            "sh",
            "-c",
            &format!("echo A-run >> {log}"),
        ],
    ]));
    wait_blocked_on_lock(&mut waiter, port.parse().unwrap());

    let cut = Instant::now();
    cut_off(tool, &net.b);
    wait_line(&log, "A-run");
    let freed = cut.elapsed();
    let out = waiter.wait(CMD_BOUND);
    out.expect_code(0);
    assert_eq!(out.stderr, "", "waiter's stderr");
    assert_eq!(log_lines(&log), ["B-holding", "A-run"]);
    eprintln!("MEASURED {test}: lock freed {freed:?} after the cut (keepalive bound 4 s)");
    assert!(
        freed <= Duration::from_secs(7),
        "lock freed only after {freed:?}"
    );
    assert!(
        freed >= Duration::from_millis(1500),
        "lock freed after {freed:?}: before keepalive could have noticed"
    );
}

// ------------------------------------------------------------ lossy link

/// 10% loss and 40 ms delay each way (netem, or nftables loss and the
/// delaying relay) on the client host's link: twelve clients contend for one EX resource over TCP; all succeed
/// with a silent exit 0, their commands never overlap, each within 30 s.
#[test]
fn loss_and_delay_on_the_client_link() {
    let test = "loss_and_delay_on_the_client_link";
    let Some((net, tool)) = setup(test, "nfloss") else {
        return;
    };
    let port = "28802";
    start_daemon(&net, port, &[]);
    let netem_delay = impair(tool, &net, 10, 40, false);
    // Without netem the delay comes from a relay inside host B that holds
    // every chunk 40 ms each way; the loss (nftables) is on the link.
    let relay_port = "28803";
    if !netem_delay {
        relay::start(
            &net.b.ns.name,
            relay_port.parse().unwrap(),
            format!("{A_V4}:{port}").parse().unwrap(),
            Duration::from_millis(40),
        );
    }
    let log = net.path("LOG");
    let (addr, to_port) = if netem_delay {
        (A_V4, port)
    } else {
        ("127.0.0.1", relay_port)
    };
    let tcp = ["-a", addr, "-p", to_port, "-d", "0", "-o", "60000"];
    let script = format!("echo E >> {log}; sleep 0.05; echo X >> {log}");
    let started = Instant::now();
    let clients: Vec<Bg> = (0..12)
        .map(|_| net.b.spawn(&args(&[&tcp, &["--", "sh", "-c", &script]])))
        .collect();
    let mut times = Vec::new();
    for mut c in clients {
        let out = c.wait(Duration::from_secs(60));
        out.expect_code(0);
        assert_eq!(out.stderr, "", "stderr of {}", out.label);
        times.push(out.elapsed);
    }
    let all = started.elapsed();
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 24, "log: {lines:?}");
    for pair in lines.chunks(2) {
        assert_eq!(
            pair,
            ["E", "X"],
            "overlapping holders under loss: {lines:?}"
        );
    }
    times.sort();
    eprintln!(
        "MEASURED {test}: 12 contending clients, 10% loss{}: fastest {:?}, median {:?}, slowest {:?}, all done {all:?}",
        if netem_delay { " + 40 ms delay (netem)" } else { " + 40 ms delay (relay in host B)" },
        times[0],
        times[6],
        times[11]
    );
    assert!(
        times[11] <= Duration::from_secs(30),
        "slowest client {:?}",
        times[11]
    );
    // The lock request and its answer: at least 40 ms each way.
    assert!(
        times[0] >= Duration::from_millis(80),
        "delay not seen: {:?}",
        times[0]
    );
    restore(tool, &net);
    // The link restored: a client is fast again.
    let out = net.b.flom(&args(&[&tcp, &["--", "true"]]));
    out.expect_code(0);
    assert!(
        out.elapsed < Duration::from_secs(5),
        "{:?} after restore",
        out.elapsed
    );
}

// ------------------------------------------------------------ daemon vanishes

/// The daemon's host vanishes while clients on B wait for a lock held on
/// A: each waiter gives up at its own timeout with exit 98 and the timeout
/// message, no sooner, and at most 5 s later (the client's bounded wait for
/// the daemon to close after its half-close; C waits without a bound); a
/// holder on B of another resource still ends normally (within that same
/// bounded wait) when its command ends; a
/// new client with `-d 0` fails with exit 99 once its connection attempt
/// times out (B's SYN retries set to 2: about 7 s).
#[test]
fn daemon_host_vanishes_while_clients_wait() {
    let test = "daemon_host_vanishes_while_clients_wait";
    let Some((net, tool)) = setup(test, "nfgone") else {
        return;
    };
    let port = "28803";
    start_daemon(&net, port, &[]);
    let log = net.path("LOG");
    let hold_a = net.mkfifo("HOLD_A");
    let hold_b = net.mkfifo("HOLD_B");
    let tcp = ["-a", A_V4, "-p", port, "-d", "0"];
    let script = |who: &str, fifo: &str| {
        format!("echo {who}-holding >> {log}; cat {fifo} >/dev/null; echo {who}-end >> {log}")
    };
    let _holder_a = net.a.spawn(&args(&[
        &tcp,
        &["-r", "shared", "--", "sh", "-c", &script("A", &hold_a)],
    ]));
    wait_line(&log, "A-holding");
    let mut holder_b = net.b.spawn(&args(&[
        &tcp,
        &["-r", "other", "--", "sh", "-c", &script("B", &hold_b)],
    ]));
    wait_line(&log, "B-holding");
    let mut waiters = Vec::new();
    for _ in 0..3 {
        let mut w = net.b.spawn(&args(&[
            &tcp,
            &["-r", "shared", "-o", "4000", "--", "echo", "never"],
        ]));
        wait_blocked_on_lock(&mut w, port.parse().unwrap());
        waiters.push(w);
    }
    let cut = Instant::now();
    cut_off(tool, &net.a);
    let timeout_msg = "The lock was not obtained because timeout (4000 milliseconds) expired\n";
    for mut w in waiters {
        let out = w.wait(CMD_BOUND);
        out.expect_code(98);
        assert_eq!(out.stderr, timeout_msg);
        assert_eq!(out.stdout, "");
        assert!(
            out.elapsed >= Duration::from_millis(3900) && out.elapsed <= Duration::from_secs(12),
            "waiter with -o 4000 ended after {:?}",
            out.elapsed
        );
    }
    let waited = cut.elapsed();
    // The holder of the vanished daemon finishes when its command does.
    release(&hold_b);
    let out = holder_b.wait(CMD_BOUND);
    out.expect_code(0);
    assert_eq!(out.stderr, "");
    let holder_end = out.elapsed;
    // A new client cannot reach the daemon: exit 99 after the SYN retries.
    net.b
        .exec("sysctl", &["-q", "-w", "net.ipv4.tcp_syn_retries=2"])
        .expect_code(0);
    let out = net.b.flom(&args(&[&tcp, &["--", "echo", "never"]]));
    out.expect_code(99);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.starts_with("flom"), "stderr: {:?}", out.stderr);
    assert!(
        out.elapsed >= Duration::from_secs(2) && out.elapsed <= Duration::from_secs(20),
        "unreachable daemon reported after {:?}",
        out.elapsed
    );
    eprintln!(
        "MEASURED {test}: 3 waiters (-o 4000) ended 98 by {waited:?} after the cut; holder ended 0 ({holder_end:?} in all); new -d 0 client exit 99 after {:?}: {:?}",
        out.elapsed,
        out.stderr.trim()
    );
}

// ------------------------------------------------------------ lossy discovery

/// 30% of the UDP datagrams to and from B are lost: with 10 discovery
/// attempts of 300 ms, eight `-d 0` clients on B still find A's daemon
/// (exit 0, silent, each within the attempts' 3 s bound plus slack); with
/// every datagram lost, a client fails with exit 99 after its attempts and
/// starts no daemon of its own; with its sends refused by a local
/// firewall, it fails at once saying so.
#[test]
fn discovery_with_lossy_multicast() {
    let test = "discovery_with_lossy_multicast";
    let Some((net, tool)) = setup(test, "nfdisc") else {
        return;
    };
    let g = ["-A", "239.255.70.8", "-P", "28804"];
    net.a
        .flom(&args(&[&g, &["-d", "-1", "--", "true"]]))
        .expect_code(0);
    assert!(net.a.udp_bound(28804), "no discovery responder on A");
    impair(tool, &net, 30, 0, true);
    let attempts = ["-d", "0", "-D", "10", "-I", "300"];
    let mut times = Vec::new();
    for i in 0..8 {
        let out = net
            .b
            .flom(&args(&[&g, &attempts, &["--", "echo", &format!("run{i}")]]));
        out.expect_code(0);
        assert_eq!(out.stderr, "");
        assert_eq!(out.stdout, format!("run{i}\n"));
        assert!(
            out.elapsed <= Duration::from_secs(8),
            "discovery took {:?}",
            out.elapsed
        );
        times.push(out.elapsed);
    }
    assert!(net.b.pids().is_empty(), "a -d 0 client left a process on B");
    impair(tool, &net, 100, 0, true);
    let out = net.b.flom(&args(&[
        &g,
        &["-d", "0", "-D", "3", "-I", "300", "--", "echo", "never"],
    ]));
    out.expect_code(99);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.starts_with("flom: no daemon answered the discovery datagrams sent to multicast group ")
            && out.stderr.ends_with(", and -d 0 (daemon lifespan 0) forbids starting one: start a daemon there, check the address, or leave out -d 0.\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.elapsed >= Duration::from_millis(850) && out.elapsed <= Duration::from_secs(5),
        "3 lost attempts of 300 ms reported after {:?}",
        out.elapsed
    );
    if tool == Tool::Nft {
        // A local firewall that drops the datagram as it is sent: the
        // send fails (EPERM) and flom says so at once.
        cut_off(tool, &net.b);
        let cut = net.b.flom(&args(&[
            &g,
            &["-d", "0", "-D", "3", "-I", "300", "--", "true"],
        ]));
        cut.expect_code(99);
        assert!(
            cut.stderr
                .starts_with("flom: cannot send the discovery datagram to 239.255.70.8/28804: "),
            "stderr: {:?}",
            cut.stderr
        );
        assert!(cut.elapsed < Duration::from_secs(3), "{:?}", cut.elapsed);
    }
    net.b.wait_no_process();
    times.sort();
    eprintln!(
        "MEASURED {test}: 30% UDP loss, 8 discoveries: fastest {:?}, median {:?}, slowest {:?}; all lost: exit 99 after {:?} ({:?})",
        times[0],
        times[4],
        times[7],
        out.elapsed,
        out.stderr.trim()
    );
}
