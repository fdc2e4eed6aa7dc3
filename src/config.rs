//! Configuration: the `Config` struct, the INI files (`<sysconfdir>/flom.conf`,
//! `~/.flom`, `-c FILE`) read by a hand-written GLib key-file parser, the
//! layering of those files, the consistency check and the lock-mode/quantity
//! adjustment that depends on the resource type. Keys, defaults, validation
//! and the `--verbose` dump lines come from the option table (`options`).
//!
//! Differences from C FLoM (deliberate): values are parsed strictly (yes/no/y/n
//! and lock-mode names in any letter case, decimal integers); groups are
//! optional, so an empty file is fine; a syntax error in any file (system and
//! user files included) is reported with the file name and line instead of
//! the file being silently skipped; an empty value of an optional string key
//! (`SocketName=`) means "unset"; signal names are accepted in any letter case
//! and an unknown signal gives a warning instead of being dropped silently.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::options::{self, Kind, Place};
use crate::resource::{resource_type, LockMode};

pub const DEFAULT_LIFESPAN_MS: i32 = 5000;
pub const DEFAULT_PORT: i32 = 28015;
pub const DEFAULT_DISCOVERY_ATTEMPTS: i32 = 2;
pub const DEFAULT_DISCOVERY_TIMEOUT_MS: i32 = 500;
pub const DEFAULT_DISCOVERY_TTL: i32 = 1;
pub const DEFAULT_TCP_KEEPALIVE_TIME: i32 = 60;
/// The etcd lease TTL in seconds (`[Etcd]/LeaseTtl`).
pub const DEFAULT_ETCD_LEASE_TTL: i32 = 10;
pub const DEFAULT_TCP_KEEPALIVE_INTVL: i32 = 10;
pub const DEFAULT_TCP_KEEPALIVE_PROBES: i32 = 6;
/// Size of `sun_path`: a socket name must be strictly shorter than this.
pub const UNIX_PATH_MAX: usize = 108;
/// Name of the system configuration file inside SYSCONFDIR.
pub const SYSTEM_CONFIG_FILE_NAME: &str = "flom.conf";
/// Name of the user configuration file inside the home directory.
pub const USER_CONFIG_FILE_NAME: &str = ".flom";

/// Every setting of `flom`, as the command line and config files set them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    // [Trace]
    pub daemon_trace_file: Option<String>,
    pub command_trace_file: Option<String>,
    pub append_trace_file: bool,
    pub verbose: bool,
    // [Resource]
    pub resource_name: String,
    pub resource_timeout: i32,
    pub resource_quantity: i32,
    pub lock_mode: LockMode,
    pub resource_create: bool,
    pub resource_idle_lifespan: i32,
    // [Daemon]
    pub socket_name: Option<String>,
    pub daemon_lifespan: i32,
    pub unicast_address: Option<String>,
    pub unicast_port: i32,
    pub multicast_address: Option<String>,
    pub multicast_port: i32,
    pub mount_point_vfs: Option<String>,
    // [Monitor]
    /// Signal numbers (1..=31), ascending, no duplicates.
    pub ignored_signals: Vec<i32>,
    // [Network]
    pub network_interface: Option<String>,
    pub discovery_attempts: i32,
    pub discovery_timeout: i32,
    pub discovery_ttl: i32,
    pub tcp_keepalive_time: i32,
    pub tcp_keepalive_intvl: i32,
    pub tcp_keepalive_probes: i32,
    // [TLS]
    pub tls_certificate: Option<String>,
    pub tls_private_key: Option<String>,
    pub tls_ca_certificate: Option<String>,
    pub tls_check_peer_id: bool,
    // Operator features, queue fairness: `--strict-fifo`, [Daemon]/StrictFifo.
    pub strict_fifo: bool,
    // Running as a service (systemd): `--foreground-daemon` (command line
    // only) and `--service-lifespan`, [Daemon]/ServiceLifespan.
    pub foreground_daemon: bool,
    pub service_lifespan: i32,
    // Operator features (OPERATOR_SETTINGS): fencing tokens.
    /// Ask the daemon for a fencing token with each lock (`--fencing`,
    /// `[Resource]/Fencing`); the command gets it as FLOM_FENCING_TOKEN.
    pub fencing: bool,
    // Local security (SECURITY_SETTINGS of `options`): who may connect to
    // the daemon, whose daemon the client trusts, shutdown over TCP, and
    // the bound on a connection's first request.
    pub socket_access: Option<String>,
    pub daemon_owner: Option<String>,
    pub restrict_tcp_shutdown: bool,
    pub request_timeout: i32,
    // [Etcd]: locks kept in etcd (store::etcd)
    /// Comma-separated endpoint URLs; set: the daemon keeps its locks in etcd.
    pub etcd_endpoints: Option<String>,
    /// Key prefix (None: `/flom/`).
    pub etcd_prefix: Option<String>,
    /// Lease TTL in seconds.
    pub etcd_lease_ttl: i32,
    /// TLS to `https://` endpoints: the CA of the members' certificates,
    /// and this daemon's client certificate and key.
    pub etcd_ca_file: Option<String>,
    pub etcd_cert_file: Option<String>,
    pub etcd_key_file: Option<String>,
}

