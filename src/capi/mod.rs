//! libflom: the C API of FLoM 1.7.2 (`flom_handle_*`, `flom_strerror`) as
//! exported by `libflom.so.0`. Owns the C-visible handle layout, the
//! once-per-process initialisation, the registry of live handles and the
//! rule that no panic crosses into C.
//!
//! A `flom_handle_t` is caller-allocated (`state`, opaque `conn`, opaque
//! `config`, `locked_element`), exactly as C FLoM lays it out, because C
//! programs read `locked_element` straight from the struct. Our `config`
//! points to the handle's [`settings::Settings`], `conn` to its connection
//! slot. Every live `config` pointer is recorded, so a garbage or cleaned
//! handle is recognised and answered with a return code instead of being
//! dereferenced.

pub mod errors;
mod handle;
mod session;
mod setters;
pub mod settings;

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, OnceLock};

use crate::config::Config;
use errors::{RC_API_INVALID_SEQUENCE, RC_INTERNAL_ERROR};
use session::Session;
use settings::Settings;

/// `flom_handle_state_t`.
pub const STATE_INIT: c_int = 22;
pub const STATE_CONNECTED: c_int = 23;
pub const STATE_LOCKED: c_int = 24;
pub const STATE_DISCONNECTED: c_int = 25;
pub const STATE_CLEANED: c_int = 26;

/// `flom_lock_mode_t` value for "invalid" (what getters return without a handle).
pub const LOCK_MODE_INVALID: c_int = 7;

/// `flom_handle_t`, field for field as C FLoM 1.7.2 declares it.
#[repr(C)]
pub struct FlomHandleT {
    pub state: c_int,
    pub conn: *mut c_void,
    pub config: *mut c_void,
    pub locked_element: *mut c_char,
}

// The C layout: an int (padded to pointer alignment) and three pointers.
const _: () = assert!(std::mem::size_of::<FlomHandleT>() == 4 * std::mem::size_of::<usize>());
const _: () =
    assert!(std::mem::offset_of!(FlomHandleT, locked_element) == 3 * std::mem::size_of::<usize>());

/// What `conn` points to: the open connection, if any.
pub(crate) type ConnSlot = Option<Session>;

/// The process-wide configuration (defaults, system file, user file), read
/// once, under a lock, by the first API call. Its error, if any, is returned
/// by every call.
fn global_config() -> Result<&'static Config, c_int> {
    static GLOBAL: OnceLock<Result<Config, c_int>> = OnceLock::new();
    GLOBAL
        .get_or_init(|| {
            let config = Config::load().map_err(|e| match e.kind {
                crate::config::ConfigErrorKind::InvalidValue => crate::rc::INVALID_OPTION,
                _ => errors::RC_G_KEY_FILE_LOAD_FROM_FILE_ERROR,
            })?;
            if config.command_trace_file.is_some() {
                let _ = crate::trace::init(
                    config.command_trace_file.as_deref(),
                    config.append_trace_file,
                );
            }
            Ok(config)
        })
        .as_ref()
        .map_err(|&rc| rc)
}

/// Live handles: `config` pointer -> `conn` pointer.
fn registry() -> &'static Mutex<HashMap<usize, usize>> {
    static LIVE: OnceLock<Mutex<HashMap<usize, usize>>> = OnceLock::new();
    LIVE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn is_live(h: &FlomHandleT) -> bool {
    let reg = registry().lock().unwrap_or_else(|p| p.into_inner());
    reg.get(&(h.config as usize)) == Some(&(h.conn as usize)) && !h.conn.is_null()
}

/// The internals of a live handle.
pub(crate) struct Parts<'a> {
    pub settings: &'a mut Settings,
    pub conn: &'a mut ConnSlot,
}

/// The settings and connection of `h`, if it is a handle we initialised and
/// have not cleaned.
///
/// # Safety
/// `h` is a valid pointer to a `flom_handle_t` (its content may be garbage).
pub(crate) unsafe fn parts<'a>(h: *mut FlomHandleT) -> Option<Parts<'a>> {
    let hr = &*h;
    if !is_live(hr) {
        return None;
    }
    Some(Parts {
        settings: &mut *(hr.config as *mut Settings),
        conn: &mut *(hr.conn as *mut ConnSlot),
    })
}

/// Read-only settings of a live handle.
///
/// # Safety
/// As [`parts`].
pub(crate) unsafe fn settings_of<'a>(h: *const FlomHandleT) -> Option<&'a Settings> {
    if h.is_null() {
        return None;
    }
    let hr = &*h;
    if !is_live(hr) {
        return None;
    }
    Some(&*(hr.config as *const Settings))
}

/// Initialises the handle memory: new settings, an empty connection slot.
///
/// # Safety
/// `h` points to writable memory of `flom_handle_t` size.
pub(crate) unsafe fn attach(h: *mut FlomHandleT, config: &Config) {
    let settings = Box::into_raw(Box::new(Settings::from_config(config)));
    let conn: *mut ConnSlot = Box::into_raw(Box::new(None));
    registry()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(settings as usize, conn as usize);
    std::ptr::write(
        h,
        FlomHandleT {
            state: STATE_INIT,
            conn: conn.cast(),
            config: settings.cast(),
            locked_element: std::ptr::null_mut(),
        },
    );
}

/// Frees the internals of a live handle (closing any connection) and
/// leaves it CLEANED with NULL pointers.
///
/// # Safety
/// `h` is a live handle (see [`parts`]).
pub(crate) unsafe fn detach(h: *mut FlomHandleT) {
    let hr = &mut *h;
    registry()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&(hr.config as usize));
    drop(Box::from_raw(hr.config as *mut Settings));
    // Dropping the session unlocks and disconnects.
    drop(Box::from_raw(hr.conn as *mut ConnSlot));
    set_locked_element(hr, None);
    hr.config = std::ptr::null_mut();
    hr.conn = std::ptr::null_mut();
    hr.state = STATE_CLEANED;
}

/// Replaces the element string the handle exposes.
pub(crate) fn set_locked_element(h: &mut FlomHandleT, element: Option<String>) {
    if !h.locked_element.is_null() {
        // SAFETY: a non-NULL element of a live handle was made by into_raw below.
        drop(unsafe { std::ffi::CString::from_raw(h.locked_element) });
        h.locked_element = std::ptr::null_mut();
    }
    if let Some(e) = element.and_then(|e| std::ffi::CString::new(e).ok()) {
        h.locked_element = e.into_raw();
    }
}

/// Runs an API function body: library initialisation first (its error is
/// the result), and a panic becomes FLOM_RC_INTERNAL_ERROR instead of
/// unwinding into C.
pub(crate) fn guard(body: impl FnOnce(&'static Config) -> c_int) -> c_int {
    catch_unwind(AssertUnwindSafe(|| match global_config() {
        Ok(config) => body(config),
        Err(rc) => rc,
    }))
    .unwrap_or(RC_INTERNAL_ERROR)
}

/// Like [`guard`] for getters: `fallback` when the library cannot start or
/// the body panics.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(|| global_config().is_ok())) {
        Ok(true) => {}
        _ => return fallback,
    }
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// The return code for a handle that is not (or no longer) ours.
pub(crate) const NOT_A_HANDLE: c_int = RC_API_INVALID_SEQUENCE;
