//! The `flom` command as a client of the daemon, built on [`FlomHandle`]:
//! run a command while holding the lock (its element appended to the
//! command line, its fencing token in the environment, unlock with rollback
//! when it fails), and the management requests: `-x`/`-X`, and `--status`
//! (ours). Messages are printed here, where C FLoM printed them.

use crate::config::Config;
use crate::error::{exit_status, FlomError, Outcome};
use crate::exec;
use crate::explain;
use crate::handle::{FlomHandle, HandleState};
use crate::lost_lock::LostLockWatch;
use crate::report;
use std::io::{self, Write};

/// Prints the sentence of `e` and passes it on.
fn reported(e: FlomError, config: &Config) -> FlomError {
    eprintln!("{}", explain::sentence(&e, config));
    e
}

/// `flom [options] -- command`: lock (starting a daemon if needed), run,
/// unlock.
pub fn run(config: &Config, command: &[String]) -> Outcome {
    if let Some(why) = explain::never_grantable(config) {
        // Printed by main, like every usage error.
        return Outcome::Failed(FlomError::Usage(why));
    }
    let mut handle = FlomHandle::new(config.clone());
    let _ = handle.set_auto_start(true);
    crate::trace!(
        crate::trace::CLIENT,
        "client: locking resource '{}' in mode {}, quantity {}, timeout {} ms",
        config.resource_name,
        config.lock_mode.short_name(),
        config.resource_quantity,
        config.resource_timeout
    );
    let element = match handle.lock() {
        Ok(element) => element.map(str::to_string),
        Err(e) => {
            crate::trace!(
                crate::trace::CLIENT,
                "client: lock failed: rc={}",
                e.flom_rc()
            );
            let e = reported(e, config);
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
    crate::trace!(
        crate::trace::CLIENT,
        "client: lock granted{}",
        element
            .as_deref()
            .map(|e| format!(", element '{e}'"))
            .unwrap_or_default()
    );
    let mut argv = command.to_vec();
    if let Some(e) = element {
        if config.verbose {
            println!("Locked element is '{e}'");
        }
        argv.push(e);
    }
    let _ = io::stdout().flush();
    crate::trace!(
        crate::trace::CLIENT,
        "client: running command '{}' with {} argument(s)",
        argv[0],
        argv.len() - 1
    );
    // A lock kept in etcd can be lost while the command runs (lease lost).
    let watch = match (&config.etcd_endpoints, handle.connection_fd()) {
        (Some(_), Some(fd)) => Some(LostLockWatch::start(fd, &config.resource_name)),
        _ => None,
    };
    let ran = Outcome::Command(exec::run_command(&argv, &config.ignored_signals, token));
    if watch.is_some_and(LostLockWatch::finish) {
        let _ = handle.disconnect();
        return Outcome::Command(exec::Ending::Unknown); // exit status 99
    }
    let rollback = exit_status(&ran) != 0;
    crate::trace!(
        crate::trace::CLIENT,
        "client: command ended with status {}; unlocking{}",
        exit_status(&ran),
        if rollback { " with rollback" } else { "" }
    );
    match handle.unlock_sending(rollback) {
        Ok(()) => ran,
        Err(e) => Outcome::Failed(reported(e, config)),
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
    crate::trace!(
        crate::trace::CLIENT,
        "client: asking the daemon for {} shutdown",
        if immediate {
            "an immediate"
        } else {
            "a quiesce"
        }
    );
    match handle.shutdown_daemon(immediate) {
        Ok(()) => Outcome::Done,
        Err(
            e @ (FlomError::Address(_)
            | FlomError::DiscoverySend { .. }
            | FlomError::Refused { .. }),
        ) => Outcome::Failed(reported(e, config)),
        // A TLS failure says what failed (the exit status stays C's).
        Err(FlomError::Tls { rc, message, .. }) => {
            eprintln!("{message}");
            Outcome::Failed(FlomError::Management { rc })
        }
        Err(e) => {
            let rc = e.flom_rc();
            match e {
                FlomError::Connect { target, .. } => eprintln!(
                    "flom: no daemon to shut down was found on {}; nothing was stopped.",
                    shown_target(config, &target)
                ),
                _ => eprintln!(
                    "flom: the shutdown request could not be delivered ({}); check that the daemon is running.",
                    crate::rc::strerror(rc)
                ),
            }
            Outcome::Failed(FlomError::Management { rc })
        }
    }
}

/// `flom --status [--json]`: print the daemon's resources, holders,
/// waiters and incubator (a table, or one JSON document). Never starts a
/// daemon.
pub fn status(config: &Config, json: bool) -> Outcome {
    let mut handle = FlomHandle::new(config.clone());
    match handle.status() {
        Ok(snapshot) => {
            if let Some(note) = &snapshot.note {
                eprintln!("flom: warning: {note}");
            }
            let text = if json {
                report::json(&snapshot)
            } else {
                report::table(&snapshot, config.verbose)
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
            Outcome::Failed(reported(e, config))
        }
        Err(e) => Outcome::Failed(reported(e, config)),
    }
}

/// Where the daemon was looked for, as the sentences name it.
fn shown_target(config: &Config, target: &str) -> String {
    if !config.uses_network() {
        return format!("socket {target}");
    }
    let (host, port) = target.rsplit_once('/').unwrap_or((target, ""));
    format!("{host} port {port}")
}
