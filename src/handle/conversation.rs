//! The client's side of one connection to the daemon: the lock request and
//! its answers, the unlock, the management (shutdown) request, and the
//! graceful disconnect, byte-compatible with C FLoM's client; over TLS, the
//! peer-id check of the daemon's answer and the explanation of a failure
//! the TLS library saw (see the TLS section).

use crate::config::Config;
use crate::error::FlomError;
use crate::net;
use crate::protocol::{self, LockRequestArgs, Message};
use crate::rc;
use crate::tls::{self, Role, Transport};
use std::io::{self, Read, Write};
use std::os::unix::io::AsRawFd;
use std::time::{Duration, Instant};

/// How long the graceful disconnect waits for the daemon's close.
const DISCONNECT_WAIT_MS: i32 = 5000;
/// How long a management request waits for any reply.
const MANAGEMENT_WAIT_MS: i32 = 1000;

/// Why a lock conversation did not grant the lock.
#[derive(Debug)]
pub(super) enum LockFailure {
    /// The daemon answered no (or did not answer in time): the connection
    /// is still usable.
    Refused(FlomError),
    /// The connection is no longer usable: `rc` says why; `retryable` when
    /// the daemon closed before sending a single byte (it may have been
    /// exiting, so a new connection may succeed); `why`, a sentence that
    /// explains a TLS failure.
    Broken {
        rc: i32,
        retryable: bool,
        why: Option<String>,
    },
}

/// A broken connection: C's return code and, for TLS, what happened.
type Broken = (i32, Option<String>);

/// Reads one message (up to `</msg>`) with a per-message timeout (-1: none).
/// Ok(None) on timeout; Err(rc) when the connection fails.
fn receive(
    config: &Config,
    stream: &mut Transport,
    buf: &mut Vec<u8>,
    timeout_ms: i32,
    received: &mut usize,
) -> Result<Option<Message>, Broken> {
    let deadline =
        (timeout_ms >= 0).then(|| Instant::now() + Duration::from_millis(timeout_ms as u64));
    loop {
        if let Some(end) = protocol::find_message_end(buf, 0) {
            let parsed = protocol::parse_message(&buf[..end]);
            buf.drain(..end);
            return match parsed {
                Ok(m) => Ok(Some(m)),
                Err(protocol::ParseError::LevelMismatch) => {
                    Err((rc::PROTOCOL_LEVEL_MISMATCH, None))
                }
                Err(protocol::ParseError::Invalid) => Err((rc::PROTOCOL_ERROR, None)),
            };
        }
        if buf.len() > protocol::CLIENT_MAX_MESSAGE {
            return Err((rc::BUFFER_OVERFLOW, None));
        }
        let wait = match deadline {
            None => -1,
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return Ok(None);
                }
                (d - now).as_millis().max(1) as i32
            }
        };
        // Bytes the TLS library already decrypted are not seen by poll;
        // without a deadline the (blocking) read itself waits.
        if wait >= 0 && stream.pending() == 0 {
            match net::wait_readable(stream.as_raw_fd(), wait) {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(_) => return Err((rc::RECV_ERROR, None)),
            }
        }
        let mut chunk = [0u8; 1024];
        match stream.read(&mut chunk) {
            Ok(0) => {
                return Err(
                    explain_read(config, stream, None, buf).unwrap_or((rc::RECV_ERROR, None))
                )
            }
            Ok(n) => {
                *received += n;
                buf.extend_from_slice(&chunk[..n]);
                if *received == n {
                    if let Some(b) = explain_read(config, stream, None, buf) {
                        return Err(b);
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(
                    explain_read(config, stream, Some(&e), buf).unwrap_or((rc::RECV_ERROR, None))
                )
            }
        }
    }
}

