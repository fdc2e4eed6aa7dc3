//! The client side of `flom`: finding (or starting) the daemon, the lock
//! conversation with its outcomes and messages, running the command while the
//! lock is held, unlock and graceful disconnect; and the `-x`/`-X` management
//! requests.

use crate::config::Config;
use crate::exec;
use crate::net::{self, Stream};
use crate::protocol::{self, LockRequestArgs, Message};
use crate::rc;
use std::io::{self, Read, Write};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// How long a client keeps retrying to reach a daemon that is starting
/// (another client won the start race) or stopping.
const START_RETRY_WINDOW: Duration = Duration::from_secs(3);
/// How long the graceful disconnect waits for the daemon's close.
const DISCONNECT_WAIT_MS: i32 = 5000;
/// How long `-x`/`-X` wait for any reply.
const MANAGEMENT_WAIT_MS: i32 = 1000;

/// A failure with a FLoM return code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure(pub i32);

fn connect_unix(path: &str) -> io::Result<Stream> {
    UnixStream::connect(path).map(Stream::Unix)
}

fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOENT) | Some(libc::ECONNREFUSED)
    )
}

/// Connects to the daemon; starts one when there is none and the lifespan
/// allows (`allow_start`).
pub fn connect(config: &Config, allow_start: bool) -> Result<Stream, Failure> {
    let path = config.socket_path();
    if path.len() >= 108 {
        return Err(Failure(rc::BUFFER_OVERFLOW));
    }
    match connect_unix(&path) {
        Ok(s) => return Ok(s),
        Err(e) if is_absent(&e) && allow_start && config.daemon_lifespan != 0 => {}
        Err(_) => return Err(Failure(rc::CONNECT_ERROR)),
    }
    // No daemon: start one. Another client may be starting one at the same
    // time (our start then fails its single-daemon guard) or an old one may
    // be exiting: retry within a bounded window.
    let deadline = Instant::now() + START_RETRY_WINDOW;
    let mut pause = Duration::from_millis(1);
    loop {
        let started = crate::daemon::spawn(config);
        if started != rc::OK && started != rc::FLOCK_ERROR {
            return Err(Failure(started));
        }
        match connect_unix(&path) {
            Ok(s) => return Ok(s),
            Err(e) if is_absent(&e) && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
                if let Ok(s) = connect_unix(&path) {
                    return Ok(s);
                }
            }
            Err(_) => return Err(Failure(rc::DAEMON_NOT_STARTED)),
        }
    }
}

/// Reads one message (up to `</msg>`) with a per-message timeout (-1: none).
/// Ok(None) on timeout.
fn receive(
    stream: &mut Stream,
    buf: &mut Vec<u8>,
    timeout_ms: i32,
) -> Result<Option<Message>, Failure> {
    let deadline =
        (timeout_ms >= 0).then(|| Instant::now() + Duration::from_millis(timeout_ms as u64));
    loop {
        if let Some(end) = protocol::find_message_end(buf, 0) {
            let parsed = protocol::parse_message(&buf[..end]);
            buf.drain(..end);
            return match parsed {
                Ok(m) => Ok(Some(m)),
                Err(protocol::ParseError::LevelMismatch) => {
                    Err(Failure(rc::PROTOCOL_LEVEL_MISMATCH))
                }
                Err(protocol::ParseError::Invalid) => Err(Failure(rc::PROTOCOL_ERROR)),
            };
        }
        if buf.len() > protocol::CLIENT_MAX_MESSAGE {
            return Err(Failure(rc::BUFFER_OVERFLOW));
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
        match net::wait_readable(stream.as_raw_fd(), wait) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(_) => return Err(Failure(rc::RECV_ERROR)),
        }
        let mut chunk = [0u8; 1024];
        match stream.read(&mut chunk) {
            Ok(0) => return Err(Failure(rc::RECV_ERROR)),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(Failure(rc::RECV_ERROR)),
        }
    }
}

