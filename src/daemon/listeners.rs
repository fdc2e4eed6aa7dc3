//! The daemon's listening sockets, built from the configuration: the UNIX
//! socket (alone on its path thanks to the `<socket>.lock` flock), or the
//! TCP listener plus the multicast discovery responder; and the answers to
//! discovery queries. The socket calls themselves live in `net`.

use crate::config::Config;
use crate::net::{self, Listener};
use crate::protocol;
use crate::rc;
use crate::security::SocketAccess;
use crate::store::Uids;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

#[derive(Default)]
pub struct Listeners {
    pub sockets: Vec<Listener>,
    /// The multicast discovery responder, when a group is configured.
    pub discovery: Option<UdpSocket>,
    /// What discovery replies advertise: address ("" for a wildcard) and TCP port.
    advertised: (String, u16),
    /// The UNIX socket path (unlinked at shutdown) and the identity of the
    /// socket file we bound there.
    socket_path: Option<String>,
    socket_identity: Option<(u64, u64)>,
    /// Who may connect to the UNIX socket (its file mode follows).
    pub access: SocketAccess,
    guard: Option<net::UnixGuard>,
}

/// What `check_socket` found at the UNIX socket path.
#[derive(Debug)]
pub enum SocketState {
    /// Our socket file is there (or there is no UNIX socket).
    Fine,
    /// It had been removed: a new one is bound, to become listener 0 once
    /// the loop stops watching the old one.
    Recreated(std::os::unix::net::UnixListener),
    /// Something else is there, or our lock file is gone: another daemon
    /// may serve the path now; the loop closes listener 0.
    Lost,
}

impl Listeners {
    /// The listeners `config` asks for; Err(rc) when the daemon cannot serve.
    /// Each socket takes a uid, as C FLoM's listener objects do.
    pub fn open(config: &Config, uids: &Uids) -> Result<Listeners, i32> {
        let mut l = Listeners::default();
        l.access = SocketAccess::of(config.socket_access.as_deref());
        if config.uses_network() {
            l.listen_network(config, uids)?;
        } else {
            l.listen_unix(&config.socket_path(), uids)?;
        }
        Ok(l)
    }

    /// The listeners passed by socket activation (`service`), as they are:
    /// UNIX and TCP alike, never unlinked (they belong to the service
    /// manager), plus the discovery responder when a multicast group is
    /// configured and a TCP listener is there to advertise.
    pub fn inherited(
        sockets: Vec<Listener>,
        config: &Config,
        uids: &Uids,
    ) -> Result<Listeners, i32> {
        let mut l = Listeners::default();
        for s in sockets {
            match &s {
                Listener::Unix(u) => {
                    let path = u
                        .local_addr()
                        .ok()
                        .and_then(|a| a.as_pathname().map(|p| p.display().to_string()))
                        .unwrap_or_default();
                    crate::syslog::notice(&format!(
                        "FLM000I listening on UNIX socket '{path}' (socket activation)"
                    ));
                }
                Listener::Tcp(t) => {
                    let addr = t.local_addr().map_err(|_| rc::LISTEN_ERROR)?;
                    if l.advertised.1 == 0 {
                        let address = match &config.unicast_address {
                            Some(a) if !net::is_wildcard(a) => a.clone(),
                            _ if addr.ip().is_unspecified() => String::new(),
                            _ => addr.ip().to_string(),
                        };
                        l.advertised = (address, addr.port());
                    }
                    crate::syslog::notice(&format!(
                        "FLM001I listening on TCP address '{}' port {} (socket activation)",
                        addr.ip(),
                        addr.port()
                    ));
                }
            }
            l.sockets.push(s);
            uids.next();
        }
        if let (Some(g), true) = (&config.multicast_address, l.advertised.1 != 0) {
            let scope = config
                .network_interface
                .as_deref()
                .and_then(net::ipv6_interface_index);
            let group = net::resolve(g, config.multicast_port as u16, scope)
                .map_err(|_| rc::BIND_ERROR)?
                .remove(0);
            let udp = net::multicast_responder(group).map_err(|_| rc::BIND_ERROR)?;
            udp.set_nonblocking(true).map_err(|_| rc::BIND_ERROR)?;
            l.discovery = Some(udp);
            uids.next();
            crate::syslog::notice(&format!(
                "FLM002I answering discovery on multicast group '{g}' port {}",
                config.multicast_port
            ));
        }
        Ok(l)
    }

