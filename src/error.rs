//! What can go wrong between a client and the daemon, as one error type
//! carrying C FLoM's return code and the context of the failure; the outcome
//! of one `flom` invocation; and the single map from outcomes to the exit
//! statuses of the `flom` command (0, 96, 97, 98, 99, 128+N).

use crate::exec::Ending;
use crate::handle::HandleState;
use crate::net::AddressError;
use crate::rc;
use std::fmt;

/// A failure of the client library (or of the `flom` command around it).
/// `flom_rc()` is the `FLOM_RC_*` value C libflom returns for it; `Display`
/// is the message the `flom` command prints for it (the command prints none
/// for `InvalidOptions` and `NoCommand`, already reported by the parser, nor
/// for `Management`, like C FLoM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlomError {
    /// The resource is locked by someone else and the request may not wait
    /// (`FLOM_RC_LOCK_BUSY`).
    LockBusy,
    /// The resource could become available, but the requester can't wait
    /// (`FLOM_RC_LOCK_CANT_WAIT`).
    LockCantWait,
    /// The resource will never satisfy the request (`FLOM_RC_LOCK_IMPOSSIBLE`).
    LockImpossible,
    /// The lock was not granted within the resource timeout
    /// (`FLOM_RC_NETWORK_TIMEOUT`).
    LockTimeout { timeout_ms: i32 },
    /// The daemon could not be reached (or started): `rc` is why, `target`
    /// what was tried (socket path, TCP address, multicast group).
    Connect { rc: i32, target: String },
    /// An address or network interface that cannot be used.
    Address(AddressError),
    /// The discovery datagram could not be sent to the multicast group.
    DiscoverySend { group: String, cause: String },
    /// The lock conversation with the daemon failed.
    Lock { rc: i32 },
    /// The unlock could not be delivered.
    Unlock { rc: i32 },
    /// A `-x`/`-X` shutdown request could not be delivered (the `flom`
    /// command reports it with its exit status only, like C FLoM).
    Management { rc: i32 },
    /// The daemon closed a `--status` request without an answer: it is a
    /// C FLoM daemon (or one too old), which rejects the request.
    StatusUnsupported,
    /// A `--status` request failed: `why` says how.
    Status { rc: i32, why: String },
    /// A handle call not allowed in the handle's state
    /// (`FLOM_RC_API_INVALID_SEQUENCE`).
    InvalidSequence {
        call: &'static str,
        state: HandleState,
    },
    /// A handle setting that cannot change in the handle's state
    /// (`FLOM_RC_API_IMMUTABLE_HANDLE`).
    ImmutableHandle {
        setting: &'static str,
        state: HandleState,
    },
    /// A setting value that cannot be used (`rc` says which kind).
    InvalidSetting {
        rc: i32,
        setting: &'static str,
        value: String,
    },
    /// Option parsing or the configuration check failed; the parser printed
    /// what and where.
    InvalidOptions,
    /// No command to run under the lock; the parser printed it.
    NoCommand,
    /// The command line cannot be used: the sentence says why.
    Usage(String),
    /// Refused for local security (a socket, lock or trace path of the
    /// wrong type or owner, a daemon run by another user, a connection the
    /// daemon's SocketAccess keeps out), or a client wait that ran out:
    /// `message` is the sentence, `rc` C's return code for the step.
    Refused { rc: i32, message: String },
    /// TLS failed: a bad file (no `function`: found before connecting), or
    /// the handshake or a check on the connection (`function` is C's
    /// `flom_client_*` that reports `rc`); `message` says what failed.
    Tls {
        function: Option<&'static str>,
        rc: i32,
        message: String,
    },
}

impl FlomError {
    /// The `FLOM_RC_*` return code of C libflom for this error.
    pub fn flom_rc(&self) -> i32 {
        match self {
            FlomError::LockBusy => rc::LOCK_BUSY,
            FlomError::LockCantWait => rc::LOCK_CANT_WAIT,
            FlomError::LockImpossible => rc::LOCK_IMPOSSIBLE,
            FlomError::LockTimeout { .. } => rc::NETWORK_TIMEOUT,
            FlomError::Connect { rc, .. }
            | FlomError::Lock { rc }
            | FlomError::Unlock { rc }
            | FlomError::Management { rc }
            | FlomError::Status { rc, .. }
            | FlomError::Tls { rc, .. }
            | FlomError::Refused { rc, .. }
            | FlomError::InvalidSetting { rc, .. } => *rc,
            FlomError::Address(AddressError::Unresolved(_)) => rc::GETADDRINFO_ERROR,
            FlomError::Address(_) => rc::INVALID_IPV6_NETWORK_INTERFACE,
            FlomError::DiscoverySend { .. } => rc::SENDTO_ERROR,
            FlomError::StatusUnsupported => rc::PROTOCOL_ERROR,
            FlomError::InvalidSequence { .. } => rc::API_INVALID_SEQUENCE,
            FlomError::ImmutableHandle { .. } => rc::API_IMMUTABLE_HANDLE,
            FlomError::InvalidOptions | FlomError::NoCommand | FlomError::Usage(_) => {
                rc::INVALID_OPTION
            }
        }
    }
}

