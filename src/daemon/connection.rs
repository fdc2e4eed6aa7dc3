//! One client connection of the daemon: its stream, the read buffer and the
//! framing of messages out of it, the write buffer of answers the socket did
//! not take at once, the half-close, and where the connection is in its
//! conversation (`Phase`); for TLS, the handshake state and the peer-id
//! check (see the TLS section). No routing here: the loop takes the messages.

use crate::protocol::{self, Message, ParseError};
use crate::tls::{self, Progress, Role, Transport};
use std::io::{self, Read, Write};

/// Where a connection is in its conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Connected, no request yet.
    New,
    /// Its one lock (or management) request was handed on; what follows is
    /// the lock store's business (an unlock) or a protocol error.
    Requested,
}

pub struct Conn {
    /// Plain, a TLS handshake under way, or TLS.
    pub stream: Transport,
    /// The VFS uid of the connection.
    pub uid: u64,
    pub phase: Phase,
    /// Its lock request asked for a fencing token (our extension): only
    /// then does a grant carry one.
    pub fencing: bool,
    /// Its lock request asked for its etcd key (our extension, --verbose).
    pub etcd_key: bool,
    /// Whether its shutdown requests are obeyed (see `admission`).
    pub may_shutdown: bool,
    rbuf: Vec<u8>,
    /// How much of `rbuf` is known to hold no complete message.
    scanned: usize,
    wbuf: Vec<u8>,
}

/// What one read did.
pub enum Filled {
    /// Bytes arrived.
    Data,
    /// Interrupted: read again.
    Again,
    /// Nothing to read now.
    WouldBlock,
    /// End of stream or a read error: the connection is over.
    Closed,
}

/// The next message in the read buffer.
pub enum Frame {
    Message(Result<Message, ParseError>),
    /// No complete message yet.
    Incomplete,
    /// More buffered than any message may be: a broken peer.
    TooLong,
}

/// What writing an answer did.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    /// All written.
    Done,
    /// The rest is buffered: the loop must watch for writability.
    Queued,
    /// A write error: the connection is over.
    Failed,
}

/// What flushing the write buffer did.
#[derive(Debug, PartialEq, Eq)]
pub enum Flushed {
    /// Nothing was pending.
    Idle,
    /// The buffer emptied: the loop can stop watching for writability.
    Drained,
    /// Some is still pending.
    Pending,
    /// A write error: the connection is over.
    Failed,
}

impl Conn {
    pub fn new(stream: Transport, uid: u64) -> Conn {
        Conn {
            stream,
            uid,
            phase: Phase::New,
            fencing: false,
            etcd_key: false,
            may_shutdown: true,
            rbuf: Vec::new(),
            scanned: 0,
            wbuf: Vec::new(),
        }
    }

