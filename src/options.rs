//! The option table: every setting of `flom` declared once — its short and
//! long command-line names, its config-file group and key, the kind of its
//! value (which decides validation and normalisation), its default and its
//! `--verbose` dump line. The command line (`cli`) and the config files
//! (`config`) both store values through this table, so a kind of mistake
//! gets one sentence, `flom: PLACE: REASON.`, wherever it was made; only the
//! place differs (`option -l/--lock-mode` or `FILE:LINE: [Resource]/LockMode`).
//!
//! What stays specific to each source: the syntax of the raw text (the
//! command line takes C `strtol` integers and values as typed; config files
//! take decimal integers, GLib escapes, `;` lists, and trim yes/no and lock
//! mode values), and the C FLoM line the command line prints before the
//! sentence (`lock-mode: 'X' is an invalid value`).

use std::fmt;
use std::path::Path;

use crate::config::{
    Config, DEFAULT_DISCOVERY_ATTEMPTS, DEFAULT_DISCOVERY_TIMEOUT_MS, DEFAULT_DISCOVERY_TTL,
    DEFAULT_ETCD_LEASE_TTL, DEFAULT_LIFESPAN_MS, DEFAULT_PORT, DEFAULT_TCP_KEEPALIVE_INTVL,
    DEFAULT_TCP_KEEPALIVE_PROBES, DEFAULT_TCP_KEEPALIVE_TIME,
};
use crate::resource::{LockMode, DEFAULT_RESOURCE_NAME};
use crate::values::{
    abs_at_least_one, abs_value, canonical_file, check_mount_point, check_socket_name,
    interface_has_ipv6, parse_bool, parse_signal, signal_name, validate_resource_name,
    ResourceNameError,
};

/// Where a value of type `T` lives in [`Config`].
pub struct Slot<T: 'static> {
    pub get: fn(&Config) -> &T,
    pub get_mut: fn(&mut Config) -> &mut T,
}

macro_rules! slot {
    ($field:ident) => {
        Slot {
            get: |c| &c.$field,
            get_mut: |c| &mut c.$field,
        }
    };
}

/// The extra check of an optional text value (empty always means unset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextCheck {
    /// Taken as given (trace files, addresses).
    Any,
    /// An AF_UNIX path shorter than `sun_path`.
    SocketName,
    /// A directory that can be opened.
    MountPoint,
    /// An interface with an IPv6 address; otherwise ignored with a warning.
    Interface,
    /// An existing file, stored as its canonical absolute path.
    ExistingFile,
    /// `user`, `group:NAME` or `all` (see `security::SocketAccess`).
    SocketAccess,
    /// `any`, a user name or a uid.
    DaemonOwner,
}

/// How an integer is normalised before it is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntRule {
    /// Kept as given.
    Any,
    /// Absolute value.
    Abs,
    /// Absolute value, 0 turned into 1.
    AbsAtLeastOne,
    /// Files: 0 ignored, else absolute value. Command line: 0 ignored, a
    /// negative value ignored with C FLoM's notice.
    Quantity,
    /// Files: 0 ignored, else absolute value. Command line: absolute value.
    IdleLifespan,
}

/// The kind of value of a setting, with its default and its slot.
pub enum Kind {
    Text(TextCheck, Slot<Option<String>>),
    /// yes/no/y/n in any letter case.
    YesNo(bool, Slot<bool>),
    /// A switch on the command line (it can only turn on), yes/no in files.
    Switch(Slot<bool>),
    Int(IntRule, i32, Slot<i32>),
    LockMode(LockMode, Slot<LockMode>),
    ResourceName(Slot<String>),
    /// Signal names or numbers; a new list replaces the previous one.
    Signals(Slot<Vec<i32>>),
}

/// The line C FLoM prints first when the command line gives a bad value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CLine {
    /// `OPTION: 'V' is an invalid value` on stdout.
    InvalidOnStdout,
    /// `OPTION: 'V' is an invalid value` on stderr.
    InvalidOnStderr,
    /// `OPTION: 'V' is not a valid value` on stderr.
    NotValidOnStderr,
    /// The resource-name lines (`ERROR: ...` and the return code), alone.
    ResourceName,
    /// No bad value (it is a parse error, or ignored with a warning).
    None,
}