impl Default for Config {
    /// The built-in defaults, as the option table declares them.
    fn default() -> Self {
        let mut c = Config {
            daemon_trace_file: None,
            command_trace_file: None,
            append_trace_file: false,
            verbose: false,
            resource_name: String::new(),
            resource_timeout: 0,
            resource_quantity: 0,
            lock_mode: LockMode::Exclusive,
            resource_create: false,
            resource_idle_lifespan: 0,
            socket_name: None,
            daemon_lifespan: 0,
            unicast_address: None,
            unicast_port: 0,
            multicast_address: None,
            multicast_port: 0,
            mount_point_vfs: None,
            ignored_signals: Vec::new(),
            network_interface: None,
            discovery_attempts: 0,
            discovery_timeout: 0,
            discovery_ttl: 0,
            tcp_keepalive_time: 0,
            tcp_keepalive_intvl: 0,
            tcp_keepalive_probes: 0,
            tls_certificate: None,
            tls_private_key: None,
            tls_ca_certificate: None,
            tls_check_peer_id: false,
            strict_fifo: false,
            foreground_daemon: false,
            service_lifespan: 0,
            fencing: false,
            socket_access: None,
            daemon_owner: None,
            restrict_tcp_shutdown: false,
            request_timeout: 0,
            etcd_endpoints: None,
            etcd_prefix: None,
            etcd_lease_ttl: DEFAULT_ETCD_LEASE_TTL,
            etcd_ca_file: None,
            etcd_cert_file: None,
            etcd_key_file: None,
        };
        for setting in options::all() {
            setting.reset(&mut c);
        }
        c
    }
}

impl Config {
    /// The AF_UNIX socket path: the configured one, else `/tmp/flom-<login>`
    /// (login of the real uid from passwd, `nobody` when unknown).
    pub fn socket_path(&self) -> String {
        match &self.socket_name {
            Some(s) => s.clone(),
            None => format!("/tmp/flom-{}", login_name()),
        }
    }

    /// Whether the transport is TCP (with or without discovery) rather than
    /// the AF_UNIX socket: no socket name and an address configured.
    pub fn uses_network(&self) -> bool {
        self.socket_name.is_none()
            && (self.unicast_address.is_some() || self.multicast_address.is_some())
    }

    /// Whether TLS is configured (all three files set).
    pub fn tls_enabled(&self) -> bool {
        self.tls_certificate.is_some()
            && self.tls_private_key.is_some()
            && self.tls_ca_certificate.is_some()
    }

    /// Replaces the ignored-signal set (keeps it ascending without duplicates).
    pub fn set_ignored_signals(&mut self, mut signals: Vec<i32>) {
        signals.sort_unstable();
        signals.dedup();
        self.ignored_signals = signals;
    }
}

/// The passwd name of the real uid, `nobody` when it has none.
pub fn login_name() -> String {
    // SAFETY: getpwuid returns a pointer into static storage or NULL; we copy
    // the name out at once and the process is single-threaded here.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if pw.is_null() || (*pw).pw_name.is_null() {
            return "nobody".to_string();
        }
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

/// This host's unique id: the D-Bus machine id (32 lowercase hex), empty when
/// it cannot be read. Sent as `peerid` on the wire.
pub fn unique_id() -> String {
    // Read once per process: every connection and handle sends it.
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(read_machine_id).clone()
}

fn read_machine_id() -> String {
    for path in ["/var/lib/dbus/machine-id", "/etc/machine-id"] {
        if let Ok(s) = std::fs::read_to_string(path) {
            let id = s.trim();
            if !id.is_empty() {
                return id.to_string();
            }
        }
    }
    String::new()
}

