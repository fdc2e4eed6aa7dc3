//! The client as a library: a handle holding its own settings (a copy of the
//! configuration) and its connection to the daemon, with C libflom's states
//! and calls: connect, lock (returning the locked element), unlock (with or
//! without rollback), disconnect; and the management (shutdown) request.
//! Unlike C libflom a handle may start a daemon when none is there
//! (`set_auto_start`), which the `flom` command does.

mod connect;
mod conversation;
mod settings;

use crate::config::Config;
use crate::error::FlomError;
use crate::snapshot::Snapshot;
use crate::tls::{self, Role, TlsContext, TlsFiles, Transport};
use conversation::{LockFailure, StatusFailure};
use std::fmt;

/// The states of a handle, numbered like C's `flom_handle_state_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandleState {
    /// New: not connected yet.
    Init,
    /// Connected to a daemon, no lock held.
    Connected,
    /// Holding a lock.
    Locked,
    /// Disconnected after a lock (or a failure); may connect again.
    Disconnected,
}

impl HandleState {
    /// The value of C's `FLOM_HANDLE_STATE_*`.
    pub fn code(self) -> i32 {
        match self {
            HandleState::Init => 22,
            HandleState::Connected => 23,
            HandleState::Locked => 24,
            HandleState::Disconnected => 25,
        }
    }
}

impl fmt::Display for HandleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HandleState::Init => "new",
            HandleState::Connected => "connected",
            HandleState::Locked => "locked",
            HandleState::Disconnected => "disconnected",
        })
    }
}

/// What `unlock_rollback` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollback {
    /// The unlock asked the daemon to roll back (or nothing was locked).
    Requested,
    /// The resource is not a transactional sequence: a plain unlock was
    /// sent (C's `FLOM_RC_RESOURCE_IS_NOT_TRANSACTIONAL`).
    NotTransactional,
}

/// A client of the FLoM daemon: the Rust form of C libflom's handle, used by
/// the `flom` command and, through the C ABI of `capi`, by `libflom.so.0`.
///
/// ```no_run
/// use flom::config::Config;
/// use flom::handle::FlomHandle;
///
/// let mut config = Config::load().expect("flom configuration");
/// config.socket_name = Some("/tmp/my-flom.sock".to_string());
/// let mut handle = FlomHandle::new(config); // never starts a daemon by default
/// handle.set_resource_name("red.green.blue")?;
/// let element = handle.lock()?.map(str::to_owned);
/// println!("holding {}", element.as_deref().unwrap_or("the lock"));
/// handle.unlock()?;
/// # Ok::<(), flom::error::FlomError>(())
/// ```
pub struct FlomHandle {
    config: Config,
    auto_start: bool,
    peerid: String,
    state: HandleState,
    conn: Option<Transport>,
    locked_element: Option<String>,
    /// The fencing token of the current lock (`--fencing`, our daemon only).
    fencing_token: Option<u64>,
    /// The TLS context of the last connection, and the files it came from.
    tls: Option<(TlsFiles, TlsContext)>,
    /// The daemon did not answer within the client's bound: the
    /// disconnect waits for its close only briefly.
    unanswered: bool,
}

impl FlomHandle {
    /// A new handle (state `Init`) with these settings; it does not start a
    /// daemon unless `set_auto_start(true)`.
    pub fn new(config: Config) -> FlomHandle {
        FlomHandle {
            config,
            auto_start: false,
            peerid: crate::config::unique_id(),
            state: HandleState::Init,
            conn: None,
            locked_element: None,
            fencing_token: None,
            tls: None,
            unanswered: false,
        }
    }

    /// The descriptor of the connection to the daemon, when connected.
    pub fn connection_fd(&self) -> Option<std::os::unix::io::RawFd> {
        use std::os::unix::io::AsRawFd;
        self.conn.as_ref().map(|c| c.as_raw_fd())
    }

    pub fn state(&self) -> HandleState {
        self.state
    }

    /// The settings the handle connects and locks with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The element of the current lock (set element, sequence number,
    /// timestamp), if the resource has one.
    pub fn locked_element(&self) -> Option<&str> {
        self.locked_element.as_deref()
    }

    /// The fencing token of the current lock: set when the settings ask
    /// for fencing and the daemon gave one (a C FLoM daemon never does).
    pub fn fencing_token(&self) -> Option<u64> {
        self.fencing_token
    }

    fn invalid(&self, call: &'static str) -> FlomError {
        FlomError::InvalidSequence {
            call,
            state: self.state,
        }
    }

    /// Connects to the daemon (starting one if allowed): from `Init` or
    /// `Disconnected` to `Connected`. On failure the state does not change.
    pub fn connect(&mut self) -> Result<(), FlomError> {
        match self.state {
            HandleState::Init | HandleState::Disconnected => {}
            _ => return Err(self.invalid("connect")),
        }
        let stream = self.open(self.auto_start)?;
        self.conn = Some(stream);
        self.unanswered = false;
        self.state = HandleState::Connected;
        Ok(())
    }

