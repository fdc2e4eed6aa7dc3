//! Who the daemon lets in and what they may ask: the SO_PEERCRED check of
//! each UNIX connection against `SocketAccess`, who may shut the daemon
//! down (its own user or root on the UNIX socket; over TCP anyone, or only
//! loopback and TLS peers with `RestrictTcpShutdown`), and the bound on a
//! connection's first complete request (`RequestTimeout`), whose oldest
//! silent connections are also the first closed at the descriptor limit;
//! and the watch on the socket file (re-created when removed).

use super::connection::{Conn, Phase};
use super::listeners::SocketState;
use super::{token, Daemon, QUIESCE_LIFESPAN_MS};
use crate::config::Config;
use crate::net::Stream;
use crate::poller::READABLE;
use crate::security::{self, SocketAccess};
use crate::slab::Slab;
use crate::store::Now;
use std::collections::VecDeque;
use std::os::unix::io::AsRawFd;
use std::time::{Duration, Instant};

/// How often the daemon looks at its socket file (removed or replaced).
pub const SOCKET_CHECK_PERIOD: Duration = Duration::from_secs(1);

pub struct Admission {
    access: SocketAccess,
    daemon_uid: u32,
    restrict_tcp_shutdown: bool,
    tls: bool,
    request_timeout: Option<Duration>,
    /// Connections that have not sent a complete request yet: (deadline,
    /// connection id, connection uid), in order (one timeout for all).
    silent: VecDeque<(Instant, usize, u64)>,
}

/// What a new connection may do.
pub struct Admitted {
    /// Whether its shutdown requests (`-x`, `-X`) are obeyed.
    pub may_shutdown: bool,
}

impl Admission {
    pub fn new(config: &Config) -> Admission {
        Admission {
            access: SocketAccess::of(config.socket_access.as_deref()),
            daemon_uid: security::euid(),
            restrict_tcp_shutdown: config.restrict_tcp_shutdown,
            tls: config.tls_enabled(),
            request_timeout: (config.request_timeout > 0)
                .then(|| Duration::from_millis(config.request_timeout as u64)),
            silent: VecDeque::new(),
        }
    }

    /// Lets a connection in, or Err(the log line) when SocketAccess keeps
    /// its user out.
    pub fn admit(&self, stream: &Stream) -> Result<Admitted, String> {
        match stream {
            Stream::Unix(s) => {
                use std::os::unix::io::AsRawFd;
                let (pid, uid, gid) = security::peer_credentials(s.as_raw_fd())
                    .map_err(|e| format!("FLM030W cannot read a client's credentials: {e}"))?;
                if !self.access.allows(self.daemon_uid, uid, gid) {
                    return Err(format!(
                        "FLM031W refused a connection from {} (uid {uid}, pid {pid}): SocketAccess lets only {} in",
                        security::user_name(uid),
                        self.who()
                    ));
                }
                Ok(Admitted {
                    may_shutdown: uid == self.daemon_uid || uid == 0,
                })
            }
            Stream::Tcp(s) => {
                let loopback = s.peer_addr().is_ok_and(|a| a.ip().is_loopback());
                Ok(Admitted {
                    may_shutdown: !self.restrict_tcp_shutdown || loopback || self.tls,
                })
            }
        }
    }

    fn who(&self) -> String {
        let me = security::user_name(self.daemon_uid);
        match &self.access {
            SocketAccess::User => format!("{me} and root"),
            SocketAccess::Group { name, .. } => format!("{me}, root and group {name}"),
            SocketAccess::All => "everyone".to_string(),
        }
    }

    /// A new connection starts its time to send a request.
    pub fn track(&mut self, now: Instant, id: usize, uid: u64) {
        if let Some(t) = self.request_timeout {
            self.silent.push_back((now + t, id, uid));
        }
    }