/// One setting.
pub struct Setting {
    pub short: &'static str,
    pub long: &'static str,
    /// Value placeholder in the help ("" for a switch).
    pub hint: &'static str,
    pub help: &'static str,
    pub group: &'static str,
    pub key: &'static str,
    pub kind: Kind,
    pub c_line: CLine,
}

impl Setting {
    /// Whether the command-line option takes a value.
    pub fn takes_value(&self) -> bool {
        !matches!(self.kind, Kind::Switch(_))
    }

    /// Whether the command-line option takes an integer.
    pub fn is_int(&self) -> bool {
        matches!(self.kind, Kind::Int(..))
    }

    /// The option names for messages: `-l/--lock-mode` or `--discovery-ttl`.
    pub fn option_names(&self) -> String {
        if self.short.is_empty() {
            format!("--{}", self.long)
        } else {
            format!("-{}/--{}", self.short, self.long)
        }
    }

    /// Stores the built-in default.
    pub fn reset(&self, c: &mut Config) {
        match &self.kind {
            Kind::Text(_, s) => *(s.get_mut)(c) = None,
            Kind::YesNo(d, s) => *(s.get_mut)(c) = *d,
            Kind::Switch(s) => *(s.get_mut)(c) = false,
            Kind::Int(_, d, s) => *(s.get_mut)(c) = *d,
            Kind::LockMode(d, s) => *(s.get_mut)(c) = *d,
            Kind::ResourceName(s) => *(s.get_mut)(c) = DEFAULT_RESOURCE_NAME.to_string(),
            Kind::Signals(s) => (s.get_mut)(c).clear(),
        }
    }

    /// The `--verbose` dump line, without the newline.
    pub fn dump_line(&self, c: &Config) -> String {
        let value = match &self.kind {
            Kind::Text(_, s) => format!("'{}'", (s.get)(c).as_deref().unwrap_or("")),
            Kind::YesNo(_, s) | Kind::Switch(s) => u8::from(*(s.get)(c)).to_string(),
            Kind::Int(_, _, s) => (s.get)(c).to_string(),
            Kind::LockMode(_, s) => (s.get)(c).code().to_string(),
            Kind::ResourceName(s) => format!("'{}'", (s.get)(c)),
            Kind::Signals(s) => {
                let names: Vec<&str> = (s.get)(c).iter().filter_map(|&n| signal_name(n)).collect();
                format!("'{}'", names.join(";"))
            }
        };
        format!("[{}]/{}={}", self.group, self.key, value)
    }

