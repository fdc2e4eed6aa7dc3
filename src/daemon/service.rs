//! Running as a service (`flom --foreground-daemon`, e.g. from systemd's
//! `flom.service`): the daemon in the foreground of its own process, with a
//! lifespan of its own (`--service-lifespan`); the listeners passed by
//! socket activation (`LISTEN_PID`/`LISTEN_FDS`, descriptors 3 and up,
//! each checked to be a listening UNIX or TCP stream socket); and the
//! `READY=1` / `STOPPING=1` notices written by hand, as datagrams, to
//! `NOTIFY_SOCKET` (a path, or `@name` for an abstract socket). No
//! libsystemd.

use super::Daemon;
use crate::config::Config;
use crate::error::{FlomError, Outcome};
use crate::net::Listener;
use crate::rc;
use nix::sys::socket::{
    getsockname, getsockopt, sockopt, AddressFamily, SockType, SockaddrLike, SockaddrStorage,
};
use std::net::TcpListener;
use std::os::unix::io::{FromRawFd, RawFd};
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixListener};

/// The first descriptor socket activation passes (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: RawFd = 3;
/// At most this many activated listeners (the poller's listener tokens).
pub const MAX_LISTENERS: usize = 8;

/// `flom --foreground-daemon`: serves until stopped (SIGTERM, `-X`, or the
/// service lifespan), then exits 0. A daemon that cannot start prints one
/// `flom: ` sentence and exits 99.
pub fn run(config: &Config) -> Outcome {
    let mut config = config.clone();
    // The service's own lifespan, not the one meant for auto-started daemons.
    config.daemon_lifespan = config.service_lifespan;
    config.mount_point_vfs = config
        .mount_point_vfs
        .map(|d| crate::vfs::absolute_path(&d));
    // SAFETY: process-wide settings of the daemon process, as a forked
    // daemon makes them (root directory, sockets and files for everyone).
    unsafe {
        libc::chdir(c"/".as_ptr());
        libc::umask(0);
    }
    crate::trace::forget_destination();
    super::process::open_logs(&config);
    let _ = crate::net::raise_fd_limit();
    let notifier = Notifier::from_env();
    let failed = |sentence: String| {
        if let Some(n) = &notifier {
            n.send(&format!("STATUS={}", sentence.trim_start_matches("flom: ")));
        }
        Outcome::Failed(FlomError::Usage(sentence))
    };
    let inherited = match activated_listeners() {
        Ok(l) => l,
        Err(sentence) => return failed(sentence),
    };
    let activated = !inherited.is_empty();
    let etcd = match crate::store::etcd::Session::open(&config) {
        Ok(s) => s,
        Err(sentence) => return failed(sentence),
    };
    let mut daemon = match Daemon::with_listeners(&config, inherited, etcd) {
        Ok(d) => d,
        Err(code) => return failed(start_failure(&config, code)),
    };
    let serving = if activated {
        "serving the sockets of socket activation".to_string()
    } else if config.uses_network() {
        "serving TCP".to_string()
    } else {
        format!("serving {}", config.socket_path())
    };
    crate::trace!(
        crate::trace::DAEMON,
        "service ready ({serving}), lifespan {} ms",
        config.daemon_lifespan
    );
    crate::syslog::notice("FLM003N the daemon is ready to serve lock requests");
    if let Some(n) = &notifier {
        n.send(&format!("READY=1\nSTATUS={serving}"));
    }
    daemon.serve();
    if let Some(n) = &notifier {
        n.send("STOPPING=1");
    }
    daemon.shutdown();
    crate::syslog::notice("FLM004N the daemon has finished serving and exits");
    Outcome::Done
}

/// The sentence for a daemon that could not start with return code `code`.
fn start_failure(config: &Config, code: i32) -> String {
    let target = if config.uses_network() {
        format!(
            "TCP address '{}' port {}",
            config.unicast_address.as_deref().unwrap_or(""),
            config.unicast_port
        )
    } else {
        format!("socket '{}'", config.socket_path())
    };
    match code {
        rc::FLOCK_ERROR => format!(
            "flom: another daemon already serves {target}; stop it, or give this one another socket (-s)."
        ),
        rc::BIND_ERROR | rc::INVALID_IP_ADDRESS => format!(
            "flom: the daemon cannot listen on {target} (the system log says why); check the address and that nothing else uses it."
        ),
        _ => format!(
            "flom: the daemon cannot start on {target} (return code {code}; the system log says why)."
        ),
    }
}

