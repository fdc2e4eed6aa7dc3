//! FLoM, the Free LOck Manager: library part of the `flom` command (shared by
//! the command, its daemon and the benchmark tool) and of `libflom.so.0`,
//! the C API (`capi`).

pub mod capi;
pub mod cli;
pub mod client;
pub mod config;
pub mod daemon;
pub mod debug_feature;
pub mod error;
pub mod exec;
pub mod explain;
pub mod handle;
pub mod help_sections;
pub mod keyfile;
pub mod locker;
pub mod lost_lock;
pub mod net;
pub mod options;
pub mod poller;
pub mod protocol;
pub mod rc;
pub mod report;
pub mod resource;
pub mod security;
pub mod slab;
pub mod snapshot;
pub mod status;
pub mod store;
pub mod syslog;
pub mod tls;
pub mod trace;
pub mod usage;
pub mod values;
pub mod vfs;