/// Sends the lock request of `config` on `stream` and waits for the outcome:
/// the locked element (if the resource has one) when granted.
pub(super) fn lock(
    stream: &mut Transport,
    config: &Config,
    peerid: &str,
) -> Result<Option<String>, LockFailure> {
    let broken = |rc| LockFailure::Broken {
        rc,
        retryable: false,
        why: None,
    };
    let mut out = String::with_capacity(256);
    protocol::encode_lock_request(
        &mut out,
        &LockRequestArgs {
            peerid,
            name: &config.resource_name,
            mode: config.lock_mode.code(),
            wait: config.resource_timeout != 0,
            quantity: i64::from(config.resource_quantity),
            create: config.resource_create,
            lifespan: i64::from(config.resource_idle_lifespan),
        },
    );
    if stream.write_all(out.as_bytes()).is_err() {
        return Err(match explain_send(config, stream) {
            Some((rc, why)) => LockFailure::Broken {
                rc,
                retryable: false,
                why,
            },
            None => LockFailure::Broken {
                rc: tls_write_code(stream, rc::SEND_ERROR),
                retryable: true,
                why: None,
            },
        });
    }
    let timeout = if config.resource_timeout > 0 {
        config.resource_timeout
    } else {
        -1
    };
    let mut buf = Vec::with_capacity(512);
    let mut first = true;
    let mut received = 0;
    loop {
        let msg = match receive(config, stream, &mut buf, timeout, &mut received) {
            Ok(Some(m)) => m,
            Ok(None) => {
                return Err(LockFailure::Refused(FlomError::LockTimeout {
                    timeout_ms: config.resource_timeout,
                }))
            }
            Err((rc, why)) => {
                return Err(LockFailure::Broken {
                    rc: tls_read_code(stream, rc),
                    retryable: rc == rc::RECV_ERROR && received == 0,
                    why,
                })
            }
        };
        let expected_step = if first {
            msg.step == protocol::STEP_FIRST_ANSWER
        } else {
            msg.step > 8
        };
        if first && expected_step && msg.verb == protocol::VERB_LOCK {
            check_daemon_id(config, stream, &msg).map_err(|(rc, why)| LockFailure::Broken {
                rc,
                retryable: false,
                why,
            })?;
        }
        let Some(answer) = msg
            .answer
            .filter(|_| msg.verb == protocol::VERB_LOCK && expected_step)
        else {
            return Err(broken(rc::PROTOCOL_ERROR));
        };
        first = false;
        return match answer.rc {
            rc::OK => Ok(answer.element),
            rc::LOCK_ENQUEUED | rc::LOCK_WAIT_RESOURCE => continue,
            rc::LOCK_BUSY => Err(LockFailure::Refused(FlomError::LockBusy)),
            rc::LOCK_CANT_WAIT => Err(LockFailure::Refused(FlomError::LockCantWait)),
            rc::LOCK_IMPOSSIBLE => Err(LockFailure::Refused(FlomError::LockImpossible)),
            rc::INVALID_RESOURCE_NAME => Err(broken(rc::INVALID_RESOURCE_NAME)),
            _ => Err(broken(rc::PROTOCOL_ERROR)),
        };
    }
}

/// Sends the unlock of `resource_name` (never answered). Err(rc) on failure.
pub(super) fn unlock(
    stream: &mut Transport,
    resource_name: &str,
    rollback: bool,
) -> Result<(), i32> {
    let mut out = String::with_capacity(256);
    protocol::encode_unlock(&mut out, resource_name, rollback);
    stream
        .write_all(out.as_bytes())
        .map_err(|_| tls_write_code(stream, rc::SEND_ERROR))
}

/// Sends a shutdown request and waits (bounded) for any reply.
pub(super) fn request_shutdown(
    config: &Config,
    stream: &mut Transport,
    peerid: &str,
    immediate: bool,
) -> Result<(), Broken> {
    let mut out = String::with_capacity(200);
    protocol::encode_management(&mut out, peerid, immediate);
    if stream.write_all(out.as_bytes()).is_err() {
        return Err(
            explain_send(config, stream).unwrap_or((tls_write_code(stream, rc::SEND_ERROR), None))
        );
    }
    let _ = net::wait_readable(stream.as_raw_fd(), MANAGEMENT_WAIT_MS);
    Ok(())
}