/// The listeners passed by socket activation: none unless `LISTEN_PID` is
/// this process. The variables are removed (nothing this process starts
/// may take them for its own). Err: a sentence saying what is wrong.
pub fn activated_listeners() -> Result<Vec<Listener>, String> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    for v in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(v);
    }
    let (Some(pid), Some(fds)) = (pid, fds) else {
        return Ok(Vec::new());
    };
    if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
        crate::syslog::info(&format!(
            "FLM040I LISTEN_PID={pid} is not this process: socket activation ignored"
        ));
        return Ok(Vec::new());
    }
    let count: usize = fds.trim().parse().map_err(|_| {
        format!("flom: socket activation: LISTEN_FDS='{fds}' is not a number of descriptors; check the service's environment.")
    })?;
    if count > MAX_LISTENERS {
        return Err(format!(
            "flom: socket activation passed {count} descriptors; at most {MAX_LISTENERS} listeners are supported (check ListenStream= in flom.socket)."
        ));
    }
    (0..count)
        .map(|i| activated_listener(LISTEN_FDS_START + i as RawFd))
        .collect()
}

/// Descriptor `fd` as a listener, when it is a listening stream socket of
/// the UNIX, IPv4 or IPv6 family; made non-blocking and close-on-exec.
fn activated_listener(fd: RawFd) -> Result<Listener, String> {
    let wrong = |what: String| {
        format!(
            "flom: socket activation: descriptor {fd} {what}; flom takes only listening UNIX or TCP stream sockets (ListenStream= in flom.socket)."
        )
    };
    match getsockopt(fd, sockopt::SockType) {
        Ok(SockType::Stream) => {}
        Ok(_) => return Err(wrong("is not a stream socket".into())),
        Err(nix::errno::Errno::ENOTSOCK) => return Err(wrong("is not a socket".into())),
        Err(e) => return Err(wrong(format!("cannot be used ({e})"))),
    }
    if !getsockopt(fd, sockopt::AcceptConn).unwrap_or(false) {
        return Err(wrong("is not listening".into()));
    }
    let family = getsockname::<SockaddrStorage>(fd)
        .ok()
        .and_then(|a| a.family());
    // SAFETY: fcntl on a descriptor this process was given and now owns.
    let flags_ok = unsafe {
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) == 0
            && libc::fcntl(
                fd,
                libc::F_SETFL,
                libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK,
            ) == 0
    };
    if !flags_ok {
        return Err(wrong(format!(
            "cannot be made non-blocking ({})",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: the descriptor is a listening socket passed to this process
    // for it to own; it is wrapped once and never closed elsewhere.
    match family {
        Some(AddressFamily::Unix) => Ok(Listener::Unix(unsafe { UnixListener::from_raw_fd(fd) })),
        Some(AddressFamily::Inet | AddressFamily::Inet6) => {
            Ok(Listener::Tcp(unsafe { TcpListener::from_raw_fd(fd) }))
        }
        _ => Err(wrong("is neither a UNIX nor an IP socket".into())),
    }
}

/// Where the service manager listens for state notices (`NOTIFY_SOCKET`).
pub struct Notifier {
    socket: UnixDatagram,
    addr: SocketAddr,
    shown: String,
}

impl Notifier {
    /// From `NOTIFY_SOCKET` (then removed from the environment): an absolute
    /// path, or `@name` for the abstract name `name`. None when unset or
    /// unusable (said in the system log).
    pub fn from_env() -> Option<Notifier> {
        let value = std::env::var("NOTIFY_SOCKET").ok()?;
        std::env::remove_var("NOTIFY_SOCKET");
        let addr = match value.strip_prefix('@') {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                SocketAddr::from_abstract_name(name.as_bytes())
            }
            None => SocketAddr::from_pathname(&value),
        };
        let made = addr.and_then(|addr| Ok((UnixDatagram::unbound()?, addr)));
        match made {
            Ok((socket, addr)) => Some(Notifier {
                socket,
                addr,
                shown: value,
            }),
            Err(e) => {
                crate::syslog::warning(&format!(
                    "FLM041W NOTIFY_SOCKET='{value}' cannot be used: {e}"
                ));
                None
            }
        }
    }

    /// Sends one notice (`READY=1`, ...); a failure is logged, not fatal.
    pub fn send(&self, state: &str) {
        if let Err(e) = self.socket.send_to_addr(state.as_bytes(), &self.addr) {
            crate::syslog::warning(&format!(
                "FLM041W cannot notify the service manager at '{}': {e}",
                self.shown
            ));
        }
    }
}
