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

use common::netns::{
    local_listener_pids, local_tcp_listening, namespaces_usable, the_listening_port, Namespace,
    TcpPort, CMD_BOUND,
};
use common::vectors::{load_vector as load, serve_script, Ev, Framing, Vector};
use common::{
    pid_alive, poll_readable, poll_until, skip, spawn_flom, Out, Raw, BIN, IMMEDIATE_BANNER, T,
};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::io::AsRawFd;
use std::time::Duration;

// ------------------------------------------------------------ transcripts

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
    let group: std::net::SocketAddrV4 = "239.255.0.1:28016".parse().unwrap();
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

/// Accepts one connection within `T`.
#[track_caller]
fn accept_bounded(l: &TcpListener) -> TcpStream {
    assert!(
        poll_readable(l.as_raw_fd(), T),
        "no client connected within {T:?}"
    );
    let (s, _) = l.accept().expect("accept");
    s.set_nonblocking(false).expect("blocking stream");
    s
}

// ------------------------------------------------------------ namespace

// ------------------------------------------------------------ namespace

/// A private network namespace with only `lo` (up, multicast on, and
/// `224.0.0.0/4` routed to it), as the vectors were recorded. None (after
/// printing why) when namespaces cannot be made here.
fn lo_namespace(test: &str, tag: &str) -> Option<Namespace> {
    if !namespaces_usable(test) {
        return None;
    }
    let ns = match Namespace::add(tag) {
        Ok(ns) => ns,
        Err(e) => {
            skip(test, &format!("`ip netns` unavailable: {e}"));
            return None;
        }
    };
    ns.must_ip(&["link", "set", "lo", "up"]);
    ns.must_ip(&["link", "set", "lo", "multicast", "on"]);
    ns.must_ip(&["route", "add", "224.0.0.0/4", "dev", "lo"]);
    Some(ns)
}

/// Runs `flom args` inside `ns` to its end (bounded).
#[track_caller]
fn flom_in(ns: &Namespace, args: &[&str]) -> Out {
    ns.spawn(BIN, args).wait(CMD_BOUND)
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
    ns: Option<&Namespace>,
) {
    let mut udp: Option<UdpSocket> = None;
    let mut discovered: Option<SocketAddr> = None;
    let mut conns: std::collections::HashMap<u32, Raw<TcpStream>> = Default::default();
    for (i, ev) in v.evs.iter().enumerate() {
        let ctx = format!("{file} event #{i} {ev:?}");
        match ev {
            Ev::UdpReq { to, bytes } => {
                let ns = ns.expect("discovery needs the namespace");
                let s = ns.enter(|| UdpSocket::bind("0.0.0.0:0").expect("udp socket"));
                s.set_read_timeout(Some(T)).unwrap();
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
                        ns.enter(move || TcpStream::connect_timeout(&to, T))
                    }
                    (Some(to), None) => TcpStream::connect_timeout(&to, T),
                    (None, None) => panic!("{ctx}: connect before any discovery"),
                }
                .unwrap_or_else(|e| panic!("{ctx}: connect: {e}"));
                conns.insert(*n, Raw::from_stream(s));
            }
            Ev::C(n, bytes) => conns.get_mut(n).expect(&ctx).send_one_write(bytes),
            Ev::S(n, bytes) => conns
                .get_mut(n)
                .expect(&ctx)
                .expect_exact_one_read(bytes, T, &ctx),
            Ev::CloseByClient(n) => conns.get_mut(n).expect(&ctx).shutdown_write(),
            Ev::CloseByDaemon(n) => conns.get_mut(n).expect(&ctx).expect_closed_for(T, &ctx),
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
    let Some(port) = TcpPort::on("127.0.0.1") else {
        return skip(test, "cannot bind 127.0.0.1");
    };
    let run = |extra: &[&str]| {
        let mut a = port.args().to_vec();
        a.extend_from_slice(extra);
        spawn_flom(&a).wait(CMD_BOUND)
    };
    run(&["-d", "-1", "--", "true"]).expect_code(0);
    let daemons = local_listener_pids(port.port);
    assert_eq!(
        daemons.len(),
        1,
        "daemons on 127.0.0.1:{}: {daemons:?}",
        port.port
    );

    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port.port));
    replay_against_daemon(&v, file, port.port, Some(to), None);

    // The same daemon still serves a normal client, then -X ends it.
    run(&["-d", "0", "-o", "0", "--", "true"]).expect_code(0);
    assert_eq!(local_listener_pids(port.port), daemons);
    let out = run(&["-X"]);
    out.expect_code(0);
    assert_eq!(out.lines(), [IMMEDIATE_BANNER]);
    assert!(
        poll_until(T, || !local_tcp_listening(port.port)),
        "the daemon still listens on {} after -X",
        port.port
    );
    assert!(
        poll_until(T, || !pid_alive(daemons[0])),
        "the daemon {} is still alive after -X",
        daemons[0]
    );
}

#[test]
fn daemon_replays_15_discovery_in_namespace() {
    let test = "daemon_replays_15_discovery_in_namespace";
    let file = "15-udp-discovery.txt";
    let Some(v) = load(file) else { return };
    let Some(ns) = lo_namespace(test, "v15d") else {
        return;
    };
    let Some(Ev::UdpReq { to: group, .. }) = v.evs.first() else {
        panic!("{file} does not start with a discovery datagram");
    };
    // The vector's own group and port: nothing else lives in this namespace.
    let g = group.ip().to_string();
    let gp = group.port().to_string();
    flom_in(&ns, &["-A", &g, "-P", &gp, "-d", "-1", "--", "true"]).expect_code(0);
    let daemon = ns.only_process();
    let tcp_port = the_listening_port(daemon);

    replay_against_daemon(&v, file, tcp_port, None, Some(&ns));

    // Still the one daemon; -X over discovery ends it.
    assert_eq!(ns.pids(), [daemon]);
    let out = flom_in(&ns, &["-A", &g, "-P", &gp, "-X"]);
    out.expect_code(0);
    assert_eq!(out.lines(), [IMMEDIATE_BANNER]);
    ns.wait_no_process();
}

// ------------------------------------------------------------ our client

/// Plays the daemon's side of one TCP conversation on `raw`: each `C>`
/// must arrive exactly (in one segment), each `S>` is sent with one write,
/// the client's close must be seen, the daemon's close is a half-close.
#[track_caller]
fn serve_tcp(raw: &mut Raw<TcpStream>, script: &[Ev], what: &str) {
    serve_script(raw, script, Framing::OneSegment, what);
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
    let mut client = spawn_flom(&refs(&args));
    let mut raw = Raw::from_stream(accept_bounded(&listener));
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
    let Some(ns) = lo_namespace(test, "v15c") else {
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
    udp.set_read_timeout(Some(T)).unwrap();

    for (k, (session, args)) in sessions.iter().zip(&clients).enumerate() {
        let what = format!("{file} client #{k} (flom {})", args.join(" "));
        let mut client = ns.spawn(BIN, &refs(args));
        let mut from: Option<SocketAddr> = None;
        let mut raw: Option<Raw<TcpStream>> = None;
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
                Ev::Connect(_) => raw = Some(Raw::from_stream(accept_bounded(&listener))),
                _ => serve_tcp(
                    raw.as_mut().expect("TCP before the connection"),
                    std::slice::from_ref(ev),
                    &ctx,
                ),
            }
        }
        let out = client.wait(CMD_BOUND);
        out.expect_code(0);
        assert_eq!(out.stderr_without_notes(), "", "{what}");
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