    fn listen_unix(&mut self, path: &str, uids: &Uids) -> Result<(), i32> {
        let listener = self.bind_unix(path)?;
        self.socket_path = Some(path.to_string());
        crate::syslog::notice(&format!("FLM000I listening on UNIX socket '{path}'"));
        self.sockets.push(Listener::Unix(listener));
        uids.next();
        Ok(())
    }

    /// Takes the guard (when not held yet) and binds the socket file.
    fn bind_unix(&mut self, path: &str) -> Result<std::os::unix::net::UnixListener, i32> {
        let gid = match &self.access {
            SocketAccess::Group { gid, .. } => Some(*gid),
            _ => None,
        };
        let (listener, guard) = match self.guard.take() {
            // Re-creating the socket: the guard is ours already.
            Some(g) => (net::rebind_unix(path, self.access.socket_mode(), gid), g),
            None => match net::listen_unix_exclusive(path, self.access.socket_mode(), gid) {
                Ok((l, g)) => (Ok(l), g),
                Err(e) => return Err(unix_listen_rc(path, e)),
            },
        };
        self.guard = Some(guard);
        let listener = listener.map_err(|e| unix_listen_rc(path, e))?;
        self.socket_identity = net::identity_at(path);
        Ok(listener)
    }

    /// Whether the daemon serves a UNIX socket path (still its own).
    pub fn has_unix_socket(&self) -> bool {
        self.socket_path.is_some()
    }

    /// Looks at the UNIX socket path (the loop calls it about once a
    /// second): a removed socket file is re-created while our lock file is
    /// still in place; anything else there means the path is no longer
    /// ours, and listener 0 is closed.
    pub fn check_socket(&mut self) -> SocketState {
        let Some(path) = self.socket_path.clone() else {
            return SocketState::Fine;
        };
        let now = net::identity_at(&path);
        if now.is_some() && now == self.socket_identity {
            return SocketState::Fine;
        }
        let guard_ok = self.guard.as_ref().is_some_and(net::UnixGuard::is_current);
        if now.is_none() && guard_ok {
            if let Ok(l) = self.bind_unix(&path) {
                crate::syslog::warning(&format!(
                    "FLM027W the UNIX socket '{path}' was removed: it is re-created"
                ));
                return SocketState::Recreated(l);
            }
        }
        crate::syslog::warning(&format!(
            "FLM028W the UNIX socket '{path}' (or its lock file) was replaced: this daemon stops accepting connections and exits once idle"
        ));
        self.socket_path = None;
        SocketState::Lost
    }