    /// Validates a text value (already decoded from its source) and stores
    /// it. `Ok(Some(line))`: the value was ignored, print `line` on stderr.
    /// Integers go through [`Setting::store_int`], signal lists through
    /// [`Setting::store_signals`].
    pub fn store_text(
        &self,
        c: &mut Config,
        text: &str,
        place: &Place,
    ) -> Result<Option<String>, Invalid> {
        let invalid = |reason: String| Invalid {
            reason,
            resource_name: None,
        };
        match &self.kind {
            Kind::Text(check, s) => {
                if text.is_empty() {
                    *(s.get_mut)(c) = None;
                    return Ok(None);
                }
                let value = match check {
                    TextCheck::Any => text.to_string(),
                    TextCheck::SocketName => {
                        check_socket_name(text).map_err(invalid)?;
                        text.to_string()
                    }
                    TextCheck::MountPoint => {
                        check_mount_point(text).map_err(|r| {
                            invalid(format!(
                                "{r}; the mount point must be an existing directory"
                            ))
                        })?;
                        text.to_string()
                    }
                    TextCheck::Interface => {
                        if !interface_has_ipv6(text) {
                            return Ok(Some(place.sentence(&format!(
                                "network interface '{text}' has no IPv6 address; the setting is ignored"
                            ))));
                        }
                        text.to_string()
                    }
                    TextCheck::ExistingFile => canonical_file(text)
                        .map_err(|r| invalid(format!("{r}; give an existing file")))?,
                    TextCheck::SocketAccess => {
                        crate::security::SocketAccess::parse(text).map_err(invalid)?;
                        text.to_string()
                    }
                    TextCheck::DaemonOwner => {
                        crate::security::check_daemon_owner(text).map_err(invalid)?;
                        text.to_string()
                    }
                };
                *(s.get_mut)(c) = Some(value);
            }
            Kind::YesNo(_, s) | Kind::Switch(s) => {
                *(s.get_mut)(c) = parse_bool(text).ok_or_else(|| {
                    invalid(format!(
                        "'{text}' is not a yes/no value; use yes, no, y or n, in any letter case"
                    ))
                })?;
            }
            Kind::LockMode(_, s) => {
                *(s.get_mut)(c) = LockMode::parse(text).ok_or_else(|| {
                    invalid(format!(
                        "'{text}' is not a valid lock mode; use NL, CR, CW, PR, PW or EX (or NullLock, ConcurrentRead, ConcurrentWrite, ProtectedRead, ProtectedWrite, Exclusive), in any letter case"
                    ))
                })?;
            }
            Kind::ResourceName(s) => match validate_resource_name(text) {
                Ok(()) => *(s.get_mut)(c) = text.to_string(),
                Err(e) => {
                    let reason = match e {
                        ResourceNameError::Reserved => {
                            format!("'{text}' is a reserved resource name and cannot be set; leave the name out to lock the default resource")
                        }
                        ResourceNameError::Invalid => {
                            let hint = if text.ends_with(|ch| {
                                matches!(ch, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
                            }) {
                                " (note the trailing whitespace)"
                            } else {
                                ""
                            };
                            format!("'{text}' is not a valid resource name{hint}; use NAME, NAME[N], A.B.C, /A/B/C, _s_NAME[N], _S_NAME[N] or _t_FORMAT[N], where NAME is a letter followed by letters and digits (see flom(1))")
                        }
                    };
                    return Err(Invalid {
                        reason,
                        resource_name: Some(e),
                    });
                }
            },
            Kind::Int(..) | Kind::Signals(_) => {
                unreachable!("{}: not a text setting", self.long)
            }
        }
        Ok(None)
    }

    /// Normalises and stores an integer (already parsed by its source).
    /// `Some(line)`: the value was ignored, print `line` on stderr.
    pub fn store_int(&self, c: &mut Config, v: i32, place: &Place) -> Option<String> {
        let Kind::Int(rule, _, s) = &self.kind else {
            unreachable!("{}: not an integer setting", self.long)
        };
        let from_file = matches!(place, Place::File { .. });
        let value = match rule {
            IntRule::Any => Some(v),
            IntRule::Abs => Some(abs_value(v)),
            IntRule::AbsAtLeastOne => Some(abs_at_least_one(v)),
            IntRule::Quantity if from_file => (v != 0).then(|| abs_value(v)),
            IntRule::Quantity if v < 0 => {
                return Some(format!(
                    "Resource quantity ignored because negative values ({v}) are meaningless"
                ))
            }
            IntRule::Quantity => (v > 0).then_some(v),
            IntRule::IdleLifespan if from_file => (v != 0).then(|| abs_value(v)),
            IntRule::IdleLifespan => Some(abs_value(v)),
        };
        if let Some(v) = value {
            *(s.get_mut)(c) = v;
        }
        None
    }

    /// Replaces the signal list; unknown items are dropped, each with a
    /// warning line (returned, for stderr).
    pub fn store_signals(&self, c: &mut Config, items: &[String], place: &Place) -> Vec<String> {
        let Kind::Signals(_) = &self.kind else {
            unreachable!("{}: not a signal list", self.long)
        };
        let mut warnings = Vec::new();
        let mut signals = Vec::new();
        for item in items {
            match parse_signal(item) {
                Some(n) => signals.push(n),
                None => warnings.push(place.sentence(&format!(
                    "'{item}' is not a signal name or number (1-31); it is ignored (see flom --signal-list)"
                ))),
            }
        }
        c.set_ignored_signals(signals);
        warnings
    }
}

/// A rejected value: why (a clause for [`Place::sentence`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub reason: String,
    /// Set for resource names (the command line prints C FLoM's lines).
    pub resource_name: Option<ResourceNameError>,
}

