//! Wire compatibility with C FLoM 1.7.2 over the network, from the
//! byte-exact transcripts in `../shared/vectors/`:
//!
//! * vector 17 (TCP on 127.0.0.1): the client half is replayed on raw TCP
//!   connections against our daemon (every `S>` must come back byte for
//!   byte, each in one segment), and a scripted TCP fake daemon checks that
//!   our client sends the `C>` bytes exactly;
//! * vector 15 (UDP multicast discovery, then TCP): inside a network
//!   namespace the test creates (only `lo`, multicast on, `224.0.0.0/4`
//!   routed to it), the exact `U>` datagram is sent to the group and the
//!   `U<` reply must match byte for byte except the ephemeral port, which
//!   must be the daemon's TCP listening port; then the TCP conversation is
//!   replayed. The reverse: a scripted fake daemon (UDP responder answering
//!   with the vector's `U<` bytes, TCP listener on the port those bytes
//!   name, answering with the `S>` bytes) checks our client's datagram and
//!   TCP messages.
//!
//! The vectors' peer id is replaced by this host's machine id. Namespace
//! tests skip (with a printed reason) when not root or without `ip netns`.
//! No packet leaves loopback or the namespaces created here; every test
//! ends its daemons and deletes its namespace.

mod common;
use common::vectors::{conn_number, unescape, vectors_dir};
mod netns;

use std::fs;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{machine_id, poll_readable, VECTOR_PEER};
use netns::{Scratch, BOUND, CMD_BOUND, FLOM, TCP_LISTEN};

// ------------------------------------------------------------ transcripts

#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    /// `U>`: the discovery datagram, sent to `to` (the group and port).
    UdpReq { to: SocketAddrV4, bytes: String },
    /// `U<`: the daemon's unicast reply, sent from `from`.
    UdpReply { from: SocketAddrV4, bytes: String },
    /// `# conn N: TCP SYN from ...`: the client connects.
    Connect(u32),
    /// `C>` bytes, client to daemon.
    C(u32, String),
    /// `S>` bytes, daemon to client.
    S(u32, String),
    /// `# close by client (conn N, TCP FIN)`.
    CloseByClient(u32),
    /// `# close by daemon (conn N, TCP FIN)`.
    CloseByDaemon(u32),
}

/// A parsed transcript: its events and the header comment lines.
struct Vector {
    evs: Vec<Ev>,
    header: Vec<String>,
}

/// `# udp A:P -> B:Q +T` → (A:P, B:Q).
fn udp_endpoints(rest: &str) -> (SocketAddrV4, SocketAddrV4) {
    let mut f = rest.split_whitespace();
    let from = f.next().and_then(|s| s.parse().ok());
    let arrow = f.next();
    let to = f.next().and_then(|s| s.parse().ok());
    match (from, arrow, to) {
        (Some(a), Some("->"), Some(b)) => (a, b),
        _ => panic!("bad udp comment {rest:?}"),
    }
}

