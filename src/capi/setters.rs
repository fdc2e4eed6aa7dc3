//! `flom_handle_get_*` / `flom_handle_set_*`: every property of a handle
//! with C FLoM's rules: in which states a setter may run (else +11), the
//! normalisation of numbers (absolute values, 0 ignored or turned into 1),
//! addresses that clear one another, checked names and files.

use std::ffi::{c_char, c_int, CStr, CString};

use super::errors::{RC_API_IMMUTABLE_HANDLE, RC_INVALID_IPV6_NETWORK_INTERFACE, RC_NULL_OBJECT};
use super::settings::{arg, Settings};
use super::{
    guard, guard_value, parts, settings_of, FlomHandleT, LOCK_MODE_INVALID, NOT_A_HANDLE,
    STATE_CONNECTED, STATE_DISCONNECTED, STATE_INIT,
};
use crate::rc;

/// When a setter may change the handle.
#[derive(Clone, Copy)]
enum Allowed {
    /// INIT or DISCONNECTED: what the connection depends on.
    Unconnected,
    /// INIT, CONNECTED or DISCONNECTED: what the next lock request carries.
    Unlocked,
    /// Any state (the trace file).
    Always,
}

impl Allowed {
    fn permits(self, state: c_int) -> bool {
        match self {
            Allowed::Unconnected => state == STATE_INIT || state == STATE_DISCONNECTED,
            Allowed::Unlocked => [STATE_INIT, STATE_CONNECTED, STATE_DISCONNECTED].contains(&state),
            Allowed::Always => true,
        }
    }
}

/// Runs a setter body on the settings of a live handle in a permitted state.
///
/// # Safety
/// `h` is NULL or points to a `flom_handle_t`.
unsafe fn set(
    h: *mut FlomHandleT,
    allowed: Allowed,
    body: impl FnOnce(&mut Settings) -> c_int,
) -> c_int {
    guard(|_| {
        if h.is_null() {
            return RC_NULL_OBJECT;
        }
        if !allowed.permits((*h).state) {
            return RC_API_IMMUTABLE_HANDLE;
        }
        match parts(h) {
            Some(p) => body(p.settings),
            None => NOT_A_HANDLE,
        }
    })
}

unsafe fn get_int(h: *const FlomHandleT, read: impl FnOnce(&Settings) -> c_int) -> c_int {
    guard_value(0, || settings_of(h).map(read).unwrap_or(0))
}

unsafe fn get_str(
    h: *const FlomHandleT,
    read: impl FnOnce(&Settings) -> Option<&CString>,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        settings_of(h)
            .and_then(read)
            .map_or(std::ptr::null(), |s| s.as_ptr())
    })
}

fn abs(v: c_int) -> c_int {
    v.saturating_abs()
}

macro_rules! int_property {
    ($get:ident, $set:ident, $field:ident, $allowed:expr, |$v:ident, $old:ident| $rule:expr) => {
        #[doc = concat!("`int ", stringify!($get), "(const flom_handle_t *handle)`")]
        ///
        /// # Safety
        /// `handle` is NULL or points to a `flom_handle_t`.
        #[no_mangle]
        pub unsafe extern "C" fn $get(handle: *const FlomHandleT) -> c_int {
            get_int(handle, |s| s.$field)
        }

        #[doc = concat!("`int ", stringify!($set), "(flom_handle_t *handle, int value)`")]
        ///
        /// # Safety
        /// `handle` is NULL or points to a `flom_handle_t`.
        #[no_mangle]
        pub unsafe extern "C" fn $set(handle: *mut FlomHandleT, $v: c_int) -> c_int {
            set(handle, $allowed, |s| {
                let $old = s.$field;
                s.$field = $rule;
                rc::OK
            })
        }
    };
}

