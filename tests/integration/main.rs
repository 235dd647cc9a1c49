#![allow(unreachable_pub)]

//! prodprobe's one integration test binary: in-process HTTP(S) servers on loopback with an
//! rcgen PKI, the library's probes and checks against them, and the daemon and CLI end to end.

mod support;

mod catalogue;
mod cli;
mod clickjacking;
mod config;
mod cookies;
mod csp;
mod daemon;
mod docs;
mod fetch;
mod health;
mod hsts;
mod https_redirect;
mod referrer_policy;
mod scheduler;
mod server_disclosure;
mod x_content_type_options;
