//! FLoM, the Free LOck Manager: library part of the `flom` command (shared by
//! the command, its daemon and the benchmark tool).

pub mod cli;
pub mod config;
pub mod locker;
pub mod protocol;
pub mod rc;
pub mod resource;
pub mod trace;