/// Where a value came from.
#[derive(Clone, Copy)]
pub enum Place<'a> {
    Option(&'a Setting),
    File {
        path: &'a Path,
        line: usize,
        setting: &'a Setting,
    },
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Option(s) => write!(f, "option {}", s.option_names()),
            Place::File {
                path,
                line,
                setting,
            } => write!(
                f,
                "{}:{}: [{}]/{}",
                path.display(),
                line,
                setting.group,
                setting.key
            ),
        }
    }
}

impl Place<'_> {
    /// The sentence for a mistake made here: `flom: PLACE: REASON.`
    pub fn sentence(&self, reason: &str) -> String {
        format!("flom: {self}: {reason}.")
    }
}

/// The setting with this long option name.
pub fn by_long(long: &str) -> Option<&'static Setting> {
    all().find(|s| !s.long.is_empty() && s.long == long)
}

/// The setting with this config group and key.
pub fn by_key(group: &str, key: &str) -> Option<&'static Setting> {
    all().find(|s| s.group == group && s.key == key)
}

/// Every setting: C FLoM's 29, then our extensions.
pub fn all() -> impl Iterator<Item = &'static Setting> {
    SETTINGS.iter().chain(extensions())
}

/// The settings of our own, not in C FLoM: read from the command line and
/// the config files like the others, but never part of C's `--verbose`
/// dump (which stays byte-identical). Each feature keeps its own list.
pub fn extensions() -> impl Iterator<Item = &'static Setting> {
    EXTENSIONS.iter().flat_map(|list| list.iter())
}

static EXTENSIONS: [&[Setting]; 4] = [
    SECURITY_SETTINGS,
    OPERATOR_SETTINGS,
    SERVICE_SETTINGS,
    ETCD_SETTINGS,
];

/// Local security: who may connect, file ownership, idle connections.
static SECURITY_SETTINGS: &[Setting] = &[
    setting(
        "",
        "socket-access",
        "user|group:NAME|all",
        "Who may connect to the daemon's UNIX socket besides its user and root",
        ("Daemon", "SocketAccess"),
        Kind::Text(TextCheck::SocketAccess, slot!(socket_access)),
        CLine::None,
    ),
    setting(
        "",
        "daemon-owner",
        "USER|any",
        "Also trust a daemon (UNIX socket) run by this user",
        ("Daemon", "DaemonOwner"),
        Kind::Text(TextCheck::DaemonOwner, slot!(daemon_owner)),
        CLine::None,
    ),
    setting(
        "",
        "request-timeout",
        "MILLISECONDS",
        "Close a connection that sends no complete request in this time (0: never)",
        ("Daemon", "RequestTimeout"),
        Kind::Int(
            IntRule::Any,
            DEFAULT_REQUEST_TIMEOUT_MS,
            slot!(request_timeout),
        ),
        CLine::None,
    ),
    setting(
        "",
        "restrict-tcp-shutdown",
        "yes|no",
        "Accept -x/-X over TCP only from loopback or TLS peers",
        ("Network", "RestrictTcpShutdown"),
        Kind::YesNo(false, slot!(restrict_tcp_shutdown)),
        CLine::None,
    ),
];

/// The default of `[Daemon]/RequestTimeout`.
pub const DEFAULT_REQUEST_TIMEOUT_MS: i32 = 10_000;

/// Operator features: status, fencing, queue fairness.
static OPERATOR_SETTINGS: &[Setting] = &[
    setting(
        "",
        "strict-fifo",
        "",
        "Daemon grants strictly in arrival order (no passing queued requests)",
        ("Daemon", "StrictFifo"),
        Kind::Switch(slot!(strict_fifo)),
        CLine::None,
    ),
    Setting {
        short: "",
        long: "fencing",
        hint: "",
        help: "Ask for a fencing token: the command gets it as FLOM_FENCING_TOKEN",
        group: "Resource",
        key: "Fencing",
        kind: Kind::Switch(slot!(fencing)),
        c_line: CLine::None,
    },
];

/// Running as a service (systemd).
static SERVICE_SETTINGS: &[Setting] = &[
    // Command line only (no config key): a config file must not turn every
    // `flom` into a daemon.
    setting(
        "",
        "foreground-daemon",
        "",
        "Be the daemon, in the foreground, as a service (e.g. systemd)",
        ("Daemon", ""),
        Kind::Switch(slot!(foreground_daemon)),
        CLine::None,
    ),
    setting(
        "",
        "service-lifespan",
        "MS",
        "Idle time before a --foreground-daemon exits (<=0 never, default)",
        ("Daemon", "ServiceLifespan"),
        Kind::Int(IntRule::Any, -1, slot!(service_lifespan)),
        CLine::None,
    ),
];

