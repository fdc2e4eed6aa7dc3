//! The client's side of one connection to the daemon: the lock request and
//! its answers, the unlock, the management (shutdown) request, and the
//! graceful disconnect, byte-compatible with C FLoM's client; our
//! extensions, the status request and the fencing token of a grant; over TLS, the
//! peer-id check of the daemon's answer and the explanation of a failure
//! the TLS library saw (see the TLS section).

use crate::config::Config;
use crate::error::FlomError;
use crate::net;
use crate::protocol::{self, LockRequestArgs, Message};
use crate::rc;
use crate::snapshot::{self, Snapshot};
use crate::tls::{self, Role, Transport};
use std::io::{self, Read, Write};
use std::os::unix::io::AsRawFd;
use std::time::{Duration, Instant};

/// How long the graceful disconnect waits for the daemon's close.
pub(super) const DISCONNECT_WAIT_MS: i32 = 5000;
/// How long the disconnect waits for the close of a daemon that did not
/// answer in time (it may still be alive and busy).
pub(super) const UNANSWERED_DISCONNECT_WAIT_MS: i32 = 500;
/// How much longer than `-o` the client waits for the daemon's answer.
const ANSWER_GRACE_MS: i32 = 100;
/// How long a management request waits for any reply.
const MANAGEMENT_WAIT_MS: i32 = 1000;
/// How long a status request waits for the whole answer.
const STATUS_WAIT_MS: u64 = 10_000;
/// Largest status answer a client takes (a daemon with a million holders).
const STATUS_MAX_ANSWER: usize = 256 << 20;

/// A granted lock: its element and, when asked and the daemon gave one,
/// its fencing token.
pub(super) type Granted = (Option<String>, Option<u64>);

