//! Reaching the daemon: the AF_UNIX socket, a TCP address, or multicast
//! discovery then TCP; and, when asked, starting a daemon when there is none
//! (retrying within a bounded window while another client starts one).

use crate::config::Config;
use crate::error::FlomError;
use crate::net::{self, Stream};
use crate::protocol;
use crate::rc;
use std::io;
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// How long a client keeps retrying to reach a daemon that is starting
/// (another client won the start race) or stopping.
const START_RETRY_WINDOW: Duration = Duration::from_secs(3);

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
            match net::connect_tcp(&addrs) {
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
    let started = crate::daemon::spawn(config);
    if started != rc::OK && started != rc::BIND_ERROR {
        return Err(failed(started));
    }
    discover_and_connect(config, &groups)?.ok_or_else(|| failed(rc::CONNECTION_REFUSED))
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
    target: &str,
    attempt: impl Fn() -> Attempt,
) -> Result<Stream, FlomError> {
    let failed = |rc| FlomError::Connect {
        rc,
        target: target.to_string(),
    };
    match attempt() {
        Attempt::Connected(s) => return Ok(s),
        Attempt::Absent if may_start => {}
        _ => return Err(failed(rc::CONNECT_ERROR)),
    }
    let deadline = Instant::now() + START_RETRY_WINDOW;
    let mut pause = Duration::from_millis(1);
    loop {
        let started = crate::daemon::spawn(config);
        if ![rc::OK, rc::FLOCK_ERROR, rc::BIND_ERROR].contains(&started) {
            return Err(failed(started));
        }
        match attempt() {
            Attempt::Connected(s) => return Ok(s),
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
        match UnixStream::connect(&path) {
            Ok(s) => Attempt::Connected(Stream::Unix(s)),
            Err(e) if is_absent(&e) => Attempt::Absent,
            Err(_) => Attempt::Failed,
        }
    })
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
            return match net::connect_tcp(&target) {
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