int_property!(
    flom_handle_get_discovery_attempts,
    flom_handle_set_discovery_attempts,
    discovery_attempts,
    Allowed::Unconnected,
    |v, _old| abs(v).max(1)
);
int_property!(
    flom_handle_get_discovery_timeout,
    flom_handle_set_discovery_timeout,
    discovery_timeout,
    Allowed::Unconnected,
    |v, _old| abs(v)
);
int_property!(
    flom_handle_get_discovery_ttl,
    flom_handle_set_discovery_ttl,
    discovery_ttl,
    Allowed::Unconnected,
    |v, _old| abs(v).max(1)
);
int_property!(
    flom_handle_get_multicast_port,
    flom_handle_set_multicast_port,
    multicast_port,
    Allowed::Unconnected,
    |v, _old| abs(v)
);
int_property!(
    flom_handle_get_unicast_port,
    flom_handle_set_unicast_port,
    unicast_port,
    Allowed::Unconnected,
    |v, _old| abs(v)
);
int_property!(
    flom_handle_get_resource_create,
    flom_handle_set_resource_create,
    resource_create,
    Allowed::Unconnected,
    |v, _old| v
);
int_property!(
    flom_handle_get_tls_check_peer_id,
    flom_handle_set_tls_check_peer_id,
    tls_check_peer_id,
    Allowed::Unconnected,
    |v, _old| v
);
int_property!(
    flom_handle_get_resource_idle_lifespan,
    flom_handle_set_resource_idle_lifespan,
    resource_idle_lifespan,
    Allowed::Unlocked,
    |v, old| if v == 0 { old } else { abs(v) }
);
int_property!(
    flom_handle_get_resource_quantity,
    flom_handle_set_resource_quantity,
    resource_quantity,
    Allowed::Unlocked,
    |v, old| if v == 0 { old } else { abs(v) }
);
int_property!(
    flom_handle_get_resource_timeout,
    flom_handle_set_resource_timeout,
    resource_timeout,
    Allowed::Unlocked,
    |v, _old| v
);

/// `flom_lock_mode_t flom_handle_get_lock_mode(const flom_handle_t *handle)`
///
/// # Safety
/// `handle` is NULL or points to a `flom_handle_t`.
#[no_mangle]
pub unsafe extern "C" fn flom_handle_get_lock_mode(handle: *const FlomHandleT) -> c_int {
    guard_value(LOCK_MODE_INVALID, || {
        settings_of(handle).map_or(LOCK_MODE_INVALID, |s| s.lock_mode)
    })
}

/// `int flom_handle_set_lock_mode(flom_handle_t *handle, flom_lock_mode_t value)`
/// (stored unchecked, as C FLoM does).
///
/// # Safety
/// `handle` is NULL or points to a `flom_handle_t`.
#[no_mangle]
pub unsafe extern "C" fn flom_handle_set_lock_mode(
    handle: *mut FlomHandleT,
    value: c_int,
) -> c_int {
    set(handle, Allowed::Unlocked, |s| {
        s.lock_mode = value;
        rc::OK
    })
}

macro_rules! string_getter {
    ($get:ident, $field:ident) => {
        #[doc = concat!("`const char *", stringify!($get), "(const flom_handle_t *handle)`")]
        ///
        /// # Safety
        /// `handle` is NULL or points to a `flom_handle_t`.
        #[no_mangle]
        pub unsafe extern "C" fn $get(handle: *const FlomHandleT) -> *const c_char {
            get_str(handle, |s| s.$field.as_ref())
        }
    };
}

string_getter!(flom_handle_get_multicast_address, multicast_address);
string_getter!(flom_handle_get_network_interface, network_interface);
string_getter!(flom_handle_get_socket_name, socket_name);
string_getter!(flom_handle_get_trace_filename, trace_filename);
string_getter!(flom_handle_get_unicast_address, unicast_address);
string_getter!(flom_handle_get_tls_certificate, tls_certificate);
string_getter!(flom_handle_get_tls_private_key, tls_private_key);
string_getter!(flom_handle_get_tls_ca_certificate, tls_ca_certificate);

/// `const char *flom_handle_get_resource_name(const flom_handle_t *handle)`
///
/// # Safety
/// `handle` is NULL or points to a `flom_handle_t`.
#[no_mangle]
pub unsafe extern "C" fn flom_handle_get_resource_name(
    handle: *const FlomHandleT,
) -> *const c_char {
    get_str(handle, |s| Some(&s.resource_name))
}

/// `int flom_handle_set_multicast_address(flom_handle_t *, const char *)`:
/// a non-NULL address clears the socket name and the unicast address.
///
/// # Safety
/// `handle` is NULL or points to a `flom_handle_t`; `value` is NULL or a C string.
#[no_mangle]
pub unsafe extern "C" fn flom_handle_set_multicast_address(
    handle: *mut FlomHandleT,
    value: *const c_char,
) -> c_int {
    set(handle, Allowed::Unconnected, |s| {
        let v = arg(value);
        if v.is_some() {
            s.socket_name = None;
            s.unicast_address = None;
        }
        s.multicast_address = v;
        rc::OK
    })
}

/// `int flom_handle_set_unicast_address(flom_handle_t *, const char *)`:
/// a non-NULL address clears the socket name and the multicast address.
///
/// # Safety
/// As [`flom_handle_set_multicast_address`].
#[no_mangle]
pub unsafe extern "C" fn flom_handle_set_unicast_address(
    handle: *mut FlomHandleT,
    value: *const c_char,
) -> c_int {
    set(handle, Allowed::Unconnected, |s| {
        let v = arg(value);
        if v.is_some() {
            s.socket_name = None;
            s.multicast_address = None;
        }
        s.unicast_address = v;
        rc::OK
    })
}