    /// Connects (starting a daemon when `auto_start`), with TLS when the
    /// three TLS files are set: their context is built first, so a bad file
    /// is reported before any daemon is started.
    fn open(&mut self, auto_start: bool) -> Result<Transport, FlomError> {
        self.prepare_tls()?;
        crate::trace!(
            crate::trace::CLIENT | crate::trace::CONNS,
            "connection: reaching the daemon at {}{}",
            connect::target_text(&self.config),
            if auto_start {
                " (starting one if none)"
            } else {
                ""
            }
        );
        let socket = connect::connect(&self.config, auto_start).inspect_err(|e| {
            crate::trace!(
                crate::trace::CLIENT | crate::trace::CONNS,
                "connection: failed: rc={}",
                e.flom_rc()
            );
        })?;
        crate::trace!(
            crate::trace::CLIENT | crate::trace::CONNS,
            "connection: connected"
        );
        let ctx = self.tls.as_ref().map(|(_, c)| c);
        let limit = connect::wait_bound(&self.config);
        Transport::connect(ctx, socket, limit).map_err(|e| FlomError::Tls {
            function: Some("flom_client_connect"),
            rc: e.rc,
            message: e.message,
        })
    }

    /// The TLS context for the current settings (kept while they last).
    fn prepare_tls(&mut self) -> Result<(), FlomError> {
        let Some(files) = tls::files_of(&self.config) else {
            self.tls = None;
            return Ok(());
        };
        if self.tls.as_ref().is_some_and(|(f, _)| *f == files) {
            return Ok(());
        }
        let ctx = TlsContext::new(Role::Client, &files).map_err(|e| FlomError::Tls {
            function: None,
            rc: e.rc,
            message: e.message,
        })?;
        self.tls = Some((files, ctx));
        Ok(())
    }

    /// Locks the resource (connecting first when not connected): `Locked`
    /// on success, with the locked element. A refusal (busy, can't wait,
    /// impossible, timeout) leaves the handle `Connected`; a broken
    /// connection leaves it `Disconnected`. When a connection this call
    /// opened is closed by the daemon before any answer (a daemon that was
    /// exiting), the call connects and asks once more.
    pub fn lock(&mut self) -> Result<Option<&str>, FlomError> {
        if self.state == HandleState::Locked {
            return Err(self.invalid("lock"));
        }
        let mut fresh = false;
        if self.conn.is_none() {
            self.connect()?;
            fresh = true;
        }
        loop {
            let stream = self.conn.as_mut().expect("connected");
            match conversation::lock(stream, &self.config, &self.peerid) {
                Ok((element, token)) => {
                    self.locked_element = element;
                    self.fencing_token = token;
                    self.state = HandleState::Locked;
                    return Ok(self.locked_element.as_deref());
                }
                Err(LockFailure::Refused(e)) => return Err(e),
                Err(LockFailure::Unanswered(e)) => {
                    self.unanswered = true;
                    return Err(e);
                }
                Err(LockFailure::Broken { rc, retryable, why }) => {
                    let stranger = self.strangers_daemon();
                    self.conn = None;
                    self.state = HandleState::Disconnected;
                    if retryable {
                        if let Some(owner) = stranger {
                            // Another user's daemon (trusted with DaemonOwner)
                            // that closes at once keeps us out.
                            return Err(FlomError::Refused {
                                rc,
                                message: format!(
                                    "flom: the daemon at '{}' (run by {owner}) closed the connection without answering: it lets other users in only with --socket-access (SocketAccess in [Daemon])",
                                    self.config.socket_path()
                                ),
                            });
                        }
                    }
                    if !(retryable && fresh) {
                        return Err(match why {
                            Some(message) => FlomError::Tls {
                                function: Some("flom_client_lock"),
                                rc,
                                message,
                            },
                            None => FlomError::Lock { rc },
                        });
                    }
                    fresh = false;
                    self.connect()?;
                }
            }
        }
    }

    /// The name of the user running the daemon we are connected to, when it
    /// is not us nor root (UNIX sockets only).
    fn strangers_daemon(&self) -> Option<String> {
        let owner = self.conn.as_ref()?.socket().and_then(connect::daemon_uid)?;
        let me = crate::security::euid();
        (owner != me && owner != 0).then(|| crate::security::user_name(owner))
    }

    /// Unlocks (no rollback) and disconnects; from `Connected` it only
    /// disconnects. State `Disconnected`.
    pub fn unlock(&mut self) -> Result<(), FlomError> {
        self.unlock_sending(false)
    }

