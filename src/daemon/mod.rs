//! The daemon: forked from the first `flom` that finds none, it runs one
//! thread with an `epoll(7)` loop (see `poller`) over its listeners, the
//! client connections and a self-pipe for signals.
//!
//! Map of the daemon (a lock request travels down this list and back):
//! - this file: `Daemon`, the event loop (`run`) and the dispatch of each
//!   ready descriptor; it reads the clock once per event and applies the
//!   lock store's `Action`s (answers, timers, closes) to the connections;
//! - `process`: fork, detach, readiness pipe, signals;
//! - `listeners`: the listening sockets and discovery answers;
//! - `admission`: who may connect and shut down, silent connections;
//! - `connection`: one connection's reads, message framing and writes;
//! - `routing`: a parsed message to a lock-store event;
//! - `crate::store`: the lock store (resources, queues, timers).

mod admission;
mod connection;
mod listeners;
mod process;
mod routing;
mod service;

pub use process::{spawn, spawn_explained};
pub use service::run as run_service;
// The message path without sockets, for the fuzz target of `fuzz/`.
pub use connection::Phase;
pub use routing::{route, Control};

use crate::config::Config;
use crate::locker::QueueOrder;
use crate::net::{self, Keepalive, Stream};
use crate::poller::{Event, Poller, Token, READABLE, WRITABLE};
use crate::protocol::{self, ParseError};
use crate::slab::Slab;
use crate::status::Status;
use crate::store::etcd::{EtcdStore, Session as EtcdSession};
use crate::store::{Action, Client, LockStore, MemoryStore, Now, Uids};
use crate::tls::{self, Progress, Role, TlsContext, Transport};
use crate::vfs::Vfs;
use admission::Admission;
use connection::{Conn, Filled, Flushed, Frame, Sent};
use listeners::Listeners;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io;
use std::os::unix::io::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// The poller tokens: one range per kind of descriptor.
mod token {
    use crate::poller::Token;
    /// The signal self-pipe.
    pub const SIGNAL: Token = 0;
    /// The listeners, `LISTENERS.start + i` for listener `i`.
    pub const LISTENERS: std::ops::Range<Token> = 1..9;
    /// The multicast discovery responder.
    pub const DISCOVERY: Token = 9;
    /// The lock store's own descriptor (etcd worker's eventfd).
    pub const STORE: Token = 10;
    /// Connections, `CONNS + id` for connection `id` (11..16 unused).
    pub const CONNS: Token = 16;
}

/// What a ready token stands for.
enum Source {
    Signal,
    Listener(usize),
    Discovery,
    Store,
    Conn(usize),
}

fn source(t: Token) -> Source {
    match t {
        token::SIGNAL => Source::Signal,
        token::DISCOVERY => Source::Discovery,
        token::STORE => Source::Store,
        t if token::LISTENERS.contains(&t) => Source::Listener(t - token::LISTENERS.start),
        t if t >= token::CONNS => Source::Conn(t - token::CONNS),
        // 11..16: never registered.
        _ => Source::Signal,
    }
}

fn conn_token(id: usize) -> Token {
    token::CONNS + id
}

/// Lifespan a quiesce request gives the daemon.
const QUIESCE_LIFESPAN_MS: i32 = 100;
/// How long a quiesce request of a daemon without clients waits for it to
/// exit before being answered anyway: its unused resources live on for
/// their idle lifespan plus a grace (2 s by default), and a resource with a
/// long `-i` keeps the daemon up longer than a client waits (5 s).
const QUIESCE_HOLD: Duration = Duration::from_millis(3500);
/// Reads per readable wake-up of a connection (see `on_readable`).
const READS_PER_WAKEUP: usize = 4;

