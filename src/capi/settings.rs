//! The configuration a C handle carries: every value a `flom_handle_get_*`
//! returns, kept as the C API stores it (raw integers, NUL-terminated strings
//! whose pointers stay valid until the next set), and the conversion to the
//! client's [`Config`] when a lock is requested.

use std::ffi::{c_int, CStr, CString};

use crate::config::Config;
use crate::resource::LockMode;

/// Per-handle settings, cloned from the process-wide configuration at
/// `flom_handle_init` (daemon lifespan forced to 0: the API never starts a
/// daemon).
#[derive(Clone, Debug)]
pub struct Settings {
    pub discovery_attempts: c_int,
    pub discovery_timeout: c_int,
    pub discovery_ttl: c_int,
    /// Stored unchecked, as C FLoM does (any integer is kept and sent).
    pub lock_mode: c_int,
    pub multicast_address: Option<CString>,
    pub multicast_port: c_int,
    pub network_interface: Option<CString>,
    /// Stored as given; any non-zero value means "create".
    pub resource_create: c_int,
    pub resource_idle_lifespan: c_int,
    pub resource_name: CString,
    pub resource_quantity: c_int,
    pub resource_timeout: c_int,
    pub socket_name: Option<CString>,
    pub trace_filename: Option<CString>,
    pub unicast_address: Option<CString>,
    pub unicast_port: c_int,
    pub tls_certificate: Option<CString>,
    pub tls_private_key: Option<CString>,
    pub tls_ca_certificate: Option<CString>,
    pub tls_check_peer_id: c_int,
    /// The rest of the process-wide configuration (keepalive and the like).
    base: Config,
}

fn c_string(s: &Option<String>) -> Option<CString> {
    s.as_deref().and_then(|v| CString::new(v).ok())
}

fn rust_string(s: &Option<CString>) -> Option<String> {
    s.as_deref().map(|v| v.to_string_lossy().into_owned())
}

impl Settings {
    /// The handle's copy of the process-wide configuration. The default
    /// socket (`/tmp/flom-<login>`) is filled in when no address is set, as
    /// C's configuration check does, so the getter shows it.
    pub fn from_config(config: &Config) -> Settings {
        let mut base = config.clone();
        base.daemon_lifespan = 0;
        base.verbose = false;
        let socket_name = if config.socket_name.is_none()
            && config.unicast_address.is_none()
            && config.multicast_address.is_none()
        {
            CString::new(config.socket_path()).ok()
        } else {
            c_string(&config.socket_name)
        };
        Settings {
            discovery_attempts: config.discovery_attempts,
            discovery_timeout: config.discovery_timeout,
            discovery_ttl: config.discovery_ttl,
            lock_mode: c_int::from(config.lock_mode.code()),
            multicast_address: c_string(&config.multicast_address),
            multicast_port: config.multicast_port,
            network_interface: c_string(&config.network_interface),
            resource_create: c_int::from(config.resource_create),
            resource_idle_lifespan: config.resource_idle_lifespan,
            resource_name: CString::new(config.resource_name.as_str()).unwrap_or_default(),
            resource_quantity: config.resource_quantity,
            resource_timeout: config.resource_timeout,
            socket_name,
            trace_filename: c_string(&config.command_trace_file),
            unicast_address: c_string(&config.unicast_address),
            unicast_port: config.unicast_port,
            tls_certificate: c_string(&config.tls_certificate),
            tls_private_key: c_string(&config.tls_private_key),
            tls_ca_certificate: c_string(&config.tls_ca_certificate),
            tls_check_peer_id: c_int::from(config.tls_check_peer_id),
            base,
        }
    }

    /// The resource name as text.
    pub fn resource_name(&self) -> &str {
        self.resource_name.to_str().unwrap_or_default()
    }

    /// The client configuration for a lock request with these settings.
    pub fn to_config(&self) -> Config {
        let mut c = self.base.clone();
        c.discovery_attempts = self.discovery_attempts;
        c.discovery_timeout = self.discovery_timeout;
        c.discovery_ttl = self.discovery_ttl;
        c.lock_mode = LockMode::from_code(i64::from(self.lock_mode)).unwrap_or(LockMode::Exclusive);
        c.multicast_address = rust_string(&self.multicast_address);
        c.multicast_port = self.multicast_port;
        c.network_interface = rust_string(&self.network_interface);
        c.resource_create = self.resource_create != 0;
        c.resource_idle_lifespan = self.resource_idle_lifespan;
        c.resource_name = self.resource_name().to_string();
        c.resource_quantity = self.resource_quantity;
        c.resource_timeout = self.resource_timeout;
        c.socket_name = rust_string(&self.socket_name);
        c.unicast_address = rust_string(&self.unicast_address);
        c.unicast_port = self.unicast_port;
        c.tls_certificate = rust_string(&self.tls_certificate);
        c.tls_private_key = rust_string(&self.tls_private_key);
        c.tls_ca_certificate = rust_string(&self.tls_ca_certificate);
        c.tls_check_peer_id = self.tls_check_peer_id != 0;
        c.daemon_lifespan = 0;
        c
    }
}

/// A C string argument as an owned Rust string (`None` for NULL).
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string.
pub unsafe fn arg(p: *const std::ffi::c_char) -> Option<CString> {
    if p.is_null() {
        None
    } else {
        Some(CStr::from_ptr(p).to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_as_the_c_getters_show_them() {
        let s = Settings::from_config(&Config::default());
        assert_eq!(s.resource_name(), "_RESOURCE");
        assert_eq!(s.lock_mode, 5);
        assert_eq!(s.resource_create, 1);
        assert_eq!(s.resource_timeout, -1);
        assert_eq!(s.resource_quantity, 1);
        assert_eq!(s.unicast_port, 28015);
        assert_eq!(s.multicast_port, 28015);
        assert_eq!(s.discovery_attempts, 2);
        assert_eq!(s.discovery_timeout, 500);
        assert_eq!(s.discovery_ttl, 1);
        assert!(s
            .socket_name
            .as_ref()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("/tmp/flom-"));
        assert!(s.unicast_address.is_none() && s.multicast_address.is_none());
        let c = s.to_config();
        assert_eq!(c.daemon_lifespan, 0);
        assert_eq!(c.lock_mode, LockMode::Exclusive);
    }
}
