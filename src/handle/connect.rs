//! Reaching the daemon: the AF_UNIX socket, a TCP address, or multicast
//! discovery then TCP; and, when asked, starting a daemon when there is none
//! (retrying within a bounded window while another client starts one).
//! Every connect is bounded (`wait_bound`); on the UNIX socket the path
//! and the daemon behind it (SO_PEERCRED) must be the user's, root's or
//! the trusted `DaemonOwner`'s before anything is sent.

use crate::config::Config;
use crate::error::FlomError;
use crate::net::{self, Stream};
use crate::protocol;
use crate::rc;
use crate::security;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::io::AsRawFd;
use std::time::{Duration, Instant};

/// How long a client keeps retrying to reach a daemon that is starting
/// (another client won the start race) or stopping.
const START_RETRY_WINDOW: Duration = Duration::from_secs(3);

/// The bound of the waits that are not the lock itself (connect, TLS
/// handshake, the daemon's first answer) when `-o` is 0 or negative.
pub const NON_LOCK_BOUND: Duration = Duration::from_secs(5);

/// How long a connect (and the TLS handshake) may take: `-o` when it is
/// positive, else `NON_LOCK_BOUND`.
pub fn wait_bound(config: &Config) -> Duration {
    if config.resource_timeout > 0 {
        Duration::from_millis(config.resource_timeout as u64)
    } else {
        NON_LOCK_BOUND
    }
}

/// Where the daemon is looked for, for traces.
pub(super) fn target_text(config: &Config) -> String {
    if !config.uses_network() {
        return format!("UNIX socket {}", config.socket_path());
    }
    match &config.unicast_address {
        Some(a) => format!("{a} port {} (TCP)", config.unicast_port),
        None => format!(
            "multicast group {} port {} (discovery)",
            config.multicast_address.as_deref().unwrap_or_default(),
            config.multicast_port
        ),
    }
}

/// Connects to the daemon over the configured transport; starts a daemon
/// when there is none and `auto_start` and the daemon lifespan allow it.
pub(super) fn connect(config: &Config, auto_start: bool) -> Result<Stream, FlomError> {
    let may_start = auto_start && config.daemon_lifespan != 0;
    if !config.uses_network() {
        return connect_local(config, may_start);
    }
    let scope = config
        .network_interface
        .as_deref()
        .and_then(net::ipv6_interface_index);
    if let Some(address) = &config.unicast_address {
        let addrs = net::resolve(address, config.unicast_port as u16, scope)?;
        let target = format!("{address}/{}", config.unicast_port);
        return retry_after_start(config, may_start, &target, || {
            match net::connect_tcp(&addrs, Instant::now() + wait_bound(config)) {
                Ok(s) => Attempt::Connected(Stream::Tcp(s)),
                Err(true) => Attempt::Absent,
                Err(false) => Attempt::Failed,
            }
        });
    }
    let group = config.multicast_address.as_deref().unwrap_or_default();
    let groups = net::resolve(group, config.multicast_port as u16, scope)?;
    let target = format!("{group}/{}", config.multicast_port);
    let failed = |rc| FlomError::Connect {
        rc,
        target: target.clone(),
    };
    if let Some(s) = discover_and_connect(config, &groups)? {
        return Ok(s);
    }
    if !may_start {
        return Err(failed(rc::CONNECT_ERROR));
    }
    let (started, why) = crate::daemon::spawn_explained(config);
    if started != rc::OK && started != rc::BIND_ERROR {
        return Err(start_failure(started, why, failed));
    }
    discover_and_connect(config, &groups)?.ok_or_else(|| failed(rc::CONNECTION_REFUSED))
}

enum Attempt {
    Connected(Stream),
    /// No daemon there (refused, or no socket file).
    Absent,
    Failed,
    /// Failed for a reason said at once (no retry, no daemon started).
    Refused(FlomError),
}

