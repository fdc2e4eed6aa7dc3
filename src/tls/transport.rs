//! A connection's byte stream, plain or TLS: what the daemon's connections,
//! the client and the benchmark read and write, whatever the socket family.

use super::{Role, TlsContext, TlsError, TlsStream};
use crate::net::Stream;
use std::io::{self, Read, Write};
use std::os::unix::io::{AsRawFd, RawFd};

pub enum Transport {
    Plain(Stream),
    Tls(TlsStream),
}

impl Transport {
    /// The client's stream on a freshly connected (blocking) socket: TLS
    /// when `ctx` is given, with the whole handshake done here (bounded by
    /// the handshake timeout).
    pub fn connect(ctx: Option<&TlsContext>, stream: Stream) -> Result<Transport, TlsError> {
        match ctx {
            None => Ok(Transport::Plain(stream)),
            Some(ctx) => {
                debug_assert_eq!(ctx.role(), Role::Client);
                TlsStream::handshake_blocking(ctx, stream).map(Transport::Tls)
            }
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }

    /// The CN of the peer's certificate (TLS only).
    pub fn peer_cn(&self) -> Option<&str> {
        match self {
            Transport::Plain(_) => None,
            Transport::Tls(t) => t.peer_cn(),
        }
    }

    /// Bytes already decrypted and waiting in the library: read them before
    /// waiting for the socket to be readable again.
    pub fn pending(&self) -> usize {
        match self {
            Transport::Plain(_) => 0,
            Transport::Tls(t) => t.pending(),
        }
    }

    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.socket().set_nonblocking(on)
    }

    /// Half-closes the write side (after close_notify, for TLS).
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.shutdown_write(),
            Transport::Tls(t) => t.shutdown_write(),
        }
    }

    pub fn peer_name(&self) -> String {
        self.socket().peer_name()
    }

    /// The socket under the stream.
    pub fn socket(&self) -> &Stream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(t) => t.get_ref(),
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(t) => t.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsRawFd for Transport {
    fn as_raw_fd(&self) -> RawFd {
        self.socket().as_raw_fd()
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
