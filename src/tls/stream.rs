//! The TLS handshake as a state machine driven by socket readiness (the
//! daemon's loop calls `advance` when the socket is readable or writable;
//! the client calls it on a blocking socket with a time bound), and the
//! established TLS stream, read and written like a plain `net::Stream`.

use super::diagnose;
use super::{code, common_name, Role, TlsContext, TlsError, TlsFiles};
use crate::net::Stream;
use openssl::ssl::{ErrorCode, Ssl, SslStream};
use std::io::{self, Read, Write};
use std::os::unix::io::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::Instant;

/// Where a handshake stands after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Waiting for the socket to be readable.
    WantRead,
    /// Waiting for the socket to be writable.
    WantWrite,
    /// Done: `Handshake::finish` gives the stream.
    Established,
}

/// A TLS handshake under way on a connected stream.
pub struct Handshake {
    stream: SslStream<Stream>,
    role: Role,
    files: Arc<TlsFiles>,
    deadline: Instant,
    /// How long the handshake was given (for the timeout message).
    budget: std::time::Duration,
    /// Whether the first bytes from the client were already looked at (a
    /// daemon tells a plain-text client from a TLS one by them).
    peeked: bool,
    done: bool,
}

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// A fatal `protocol_version` alert record, sent to a peer that speaks
/// plain text before closing.
const PROTOCOL_VERSION_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46];