/// The error of a daemon that did not start: its own sentence when it sent
/// one (a refused lock file or socket path), else C's return code line.
fn start_failure(
    started: i32,
    why: Option<String>,
    failed: impl Fn(i32) -> FlomError,
) -> FlomError {
    match why {
        Some(message) => FlomError::Refused {
            rc: started,
            message,
        },
        None => failed(started),
    }
}

/// Tries `attempt`; when no daemon is there, starts one and retries within a
/// bounded window (another client may be starting one at the same time, so
/// ours fails its single-daemon guard; or an old one may be exiting).
fn retry_after_start(
    config: &Config,
    may_start: bool,
    target: &str,
    attempt: impl Fn() -> Attempt,
) -> Result<Stream, FlomError> {
    let failed = |rc| FlomError::Connect {
        rc,
        target: target.to_string(),
    };
    match attempt() {
        Attempt::Connected(s) => return Ok(s),
        Attempt::Refused(e) => return Err(e),
        Attempt::Absent if may_start => {}
        _ => return Err(failed(rc::CONNECT_ERROR)),
    }
    let deadline = Instant::now() + START_RETRY_WINDOW;
    let mut pause = Duration::from_millis(1);
    loop {
        let (started, why) = crate::daemon::spawn_explained(config);
        if ![rc::OK, rc::FLOCK_ERROR, rc::BIND_ERROR].contains(&started) {
            return Err(start_failure(started, why, failed));
        }
        match attempt() {
            Attempt::Connected(s) => return Ok(s),
            Attempt::Refused(e) => return Err(e),
            Attempt::Absent if Instant::now() < deadline => {}
            _ => return Err(failed(rc::DAEMON_NOT_STARTED)),
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOENT) | Some(libc::ECONNREFUSED)
    )
}

