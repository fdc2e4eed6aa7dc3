//! A connection's byte stream, plain or TLS: what the daemon's connections,
//! the client and the benchmark read and write, whatever the socket family.

use super::{Handshake, Progress, Role, TlsContext, TlsError, TlsStream};
use crate::net::Stream;
use std::io::{self, Read, Write};
use std::os::unix::io::{AsRawFd, RawFd};
use std::time::Instant;

pub enum Transport {
    Plain(Stream),
    /// A daemon's accepted connection whose TLS handshake is under way:
    /// nothing is read or written by the protocol until it is done.
    Handshaking(Handshake),
    Tls(TlsStream),
    /// Only for a moment, while a finished handshake becomes a stream.
    Closed,
}

fn not_connected() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "no established stream")
}

impl Transport {
    /// The daemon's stream on an accepted (non-blocking) socket: plain, or a
    /// TLS handshake to drive with `continue_handshake` until `deadline`.
    pub fn accept(
        ctx: Option<&TlsContext>,
        stream: Stream,
        deadline: Instant,
    ) -> Result<Transport, TlsError> {
        match ctx {
            None => Ok(Transport::Plain(stream)),
            Some(ctx) => {
                debug_assert_eq!(ctx.role(), Role::Server);
                Handshake::start(ctx, stream, deadline).map(Transport::Handshaking)
            }
        }
    }

    pub fn is_handshaking(&self) -> bool {
        matches!(self, Transport::Handshaking(_))
    }

    /// Drives the handshake as far as the socket allows (on readiness, or
    /// when its deadline passed). Established: the stream is a TLS one now.
    /// Err: the connection must be closed (its socket stays open until the
    /// owner drops it, so the poller can forget it first).
    pub fn continue_handshake(&mut self) -> Result<Progress, TlsError> {
        let Transport::Handshaking(h) = self else {
            return Ok(Progress::Established);
        };
        match h.advance()? {
            Progress::Established => h.verify_peer()?,
            p => return Ok(p),
        }
        let Transport::Handshaking(h) = std::mem::replace(self, Transport::Closed) else {
            unreachable!("checked above");
        };
        *self = Transport::Tls(h.into_stream());
        Ok(Progress::Established)
    }

    /// The client's stream on a freshly connected (blocking) socket: TLS
    /// when `ctx` is given, with the whole handshake done here (bounded by
    /// `limit`, at most the handshake timeout).
    pub fn connect(
        ctx: Option<&TlsContext>,
        stream: Stream,
        limit: std::time::Duration,
    ) -> Result<Transport, TlsError> {
        match ctx {
            None => Ok(Transport::Plain(stream)),
            Some(ctx) => {
                debug_assert_eq!(ctx.role(), Role::Client);
                let limit = limit.min(super::HANDSHAKE_TIMEOUT);
                TlsStream::handshake_within(ctx, stream, limit).map(Transport::Tls)
            }
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }

    /// The CN of the peer's certificate (TLS only).
    pub fn peer_cn(&self) -> Option<&str> {
        match self {
            Transport::Tls(t) => t.peer_cn(),
            _ => None,
        }
    }

    /// Bytes already decrypted and waiting in the library: read them before
    /// waiting for the socket to be readable again.
    pub fn pending(&self) -> usize {
        match self {
            Transport::Tls(t) => t.pending(),
            _ => 0,
        }
    }

    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.socket().ok_or_else(not_connected)?.set_nonblocking(on)
    }

    /// Half-closes the write side (after close_notify, for TLS).
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.shutdown_write(),
            Transport::Tls(t) => t.shutdown_write(),
            Transport::Handshaking(h) => h.get_ref().shutdown_write(),
            Transport::Closed => Err(not_connected()),
        }
    }

    pub fn peer_name(&self) -> String {
        match self.socket() {
            Some(s) => s.peer_name(),
            None => "unknown/".to_string(),
        }
    }

    /// The socket under the stream (None once closed).
    pub fn socket(&self) -> Option<&Stream> {
        match self {
            Transport::Plain(s) => Some(s),
            Transport::Tls(t) => Some(t.get_ref()),
            Transport::Handshaking(h) => Some(h.get_ref()),
            Transport::Closed => None,
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(t) => t.read(buf),
            Transport::Handshaking(_) => Err(io::ErrorKind::WouldBlock.into()),
            Transport::Closed => Err(not_connected()),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(t) => t.write(buf),
            Transport::Handshaking(_) => Err(io::ErrorKind::WouldBlock.into()),
            Transport::Closed => Err(not_connected()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsRawFd for Transport {
    fn as_raw_fd(&self) -> RawFd {
        self.socket().map_or(-1, |s| s.as_raw_fd())
    }
}

/// Whether the first bytes a plain daemon got look like a TLS ClientHello
/// (a handshake record of TLS 1.x), so it can say why it drops the client.
pub fn looks_like_tls_hello(first: &[u8]) -> bool {
    first.len() >= 2 && first[0] == 0x16 && first[1] == 0x03
}

/// Whether the first bytes a plain client got look like a TLS record (an
/// alert or handshake from a TLS daemon).
pub fn looks_like_tls_record(first: &[u8]) -> bool {
    first.len() >= 2 && (first[0] == 0x15 || first[0] == 0x16) && first[1] == 0x03
}