pub struct Daemon {
    peerid: String,
    /// The TLS context when the three TLS files are configured.
    tls: Option<TlsContext>,
    /// TlsCheckPeerId: each request's id must be its certificate's CN.
    check_peer_id: bool,
    /// When each TLS handshake under way must be over (connection id, uid),
    /// in order: every handshake gets the same time.
    handshake_deadlines: VecDeque<(Instant, usize, u64)>,
    poller: Poller,
    listeners: Listeners,
    admission: Admission,
    /// When the UNIX socket file is looked at next.
    next_socket_check: Instant,
    signal_read: RawFd,
    keepalive: Keepalive,
    uids: Uids,
    conns: Slab<Conn>,
    store: Box<dyn LockStore>,
    /// When the store asked to be called (`Action::ArmTimer`); stale entries
    /// cost one empty call.
    timers: BinaryHeap<Reverse<Instant>>,
    lifespan_ms: i32,
    idle_since: Option<Instant>,
    stop: bool,
    /// Listeners unwatched because the process ran out of descriptors.
    accept_paused: bool,
    to_close: Vec<usize>,
    out: String,
    actions: Vec<Action>,
    events: Vec<Event>,
    vfs: Option<Vfs>,
    /// The `-x`/`-X` connections of a daemon that exits at once: closed
    /// (their answer) only when the daemon is gone (listeners closed,
    /// socket removed, VFS unmounted): left to the process exit.
    held_until_exit: Vec<Conn>,
    /// When held quiesce requests get their answer if the daemon is still up.
    hold_deadline: Option<Instant>,
}

fn errno_is(e: &io::Error, code: i32) -> bool {
    e.raw_os_error() == Some(code)
}

impl Daemon {
    /// Runs the loop until the daemon must stop, then cleans up.
    pub fn run(&mut self) {
        self.serve();
        self.shutdown();
    }

    /// The loop, until the daemon must stop (signal, `-X`, lifespan).
    fn serve(&mut self) {
        while !self.stop {
            let timeout = self.poll_timeout(Instant::now());
            let mut events = std::mem::take(&mut self.events);
            events.clear();
            if self.poller.wait(timeout, &mut events).is_err() {
                self.events = events;
                break;
            }
            for ev in &events {
                self.dispatch(*ev, Now::read());
            }
            self.events = events;
            self.close_pending();
            let now = Now::read();
            self.fire_timers(now);
            self.close_pending();
            self.check_lifespan(now.instant);
        }
    }

    fn dispatch(&mut self, ev: Event, now: Now) {
        match source(ev.token) {
            Source::Signal => self.stop |= process::stop_signalled(self.signal_read),
            Source::Discovery => self.listeners.answer_discovery(&mut self.out),
            Source::Listener(i) => self.on_accept(i, now),
            Source::Store => {
                let mut actions = std::mem::take(&mut self.actions);
                self.store.woken(now, &mut actions);
                self.apply(&mut actions);
                self.actions = actions;
            }
            Source::Conn(id) => {
                if self.conns.get(id).is_some_and(Conn::handshaking) {
                    self.drive_handshake(id, now);
                    return;
                }
                if ev.writable() {
                    self.flush(id);
                }
                if ev.readable() {
                    self.on_readable(id, now);
                }
            }
        }
    }

