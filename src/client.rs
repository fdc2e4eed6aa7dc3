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

/// Why connecting failed: a return code (reported as `ret_cod=`), or a
/// clear sentence already fit for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    Code(i32),
    Message(String),
}

impl From<net::AddressError> for ConnectError {
    fn from(e: net::AddressError) -> Self {
        ConnectError::Message(e.to_string())
    }
}

fn connect_unix(path: &str) -> io::Result<Stream> {
    UnixStream::connect(path).map(Stream::Unix)
}

fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOENT) | Some(libc::ECONNREFUSED)
    )
}

/// Connects to the daemon over the configured transport (AF_UNIX socket,
/// TCP, or multicast discovery then TCP); starts a daemon when there is none
/// and `allow_start` and the lifespan allow it.
pub fn connect(config: &Config, allow_start: bool) -> Result<Stream, ConnectError> {
    let may_start = allow_start && config.daemon_lifespan != 0;
    if !config.uses_network() {
        return connect_local(config, may_start);
    }
    let scope = config
        .network_interface
        .as_deref()
        .and_then(net::ipv6_interface_index);
    if let Some(address) = &config.unicast_address {
        let addrs = net::resolve(address, config.unicast_port as u16, scope)?;
        return retry_after_start(config, may_start, || match net::connect_tcp(&addrs) {
            Ok(s) => Attempt::Connected(Stream::Tcp(s)),
            Err(true) => Attempt::Absent,
            Err(false) => Attempt::Failed,
        });
    }
    let group = config.multicast_address.as_deref().unwrap_or_default();
    let groups = net::resolve(group, config.multicast_port as u16, scope)?;
    if let Some(s) = discover_and_connect(config, &groups)? {
        return Ok(s);
    }
    if !may_start {
        return Err(ConnectError::Code(rc::CONNECT_ERROR));
    }
    let started = crate::daemon::spawn(config);
    if started != rc::OK && started != rc::BIND_ERROR {
        return Err(ConnectError::Code(started));
    }
    match discover_and_connect(config, &groups)? {
        Some(s) => Ok(s),
        None => Err(ConnectError::Code(rc::CONNECTION_REFUSED)),
    }
}

enum Attempt {
    Connected(Stream),
    /// No daemon there (refused, or no socket file).
    Absent,
    Failed,
}

