//! Transports: the stream connection type shared by client and daemon
//! (AF_UNIX and TCP over IPv4/IPv6), listeners, address resolution with IPv6
//! scope ids (`-n IFACE`, `ADDR%IFACE`), TCP keepalive, UDP multicast sockets
//! for discovery, and small socket helpers.

use std::ffi::CString;
use std::io::{self, Read, Write};
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener, TcpStream,
    ToSocketAddrs, UdpSocket,
};
use std::os::unix::io::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};

/// A connected stream to a peer.
pub enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_nonblocking(on),
            Stream::Tcp(s) => s.set_nonblocking(on),
        }
    }

    /// Half-closes the write side.
    pub fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Write),
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
        }
    }

    /// The process and user id of a UNIX-socket peer (SO_PEERCRED, as
    /// they were when it connected); None for TCP.
    pub fn peer_credentials(&self) -> Option<(i32, u32)> {
        use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
        match self {
            Stream::Unix(s) => getsockopt(s.as_raw_fd(), PeerCredentials)
                .ok()
                .map(|c| (c.pid(), c.uid())),
            Stream::Tcp(_) => None,
        }
    }

    /// The VFS `peer_name` of the peer: `localhost/` for UNIX sockets,
    /// `HOST/PORT` (numeric) for TCP.
    pub fn peer_name(&self) -> String {
        match self {
            Stream::Unix(_) => "localhost/".to_string(),
            Stream::Tcp(s) => match s.peer_addr() {
                Ok(a) => format!("{}/{}", a.ip(), a.port()),
                Err(_) => "unknown/".to_string(),
            },
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    /// `send(MSG_NOSIGNAL)`: a peer that went away gives EPIPE, never a
    /// SIGPIPE (which would kill a program using libflom).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        use nix::sys::socket::{send, MsgFlags};
        send(self.as_raw_fd(), buf, MsgFlags::MSG_NOSIGNAL)
            .map_err(|e| io::Error::from_raw_os_error(e as i32))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Stream::Unix(s) => s.as_raw_fd(),
            Stream::Tcp(s) => s.as_raw_fd(),
        }
    }
}