    /// Accepts one connection per wake-up (the listener stays readable
    /// while more wait: level-triggered), and reads its request at once when
    /// it is already there, which saves a wake-up per client.
    fn on_accept(&mut self, which: usize, now: Now) {
        let Some(listener) = self.listeners.sockets.get(which) else {
            return;
        };
        let stream = loop {
            match listener.accept() {
                Ok(s) => break s,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if errno_is(&e, libc::EMFILE) || errno_is(&e, libc::ENFILE) => {
                    // Out of descriptors: a connection that never sent a
                    // request goes first; without one, stop watching the
                    // listeners (a level-triggered poll would spin) and
                    // leave the clients in the backlog until one closes.
                    if !self.close_oldest_silent() {
                        self.pause_accepting(true);
                    }
                    return;
                }
                Err(_) => return,
            }
        };
        let admitted = match self.admission.admit(&stream) {
            Ok(a) => a,
            Err(line) => {
                crate::syslog::warning(&line);
                return;
            }
        };
        if let Stream::Tcp(tcp) = &stream {
            net::tune_accepted_tcp(tcp, self.keepalive);
        }
        let fd = stream.as_raw_fd();
        let deadline = now.instant + tls::HANDSHAKE_TIMEOUT;
        let stream = match Transport::accept(self.tls.as_ref(), stream, deadline) {
            Ok(s) => s,
            Err(e) => {
                crate::syslog::error(&format!("FLM018E {}", e.message));
                return;
            }
        };
        let handshaking = stream.is_handshaking();
        let uid = self.uids.next();
        let mut conn = Conn::new(stream, uid);
        conn.may_shutdown = admitted.may_shutdown;
        let id = self.conns.insert(conn);
        if let Err(e) = self.poller.register(fd, conn_token(id), READABLE) {
            crate::trace!(crate::trace::CONNS, "connection {id}: cannot watch it: {e}");
            self.conns.remove(id);
            return;
        }
        self.idle_since = None;
        self.track_silent(now, id, uid);
        crate::trace!(crate::trace::CONNS, "accepted connection {id} (uid {uid})");
        if handshaking {
            self.handshake_deadlines.push_back((deadline, id, uid));
            self.drive_handshake(id, now);
        } else {
            self.read_once(id, now);
        }
    }

    /// Drives the TLS handshake of connection `id` when its socket is ready
    /// (or its deadline passed): the loop never waits for a peer's handshake.
    fn drive_handshake(&mut self, id: usize, now: Now) {
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        match conn.continue_handshake() {
            Ok(Progress::WantRead) => self.watch(id, READABLE),
            Ok(Progress::WantWrite) => self.watch(id, WRITABLE),
            Ok(Progress::Established) => {
                crate::trace!(crate::trace::TLS, "connection {id}: TLS established");
                self.watch(id, READABLE);
                self.on_readable(id, now);
            }
            Err(why) => {
                crate::syslog::error(&format!(
                    "FLM017E TLS with client {}: {why}",
                    conn.stream.peer_name()
                ));
                self.to_close.push(id);
            }
        }
    }

    /// Ends the handshakes whose time is up.
    fn expire_handshakes(&mut self, now: Now) {
        while let Some(&(at, id, uid)) = self.handshake_deadlines.front() {
            if at > now.instant {
                break;
            }
            self.handshake_deadlines.pop_front();
            if self
                .conns
                .get(id)
                .is_some_and(|c| c.uid == uid && c.handshaking())
            {
                self.drive_handshake(id, now); // reports the timeout
            }
        }
    }

    /// Reads what the client sent and handles every complete message. Reads
    /// a few times while data keeps coming, so an unlock and the client's
    /// half-close that follows it are handled in one wake-up.
    fn on_readable(&mut self, id: usize, now: Now) {
        for _ in 0..READS_PER_WAKEUP {
            if !self.read_once(id, now) || self.to_close.contains(&id) {
                return;
            }
        }
        // What the TLS library decrypted and keeps is not seen by the poller.
        while self.conns.get(id).is_some_and(Conn::has_buffered) {
            if !self.read_once(id, now) || self.to_close.contains(&id) {
                return;
            }
        }
    }

    /// One read and the messages it completes; false when nothing more can
    /// be read now (would block, EOF, error).
    fn read_once(&mut self, id: usize, now: Now) -> bool {
        let Some(conn) = self.conns.get_mut(id) else {
            return false;
        };
        match conn.fill() {
            Filled::Data if conn.plain_got_tls_hello() => {
                crate::syslog::warning(&format!(
                    "FLM025W a client at '{}' speaks TLS, but this daemon has no TLS configured",
                    conn.stream.peer_name()
                ));
                self.to_close.push(id);
                return false;
            }
            Filled::Data => {}
            Filled::Again => return true,
            Filled::WouldBlock => return false,
            Filled::Closed => {
                self.to_close.push(id);
                return false;
            }
        }
        loop {
            let Some(conn) = self.conns.get_mut(id) else {
                return false;
            };
            match conn.next_frame() {
                Frame::Message(Ok(msg)) => {
                    self.on_message(id, msg, now);
                    if self.to_close.contains(&id) {
                        return false;
                    }
                }
                Frame::Message(Err(e)) => {
                    if e == ParseError::LevelMismatch {
                        crate::syslog::warning(&format!(
                            "FLM006W a client speaks another protocol level than this daemon's ({})",
                            protocol::LEVEL
                        ));
                    }
                    self.to_close.push(id);
                    return false;
                }
                Frame::TooLong => {
                    self.to_close.push(id);
                    return false;
                }
                Frame::Incomplete => return true,
            }
        }
    }