/// `int flom_handle_set_socket_name(flom_handle_t *, const char *)`: -9 for
/// a path of 108 bytes or more; a non-NULL name clears both addresses.
///
/// # Safety
/// As [`flom_handle_set_multicast_address`].
#[no_mangle]
pub unsafe extern "C" fn flom_handle_set_socket_name(
    handle: *mut FlomHandleT,
    value: *const c_char,
) -> c_int {
    set(handle, Allowed::Unconnected, |s| {
        let v = arg(value);
        if v.is_some() {
            s.unicast_address = None;
            s.multicast_address = None;
        }
        if v.as_ref()
            .is_some_and(|p| p.as_bytes().len() >= crate::config::UNIX_PATH_MAX)
        {
            return rc::BUFFER_OVERFLOW;
        }
        s.socket_name = v;
        rc::OK
    })
}

/// `int flom_handle_set_network_interface(flom_handle_t *, const char *)`:
/// -20 when the interface has no IPv6 address (NULL clears it).
///
/// # Safety
/// As [`flom_handle_set_multicast_address`].
#[no_mangle]
pub unsafe extern "C" fn flom_handle_set_network_interface(
    handle: *mut FlomHandleT,
    value: *const c_char,
) -> c_int {
    set(handle, Allowed::Unconnected, |s| {
        let v = arg(value);
        if let Some(name) = &v {
            match interface_check(name) {
                rc::OK => {}
                code => return code,
            }
        }
        s.network_interface = v;
        rc::OK
    })
}

fn interface_check(name: &CStr) -> c_int {
    if crate::config::interface_has_ipv6(&name.to_string_lossy()) {
        rc::OK
    } else {
        RC_INVALID_IPV6_NETWORK_INTERFACE
    }
}

/// `int flom_handle_set_resource_name(flom_handle_t *, const char *)`:
/// always OK; an invalid (or reserved, or NULL) name leaves the old one
/// (C FLoM's quirk).
///
/// # Safety
/// As [`flom_handle_set_multicast_address`].
#[no_mangle]
pub unsafe extern "C" fn flom_handle_set_resource_name(
    handle: *mut FlomHandleT,
    value: *const c_char,
) -> c_int {
    set(handle, Allowed::Unlocked, |s| {
        if let Some(v) = arg(value) {
            if let Ok(name) = v.to_str() {
                if crate::config::validate_resource_name(name).is_ok() {
                    s.resource_name = v;
                }
            }
        }
        rc::OK
    })
}

/// `int flom_handle_set_trace_filename(flom_handle_t *, const char *)`: any
/// state, always OK; the process-wide trace is reopened (truncated) at once.
///
/// # Safety
/// As [`flom_handle_set_multicast_address`].
#[no_mangle]
pub unsafe extern "C" fn flom_handle_set_trace_filename(
    handle: *mut FlomHandleT,
    value: *const c_char,
) -> c_int {
    set(handle, Allowed::Always, |s| {
        s.trace_filename = arg(value);
        let path = s
            .trace_filename
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned());
        let _ = crate::trace::init(path.as_deref(), false);
        rc::OK
    })
}

macro_rules! tls_file_setter {
    ($set:ident, $field:ident) => {
        #[doc = concat!("`int ", stringify!($set), "(flom_handle_t *, const char *)`: ")]
        /// stores the canonical path; -125 when the file cannot be resolved.
        ///
        /// # Safety
        /// `handle` is NULL or points to a `flom_handle_t`; `value` is NULL or a C string.
        #[no_mangle]
        pub unsafe extern "C" fn $set(handle: *mut FlomHandleT, value: *const c_char) -> c_int {
            set(handle, Allowed::Unconnected, |s| {
                let Some(v) = arg(value) else {
                    return rc::REALPATH_ERROR;
                };
                match crate::config::canonical_file(&v.to_string_lossy()) {
                    Ok(p) => match CString::new(p) {
                        Ok(c) => {
                            s.$field = Some(c);
                            rc::OK
                        }
                        Err(_) => rc::REALPATH_ERROR,
                    },
                    Err(_) => rc::REALPATH_ERROR,
                }
            })
        }
    };
}

tls_file_setter!(flom_handle_set_tls_certificate, tls_certificate);
tls_file_setter!(flom_handle_set_tls_private_key, tls_private_key);
tls_file_setter!(flom_handle_set_tls_ca_certificate, tls_ca_certificate);