/// Parses a TCP/UDP transcript; None (with a note) when the vectors are
/// missing. The vectors' peer id is replaced by this host's.
fn load(file: &str) -> Option<Vector> {
    let path = vectors_dir().join(file);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "SKIPPED: cannot read {} ({e}); the wire vectors live in ../shared/vectors",
                path.display()
            );
            return None;
        }
    };
    let peer = machine_id();
    let mut evs = Vec::new();
    let mut header = Vec::new();
    let mut cur = 0;
    let mut udp: Option<(SocketAddrV4, SocketAddrV4)> = None;
    let mut in_transcript = false;
    for line in text.lines() {
        if line.starts_with("# ---- transcript ----") {
            in_transcript = true;
            continue;
        }
        if !in_transcript {
            header.push(line.to_string());
            continue;
        }
        let fix = |b: &str| unescape(b).replace(VECTOR_PEER, &peer);
        if let Some(rest) = line.strip_prefix("# udp ") {
            udp = Some(udp_endpoints(rest));
        } else if let Some(rest) = line.strip_prefix("# conn ") {
            cur = conn_number(rest);
            if rest.contains(": TCP SYN from") {
                evs.push(Ev::Connect(cur));
            }
        } else if let Some(rest) = line.strip_prefix("# close by client (conn ") {
            evs.push(Ev::CloseByClient(conn_number(rest)));
        } else if let Some(rest) = line.strip_prefix("# close by daemon (conn ") {
            evs.push(Ev::CloseByDaemon(conn_number(rest)));
        } else if let Some(b) = line.strip_prefix("C> ") {
            evs.push(Ev::C(cur, fix(b)));
        } else if let Some(b) = line.strip_prefix("S> ") {
            evs.push(Ev::S(cur, fix(b)));
        } else if let Some(b) = line.strip_prefix("U> ") {
            let (_, to) = udp.take().expect("U> without its `# udp` comment");
            evs.push(Ev::UdpReq { to, bytes: fix(b) });
        } else if let Some(b) = line.strip_prefix("U< ") {
            let (from, _) = udp.take().expect("U< without its `# udp` comment");
            evs.push(Ev::UdpReply {
                from,
                bytes: fix(b),
            });
        }
    }
    assert!(!evs.is_empty(), "{file}: no transcript found");
    Some(Vector { evs, header })
}

/// Splits a discovery reply at its `port` value: (before, port, after).
#[track_caller]
fn split_port(reply: &str) -> (&str, u16, &str) {
    let key = "port=\"";
    let at = reply.find(key).expect("port attribute") + key.len();
    let len = reply[at..].find('"').expect("end of the port value");
    let port = reply[at..at + len].parse().expect("numeric port");
    (&reply[..at], port, &reply[at + len..])
}

/// The events from each `U>` up to the next one (one discovery each).
fn discovery_sessions(evs: &[Ev]) -> Vec<Vec<Ev>> {
    let mut out: Vec<Vec<Ev>> = Vec::new();
    for e in evs {
        if matches!(e, Ev::UdpReq { .. }) || out.is_empty() {
            out.push(Vec::new());
        }
        out.last_mut().unwrap().push(e.clone());
    }
    out
}

/// Lines of the header's output blocks (`#   | ...`) starting with `prefix`.
fn header_output_lines(v: &Vector, prefix: &str) -> Vec<String> {
    v.header
        .iter()
        .filter_map(|l| l.strip_prefix("#   | "))
        .filter(|l| l.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

#[test]
fn transcript_parser_reads_vectors_15_and_17() {
    let (Some(v15), Some(v17)) = (load("15-udp-discovery.txt"), load("17-tcp-simple.txt")) else {
        return;
    };
    let group: SocketAddrV4 = "239.255.0.1:28016".parse().unwrap();
    assert_eq!(v15.evs.len(), 16, "{:#?}", v15.evs);
    assert!(matches!(&v15.evs[0], Ev::UdpReq { to, bytes } if *to == group && bytes.len() == 78));
    assert!(matches!(&v15.evs[1], Ev::UdpReply { from, .. } if from.port() == 28016));
    assert_eq!(v15.evs[2], Ev::Connect(1));
    assert_eq!(v15.evs[6], Ev::CloseByClient(1));
    assert_eq!(v15.evs[7], Ev::CloseByDaemon(1));
    assert_eq!(v15.evs[10], Ev::Connect(2));
    let sessions = discovery_sessions(&v15.evs);
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0].len(), 8);
    let Ev::UdpReply { bytes, .. } = &v15.evs[1] else {
        unreachable!()
    };
    assert_eq!(split_port(bytes).1, 44361);
    assert_eq!(
        header_output_lines(&v15, "sending UDP").len(),
        1,
        "{:?}",
        v15.header
    );
    assert_eq!(v17.evs.len(), 6, "{:#?}", v17.evs);
    assert_eq!(v17.evs[0], Ev::Connect(1));
    assert!(v17
        .evs
        .iter()
        .all(|e| !matches!(e, Ev::UdpReq { .. } | Ev::UdpReply { .. })));
}

