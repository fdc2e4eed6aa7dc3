//! The fuzz targets of flom: one function per target taking the raw input,
//! calling the code under test and asserting its properties (a failed
//! assertion is a crash for AFL++). The same functions replay the regression
//! inputs of `fuzz/regressions/` in the main crate's tests.

#[path = "targets.rs"]
pub mod targets;
pub use targets::*;