/// Best-effort write that never blocks nor raises SIGPIPE.
fn send_now(fd: RawFd, bytes: &[u8]) {
    // SAFETY: send from a local buffer on a socket we own.
    unsafe {
        libc::send(
            fd,
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
}

/// Looks at the first byte waiting on `fd` without taking it.
fn peek_first_byte(fd: RawFd) -> io::Result<Option<u8>> {
    let mut b = 0u8;
    // SAFETY: recv into one local byte with MSG_PEEK; the data stays queued.
    let n = unsafe {
        libc::recv(
            fd,
            (&mut b as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    match n {
        1 => Ok(Some(b)),
        0 => Ok(None),
        _ => Err(io::Error::last_os_error()),
    }
}

impl Handshake {
    /// Starts the handshake of `ctx`'s role on `stream`; it must end before
    /// `deadline`.
    pub fn start(
        ctx: &TlsContext,
        stream: Stream,
        deadline: Instant,
    ) -> Result<Handshake, TlsError> {
        let mut ssl = Ssl::new(ctx.ssl_context()).map_err(|e| {
            TlsError::new(
                code::SSL_NEW_ERROR,
                format!("flom: OpenSSL cannot create a TLS connection: {e}"),
            )
        })?;
        match ctx.role() {
            Role::Client => ssl.set_connect_state(),
            Role::Server => ssl.set_accept_state(),
        }
        let stream = SslStream::new(ssl, stream).map_err(|e| {
            TlsError::new(
                code::SSL_NEW_ERROR,
                format!("flom: OpenSSL cannot create a TLS connection: {e}"),
            )
        })?;
        Ok(Handshake {
            stream,
            role: ctx.role(),
            files: ctx.files().clone(),
            budget: deadline.saturating_duration_since(Instant::now()),
            deadline,
            peeked: ctx.role() == Role::Client,
            done: false,
        })
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    fn fail_code(&self) -> i32 {
        match self.role {
            Role::Client => code::SSL_CONNECT_ERROR,
            Role::Server => code::SSL_ACCEPT_ERROR,
        }
    }

    /// The return code of a handshake OpenSSL ended: C FLoM's handshake
    /// accepts any chain and checks it once done, so a chain that does not
    /// verify is its -407 (SSL_get_verify_result), not a failed handshake.
    fn failed_handshake_code(&self) -> i32 {
        if self.stream.ssl().verify_result().as_raw() != 0 {
            code::SSL_GET_VERIFY_RESULT_ERROR
        } else {
            self.fail_code()
        }
    }

    /// One step, as far as the socket allows now. A non-blocking socket
    /// gives WantRead/WantWrite; a blocking one runs to the end (or to its
    /// own timeouts).
    pub fn advance(&mut self) -> Result<Progress, TlsError> {
        if self.done {
            return Ok(Progress::Established);
        }
        if Instant::now() >= self.deadline {
            return Err(TlsError::new(
                self.fail_code(),
                format!(
                    "flom: the TLS handshake with {} did not finish within {} ms{}",
                    self.role.peer(),
                    self.budget.as_millis().max(1),
                    match self.role {
                        Role::Client => ": does the daemon run without TLS? (configure the three TLS files on both sides, or on neither)",
                        Role::Server => "",
                    }
                ),
            ));
        }
        if !self.peeked {
            match peek_first_byte(self.stream.get_ref().as_raw_fd()) {
                Ok(Some(TLS_HANDSHAKE_RECORD)) => self.peeked = true,
                Ok(Some(_)) => {
                    // Tell a plain client in a way it can recognise.
                    send_now(self.stream.get_ref().as_raw_fd(), &PROTOCOL_VERSION_ALERT);
                    return Err(TlsError::new(
                        self.fail_code(),
                        diagnose::plain_text_peer(self.role),
                    ));
                }
                Ok(None) => {
                    return Err(TlsError::new(
                        self.fail_code(),
                        diagnose::closed_during_handshake(self.role),
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Progress::WantRead),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(Progress::WantRead),
                // A blocking socket: let OpenSSL wait for the first record.
                Err(_) => self.peeked = true,
            }
        }
        match self.stream.do_handshake() {
            Ok(()) => {
                self.done = true;
                Ok(Progress::Established)
            }
            Err(e) => match e.code() {
                ErrorCode::WANT_READ if is_would_block(&e) => Ok(Progress::WantRead),
                ErrorCode::WANT_WRITE if is_would_block(&e) => Ok(Progress::WantWrite),
                ErrorCode::WANT_READ | ErrorCode::WANT_WRITE => {
                    // A blocking socket's own timeout (SO_RCVTIMEO) ran out.
                    Err(TlsError::new(
                        self.fail_code(),
                        format!(
                            "flom: the TLS handshake with {} did not finish in time",
                            self.role.peer()
                        ),
                    ))
                }
                _ => Err(TlsError::new(
                    self.failed_handshake_code(),
                    diagnose::handshake_failure(self.role, &self.files, self.stream.ssl(), &e),
                )),
            },
        }
    }

    /// The checks C FLoM makes once the handshake is done: a peer
    /// certificate exists (-22) and its chain verified (-407).
    pub fn verify_peer(&self) -> Result<(), TlsError> {
        debug_assert!(self.done);
        let ssl = self.stream.ssl();
        if ssl.peer_certificate().is_none() {
            crate::syslog::warning("FLM010W the peer has not presented an X.509 certificate");
            return Err(TlsError::new(
                code::NO_CERTIFICATE,
                format!("flom: {} did not present a certificate", self.role.peer()),
            ));
        }
        let verified = ssl.verify_result();
        if verified.as_raw() != 0 {
            crate::syslog::error(&format!(
                "FLM017E X.509 certificate error, SSL_get_verify_result returned {}",
                verified.as_raw()
            ));
            return Err(TlsError::new(
                code::SSL_GET_VERIFY_RESULT_ERROR,
                diagnose::verify_failure(self.role, &self.files, verified),
            ));
        }
        Ok(())
    }

    /// The established stream (after `verify_peer`).
    pub fn into_stream(self) -> TlsStream {
        let peer_cn = self
            .stream
            .ssl()
            .peer_certificate()
            .and_then(|c| common_name(&c))
            .map(String::into_boxed_str);
        TlsStream {
            stream: self.stream,
            peer_cn,
        }
    }

    /// `verify_peer` then `into_stream`.
    pub fn finish(self) -> Result<TlsStream, TlsError> {
        self.verify_peer()?;
        Ok(self.into_stream())
    }

    /// The stream under the handshake (for its descriptor).
    pub fn get_ref(&self) -> &Stream {
        self.stream.get_ref()
    }
}

fn is_would_block(e: &openssl::ssl::Error) -> bool {
    e.io_error()
        .is_some_and(|io| io.kind() == io::ErrorKind::WouldBlock)
}

/// An established TLS connection.
pub struct TlsStream {
    stream: SslStream<Stream>,
    /// The CN of the peer's certificate (for the peer-id check).
    peer_cn: Option<Box<str>>,
}

impl TlsStream {
    /// Runs a whole handshake of `ctx`'s role on a blocking `stream` (the
    /// client's), bounded by the handshake timeout through the socket's
    /// timeouts.
    pub fn handshake_blocking(ctx: &TlsContext, stream: Stream) -> Result<TlsStream, TlsError> {
        TlsStream::handshake_within(ctx, stream, super::HANDSHAKE_TIMEOUT)
    }

    /// The client's handshake on a blocking socket, bounded by `limit`.
    pub fn handshake_within(
        ctx: &TlsContext,
        stream: Stream,
        limit: std::time::Duration,
    ) -> Result<TlsStream, TlsError> {
        let limit = limit.max(std::time::Duration::from_millis(1));
        let _ = set_timeouts(&stream, Some(limit));
        let mut hs = Handshake::start(ctx, stream, Instant::now() + limit)?;
        loop {
            match hs.advance()? {
                Progress::Established => break,
                // Interrupted by a signal: go on until the deadline.
                Progress::WantRead | Progress::WantWrite => continue,
            }
        }
        let tls = hs.finish()?;
        let _ = set_timeouts(tls.get_ref(), None);
        Ok(tls)
    }

    pub fn peer_cn(&self) -> Option<&str> {
        self.peer_cn.as_deref()
    }

    pub fn get_ref(&self) -> &Stream {
        self.stream.get_ref()
    }

    /// Plain text already decrypted and waiting in the library (a poll on
    /// the socket does not see it).
    pub fn pending(&self) -> usize {
        self.stream.ssl().pending()
    }

    /// Sends close_notify (when the socket takes it at once), then
    /// half-closes the socket's write side.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        let _ = self.stream.shutdown();
        self.stream.get_ref().shutdown_write()
    }

    pub fn peer_name(&self) -> String {
        self.stream.get_ref().peer_name()
    }

    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.stream.get_ref().set_nonblocking(on)
    }

    /// The OpenSSL protocol version in use (e.g. `TLSv1.3`).
    pub fn version(&self) -> &'static str {
        self.stream.ssl().version_str()
    }
}

fn set_timeouts(stream: &Stream, t: Option<std::time::Duration>) -> io::Result<()> {
    match stream {
        Stream::Unix(s) => {
            s.set_read_timeout(t)?;
            s.set_write_timeout(t)
        }
        Stream::Tcp(s) => {
            s.set_read_timeout(t)?;
            s.set_write_timeout(t)
        }
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf)
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsRawFd for TlsStream {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.get_ref().as_raw_fd()
    }
}
