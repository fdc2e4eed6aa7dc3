//! `flom`: run a command while holding a lock kept by the FLoM daemon.

use flom::cli::{self, Action};
use flom::client;
use flom::error::{exit_status, FlomError, Outcome};
use std::os::unix::ffi::OsStringExt;

/// The outcome of an early exit of option parsing, which reports it as the
/// exit status to use (its messages are already printed).
fn parse_exit(status: i32) -> Outcome {
    match status {
        flom::rc::ES_OK => Outcome::Done,
        flom::rc::ES_UNABLE_TO_EXECUTE_COMMAND => Outcome::Failed(FlomError::NoCommand),
        _ => Outcome::Failed(FlomError::InvalidOptions),
    }
}

fn invocation() -> Outcome {
    let mut args: Vec<String> = Vec::new();
    for a in std::env::args_os() {
        match String::from_utf8(a.into_vec()) {
            Ok(s) => args.push(s),
            Err(_) => {
                return Outcome::Failed(FlomError::Usage(
                    "option parsing failed: Invalid byte sequence in conversion input".into(),
                ))
            }
        }
    }
    let inv = match cli::parse(&args) {
        Ok(inv) => inv,
        Err(status) => return parse_exit(status),
    };
    match inv.action {
        Action::Run(command) => client::run(&inv.config, &command),
        Action::Shutdown { immediate } => client::shutdown(&inv.config, immediate),
        Action::ForegroundDaemon => flom::daemon::run_service(&inv.config),
        Action::Status { json } => client::status(&inv.config, json),
        Action::DebugFeature(name) => {
            Outcome::SelfCheck(flom::debug_feature::run(&inv.config, &name) == 0)
        }
    }
}

fn main() {
    let outcome = invocation();
    // (A foreground daemon that cannot start says why the same way.)
    if let Outcome::Failed(e @ FlomError::Usage(_)) = &outcome {
        eprintln!("{e}");
    }
    std::process::exit(exit_status(&outcome));
}