    /// Forgets the oldest entries while `still_silent` says they are done
    /// (closed, or a request came): a daemon that serves thousands of short
    /// connections a second keeps only the silent ones, not ten seconds of
    /// all of them.
    pub fn forget_done(&mut self, still_silent: impl Fn(usize, u64) -> bool) {
        while let Some(&(_, id, uid)) = self.silent.front() {
            if still_silent(id, uid) {
                break;
            }
            self.silent.pop_front();
        }
    }

    /// When the next silent connection's time is up.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.silent.front().map(|&(at, _, _)| at)
    }

    /// The connections whose time is up (still to check: the same id and
    /// uid, and still without a request).
    pub fn expired(&mut self, now: Instant) -> Vec<(usize, u64)> {
        let mut out = Vec::new();
        while let Some(&(at, id, uid)) = self.silent.front() {
            if at > now {
                break;
            }
            self.silent.pop_front();
            out.push((id, uid));
        }
        out
    }
}

/// Whether connection `id` (of VFS uid `uid`) is still open without a
/// complete request.
fn still_silent(conns: &Slab<Conn>, id: usize, uid: u64) -> bool {
    conns
        .get(id)
        .is_some_and(|c| c.uid == uid && c.phase == Phase::New)
}

/// The daemon's side of admission: silent connections, the descriptor
/// limit, and the watch on the socket file.
impl Daemon {
    /// Tracks the new connection `id` for the request timeout.
    pub(super) fn track_silent(&mut self, now: Now, id: usize, uid: u64) {
        let conns = &self.conns;
        self.admission
            .forget_done(|id, uid| still_silent(conns, id, uid));
        self.admission.track(now.instant, id, uid);
    }

    /// Closes the connections that sent no complete request in time.
    pub(super) fn expire_silent(&mut self, now: Now) {
        for (id, uid) in self.admission.expired(now.instant) {
            if still_silent(&self.conns, id, uid) {
                crate::syslog::info(&format!(
                    "FLM033I closing connection {id}: no complete request within RequestTimeout"
                ));
                self.to_close.push(id);
            }
        }
    }

    /// At the descriptor limit: closes the oldest connection that has not
    /// sent a request yet; false when there is none.
    pub(super) fn close_oldest_silent(&mut self) -> bool {
        let oldest = self
            .conns
            .iter()
            .filter(|(_, c)| c.phase == Phase::New)
            .min_by_key(|(_, c)| c.uid)
            .map(|(id, _)| id);
        let Some(id) = oldest else {
            return false;
        };
        crate::syslog::warning(&format!(
            "FLM034W out of file descriptors: closing connection {id}, which sent no request yet"
        ));
        self.close_conn(id);
        true
    }

    /// Looks at the UNIX socket file about once a second: re-created when
    /// removed; when replaced, the daemon exits once idle.
    pub(super) fn check_socket(&mut self, now: Now) {
        if now.instant < self.next_socket_check || !self.listeners.has_unix_socket() {
            return;
        }
        self.next_socket_check = now.instant + SOCKET_CHECK_PERIOD;
        match self.listeners.check_socket() {
            SocketState::Fine => {}
            SocketState::Recreated(listener) => {
                let token = token::LISTENERS.start;
                let _ = self.poller.deregister(token);
                self.listeners.sockets[0] = crate::net::Listener::Unix(listener);
                let fd = self.listeners.sockets[0].as_raw_fd();
                let events = if self.accept_paused { 0 } else { READABLE };
                if self.poller.register(fd, token, events).is_err() {
                    self.lose_socket();
                }
            }
            SocketState::Lost => self.lose_socket(),
        }
    }

    /// The socket path is not ours any more: no new connections; exit
    /// once no client and no resource is left (as after `-x`).
    fn lose_socket(&mut self) {
        let _ = self.poller.deregister(token::LISTENERS.start);
        self.listeners.sockets.clear();
        self.lifespan_ms = QUIESCE_LIFESPAN_MS;
    }
}