/// A listening socket of the daemon.
pub enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl Listener {
    /// Accepts one pending connection (non-blocking listener); the new
    /// stream is non-blocking and close-on-exec from the start.
    pub fn accept(&self) -> io::Result<Stream> {
        // SAFETY: accept4 on our listening socket; a returned descriptor is
        // owned by the stream built from it.
        let fd = unsafe {
            libc::accept4(
                self.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a freshly accepted socket nobody else owns.
        Ok(unsafe {
            match self {
                Listener::Unix(_) => Stream::Unix(UnixStream::from_raw_fd(fd)),
                Listener::Tcp(_) => Stream::Tcp(TcpStream::from_raw_fd(fd)),
            }
        })
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Listener::Unix(l) => l.as_raw_fd(),
            Listener::Tcp(l) => l.as_raw_fd(),
        }
    }
}

/// Why `listen_unix_exclusive` failed.
#[derive(Debug)]
pub enum UnixListenError {
    /// The `<path>.lock` guard file or the socket path cannot be used: the
    /// sentence says which and why (wrong type, another user's).
    Refused(String),
    /// The guard file cannot be opened or created (e.g. no such directory).
    OpenGuard,
    /// Another daemon holds the guard.
    Taken,
    /// The socket cannot be bound.
    Bind(io::Error),
}

/// The `<socket>.lock` guard of a daemon: an exclusive `flock` on a 0600
/// file of the daemon's user, removed when the daemon ends.
pub struct UnixGuard {
    file: std::fs::File,
    path: String,
}

/// (device, inode) of a file: what tells a file from its replacement.
pub fn file_identity(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

/// The identity of what is at `path` now (not following a symlink).
pub fn identity_at(path: &str) -> Option<(u64, u64)> {
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| file_identity(&m))
}

impl UnixGuard {
    /// Whether the locked file is still the one at the path (a daemon that
    /// was exiting may have removed it between our open and our flock).
    pub fn is_current(&self) -> bool {
        let Ok(meta) = self.file.metadata() else {
            return false;
        };
        identity_at(&self.path) == Some(file_identity(&meta))
    }

    /// Removes the lock file while still holding its lock, then lets go: a
    /// daemon starting now either locked the old file (and sees it is no
    /// longer at the path, so it tries again) or creates a new one.
    pub fn remove(self) {
        if self.is_current() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// How many times a starting daemon retries a guard that vanished under it.
const GUARD_ATTEMPTS: usize = 8;

/// A UNIX-socket listener that is alone on its path: holds an exclusive
/// `flock` on `<path>.lock` (a 0600 file of ours, never through a symlink),
/// unlinks a stale socket file (never anything else) and binds a fresh
/// non-blocking one with mode `mode` (and group `gid`).
pub fn listen_unix_exclusive(
    path: &str,
    mode: u32,
    gid: Option<u32>,
) -> Result<(UnixListener, UnixGuard), UnixListenError> {
    use crate::security;
    let lock_path = format!("{path}.lock");
    let mut guard = None;
    for _ in 0..GUARD_ATTEMPTS {
        let file = security::open_private(
            std::path::Path::new(&lock_path),
            security::OpenHow::Guard,
            "the lock file of the daemon",
        )
        .map_err(|e| match e.unsafe_path {
            true => UnixListenError::Refused(e.message),
            false => UnixListenError::OpenGuard,
        })?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(UnixListenError::Taken);
        }
        let g = UnixGuard {
            file,
            path: lock_path.clone(),
        };
        if g.is_current() {
            guard = Some(g);
            break;
        }
    }
    let guard = guard.ok_or(UnixListenError::Taken)?;
    Ok((rebind_unix(path, mode, gid)?, guard))
}

/// Binds the daemon's socket at `path` (whose guard we hold): a stale
/// socket file is unlinked, anything else there is refused; the new file
/// gets `mode` (and group `gid`), never more open than 0600 before that.
pub fn rebind_unix(
    path: &str,
    mode: u32,
    gid: Option<u32>,
) -> Result<UnixListener, UnixListenError> {
    use crate::security;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(UnixListenError::Refused(format!(
                "flom: refusing to replace '{path}' by the daemon's socket: it is {} owned by {}; remove it or choose another socket path with -s",
                security::kind_of(&meta),
                security::user_name(meta.uid())
            )));
        }
        if let Err(e) = std::fs::remove_file(path) {
            return Err(UnixListenError::Refused(format!(
                "flom: cannot remove the stale socket '{path}' owned by {}: {e}; remove it or choose another socket path with -s",
                security::user_name(meta.uid())
            )));
        }
    }
    // SAFETY: umask is process-wide; the daemon is single-threaded while it
    // opens its listeners. The socket is never open to others, even briefly.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(path);
    // SAFETY: restoring the previous mask.
    unsafe { libc::umask(old) };
    let listener = bound.map_err(UnixListenError::Bind)?;
    if let Some(gid) = gid {
        let c = CString::new(path)
            .map_err(|_| UnixListenError::Bind(io::ErrorKind::InvalidInput.into()))?;
        // SAFETY: lchown on a NUL-terminated path; -1 keeps the owner.
        if unsafe { libc::lchown(c.as_ptr(), u32::MAX, gid) } != 0 {
            return Err(UnixListenError::Bind(io::Error::last_os_error()));
        }
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(UnixListenError::Bind)?;
    listener
        .set_nonblocking(true)
        .map_err(UnixListenError::Bind)?;
    Ok(listener)
}

/// Removes the socket file of a listener made by `listen_unix_exclusive`,
/// when it is still ours (`identity`).
pub fn unlink_unix_socket(path: &str, identity: Option<(u64, u64)>) {
    if identity.is_none() || identity_at(path) == identity {
        let _ = std::fs::remove_file(path);
    }
}

/// A non-blocking TCP listener on the first of `candidates` that binds;
/// `on_error` hears of each one that does not.
pub fn listen_tcp_first(
    candidates: &[SocketAddr],
    mut on_error: impl FnMut(&SocketAddr, &io::Error),
) -> Option<io::Result<TcpListener>> {
    let listener = candidates.iter().find_map(|a| match TcpListener::bind(a) {
        Ok(l) => Some(l),
        Err(e) => {
            on_error(a, &e);
            None
        }
    })?;
    Some(listener.set_nonblocking(true).map(|_| listener))
}

/// Waits until `fd` is readable or `timeout_ms` passes (-1: forever).
/// Returns false on timeout.
pub fn wait_readable(fd: RawFd, timeout_ms: i32) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, timeout_ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        return Ok(n > 0);
    }
}

/// Raises the soft limit of open files to the hard limit; returns the
/// soft limit now in force.
#[allow(clippy::unnecessary_cast)] // rlim_t is u32 on 32-bit targets
pub fn raise_fd_limit() -> u64 {
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 1024;
        }
        if r.rlim_cur < r.rlim_max {
            let want = libc::rlimit {
                rlim_cur: r.rlim_max,
                rlim_max: r.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                r.rlim_cur = r.rlim_max;
            }
        }
        r.rlim_cur as u64
    }
}