// ------------------------------------------------------------ raw TCP

/// What a raw read produced.
#[derive(Debug, PartialEq, Eq)]
enum Recv {
    /// One complete message, and how many read() calls brought its bytes.
    Msg(String, usize),
    /// The peer closed; `partial` holds bytes of an unfinished message.
    Closed {
        partial: String,
    },
    Timeout,
}

/// A raw protocol connection over TCP driven by the test.
struct TcpRaw {
    s: TcpStream,
    buf: Vec<u8>,
    reads: usize,
    eof: bool,
}

impl TcpRaw {
    fn new(s: TcpStream) -> TcpRaw {
        TcpRaw {
            s,
            buf: Vec::new(),
            reads: 0,
            eof: false,
        }
    }

    /// Writes `bytes` with one write(2), as C FLoM sends each message.
    #[track_caller]
    fn send_msg(&mut self, bytes: &str) {
        let n = self.s.write(bytes.as_bytes()).expect("send");
        assert_eq!(n, bytes.len(), "short write");
    }

    fn shutdown_write(&self) {
        let _ = self.s.shutdown(Shutdown::Write);
    }

    /// Reads one message, bounded by `timeout`; a reset counts as a close.
    fn recv(&mut self, timeout: Duration) -> Recv {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(p) = self.buf.windows(6).position(|w| w == b"</msg>") {
                let msg: Vec<u8> = self.buf.drain(..p + 6).collect();
                let reads = std::mem::replace(&mut self.reads, usize::from(!self.buf.is_empty()));
                return Recv::Msg(String::from_utf8_lossy(&msg).into_owned(), reads);
            }
            if self.eof {
                return Recv::Closed {
                    partial: String::from_utf8_lossy(&self.buf).into_owned(),
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Recv::Timeout;
            }
            if !poll_readable(self.s.as_raw_fd(), deadline - now) {
                continue;
            }
            let mut chunk = [0u8; 4096];
            match self.s.read(&mut chunk) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.reads += 1;
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => self.eof = true,
            }
        }
    }

    /// Expects exactly `expected`, arrived in one segment (one read).
    #[track_caller]
    fn expect_exact(&mut self, expected: &str, ctx: &str) {
        match self.recv(BOUND) {
            Recv::Msg(got, reads) => {
                assert_eq!(got, expected, "{ctx}: other bytes");
                assert_eq!(
                    reads, 1,
                    "{ctx}: the message came in {reads} pieces (C sends each with one send())"
                );
            }
            other => panic!("{ctx}: expected {expected:?}, got {other:?}"),
        }
    }

    /// Expects the peer to close without sending anything (more).
    #[track_caller]
    fn expect_closed(&mut self, ctx: &str) {
        match self.recv(BOUND) {
            Recv::Closed { partial } if partial.is_empty() => {}
            other => panic!("{ctx}: expected the peer to close without data, got {other:?}"),
        }
    }
}

/// Accepts one connection within `BOUND`.
#[track_caller]
fn accept_bounded(l: &TcpListener) -> TcpStream {
    assert!(
        poll_readable(l.as_raw_fd(), BOUND),
        "no client connected within {BOUND:?}"
    );
    let (s, _) = l.accept().expect("accept");
    s.set_nonblocking(false).expect("blocking stream");
    s
}

// ------------------------------------------------------------ namespace