/// C's text for `code` without its `ERROR: ` prefix.
fn plain(code: i32) -> String {
    let text = rc::strerror(code);
    match text.strip_prefix("ERROR: ") {
        Some(rest) => rest.to_string(),
        None => text,
    }
}

impl fmt::Display for FlomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlomError::LockBusy => f.write_str("Resource already locked, the lock cannot be obtained"),
            FlomError::LockCantWait => f.write_str(
                "The resource could be available in the future, but the requester can't wait",
            ),
            FlomError::LockImpossible => f.write_str(
                "Resource will never satisfy the request, the lock cannot be obtained",
            ),
            FlomError::LockTimeout { timeout_ms } => write!(
                f,
                "The lock was not obtained because timeout ({timeout_ms} milliseconds) expired"
            ),
            FlomError::Connect { rc, target } => write!(
                f,
                "flom: cannot reach a daemon at {target} ({}); check the socket or address settings and that a daemon may be started.",
                plain(*rc)
            ),
            FlomError::Address(e) => write!(f, "{e}"),
            FlomError::DiscoverySend { group, cause } => write!(
                f,
                "flom: cannot send the discovery datagram to {group}: {cause} (is there a multicast route?)"
            ),
            FlomError::Lock { rc } => write!(
                f,
                "flom: the lock request failed ({}); check that the daemon is running and try again.",
                plain(*rc)
            ),
            FlomError::Unlock { rc } => write!(
                f,
                "flom: the lock could not be released ({}); the daemon may have stopped.",
                plain(*rc)
            ),
            FlomError::Management { rc } => write!(
                f,
                "flom: the shutdown request could not be delivered ({}); check that the daemon is running.",
                plain(*rc)
            ),
            FlomError::StatusUnsupported => f.write_str(
                "flom: this daemon does not support --status (a C FLoM daemon shows its state in its VFS, -m DIR)",
            ),
            FlomError::Status { why, .. } => write!(f, "flom: the status request failed: {why}"),
            FlomError::InvalidSequence { call, state } => write!(
                f,
                "flom: {call} is not allowed while the handle is {state} ({})",
                rc::strerror(rc::API_INVALID_SEQUENCE)
            ),
            FlomError::ImmutableHandle { setting, state } => write!(
                f,
                "flom: {setting} cannot change while the handle is {state}: disconnect first"
            ),
            FlomError::InvalidSetting { rc, setting, value } => write!(
                f,
                "flom: '{value}' cannot be used as {setting} ({})",
                rc::strerror(*rc)
            ),
            FlomError::InvalidOptions => f.write_str("flom: invalid options or configuration"),
            FlomError::NoCommand => f.write_str("No command to execute!"),
            FlomError::Usage(message) => f.write_str(message),
            // The sentence says what failed (C printed a ret_cod line).
            FlomError::Tls { message, .. } => f.write_str(message),
            FlomError::Refused { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for FlomError {}

impl From<AddressError> for FlomError {
    fn from(e: AddressError) -> Self {
        FlomError::Address(e)
    }
}

/// How one invocation of `flom` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing more to do: help or version shown, shutdown requested.
    Done,
    /// The command ran under the lock and ended so.
    Command(Ending),
    /// A `--debug-feature` self-check passed (true) or failed (false).
    SelfCheck(bool),
    /// The invocation failed.
    Failed(FlomError),
}

impl From<Result<Outcome, FlomError>> for Outcome {
    fn from(r: Result<Outcome, FlomError>) -> Self {
        r.unwrap_or_else(Outcome::Failed)
    }
}