// ------------------------------------------------------------ addresses

/// The interface index of `name` when it has an IPv6 address, else None
/// (C FLoM silently ignores such an interface).
pub fn ipv6_interface_index(name: &str) -> Option<u32> {
    let listed = std::fs::read_to_string("/proc/net/if_inet6").ok()?;
    if !listed
        .lines()
        .any(|l| l.split_whitespace().last() == Some(name))
    {
        return None;
    }
    let c = CString::new(name).ok()?;
    // SAFETY: if_nametoindex reads a NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx)
}

/// The name of interface `index`.
pub fn interface_name(index: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: buf has IF_NAMESIZE bytes as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: if_indextoname wrote a NUL-terminated name into buf.
    Some(
        unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned(),
    )
}

fn is_link_local(a: &Ipv6Addr) -> bool {
    (a.segments()[0] & 0xffc0) == 0xfe80
}

/// Why an address could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressError {
    /// The name did not resolve.
    Unresolved(String),
    /// An IPv6 link-local address without an interface.
    NeedsInterface(String),
    /// `ADDR%IFACE` named an unknown interface.
    UnknownInterface(String),
}

impl std::fmt::Display for AddressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AddressError::Unresolved(a) => write!(
                f,
                "flom: cannot resolve address '{a}' to a usable address: check the host name (and -n, which keeps only IPv6 addresses) or give a numeric address"
            ),
            AddressError::NeedsInterface(a) => write!(
                f,
                "flom: '{a}' is an IPv6 link-local address: name the network interface with -n IFACE (or write it as {a}%IFACE)"
            ),
            AddressError::UnknownInterface(i) => write!(
                f,
                "flom: network interface '{i}' does not exist or has no IPv6 address: name one that has (ip -6 addr lists them)"
            ),
        }
    }
}

/// Resolves `host` (name, IPv4, IPv6, `IPv6%IFACE`) and `port` into socket
/// addresses, in resolver order, keeping the usable ones (see
/// [`usable_addresses`]). `scope` (from `-n`) forces IPv6 and is stamped on
/// every IPv6 address.
pub fn resolve(host: &str, port: u16, scope: Option<u32>) -> Result<Vec<SocketAddr>, AddressError> {
    let (host, scope) = match host.split_once('%') {
        Some((h, iface)) => match ipv6_interface_index(iface) {
            Some(i) => (h, Some(i)),
            None => return Err(AddressError::UnknownInterface(iface.to_string())),
        },
        None => (host, scope),
    };
    let host_clean = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match host_clean.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => (host_clean, port)
            .to_socket_addrs()
            .map_err(|_| AddressError::Unresolved(host.to_string()))?
            .collect(),
    };
    let usable = usable_addresses(host, &addrs, port, scope);
    if crate::trace::enabled(crate::trace::TCP) {
        let list = |a: &[SocketAddr]| {
            a.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match &usable {
            Ok(u) => crate::trace!(
                crate::trace::TCP,
                "tcp: '{host}' resolves to {}; usable: {}",
                list(&addrs),
                list(u)
            ),
            Err(e) => crate::trace!(
                crate::trace::TCP,
                "tcp: '{host}' resolves to {}; none usable: {e}",
                list(&addrs)
            ),
        }
    }
    usable
}

/// The addresses of `addrs` that can be used, in order: with `scope`, the
/// IPv6 ones (scope stamped on them); without, all but link-local IPv6
/// addresses that carry no scope. A name that resolves to an IPv4 address
/// and to a link-local IPv6 one is thus usable through the former; only
/// when no address is left is a skipped link-local address an error (one
/// that tells the user to name the interface).
pub fn usable_addresses(
    host: &str,
    addrs: &[SocketAddr],
    port: u16,
    scope: Option<u32>,
) -> Result<Vec<SocketAddr>, AddressError> {
    let mut out = Vec::new();
    let mut needs_interface = false;
    for a in addrs {
        match a {
            SocketAddr::V4(_) if scope.is_some() => continue,
            SocketAddr::V4(v4) => out.push(SocketAddr::V4(SocketAddrV4::new(*v4.ip(), port))),
            SocketAddr::V6(v6) => {
                let sid = scope.unwrap_or(v6.scope_id());
                if is_link_local(v6.ip()) && sid == 0 {
                    needs_interface = true;
                    continue;
                }
                out.push(SocketAddr::V6(SocketAddrV6::new(*v6.ip(), port, 0, sid)));
            }
        }
    }
    if out.is_empty() {
        return Err(if needs_interface {
            AddressError::NeedsInterface(host.to_string())
        } else {
            AddressError::Unresolved(host.to_string())
        });
    }
    Ok(out)
}