fn connect_local(config: &Config, may_start: bool) -> Result<Stream, FlomError> {
    let path = config.socket_path();
    if path.len() >= 108 {
        return Err(FlomError::Connect {
            rc: rc::BUFFER_OVERFLOW,
            target: path,
        });
    }
    retry_after_start(config, may_start, &path, || {
        if let Err(e) = check_socket_path(config, &path) {
            return Attempt::Refused(e);
        }
        let deadline = Instant::now() + wait_bound(config);
        match net::connect_unix(&path, deadline) {
            Ok(s) => match check_daemon(config, &path, &s) {
                Ok(()) => Attempt::Connected(Stream::Unix(s)),
                Err(e) => Attempt::Refused(e),
            },
            Err(e) if is_absent(&e) => Attempt::Absent,
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => {
                Attempt::Refused(refused(format!(
                    "flom: permission denied connecting to the daemon at '{path}'{}: a daemon lets other users in only with --socket-access (SocketAccess in [Daemon])",
                    owner_clause(&path)
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Attempt::Refused(refused(format!(
                "flom: the daemon at '{path}' did not accept the connection within {} ms (its listen backlog is full)",
                wait_bound(config).as_millis()
            ))),
            Err(_) => Attempt::Failed,
        }
    })
}

fn refused(message: String) -> FlomError {
    FlomError::Refused {
        rc: rc::CONNECT_ERROR,
        message,
    }
}

/// ` (owned by NAME)` for the file at `path`, if any.
fn owner_clause(path: &str) -> String {
    match std::fs::symlink_metadata(path) {
        Ok(m) => format!(" (owned by {})", security::user_name(m.uid())),
        Err(_) => String::new(),
    }
}

/// The socket path must be absent or a socket of a trusted owner: a file,
/// directory or symbolic link planted there, or another user's socket, is
/// refused at once (no daemon started, no retries).
fn check_socket_path(config: &Config, path: &str) -> Result<(), FlomError> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    // Looked up (in the password database) only for a message.
    let owner = || security::user_name(meta.uid());
    if !meta.file_type().is_socket() {
        let owner = owner();
        return Err(refused(format!(
            "flom: '{path}' is {} owned by {owner}, not a flom socket: remove it or choose another socket path with -s",
            security::kind_of(&meta)
        )));
    }
    if !security::trusts_owner(config.daemon_owner.as_deref(), meta.uid()) {
        let owner = owner();
        return Err(refused(format!(
            "flom: the socket '{path}' belongs to {owner}, not to you or root: refusing to use it (its daemon would see your resource names and could answer anything); remove it, choose another socket path with -s, or trust that user with --daemon-owner={owner}"
        )));
    }
    Ok(())
}

/// The daemon behind a connected UNIX socket must run as the user, root or
/// the trusted `DaemonOwner` (SO_PEERCRED): checked before anything is sent.
fn check_daemon(
    config: &Config,
    path: &str,
    s: &std::os::unix::net::UnixStream,
) -> Result<(), FlomError> {
    let (pid, uid, _) = security::peer_credentials(s.as_raw_fd()).map_err(|e| {
        refused(format!(
            "flom: cannot tell who runs the daemon at '{path}': {e}"
        ))
    })?;
    if security::trusts_owner(config.daemon_owner.as_deref(), uid)
        || security::socket_placed_by_trusted(std::path::Path::new(path))
    {
        return Ok(());
    }
    let owner = security::user_name(uid);
    Err(refused(format!(
        "flom: the daemon at '{path}' is run by {owner} (pid {pid}), not by you or root: refusing to talk to it (it would see your resource names and could answer anything); choose another socket path with -s, or trust that user with --daemon-owner={owner}"
    )))
}

/// The uid of the daemon behind `stream` (UNIX sockets only).
pub(super) fn daemon_uid(stream: &Stream) -> Option<u32> {
    match stream {
        Stream::Unix(s) => security::peer_credentials(s.as_raw_fd())
            .ok()
            .map(|(_, uid, _)| uid),
        Stream::Tcp(_) => None,
    }
}

/// Multicast discovery: up to DiscoveryAttempts datagrams to the group, each
/// followed by a DiscoveryTimeout wait; the first reply names the daemon's
/// TCP address (empty: the reply's source) and port.
fn discover_and_connect(
    config: &Config,
    groups: &[SocketAddr],
) -> Result<Option<Stream>, FlomError> {
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
                return Err(FlomError::DiscoverySend {
                    group: shown,
                    cause: e.to_string(),
                });
            }
            let Some((text, network, src)) = await_reply(&sock, timeout) else {
                if config.verbose {
                    println!("no reply from {shown}");
                }
                continue;
            };
            if config.verbose {
                println!("reply from {shown} is '{text}'");
            }
            let target: Vec<SocketAddr> = if network.address.is_empty() {
                let mut a = src;
                a.set_port(network.port);
                vec![a]
            } else {
                let scope = match src {
                    SocketAddr::V6(v6) if v6.scope_id() != 0 => Some(v6.scope_id()),
                    _ => config
                        .network_interface
                        .as_deref()
                        .and_then(net::ipv6_interface_index),
                };
                net::resolve(&network.address, network.port, None)
                    .or_else(|_| net::resolve(&network.address, network.port, scope))?
            };
            return match net::connect_tcp(&target, Instant::now() + wait_bound(config)) {
                Ok(s) => Ok(Some(Stream::Tcp(s))),
                Err(_) => Err(FlomError::Connect {
                    rc: rc::CONNECT_ERROR,
                    target: format!("{}/{}", network.address, network.port),
                }),
            };
        }
    }
    Ok(None)
}

/// The first discovery reply within `timeout`: its text, the network element
/// it carries, and its source.
fn await_reply(
    sock: &std::net::UdpSocket,
    timeout: Duration,
) -> Option<(String, protocol::NetworkElem, SocketAddr)> {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + timeout;
    loop {
        match sock.recv_from(&mut buf) {
            Ok((n, src)) => {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                match protocol::parse_message(&buf[..n]) {
                    Ok(m) if m.network.is_some() => {
                        return Some((text, m.network.unwrap_or_default(), src))
                    }
                    _ => {}
                }
            }
            Err(_) => return None,
        }
        if Instant::now() >= deadline {
            return None;
        }
    }
}
