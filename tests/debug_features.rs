//! `--debug-feature` (spec/cli.md §4, spec/tests.md §4, IPv6 multicast
//! part): an IPv6 multicast server and client exchange HELLO/WELCOME on
//! the interface-local group ff01::1 inside a network namespace the test
//! creates, so nothing leaves the machine and the host's routes do not
//! matter. TLS features are not built yet (exit 1 with a clear message);
//! an unknown feature exits 1.
//!
//! The namespace has its loopback up and a veth pair whose two ends both
//! stay inside it, with link-local addresses and the multicast routes the
//! kernel adds for them. (A multicast route `ff00::/8 dev lo` is not
//! usable: the kernel turns an IPv6 route through the loopback device into
//! a reject route, so the client's send finds no route.)

mod cli_support;
mod common;

use cli_support::*;
use common::{wait_until, Env, T};
use std::path::Path;
use std::process::{Command, Stdio};

const SERVER_OUT: &str = "Arrived datagram is 'HELLO'\nSent datagram is 'WELCOME'\n";
const CLIENT_OUT: &str = "Sent datagram is 'HELLO'\nArrived datagram is 'WELCOME'\n";

fn ip_binary() -> Option<&'static str> {
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

fn run_ip(ip: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(ip)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {ip}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`ip {}`: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A private network namespace `flomdbg-<pid>-<tag>`, deleted (with every
/// process in it) on drop.
struct Ns {
    ip: &'static str,
    name: String,
}

impl Ns {
    /// None (after printing why) when namespaces cannot be made here.
    fn new(test: &str, tag: &str) -> Option<Ns> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            skip(test, "needs root to create a network namespace");
            return None;
        }
        let Some(ip) = ip_binary() else {
            skip(test, "the `ip` command (iproute2) is not installed");
            return None;
        };
        if !Path::new("/proc/sys/net/ipv6").exists() {
            skip(test, "no IPv6 in this kernel");
            return None;
        }
        remove_stale(ip);
        let name = format!("flomdbg-{}-{tag}", std::process::id());
        if let Err(e) = run_ip(ip, &["netns", "add", &name]) {
            skip(test, &format!("`ip netns` unavailable: {e}"));
            return None;
        }
        let ns = Ns { ip, name };
        let n = ns.name.clone();
        let setup: Vec<Vec<&str>> = vec![
            vec!["link", "set", "lo", "up"],
            vec!["link", "add", "v0", "type", "veth", "peer", "name", "v1"],
            vec!["link", "set", "v0", "addrgenmode", "none"],
            vec!["link", "set", "v1", "addrgenmode", "none"],
            vec!["link", "set", "v0", "up"],
            vec!["link", "set", "v1", "up"],
            vec!["-6", "addr", "add", "fe80::1/64", "dev", "v0", "nodad"],
            vec!["-6", "addr", "add", "fe80::2/64", "dev", "v1", "nodad"],
        ];
        for args in setup {
            let mut a = vec!["-n", n.as_str()];
            a.extend(args);
            if let Err(e) = run_ip(ip, &a) {
                skip(test, &format!("cannot set up the namespace: {e}"));
                return None;
            }
        }
        Some(ns)
    }

    fn exec(&self) -> Vec<&str> {
        vec![self.ip, "netns", "exec", self.name.as_str()]
    }

    fn kill_all(&self) {
        for _ in 0..100 {
            let pids: Vec<i32> = run_ip(self.ip, &["netns", "pids", &self.name])
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                // SAFETY: a process inside the namespace this test created.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        self.kill_all();
        let _ = run_ip(self.ip, &["netns", "del", &self.name]);
    }
}

/// Deletes namespaces of earlier runs that died (`flomdbg-<pid>-...` whose
/// pid is gone).
fn remove_stale(ip: &str) {
    let Ok(list) = run_ip(ip, &["netns", "list"]) else {
        return;
    };
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(pid) = name
            .strip_prefix("flomdbg-")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let ns = Ns {
            ip: ip_binary().unwrap(),
            name: name.to_string(),
        };
        drop(ns);
    }
}

/// Whether process `pid` (in its own namespace) has a UDP/IPv6 socket
/// bound to `port`.
fn udp6_bound(pid: i32, port: u16) -> bool {
    let Ok(t) = std::fs::read_to_string(format!("/proc/{pid}/net/udp6")) else {
        return false;
    };
    let want = format!(":{port:04X}");
    t.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .any(|local| local.ends_with(&want))
}

fn multicast_exchange(test: &str, tag: &str, server: &str, client: &str, port: u16) {
    let Some(ns) = Ns::new(test, tag) else {
        return;
    };
    let env = Env::new(tag);
    let home = home(&env);
    let p = port.to_string();
    let server_opt = format!("--debug-feature={server}");
    let mut srv = Spec::new(&home, &[&server_opt, "-A", "ff01::1", "-P", &p])
        .wrapped(&ns.exec())
        .spawn();
    wait_until(T, "the server's UDP socket", || {
        udp6_bound(srv.pid, port) || !srv.is_running()
    });
    assert!(srv.is_running(), "{}", srv.wait(T).describe());
    Spec::new(
        &home,
        &["--debug-feature", client, "-A", "ff01::1", "-P", &p],
    )
    .wrapped(&ns.exec())
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
fn tls_debug_features_are_not_built_yet() {
    let env = Env::new("dbgtls");
    let home = home(&env);
    for name in ["tls.server", "TLS.Client"] {
        let opt = format!("--debug-feature={name}");
        let out = flom(&home, &["-a", "127.0.0.1", &opt]);
        out.expect_code(1).expect_stdout("");
        assert!(
            out.stderr
                .starts_with("flom: TLS is not supported by this build yet"),
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
