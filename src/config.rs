//! Configuration: the compiled defaults, the INI files (`<sysconfdir>/flom.conf`,
//! `~/.flom`, `-c FILE`) parsed by hand, the layering of those with the command
//! line, the `--verbose` dump and the consistency check.
//!
//! (Skeleton: the loader, dump and check are filled in by the config work.)

use crate::resource::LockMode;

pub const DEFAULT_LIFESPAN_MS: i32 = 5000;
pub const DEFAULT_PORT: i32 = 28015;

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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            daemon_trace_file: None,
            command_trace_file: None,
            append_trace_file: false,
            verbose: false,
            resource_name: crate::resource::DEFAULT_RESOURCE_NAME.to_string(),
            resource_timeout: -1,
            resource_quantity: 1,
            lock_mode: LockMode::Exclusive,
            resource_create: true,
            resource_idle_lifespan: 0,
            socket_name: None,
            daemon_lifespan: DEFAULT_LIFESPAN_MS,
            unicast_address: None,
            unicast_port: DEFAULT_PORT,
            multicast_address: None,
            multicast_port: DEFAULT_PORT,
            mount_point_vfs: None,
            ignored_signals: Vec::new(),
            network_interface: None,
            discovery_attempts: 2,
            discovery_timeout: 500,
            discovery_ttl: 1,
            tcp_keepalive_time: 60,
            tcp_keepalive_intvl: 10,
            tcp_keepalive_probes: 6,
            tls_certificate: None,
            tls_private_key: None,
            tls_ca_certificate: None,
            tls_check_peer_id: false,
        }
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