    fn on_message(&mut self, id: usize, msg: protocol::Message, now: Now) {
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        if self.check_peer_id && is_request(&msg) {
            match conn.check_peer_id(&msg) {
                Ok(line) => crate::syslog::info(&line),
                Err(line) => {
                    // Dropped without an answer, as C FLoM does.
                    crate::syslog::error(&line);
                    self.to_close.push(id);
                    return;
                }
            }
        }
        if msg.verb == protocol::VERB_MNGMNT && msg.status_version.is_none() && !conn.may_shutdown {
            crate::syslog::warning(&format!(
                "FLM032W a shutdown request from '{}' was refused: only the daemon's user or root may stop it (over TCP: loopback or TLS peers, RestrictTcpShutdown)",
                conn.stream.peer_name()
            ));
            self.to_close.push(id);
            return;
        }
        if msg.verb == protocol::VERB_LOCK && msg.fencing_requested {
            conn.fencing = true;
        }
        if msg.verb == protocol::VERB_LOCK && msg.etcd_key_requested {
            conn.etcd_key = true;
        }
        let stream = &conn.stream;
        let peer_name = || stream.peer_name();
        let client = Client {
            conn: id as u32,
            uid: conn.uid,
            peer_name: &peer_name,
        };
        let mut actions = std::mem::take(&mut self.actions);
        let control = routing::route(
            &mut *self.store,
            client,
            &mut conn.phase,
            msg,
            now,
            &mut actions,
        );
        self.apply(&mut actions);
        self.actions = actions;
        match control {
            Control::None => {}
            Control::Status => {
                if let Some(snapshot) = self.store.status(id as u32, now) {
                    self.answer_status(id, snapshot);
                }
            }
            Control::Shutdown { immediate: true } => {
                crate::syslog::notice("FLM007N immediate shutdown requested");
                self.stop = true;
                self.hold_until_exit(id);
            }
            Control::Shutdown { immediate: false } => {
                crate::syslog::notice(
                    "FLM008N quiesce shutdown: exiting once no client and no resource is left",
                );
                self.lifespan_ms = QUIESCE_LIFESPAN_MS;
                // No other client: the daemon exits at once, unless an
                // idle resource lingers (`-i`) past the hold.
                if self.conns.len() == 1 {
                    self.hold_until_exit(id);
                    self.hold_deadline = Some(now.instant + QUIESCE_HOLD);
                }
            }
        }
    }

    /// Carries out the store's actions, in order.
    fn apply(&mut self, actions: &mut Vec<Action>) {
        for action in actions.drain(..) {
            match action {
                Action::Answer {
                    conn,
                    step,
                    rc,
                    element,
                } => self.answer(conn as usize, step, rc, element.as_deref()),
                Action::ArmTimer { at } => self.timers.push(Reverse(at)),
                Action::HalfClose { conn } => {
                    if let Some(c) = self.conns.get_mut(conn as usize) {
                        c.half_close();
                    }
                }
                Action::Close { conn } => self.to_close.push(conn as usize),
                Action::Status { conn, snapshot } => self.answer_status(conn as usize, *snapshot),
            }
        }
    }

