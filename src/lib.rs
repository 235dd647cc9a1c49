//! prodprobe's daemon and CLI internals: config, plan, scheduler, exporter, server, reports.
//! The binary (`main.rs`) is a thin command-line wrapper around these modules; probes and
//! checks live in the `probes` crate.

#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod about;
pub mod config;
pub mod exporter;
pub mod formats;
pub mod plan;
mod plan_active;
pub mod reload;
pub mod report;
pub mod scheduler;
pub mod server;
pub mod shard;
pub mod state;
