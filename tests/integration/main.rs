#![allow(unreachable_pub)]

//! prodprobe's one integration test binary: in-process HTTP(S) servers on loopback with an
//! rcgen PKI, the library's probes and checks against them, and the daemon and CLI end to end.

mod support;

mod catalogue;
mod cli;
mod config;
mod daemon;
mod dns;
mod docs;
mod fetch;
mod formats;
mod health;
mod hsts;
mod https_redirect;
mod monitoring;
mod scheduler;
mod tls_cert;
mod tls_version;