    fn answer(&mut self, id: usize, step: i32, code: i32, element: Option<&str>) {
        let Some(conn) = self.conns.get_mut(id) else {
            crate::trace!(
                crate::trace::CONNS,
                "connection {id}: gone before its answer"
            );
            return;
        };
        let token = if code == crate::rc::OK && conn.fencing {
            self.store.fencing_token(id as u32)
        } else {
            None
        };
        let key = if conn.etcd_key {
            self.store.store_key(id as u32)
        } else {
            None
        };
        let told = protocol::Told {
            fencing_token: token,
            etcd_key: key,
        };
        self.out.clear();
        protocol::encode_lock_answer_extended(
            &mut self.out,
            step,
            &self.peerid,
            code,
            element,
            told,
        );
        self.send_out(id);
    }

    /// The status answer to connection `id`: the store's snapshot with
    /// each connection's peer.
    fn answer_status(&mut self, id: usize, mut snapshot: crate::snapshot::Snapshot) {
        snapshot.daemon_id = self.peerid.clone();
        for peer in snapshot.peers_mut() {
            let Some(socket) = self
                .conns
                .get(peer.conn as usize)
                .and_then(|c| c.stream.socket())
            else {
                continue;
            };
            peer.address = socket.peer_name();
            if let Some((pid, uid)) = socket.peer_credentials() {
                (peer.pid, peer.uid) = (Some(pid), Some(uid));
            }
        }
        self.out.clear();
        crate::snapshot::encode_answer(&mut self.out, &snapshot);
        self.send_out(id);
        if self.out.capacity() > 1 << 16 {
            self.out = String::with_capacity(256);
        }
    }

    /// Sends what `self.out` holds to connection `id`.
    fn send_out(&mut self, id: usize) {
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        match conn.send(self.out.as_bytes()) {
            Sent::Done => {}
            Sent::Queued => self.watch(id, READABLE | WRITABLE),
            Sent::Failed => self.to_close.push(id),
        }
    }

    fn flush(&mut self, id: usize) {
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        match conn.flush() {
            Flushed::Idle | Flushed::Pending => {}
            Flushed::Drained => self.watch(id, READABLE),
            Flushed::Failed => self.to_close.push(id),
        }
    }

    /// Changes what connection `id` is watched for; one that cannot be
    /// watched is closed.
    fn watch(&mut self, id: usize, events: i16) {
        if let Err(e) = self.poller.set_events(conn_token(id), events) {
            crate::trace!(crate::trace::CONNS, "connection {id}: cannot watch it: {e}");
            self.to_close.push(id);
        }
    }

    fn fire_timers(&mut self, now: Now) {
        let mut due = false;
        while let Some(&Reverse(at)) = self.timers.peek() {
            if at > now.instant {
                break;
            }
            self.timers.pop();
            due = true;
        }
        self.expire_handshakes(now);
        self.expire_silent(now);
        self.check_socket(now);
        if due {
            let mut actions = std::mem::take(&mut self.actions);
            self.store.timer(now, &mut actions);
            self.apply(&mut actions);
            self.actions = actions;
        }
    }

    fn poll_timeout(&self, now: Instant) -> i32 {
        let mut deadline: Option<Instant> = self.timers.peek().map(|t| t.0);
        if let Some(&(at, _, _)) = self.handshake_deadlines.front() {
            deadline = Some(deadline.map_or(at, |d| d.min(at)));
        }
        let others = [
            self.admission.next_deadline(),
            self.listeners
                .has_unix_socket()
                .then_some(self.next_socket_check),
            self.hold_deadline,
        ];
        for at in others.into_iter().flatten() {
            deadline = Some(deadline.map_or(at, |d| d.min(at)));
        }
        if self.lifespan_ms > 0 {
            if let Some(since) = self.idle_since {
                let end = since + Duration::from_millis(self.lifespan_ms as u64);
                deadline = Some(deadline.map_or(end, |d| d.min(end)));
            }
        }
        match deadline {
            None => -1,
            Some(d) if d <= now => 0,
            Some(d) => {
                let ms = (d - now).as_micros().div_ceil(1000);
                ms.min(i32::MAX as u128) as i32
            }
        }
    }

