//! `--debug-feature` (spec/cli.md §4, spec/tests.md §4, IPv6 multicast
//! part): an IPv6 multicast server and client exchange HELLO/WELCOME on
//! the interface-local group ff01::1 inside a network namespace the test
//! creates, so nothing leaves the machine and the host's routes do not
//! matter. The TLS features without the three TLS files exit 1 with a
//! clear message (tests/tls.rs runs them with certificates);
//! an unknown feature exits 1.
//!
//! The namespace has its loopback up and a veth pair whose two ends both
//! stay inside it, with link-local addresses and the multicast routes the
//! kernel adds for them. (A multicast route `ff00::/8 dev lo` is not
//! usable: the kernel turns an IPv6 route through the loopback device into
//! a reject route, so the client's send finds no route.)

mod common;

use common::cli::*;
use common::netns::{namespaces_usable, parse_sock_table, Namespace};
use common::{skip, wait_until, Env, T};
use std::path::Path;

const SERVER_OUT: &str = "Arrived datagram is 'HELLO'\nSent datagram is 'WELCOME'\n";
const CLIENT_OUT: &str = "Sent datagram is 'HELLO'\nArrived datagram is 'WELCOME'\n";

/// A private network namespace with its loopback up and a veth pair whose
/// two ends both stay inside it, with link-local addresses; None (after
/// printing why) when it cannot be made here.
fn debug_namespace(test: &str, tag: &str) -> Option<Namespace> {
    if !namespaces_usable(test) {
        return None;
    }
    if !Path::new("/proc/sys/net/ipv6").exists() {
        skip(test, "no IPv6 in this kernel");
        return None;
    }
    let ns = match Namespace::add(tag) {
        Ok(ns) => ns,
        Err(e) => {
            skip(test, &format!("`ip netns` unavailable: {e}"));
            return None;
        }
    };
    let setup: [&[&str]; 8] = [
        &["link", "set", "lo", "up"],
        &["link", "add", "v0", "type", "veth", "peer", "name", "v1"],
        &["link", "set", "v0", "addrgenmode", "none"],
        &["link", "set", "v1", "addrgenmode", "none"],
        &["link", "set", "v0", "up"],
        &["link", "set", "v1", "up"],
        &["-6", "addr", "add", "fe80::1/64", "dev", "v0", "nodad"],
        &["-6", "addr", "add", "fe80::2/64", "dev", "v1", "nodad"],
    ];
    for args in setup {
        if let Err(e) = ns.ip(args) {
            skip(test, &format!("cannot set up the namespace: {e}"));
            return None;
        }
    }
    Some(ns)
}

/// Whether process `pid` (in its own namespace) has a UDP/IPv6 socket
/// bound to `port`.
fn udp6_bound(pid: i32, port: u16) -> bool {
    let t = std::fs::read_to_string(format!("/proc/{pid}/net/udp6")).unwrap_or_default();
    parse_sock_table(&t).iter().any(|r| r.local_port == port)
}

fn multicast_exchange(test: &str, tag: &str, server: &str, client: &str, port: u16) {
    let Some(ns) = debug_namespace(test, tag) else {
        return;
    };
    let env = Env::new(tag);
    let home = home(&env);
    let p = port.to_string();
    let server_opt = format!("--debug-feature={server}");
    let mut srv = Spec::new(&home, &[&server_opt, "-A", "ff01::1", "-P", &p])
        .wrapped(&ns.exec_prefix())
        .spawn();
    wait_until(T, "the server's UDP socket", || {
        udp6_bound(srv.pid, port) || !srv.is_running()
    });
    assert!(srv.is_running(), "{}", srv.wait(T).describe());
    Spec::new(
        &home,
        &["--debug-feature", client, "-A", "ff01::1", "-P", &p],
    )
    .wrapped(&ns.exec_prefix())
    .run()
    .expect_code(0)
    .expect_stdout(CLIENT_OUT)
    .expect_stderr("");
    srv.wait(T)
        .expect_code(0)
        .expect_stdout(SERVER_OUT)
        .expect_stderr("");
}

#[test]
fn ipv6_multicast_server_and_client() {
    multicast_exchange(
        "ipv6_multicast_server_and_client",
        "dbgmc",
        "ipv6.multicast.server",
        "ipv6.multicast.client",
        28999,
    );
}

#[test]
fn debug_feature_names_ignore_letter_case() {
    multicast_exchange(
        "debug_feature_names_ignore_letter_case",
        "dbgcase",
        "IPv6.Multicast.Server",
        "IPV6.MULTICAST.CLIENT",
        28998,
    );
}

#[test]
fn unknown_debug_feature_exits_1() {
    let env = Env::new("dbgunknown");
    let home = home(&env);
    for name in ["foo.bar", "ipv6.multicast", ""] {
        let opt = format!("--debug-feature={name}");
        let out = flom(&home, &["-s", &env.sock, &opt]);
        out.expect_code(1).expect_stdout("");
        assert!(out.stderr.starts_with("flom: "), "{}", out.describe());
    }
    // it never runs the command nor starts a daemon
    let marker = env.path("ran");
    flom(
        &home,
        &[
            "-s",
            &env.sock,
            "--debug-feature",
            "nope",
            "--",
            "touch",
            &marker,
        ],
    )
    .expect_code(1);
    assert!(!common::exists(&marker) && !common::exists(&env.sock));
}

#[test]
fn tls_debug_features_without_tls_files_exit_1() {
    let env = Env::new("dbgtls");
    let home = home(&env);
    for name in ["tls.server", "TLS.Client"] {
        let opt = format!("--debug-feature={name}");
        let out = flom(&home, &["-a", "127.0.0.1", &opt]);
        out.expect_code(1).expect_stdout("");
        assert!(
            out.stderr.starts_with("flom: the tls.")
                && out.stderr.contains("debug feature needs TLS"),
            "{}",
            out.describe()
        );
    }
}

#[test]
fn multicast_feature_without_a_group_exits_1() {
    let env = Env::new("dbgnogroup");
    let home = home(&env);
    let out = flom(&home, &["--debug-feature=ipv6.multicast.client"]);
    out.expect_code(1).expect_stdout("");
    assert!(out.stderr.starts_with("flom: "), "{}", out.describe());
}
