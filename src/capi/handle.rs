//! The handle's life and lock cycle: `flom_handle_init/clean/new/delete`,
//! `flom_handle_lock/unlock/unlock_rollback` and the locked element, with
//! C FLoM's state machine (INIT -> CONNECTED -> LOCKED -> DISCONNECTED ->
//! CLEANED) and return codes.

use std::ffi::{c_char, c_int};

use super::errors::{RC_API_INVALID_SEQUENCE, RC_NULL_OBJECT, RC_RESOURCE_IS_NOT_TRANSACTIONAL};
use super::session::Session;
use super::{
    attach, detach, guard, guard_value, parts, set_locked_element, FlomHandleT, NOT_A_HANDLE,
    STATE_CONNECTED, STATE_DISCONNECTED, STATE_INIT, STATE_LOCKED,
};
use crate::rc;

/// `int flom_handle_init(flom_handle_t *handle)`
///
/// # Safety
/// `handle` is NULL or points to writable `flom_handle_t` memory.
#[no_mangle]
pub unsafe extern "C" fn flom_handle_init(handle: *mut FlomHandleT) -> c_int {
    guard(|config| {
        if handle.is_null() {
            return RC_NULL_OBJECT;
        }
        attach(handle, config);
        rc::OK
    })
}

/// `int flom_handle_clean(flom_handle_t *handle)`: unlocks a locked handle,
/// then frees its internals; only from INIT or DISCONNECTED (-17 otherwise).
///
/// # Safety
/// `handle` is NULL or points to a `flom_handle_t`.
#[no_mangle]
pub unsafe extern "C" fn flom_handle_clean(handle: *mut FlomHandleT) -> c_int {
    guard(|_| clean(handle))
}

unsafe fn clean(handle: *mut FlomHandleT) -> c_int {
    if handle.is_null() {
        return RC_NULL_OBJECT;
    }
    if (*handle).state == STATE_LOCKED {
        let ret = unlock(handle, false);
        if ret != rc::OK {
            return ret;
        }
    }
    let state = (*handle).state;
    if state != STATE_INIT && state != STATE_DISCONNECTED {
        return RC_API_INVALID_SEQUENCE;
    }
    if parts(handle).is_none() {
        return NOT_A_HANDLE;
    }
    detach(handle);
    rc::OK
}

/// `flom_handle_t *flom_handle_new(void)`: NULL on failure.
#[no_mangle]
pub extern "C" fn flom_handle_new() -> *mut FlomHandleT {
    guard_value(std::ptr::null_mut(), || {
        // SAFETY: malloc'd memory of the right size (free()-compatible, as
        // C FLoM's), initialised by flom_handle_init before it is returned.
        unsafe {
            let h = libc::malloc(std::mem::size_of::<FlomHandleT>()) as *mut FlomHandleT;
            if h.is_null() {
                return h;
            }
            if flom_handle_init(h) != rc::OK {
                libc::free(h.cast());
                return std::ptr::null_mut();
            }
            h
        }
    })
}

/// `void flom_handle_delete(flom_handle_t *handle)`: clean (errors
/// ignored; internals are freed even then), zero, free. NULL is accepted.
///
/// # Safety
/// `handle` is NULL or was returned by `flom_handle_new`.
#[no_mangle]
pub unsafe extern "C" fn flom_handle_delete(handle: *mut FlomHandleT) {
    guard(|_| {
        if handle.is_null() {
            return rc::OK;
        }
        if clean(handle) != rc::OK && parts(handle).is_some() {
            detach(handle);
        }
        std::ptr::write_bytes(handle, 0, 1);
        libc::free(handle.cast());
        rc::OK
    });
}