fn ip_binary() -> Option<&'static str> {
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// Runs `ip ARGS`; Ok(stdout) or Err(stderr).
fn run_ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new(ip_binary().unwrap_or("ip"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A private network namespace with only `lo` (up, multicast on, and
/// `224.0.0.0/4` routed to it), as the vectors were recorded. Every process
/// inside is killed and the namespace deleted on drop.
struct LoNs {
    name: String,
    scratch: Arc<Scratch>,
}

impl LoNs {
    fn new(test: &str, tag: &str) -> Option<LoNs> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            netns::skip(test, "needs root to create network namespaces");
            return None;
        }
        if ip_binary().is_none() {
            netns::skip(test, "the `ip` command (iproute2) is not installed");
            return None;
        }
        let name = format!("flomt-{}-{tag}", std::process::id());
        let _ = run_ip(&["netns", "del", &name]);
        if let Err(e) = run_ip(&["netns", "add", &name]) {
            netns::skip(test, &format!("`ip netns` unavailable: {e}"));
            return None;
        }
        let ns = LoNs {
            name,
            scratch: Scratch::new(tag),
        };
        for args in [
            &["link", "set", "lo", "up"][..],
            &["link", "set", "lo", "multicast", "on"],
            &["route", "add", "224.0.0.0/4", "dev", "lo"],
        ] {
            let mut all = vec!["-n", ns.name.as_str()];
            all.extend_from_slice(args);
            if let Err(e) = run_ip(&all) {
                panic!("namespace setup failed: {e}");
            }
        }
        Some(ns)
    }

    /// Runs `f` on a thread that has entered this namespace: sockets it
    /// creates belong to the namespace (the caller's thread never moves).
    fn enter<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        let path = format!("/run/netns/{}", self.name);
        let h = std::thread::spawn(move || {
            let nsf = fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
            // SAFETY: setns on this short-lived thread only, with a
            // namespace descriptor we opened.
            let r = unsafe { libc::setns(nsf.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns {path}: {}", io::Error::last_os_error());
            f()
        });
        h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
    }

    /// Starts `program args` inside the namespace.
    fn spawn(&self, program: &str, args: &[&str]) -> netns::Proc {
        self.scratch.spawn(Some(&self.name), program, args)
    }

    /// Runs `flom args` inside the namespace to its end (bounded).
    #[track_caller]
    fn flom(&self, args: &[&str]) -> netns::Out {
        self.spawn(FLOM, args).wait(CMD_BOUND)
    }

    fn pids(&self) -> Vec<i32> {
        run_ip(&["netns", "pids", &self.name])
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    /// The only process of the namespace (waits for it, bounded).
    #[track_caller]
    fn only_process(&self) -> i32 {
        let mut pids = Vec::new();
        assert!(
            netns::wait_until(BOUND, || {
                pids = self.pids();
                pids.len() == 1
            }),
            "expected one process (the daemon) in {}, found {pids:?}",
            self.name
        );
        pids[0]
    }

    #[track_caller]
    fn wait_no_process(&self) {
        assert!(
            netns::wait_until(BOUND, || self.pids().is_empty()),
            "processes still running in {}: {:?}",
            self.name,
            self.pids()
        );
    }
}

impl Drop for LoNs {
    fn drop(&mut self) {
        for _ in 0..100 {
            let pids = self.pids();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                // SAFETY: kill(2) of a process inside the namespace this
                // test created (only the test's own commands run there).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = run_ip(&["netns", "del", &self.name]);
    }
}

/// The TCP port `pid` (in its namespace) listens on; exactly one.
#[track_caller]
fn the_listening_port(pid: i32) -> u16 {
    let ports: Vec<u16> = netns::proc_sockets(pid as u32, false)
        .iter()
        .filter(|r| r.state == TCP_LISTEN)
        .map(|r| r.local_port)
        .collect();
    assert_eq!(ports.len(), 1, "TCP listeners of {pid}: {ports:?}");
    ports[0]
}

// ------------------------------------------------------------ our daemon

/// Replays every event of `v` against our daemon. `tcp_port` is the
/// daemon's TCP listening port (what a discovery reply must advertise);
/// `fixed` is where connections go when there is no discovery; `ns` is the
/// namespace the sockets are created in (discovery only).
fn replay_against_daemon(
    v: &Vector,
    file: &str,
    tcp_port: u16,
    fixed: Option<SocketAddr>,
    ns: Option<&LoNs>,
) {
    let mut udp: Option<UdpSocket> = None;
    let mut discovered: Option<SocketAddr> = None;
    let mut conns: std::collections::HashMap<u32, TcpRaw> = Default::default();
    for (i, ev) in v.evs.iter().enumerate() {
        let ctx = format!("{file} event #{i} {ev:?}");
        match ev {
            Ev::UdpReq { to, bytes } => {
                let ns = ns.expect("discovery needs the namespace");
                let s = ns.enter(|| UdpSocket::bind("0.0.0.0:0").expect("udp socket"));
                s.set_read_timeout(Some(BOUND)).unwrap();
                let n = s.send_to(bytes.as_bytes(), to).expect("send the datagram");
                assert_eq!(n, bytes.len());
                udp = Some(s);
            }
            Ev::UdpReply { from, bytes } => {
                let s = udp.as_ref().expect("a reply without a request");
                let mut buf = [0u8; 2048];
                let (n, src) = s
                    .recv_from(&mut buf)
                    .unwrap_or_else(|e| panic!("{ctx}: no discovery reply: {e}"));
                let got = String::from_utf8_lossy(&buf[..n]).into_owned();
                let (eb, _, ea) = split_port(bytes);
                let (gb, gport, ga) = split_port(&got);
                assert_eq!((gb, ga), (eb, ea), "{ctx}: other bytes: {got:?}");
                assert_eq!(
                    gport, tcp_port,
                    "{ctx}: the reply advertises another port than the daemon listens on"
                );
                // As in the capture: from the group's port, by unicast.
                assert_eq!(
                    src,
                    SocketAddr::V4(*from),
                    "{ctx}: reply from another source"
                );
                let mut target = src;
                target.set_port(gport);
                discovered = Some(target);
            }
            Ev::Connect(n) => {
                let s = match (fixed, discovered.take()) {
                    (_, Some(to)) => {
                        let ns = ns.expect("discovery needs the namespace");
                        ns.enter(move || TcpStream::connect_timeout(&to, BOUND))
                    }
                    (Some(to), None) => TcpStream::connect_timeout(&to, BOUND),
                    (None, None) => panic!("{ctx}: connect before any discovery"),
                }
                .unwrap_or_else(|e| panic!("{ctx}: connect: {e}"));
                conns.insert(*n, TcpRaw::new(s));
            }
            Ev::C(n, bytes) => conns.get_mut(n).expect(&ctx).send_msg(bytes),
            Ev::S(n, bytes) => conns.get_mut(n).expect(&ctx).expect_exact(bytes, &ctx),
            Ev::CloseByClient(n) => conns.get_mut(n).expect(&ctx).shutdown_write(),
            Ev::CloseByDaemon(n) => conns.get_mut(n).expect(&ctx).expect_closed(&ctx),
        }
    }
}

/// The command lines of the header's clients (`# client X: $ flom ARGS`),
/// in order, as argument vectors without the program name.
fn client_args(v: &Vector) -> Vec<Vec<String>> {
    v.header
        .iter()
        .filter(|l| l.starts_with("# client "))
        .filter_map(|l| l.split_once(": $ flom "))
        .map(|(_, args)| args.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// `args` with the value of option `opt` replaced by `value`.
fn with_option(args: &[String], opt: &str, value: &str) -> Vec<String> {
    let at = args
        .iter()
        .position(|a| a == opt)
        .unwrap_or_else(|| panic!("no {opt} in {args:?}"));
    let mut v = args.to_vec();
    v[at + 1] = value.to_string();
    v
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn daemon_replays_17_tcp_on_loopback() {
    let test = "daemon_replays_17_tcp_on_loopback";
    let file = "17-tcp-simple.txt";
    let Some(v) = load(file) else { return };
    let Some(port) = netns::free_loopback_port("127.0.0.1") else {
        return netns::skip(test, "cannot bind 127.0.0.1");
    };
    let _guard = netns::LoopbackGuard { port };
    let scratch = Scratch::new("v17d");
    let p = port.to_string();
    let run = |extra: &[&str]| {
        let mut a = vec!["-a", "127.0.0.1", "-p", p.as_str()];
        a.extend_from_slice(extra);
        scratch.spawn(None, FLOM, &a).wait(CMD_BOUND)
    };
    run(&["-d", "-1", "--", "true"]).expect_code(0);
    let daemons = netns::local_listener_pids(port);
    assert_eq!(daemons.len(), 1, "daemons on 127.0.0.1:{port}: {daemons:?}");

    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    replay_against_daemon(&v, file, port, Some(to), None);

    // The same daemon still serves a normal client, then -X ends it.
    run(&["-d", "0", "-o", "0", "--", "true"]).expect_code(0);
    assert_eq!(netns::local_listener_pids(port), daemons);
    let out = run(&["-X"]);
    out.expect_code(0);
    assert_eq!(out.lines(), [netns::IMMEDIATE_BANNER]);
    assert!(
        netns::wait_until(BOUND, || !netns::local_tcp_listening(port)),
        "the daemon still listens on {port} after -X"
    );
    assert!(
        netns::wait_until(BOUND, || !common::pid_alive(daemons[0])),
        "the daemon {} is still alive after -X",
        daemons[0]
    );
}

#[test]
fn daemon_replays_15_discovery_in_namespace() {
    let test = "daemon_replays_15_discovery_in_namespace";
    let file = "15-udp-discovery.txt";
    let Some(v) = load(file) else { return };
    let Some(ns) = LoNs::new(test, "v15d") else {
        return;
    };
    let Some(Ev::UdpReq { to: group, .. }) = v.evs.first() else {
        panic!("{file} does not start with a discovery datagram");
    };
    // The vector's own group and port: nothing else lives in this namespace.
    let g = group.ip().to_string();
    let gp = group.port().to_string();
    ns.flom(&["-A", &g, "-P", &gp, "-d", "-1", "--", "true"])
        .expect_code(0);
    let daemon = ns.only_process();
    let tcp_port = the_listening_port(daemon);

    replay_against_daemon(&v, file, tcp_port, None, Some(&ns));

    // Still the one daemon; -X over discovery ends it.
    assert_eq!(ns.pids(), [daemon]);
    let out = ns.flom(&["-A", &g, "-P", &gp, "-X"]);
    out.expect_code(0);
    assert_eq!(out.lines(), [netns::IMMEDIATE_BANNER]);
    ns.wait_no_process();
}

// ------------------------------------------------------------ our client

/// Plays the daemon's side of one TCP conversation on `raw`: each `C>`
/// must arrive exactly (in one segment), each `S>` is sent with one write,
/// the client's close must be seen, the daemon's close is a half-close.
#[track_caller]
fn serve_tcp(raw: &mut TcpRaw, script: &[Ev], what: &str) {
    for (i, ev) in script.iter().enumerate() {
        let ctx = format!("{what} step #{i} {ev:?}");
        match ev {
            Ev::C(_, bytes) => raw.expect_exact(bytes, &ctx),
            Ev::S(_, bytes) => raw.send_msg(bytes),
            Ev::CloseByClient(_) => raw.expect_closed(&ctx),
            Ev::CloseByDaemon(_) => raw.shutdown_write(),
            Ev::Connect(_) | Ev::UdpReq { .. } | Ev::UdpReply { .. } => {
                panic!("{ctx}: not a TCP conversation event")
            }
        }
    }
}

#[test]
fn client_17_against_fake_tcp_daemon() {
    let file = "17-tcp-simple.txt";
    let Some(v) = load(file) else { return };
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake daemon");
    let port = listener.local_addr().unwrap().port().to_string();
    let clients = client_args(&v);
    assert_eq!(clients.len(), 1, "{clients:?}");
    let args = with_option(&clients[0], "-p", &port);
    let scratch = Scratch::new("v17c");
    let client = scratch.spawn(None, FLOM, &refs(&args));
    let mut raw = TcpRaw::new(accept_bounded(&listener));
    assert_eq!(v.evs[0], Ev::Connect(1));
    serve_tcp(&mut raw, &v.evs[1..], file);
    let out = client.wait(CMD_BOUND);
    out.expect_code(0);
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));
    assert!(
        !poll_readable(listener.as_raw_fd(), Duration::ZERO),
        "the client opened another connection"
    );
}

#[test]
fn client_15_discovers_fake_daemon_in_namespace() {
    let test = "client_15_discovers_fake_daemon_in_namespace";
    let file = "15-udp-discovery.txt";
    let Some(v) = load(file) else { return };
    let Some(ns) = LoNs::new(test, "v15c") else {
        return;
    };
    let sessions = discovery_sessions(&v.evs);
    let clients = client_args(&v);
    assert_eq!(sessions.len(), clients.len(), "one discovery per client");
    let (Ev::UdpReq { to: group, .. }, Ev::UdpReply { bytes: reply, .. }) =
        (&sessions[0][0], &sessions[0][1])
    else {
        panic!("{file}: a session does not start with U> and U<");
    };
    // The fake daemon: the discovery responder on the vector's group and
    // port, the TCP listener on the port the vector's reply names (both
    // free: the namespace is private).
    let group = *group;
    let tcp_port = split_port(reply).1;
    let (udp, listener) = ns.enter(move || {
        let u = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, group.port())).expect("bind udp");
        u.join_multicast_v4(group.ip(), &Ipv4Addr::UNSPECIFIED)
            .expect("join the group");
        let l = TcpListener::bind((Ipv4Addr::UNSPECIFIED, tcp_port)).expect("bind tcp");
        (u, l)
    });
    udp.set_read_timeout(Some(BOUND)).unwrap();

    for (k, (session, args)) in sessions.iter().zip(&clients).enumerate() {
        let what = format!("{file} client #{k} (flom {})", args.join(" "));
        let client = ns.spawn(FLOM, &refs(args));
        let mut from: Option<SocketAddr> = None;
        let mut raw: Option<TcpRaw> = None;
        for (i, ev) in session.iter().enumerate() {
            let ctx = format!("{what} event #{i} {ev:?}");
            match ev {
                Ev::UdpReq { bytes, .. } => {
                    let mut buf = [0u8; 2048];
                    let (n, src) = udp
                        .recv_from(&mut buf)
                        .unwrap_or_else(|e| panic!("{ctx}: no datagram: {e}"));
                    let got = String::from_utf8_lossy(&buf[..n]);
                    assert_eq!(got, *bytes, "{ctx}: the client sent another datagram");
                    from = Some(src);
                }
                Ev::UdpReply { bytes, .. } => {
                    let to = from.take().expect("a reply without a request");
                    let n = udp.send_to(bytes.as_bytes(), to).expect("reply");
                    assert_eq!(n, bytes.len());
                }
                Ev::Connect(_) => raw = Some(TcpRaw::new(accept_bounded(&listener))),
                _ => serve_tcp(
                    raw.as_mut().expect("TCP before the connection"),
                    std::slice::from_ref(ev),
                    &ctx,
                ),
            }
        }
        let out = client.wait(CMD_BOUND);
        out.expect_code(0);
        assert_eq!(out.stderr, "", "{what}");
        // Verbose (-V) runs print the chatter lines of the capture.
        let mut chatter = header_output_lines(&v, "sending UDP multicast datagram");
        chatter.extend(header_output_lines(&v, "reply from "));
        let expected: Vec<&str> = if args.iter().any(|a| a == "-V") {
            refs(&chatter)
        } else {
            Vec::new()
        };
        assert_eq!(out.lines(), expected, "{what}: stdout {:?}", out.stdout);
        assert!(
            !poll_readable(udp.as_raw_fd(), Duration::ZERO),
            "{what}: a second datagram was sent"
        );
        assert!(
            !poll_readable(listener.as_raw_fd(), Duration::ZERO),
            "{what}: the client opened another connection"
        );
    }
    drop((udp, listener));
    ns.wait_no_process();
}
