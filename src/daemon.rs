//! The daemon: forked from the first `flom` that finds none, it runs one
//! thread with a hand-rolled `poll(2)` loop over its listener(s), the client
//! connections and a self-pipe for signals. Each resource instance is a
//! `Locker` kept in a slab and driven by the loop's events; timers (idle
//! lifespans, timestamp grains, the daemon's own lifespan) come from the
//! poll timeout through one heap.

use crate::config::Config;
use crate::locker::{Grant, Locker, Outcome, Request};
use crate::net::{self, Keepalive, Listener, Stream};
use crate::poller::{Event, Poller, Token, READABLE, WRITABLE};
use crate::protocol::{self, Message, ParseError};
use crate::rc;
use crate::resource::{self, LockMode, ResourceType};
use crate::slab::Slab;
use crate::status::Status;
use crate::vfs::Vfs;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

const TOKEN_SIGNAL: Token = 0;
const TOKEN_LISTENER_BASE: Token = 1;
const TOKEN_DISCOVERY: Token = 9;
const TOKEN_CONN_BASE: Token = 16;

/// Grace added to a locker's idle lifespan (see `LockerEntry::idle_life`).
const LOCKER_IDLE_GRACE_MS: u64 = 1000;
/// Due timers handled per loop pass (see `Daemon::fire_timers`).
const TIMERS_PER_PASS: usize = 32;
/// Lifespan a quiesce request gives the daemon.
const QUIESCE_LIFESPAN_MS: i32 = 100;

// ------------------------------------------------------------ start-up

/// Forks a daemon for `config` (double fork, `setsid`) and waits for its
/// start-up return code on a pipe: 0 once its listeners accept connections.
/// Called by a client that found no daemon.
pub fn spawn(config: &Config) -> i32 {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: plain pipe2 into a local array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return rc::PIPE_ERROR;
    }
    let (read_end, write_end) = (fds[0], fds[1]);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: the client is single-threaded; the child only forks again,
    // calls async-signal-safe functions until the daemon proper runs.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        // SAFETY: closing our own descriptors.
        unsafe {
            libc::close(read_end);
            libc::close(write_end);
        }
        return rc::FORK_ERROR;
    }
    if pid == 0 {
        // SAFETY: see above; every branch ends in _exit.
        unsafe {
            libc::close(read_end);
            if libc::fork() != 0 {
                libc::_exit(0);
            }
            libc::setsid();
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
            if libc::fork() != 0 {
                libc::_exit(0);
            }
            let code = daemon_main(config, write_end);
            libc::_exit(code);
        }
    }
    // SAFETY: closing our copy of the write end, reaping the first child.
    unsafe {
        libc::close(write_end);
        let mut status = 0;
        while libc::waitpid(pid, &mut status, 0) < 0
            && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
        {}
    }
    let mut buf = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        // SAFETY: reading into a local buffer.
        let n = unsafe { libc::read(read_end, buf[got..].as_mut_ptr().cast(), 4 - got) };
        if n > 0 {
            got += n as usize;
        } else if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        } else {
            break;
        }
    }
    // SAFETY: closing our read end.
    unsafe { libc::close(read_end) };
    if got < 4 {
        return rc::DAEMON_NOT_STARTED;
    }
    i32::from_ne_bytes(buf)
}

static SIGNAL_PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_stop_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; the pipe is non-blocking.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

/// Closes every inherited descriptor but `keep`, and points 0, 1, 2 at
/// /dev/null, so a daemon never holds a pipe its starting client's caller
/// is reading.
fn detach_descriptors(keep: RawFd) {
    let fds: Vec<RawFd> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
        Err(_) => (0..1024).collect(),
    };
    for fd in fds {
        if fd != keep {
            // SAFETY: closing descriptors this process owns; none is in use by Rust objects.
            unsafe { libc::close(fd) };
        }
    }
    // SAFETY: opening /dev/null onto the lowest free descriptors 0, 1, 2.
    unsafe {
        let null = b"/dev/null\0";
        for _ in 0..3 {
            libc::open(null.as_ptr().cast(), libc::O_RDWR);
        }
    }
}

