//! The `flom` command as a client of the daemon, built on [`FlomHandle`]:
//! run a command while holding the lock (its element appended to the
//! command line, unlock with rollback when it fails), and the `-x`/`-X`
//! management requests. Messages are printed here, where C FLoM printed them.

use crate::config::Config;
use crate::error::{exit_status, FlomError, Outcome};
use crate::exec;
use crate::handle::{FlomHandle, HandleState};
use crate::lost_lock::LostLockWatch;
use std::io::{self, Write};

/// Prints `e` and passes it on.
fn reported(e: FlomError) -> FlomError {
    eprintln!("{e}");
    e
}

/// `flom [options] -- command`: lock (starting a daemon if needed), run,
/// unlock.
pub fn run(config: &Config, command: &[String]) -> Outcome {
    let mut handle = FlomHandle::new(config.clone());
    let _ = handle.set_auto_start(true);
    let element = match handle.lock() {
        Ok(element) => element.map(str::to_string),
        Err(e) => {
            let e = reported(e);
            if handle.state() == HandleState::Connected {
                let _ = handle.disconnect();
            }
            return Outcome::Failed(e);
        }
    };
    let mut argv = command.to_vec();
    if let Some(e) = element {
        if config.verbose {
            println!("Locked element is '{e}'");
        }
        argv.push(e);
    }
    let _ = io::stdout().flush();
    // A lock kept in etcd can be lost while the command runs (lease lost).
    let watch = match (&config.etcd_endpoints, handle.connection_fd()) {
        (Some(_), Some(fd)) => Some(LostLockWatch::start(fd, &config.resource_name)),
        _ => None,
    };
    let ran = Outcome::Command(exec::run_command(&argv, &config.ignored_signals));
    if watch.is_some_and(LostLockWatch::finish) {
        let _ = handle.disconnect();
        return Outcome::Command(exec::Ending::Unknown); // exit status 99
    }
    let rollback = exit_status(&ran) != 0;
    match handle.unlock_sending(rollback) {
        Ok(()) => ran,
        Err(e) => Outcome::Failed(reported(e)),
    }
}

/// `flom -x` / `flom -X`: ask the daemon to shut down. Never starts one.
pub fn shutdown(config: &Config, immediate: bool) -> Outcome {
    if immediate {
        println!("Starting FLoM daemon immediate shutdown...");
    } else {
        println!("Starting FLoM daemon quiesce shutdown...");
    }
    let _ = io::stdout().flush();
    let mut handle = FlomHandle::new(config.clone());
    match handle.shutdown_daemon(immediate) {
        Ok(()) => Outcome::Done,
        Err(e @ (FlomError::Address(_) | FlomError::DiscoverySend { .. })) => {
            Outcome::Failed(reported(e))
        }
        // A TLS failure says what failed (the exit status stays C's).
        Err(FlomError::Tls { rc, message, .. }) => {
            eprintln!("{message}");
            Outcome::Failed(FlomError::Management { rc })
        }
        Err(e) => Outcome::Failed(FlomError::Management { rc: e.flom_rc() }),
    }
}