    /// Unlocks asking the daemon to roll back (transactional sequences give
    /// the value back), then disconnects. For other resources the rollback
    /// is dropped, like C libflom does.
    pub fn unlock_rollback(&mut self) -> Result<Rollback, FlomError> {
        let transactional = crate::resource::is_transactional_sequence(&self.config.resource_name);
        if self.state == HandleState::Locked && !transactional {
            self.unlock_sending(false)?;
            return Ok(Rollback::NotTransactional);
        }
        self.unlock_sending(true)?;
        Ok(Rollback::Requested)
    }

    /// Unlocks sending the rollback flag as given, whatever the resource
    /// (the `flom` command asks a rollback whenever its command failed),
    /// then disconnects. Allowed from `Locked` or `Connected`.
    pub fn unlock_sending(&mut self, rollback: bool) -> Result<(), FlomError> {
        match self.state {
            HandleState::Locked | HandleState::Connected => {}
            _ => return Err(self.invalid("unlock")),
        }
        let locked = self.state == HandleState::Locked;
        let stream = self.conn.take();
        self.state = HandleState::Disconnected;
        self.locked_element = None;
        self.fencing_token = None;
        let Some(mut stream) = stream else {
            return Ok(());
        };
        if locked {
            conversation::unlock(&mut stream, &self.config.resource_name, rollback)
                .map_err(|rc| FlomError::Unlock { rc })?;
        }
        let wait = if self.unanswered {
            conversation::UNANSWERED_DISCONNECT_WAIT_MS
        } else {
            conversation::DISCONNECT_WAIT_MS
        };
        conversation::graceful_disconnect(stream, wait);
        Ok(())
    }

    /// Closes the connection gracefully when `Connected` (state
    /// `Disconnected`); nothing to do when not connected. A lock must be
    /// released with `unlock` first.
    pub fn disconnect(&mut self) -> Result<(), FlomError> {
        match self.state {
            HandleState::Connected => self.unlock_sending(false),
            HandleState::Locked => Err(self.invalid("disconnect")),
            HandleState::Init | HandleState::Disconnected => Ok(()),
        }
    }

    /// Asks the daemon to shut down (`immediate`: without waiting for the
    /// locks held), then disconnects. Never starts a daemon.
    pub fn shutdown_daemon(&mut self, immediate: bool) -> Result<(), FlomError> {
        match self.state {
            HandleState::Init | HandleState::Disconnected => {}
            _ => return Err(self.invalid("shutdown")),
        }
        let mut stream = self.open(false)?;
        // Only the daemon's own user or root may stop it (the daemon
        // enforces it too): say so rather than send a request it drops.
        let me = crate::security::euid();
        if let Some(owner) = stream.socket().and_then(connect::daemon_uid) {
            if me != 0 && owner != me {
                conversation::graceful_disconnect(stream, 0);
                let who = match owner {
                    0 => "root".to_string(),
                    o => format!(
                        "{} (the daemon's user) or root",
                        crate::security::user_name(o)
                    ),
                };
                return Err(FlomError::Refused {
                    rc: crate::rc::CONNECT_ERROR,
                    message: format!(
                        "flom: only {who} may shut down the daemon at '{}'",
                        self.config.socket_path()
                    ),
                });
            }
        }
        let sent =
            conversation::request_shutdown(&self.config, &mut stream, &self.peerid, immediate);
        self.state = HandleState::Disconnected;
        sent.map_err(|(rc, why)| match why {
            Some(message) => FlomError::Tls {
                function: None,
                rc,
                message,
            },
            None => FlomError::Management { rc },
        })?;
        conversation::graceful_disconnect(stream, conversation::DISCONNECT_WAIT_MS);
        Ok(())
    }

    /// Asks the daemon for a snapshot of its state (`flom --status`), then
    /// disconnects. Never starts a daemon.
    pub fn status(&mut self) -> Result<Snapshot, FlomError> {
        match self.state {
            HandleState::Init | HandleState::Disconnected => {}
            _ => return Err(self.invalid("status")),
        }
        let mut stream = self.open(false)?;
        self.state = HandleState::Disconnected;
        match conversation::request_status(&self.config, &mut stream, &self.peerid) {
            Ok(snapshot) => {
                conversation::graceful_disconnect(stream, conversation::DISCONNECT_WAIT_MS);
                Ok(snapshot)
            }
            Err(StatusFailure::Unsupported) => Err(FlomError::StatusUnsupported),
            Err(StatusFailure::Failed(rc, why)) => Err(FlomError::Status { rc, why }),
        }
    }

    #[cfg(test)]
    fn with_connection(config: Config, stream: crate::net::Stream) -> FlomHandle {
        let mut h = FlomHandle::new(config);
        h.conn = Some(Transport::Plain(stream));
        h.state = HandleState::Connected;
        h
    }
}

impl Drop for FlomHandle {
    /// Like C's `flom_handle_delete`: a held lock is released, an open
    /// connection closed gracefully.
    fn drop(&mut self) {
        let _ = self.unlock_sending(false);
    }
}

#[cfg(test)]
mod tests;