/// Why a lock conversation did not grant the lock.
#[derive(Debug)]
pub(super) enum LockFailure {
    /// The daemon answered no (or did not answer in time): the connection
    /// is still usable.
    Refused(FlomError),
    /// The daemon did not answer within the bound: the connection is kept
    /// (the handle's state stays `Connected`); its disconnect waits briefly.
    Unanswered(FlomError),
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
            crate::trace!(
                crate::trace::MSG,
                "client: received '{}'",
                String::from_utf8_lossy(&buf[..end])
            );
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
/// the locked element (if the resource has one) and the fencing token (if
/// asked, and the daemon is ours) when granted.
pub(super) fn lock(
    stream: &mut Transport,
    config: &Config,
    peerid: &str,
) -> Result<Granted, LockFailure> {
    let broken = |rc| LockFailure::Broken {
        rc,
        retryable: false,
        why: None,
    };
    let mut out = String::with_capacity(256);
    // The etcd key is asked only of a daemon the settings say keeps its
    // locks in etcd, so that -v alone sends C's bytes.
    let asked = protocol::Asked {
        fencing: config.fencing,
        etcd_key: config.verbose && config.etcd_endpoints.is_some(),
    };
    protocol::encode_lock_request_extended(
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
        asked,
    );
    crate::trace!(crate::trace::CLIENT, "client: sending the lock request");
    crate::trace!(crate::trace::MSG, "client: sent '{out}'");
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
    let progress = Progress::new(config);
    progress.requested();
    // The first answer (step 16) is immediate from any daemon: without a
    // positive -o it is awaited at most NON_LOCK_BOUND.
    let bound_ms = super::connect::NON_LOCK_BOUND.as_millis() as i32;
    // With a positive -o the daemon answers when its own timer ends: a
    // little grace lets that answer arrive before the client gives up.
    let (first_wait, timeout) = if config.resource_timeout > 0 {
        let t = config.resource_timeout.saturating_add(ANSWER_GRACE_MS);
        (t, t)
    } else {
        (bound_ms, -1)
    };
    let mut buf = Vec::with_capacity(512);
    let mut first = true;
    let mut received = 0;
    loop {
        let wait = if first { first_wait } else { timeout };
        let msg = match receive(config, stream, &mut buf, wait, &mut received) {
            Ok(Some(m)) => m,
            Ok(None) if config.resource_timeout > 0 => {
                return Err(LockFailure::Unanswered(FlomError::LockTimeout {
                    timeout_ms: config.resource_timeout,
                }))
            }
            Ok(None) => {
                return Err(LockFailure::Unanswered(FlomError::Refused {
                    rc: rc::NETWORK_TIMEOUT,
                    message: format!(
                        "flom: the daemon did not answer the lock request within {bound_ms} ms (a positive -o sets this bound)"
                    ),
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
        crate::trace!(
            crate::trace::CLIENT,
            "client: answer of the daemon: rc={}",
            msg.answer.as_ref().map_or(-1, |a| a.rc)
        );
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
        if let Some(key) = msg.etcd_key.as_deref() {
            progress.etcd_key(key);
        }
        return match answer.rc {
            rc::OK => {
                progress.granted(answer.element.as_deref());
                Ok((answer.element, msg.fencing_token.filter(|_| config.fencing)))
            }
            rc::LOCK_ENQUEUED | rc::LOCK_WAIT_RESOURCE => {
                progress.waiting(answer.rc);
                continue;
            }
            rc::LOCK_BUSY => Err(LockFailure::Refused(FlomError::LockBusy)),
            rc::LOCK_CANT_WAIT => Err(LockFailure::Refused(FlomError::LockCantWait)),
            rc::LOCK_IMPOSSIBLE => Err(LockFailure::Refused(FlomError::LockImpossible)),
            rc::INVALID_RESOURCE_NAME => Err(broken(rc::INVALID_RESOURCE_NAME)),
            _ => Err(broken(rc::PROTOCOL_ERROR)),
        };
    }
}

/// With `-V`, what the lock request is doing, on stderr: requested,
/// waiting (on what, in which mode), granted.
struct Progress<'a> {
    config: &'a Config,
    start: Instant,
    /// The etcd key was told.
    told_key: std::cell::Cell<bool>,
}

impl<'a> Progress<'a> {
    fn new(config: &'a Config) -> Progress<'a> {
        Progress {
            config,
            start: Instant::now(),
            told_key: std::cell::Cell::new(false),
        }
    }

    /// "in mode EX" or "for 2 units", as the resource type has it.
    fn how(&self) -> String {
        let c = self.config;
        match crate::resource::resource_type(&c.resource_name) {
            Some(kind) if kind.uses_quantity() => {
                let q = c.resource_quantity.max(1);
                format!("for {q} unit{}", if q == 1 { "" } else { "s" })
            }
            Some(kind) if !kind.uses_lock_mode() => "exclusively".to_string(),
            _ => format!("in mode {}", c.lock_mode.short_name()),
        }
    }

    fn requested(&self) {
        let c = self.config;
        if !c.verbose {
            return;
        }
        let wait = match c.resource_timeout {
            0 => "without waiting".to_string(),
            t if t < 0 => "waiting as long as needed".to_string(),
            t => format!("waiting at most {t} ms"),
        };
        eprintln!(
            "flom: requesting the lock on resource '{}' {}, {wait}.",
            c.resource_name,
            self.how()
        );
    }

    /// The etcd key of the request, told once.
    fn etcd_key(&self, key: &str) {
        if self.config.verbose && !self.told_key.replace(true) {
            eprintln!("flom: the request is kept in etcd as key '{key}'.");
        }
    }

    fn waiting(&self, code: i32) {
        let c = self.config;
        if !c.verbose {
            return;
        }
        let on = if code == rc::LOCK_WAIT_RESOURCE {
            "until another client creates it (it does not exist and -e no forbids creating it)"
        } else {
            "until other holders release it"
        };
        eprintln!(
            "flom: waiting for resource '{}' {} {on}.",
            c.resource_name,
            self.how()
        );
    }

    fn granted(&self, element: Option<&str>) {
        let c = self.config;
        if !c.verbose {
            return;
        }
        let element = element
            .map(|e| format!(" (element '{e}')"))
            .unwrap_or_default();
        eprintln!(
            "flom: lock on resource '{}' granted{element} after {} ms.",
            c.resource_name,
            self.start.elapsed().as_millis()
        );
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
    // A C daemon answers nothing; our TLS daemon answers a plain request
    // with a TLS alert, which must not pass for an accepted shutdown.
    if matches!(
        net::wait_readable(stream.as_raw_fd(), MANAGEMENT_WAIT_MS),
        Ok(true)
    ) && !stream.is_tls()
    {
        let mut first = [0u8; 16];
        if let Ok(n) = stream.read(&mut first) {
            if let Some(broken) = explain_read(config, stream, None, &first[..n]) {
                return Err(broken);
            }
        }
    }
    Ok(())
}

/// Why a status request got no snapshot.
pub(super) enum StatusFailure {
    /// The daemon closed without a byte: it does not know the request.
    Unsupported,
    Failed(i32, String),
}

/// Sends a status request and reads the whole answer (bounded in time and
/// size). A daemon that closes without answering does not support it (a C
/// daemon finds the request invalid and closes).
pub(super) fn request_status(
    config: &Config,
    stream: &mut Transport,
    peerid: &str,
) -> Result<Snapshot, StatusFailure> {
    let failed = |rc, why: &str| StatusFailure::Failed(rc, why.to_string());
    let mut out = String::with_capacity(200);
    protocol::encode_status_request(&mut out, peerid);
    if stream.write_all(out.as_bytes()).is_err() {
        return Err(match explain_send(config, stream) {
            Some((rc, Some(why))) => {
                let why = why.strip_prefix("flom: ").unwrap_or(&why).to_string();
                StatusFailure::Failed(rc, why)
            }
            _ => StatusFailure::Unsupported,
        });
    }
    let deadline = Instant::now() + Duration::from_millis(STATUS_WAIT_MS);
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        if let Some(end) = protocol::find_message_end(&buf, buf.len().saturating_sub(chunk.len())) {
            return snapshot::decode_answer(&buf[..end]).map_err(|_| {
                failed(
                    rc::PROTOCOL_ERROR,
                    "the daemon's answer is not a status answer this flom understands",
                )
            });
        }
        if buf.len() > STATUS_MAX_ANSWER {
            return Err(failed(
                rc::BUFFER_OVERFLOW,
                "the daemon's answer is too long",
            ));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(failed(
                rc::NETWORK_TIMEOUT,
                "the daemon did not answer within 10 seconds",
            ));
        }
        if stream.pending() == 0 {
            match net::wait_readable(stream.as_raw_fd(), left.as_millis().max(1) as i32) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) => return Err(failed(rc::RECV_ERROR, "waiting for the answer failed")),
            }
        }
        let error = match stream.read(&mut chunk) {
            Ok(0) => None,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A daemon that closes with our request unread resets the connection.
            Err(e) => Some(e),
        };
        if let Some((rc, Some(why))) = explain_read(config, stream, error.as_ref(), &buf) {
            let why = why.strip_prefix("flom: ").unwrap_or(&why).to_string();
            return Err(StatusFailure::Failed(rc, why));
        }
        return Err(if buf.is_empty() {
            StatusFailure::Unsupported
        } else {
            failed(
                rc::RECV_ERROR,
                "the daemon closed the connection in the middle of its answer",
            )
        });
    }
}

/// Half-closes, waits (at most `wait_ms`) for the daemon to close, closes.
pub(super) fn graceful_disconnect(stream: Transport, wait_ms: i32) {
    let mut stream = stream;
    let _ = stream.shutdown_write();
    let deadline = Instant::now() + Duration::from_millis(wait_ms.max(0) as u64);
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
        // A clean close explains nothing more: the caller reports the failed write.
        Ok(0) => None,
        Ok(n) => explain_read(config, stream, None, &b[..n]),
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
