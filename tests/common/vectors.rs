//! The one loader of the C transcripts of `../shared/vectors`: where they
//! are, their header, the escapes of their `C>`/`S>`/`U>`/`U<` lines,
//! connection numbers, and the events they record; and the fake daemon
//! that plays a transcript's daemon side to the real client.

use super::{machine_id, poll_readable, Env, Out, Raw, Recv, Stream, T, VECTOR_PEER};
use std::net::SocketAddrV4;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub fn vectors_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors"))
}

/// The text of a vector file; None (saying why, so the test skips) when the
/// vectors are not beside the repository.
pub fn read_vector(file: &str) -> Option<String> {
    let path = vectors_dir().join(file);
    match std::fs::read_to_string(&path) {
        Ok(t) => Some(t),
        Err(e) => {
            eprintln!(
                "SKIPPED: cannot read {} ({e}); the wire vectors live in ../shared/vectors",
                path.display()
            );
            None
        }
    }
}

/// Undoes the transcript escapes `\\ \n \r \t \xHH`.
pub fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('x') => {
                let h: String = it.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&h, 16).expect("\\xHH escape") as char);
            }
            other => panic!("bad escape \\{other:?}"),
        }
    }
    out
}

/// The number after `conn ` at the start of `s`.
pub fn conn_number(s: &str) -> u32 {
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().expect("connection number")
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    /// `U>`: the discovery datagram, sent to `to` (the group and port).
    UdpReq { to: SocketAddrV4, bytes: String },
    /// `U<`: the daemon's unicast reply, sent from `from`.
    UdpReply { from: SocketAddrV4, bytes: String },
    /// `# conn N: client connected` (UNIX socket) or `# conn N: TCP SYN
    /// from ...`: the client connects.
    Connect(u32),
    /// `C>` bytes, client to daemon.
    C(u32, String),
    /// `S>` bytes, daemon to client.
    S(u32, String),
    /// `# close by client (conn N, ...)`: the client half-closes.
    CloseByClient(u32),
    /// `# close by daemon (conn N, ...)`: EOF reaches the client.
    CloseByDaemon(u32),
}

impl Ev {
    /// The connection of the event (0 for datagrams).
    pub fn conn(&self) -> u32 {
        match self {
            Ev::Connect(n)
            | Ev::C(n, _)
            | Ev::S(n, _)
            | Ev::CloseByClient(n)
            | Ev::CloseByDaemon(n) => *n,
            Ev::UdpReq { .. } | Ev::UdpReply { .. } => 0,
        }
    }

    pub fn is_udp(&self) -> bool {
        matches!(self, Ev::UdpReq { .. } | Ev::UdpReply { .. })
    }
}

