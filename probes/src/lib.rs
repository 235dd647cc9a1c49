//! prodprobe's library: probes gather evidence over the network, checks judge it.
//!
//! A [`probe::ProbeKind`] run against a [`target::Target`] returns an
//! [`evidence::ProbeRun`]; every check in [`checks::ALL`] that reads that probe is a pure
//! function from the newest evidence to a [`verdict::Verdict`]. This crate knows nothing about
//! the daemon: no metrics registry, no HTTP server, no printing.
//!
//! ```
//! use probes::checks;
//! let hsts = checks::by_id("hsts").unwrap();
//! assert!(hsts.findings.iter().any(|f| f.id == "max_age_too_short"));
//! ```

#![deny(missing_docs)]
#![warn(clippy::print_stdout, clippy::print_stderr, unreachable_pub)]

pub mod active;
pub mod backoff;
pub mod checks;
pub mod context;
pub mod cors;
pub mod dns;
pub mod error;
pub mod evidence;
pub mod fetch;
pub mod health;
pub mod html;
pub mod measure;
pub mod paths;
pub mod preload;
pub mod probe;
pub mod rate_limit;
pub mod ratelimit_fields;
pub mod redact;
pub mod resolve;
pub mod safety;
pub mod target;
pub mod tls;
pub mod unknown_path;
pub mod verdict;

/// The default User-Agent: product, version and a contact URL (CHECKS.md §0.1).
pub const USER_AGENT: &str = concat!(
    "prodprobe/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/prodprobe/prodprobe)"
);