/// The daemon process proper; returns its exit status.
fn daemon_main(config: &Config, ready_pipe: RawFd) -> i32 {
    // A relative mount point is relative to the starting client's directory.
    let mut config = config.clone();
    config.mount_point_vfs = config
        .mount_point_vfs
        .map(|d| crate::vfs::absolute_path(&d));
    let config = &config;
    // SAFETY: process-wide settings of a freshly forked daemon.
    unsafe {
        libc::chdir(b"/\0".as_ptr().cast());
        libc::umask(0);
    }
    crate::trace::forget_destination();
    detach_descriptors(ready_pipe);
    crate::syslog::open();
    crate::trace::init(
        config.daemon_trace_file.as_deref(),
        config.append_trace_file,
    );
    let _ = crate::net::raise_fd_limit();
    let result = Daemon::new(config);
    let start_rc = match &result {
        Ok(_) => 0,
        Err(rc) => *rc,
    };
    let bytes = start_rc.to_ne_bytes();
    // SAFETY: writing 4 bytes to the readiness pipe, then closing it.
    unsafe {
        libc::write(ready_pipe, bytes.as_ptr().cast(), 4);
        libc::close(ready_pipe);
    }
    match result {
        Ok(mut daemon) => {
            crate::trace!(
                crate::trace::DAEMON,
                "daemon ready, lifespan {} ms",
                config.daemon_lifespan
            );
            crate::syslog::notice("FLM003N the daemon is ready to serve lock requests");
            daemon.run();
            crate::trace!(crate::trace::DAEMON, "daemon finished serving");
            crate::syslog::notice("FLM004N the daemon has finished serving and exits");
            0
        }
        Err(_) => 1,
    }
}

// -------------------------------------------------------------- state

enum ConnState {
    /// Connected, no request yet.
    New,
    /// A create=no request parked until a locker for `key` exists.
    Incubated { key: String, req: Request },
    /// Holder or waiter of a locker.
    InLocker(usize),
    /// Answered and detached; waiting for the client to close.
    Done,
}

struct Conn {
    stream: Stream,
    uid: u64,
    rbuf: Vec<u8>,
    scanned: usize,
    wbuf: Vec<u8>,
    last_step: i32,
    state: ConnState,
}

struct LockerEntry {
    locker: Locker,
    uid: u64,
    /// Since when the locker has had no holder and no waiter.
    unused_since: Option<Instant>,
    /// Whether an idle-expiry timer is in the heap (at most one per locker,
    /// so a busy resource does not pile up stale timers).
    expiry_pending: bool,
    /// The pending wake-up (timestamp grain), if any.
    wake_at: Option<Instant>,
}

impl LockerEntry {
    fn routing_key(&self) -> &str {
        resource::routing_key(&self.locker.name, self.locker.kind)
    }