/// Locks kept in etcd ([Etcd] group).
static ETCD_SETTINGS: &[Setting] = &[
    setting(
        "",
        "etcd-endpoints",
        "URL[,URL...]",
        "Keep the daemon's locks in this etcd cluster (v3 JSON gateway URLs)",
        ("Etcd", "Endpoints"),
        Kind::Text(TextCheck::Any, slot!(etcd_endpoints)),
        CLine::NotValidOnStderr,
    ),
    setting(
        "",
        "etcd-prefix",
        "PREFIX",
        "Key prefix of the lock space in etcd (default /flom/)",
        ("Etcd", "Prefix"),
        Kind::Text(TextCheck::Any, slot!(etcd_prefix)),
        CLine::NotValidOnStderr,
    ),
    setting(
        "",
        "etcd-lease-ttl",
        "SECONDS",
        "TTL of the daemon's etcd lease: a daemon cut off loses its locks after it",
        ("Etcd", "LeaseTtl"),
        Kind::Int(
            IntRule::AbsAtLeastOne,
            DEFAULT_ETCD_LEASE_TTL,
            slot!(etcd_lease_ttl),
        ),
        CLine::InvalidOnStderr,
    ),
    setting(
        "",
        "etcd-ca-file",
        "FILE",
        "PEM file with the CA certificate of the etcd members (https:// endpoints)",
        ("Etcd", "CaFile"),
        Kind::Text(TextCheck::ExistingFile, slot!(etcd_ca_file)),
        CLine::NotValidOnStderr,
    ),
    setting(
        "",
        "etcd-cert-file",
        "FILE",
        "PEM file with the client certificate the daemon shows etcd",
        ("Etcd", "CertFile"),
        Kind::Text(TextCheck::ExistingFile, slot!(etcd_cert_file)),
        CLine::NotValidOnStderr,
    ),
    setting(
        "",
        "etcd-key-file",
        "FILE",
        "PEM file with the private key of --etcd-cert-file",
        ("Etcd", "KeyFile"),
        Kind::Text(TextCheck::ExistingFile, slot!(etcd_key_file)),
        CLine::NotValidOnStderr,
    ),
];

/// The order in which C FLoM applies the command line over the config files
/// (it decides which bad value is reported first), by long name.
pub const COMMAND_LINE_ORDER: [&str; 29] = [
    "daemon-trace-file",
    "command-trace-file",
    "verbose",
    "resource-name",
    "resource-quantity",
    "resource-timeout",
    "lock-mode",
    "resource-create",
    "resource-idle-lifespan",
    "socket-name",
    "daemon-lifespan",
    "unicast-address",
    "unicast-port",
    "multicast-address",
    "multicast-port",
    "mount-point-vfs",
    "network-interface",
    "discovery-attempts",
    "discovery-timeout",
    "discovery-ttl",
    "tcp-keepalive-time",
    "tcp-keepalive-intvl",
    "tcp-keepalive-probes",
    "ignore-signal",
    "tls-certificate",
    "tls-private-key",
    "tls-ca-certificate",
    "tls-check-peer-id",
    "append-trace-file",
];

const fn setting(
    short: &'static str,
    long: &'static str,
    hint: &'static str,
    help: &'static str,
    (group, key): (&'static str, &'static str),
    kind: Kind,
    c_line: CLine,
) -> Setting {
    Setting {
        short,
        long,
        hint,
        help,
        group,
        key,
        kind,
        c_line,
    }
}

use CLine::{InvalidOnStderr, InvalidOnStdout, NotValidOnStderr};

