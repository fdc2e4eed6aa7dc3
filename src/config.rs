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
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh temporary directory for one test.
    pub(crate) fn temp_dir(tag: &str) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let d = std::env::temp_dir().join(format!(
            "flom-config-test-{}-{}-{}",
            std::process::id(),
            tag,
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn apply(text: &str) -> Result<(Config, Vec<String>), ConfigError> {
        let mut c = Config::default();
        let mut w = Vec::new();
        c.apply_str(text, Path::new("/x/f.conf"), &mut w)?;
        Ok((c, w))
    }

    fn err(text: &str) -> ConfigError {
        apply(text).unwrap_err()
    }

    #[test]
    fn unknown_groups_and_keys_are_warned_in_line_order() {
        let (c, w) = apply(
            "[Resourc]\nName=x\n[Resource]\ntimeout=5\nQuantity=2\nZzz=1\n[TLS]\nTlsCert=a\n",
        )
        .unwrap();
        assert_eq!(c.resource_quantity, 2);
        assert_eq!(
            w,
            [
                "flom: warning: /x/f.conf:1: unknown group [Resourc] is ignored with its keys; did you mean [Resource]?",
                "flom: warning: /x/f.conf:4: unknown key 'timeout' in group [Resource] is ignored; did you mean 'Timeout'?",
                "flom: warning: /x/f.conf:6: unknown key 'Zzz' in group [Resource] is ignored.",
                "flom: warning: /x/f.conf:8: unknown key 'TlsCert' in group [TLS] is ignored.",
            ]
        );
        // every key of the option table (C's and the extensions') is known
        let mut text = String::new();
        for s in options::all().filter(|s| !s.key.is_empty()) {
            text.push_str(&format!("[{}]\n{}=\n", s.group, s.key));
        }
        let kf = KeyFile::parse(&text).unwrap();
        assert!(unknown_names(&kf, Path::new("f")).is_empty());
        assert_eq!(edit_distance("timeot", "timeout"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    const DEFAULT_DUMP: &str = "[Trace]/DaemonTraceFile=''
[Trace]/CommandTraceFile=''
[Trace]/AppendTraceFile=0
[Trace]/Verbose=1
[Resource]/Name='_RESOURCE'
[Resource]/Timeout=-1
[Resource]/Quantity=1
[Resource]/LockMode=5
[Resource]/Create=1
[Resource]/IdleLifespan=0
[Daemon]/SocketName=''
[Daemon]/Lifespan=5000
[Daemon]/UnicastAddress=''
[Daemon]/UnicastPort=28015
[Daemon]/MulticastAddress=''
[Daemon]/MulticastPort=28015
[Daemon]/MountPointVFS=''
[Monitor]/IgnoredSignals=''
[Network]/NetworkInterface=''
[Network]/DiscoveryAttempts=2
[Network]/DiscoveryTimeout=500
[Network]/DiscoveryTTL=1
[Network]/TcpKeepaliveTime=60
[Network]/TcpKeepaliveIntvl=10
[Network]/TcpKeepaliveProbes=6
[TLS]/TlsCertificate=''
[TLS]/TlsPrivateKey=''
[TLS]/TlsCaCertificate=''
[TLS]/TlsCheckPeerId=0
";

    #[test]
    fn default_dump_byte_for_byte() {
        let c = Config {
            verbose: true,
            ..Config::default()
        };
        assert_eq!(c.verbose_dump(), DEFAULT_DUMP);
        assert_eq!(c.verbose_dump().lines().count(), 29);
    }

    #[test]
    fn dump_with_values() {
        let mut c = Config {
            daemon_trace_file: Some("/tmp/flom_daemon.trc".into()),
            lock_mode: LockMode::ProtectedRead,
            resource_create: false,
            ..Config::default()
        };
        c.set_ignored_signals(vec![15, 3, 15]);
        c.tls_check_peer_id = true;
        let d = c.verbose_dump();
        assert!(d.contains("[Trace]/DaemonTraceFile='/tmp/flom_daemon.trc'\n"));
        assert!(d.contains("[Trace]/Verbose=0\n"));
        assert!(d.contains("[Resource]/LockMode=3\n"));
        assert!(d.contains("[Resource]/Create=0\n"));
        assert!(d.contains("[Monitor]/IgnoredSignals='SIGQUIT;SIGTERM'\n"));
        assert!(d.contains("[TLS]/TlsCheckPeerId=1\n"));
        let lifespans: Vec<&str> = d.lines().filter(|l| l.contains("Lifespan")).collect();
        assert_eq!(
            lifespans,
            vec!["[Resource]/IdleLifespan=0", "[Daemon]/Lifespan=5000"]
        );
    }

    #[test]
    fn strict_booleans_and_signals() {
        for (s, v) in [("yes", true), ("YES", true), ("Y", true), ("y", true)] {
            assert_eq!(parse_bool(s), Some(v));
        }
        for s in ["no", "No", "N", "n", "nO"] {
            assert_eq!(parse_bool(s), Some(false));
        }
        for s in ["maybe", "annoy", "true", "1", "", "yess"] {
            assert_eq!(parse_bool(s), None, "{s}");
        }
        assert_eq!(parse_signal("SIGTERM"), Some(15));
        assert_eq!(parse_signal("sigquit"), Some(3));
        assert_eq!(parse_signal("15"), Some(15));
        assert_eq!(parse_signal("31"), Some(31));
        assert_eq!(parse_signal("0"), None);
        assert_eq!(parse_signal("32"), None);
        assert_eq!(parse_signal("TERM"), None);
        assert_eq!(signal_name(1), Some("SIGHUP"));
        assert_eq!(signal_name(31), Some("SIGSYS"));
        assert_eq!(signal_name(0), None);
        assert_eq!(signal_name(32), None);
    }

    #[test]
    fn signal_list_format() {
        let s = signal_list();
        assert!(s.starts_with("1) SIGHUP\t2) SIGINT\t3) SIGQUIT\t4) SIGILL\t\n5) SIGTRAP\t"));
        assert!(s.ends_with("\n29) SIGIO\t30) SIGPWR\t31) SIGSYS\t\n"));
        assert_eq!(s.lines().count(), 8);
    }

    #[test]
    fn every_key_from_a_file() {
        let dir = temp_dir("keys");
        let cert = write(&dir, "cert.pem", "");
        let key = write(&dir, "key.pem", "");
        let ca = write(&dir, "ca.pem", "");
        let text = format!(
            "[Trace]
DaemonTraceFile=/tmp/flom_daemon.trc
CommandTraceFile=/tmp/flom_command.trc
AppendTraceFile=yes
Verbose=Y
[Resource]
Name=MYRES
Timeout=-100
Quantity=22
LockMode=ProtectedRead
Create=no
IdleLifespan=234
[Daemon]
SocketName=/tmp/foobar
Lifespan=231
UnicastAddress=localhost
UnicastPort=27750
MulticastAddress=239.255.0.3
MulticastPort=-27751
MountPointVFS={dir}
[Monitor]
IgnoredSignals=SIGTERM;3;
[Network]
DiscoveryAttempts=3
DiscoveryTimeout=12345
DiscoveryTTL=4
TcpKeepaliveTime=12345
TcpKeepaliveIntvl=-12346
TcpKeepaliveProbes=12347
[TLS]
TlsCertificate={cert}
TlsPrivateKey={key}
TlsCaCertificate={ca}
TlsCheckPeerId=yes
",
            dir = dir.display(),
            cert = cert.display(),
            key = key.display(),
            ca = ca.display()
        );
        let (c, w) = apply(&text).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.daemon_trace_file.as_deref(), Some("/tmp/flom_daemon.trc"));
        assert_eq!(
            c.command_trace_file.as_deref(),
            Some("/tmp/flom_command.trc")
        );
        assert!(c.append_trace_file && c.verbose);
        assert_eq!(c.resource_name, "MYRES");
        assert_eq!(c.resource_timeout, -100);
        assert_eq!(c.resource_quantity, 22);
        assert_eq!(c.lock_mode, LockMode::ProtectedRead);
        assert!(!c.resource_create);
        assert_eq!(c.resource_idle_lifespan, 234);
        assert_eq!(c.socket_name.as_deref(), Some("/tmp/foobar"));
        assert_eq!(c.daemon_lifespan, 231);
        assert_eq!(c.unicast_address.as_deref(), Some("localhost"));
        assert_eq!(c.unicast_port, 27750);
        assert_eq!(c.multicast_address.as_deref(), Some("239.255.0.3"));
        assert_eq!(c.multicast_port, 27751);
        assert_eq!(c.mount_point_vfs.as_deref(), Some(dir.to_str().unwrap()));
        assert_eq!(c.ignored_signals, vec![3, 15]);
        assert_eq!(c.discovery_attempts, 3);
        assert_eq!(c.discovery_timeout, 12345);
        assert_eq!(c.discovery_ttl, 4);
        assert_eq!(c.tcp_keepalive_time, 12345);
        assert_eq!(c.tcp_keepalive_intvl, 12346);
        assert_eq!(c.tcp_keepalive_probes, 12347);
        let canon = |p: &Path| {
            std::fs::canonicalize(p)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        };
        assert_eq!(c.tls_certificate, Some(canon(&cert)));
        assert_eq!(c.tls_private_key, Some(canon(&key)));
        assert_eq!(c.tls_ca_certificate, Some(canon(&ca)));
        assert!(c.tls_check_peer_id);
        assert_eq!(c.check(), Err(CheckError::LocalAndNetwork));
        let d = c.verbose_dump();
        assert!(d.contains("[Monitor]/IgnoredSignals='SIGQUIT;SIGTERM'\n"));
        assert!(d.contains("[Daemon]/MulticastPort=27751\n"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn normalisations() {
        let (c, _) = apply("[Resource]\nQuantity=-5\nIdleLifespan=-7\n").unwrap();
        assert_eq!((c.resource_quantity, c.resource_idle_lifespan), (5, 7));
        let mut c = Config::default();
        let mut w = Vec::new();
        c.apply_str(
            "[Resource]\nQuantity=4\nIdleLifespan=9\n",
            Path::new("a"),
            &mut w,
        )
        .unwrap();
        c.apply_str(
            "[Resource]\nQuantity=0\nIdleLifespan=0\n",
            Path::new("b"),
            &mut w,
        )
        .unwrap();
        assert_eq!((c.resource_quantity, c.resource_idle_lifespan), (4, 9));
        let (c, _) = apply("[Network]\nDiscoveryAttempts=0\nDiscoveryTTL=0\n").unwrap();
        assert_eq!((c.discovery_attempts, c.discovery_ttl), (1, 1));
        let (c, _) =
            apply("[Network]\nDiscoveryAttempts=-4\nDiscoveryTTL=-3\nDiscoveryTimeout=-9\n")
                .unwrap();
        assert_eq!(
            (c.discovery_attempts, c.discovery_ttl, c.discovery_timeout),
            (4, 3, 9)
        );
        let (c, _) =
            apply("[Daemon]\nLifespan=-1\nUnicastPort=-2\n[Resource]\nTimeout=0\n").unwrap();
        assert_eq!(
            (c.daemon_lifespan, c.unicast_port, c.resource_timeout),
            (-1, 2, 0)
        );
        let (c, _) = apply("[Resource]\nQuantity=-2147483648\n").unwrap();
        assert_eq!(c.resource_quantity, i32::MAX);
        let (c, _) = apply("[Resource]\nTimeout=  42  \n").unwrap();
        assert_eq!(c.resource_timeout, 42);
    }

    #[test]
    fn empty_string_values_unset() {
        let mut c = Config::default();
        let mut w = Vec::new();
        c.apply_str("[Daemon]\nSocketName=/tmp/s\n", Path::new("a"), &mut w)
            .unwrap();
        c.apply_str("[Daemon]\nSocketName=\n", Path::new("b"), &mut w)
            .unwrap();
        assert_eq!(c.socket_name, None);
    }

    #[test]
    fn strict_values_in_files() {
        let (c, _) =
            apply("[Resource]\nLockMode=  pr  \nCreate=N\n[Trace]\nVerbose=yes\n").unwrap();
        assert_eq!(c.lock_mode, LockMode::ProtectedRead);
        assert!(!c.resource_create && c.verbose);
        let (c, _) = apply("[Resource]\nLockMode=exclusive\n").unwrap();
        assert_eq!(c.lock_mode, LockMode::Exclusive);

        let e = err("[Trace]\n# x\nVerbose=maybe\n");
        assert_eq!(e.kind, ConfigErrorKind::InvalidValue);
        assert_eq!(e.line, Some(3));
        assert_eq!(
            e.to_string(),
            "flom: /x/f.conf:3: [Trace]/Verbose: 'maybe' is not a yes/no value; use yes, no, y or n, in any letter case."
        );
        assert_eq!(
            e.stdout_line(),
            "ERROR: invalid configuration found in file '/x/f.conf'"
        );
        let e = err("[Resource]\nLockMode=onlyex\n");
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("'onlyex' is not a valid lock mode"));
        let e = err("[Resource]\nTimeout=0x10\n");
        assert!(
            e.message.contains("'0x10' is not a decimal integer"),
            "{}",
            e.message
        );
        let e = err("[Network]\nDiscoveryTTL=99999999999\n");
        assert!(e.message.contains("out of range"));
        let e = err("[TLS]\nTlsCheckPeerId=true\n");
        assert!(e.message.starts_with("[TLS]/TlsCheckPeerId: 'true'"));
        let e = err("[Trace]\nAppendTraceFile=1\n");
        assert!(e.message.starts_with("[Trace]/AppendTraceFile"));
        let e = err("[Resource]\nCreate=annoy\n");
        assert!(e.message.starts_with("[Resource]/Create"));
    }

    #[test]
    fn resource_name_in_files() {
        let e = err("[Resource]\nName=abc  \n");
        assert!(e
            .message
            .contains("'abc  ' is not a valid resource name (note the trailing whitespace)"));
        let e = err("[Resource]\nName=_RESOURCE\n");
        assert!(e.message.contains("reserved"));
        let e = err("[Resource]\nName=a-b\n");
        assert!(e.message.contains("'a-b' is not a valid resource name"));
        let (c, _) = apply("[Resource]\nName=red.green.blue\n").unwrap();
        assert_eq!(c.resource_name, "red.green.blue");
        let (c, _) = apply("[Resource]\nName=/a\\sb/c\n").unwrap();
        assert_eq!(c.resource_name, "/a b/c");
    }

    #[test]
    fn socket_mount_tls_validation_in_files() {
        let long = format!("/tmp/{}", "x".repeat(103));
        assert_eq!(long.len(), 108);
        let e = err(&format!("[Daemon]\nSocketName={long}\n"));
        assert!(e.message.contains("shorter than 108 bytes"));
        let ok = &long[..107];
        let (c, _) = apply(&format!("[Daemon]\nSocketName={ok}\n")).unwrap();
        assert_eq!(c.socket_name.as_deref(), Some(ok));
        let e = err("[Daemon]\nMountPointVFS=/nonexistent/flom/dir\n");
        assert!(e.message.contains("not a directory that can be opened"));
        let e = err("[TLS]\nTlsCertificate=/nonexistent/cert.pem\n");
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("cannot be resolved"));
    }

    #[test]
    fn signals_and_interfaces_warn() {
        let (c, w) = apply("[Monitor]\nIgnoredSignals=SIGTERM;BOGUS;99; sigquit ;\n").unwrap();
        assert_eq!(c.ignored_signals, vec![3, 15]);
        assert_eq!(w.len(), 2);
        assert!(w[0].starts_with("flom: /x/f.conf:2: [Monitor]/IgnoredSignals: 'BOGUS'"));
        // the key replaces the previous set
        let mut c = Config::default();
        let mut w = Vec::new();
        c.apply_str("[Monitor]\nIgnoredSignals=1;2\n", Path::new("a"), &mut w)
            .unwrap();
        c.apply_str("[Monitor]\nIgnoredSignals=15\n", Path::new("b"), &mut w)
            .unwrap();
        assert_eq!(c.ignored_signals, vec![15]);
        let (c, w) = apply("[Network]\nNetworkInterface=nosuchif0\n").unwrap();
        assert_eq!(c.network_interface, None);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("'nosuchif0' has no IPv6 address"));
    }

    #[test]
    fn groups_optional_and_unknown_ignored() {
        let (c, _) = apply("").unwrap();
        assert_eq!(c, Config::default());
        let (c, _) = apply("[Resource]\nTimeout=5\n").unwrap();
        assert_eq!(c.resource_timeout, 5);
        let (c, _) = apply("[Unknown]\nFoo=bar\n[Resource]\nWait=zzz\nBogus=1\n").unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn first_error_in_c_read_order() {
        // Trace/Verbose is read before Resource/Timeout even if later in the file.
        let e = err("[Resource]\nTimeout=x\n[Trace]\nVerbose=x\n");
        assert_eq!(e.line, Some(4));
    }

    #[test]
    fn syntax_errors_reported_as_load_errors() {
        let e = err("[Resource]\nTimeout 5\n");
        assert_eq!(e.kind, ConfigErrorKind::Syntax);
        assert_eq!(e.line, Some(2));
        assert_eq!(
            e.stdout_line(),
            "ERROR: error while loading file '/x/f.conf'"
        );
        assert!(e.to_string().starts_with("flom: /x/f.conf:2: "));
        let e = err("[Resource]\nName=a\\qb\n");
        assert_eq!(e.kind, ConfigErrorKind::InvalidValue);
        assert!(e.message.contains("escape"));
    }

    #[test]
    fn layers_precedence() {
        let dir = temp_dir("layers");
        let sys = write(
            &dir,
            "flom.conf",
            "[Resource]\nTimeout=1\nQuantity=2\n[Daemon]\nLifespan=10\n[Network]\nDiscoveryTTL=7\n",
        );
        let user = write(
            &dir,
            "user",
            "[Resource]\nTimeout=3\n[Daemon]\nLifespan=20\n",
        );
        let custom = write(&dir, "custom", "[Resource]\nTimeout=5\n");
        let mut w = Vec::new();
        let c =
            Config::load_layers_collect(Some(&sys), Some(&user), Some(&custom), &mut w).unwrap();
        assert_eq!(c.resource_timeout, 5);
        assert_eq!(c.daemon_lifespan, 20);
        assert_eq!(c.resource_quantity, 2);
        assert_eq!(c.discovery_ttl, 7);
        let c = Config::load_layers_collect(Some(&sys), Some(&user), None, &mut w).unwrap();
        assert_eq!(c.resource_timeout, 3);
        let c = Config::load_layers_collect(Some(&sys), None, None, &mut w).unwrap();
        assert_eq!(c.resource_timeout, 1);
        let c = Config::load_layers(None, None, None).unwrap();
        assert_eq!(c, Config::default());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_files() {
        let dir = temp_dir("missing");
        let nope = dir.join("nope");
        let mut w = Vec::new();
        let c = Config::load_layers_collect(Some(&nope), Some(&nope), None, &mut w).unwrap();
        assert_eq!(c, Config::default());
        let e = Config::load_layers_collect(None, None, Some(&nope), &mut w).unwrap_err();
        assert_eq!(e.kind, ConfigErrorKind::Unreadable);
        assert_eq!(e.line, None);
        assert_eq!(
            e.stdout_line(),
            format!("ERROR: error while loading file '{}'", nope.display())
        );
        assert!(e.to_string().contains("no such file or directory"), "{e}");
        // a directory as -c file is an error too
        let e = Config::load_layers_collect(None, None, Some(&dir), &mut w).unwrap_err();
        assert_eq!(e.kind, ConfigErrorKind::Unreadable);
        // an empty user file is fine
        let empty = write(&dir, "empty", "");
        assert!(Config::load_layers_collect(None, Some(&empty), Some(&empty), &mut w).is_ok());
        // a broken user file is reported (not silently skipped)
        let bad = write(&dir, "bad", "[Resource]\nTimeout=1\ngarbage\n");
        let e = Config::load_layers_collect(None, Some(&bad), None, &mut w).unwrap_err();
        assert_eq!((e.kind, e.line), (ConfigErrorKind::Syntax, Some(3)));
        let nonutf8 = dir.join("latin1");
        std::fs::write(&nonutf8, b"[Resource]\n\nName=caf\xe9\n").unwrap();
        let e = Config::load_layers_collect(None, None, Some(&nonutf8), &mut w).unwrap_err();
        assert_eq!((e.kind, e.line), (ConfigErrorKind::Syntax, Some(3)));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn report_streams() {
        let e = err("[Trace]\nVerbose=maybe\n");
        let (mut out, mut errs) = (Vec::new(), Vec::new());
        e.report(&mut out, &mut errs);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ERROR: invalid configuration found in file '/x/f.conf'\n"
        );
        assert!(String::from_utf8(errs)
            .unwrap()
            .starts_with("flom: /x/f.conf:2: "));
    }

    #[test]
    fn check_rules() {
        let mut c = Config::default();
        assert_eq!(c.check(), Ok(()));
        c.socket_name = Some("/tmp/x".into());
        assert_eq!(c.check(), Ok(()));
        c.unicast_address = Some("localhost".into());
        assert_eq!(c.check(), Err(CheckError::LocalAndNetwork));
        c.unicast_address = None;
        c.multicast_address = Some("239.0.0.1".into());
        assert_eq!(c.check(), Err(CheckError::LocalAndNetwork));
        let (mut out, mut errs) = (Vec::new(), Vec::new());
        CheckError::LocalAndNetwork.report(&mut out, &mut errs);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ERROR: flom can not be configured for local (UNIX socket) and network (TCP-UDP/IP) communication at the same time.\n"
        );
        assert_eq!(
            String::from_utf8(errs).unwrap(),
            "Configuration is not valid, cannot go on!\n"
        );
        let mut c = Config {
            tls_check_peer_id: true,
            ..Config::default()
        };
        assert_eq!(c.check(), Err(CheckError::TlsCheckPeerIdWithoutTls));
        c.tls_certificate = Some("a".into());
        c.tls_private_key = Some("b".into());
        assert_eq!(c.check(), Err(CheckError::TlsCheckPeerIdWithoutTls));
        c.tls_ca_certificate = Some("c".into());
        assert_eq!(c.check(), Ok(()));
        assert_eq!(
            CheckError::TlsCheckPeerIdWithoutTls.message(),
            "ERROR: TLS check peer id can not be specified without full TLS configuration."
        );
        assert_eq!(CheckError::LocalAndNetwork.exit_status(), 99);
    }

    #[test]
    fn resource_type_adjustments() {
        let mut c = Config {
            lock_mode: LockMode::ProtectedRead,
            resource_quantity: 3,
            ..Config::default()
        };
        let w = c.adjust_for_resource_type_collect();
        // simple: lock mode kept, quantity forced
        assert_eq!(c.lock_mode, LockMode::ProtectedRead);
        assert_eq!(c.resource_quantity, 1);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("quantity 3 is ignored"));

        let mut c = Config {
            resource_name: "foo[3]".into(),
            lock_mode: LockMode::ConcurrentRead,
            resource_quantity: 2,
            ..Config::default()
        };
        let w = c.adjust_for_resource_type_collect();
        assert_eq!(c.lock_mode, LockMode::Exclusive);
        assert_eq!(c.resource_quantity, 2);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("numeric resource supports only the exclusive lock mode"));

        let mut c = Config {
            resource_name: "/a/b".into(),
            lock_mode: LockMode::NullLock,
            ..Config::default()
        };
        assert!(c.adjust_for_resource_type_collect().is_empty());
        assert_eq!(c.lock_mode, LockMode::NullLock);

        let mut c = Config {
            resource_name: "a.b".into(),
            lock_mode: LockMode::ProtectedWrite,
            resource_quantity: 5,
            ..Config::default()
        };
        assert_eq!(c.adjust_for_resource_type_collect().len(), 2);
        assert_eq!((c.lock_mode, c.resource_quantity), (LockMode::Exclusive, 1));
    }

    #[test]
    fn helpers() {
        assert_eq!(abs_value(-3), 3);
        assert_eq!(abs_value(i32::MIN), i32::MAX);
        assert_eq!(abs_at_least_one(0), 1);
        assert_eq!(abs_at_least_one(-2), 2);
        assert!(check_mount_point("/").is_ok());
        assert!(canonical_file("/nonexistent-flom").is_err());
        assert_eq!(
            validate_resource_name("_RESOURCE"),
            Err(ResourceNameError::Reserved)
        );
        assert_eq!(
            validate_resource_name("1a"),
            Err(ResourceNameError::Invalid)
        );
        assert_eq!(validate_resource_name("a"), Ok(()));
        assert!(system_config_path().ends_with("flom.conf"));
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(io_reason(&e), "no such file or directory");
    }
}