/// Tries `attempt`; when no daemon is there, starts one and retries within a
/// bounded window (another client may be starting one at the same time, so
/// ours fails its single-daemon guard; or an old one may be exiting).
fn retry_after_start(
    config: &Config,
    may_start: bool,
    attempt: impl Fn() -> Attempt,
) -> Result<Stream, ConnectError> {
    match attempt() {
        Attempt::Connected(s) => return Ok(s),
        Attempt::Absent if may_start => {}
        _ => return Err(ConnectError::Code(rc::CONNECT_ERROR)),
    }
    let deadline = Instant::now() + START_RETRY_WINDOW;
    let mut pause = Duration::from_millis(1);
    loop {
        let started = crate::daemon::spawn(config);
        if ![rc::OK, rc::FLOCK_ERROR, rc::BIND_ERROR].contains(&started) {
            return Err(ConnectError::Code(started));
        }
        match attempt() {
            Attempt::Connected(s) => return Ok(s),
            Attempt::Absent if Instant::now() < deadline => {}
            _ => return Err(ConnectError::Code(rc::DAEMON_NOT_STARTED)),
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

fn connect_local(config: &Config, may_start: bool) -> Result<Stream, ConnectError> {
    let path = config.socket_path();
    if path.len() >= 108 {
        return Err(ConnectError::Code(rc::BUFFER_OVERFLOW));
    }
    retry_after_start(config, may_start, || match connect_unix(&path) {
        Ok(s) => Attempt::Connected(s),
        Err(e) if is_absent(&e) => Attempt::Absent,
        Err(_) => Attempt::Failed,
    })
}

/// Multicast discovery: up to DiscoveryAttempts datagrams to the group, each
/// followed by a DiscoveryTimeout wait; the first reply names the daemon's
/// TCP address (empty: the reply's source) and port.
fn discover_and_connect(
    config: &Config,
    groups: &[std::net::SocketAddr],
) -> Result<Option<Stream>, ConnectError> {
    let shown = format!(
        "{}/{}",
        config.multicast_address.as_deref().unwrap_or_default(),
        config.multicast_port
    );
    let mut query = String::with_capacity(96);
    protocol::encode_discover(&mut query);
    let timeout = Duration::from_millis(config.discovery_timeout.max(1) as u64);
    for group in groups {
        let Ok(sock) = net::multicast_sender(group, config.discovery_ttl.max(1) as u32) else {
            continue;
        };
        if sock.set_read_timeout(Some(timeout)).is_err() {
            continue;
        }
        for _ in 0..config.discovery_attempts.max(1) {
            if config.verbose {
                println!("sending UDP multicast datagram to {shown} ('{query}')");
            }
            if let Err(e) = sock.send_to(query.as_bytes(), group) {
                return Err(ConnectError::Message(format!(
                    "flom: cannot send the discovery datagram to {shown}: {e} (is there a multicast route?)"
                )));
            }
            let mut buf = [0u8; 1024];
            let deadline = Instant::now() + timeout;
            let reply = loop {
                match sock.recv_from(&mut buf) {
                    Ok((n, src)) => {
                        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                        match protocol::parse_message(&buf[..n]) {
                            Ok(m) if m.network.is_some() => {
                                break Some((text, m.network.unwrap_or_default(), src))
                            }
                            _ => {}
                        }
                    }
                    Err(_) => break None,
                }
                if Instant::now() >= deadline {
                    break None;
                }
            };
            let Some((text, network, src)) = reply else {
                if config.verbose {
                    println!("no reply from {shown}");
                }
                continue;
            };
            if config.verbose {
                println!("reply from {shown} is '{text}'");
            }
            let target: Vec<std::net::SocketAddr> = if network.address.is_empty() {
                let mut a = src;
                a.set_port(network.port);
                vec![a]
            } else {
                let scope = match src {
                    std::net::SocketAddr::V6(v6) if v6.scope_id() != 0 => Some(v6.scope_id()),
                    _ => config
                        .network_interface
                        .as_deref()
                        .and_then(net::ipv6_interface_index),
                };
                net::resolve(&network.address, network.port, None)
                    .or_else(|_| net::resolve(&network.address, network.port, scope))?
            };
            return match net::connect_tcp(&target) {
                Ok(s) => Ok(Some(Stream::Tcp(s))),
                Err(_) => Err(ConnectError::Code(rc::CONNECT_ERROR)),
            };
        }
    }
    Ok(None)
}

/// Reads one message (up to `</msg>`) with a per-message timeout (-1: none).
/// Ok(None) on timeout.
fn receive(
    stream: &mut Stream,
    buf: &mut Vec<u8>,
    timeout_ms: i32,
    received: &mut usize,
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
            Ok(n) => {
                *received += n;
                buf.extend_from_slice(&chunk[..n]);
            }
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
    let mut received = 0;
    loop {
        let msg = match receive(&mut stream, &mut buf, timeout, &mut received) {
            Ok(Some(m)) => m,
            Ok(None) => {
                eprintln!(
                    "The lock was not obtained because timeout ({} milliseconds) expired",
                    config.resource_timeout
                );
                graceful_disconnect(stream);
                return Ok(LockResult::Refused(rc::ES_RESOURCE_BUSY));
            }
            // A daemon that closes before sending a single byte may be one
            // that was exiting: the caller may retry once.
            Err(f) => return Err((f, f.0 == rc::RECV_ERROR && received == 0)),
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
            Err(ConnectError::Code(code)) => {
                report("flom_client_connect", Failure(code));
                return rc::ES_GENERIC_ERROR;
            }
            Err(ConnectError::Message(m)) => {
                eprintln!("{m}");
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
    let mut stream = match connect(config, false) {
        Ok(s) => s,
        Err(ConnectError::Message(m)) => {
            eprintln!("{m}");
            return rc::ES_GENERIC_ERROR;
        }
        Err(ConnectError::Code(_)) => return rc::ES_GENERIC_ERROR,
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