/// Whether an address text is a wildcard (`0.0.0.0`, `::`).
pub fn is_wildcard(host: &str) -> bool {
    matches!(host.parse::<IpAddr>(), Ok(ip) if ip.is_unspecified())
}

// ------------------------------------------------------------ TCP options

fn setsockopt_int(fd: RawFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: setsockopt with a pointer to a local int of the right size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Keepalive settings for accepted TCP connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    pub time_s: i32,
    pub intvl_s: i32,
    pub probes: i32,
}

/// TCP_NODELAY and keepalive on an accepted TCP connection (IPv4 and IPv6).
pub fn tune_accepted_tcp(s: &TcpStream, ka: Keepalive) {
    let fd = s.as_raw_fd();
    let _ = s.set_nodelay(true);
    let _ = setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1);
    let _ = setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, ka.time_s.max(1));
    let _ = setsockopt_int(
        fd,
        libc::IPPROTO_TCP,
        libc::TCP_KEEPINTVL,
        ka.intvl_s.max(1),
    );
    let _ = setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT, ka.probes.max(1));
}

/// Connects to the first address that accepts, each attempt bounded by
/// what is left until `deadline`. Err(true) when every address refused (so
/// a daemon may be started), Err(false) otherwise.
pub fn connect_tcp(addrs: &[SocketAddr], deadline: std::time::Instant) -> Result<TcpStream, bool> {
    let mut all_refused = true;
    for a in addrs {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(false);
        }
        crate::trace!(crate::trace::TCP, "tcp: connecting to {a}");
        match TcpStream::connect_timeout(a, left) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                if let Ok(local) = s.local_addr() {
                    crate::trace!(crate::trace::TCP, "tcp: connected to {a} from {local}");
                }
                return Ok(s);
            }
            Err(e) => {
                crate::trace!(crate::trace::TCP, "tcp: connecting to {a}: {e}");
                if e.raw_os_error() != Some(libc::ECONNREFUSED) {
                    all_refused = false;
                }
            }
        }
    }
    Err(all_refused)
}

/// Connects to the UNIX socket `path` before `deadline`: a daemon whose
/// listen backlog is full (EAGAIN) is tried again until then, then
/// `TimedOut`. The stream returned is blocking.
pub fn connect_unix(path: &str, deadline: std::time::Instant) -> io::Result<UnixStream> {
    use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};
    let to_io = |e: nix::Error| io::Error::from_raw_os_error(e as i32);
    let addr = UnixAddr::new(path).map_err(to_io)?;
    loop {
        let fd = socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(to_io)?;
        // SAFETY: fd is a fresh socket nobody else owns.
        let stream = unsafe { UnixStream::from_raw_fd(fd) };
        match connect(fd, &addr) {
            Ok(()) => {
                stream.set_nonblocking(false)?;
                return Ok(stream);
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::EAGAIN) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(nix::errno::Errno::EAGAIN) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the daemon's listen backlog stayed full",
                ))
            }
            Err(e) => return Err(to_io(e)),
        }
    }
}

// ------------------------------------------------------------ UDP multicast

fn sockaddr_of(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; we fill the variant matching the family.
    unsafe {
        let mut ss: libc::sockaddr_storage = std::mem::zeroed();
        let len = match addr {
            SocketAddr::V4(a) => {
                let sin = &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in);
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_port = a.port().to_be();
                sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
                std::mem::size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(a) => {
                let sin6 = &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in6);
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_port = a.port().to_be();
                sin6.sin6_addr.s6_addr = a.ip().octets();
                sin6.sin6_scope_id = a.scope_id();
                std::mem::size_of::<libc::sockaddr_in6>()
            }
        };
        (ss, len as libc::socklen_t)
    }
}