pub use crate::values::{
    abs_at_least_one, abs_value, canonical_file, check_mount_point, check_socket_name,
    interface_has_ipv6, io_reason, parse_bool, parse_signal, signal_list, signal_name,
    validate_resource_name, ResourceNameError, SIGNAL_NAMES,
};

use crate::keyfile::is_space;
pub use crate::keyfile::{parse_decimal_i32, split_list, unescape, Entry, KeyFile, SyntaxError};

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// What went wrong with a configuration file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigErrorKind {
    /// The file could not be read (only for `-c FILE`).
    Unreadable,
    /// The file is not valid key-file text.
    Syntax,
    /// A key has an invalid value.
    InvalidValue,
}

/// A configuration file error: which file, which line, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub kind: ConfigErrorKind,
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(n) => write!(f, "flom: {}:{}: {}.", self.path.display(), n, self.message),
            None => write!(f, "flom: {}: {}.", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// The C-compatible line printed on stdout.
    pub fn stdout_line(&self) -> String {
        match self.kind {
            ConfigErrorKind::Unreadable | ConfigErrorKind::Syntax => {
                format!("ERROR: error while loading file '{}'", self.path.display())
            }
            ConfigErrorKind::InvalidValue => format!(
                "ERROR: invalid configuration found in file '{}'",
                self.path.display()
            ),
        }
    }

    /// Prints the error: the C line on `out` (stdout), the clear sentence
    /// naming file and line on `err` (stderr, where C printed its return code).
    pub fn report(&self, out: &mut dyn Write, err: &mut dyn Write) {
        let _ = writeln!(out, "{}", self.stdout_line());
        let _ = out.flush();
        let _ = writeln!(err, "{self}");
    }

    /// The exit status of `flom` for a configuration error.
    pub fn exit_status(&self) -> i32 {
        crate::rc::ES_GENERIC_ERROR
    }
}

/// A conflict found by [`Config::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckError {
    /// A socket name together with a unicast or multicast address.
    LocalAndNetwork,
    /// `TlsCheckPeerId` without the three TLS files.
    TlsCheckPeerIdWithoutTls,
}

impl CheckError {
    /// The `ERROR:` line printed on stdout.
    pub fn message(&self) -> &'static str {
        match self {
            CheckError::LocalAndNetwork => {
                "ERROR: flom can not be configured for local (UNIX socket) and network (TCP-UDP/IP) communication at the same time."
            }
            CheckError::TlsCheckPeerIdWithoutTls => {
                "ERROR: TLS check peer id can not be specified without full TLS configuration."
            }
        }
    }

    /// Prints the C messages: the `ERROR:` line on `out`, the closing line on `err`.
    pub fn report(&self, out: &mut dyn Write, err: &mut dyn Write) {
        let _ = writeln!(out, "{}", self.message());
        let _ = out.flush();
        let _ = writeln!(err, "Configuration is not valid, cannot go on!");
    }

    /// The exit status of `flom` for an invalid configuration.
    pub fn exit_status(&self) -> i32 {
        crate::rc::ES_GENERIC_ERROR
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for CheckError {}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

/// `<SYSCONFDIR>/flom.conf`; SYSCONFDIR is `FLOM_SYSCONFDIR` at build time,
/// `/etc` by default.
pub fn system_config_path() -> PathBuf {
    Path::new(option_env!("FLOM_SYSCONFDIR").unwrap_or("/etc")).join(SYSTEM_CONFIG_FILE_NAME)
}

/// `$HOME/.flom` (passwd home directory when HOME is unset or empty).
pub fn user_config_path() -> Option<PathBuf> {
    let home = match std::env::var_os("HOME") {
        Some(h) if !h.is_empty() => PathBuf::from(h),
        _ => passwd_home()?,
    };
    Some(home.join(USER_CONFIG_FILE_NAME))
}

fn passwd_home() -> Option<PathBuf> {
    // SAFETY: getpwuid returns static storage or NULL; copied out at once.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if pw.is_null() || (*pw).pw_dir.is_null() {
            return None;
        }
        let dir = std::ffi::CStr::from_ptr((*pw).pw_dir).to_string_lossy();
        Some(PathBuf::from(dir.into_owned()))
    }
}

impl Config {
    /// Layers 0–2: defaults, the system file and the user file (what the
    /// library uses). Warnings go to stderr.
    pub fn load() -> Result<Config, ConfigError> {
        Self::load_with_custom(None)
    }

    /// Layers 0–3: defaults, system file, user file and the `-c` file.
    pub fn load_with_custom(custom: Option<&Path>) -> Result<Config, ConfigError> {
        let user = user_config_path();
        Self::load_layers(Some(&system_config_path()), user.as_deref(), custom)
    }