    /// How long an unused locker lives: its idle lifespan (1000 ms when 0)
    /// plus a grace, as C FLoM's lockers do.
    fn idle_life(&self) -> Duration {
        let idle = if self.locker.idle_lifespan_ms > 0 {
            self.locker.idle_lifespan_ms
        } else {
            1000
        };
        Duration::from_millis(idle + LOCKER_IDLE_GRACE_MS)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum TimerKind {
    Expire,
    Wake,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Timer {
    at: Instant,
    kind: TimerKind,
    /// Slab index and uid of the locker (the uid tells a reused slot apart).
    locker: usize,
    uid: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stop {
    /// Lifespan ended, quiesce completed, SIGTERM/SIGINT, or `-X`.
    Clean,
}

pub struct Daemon {
    peerid: String,
    socket_path: Option<String>,
    _lock_file: Option<std::fs::File>,
    poller: Poller,
    listeners: Vec<Listener>,
    signal_read: RawFd,
    discovery: Option<UdpSocket>,
    /// What discovery replies advertise: address ("" for a wildcard) and TCP port.
    advertised: (String, u16),
    keepalive: Keepalive,
    conns: Slab<Conn>,
    lockers: Slab<LockerEntry>,
    by_key: HashMap<Box<str>, usize>,
    incubator: Vec<usize>,
    timers: BinaryHeap<Reverse<Timer>>,
    lifespan_ms: i32,
    idle_since: Option<Instant>,
    next_uid: u64,
    stop: Option<Stop>,
    /// Listeners unwatched because the process ran out of descriptors.
    accept_paused: bool,
    to_close: Vec<usize>,
    out: String,
    grants: Vec<Grant>,
    events: Vec<Event>,
    /// The VFS status table, when a mount point is configured and mounted.
    status: Option<Status>,
    vfs: Option<Vfs>,
}

fn errno_is(e: &io::Error, code: i32) -> bool {
    e.raw_os_error() == Some(code)
}

impl Daemon {
    /// Creates the listeners (and the single-daemon guard); Err(rc) if the
    /// daemon cannot serve.
    pub fn new(config: &Config) -> Result<Daemon, i32> {
        let mut d = Daemon {
            peerid: crate::config::unique_id(),
            socket_path: None,
            _lock_file: None,
            poller: Poller::new(),
            listeners: Vec::new(),
            signal_read: -1,
            discovery: None,
            advertised: (String::new(), 0),
            keepalive: Keepalive {
                time_s: config.tcp_keepalive_time,
                intvl_s: config.tcp_keepalive_intvl,
                probes: config.tcp_keepalive_probes,
            },
            conns: Slab::default(),
            lockers: Slab::default(),
            by_key: HashMap::new(),
            incubator: Vec::new(),
            timers: BinaryHeap::new(),
            lifespan_ms: config.daemon_lifespan,
            idle_since: Some(Instant::now()),
            next_uid: 1,
            stop: None,
            accept_paused: false,
            to_close: Vec::new(),
            out: String::with_capacity(256),
            grants: Vec::new(),
            events: Vec::new(),
            status: None,
            vfs: None,
        };
        if config.uses_network() {
            d.listen_network(config)?;
        } else {
            d.listen_unix(&config.socket_path())?;
        }
        d.install_signals()?;
        if let Some(dir) = &config.mount_point_vfs {
            d.mount_vfs(dir);
        }
        Ok(d)
    }

    /// TCP listener on the unicast address (or the wildcard of the group's
    /// family on an ephemeral port when only a multicast group is set), plus
    /// the discovery responder when a multicast group is set.
    fn listen_network(&mut self, config: &Config) -> Result<(), i32> {
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
        let listener = candidates
            .iter()
            .find_map(|a| match TcpListener::bind(a) {
                Ok(l) => Some(l),
                Err(e) => {
                    crate::syslog::error(&format!("FLM019E cannot bind TCP address {a}: {e}"));
                    if e.raw_os_error() != Some(libc::EADDRINUSE) {
                        bind_rc = rc::INVALID_IP_ADDRESS;
                    }
                    None
                }
            })
            .ok_or(bind_rc)?;
        listener.set_nonblocking(true).map_err(|_| rc::BIND_ERROR)?;
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
        let token = TOKEN_LISTENER_BASE + self.listeners.len();
        self.poller.register(listener.as_raw_fd(), token, READABLE);
        self.listeners.push(Listener::Tcp(listener));
        self.next_uid += 1;
        if let Some(group) = group {
            let udp = net::multicast_responder(group).map_err(|_| rc::BIND_ERROR)?;
            udp.set_nonblocking(true).map_err(|_| rc::BIND_ERROR)?;
            self.poller
                .register(udp.as_raw_fd(), TOKEN_DISCOVERY, READABLE);
            self.discovery = Some(udp);
            self.next_uid += 1;
            crate::syslog::notice(&format!(
                "FLM002I answering discovery on multicast group '{}' port {}",
                config.multicast_address.as_deref().unwrap_or_default(),
                config.multicast_port
            ));
        }
        Ok(())
    }

    /// Answers discovery datagrams with the TCP address and port.
    fn on_discovery(&mut self) {
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
                let mut out = std::mem::take(&mut self.out);
                out.clear();
                protocol::encode_discover_reply(&mut out, &self.advertised.0, self.advertised.1);
                let _ = udp.send_to(out.as_bytes(), src);
                crate::syslog::info(&format!(
                    "FLM005I discovery query from {}/{}",
                    src.ip(),
                    src.port()
                ));
                self.out = out;
            }
        }
    }

    /// Mounts the VFS at `dir` before the daemon reports ready. A daemon
    /// that cannot mount it serves locks all the same (as C FLoM does).
    fn mount_vfs(&mut self, dir: &str) {
        let status = Status::new();
        match Vfs::mount(dir, status.clone()) {
            Ok(vfs) => {
                crate::syslog::info(&format!("FLM022I FUSE file system mounted on '{dir}'"));
                self.status = Some(status);
                self.vfs = Some(vfs);
            }
            Err(e) => crate::syslog::warning(&format!("FLM024W {e}; serving without a VFS")),
        }
    }

    fn listen_unix(&mut self, path: &str) -> Result<(), i32> {
        use std::os::unix::fs::OpenOptionsExt;
        let lock_path = format!("{path}.lock");
        let lock = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o666)
            .open(&lock_path)
            .map_err(|_| rc::OPEN_ERROR)?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(rc::FLOCK_ERROR);
        }
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).map_err(|e| {
            crate::syslog::error(&format!("FLM019E cannot bind UNIX socket '{path}': {e}"));
            rc::BIND_ERROR
        })?;
        listener.set_nonblocking(true).map_err(|_| rc::BIND_ERROR)?;
        self._lock_file = Some(lock);
        self.socket_path = Some(path.to_string());
        crate::syslog::notice(&format!("FLM000I listening on UNIX socket '{path}'"));
        let token = TOKEN_LISTENER_BASE + self.listeners.len();
        self.poller.register(listener.as_raw_fd(), token, READABLE);
        self.listeners.push(Listener::Unix(listener));
        self.next_uid += 1; // the listener takes uid 1
        Ok(())
    }

    fn install_signals(&mut self) -> Result<(), i32> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: pipe2 into a local array, then signal dispositions of our own process.
        unsafe {
            if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) != 0 {
                return Err(rc::PIPE_ERROR);
            }
            SIGNAL_PIPE_WRITE.store(fds[1], Ordering::Relaxed);
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
            libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        self.signal_read = fds[0];
        self.poller.register(fds[0], TOKEN_SIGNAL, READABLE);
        Ok(())
    }

    /// Runs the loop until the daemon must stop, then cleans up.
    pub fn run(&mut self) {
        while self.stop.is_none() {
            let now = Instant::now();
            let timeout = self.poll_timeout(now);
            let mut events = std::mem::take(&mut self.events);
            events.clear();
            if self.poller.wait(timeout, &mut events).is_err() {
                self.events = events;
                break;
            }
            for ev in &events {
                self.dispatch(*ev);
            }
            self.events = events;
            self.close_pending();
            self.fire_timers(Instant::now());
            self.close_pending();
            self.check_lifespan(Instant::now());
        }
        self.shutdown();
    }

    fn poll_timeout(&mut self, now: Instant) -> i32 {
        let mut deadline: Option<Instant> = self.timers.peek().map(|t| t.0.at);
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
        let idle = self.conns.is_empty() && self.lockers.is_empty();
        match (idle, self.idle_since) {
            (true, None) => self.idle_since = Some(now),
            (false, Some(_)) => self.idle_since = None,
            _ => {}
        }
        if self.lifespan_ms > 0 {
            if let Some(since) = self.idle_since {
                if now.duration_since(since) >= Duration::from_millis(self.lifespan_ms as u64) {
                    self.stop = Some(Stop::Clean);
                }
            }
        }
    }

    fn shutdown(&mut self) {
        if let Some(mut vfs) = self.vfs.take() {
            crate::syslog::info("FLM023I unmounting the FUSE file system");
            vfs.unmount();
        }
        if let Some(path) = &self.socket_path {
            let _ = std::fs::remove_file(path);
        }
        self.listeners.clear();
    }

    fn dispatch(&mut self, ev: Event) {
        match ev.token {
            TOKEN_SIGNAL => self.on_signal(),
            TOKEN_DISCOVERY => self.on_discovery(),
            t if t < TOKEN_CONN_BASE => self.on_accept(t - TOKEN_LISTENER_BASE),
            t => {
                let id = t - TOKEN_CONN_BASE;
                if ev.writable() {
                    self.flush(id);
                }
                if ev.readable() {
                    self.on_readable(id);
                }
            }
        }
    }

    fn on_signal(&mut self) {
        let mut buf = [0u8; 16];
        // SAFETY: reading from our non-blocking signal pipe.
        let n = unsafe { libc::read(self.signal_read, buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            self.stop = Some(Stop::Clean);
        }
    }

    /// Accepts one connection per wake-up (the listener stays readable
    /// while more wait: level-triggered), and reads its request at once when
    /// it is already there, which saves a wake-up per client.
    fn on_accept(&mut self, which: usize) {
        let stream = loop {
            match self.listeners[which].accept() {
                Ok(s) => break s,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if errno_is(&e, libc::EMFILE) || errno_is(&e, libc::ENFILE) => {
                    // Out of descriptors: stop watching the listeners (a
                    // level-triggered poll would spin) and leave the clients
                    // in the backlog until a connection closes.
                    self.pause_accepting(true);
                    return;
                }
                Err(_) => return,
            }
        };
        if let Stream::Tcp(tcp) = &stream {
            net::tune_accepted_tcp(tcp, self.keepalive);
        }
        let uid = self.next_uid;
        self.next_uid += 1;
        let fd = stream.as_raw_fd();
        let id = self.conns.insert(Conn {
            stream,
            uid,
            rbuf: Vec::new(),
            scanned: 0,
            wbuf: Vec::new(),
            last_step: 0,
            state: ConnState::New,
        });
        self.poller.register(fd, TOKEN_CONN_BASE + id, READABLE);
        self.idle_since = None;
        crate::trace!(crate::trace::CONNS, "accepted connection {id} (uid {uid})");
        self.read_once(id);
    }

    /// Reads what the client sent and handles every complete message. Reads
    /// a few times while data keeps coming, so an unlock and the client's
    /// half-close that follows it are handled in one wake-up.
    fn on_readable(&mut self, id: usize) {
        for _ in 0..4 {
            if !self.read_once(id) || self.to_close.contains(&id) {
                return;
            }
        }
    }

    /// One read and the messages it completes; false when nothing more can
    /// be read now (would block, EOF, error).
    fn read_once(&mut self, id: usize) -> bool {
        let mut buf = [0u8; 2048];
        let Some(conn) = self.conns.get_mut(id) else {
            return false;
        };
        let n = match conn.stream.read(&mut buf) {
            Ok(0) => {
                self.to_close.push(id);
                return false;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return true,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(_) => {
                self.to_close.push(id);
                return false;
            }
        };
        conn.rbuf.extend_from_slice(&buf[..n]);
        loop {
            let Some(conn) = self.conns.get_mut(id) else {
                return false;
            };
            match protocol::find_message_end(&conn.rbuf, conn.scanned) {
                Some(end) => {
                    let parsed = protocol::parse_message(&conn.rbuf[..end]);
                    conn.rbuf.drain(..end);
                    if conn.rbuf.is_empty() {
                        // A connection may be held for hours: keep no buffer.
                        conn.rbuf = Vec::new();
                    }
                    conn.scanned = 0;
                    match parsed {
                        Ok(msg) => self.on_message(id, msg),
                        Err(e) => {
                            if e == ParseError::LevelMismatch {
                                crate::syslog::warning(&format!(
                                    "FLM006W a client speaks another protocol level than this daemon's ({})",
                                    protocol::LEVEL
                                ));
                            }
                            self.to_close.push(id);
                            return false;
                        }
                    }
                    if self.to_close.contains(&id) {
                        return false;
                    }
                }
                None => {
                    conn.scanned = conn.rbuf.len();
                    if conn.rbuf.len() > protocol::DAEMON_MAX_MESSAGE {
                        self.to_close.push(id);
                        return false;
                    }
                    return true;
                }
            }
        }
    }

    fn on_message(&mut self, id: usize, msg: Message) {
        crate::trace!(
            crate::trace::MSG,
            "connection {id}: message verb {} step {}",
            msg.verb,
            msg.step
        );
        let (fresh, locker) = match &self.conns.get(id).expect("live conn").state {
            ConnState::New => (true, None),
            ConnState::InLocker(l) => (false, Some(*l)),
            ConnState::Incubated { .. } | ConnState::Done => (false, None),
        };
        match (msg.verb, msg.step, locker) {
            (protocol::VERB_LOCK, protocol::STEP_REQUEST, _) if fresh => self.on_lock(id, msg),
            (protocol::VERB_MNGMNT, protocol::STEP_REQUEST, _) if fresh => {
                self.on_management(id, msg)
            }
            (protocol::VERB_UNLOCK, protocol::STEP_REQUEST, Some(l)) => self.on_unlock(id, l, msg),
            // Anything else (an unlock as first message, a ping, a second
            // lock, garbage): drop this connection only.
            _ => self.to_close.push(id),
        }
    }

    fn on_management(&mut self, id: usize, msg: Message) {
        crate::trace!(
            crate::trace::DAEMON_MNGMNT,
            "shutdown request, immediate={:?}",
            msg.shutdown_immediate
        );
        match msg.shutdown_immediate {
            Some(true) => {
                crate::syslog::notice("FLM007N immediate shutdown requested");
                self.stop = Some(Stop::Clean);
            }
            Some(false) => {
                crate::syslog::notice(
                    "FLM008N quiesce shutdown: exiting once no client and no resource is left",
                );
                self.lifespan_ms = QUIESCE_LIFESPAN_MS;
            }
            None => {}
        }
        // Nothing is ever answered; closing tells the client at once.
        self.to_close.push(id);
    }

    fn on_lock(&mut self, id: usize, msg: Message) {
        let Some(r) = msg.resource else {
            self.to_close.push(id);
            return;
        };
        self.conns.get_mut(id).expect("live conn").last_step = msg.step;
        let Some(kind) = resource::resource_type(&r.name) else {
            self.answer(
                id,
                protocol::STEP_FIRST_ANSWER,
                rc::INVALID_RESOURCE_NAME,
                None,
            );
            self.half_close(id);
            return;
        };
        let mode = if kind.uses_lock_mode() {
            match LockMode::from_code(r.mode) {
                Some(m) => m,
                None => {
                    self.to_close.push(id);
                    return;
                }
            }
        } else {
            LockMode::Exclusive
        };
        let quantity = if kind == ResourceType::Numeric {
            r.quantity.max(0) as u64
        } else {
            1
        };
        let req = Request {
            name: r.name.clone(),
            mode,
            quantity,
            wait: r.wait,
        };
        let key = resource::routing_key(&r.name, kind);
        if let Some(&l) = self.by_key.get(key) {
            self.hand_to_locker(id, l, req);
        } else if r.create {
            let lifespan = r.lifespan.unsigned_abs();
            let locker = match Locker::new(&r.name, kind, lifespan) {
                Ok(l) => l,
                Err(_) => {
                    // e.g. a timestamp format without a time grain: no answer.
                    self.to_close.push(id);
                    return;
                }
            };
            let uid = self.next_uid;
            self.next_uid += 1;
            let key: Box<str> = key.into();
            let l = self.lockers.insert(LockerEntry {
                locker,
                uid,
                unused_since: None,
                expiry_pending: false,
                wake_at: None,
            });
            self.by_key.insert(key.clone(), l);
            if let Some(s) = &self.status {
                s.table().locker_created(uid, &r.name, kind);
            }
            self.hand_to_locker(id, l, req);
            self.adopt_incubated(&key, l);
        } else if !r.wait {
            self.answer(id, protocol::STEP_FIRST_ANSWER, rc::LOCK_CANT_WAIT, None);
            self.half_close(id);
        } else {
            self.answer(
                id,
                protocol::STEP_FIRST_ANSWER,
                rc::LOCK_WAIT_RESOURCE,
                None,
            );
            let key = key.to_string();
            let conn = self.conns.get_mut(id).expect("live conn");
            conn.state = ConnState::Incubated { key, req };
            if let Some(s) = &self.status {
                let peer = conn.stream.peer_name();
                s.table().incubated(conn.uid, &peer, &r.name, kind);
            }
            self.incubator.push(id);
        }
    }

    /// Parked create=no requests for `key` go to the new locker, in arrival order.
    fn adopt_incubated(&mut self, key: &str, l: usize) {
        let mut adopted = Vec::new();
        self.incubator.retain(|&c| {
            let matches = matches!(&self.conns.get(c).map(|c| &c.state), Some(ConnState::Incubated { key: k, .. }) if k == key);
            if matches {
                adopted.push(c);
            }
            !matches
        });
        for c in adopted {
            let conn = self.conns.get_mut(c).expect("incubated conn is live");
            if let Some(s) = &self.status {
                s.table().incubator_left(conn.uid);
            }
            if let ConnState::Incubated { req, .. } =
                std::mem::replace(&mut conn.state, ConnState::New)
            {
                self.hand_to_locker(c, l, req);
            }
        }
    }

    fn hand_to_locker(&mut self, id: usize, l: usize, req: Request) {
        let now = Instant::now();
        let entry = self.lockers.get_mut(l).expect("live locker");
        let (mode, quantity) = (req.mode, req.quantity);
        let outcome = entry.locker.lock(id as u32, req, now);
        let conn = self.conns.get(id).expect("live conn");
        if let Some(s) = &self.status {
            let peer = conn.stream.peer_name();
            s.table()
                .conn_locked(entry.uid, conn.uid, &peer, mode, quantity, &outcome);
        }
        let step = conn.last_step + 8;
        let (code, element, state) = match outcome {
            Outcome::Granted(e) => (rc::OK, e, ConnState::InLocker(l)),
            Outcome::Enqueued => (rc::LOCK_ENQUEUED, None, ConnState::InLocker(l)),
            Outcome::Busy => (rc::LOCK_BUSY, None, ConnState::Done),
            Outcome::Impossible => (rc::LOCK_IMPOSSIBLE, None, ConnState::Done),
        };
        self.conns.get_mut(id).expect("live conn").state = state;
        crate::trace!(
            crate::trace::LOCKER,
            "connection {id}: locker {l} answers rc {code} at step {step}"
        );
        self.answer(id, step, code, element.as_deref());
        self.locker_changed(l, now);
    }

    fn on_unlock(&mut self, id: usize, l: usize, msg: Message) {
        let Some(r) = msg.resource else {
            self.to_close.push(id);
            return;
        };
        let entry = self.lockers.get_mut(l).expect("live locker");
        let same = resource::resource_type(&r.name)
            .is_some_and(|k| resource::routing_key(&r.name, k) == entry.routing_key());
        if !same {
            crate::syslog::warning(&format!(
                "FLM009W unlock names resource '{}' but the connection locked '{}'",
                r.name, entry.locker.name
            ));
            // Unlock of another resource: drop the connection (which releases).
            self.to_close.push(id);
            return;
        }
        let now = Instant::now();
        let mut grants = std::mem::take(&mut self.grants);
        if !entry.locker.unlock(id as u32, r.rollback, now, &mut grants) {
            entry.locker.disconnect(id as u32, now, &mut grants);
        }
        let conn = self.conns.get_mut(id).expect("live conn");
        conn.state = ConnState::Done;
        if let Some(s) = &self.status {
            s.table().conn_released(entry.uid, conn.uid);
        }
        self.send_grants(&mut grants);
        self.grants = grants;
        self.locker_changed(l, now);
    }

    fn send_grants(&mut self, grants: &mut Vec<Grant>) {
        for g in grants.drain(..) {
            if let Some(s) = &self.status {
                if let Some((locker, conn)) = self.locker_and_conn_uids(g.conn as usize) {
                    s.table().conn_granted(locker, conn, g.element.as_deref());
                }
            }
            self.answer(
                g.conn as usize,
                protocol::STEP_LATER_ANSWER,
                rc::OK,
                g.element.as_deref(),
            );
        }
    }

    /// The uids of connection `id` and of the locker it is in.
    fn locker_and_conn_uids(&self, id: usize) -> Option<(u64, u64)> {
        let conn = self.conns.get(id)?;
        match conn.state {
            ConnState::InLocker(l) => Some((self.lockers.get(l)?.uid, conn.uid)),
            _ => None,
        }
    }

    /// Bookkeeping after a locker's state changed: idle expiry and wake-ups.
    fn locker_changed(&mut self, l: usize, now: Instant) {
        let Some(entry) = self.lockers.get_mut(l) else {
            return;
        };
        if entry.locker.is_unused() {
            if entry.unused_since.is_none() {
                entry.unused_since = Some(now);
            }
            if !entry.expiry_pending {
                entry.expiry_pending = true;
                let at = now + entry.idle_life();
                self.timers.push(Reverse(Timer {
                    at,
                    kind: TimerKind::Expire,
                    locker: l,
                    uid: entry.uid,
                }));
            }
        } else {
            entry.unused_since = None;
        }
        let wake = entry.locker.next_wakeup(now);
        if wake != entry.wake_at {
            entry.wake_at = wake;
            if let Some(at) = wake {
                self.timers.push(Reverse(Timer {
                    at,
                    kind: TimerKind::Wake,
                    locker: l,
                    uid: entry.uid,
                }));
            }
        }
    }

    /// Runs the due timers, at most `TIMERS_PER_PASS` of them, so that
    /// thousands of lockers expiring together never stall client traffic:
    /// the rest run on the next pass (the poll timeout is then 0).
    fn fire_timers(&mut self, now: Instant) {
        for _ in 0..TIMERS_PER_PASS {
            let Some(Reverse(t)) = self.timers.peek().copied() else {
                break;
            };
            if t.at > now {
                break;
            }
            self.timers.pop();
            let Some(entry) = self.lockers.get_mut(t.locker).filter(|e| e.uid == t.uid) else {
                continue; // the locker it was for is gone
            };
            match t.kind {
                TimerKind::Expire => {
                    entry.expiry_pending = false;
                    if let Some(since) = entry.unused_since {
                        let deadline = since + entry.idle_life();
                        if now >= deadline {
                            self.destroy_locker(t.locker);
                        } else {
                            entry.expiry_pending = true;
                            self.timers.push(Reverse(Timer { at: deadline, ..t }));
                        }
                    }
                }
                TimerKind::Wake => {
                    if entry.wake_at == Some(t.at) {
                        entry.wake_at = None;
                        let mut grants = std::mem::take(&mut self.grants);
                        entry.locker.on_timer(now, &mut grants);
                        self.send_grants(&mut grants);
                        self.grants = grants;
                        self.locker_changed(t.locker, now);
                    }
                }
            }
        }
    }

    fn destroy_locker(&mut self, l: usize) {
        if let Some(entry) = self.lockers.remove(l) {
            crate::trace!(
                crate::trace::LOCKER,
                "locker {l} ({}) idle: destroyed",
                entry.locker.name
            );
            self.by_key.remove(entry.routing_key());
            if let Some(s) = &self.status {
                s.table().locker_destroyed(entry.uid);
            }
        }
    }

    fn answer(&mut self, id: usize, step: i32, code: i32, element: Option<&str>) {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        protocol::encode_lock_answer(&mut out, step, &self.peerid, code, element);
        if let Some(conn) = self.conns.get_mut(id) {
            conn.last_step = step;
            // Write at once; only what the socket does not take is kept.
            let mut sent = 0;
            if conn.wbuf.is_empty() {
                while sent < out.len() {
                    match conn.stream.write(&out.as_bytes()[sent..]) {
                        Ok(n) => sent += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => {
                            self.to_close.push(id);
                            sent = out.len();
                        }
                    }
                }
            }
            if sent < out.len() {
                conn.wbuf.extend_from_slice(&out.as_bytes()[sent..]);
                self.poller
                    .set_events(TOKEN_CONN_BASE + id, READABLE | WRITABLE);
            }
        }
        self.out = out;
    }

    fn flush(&mut self, id: usize) {
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        let had_pending = !conn.wbuf.is_empty();
        while !conn.wbuf.is_empty() {
            match conn.stream.write(&conn.wbuf) {
                Ok(n) => {
                    conn.wbuf.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    conn.wbuf.clear();
                    self.to_close.push(id);
                    return;
                }
            }
        }
        if had_pending && conn.wbuf.is_empty() {
            conn.wbuf = Vec::new();
            self.poller.set_events(TOKEN_CONN_BASE + id, READABLE);
        }
    }

    fn half_close(&mut self, id: usize) {
        if let Some(conn) = self.conns.get_mut(id) {
            let _ = conn.stream.shutdown_write();
            conn.state = ConnState::Done;
        }
    }

    fn close_pending(&mut self) {
        while let Some(id) = self.to_close.pop() {
            self.close_conn(id);
        }
    }

    fn pause_accepting(&mut self, pause: bool) {
        if self.accept_paused == pause {
            return;
        }
        self.accept_paused = pause;
        let events = if pause { 0 } else { READABLE };
        for i in 0..self.listeners.len() {
            self.poller.set_events(TOKEN_LISTENER_BASE + i, events);
        }
    }

    fn close_conn(&mut self, id: usize) {
        let Some(conn) = self.conns.remove(id) else {
            return;
        };
        crate::trace!(crate::trace::CONNS, "closing connection {id}");
        self.poller.deregister(TOKEN_CONN_BASE + id);
        self.pause_accepting(false);
        match conn.state {
            ConnState::InLocker(l) => {
                let now = Instant::now();
                let mut grants = std::mem::take(&mut self.grants);
                if let Some(entry) = self.lockers.get_mut(l) {
                    entry.locker.disconnect(id as u32, now, &mut grants);
                    if let Some(s) = &self.status {
                        s.table().conn_released(entry.uid, conn.uid);
                    }
                }
                self.send_grants(&mut grants);
                self.grants = grants;
                self.locker_changed(l, now);
            }
            ConnState::Incubated { .. } => {
                self.incubator.retain(|&c| c != id);
                if let Some(s) = &self.status {
                    s.table().incubator_left(conn.uid);
                }
            }
            ConnState::New | ConnState::Done => {}
        }
        drop(conn);
    }
}