/// `int flom_handle_lock(flom_handle_t *handle)`: connects if needed
/// (CONNECTED), then locks (LOCKED). From INIT, CONNECTED or DISCONNECTED.
///
/// # Safety
/// `handle` is NULL or points to a `flom_handle_t`.
#[no_mangle]
pub unsafe extern "C" fn flom_handle_lock(handle: *mut FlomHandleT) -> c_int {
    guard(|_| {
        if handle.is_null() {
            return RC_NULL_OBJECT;
        }
        let state = (*handle).state;
        if ![STATE_INIT, STATE_CONNECTED, STATE_DISCONNECTED].contains(&state) {
            return RC_API_INVALID_SEQUENCE;
        }
        let Some(p) = parts(handle) else {
            return NOT_A_HANDLE;
        };
        if state != STATE_CONNECTED || p.conn.is_none() {
            match Session::connect(p.settings) {
                Ok(s) => *p.conn = Some(s),
                Err(code) => return code,
            }
            (*handle).state = STATE_CONNECTED;
        }
        let Some(session) = p.conn.as_mut() else {
            return NOT_A_HANDLE;
        };
        match session.lock(p.settings) {
            Ok(element) => {
                // The element of an earlier lock stays when the answer has none.
                if element.is_some() {
                    set_locked_element(&mut *handle, element);
                }
                (*handle).state = STATE_LOCKED;
                rc::OK
            }
            Err(code) => code,
        }
    })
}

/// Unlock (when LOCKED) and graceful disconnect; from LOCKED or CONNECTED.
unsafe fn unlock(handle: *mut FlomHandleT, rollback: bool) -> c_int {
    if handle.is_null() {
        return RC_NULL_OBJECT;
    }
    let state = (*handle).state;
    if state != STATE_LOCKED && state != STATE_CONNECTED {
        return RC_API_INVALID_SEQUENCE;
    }
    let Some(p) = parts(handle) else {
        return NOT_A_HANDLE;
    };
    let transactional = crate::resource::is_transactional_sequence(p.settings.resource_name());
    let ignored_rollback = rollback && !transactional;
    if let Some(session) = p.conn.as_mut() {
        if let Err(code) = session.release(rollback && transactional) {
            if state == STATE_LOCKED {
                // As C FLoM: a failed unlock leaves the handle LOCKED.
                return code;
            }
        }
    }
    *p.conn = None;
    set_locked_element(&mut *handle, None);
    (*handle).state = STATE_DISCONNECTED;
    if ignored_rollback {
        RC_RESOURCE_IS_NOT_TRANSACTIONAL
    } else {
        rc::OK
    }
}

/// `int flom_handle_unlock(flom_handle_t *handle)`
///
/// # Safety
/// `handle` is NULL or points to a `flom_handle_t`.
#[no_mangle]
pub unsafe extern "C" fn flom_handle_unlock(handle: *mut FlomHandleT) -> c_int {
    guard(|_| unlock(handle, false))
}

/// `int flom_handle_unlock_rollback(flom_handle_t *handle)`: +12 (after a
/// normal unlock) when the resource is not a transactional sequence.
///
/// # Safety
/// `handle` is NULL or points to a `flom_handle_t`.
#[no_mangle]
pub unsafe extern "C" fn flom_handle_unlock_rollback(handle: *mut FlomHandleT) -> c_int {
    guard(|_| unlock(handle, true))
}

/// Exported by C FLoM's library too (unlock with a rollback flag).
///
/// # Safety
/// `handle` is NULL or points to a `flom_handle_t`.
#[no_mangle]
pub unsafe extern "C" fn flom_handle_unlock_internal(
    handle: *mut FlomHandleT,
    rollback: c_int,
) -> c_int {
    guard(|_| unlock(handle, rollback != 0))
}

/// `const char *flom_handle_get_locked_element(const flom_handle_t *handle)`:
/// the element of the last lock, NULL when none; invalid after unlock.
///
/// # Safety
/// `handle` is NULL or points to a `flom_handle_t`.
#[no_mangle]
pub unsafe extern "C" fn flom_handle_get_locked_element(
    handle: *const FlomHandleT,
) -> *const c_char {
    if handle.is_null() {
        return std::ptr::null();
    }
    (*handle).locked_element
}