/// Every setting, in the order of the config files' reading and of the
/// `--verbose` dump.
pub static SETTINGS: [Setting; 29] = [
    setting(
        "t",
        "daemon-trace-file",
        "FILE",
        "Trace file of the daemon (absolute path)",
        ("Trace", "DaemonTraceFile"),
        Kind::Text(TextCheck::Any, slot!(daemon_trace_file)),
        CLine::None,
    ),
    setting(
        "T",
        "command-trace-file",
        "FILE",
        "Trace file of this command (absolute path)",
        ("Trace", "CommandTraceFile"),
        Kind::Text(TextCheck::Any, slot!(command_trace_file)),
        CLine::None,
    ),
    setting(
        "",
        "append-trace-file",
        "yes|no",
        "Append to the trace files instead of truncating them",
        ("Trace", "AppendTraceFile"),
        Kind::YesNo(false, slot!(append_trace_file)),
        InvalidOnStderr,
    ),
    setting(
        "V",
        "verbose",
        "",
        "Print the effective configuration and progress messages",
        ("Trace", "Verbose"),
        Kind::Switch(slot!(verbose)),
        CLine::None,
    ),
    setting(
        "r",
        "resource-name",
        "NAME",
        "Name of the resource to lock (default _RESOURCE)",
        ("Resource", "Name"),
        Kind::ResourceName(slot!(resource_name)),
        CLine::ResourceName,
    ),
    setting(
        "o",
        "resource-timeout",
        "MS",
        "Maximum wait for the lock in milliseconds (<0 forever, 0 do not wait)",
        ("Resource", "Timeout"),
        Kind::Int(IntRule::Any, -1, slot!(resource_timeout)),
        CLine::None,
    ),
    setting(
        "q",
        "resource-quantity",
        "N",
        "Number of units to lock (numeric resources)",
        ("Resource", "Quantity"),
        Kind::Int(IntRule::Quantity, 1, slot!(resource_quantity)),
        CLine::None,
    ),
    setting(
        "l",
        "lock-mode",
        "MODE",
        "Lock mode: NL, CR, CW, PR, PW or EX (default EX)",
        ("Resource", "LockMode"),
        Kind::LockMode(LockMode::Exclusive, slot!(lock_mode)),
        InvalidOnStderr,
    ),
    setting(
        "e",
        "resource-create",
        "yes|no",
        "Whether the request may create a missing resource",
        ("Resource", "Create"),
        Kind::YesNo(true, slot!(resource_create)),
        InvalidOnStdout,
    ),
    setting(
        "i",
        "resource-idle-lifespan",
        "MS",
        "How long an unused resource is kept, in milliseconds",
        ("Resource", "IdleLifespan"),
        Kind::Int(IntRule::IdleLifespan, 0, slot!(resource_idle_lifespan)),
        CLine::None,
    ),
    setting(
        "s",
        "socket-name",
        "PATH",
        "UNIX socket of the local daemon (default /tmp/flom-LOGIN)",
        ("Daemon", "SocketName"),
        Kind::Text(TextCheck::SocketName, slot!(socket_name)),
        InvalidOnStderr,
    ),
    setting(
        "d",
        "daemon-lifespan",
        "MS",
        "Idle lifetime of an auto-started daemon (0 never start one, <0 forever)",
        ("Daemon", "Lifespan"),
        Kind::Int(IntRule::Any, DEFAULT_LIFESPAN_MS, slot!(daemon_lifespan)),
        CLine::None,
    ),
    setting(
        "a",
        "unicast-address",
        "HOST",
        "TCP/IP address of the daemon",
        ("Daemon", "UnicastAddress"),
        Kind::Text(TextCheck::Any, slot!(unicast_address)),
        CLine::None,
    ),
    setting(
        "p",
        "unicast-port",
        "PORT",
        "TCP/IP port of the daemon (default 28015)",
        ("Daemon", "UnicastPort"),
        Kind::Int(IntRule::Abs, DEFAULT_PORT, slot!(unicast_port)),
        CLine::None,
    ),
    setting(
        "A",
        "multicast-address",
        "ADDR",
        "UDP/IP multicast address used to discover the daemon",
        ("Daemon", "MulticastAddress"),
        Kind::Text(TextCheck::Any, slot!(multicast_address)),
        CLine::None,
    ),
    setting(
        "P",
        "multicast-port",
        "PORT",
        "UDP/IP multicast port used to discover the daemon (default 28015)",
        ("Daemon", "MulticastPort"),
        Kind::Int(IntRule::Abs, DEFAULT_PORT, slot!(multicast_port)),
        CLine::None,
    ),
    setting(
        "m",
        "mount-point-vfs",
        "DIR",
        "Mount point of the daemon's virtual file system",
        ("Daemon", "MountPointVFS"),
        Kind::Text(TextCheck::MountPoint, slot!(mount_point_vfs)),
        InvalidOnStderr,
    ),
    setting(
        "",
        "ignore-signal",
        "SIGNAL",
        "Signal ignored while the command runs (repeatable)",
        ("Monitor", "IgnoredSignals"),
        Kind::Signals(slot!(ignored_signals)),
        CLine::None,
    ),
    setting(
        "n",
        "network-interface",
        "IFNAME",
        "Network interface for IPv6 link-local addresses",
        ("Network", "NetworkInterface"),
        Kind::Text(TextCheck::Interface, slot!(network_interface)),
        CLine::None,
    ),
    setting(
        "D",
        "discovery-attempts",
        "N",
        "Number of UDP/IP discovery requests (default 2)",
        ("Network", "DiscoveryAttempts"),
        Kind::Int(
            IntRule::AbsAtLeastOne,
            DEFAULT_DISCOVERY_ATTEMPTS,
            slot!(discovery_attempts),
        ),
        CLine::None,
    ),
    setting(
        "I",
        "discovery-timeout",
        "MS",
        "Wait for each discovery reply, in milliseconds (default 500)",
        ("Network", "DiscoveryTimeout"),
        Kind::Int(
            IntRule::Abs,
            DEFAULT_DISCOVERY_TIMEOUT_MS,
            slot!(discovery_timeout),
        ),
        CLine::None,
    ),
    setting(
        "",
        "discovery-ttl",
        "N",
        "Hop limit of discovery datagrams (default 1)",
        ("Network", "DiscoveryTTL"),
        Kind::Int(
            IntRule::AbsAtLeastOne,
            DEFAULT_DISCOVERY_TTL,
            slot!(discovery_ttl),
        ),
        CLine::None,
    ),
    setting(
        "",
        "tcp-keepalive-time",
        "S",
        "TCP keepalive idle time in seconds (default 60)",
        ("Network", "TcpKeepaliveTime"),
        Kind::Int(
            IntRule::Abs,
            DEFAULT_TCP_KEEPALIVE_TIME,
            slot!(tcp_keepalive_time),
        ),
        CLine::None,
    ),
    setting(
        "",
        "tcp-keepalive-intvl",
        "S",
        "TCP keepalive probe interval in seconds (default 10)",
        ("Network", "TcpKeepaliveIntvl"),
        Kind::Int(
            IntRule::Abs,
            DEFAULT_TCP_KEEPALIVE_INTVL,
            slot!(tcp_keepalive_intvl),
        ),
        CLine::None,
    ),
    setting(
        "",
        "tcp-keepalive-probes",
        "N",
        "TCP keepalive probe count (default 6)",
        ("Network", "TcpKeepaliveProbes"),
        Kind::Int(
            IntRule::Abs,
            DEFAULT_TCP_KEEPALIVE_PROBES,
            slot!(tcp_keepalive_probes),
        ),
        CLine::None,
    ),
    setting(
        "",
        "tls-certificate",
        "FILE",
        "PEM file with the X.509 certificate of this peer",
        ("TLS", "TlsCertificate"),
        Kind::Text(TextCheck::ExistingFile, slot!(tls_certificate)),
        NotValidOnStderr,
    ),
    setting(
        "",
        "tls-private-key",
        "FILE",
        "PEM file with the private key of this peer",
        ("TLS", "TlsPrivateKey"),
        Kind::Text(TextCheck::ExistingFile, slot!(tls_private_key)),
        NotValidOnStderr,
    ),
    setting(
        "",
        "tls-ca-certificate",
        "FILE",
        "PEM file with the certificate of the certification authority",
        ("TLS", "TlsCaCertificate"),
        Kind::Text(TextCheck::ExistingFile, slot!(tls_ca_certificate)),
        NotValidOnStderr,
    ),
    setting(
        "",
        "tls-check-peer-id",
        "yes|no",
        "Check that the peer's unique id matches its certificate",
        ("TLS", "TlsCheckPeerId"),
        Kind::YesNo(false, slot!(tls_check_peer_id)),
        InvalidOnStdout,
    ),
];

#[cfg(test)]
#[path = "options_tests.rs"]
mod tests;
