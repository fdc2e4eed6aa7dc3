//! `flom`: run a command while holding a lock kept by the FLoM daemon.

use flom::cli::{self, Action};
use flom::client;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let status = match cli::parse(&args) {
        Err(status) => status,
        Ok(inv) => match inv.action {
            Action::Run(command) => client::run(&inv.config, &command),
            Action::Shutdown { immediate } => client::shutdown(&inv.config, immediate),
            Action::DebugFeature(name) => flom::debug_feature::run(&inv.config, &name),
        },
    };
    std::process::exit(status);
}