    fn check_lifespan(&mut self, now: Instant) {
        let idle = self.conns.is_empty() && self.store.is_empty();
        match (idle, self.idle_since) {
            (true, None) => self.idle_since = Some(now),
            (false, Some(_)) => self.idle_since = None,
            _ => {}
        }
        if self.lifespan_ms > 0 {
            if let Some(since) = self.idle_since {
                if now.duration_since(since) >= Duration::from_millis(self.lifespan_ms as u64) {
                    self.stop = true;
                }
            }
        }
        let overdue = self.hold_deadline.is_some_and(|d| now >= d);
        if !self.stop && (!self.conns.is_empty() || overdue) {
            // A client came after a quiesce request, or a resource keeps
            // the daemon up: the request gets its answer now.
            self.held_until_exit.clear();
            self.hold_deadline = None;
        }
    }

    fn close_pending(&mut self) {
        while let Some(id) = self.to_close.pop() {
            self.close_conn(id);
        }
    }

    /// Keeps the shutdown request's connection `id` open, unwatched, until
    /// the process ends, so that `flom -x`/`-X` returns once the daemon is
    /// gone.
    fn hold_until_exit(&mut self, id: usize) {
        self.to_close.retain(|&c| c != id);
        if self.conns.get(id).is_none() {
            return;
        }
        // Kept open: it must leave the epoll set now, or its events would
        // come under a token a new connection may get.
        if let Err(e) = self.poller.deregister(conn_token(id)) {
            crate::trace!(crate::trace::CONNS, "connection {id}: unwatching: {e}");
        }
        if let Some(conn) = self.detach_conn(id) {
            self.held_until_exit.push(conn);
        }
    }

    fn close_conn(&mut self, id: usize) {
        if self.conns.get(id).is_none() {
            return;
        }
        // The connection's socket is never duplicated: closing it (when
        // dropped here) takes it out of the epoll set.
        self.poller.forget_closing(conn_token(id));
        drop(self.detach_conn(id));
    }

    /// Takes connection `id` (already unwatched) out of the loop and the
    /// store.
    fn detach_conn(&mut self, id: usize) -> Option<Conn> {
        let conn = self.conns.remove(id)?;
        crate::trace!(crate::trace::CONNS, "closing connection {id}");
        self.pause_accepting(false);
        let mut actions = std::mem::take(&mut self.actions);
        self.store.disconnect(id as u32, Now::read(), &mut actions);
        self.apply(&mut actions);
        self.actions = actions;
        Some(conn)
    }

    fn pause_accepting(&mut self, pause: bool) {
        if self.accept_paused == pause {
            return;
        }
        self.accept_paused = pause;
        let events = if pause { 0 } else { READABLE };
        for i in 0..self.listeners.sockets.len() {
            if let Err(e) = self.poller.set_events(token::LISTENERS.start + i, events) {
                crate::trace!(crate::trace::CONNS, "listener {i}: cannot watch it: {e}");
            }
        }
    }

    // ------------------------------------------------------ start and end

    /// Creates the listeners (and the single-daemon guard), the signal pipe
    /// and the VFS; Err(rc) if the daemon cannot serve.
    pub fn new(config: &Config, etcd: Option<EtcdSession>) -> Result<Daemon, i32> {
        Self::with_listeners(config, Vec::new(), etcd)
    }

