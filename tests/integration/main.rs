#![allow(unreachable_pub)]

//! prodprobe's one integration test binary: in-process HTTP(S) servers on loopback with an
//! rcgen PKI, the library's probes and checks against them, and the daemon and CLI end to end.

mod support;

mod active_cli;
mod catalogue;
mod cli;
mod clickjacking;
mod config;
mod control_bytes;
mod cookies;
mod cors;
mod csp;
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
mod referrer_policy;
mod safety;
mod scheduler;
mod server_disclosure;
mod tls_cert;
mod tls_version;
mod x_content_type_options;
