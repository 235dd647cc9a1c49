//! The safety rules, enforced in code (ARCHITECTURE.md, Safety; CHECKS.md §0.5).
//!
//! Every request an active probe (cors, paths, unknown_path, rate_limit) sends goes through
//! [`crate::active::Session`], which checks the method against [`method_allowed`] and the
//! run's request budget before anything leaves the process. The ceilings below are
//! compile-time constants: config may lower the knobs that drive them, never raise them (the
//! binary's plan validation rejects values above a ceiling with a located error).

use std::time::Duration;

use http::Method;

use crate::probe::ProbeKind;

/// Runs in flight against one host, at most (CHECKS.md §0.5: ≤ 2 concurrent requests per
/// target). `scheduler.per_host_concurrency` may lower it.
pub const MAX_PER_HOST_CONCURRENCY: usize = 2;
/// Requests of one probe run, at most, for probes without their own budget (CHECKS.md §0.5).
pub const MAX_REQUESTS_PER_RUN: usize = 60;

/// `cors.paths`: configured paths besides the target URL, at most (CHECKS.md §8).
pub const CORS_MAX_PATHS: usize = 5;
/// `cors.allowed_origins`, at most.
pub const CORS_MAX_ALLOWED_ORIGINS: usize = 10;
/// Requests per CORS path: 9 simple requests and one preflight (CHECKS.md §8).
pub const CORS_REQUESTS_PER_PATH: usize = 10;
/// Extra requests per path for each configured allowed origin (prefix, suffix, exact).
pub const CORS_REQUESTS_PER_ALLOWED_ORIGIN: usize = 3;
/// The most requests a cors run can ever send.
pub const CORS_MAX_REQUESTS: usize = (1 + CORS_MAX_PATHS)
    * (CORS_REQUESTS_PER_PATH + CORS_REQUESTS_PER_ALLOWED_ORIGIN * CORS_MAX_ALLOWED_ORIGINS);

/// `cookies.paths`: pages the fetch probe also requests for their `Set-Cookie` lines, at most
/// (CHECKS.md §7, edge cases: cookies set only on a login page).
pub const COOKIES_MAX_PATHS: usize = 5;

/// `exposed_paths.extra_paths`, at most.
pub const PATHS_MAX_EXTRA: usize = 20;
/// The most requests a paths run can ever send: the default list, the extra paths and the
/// baseline, at the origin root and under the target's base path.
pub const PATHS_MAX_REQUESTS: usize = 2 * (33 + PATHS_MAX_EXTRA + 5);

/// Requests of an unknown_path run (CHECKS.md §14: (a), (b), (c)).
pub const UNKNOWN_PATH_REQUESTS: usize = 3;

/// `rate_limit.cap` default (CHECKS.md §12).
pub const RATE_LIMIT_DEFAULT_CAP: usize = 100;
/// `rate_limit.cap` compile-time ceiling (CHECKS.md §12).
pub const RATE_LIMIT_CAP_CEILING: usize = 200;
/// `rate_limit.burst` default (CHECKS.md §12).
pub const RATE_LIMIT_DEFAULT_BURST: usize = 20;
/// `rate_limit.rps` default (CHECKS.md §12).
pub const RATE_LIMIT_DEFAULT_RPS: u32 = 5;
/// `rate_limit.rps` ceiling (CHECKS.md §12).
pub const RATE_LIMIT_MAX_RPS: u32 = 20;
/// A burst never lasts longer than this (CHECKS.md §12 step 4).
pub const RATE_LIMIT_MAX_DURATION: Duration = Duration::from_secs(30);
/// A configured POST body is at most this long (CHECKS.md §12 step 4).
pub const RATE_LIMIT_MAX_BODY: usize = 1024;
/// `probes.rate_limit.interval` (CHECKS.md's `min_interval`) floor.
pub const RATE_LIMIT_MIN_INTERVAL_FLOOR: Duration = Duration::from_secs(3600);

/// Backoff never lasts longer than this (CHECKS.md §0.5).
pub const BACKOFF_MAX: Duration = Duration::from_secs(3600);
/// Backoff when the response carries no valid `Retry-After` (CHECKS.md §0.5).
pub const BACKOFF_DEFAULT: Duration = Duration::from_secs(60);

/// Whether `kind` may send `method` with a body of `body_len` bytes: GET, HEAD and OPTIONS
/// without a body; POST with a body of at most [`RATE_LIMIT_MAX_BODY`] only for rate_limit.
pub fn method_allowed(kind: ProbeKind, method: &Method, body_len: usize) -> bool {
    if *method == Method::GET || *method == Method::HEAD || *method == Method::OPTIONS {
        return body_len == 0;
    }
    *method == Method::POST && kind == ProbeKind::RateLimit && body_len <= RATE_LIMIT_MAX_BODY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_methods_and_the_rate_limit_post() {
        for kind in ProbeKind::ALL {
            assert!(method_allowed(*kind, &Method::GET, 0));
            assert!(method_allowed(*kind, &Method::HEAD, 0));
            assert!(method_allowed(*kind, &Method::OPTIONS, 0));
            assert!(!method_allowed(*kind, &Method::GET, 1), "no bodies on GET");
            for m in [Method::PUT, Method::DELETE, Method::PATCH, Method::CONNECT] {
                assert!(!method_allowed(*kind, &m, 0), "{kind} {m}");
            }
            assert_eq!(
                method_allowed(*kind, &Method::POST, 10),
                *kind == ProbeKind::RateLimit
            );
        }
        assert!(!method_allowed(
            ProbeKind::RateLimit,
            &Method::POST,
            RATE_LIMIT_MAX_BODY + 1
        ));
    }

    #[test]
    fn ceilings_are_consistent() {
        assert_eq!(CORS_MAX_REQUESTS, 6 * 40);
        const { assert!(RATE_LIMIT_DEFAULT_CAP <= RATE_LIMIT_CAP_CEILING) };
        const { assert!(RATE_LIMIT_DEFAULT_BURST <= RATE_LIMIT_DEFAULT_CAP) };
        const { assert!(RATE_LIMIT_DEFAULT_RPS <= RATE_LIMIT_MAX_RPS) };
    }
}