    /// `new`, serving `inherited` (socket activation) instead of the
    /// listeners of the configuration when there are any.
    fn with_listeners(
        config: &Config,
        inherited: Vec<net::Listener>,
        etcd: Option<EtcdSession>,
    ) -> Result<Daemon, i32> {
        let uids = Uids::default();
        let mut poller = Poller::new().map_err(|_| crate::rc::LISTEN_ERROR)?;
        let listeners = if inherited.is_empty() {
            Listeners::open(config, &uids)?
        } else {
            Listeners::inherited(inherited, config, &uids)?
        };
        let register_error = |_| crate::rc::LISTEN_ERROR;
        for (i, l) in listeners.sockets.iter().enumerate() {
            poller
                .register(l.as_raw_fd(), token::LISTENERS.start + i, READABLE)
                .map_err(register_error)?;
        }
        if let Some(udp) = &listeners.discovery {
            poller
                .register(udp.as_raw_fd(), token::DISCOVERY, READABLE)
                .map_err(register_error)?;
        }
        let signal_read = process::install_signals()?;
        poller
            .register(signal_read, token::SIGNAL, READABLE)
            .map_err(register_error)?;
        let (status, vfs) = match &config.mount_point_vfs {
            Some(dir) => mount_vfs(dir),
            None => (None, None),
        };
        let tls = tls::context_of(config, Role::Server).map_err(|e| {
            crate::syslog::error(&format!("FLM018E {}", e.message));
            e.rc
        })?;
        let now = Now::read();
        let store: Box<dyn LockStore> = match etcd {
            Some(session) => Box::new(EtcdStore::start(session).map_err(|e| {
                crate::syslog::error(&format!("FLM060E etcd: cannot start its worker: {e}"));
                crate::rc::PIPE_ERROR
            })?),
            None => Box::new(
                MemoryStore::new(uids.clone(), status, now).with_queue_order(
                    if config.strict_fifo {
                        QueueOrder::StrictFifo
                    } else {
                        QueueOrder::PassCompatible
                    },
                ),
            ),
        };
        if let Some(fd) = store.wake_fd() {
            poller
                .register(fd, token::STORE, READABLE)
                .map_err(register_error)?;
        }
        Ok(Daemon {
            peerid: crate::config::unique_id(),
            tls,
            check_peer_id: config.tls_check_peer_id,
            handshake_deadlines: VecDeque::new(),
            poller,
            admission: Admission::new(config),
            next_socket_check: now.instant + admission::SOCKET_CHECK_PERIOD,
            listeners,
            signal_read,
            keepalive: Keepalive {
                time_s: config.tcp_keepalive_time,
                intvl_s: config.tcp_keepalive_intvl,
                probes: config.tcp_keepalive_probes,
            },
            store,
            uids,
            conns: Slab::default(),
            timers: BinaryHeap::new(),
            lifespan_ms: config.daemon_lifespan,
            idle_since: Some(now.instant),
            stop: false,
            accept_paused: false,
            to_close: Vec::new(),
            out: String::with_capacity(256),
            actions: Vec::new(),
            events: Vec::new(),
            vfs,
            held_until_exit: Vec::new(),
            hold_deadline: None,
        })
    }

    fn shutdown(&mut self) {
        if let Some(mut vfs) = self.vfs.take() {
            crate::syslog::info("FLM023I unmounting the FUSE file system");
            vfs.unmount();
        }
        self.listeners.close();
        // The held shutdown requests are closed by the kernel when the
        // process exits: their answer comes after everything else.
        std::mem::forget(std::mem::take(&mut self.held_until_exit));
    }
}

/// A lock or management request: what the peer-id check looks at.
fn is_request(msg: &protocol::Message) -> bool {
    msg.step == protocol::STEP_REQUEST
        && matches!(msg.verb, protocol::VERB_LOCK | protocol::VERB_MNGMNT)
}

/// Mounts the VFS at `dir` before the daemon reports ready. A daemon that
/// cannot mount it serves locks all the same (as C FLoM does).
fn mount_vfs(dir: &str) -> (Option<Status>, Option<Vfs>) {
    let status = Status::new();
    match Vfs::mount(dir, status.clone()) {
        Ok(vfs) => {
            crate::syslog::info(&format!("FLM022I FUSE file system mounted on '{dir}'"));
            (Some(status), Some(vfs))
        }
        Err(e) => {
            crate::syslog::warning(&format!("FLM024W {e}; serving without a VFS"));
            (None, None)
        }
    }
}