    /// One read into the read buffer.
    pub fn fill(&mut self) -> Filled {
        let mut buf = [0u8; 2048];
        match self.stream.read(&mut buf) {
            Ok(0) => Filled::Closed,
            Ok(n) => {
                self.rbuf.extend_from_slice(&buf[..n]);
                Filled::Data
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Filled::Again,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Filled::WouldBlock,
            Err(_) => Filled::Closed,
        }
    }

    /// Takes the next complete message out of the read buffer.
    pub fn next_frame(&mut self) -> Frame {
        match protocol::find_message_end(&self.rbuf, self.scanned) {
            Some(end) => {
                let parsed = protocol::parse_message(&self.rbuf[..end]);
                self.rbuf.drain(..end);
                if self.rbuf.is_empty() {
                    // A connection may be held for hours: keep no buffer.
                    self.rbuf = Vec::new();
                }
                self.scanned = 0;
                Frame::Message(parsed)
            }
            None => {
                self.scanned = self.rbuf.len();
                if self.rbuf.len() > protocol::DAEMON_MAX_MESSAGE {
                    Frame::TooLong
                } else {
                    Frame::Incomplete
                }
            }
        }
    }

    /// Writes `bytes` at once; only what the socket does not take is kept
    /// (behind whatever is already pending).
    pub fn send(&mut self, bytes: &[u8]) -> Sent {
        let mut sent = 0;
        if self.wbuf.is_empty() {
            while sent < bytes.len() {
                match self.stream.write(&bytes[sent..]) {
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => return Sent::Failed,
                }
            }
        }
        if sent < bytes.len() {
            self.wbuf.extend_from_slice(&bytes[sent..]);
            Sent::Queued
        } else {
            Sent::Done
        }
    }

    /// Writes what is pending.
    pub fn flush(&mut self) -> Flushed {
        if self.wbuf.is_empty() {
            return Flushed::Idle;
        }
        while !self.wbuf.is_empty() {
            match self.stream.write(&self.wbuf) {
                Ok(n) => {
                    self.wbuf.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Flushed::Pending,
                Err(_) => {
                    self.wbuf.clear();
                    return Flushed::Failed;
                }
            }
        }
        self.wbuf = Vec::new();
        Flushed::Drained
    }

    /// Shuts the write side: the client reads its last answer, then EOF.
    pub fn half_close(&mut self) {
        let _ = self.stream.shutdown_write();
    }

    // ------------------------------------------------------------ TLS

    /// Whether the TLS handshake is still under way (no message yet).
    pub fn handshaking(&self) -> bool {
        self.stream.is_handshaking()
    }

    /// Drives the TLS handshake on readiness or at its deadline. Err: the
    /// sentence for the log; the connection must be closed.
    pub fn continue_handshake(&mut self) -> Result<Progress, String> {
        self.stream.continue_handshake().map_err(|e| e.message)
    }

    /// Whether decrypted bytes wait in the TLS library, unseen by the poller.
    pub fn has_buffered(&self) -> bool {
        self.stream.pending() > 0
    }

    /// A plain daemon's first bytes from a client that speak TLS.
    pub fn plain_got_tls_hello(&self) -> bool {
        self.phase == Phase::New
            && !self.stream.is_tls()
            && tls::transport::looks_like_tls_hello(&self.rbuf)
    }

    /// The peer-id check (TlsCheckPeerId) of a request: its `peerid` must
    /// be the CN of the client's certificate. Err: the FLM013E log line.
    pub fn check_peer_id(&self, msg: &Message) -> Result<String, String> {
        let peer = self.stream.peer_name();
        let cn = self.stream.peer_cn().unwrap_or_default();
        let sent = msg.peerid.as_deref().unwrap_or_default();
        match tls::check_peer_id(Role::Server, self.stream.peer_cn(), msg.peerid.as_deref()) {
            Ok(()) => Ok(format!(
                "FLM014I peer '{peer}' with unique ID '{sent}' was authenticated using CN field '{cn}' inside the presented X.509 certificate"
            )),
            Err(_) => Err(format!(
                "FLM013E peer '{peer}' sent unique ID '{sent}' that does not match the CN field '{cn}' inside the presented X.509 certificate"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Stream;
    use std::os::unix::net::UnixStream;

    fn pair() -> (Conn, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        (Conn::new(Transport::Plain(Stream::Unix(a)), 7), b)
    }

    #[test]
    fn a_tls_hello_to_a_plain_daemon_is_recognised() {
        let (mut c, mut peer) = pair();
        peer.write_all(&[0x16, 0x03, 0x01, 0x00, 0x10]).unwrap();
        assert!(matches!(c.fill(), Filled::Data));
        assert!(c.plain_got_tls_hello());
        let (mut c, mut peer) = pair();
        peer.write_all(b"<?xml").unwrap();
        assert!(matches!(c.fill(), Filled::Data));
        assert!(!c.plain_got_tls_hello());
    }

    #[test]
    fn frames_messages_across_reads() {
        let (mut c, mut peer) = pair();
        let mut msg = String::new();
        protocol::encode_unlock(&mut msg, "R", false);
        let (head, tail) = msg.as_bytes().split_at(5);
        peer.write_all(head).unwrap();
        assert!(matches!(c.fill(), Filled::Data));
        assert!(matches!(c.next_frame(), Frame::Incomplete));
        peer.write_all(tail).unwrap();
        peer.write_all(head).unwrap();
        assert!(matches!(c.fill(), Filled::Data));
        let Frame::Message(Ok(m)) = c.next_frame() else {
            panic!("no message")
        };
        assert_eq!(m.verb, protocol::VERB_UNLOCK);
        assert!(matches!(c.next_frame(), Frame::Incomplete));
        assert!(matches!(c.fill(), Filled::WouldBlock));
        drop(peer);
        assert!(matches!(c.fill(), Filled::Closed));
    }

    #[test]
    fn writes_and_half_closes() {
        let (mut c, mut peer) = pair();
        assert_eq!(c.send(b"abc"), Sent::Done);
        assert_eq!(c.flush(), Flushed::Idle);
        c.half_close();
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"abc");
    }

    #[test]
    fn queues_what_the_socket_does_not_take() {
        let (mut c, mut peer) = pair();
        let big = vec![b'x'; 4 << 20];
        assert_eq!(c.send(&big), Sent::Queued);
        assert_eq!(c.send(b"y"), Sent::Queued);
        peer.set_nonblocking(true).unwrap();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        while got.len() < big.len() + 1 {
            match peer.read(&mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) => assert_ne!(c.flush(), Flushed::Failed),
            }
        }
        assert_eq!(got.last(), Some(&b'y'));
        assert_eq!(c.flush(), Flushed::Idle);
    }
}