    /// TCP listener on the unicast address (or the wildcard of the group's
    /// family on an ephemeral port when only a multicast group is set), plus
    /// the discovery responder when a multicast group is set.
    fn listen_network(&mut self, config: &Config, uids: &Uids) -> Result<(), i32> {
        let scope = config
            .network_interface
            .as_deref()
            .and_then(net::ipv6_interface_index);
        let group = match &config.multicast_address {
            Some(g) => Some(
                net::resolve(g, config.multicast_port as u16, scope)
                    .map_err(|_| rc::BIND_ERROR)?
                    .remove(0),
            ),
            None => None,
        };
        let candidates: Vec<SocketAddr> = match &config.unicast_address {
            Some(a) => {
                net::resolve(a, config.unicast_port as u16, scope).map_err(|_| rc::BIND_ERROR)?
            }
            None => {
                let wildcard = match group {
                    Some(SocketAddr::V6(_)) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                    _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                };
                vec![SocketAddr::new(wildcard, 0)]
            }
        };
        // EADDRINUSE: another daemon won the start race (the client retries);
        // an address that is not this host's is an error at once.
        let mut bind_rc = rc::BIND_ERROR;
        let listener = net::listen_tcp_first(&candidates, |a, e| {
            crate::syslog::error(&format!("FLM019E cannot bind TCP address {a}: {e}"));
            if e.raw_os_error() != Some(libc::EADDRINUSE) {
                bind_rc = rc::INVALID_IP_ADDRESS;
            }
        })
        .ok_or(bind_rc)?
        .map_err(|_| rc::BIND_ERROR)?;
        let port = listener.local_addr().map_err(|_| rc::BIND_ERROR)?.port();
        let address = match &config.unicast_address {
            Some(a) if !net::is_wildcard(a) => a.clone(),
            _ => String::new(),
        };
        crate::syslog::notice(&format!(
            "FLM001I listening on TCP address '{}' port {port}",
            config.unicast_address.as_deref().unwrap_or_default()
        ));
        self.advertised = (address, port);
        self.sockets.push(Listener::Tcp(listener));
        uids.next();
        if let Some(group) = group {
            let udp = net::multicast_responder(group).map_err(|_| rc::BIND_ERROR)?;
            udp.set_nonblocking(true).map_err(|_| rc::BIND_ERROR)?;
            self.discovery = Some(udp);
            uids.next();
            crate::syslog::notice(&format!(
                "FLM002I answering discovery on multicast group '{}' port {}",
                config.multicast_address.as_deref().unwrap_or_default(),
                config.multicast_port
            ));
        }
        Ok(())
    }

    /// Answers the waiting discovery datagrams with the TCP address and
    /// port (`out` is a scratch buffer).
    pub fn answer_discovery(&self, out: &mut String) {
        let Some(udp) = &self.discovery else { return };
        let mut buf = [0u8; 1024];
        loop {
            let (n, src) = match udp.recv_from(&mut buf) {
                Ok(x) => x,
                Err(_) => return,
            };
            let ok = protocol::parse_message(&buf[..n]).is_ok_and(|m| {
                m.verb == protocol::VERB_DISCOVER && m.step == protocol::STEP_REQUEST
            });
            if ok {
                out.clear();
                protocol::encode_discover_reply(out, &self.advertised.0, self.advertised.1);
                let _ = udp.send_to(out.as_bytes(), src);
                crate::syslog::info(&format!(
                    "FLM005I discovery query from {}/{}",
                    src.ip(),
                    src.port()
                ));
            }
        }
    }

    /// Closes the listeners, unlinks the UNIX socket (when still ours), then
    /// removes the lock file while still holding it (see `UnixGuard`).
    pub fn close(&mut self) {
        if let Some(path) = self.socket_path.take() {
            net::unlink_unix_socket(&path, self.socket_identity);
        }
        self.sockets.clear();
        if let Some(g) = self.guard.take() {
            g.remove();
        }
    }
}

impl Drop for Listeners {
    /// A daemon that fails after opening its listeners cleans up too.
    fn drop(&mut self) {
        self.close();
    }
}

/// The start-up return code of a UNIX listener failure (a refused path is
/// explained to the starting client).
fn unix_listen_rc(path: &str, e: net::UnixListenError) -> i32 {
    match e {
        net::UnixListenError::Refused(why) => {
            crate::syslog::error(&format!("FLM026E {why}"));
            super::process::explain_start_failure(why);
            rc::OPEN_ERROR
        }
        net::UnixListenError::OpenGuard => rc::OPEN_ERROR,
        net::UnixListenError::Taken => rc::FLOCK_ERROR,
        net::UnixListenError::Bind(e) => {
            crate::syslog::error(&format!("FLM019E cannot bind UNIX socket '{path}': {e}"));
            rc::BIND_ERROR
        }
    }
}