/// Half-closes, waits (bounded) for the daemon to close, closes.
pub(super) fn graceful_disconnect(stream: Transport) {
    let mut stream = stream;
    let _ = stream.shutdown_write();
    let deadline = Instant::now() + Duration::from_millis(DISCONNECT_WAIT_MS as u64);
    let mut sink = [0u8; 256];
    loop {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as i32;
        if left <= 0 || !matches!(net::wait_readable(stream.as_raw_fd(), left), Ok(true)) {
            break;
        }
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

// ------------------------------------------------------------ TLS

/// Explains a failed (or first) read: a TLS alert from the daemon (with
/// TLS 1.3 a client learns that its certificate was refused only then), or
/// a TLS daemon answering a plain client. None: nothing TLS about it.
fn explain_read(
    config: &Config,
    stream: &Transport,
    e: Option<&io::Error>,
    got: &[u8],
) -> Option<Broken> {
    if stream.is_tls() {
        let files = tls::files_of(config)?;
        let Some(e) = e else {
            // Closed without an answer: the daemon's peer-id check, most likely.
            return got.is_empty().then(|| {
                (
                    rc::RECV_ERROR,
                    Some(format!(
                        "flom: the daemon closed the TLS connection without answering: if it checks peer ids (TlsCheckPeerId), the CN of '{}' must be this host's id ({}); see the daemon's system log",
                        files.certificate.display(),
                        crate::config::unique_id()
                    )),
                )
            });
        };
        let why = tls::diagnose::stream_failure(Role::Client, &files, e)?;
        return Some((tls::code::SSL_READ_ERROR, Some(why)));
    }
    // C's plain client reads the TLS record as the start of a message and
    // fails on the next read (-126).
    tls::transport::looks_like_tls_record(got).then(|| {
        (
            rc::RECV_ERROR,
            Some("flom: the daemon speaks TLS: configure TlsCertificate, TlsPrivateKey and TlsCaCertificate as the daemon has them".to_string()),
        )
    })
}

/// C FLoM reports every failed read of a TLS stream, a close included, as
/// SSL_read's -409.
fn tls_read_code(stream: &Transport, rc: i32) -> i32 {
    if stream.is_tls() && rc == rc::RECV_ERROR {
        tls::code::SSL_READ_ERROR
    } else {
        rc
    }
}

/// ... and every failed write as SSL_write's -412.
fn tls_write_code(stream: &Transport, rc: i32) -> i32 {
    if stream.is_tls() && rc == rc::SEND_ERROR {
        tls::code::SSL_WRITE_ERROR
    } else {
        rc
    }
}

/// Explains a failed send on a TLS stream: the daemon may have refused our
/// certificate and closed; its alert is still there to read.
fn explain_send(config: &Config, stream: &mut Transport) -> Option<Broken> {
    if !stream.is_tls() {
        return None;
    }
    let mut b = [0u8; 64];
    match stream.read(&mut b) {
        Err(e) => explain_read(config, stream, Some(&e), &[]),
        Ok(_) => None,
    }
}

/// The peer-id check (TlsCheckPeerId) of the daemon's first answer: its id
/// must be the CN of the daemon's certificate (C: -23, or -24 without TLS).
fn check_daemon_id(config: &Config, stream: &Transport, msg: &Message) -> Result<(), Broken> {
    if !config.tls_check_peer_id {
        return Ok(());
    }
    if !stream.is_tls() {
        return Err((tls::code::NO_TLS_CONNECTION, None));
    }
    tls::check_peer_id(Role::Client, stream.peer_cn(), msg.peerid.as_deref())
        .map_err(|e| (e.rc, Some(e.message)))
}