/// The exit status of `flom` for an outcome: the only place where they are
/// chosen.
pub fn exit_status(outcome: &Outcome) -> i32 {
    match outcome {
        Outcome::Done => rc::ES_OK,
        Outcome::Command(Ending::Exited(code)) => *code,
        Outcome::Command(Ending::Signalled(signal)) => 128 + signal,
        Outcome::Command(Ending::NotExecuted) => rc::ES_UNABLE_TO_EXECUTE_COMMAND,
        Outcome::Command(Ending::Unknown) => rc::ES_GENERIC_ERROR,
        Outcome::SelfCheck(true) => 0,
        Outcome::SelfCheck(false) => 1,
        Outcome::Failed(e) => match e {
            FlomError::LockBusy | FlomError::LockTimeout { .. } => rc::ES_RESOURCE_BUSY,
            FlomError::LockCantWait => rc::ES_REQUESTER_CANT_WAIT,
            FlomError::NoCommand => rc::ES_UNABLE_TO_EXECUTE_COMMAND,
            _ => rc::ES_GENERIC_ERROR,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(e: FlomError) -> i32 {
        exit_status(&Outcome::Failed(e))
    }

    #[test]
    fn exit_statuses() {
        assert_eq!(exit_status(&Outcome::Done), 0);
        assert_eq!(exit_status(&Outcome::Command(Ending::Exited(0))), 0);
        assert_eq!(exit_status(&Outcome::Command(Ending::Exited(3))), 3);
        assert_eq!(exit_status(&Outcome::Command(Ending::Exited(98))), 98);
        assert_eq!(exit_status(&Outcome::Command(Ending::Signalled(9))), 137);
        assert_eq!(exit_status(&Outcome::Command(Ending::Signalled(15))), 143);
        assert_eq!(exit_status(&Outcome::Command(Ending::NotExecuted)), 97);
        assert_eq!(exit_status(&Outcome::Command(Ending::Unknown)), 99);
        assert_eq!(exit_status(&Outcome::SelfCheck(true)), 0);
        assert_eq!(exit_status(&Outcome::SelfCheck(false)), 1);
        assert_eq!(failed(FlomError::LockBusy), 98);
        assert_eq!(failed(FlomError::LockTimeout { timeout_ms: 10 }), 98);
        assert_eq!(failed(FlomError::LockCantWait), 96);
        assert_eq!(failed(FlomError::LockImpossible), 99);
        assert_eq!(failed(FlomError::NoCommand), 97);
        assert_eq!(failed(FlomError::InvalidOptions), 99);
        assert_eq!(failed(FlomError::Usage("x".into())), 99);
        assert_eq!(
            failed(FlomError::Lock {
                rc: rc::PROTOCOL_ERROR
            }),
            99
        );
        assert_eq!(failed(FlomError::Unlock { rc: rc::SEND_ERROR }), 99);
        assert_eq!(
            failed(FlomError::Management {
                rc: rc::CONNECT_ERROR
            }),
            99
        );
        let connect = FlomError::Connect {
            rc: rc::CONNECT_ERROR,
            target: "/tmp/x".into(),
        };
        assert_eq!(failed(connect), 99);
    }

    #[test]
    fn return_codes() {
        assert_eq!(FlomError::LockBusy.flom_rc(), 4);
        assert_eq!(FlomError::LockCantWait.flom_rc(), 5);
        assert_eq!(FlomError::LockImpossible.flom_rc(), 6);
        assert_eq!(FlomError::LockTimeout { timeout_ms: 1 }.flom_rc(), 9);
        let connect = FlomError::Connect {
            rc: rc::CONNECT_ERROR,
            target: "/tmp/x".into(),
        };
        assert_eq!(connect.flom_rc(), -105);
        let seq = FlomError::InvalidSequence {
            call: "unlock",
            state: HandleState::Init,
        };
        assert_eq!(seq.flom_rc(), -17);
        let imm = FlomError::ImmutableHandle {
            setting: "socket name",
            state: HandleState::Locked,
        };
        assert_eq!(imm.flom_rc(), 11);
    }

    #[test]
    fn messages_of_the_command() {
        let connect = FlomError::Connect {
            rc: rc::CONNECT_ERROR,
            target: "/tmp/x".into(),
        };
        assert_eq!(
            connect.to_string(),
            "flom: cannot reach a daemon at /tmp/x ('connect' function returned an error condition); check the socket or address settings and that a daemon may be started."
        );
        assert!(FlomError::Lock { rc: rc::RECV_ERROR }
            .to_string()
            .starts_with("flom: the lock request failed ('recv' function"));
        assert_eq!(
            FlomError::LockTimeout { timeout_ms: 250 }.to_string(),
            "The lock was not obtained because timeout (250 milliseconds) expired"
        );
    }
}
