#![allow(unreachable_pub)]

//! prodprobe's one integration test binary: in-process HTTP(S) servers on loopback with an
//! rcgen PKI, the library's probes and checks against them, and the daemon and CLI end to end.

mod support;

mod active_cli;
mod catalogue;
mod cli;
mod config;
mod cors;
mod daemon;
mod dns;
mod docs;
mod error_disclosure;
mod exposed_paths;
mod fetch;
mod formats;
mod health;
mod hsts;
mod https_redirect;
mod monitoring;
mod rate_limit;
mod safety;
mod scheduler;
mod tls_cert;
mod tls_version;
