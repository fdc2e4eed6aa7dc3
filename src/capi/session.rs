//! The connection of one C handle to its daemon, over the client library's
//! [`FlomHandle`]: connect (never starting a daemon), lock with the
//! handle's current request settings, unlock and graceful disconnect. The
//! one place where the C API meets the client, so the client can change
//! underneath without touching the ABI functions.

use std::ffi::c_int;

use super::settings::Settings;
use crate::error::FlomError;
use crate::handle::{FlomHandle, HandleState};
use crate::rc;
use crate::resource::LockMode;

/// An open connection to a daemon (dropping it unlocks and disconnects).
pub struct Session {
    handle: FlomHandle,
    /// Whether the connection is a TLS one (its failed writes are -412).
    tls: bool,
}

fn code(e: FlomError) -> c_int {
    e.flom_rc()
}

impl Session {
    /// Connects to the daemon the settings name; never starts one.
    pub fn connect(settings: &Settings) -> Result<Session, c_int> {
        let config = settings.to_config();
        let tls = crate::tls::files_of(&config).is_some();
        let mut handle = FlomHandle::new(config);
        handle.connect().map_err(code)?;
        Ok(Session { handle, tls })
    }

    /// Asks for the lock the settings describe (they may have changed since
    /// the connection was opened) and waits for the outcome: Ok(element)
    /// when granted, the C return code otherwise.
    pub fn lock(&mut self, settings: &Settings) -> Result<Option<String>, c_int> {
        let h = &mut self.handle;
        if h.resource_name() != settings.resource_name() {
            h.set_resource_name(settings.resource_name())
                .map_err(code)?;
        }
        // C FLoM sends any integer; ours sends a valid mode (EX otherwise).
        let mode =
            LockMode::from_code(i64::from(settings.lock_mode)).unwrap_or(LockMode::Exclusive);
        if h.lock_mode() != mode {
            h.set_lock_mode(mode).map_err(code)?;
        }
        if h.resource_quantity() != settings.resource_quantity {
            h.set_resource_quantity(settings.resource_quantity)
                .map_err(code)?;
        }
        if h.resource_timeout() != settings.resource_timeout {
            h.set_resource_timeout(settings.resource_timeout)
                .map_err(code)?;
        }
        if h.resource_idle_lifespan() != settings.resource_idle_lifespan {
            h.set_resource_idle_lifespan(settings.resource_idle_lifespan)
                .map_err(code)?;
        }
        match h.lock() {
            Ok(element) => Ok(element.map(str::to_owned)),
            Err(e) => Err(code(e)),
        }
    }

    /// Unlocks (when locked; `rollback` as given) and disconnects. After a
    /// failure that lost the connection, later calls answer -130, as C
    /// FLoM's do (-412 over TLS, SSL_write's code).
    pub fn release(&mut self, rollback: bool) -> Result<(), c_int> {
        if self.handle.state() == HandleState::Disconnected {
            return Err(if self.tls {
                crate::tls::code::SSL_WRITE_ERROR
            } else {
                rc::SEND_ERROR
            });
        }
        self.handle.unlock_sending(rollback).map_err(code)
    }
}