    /// Defaults, then each given file in order. A missing or unreadable
    /// system/user file is skipped; a missing or unreadable custom file is an
    /// error. Warnings (ignored values) are printed on stderr.
    pub fn load_layers(
        system: Option<&Path>,
        user: Option<&Path>,
        custom: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let mut warnings = Vec::new();
        let r = Self::load_layers_collect(system, user, custom, &mut warnings);
        let mut err = std::io::stderr().lock();
        for w in &warnings {
            let _ = writeln!(err, "{w}");
        }
        r
    }

    /// Like [`Config::load_layers`], collecting warnings instead of printing them.
    pub fn load_layers_collect(
        system: Option<&Path>,
        user: Option<&Path>,
        custom: Option<&Path>,
        warnings: &mut Vec<String>,
    ) -> Result<Config, ConfigError> {
        Self::load_layers_reporting(system, user, custom, warnings, &mut Vec::new())
    }

    /// Like [`Config::load_layers_collect`]; `read` gets the files that
    /// were read, in order.
    pub fn load_layers_reporting(
        system: Option<&Path>,
        user: Option<&Path>,
        custom: Option<&Path>,
        warnings: &mut Vec<String>,
        read: &mut Vec<PathBuf>,
    ) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        for (p, required) in [(system, false), (user, false), (custom, true)] {
            if let Some(p) = p {
                if config.apply_file(p, required, warnings)? {
                    read.push(p.to_path_buf());
                }
            }
        }
        Ok(config)
    }

    /// Applies one file. Returns whether it was read. When `required` is
    /// false a file that cannot be read is skipped silently.
    pub fn apply_file(
        &mut self,
        path: &Path,
        required: bool,
        warnings: &mut Vec<String>,
    ) -> Result<bool, ConfigError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(_) if !required => return Ok(false),
            Err(e) => {
                return Err(ConfigError {
                    kind: ConfigErrorKind::Unreadable,
                    path: path.to_path_buf(),
                    line: None,
                    message: format!(
                        "cannot read this configuration file ({}); check the name given with -c/--config-file",
                        io_reason(&e)
                    ),
                })
            }
        };
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
                return Err(ConfigError {
                    kind: ConfigErrorKind::Syntax,
                    path: path.to_path_buf(),
                    line: Some(line),
                    message: "the line is not valid UTF-8 text".to_string(),
                });
            }
        };
        self.apply_str(&text, path, warnings)?;
        Ok(true)
    }

    /// Applies key-file text; `path` only names the origin in messages.
    pub fn apply_str(
        &mut self,
        text: &str,
        path: &Path,
        warnings: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        let kf = KeyFile::parse(text).map_err(|e| ConfigError {
            kind: ConfigErrorKind::Syntax,
            path: path.to_path_buf(),
            line: Some(e.line),
            message: e.message,
        })?;
        self.apply_key_file(&kf, path, warnings)
    }

    /// Applies the known keys of a parsed file, in C FLoM's reading order
    /// (the order of the option table, which decides the error reported
    /// first). Unknown groups/keys are ignored.
    pub fn apply_key_file(
        &mut self,
        kf: &KeyFile,
        path: &Path,
        warnings: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        for setting in options::all() {
            let Some(e) = kf.get(setting.group, setting.key) else {
                continue;
            };
            let place = Place::File {
                path,
                line: e.line,
                setting,
            };
            let invalid = |reason: String| ConfigError {
                kind: ConfigErrorKind::InvalidValue,
                path: path.to_path_buf(),
                line: Some(e.line),
                message: format!("[{}]/{}: {}", e.group, e.key, reason),
            };
            let warning = match &setting.kind {
                Kind::Int(..) => {
                    let v = parse_decimal_i32(&e.raw).map_err(invalid)?;
                    setting.store_int(self, v, &place)
                }
                Kind::Signals(_) => {
                    let items = split_list(&e.raw).map_err(invalid)?;
                    warnings.extend(setting.store_signals(self, &items, &place));
                    None
                }
                kind => {
                    let text = unescape(&e.raw).map_err(invalid)?;
                    // GLib-style values: yes/no and lock modes are trimmed.
                    let text = match kind {
                        Kind::YesNo(..) | Kind::Switch(_) | Kind::LockMode(..) => {
                            text.trim_matches(is_space)
                        }
                        _ => text.as_str(),
                    };
                    setting
                        .store_text(self, text, &place)
                        .map_err(|i| invalid(i.reason))?
                }
            };
            warnings.extend(warning);
        }
        warnings.extend(unknown_names(kf, path));
        Ok(())
    }

    // -----------------------------------------------------------------------
    // Dump, check, adjustment
    // -----------------------------------------------------------------------

    /// The `--verbose` dump: 29 `[Group]/Key=value` lines (one per setting
    /// of the option table, in its order), each ending in `\n`.
    pub fn verbose_dump(&self) -> String {
        let mut out = String::new();
        for setting in options::SETTINGS.iter() {
            out.push_str(&setting.dump_line(self));
            out.push('\n');
        }
        out
    }

    /// The consistency rules checked after every layer: no socket name
    /// together with a network address; no peer-id check without the three
    /// TLS files. Print the error with [`CheckError::report`].
    pub fn check(&self) -> Result<(), CheckError> {
        if self.socket_name.is_some()
            && (self.unicast_address.is_some() || self.multicast_address.is_some())
        {
            return Err(CheckError::LocalAndNetwork);
        }
        if self.tls_check_peer_id && !self.tls_enabled() {
            return Err(CheckError::TlsCheckPeerIdWithoutTls);
        }
        Ok(())
    }

    /// Forces the lock mode to EX for resource types other than simple and
    /// hierarchical, and the quantity to 1 for non-numeric types; in verbose
    /// mode a warning is printed on stderr for each forced value.
    pub fn adjust_for_resource_type(&mut self) {
        let warnings = self.adjust_for_resource_type_collect();
        if self.verbose {
            let mut err = std::io::stderr().lock();
            for w in warnings {
                let _ = writeln!(err, "{w}");
            }
        }
    }

    /// Like [`Config::adjust_for_resource_type`]; returns the warnings (always
    /// computed) instead of printing them.
    pub fn adjust_for_resource_type_collect(&mut self) -> Vec<String> {
        let mut warnings = Vec::new();
        let Some(kind) = resource_type(&self.resource_name) else {
            return warnings;
        };
        if self.lock_mode != LockMode::Exclusive && !kind.uses_lock_mode() {
            warnings.push(format!(
                "flom: warning: a {} resource supports only the exclusive lock mode (EX); the requested lock mode {} is ignored.",
                kind.as_str(),
                self.lock_mode.short_name()
            ));
            self.lock_mode = LockMode::Exclusive;
        }
        if self.resource_quantity != 1 && !kind.uses_quantity() {
            warnings.push(format!(
                "flom: warning: a {} resource does not support the quantity option; the requested quantity {} is ignored.",
                kind.as_str(),
                self.resource_quantity
            ));
            self.resource_quantity = 1;
        }
        warnings
    }
}