/// Half-closes, waits (bounded) for the daemon to close, closes.
fn graceful_disconnect(stream: Stream) {
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

/// The result of a lock conversation.
pub enum LockResult {
    Locked {
        stream: Stream,
        element: Option<String>,
    },
    /// A lock outcome that ends flom with this exit status (message printed).
    Refused(i32),
}

/// Sends the lock request of `config` on `stream` and waits for the outcome.
fn lock_on(
    mut stream: Stream,
    config: &Config,
    peerid: &str,
) -> Result<LockResult, (Failure, bool)> {
    let name = &config.resource_name;
    let mut out = String::with_capacity(256);
    protocol::encode_lock_request(
        &mut out,
        &LockRequestArgs {
            peerid,
            name,
            mode: config.lock_mode.code(),
            wait: config.resource_timeout != 0,
            quantity: i64::from(config.resource_quantity),
            create: config.resource_create,
            lifespan: i64::from(config.resource_idle_lifespan),
        },
    );
    if stream.write_all(out.as_bytes()).is_err() {
        return Err((Failure(rc::SEND_ERROR), true));
    }
    let timeout = if config.resource_timeout > 0 {
        config.resource_timeout
    } else {
        -1
    };
    let mut buf = Vec::with_capacity(512);
    let mut first = true;
    loop {
        let msg = match receive(&mut stream, &mut buf, timeout) {
            Ok(Some(m)) => m,
            Ok(None) => {
                eprintln!(
                    "The lock was not obtained because timeout ({} milliseconds) expired",
                    config.resource_timeout
                );
                graceful_disconnect(stream);
                return Ok(LockResult::Refused(rc::ES_RESOURCE_BUSY));
            }
            // A daemon that closes before answering anything may be one
            // that was exiting: the caller may retry once.
            Err(f) => return Err((f, first && buf.is_empty())),
        };
        let expected_step = if first {
            msg.step == protocol::STEP_FIRST_ANSWER
        } else {
            msg.step > 8
        };
        let Some(answer) = msg
            .answer
            .filter(|_| msg.verb == protocol::VERB_LOCK && expected_step)
        else {
            return Err((Failure(rc::PROTOCOL_ERROR), false));
        };
        first = false;
        match answer.rc {
            rc::OK => {
                return Ok(LockResult::Locked {
                    stream,
                    element: answer.element,
                })
            }
            rc::LOCK_ENQUEUED | rc::LOCK_WAIT_RESOURCE => continue,
            rc::LOCK_BUSY => {
                eprintln!("Resource already locked, the lock cannot be obtained");
                graceful_disconnect(stream);
                return Ok(LockResult::Refused(rc::ES_RESOURCE_BUSY));
            }
            rc::LOCK_CANT_WAIT => {
                eprintln!(
                    "The resource could be available in the future, but the requester can't wait"
                );
                graceful_disconnect(stream);
                return Ok(LockResult::Refused(rc::ES_REQUESTER_CANT_WAIT));
            }
            rc::LOCK_IMPOSSIBLE => {
                eprintln!("Resource will never satisfy the request, the lock cannot be obtained");
                graceful_disconnect(stream);
                return Ok(LockResult::Refused(rc::ES_GENERIC_ERROR));
            }
            rc::INVALID_RESOURCE_NAME => return Err((Failure(rc::INVALID_RESOURCE_NAME), false)),
            _ => return Err((Failure(rc::PROTOCOL_ERROR), false)),
        }
    }
}

fn report(function: &str, f: Failure) {
    eprintln!("{function}: ret_cod={} ({})", f.0, rc::strerror(f.0));
}

/// `flom [options] -- command`: lock, run, unlock. Returns the exit status.
pub fn run(config: &Config, command: &[String]) -> i32 {
    let peerid = crate::config::unique_id();
    let mut retried = false;
    let (stream, element) = loop {
        let stream = match connect(config, true) {
            Ok(s) => s,
            Err(f) => {
                report("flom_client_connect", f);
                return rc::ES_GENERIC_ERROR;
            }
        };
        match lock_on(stream, config, &peerid) {
            Ok(LockResult::Locked { stream, element }) => break (stream, element),
            Ok(LockResult::Refused(status)) => return status,
            Err((_, true)) if !retried => retried = true,
            Err((f, _)) => {
                report("flom_client_lock", f);
                return rc::ES_GENERIC_ERROR;
            }
        }
    };
    let mut argv = command.to_vec();
    if let Some(e) = &element {
        if config.verbose {
            println!("Locked element is '{e}'");
        }
        argv.push(e.clone());
    }
    let _ = io::stdout().flush();
    let ending = exec::run_command(&argv, &config.ignored_signals);
    let status = ending.exit_status();
    let mut stream = stream;
    let mut out = String::with_capacity(256);
    protocol::encode_unlock(&mut out, &config.resource_name, status != 0);
    if stream.write_all(out.as_bytes()).is_err() {
        report("flom_client_unlock", Failure(rc::SEND_ERROR));
        return rc::ES_GENERIC_ERROR;
    }
    graceful_disconnect(stream);
    status
}

/// `flom -x` / `flom -X`: ask the daemon to shut down. Never starts one.
pub fn shutdown(config: &Config, immediate: bool) -> i32 {
    if immediate {
        println!("Starting FLoM daemon immediate shutdown...");
    } else {
        println!("Starting FLoM daemon quiesce shutdown...");
    }
    let _ = io::stdout().flush();
    let Ok(mut stream) = connect(config, false) else {
        return rc::ES_GENERIC_ERROR;
    };
    let mut out = String::with_capacity(200);
    protocol::encode_management(&mut out, &crate::config::unique_id(), immediate);
    if stream.write_all(out.as_bytes()).is_err() {
        return rc::ES_GENERIC_ERROR;
    }
    let _ = net::wait_readable(stream.as_raw_fd(), MANAGEMENT_WAIT_MS);
    graceful_disconnect(stream);
    rc::ES_OK
}
