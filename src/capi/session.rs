//! The lock conversation of one C handle with its daemon: connect (never
//! starting a daemon), lock request and answers, unlock, graceful
//! disconnect. The one place where the C API meets the client code, so the
//! client can change underneath without touching the ABI functions.

use std::ffi::c_int;
use std::io::{self, Read, Write};
use std::os::unix::io::AsRawFd;

use super::errors::{RC_CONNECTION_CLOSED_BY_SERVER, RC_GETADDRINFO_ERROR, RC_LOCK_CANT_LOCK};
use super::settings::Settings;
use crate::client::{self, ConnectError};
use crate::net::{self, Stream};
use crate::protocol::{self, LockRequestArgs};
use crate::rc;

/// How long the graceful disconnect waits for the daemon's close.
const DISCONNECT_WAIT_MS: i32 = 5000;

/// An open connection to a daemon, with the bytes read past the last message.
pub struct Session {
    stream: Stream,
    pending: Vec<u8>,
}

/// The peer id sent with every lock request (read once per process).
fn peer_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(crate::config::unique_id)
}

impl Session {
    /// Connects to the daemon the settings name; never starts one.
    pub fn connect(settings: &Settings) -> Result<Session, c_int> {
        let config = settings.to_config();
        match client::connect(&config, false) {
            Ok(stream) => Ok(Session {
                stream,
                pending: Vec::with_capacity(512),
            }),
            Err(ConnectError::Code(code)) => Err(code),
            Err(ConnectError::Message(_)) => Err(RC_GETADDRINFO_ERROR),
        }
    }

    /// Sends everything (the stream never raises SIGPIPE: a daemon that
    /// vanished gives -130).
    fn send_all(&mut self, bytes: &[u8]) -> Result<(), c_int> {
        self.stream.write_all(bytes).map_err(|_| rc::SEND_ERROR)
    }

    /// Reads one message; `timeout_ms` > 0 bounds the wait for it
    /// (+9 on expiry), otherwise it waits as long as it takes.
    fn receive(&mut self, timeout_ms: c_int, first: bool) -> Result<protocol::Message, c_int> {
        loop {
            if let Some(end) = protocol::find_message_end(&self.pending, 0) {
                let parsed = protocol::parse_message(&self.pending[..end]);
                self.pending.drain(..end);
                return parsed.map_err(|e| match e {
                    protocol::ParseError::LevelMismatch => rc::PROTOCOL_LEVEL_MISMATCH,
                    protocol::ParseError::Invalid => MSG_DESERIALIZE_ERROR,
                });
            }
            if self.pending.len() > protocol::CLIENT_MAX_MESSAGE {
                return Err(rc::BUFFER_OVERFLOW);
            }
            if timeout_ms > 0 {
                match net::wait_readable(self.stream.as_raw_fd(), timeout_ms) {
                    Ok(true) => {}
                    Ok(false) => return Err(rc::NETWORK_TIMEOUT),
                    Err(_) => return Err(POLL_ERROR),
                }
            }
            let mut chunk = [0u8; 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) if first && self.pending.is_empty() => {
                    return Err(RC_CONNECTION_CLOSED_BY_SERVER)
                }
                Ok(0) => return Err(rc::RECV_ERROR),
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(rc::RECV_ERROR),
            }
        }
    }

    /// Asks for the lock the settings describe and waits for the outcome.
    /// Ok(element) when granted; the C return code otherwise.
    pub fn lock(&mut self, settings: &Settings) -> Result<Option<String>, c_int> {
        let name = settings.resource_name();
        let mut out = String::with_capacity(256);
        protocol::encode_lock_request(
            &mut out,
            &LockRequestArgs {
                peerid: peer_id(),
                name,
                mode: settings.lock_mode as u8,
                wait: settings.resource_timeout != 0,
                quantity: i64::from(settings.resource_quantity),
                create: settings.resource_create != 0,
                lifespan: i64::from(settings.resource_idle_lifespan),
            },
        );
        self.send_all(out.as_bytes())?;
        let timeout = settings.resource_timeout;
        let answer = self.receive(timeout, true)?;
        if answer.verb != protocol::VERB_LOCK || answer.step != protocol::STEP_FIRST_ANSWER {
            return Err(rc::PROTOCOL_ERROR);
        }
        let Some(first) = answer.answer else {
            return Err(rc::PROTOCOL_ERROR);
        };
        match first.rc {
            rc::OK => Ok(first.element),
            rc::LOCK_ENQUEUED | rc::LOCK_WAIT_RESOURCE => self.wait_grant(timeout),
            rc::LOCK_BUSY | rc::LOCK_CANT_WAIT | rc::LOCK_IMPOSSIBLE => Err(first.rc),
            _ => Err(rc::PROTOCOL_ERROR),
        }
    }

    /// The answers after "enqueued" / "waiting for the resource".
    fn wait_grant(&mut self, timeout: c_int) -> Result<Option<String>, c_int> {
        loop {
            let msg = self.receive(timeout, false)?;
            if msg.verb != protocol::VERB_LOCK
                || !matches!(
                    msg.step,
                    protocol::STEP_FIRST_ANSWER
                        | protocol::STEP_LATER_ANSWER
                        | protocol::STEP_FINAL_ANSWER
                )
            {
                return Err(rc::PROTOCOL_ERROR);
            }
            let Some(answer) = msg.answer else {
                return Err(rc::PROTOCOL_ERROR);
            };
            match answer.rc {
                rc::OK => return Ok(answer.element),
                rc::LOCK_ENQUEUED | rc::LOCK_WAIT_RESOURCE
                    if msg.step != protocol::STEP_FINAL_ANSWER => {}
                _ => return Err(RC_LOCK_CANT_LOCK),
            }
        }
    }

    /// Releases the lock on `resource_name` (rollback: the sequence value
    /// goes back to the pool).
    pub fn unlock(&mut self, resource_name: &str, rollback: bool) -> Result<(), c_int> {
        let mut out = String::with_capacity(160);
        protocol::encode_unlock(&mut out, resource_name, rollback);
        self.send_all(out.as_bytes())
    }

    /// Half-closes, waits (bounded) for the daemon's close, closes.
    pub fn disconnect(self) {
        let mut stream = self.stream;
        let _ = stream.shutdown_write();
        if let Ok(true) = net::wait_readable(stream.as_raw_fd(), DISCONNECT_WAIT_MS) {
            let mut sink = [0u8; 256];
            let _ = stream.read(&mut sink);
        }
    }
}

const MSG_DESERIALIZE_ERROR: c_int = -16;
const POLL_ERROR: c_int = -123;
