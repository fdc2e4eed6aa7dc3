//! The `flom` command as a client of the daemon, built on [`FlomHandle`]:
//! run a command while holding the lock (its element appended to the
//! command line, its fencing token in the environment, unlock with rollback
//! when it fails), and the management requests: `-x`/`-X`, and `--status`
//! (ours). Messages are printed here, where C FLoM printed them.

use crate::config::Config;
use crate::error::{exit_status, FlomError, Outcome};
use crate::exec;
use crate::handle::{FlomHandle, HandleState};
use crate::report;
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
    let token = handle.fencing_token();
    if config.verbose {
        if let Some(t) = token {
            println!("Fencing token is {t}");
        }
    }
    let mut argv = command.to_vec();
    if let Some(e) = element {
        if config.verbose {
            println!("Locked element is '{e}'");
        }
        argv.push(e);
    }
    let _ = io::stdout().flush();
    let ran = Outcome::Command(exec::run_command(&argv, &config.ignored_signals, token));
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
        Err(
            e @ (FlomError::Address(_)
            | FlomError::DiscoverySend { .. }
            | FlomError::Refused { .. }),
        ) => Outcome::Failed(reported(e)),
        // A TLS failure says what failed (the exit status stays C's).
        Err(FlomError::Tls { rc, message, .. }) => {
            eprintln!("{message}");
            Outcome::Failed(FlomError::Management { rc })
        }
        Err(e) => Outcome::Failed(FlomError::Management { rc: e.flom_rc() }),
    }
}

/// `flom --status [--json]`: print the daemon's resources, holders,
/// waiters and incubator (a table, or one JSON document). Never starts a
/// daemon.
pub fn status(config: &Config, json: bool) -> Outcome {
    let mut handle = FlomHandle::new(config.clone());
    match handle.status() {
        Ok(snapshot) => {
            let text = if json {
                report::json(&snapshot)
            } else {
                report::table(&snapshot)
            };
            let mut out = io::stdout().lock();
            if out
                .write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .is_err()
            {
                return Outcome::Failed(FlomError::Usage(
                    "flom: cannot write the status to standard output".into(),
                ));
            }
            Outcome::Done
        }
        Err(FlomError::Connect { target, .. }) => {
            let e = FlomError::Status {
                rc: crate::rc::CONNECT_ERROR,
                why: format!(
                    "no daemon answers at {target} (--status never starts one); check -s, -a or -A"
                ),
            };
            Outcome::Failed(reported(e))
        }
        Err(e) => Outcome::Failed(reported(e)),
    }
}
