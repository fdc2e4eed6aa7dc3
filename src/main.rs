//! `flom`: run a command while holding a lock kept by the FLoM daemon.

use flom::cli::{self, Action};
use flom::client;
use std::os::unix::ffi::OsStringExt;

fn main() {
    let mut args: Vec<String> = Vec::new();
    for a in std::env::args_os() {
        match String::from_utf8(a.into_vec()) {
            Ok(s) => args.push(s),
            Err(_) => {
                eprintln!("option parsing failed: Invalid byte sequence in conversion input");
                std::process::exit(flom::rc::ES_GENERIC_ERROR);
            }
        }
    }
    let status = match cli::parse(&args) {
        Err(status) => status,
        Ok(inv) => {
            if inv.config.tls_certificate.is_some()
                || inv.config.tls_private_key.is_some()
                || inv.config.tls_ca_certificate.is_some()
            {
                eprintln!("flom: TLS is not supported by this build yet: remove the --tls-* options (or [TLS] keys) to go on");
                std::process::exit(flom::rc::ES_GENERIC_ERROR);
            }
            match inv.action {
                Action::Run(command) => client::run(&inv.config, &command),
                Action::Shutdown { immediate } => client::shutdown(&inv.config, immediate),
                Action::DebugFeature(name) => flom::debug_feature::run(&inv.config, &name),
            }
        }
    };
    std::process::exit(status);
}