/// A UDP socket with SO_REUSEADDR bound to `bind`.
pub fn udp_socket_reuse(bind: SocketAddr) -> io::Result<UdpSocket> {
    let family = if bind.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: creating a socket we immediately own.
    let fd = unsafe { libc::socket(family, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh socket we own.
    let sock = unsafe { UdpSocket::from_raw_fd(fd) };
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    let (ss, len) = sockaddr_of(&bind);
    // SAFETY: binding our socket to a valid sockaddr of length len.
    if unsafe { libc::bind(fd, (&ss as *const libc::sockaddr_storage).cast(), len) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(sock)
}

/// The daemon's discovery socket: bound to the wildcard of the group's
/// family on `port`, member of `group` (on interface `scope` for IPv6).
pub fn multicast_responder(group: SocketAddr) -> io::Result<UdpSocket> {
    match group {
        SocketAddr::V4(g) => {
            let s = udp_socket_reuse(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), g.port()))?;
            s.join_multicast_v4(g.ip(), &Ipv4Addr::UNSPECIFIED)?;
            Ok(s)
        }
        SocketAddr::V6(g) => {
            let s = udp_socket_reuse(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), g.port()))?;
            s.join_multicast_v6(g.ip(), g.scope_id())?;
            Ok(s)
        }
    }
}

/// The client's discovery socket for `group`: wildcard:0, hop limit `ttl`,
/// outgoing interface `scope` for IPv6.
pub fn multicast_sender(group: &SocketAddr, ttl: u32) -> io::Result<UdpSocket> {
    match group {
        SocketAddr::V4(_) => {
            let s = udp_socket_reuse(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0))?;
            s.set_multicast_ttl_v4(ttl)?;
            Ok(s)
        }
        SocketAddr::V6(g) => {
            let s = udp_socket_reuse(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0))?;
            setsockopt_int(
                s.as_raw_fd(),
                libc::IPPROTO_IPV6,
                libc::IPV6_MULTICAST_HOPS,
                ttl as i32,
            )?;
            if g.scope_id() != 0 {
                setsockopt_int(
                    s.as_raw_fd(),
                    libc::IPPROTO_IPV6,
                    libc::IPV6_MULTICAST_IF,
                    g.scope_id() as i32,
                )?;
            }
            Ok(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dual_stack_names_use_the_usable_addresses_in_order() {
        let a = |s: &str| -> SocketAddr { s.parse().unwrap() };
        // IPv4 + link-local IPv6 without an interface (seed UC7 "mojan")
        let both = [a("[fe80::1]:0"), a("192.0.2.7:0")];
        assert_eq!(
            usable_addresses("mojan", &both, 28015, None).unwrap(),
            vec![a("192.0.2.7:28015")]
        );
        // order kept, link-local skipped in the middle
        let three = [a("[2001:db8::1]:0"), a("[fe80::1]:0"), a("192.0.2.7:0")];
        assert_eq!(
            usable_addresses("h", &three, 7, None).unwrap(),
            vec![a("[2001:db8::1]:7"), a("192.0.2.7:7")]
        );
        // only link-local: the message about -n
        let err = usable_addresses("mojan", &[a("[fe80::1]:0")], 7, None).unwrap_err();
        assert!(matches!(err, AddressError::NeedsInterface(_)));
        assert!(err
            .to_string()
            .contains("name the network interface with -n IFACE"));
        // with -n: the IPv6 ones, scope stamped; IPv4 dropped
        assert_eq!(
            usable_addresses("mojan", &both, 7, Some(3)).unwrap(),
            vec![SocketAddr::V6(SocketAddrV6::new(
                "fe80::1".parse().unwrap(),
                7,
                0,
                3
            ))]
        );
        assert!(matches!(
            usable_addresses("v4only", &[a("192.0.2.7:0")], 7, Some(3)),
            Err(AddressError::Unresolved(_))
        ));
    }

    #[test]
    fn resolve_literals_and_link_local() {
        assert_eq!(
            resolve("127.0.0.1", 5, None).unwrap(),
            vec!["127.0.0.1:5".parse().unwrap()]
        );
        assert_eq!(
            resolve("::1", 5, None).unwrap(),
            vec!["[::1]:5".parse().unwrap()]
        );
        assert!(matches!(
            resolve("fe80::1", 5, None),
            Err(AddressError::NeedsInterface(_))
        ));
        let lo = ipv6_interface_index("lo");
        if let Some(i) = lo {
            let a = resolve("fe80::1", 5, Some(i)).unwrap();
            assert!(matches!(a[0], SocketAddr::V6(v) if v.scope_id() == i));
            let b = resolve("fe80::1%lo", 5, None).unwrap();
            assert_eq!(a, b);
        }
        assert!(matches!(
            resolve("fe80::1%nosuchif0", 5, None),
            Err(AddressError::UnknownInterface(_))
        ));
        assert!(is_wildcard("0.0.0.0") && is_wildcard("::") && !is_wildcard("127.0.0.1"));
    }
}