// Unknown groups and keys (a misspelt name is ignored, with a warning).

/// A warning for each group and key of `kf` that no setting reads (C
/// FLoM's and our extensions'), naming the file and the line, with the
/// closest known name when one is near; in line order.
fn unknown_names(kf: &KeyFile, path: &Path) -> Vec<String> {
    let known_group = |g: &str| options::all().any(|s| s.group == g);
    let ending = |near: Option<&str>| match near {
        Some(k) => format!("; did you mean {k}?"),
        None => ".".to_string(),
    };
    let mut found: Vec<(usize, String)> = Vec::new();
    for (group, line) in &kf.groups {
        if !known_group(group) {
            let near = closest(group, options::all().map(|s| s.group)).map(|g| format!("[{g}]"));
            found.push((
                *line,
                format!(
                    "flom: warning: {}:{line}: unknown group [{group}] is ignored with its keys{}",
                    path.display(),
                    ending(near.as_deref())
                ),
            ));
        }
    }
    for e in &kf.entries {
        if known_group(&e.group) && options::by_key(&e.group, &e.key).is_none() {
            let keys = options::all().filter(|s| s.group == e.group).map(|s| s.key);
            let near = closest(&e.key, keys).map(|k| format!("'{k}'"));
            found.push((
                e.line,
                format!(
                    "flom: warning: {}:{}: unknown key '{}' in group [{}] is ignored{}",
                    path.display(),
                    e.line,
                    e.key,
                    e.group,
                    ending(near.as_deref())
                ),
            ));
        }
    }
    found.sort_by_key(|(line, _)| *line);
    found.into_iter().map(|(_, w)| w).collect()
}

/// The known name closest to `name` (letter case ignored, at most two
/// edits away).
fn closest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    known
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
