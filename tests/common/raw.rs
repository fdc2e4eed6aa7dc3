//! Raw protocol connections driven by a test (over a UNIX socket or TCP),
//! reading whole messages with a bound, counting the read(2) calls that
//! brought each one, and the messages of C FLoM's protocol level 3 as the C
//! client lays them out.

use super::{machine_id, PROLOGUE};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

// ------------------------------------------------------------ messages

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard Base64 with `=` padding.
pub fn b64(input: &str) -> String {
    let mut out = String::new();
    for chunk in input.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A simple-resource lock request (verb 1 step 8), as the C client lays it out.
pub fn lock_msg(
    peer: &str,
    name: &str,
    mode: u8,
    wait: bool,
    create: bool,
    lifespan: i64,
) -> String {
    format!(
        "{PROLOGUE}<msg level=\"3\" verb=\"1\" step=\"8\"><session peerid=\"{peer}\"/><resource name=\"{}\" mode=\"{mode}\" wait=\"{}\" create=\"{}\" lifespan=\"{lifespan}\"/></msg>",
        b64(name),
        u8::from(wait),
        u8::from(create)
    )
}

/// The default lock request for `name` (EX, wait, create).
pub fn lock_ex(name: &str) -> String {
    lock_msg(&machine_id(), name, 5, true, true, 0)
}

pub fn unlock_msg(name: &str, rollback: bool) -> String {
    format!(
        "{PROLOGUE}<msg level=\"3\" verb=\"2\" step=\"8\"><resource name=\"{}\" rollback=\"{}\" /></msg>",
        b64(name),
        u8::from(rollback)
    )
}

pub fn mgmt_msg(peer: &str, immediate: bool) -> String {
    format!(
        "{PROLOGUE}<msg level=\"3\" verb=\"5\" step=\"8\"><session peerid=\"{peer}\"/><shutdown immediate=\"{}\"/></msg>",
        u8::from(immediate)
    )
}

/// The daemon's first answer (step 16).
pub fn answer16(rc: i32) -> String {
    format!(
        "{PROLOGUE}<msg level=\"3\" verb=\"1\" step=\"16\"><session peerid=\"{}\"/><answer rc=\"{rc}\"/></msg>",
        machine_id()
    )
}

/// A later answer (step 24).
pub fn answer24(rc: i32) -> String {
    format!("{PROLOGUE}<msg level=\"3\" verb=\"1\" step=\"24\"><answer rc=\"{rc}\"/></msg>")
}

// ---------------------------------------------------------- connection

/// What a raw read produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Recv {
    /// One complete message (up to and including `</msg>`).
    Msg(String),
    /// The peer closed; `partial` holds bytes of an unfinished message.
    Closed {
        partial: String,
    },
    Timeout,
}

/// A byte stream a raw connection runs over.
pub trait Stream: Read + Write + AsRawFd {
    fn shutdown_write(&self);
}

impl Stream for UnixStream {
    fn shutdown_write(&self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
}

impl Stream for TcpStream {
    fn shutdown_write(&self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
}

/// A raw protocol connection driven by the test.
pub struct Raw<S: Stream = UnixStream> {
    pub s: S,
    buf: Vec<u8>,
    eof: bool,
    /// read(2) calls since the last message was taken from `buf`.
    reads: usize,
    /// read(2) calls that brought the bytes of the last message.
    last_reads: usize,
}

impl Raw<UnixStream> {
    #[track_caller]
    pub fn connect(sock: &str) -> Raw {
        let s = UnixStream::connect(sock).unwrap_or_else(|e| panic!("connect {sock}: {e}"));
        Raw::from_stream(s)
    }
}

impl<S: Stream> Raw<S> {
    pub fn from_stream(s: S) -> Raw<S> {
        Raw {
            s,
            buf: Vec::new(),
            eof: false,
            reads: 0,
            last_reads: 0,
        }
    }

    /// Writes all of `bytes`; errors (the peer may have closed) are returned.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.s.write_all(bytes)
    }

    #[track_caller]
    pub fn send_ok(&mut self, bytes: &str) {
        self.send(bytes.as_bytes()).expect("send to the peer");
    }

    /// Writes `bytes` with one write(2), as C FLoM sends each message.
    #[track_caller]
    pub fn send_one_write(&mut self, bytes: &str) {
        let n = self.s.write(bytes.as_bytes()).expect("send");
        assert_eq!(n, bytes.len(), "short write");
    }

    pub fn shutdown_write(&self) {
        self.s.shutdown_write();
    }

    /// Reads one message, bounded by `timeout`. A connection reset counts
    /// as a close.
    pub fn recv(&mut self, timeout: Duration) -> Recv {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(p) = self.buf.windows(6).position(|w| w == b"</msg>") {
                let msg: Vec<u8> = self.buf.drain(..p + 6).collect();
                self.last_reads =
                    std::mem::replace(&mut self.reads, usize::from(!self.buf.is_empty()));
                return Recv::Msg(String::from_utf8_lossy(&msg).into_owned());
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
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut
                        || e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.eof = true, // ECONNRESET and the like
            }
        }
    }

    /// How many read(2) calls brought the bytes of the last message.
    pub fn last_reads(&self) -> usize {
        self.last_reads
    }

    /// Expects one complete message.
    #[track_caller]
    pub fn expect_msg(&mut self, timeout: Duration) -> String {
        match self.recv(timeout) {
            Recv::Msg(m) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// Expects exactly `expected`, arrived in one segment (one read), as C
    /// FLoM sends each message with one send().
    #[track_caller]
    pub fn expect_exact_one_read(&mut self, expected: &str, timeout: Duration, ctx: &str) {
        match self.recv(timeout) {
            Recv::Msg(got) => {
                assert_eq!(got, expected, "{ctx}: other bytes");
                let reads = self.last_reads;
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
    pub fn expect_closed(&mut self, timeout: Duration) {
        self.expect_closed_for(timeout, "raw connection");
    }

    /// `expect_closed`, naming `ctx` when it fails.
    #[track_caller]
    pub fn expect_closed_for(&mut self, timeout: Duration, ctx: &str) {
        match self.recv(timeout) {
            Recv::Closed { partial } if partial.is_empty() => {}
            other => panic!("{ctx}: expected the peer to close without data, got {other:?}"),
        }
    }

    /// True when no byte is waiting to be read right now (and the peer has
    /// not closed).
    pub fn nothing_pending(&self) -> bool {
        if !self.buf.is_empty() || self.eof {
            return false;
        }
        let mut b = [0u8; 1];
        // SAFETY: non-blocking peek into a local buffer.
        let r = unsafe {
            libc::recv(
                self.s.as_raw_fd(),
                b.as_mut_ptr().cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
    }
}

/// Waits (bounded) until `fd` is readable; true if it is.
pub fn poll_readable(fd: i32, timeout: Duration) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one descriptor we own.
    let r = unsafe { libc::poll(&mut p, 1, timeout.as_millis() as i32) };
    r > 0
}