/// A parsed transcript: its events and the header comment lines (those
/// before `# ---- transcript ----`).
pub struct Vector {
    pub evs: Vec<Ev>,
    pub header: Vec<String>,
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

/// Parses a transcript of any kind (UNIX socket, TCP, UDP); None (with a
/// note) when the vectors are missing. The vectors' peer id is replaced by
/// this host's.
pub fn load_vector(file: &str) -> Option<Vector> {
    let text = read_vector(file)?;
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
            if rest.contains(": client connected") || rest.contains(": TCP SYN from") {
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

/// The events of a UNIX-socket transcript; None (with a note) when the
/// vectors are missing.
pub fn load(file: &str) -> Option<Vec<Ev>> {
    let v = load_vector(file)?;
    assert!(
        !v.evs.iter().any(Ev::is_udp),
        "{file}: UDP lines are not for these tests"
    );
    Some(v.evs)
}

/// The events of one connection.
#[track_caller]
pub fn conversation(evs: &[Ev], conn: u32) -> Vec<Ev> {
    let v: Vec<Ev> = evs
        .iter()
        .filter(|e| e.conn() == conn && !e.is_udp())
        .cloned()
        .collect();
    assert!(!v.is_empty(), "no connection {conn}");
    v
}

// ------------------------------------------------------ the fake daemon

/// How the fake daemon frames the messages of a script.
#[derive(Clone, Copy, Debug)]
pub enum Framing {
    /// Each `S>` is sent in pieces of this many bytes; a `C>` may come in
    /// any number of reads.
    Pieces(usize),
    /// As C FLoM over TCP: each `S>` with one write(2), and each `C>` must
    /// arrive in one segment (one read).
    OneSegment,
}

/// Plays the daemon's side of one conversation on `raw`: each `C>` must
/// arrive exactly, each `S>` is sent, the client's close must be seen, the
/// daemon's close is a half-close. `what` names the script in failures.
#[track_caller]
pub fn serve_script<S: Stream>(raw: &mut Raw<S>, script: &[Ev], framing: Framing, what: &str) {
    for (i, ev) in script.iter().enumerate() {
        let ctx = format!("{what} step #{i} {ev:?}");
        match (ev, framing) {
            (Ev::Connect(_), _) => {}
            (Ev::C(_, bytes), Framing::OneSegment) => raw.expect_exact_one_read(bytes, T, &ctx),
            (Ev::C(_, bytes), Framing::Pieces(_)) => match raw.recv(T) {
                Recv::Msg(got) => assert_eq!(&got, bytes, "{ctx}: the client sent other bytes"),
                other => panic!("{ctx}: expected the client's message, got {other:?}"),
            },
            (Ev::S(_, bytes), Framing::OneSegment) => raw.send_one_write(bytes),
            (Ev::S(_, bytes), Framing::Pieces(chunk)) => {
                for piece in bytes.as_bytes().chunks(chunk) {
                    raw.send(piece)
                        .unwrap_or_else(|e| panic!("{ctx}: send: {e}"));
                }
            }
            (Ev::CloseByClient(_), _) => raw.expect_closed_for(T, &ctx),
            (Ev::CloseByDaemon(_), _) => raw.shutdown_write(),
            (Ev::UdpReq { .. } | Ev::UdpReply { .. }, _) => {
                panic!("{ctx}: not an event of a connection")
            }
        }
    }
}

/// A fake daemon listening on the env's socket.
pub struct FakeDaemon {
    pub listener: UnixListener,
}

impl FakeDaemon {
    pub fn new(env: &Env) -> FakeDaemon {
        FakeDaemon {
            listener: UnixListener::bind(&env.sock).expect("bind the fake daemon"),
        }
    }

    /// The next client connection (bounded wait).
    #[track_caller]
    pub fn accept(&self, timeout: Duration) -> Raw {
        assert!(
            poll_readable(self.listener.as_raw_fd(), timeout),
            "no client connected within {timeout:?}"
        );
        Raw::from_stream(self.listener.accept().expect("accept").0)
    }

    /// True when a client is waiting to be accepted.
    pub fn pending(&self) -> bool {
        poll_readable(self.listener.as_raw_fd(), Duration::ZERO)
    }

    /// Accepts one connection and plays the daemon's side of `script` on it.
    #[track_caller]
    pub fn serve(&self, script: &[Ev], framing: Framing, what: &str) {
        let mut raw = self.accept(T);
        serve_script(&mut raw, script, framing, what);
    }
}

/// Runs `flom -s SOCK -d 0 ARGS` against a fake daemon on the env's socket
/// playing `script`; the client must then exit without opening another
/// connection (C FLoM makes exactly one). Returns flom's end.
#[track_caller]
pub fn client_against_fake(
    env: &Env,
    script: &[Ev],
    args: &[&str],
    framing: Framing,
    what: &str,
) -> Out {
    let fake = FakeDaemon::new(env);
    let mut a = vec!["-d", "0"];
    a.extend_from_slice(args);
    let mut client = env.spawn(&a);
    fake.serve(script, framing, what);
    let deadline = Instant::now() + T;
    while client.is_running() {
        assert!(
            !fake.pending(),
            "the client opened another connection (its request would be sent twice)"
        );
        assert!(Instant::now() < deadline, "the client did not exit");
        poll_readable(fake.listener.as_raw_fd(), Duration::from_millis(20));
    }
    let out = client.wait(T);
    assert!(!fake.pending(), "the client opened another connection");
    out
}
