//! The `rate_limit` probe (CHECKS.md §12, opt-in): a bounded, paced, sequential burst to one
//! path that stops at the first 429, any 5xx, a connection error or a slow answer. Request 1's
//! rate-limit fields size the burst: N = q + 1 for an advertised `requests` quota with a window
//! ≤ 60 s that fits under the cap and into 30 s at `rps`, else `burst` (never more than those
//! two allow). No credentials, no redirects; GET by default, HEAD or POST (a fixed body of at
//! most 1 KiB) when configured. The scheduler decides whether it may run at all (opt-in,
//! interval floor, health passing, one burst at a time, backoff).

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::Method;
use http::header::{self, HeaderValue};
use tokio::time::{Instant, sleep_until};
use url::Url;

use crate::active::Session;
use crate::checks::rate_limit::RateLimitMethod;
use crate::context::ProbeContext;
use crate::evidence::{Evidence, Exchange, Failure, ProbeRun};
use crate::fetch::{OTHER_BODY_CAP, RequestSpec};
use crate::probe::{Outcome, ProbeKind};
use crate::ratelimit_fields;
use crate::safety::{RATE_LIMIT_CAP_CEILING, RATE_LIMIT_MAX_DURATION, RATE_LIMIT_MAX_RPS};
use crate::target::Target;

/// Why the burst stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// All N requests were sent without a limit.
    Completed,
    /// A 429, or a 503 with `Retry-After`.
    Limited,
    /// Another 5xx.
    ServerError,
    /// A request failed without a response.
    ConnectionError,
    /// Latency above max(3× the first request's, 1 s).
    Slow,
    /// The 30 s burst limit or the run deadline was reached.
    Deadline,
    /// The session refused to send (budget).
    Refused,
}

impl Stop {
    /// Low-cardinality name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Stop::Completed => "completed",
            Stop::Limited => "limited",
            Stop::ServerError => "server_error",
            Stop::ConnectionError => "connection_error",
            Stop::Slow => "slow",
            Stop::Deadline => "deadline",
            Stop::Refused => "refused",
        }
    }
}

/// One request of the burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attempt {
    /// When the request started, from the burst's start.
    pub at: Duration,
    /// Status, `None` when no response arrived.
    pub status: Option<u16>,
    /// Request start until the body was read.
    pub latency: Duration,
}

/// Evidence of the `rate_limit` probe.
#[derive(Debug, Clone)]
pub struct RateLimitEvidence {
    /// Set when the run sent nothing (`health_failing`).
    pub skipped: Option<&'static str>,
    /// The URL.
    pub url: Url,
    /// The method.
    pub method: Method,
    /// The planned burst size N.
    pub planned: usize,
    /// Every request, in order.
    pub attempts: Vec<Attempt>,
    /// Requests that reached the wire, as the session counted them (one per attempt: a burst
    /// request is never sent again, each has its own connection).
    pub requests: usize,
    /// Request 1's response.
    pub first: Option<Exchange>,
    /// The response that stopped the burst, or the last one (kept whole; the other responses
    /// of the burst keep only status and latency).
    pub last: Option<Exchange>,
    /// The failure that stopped the burst, if any.
    pub failure: Option<Failure>,
    /// 1-based number of the first limited request.
    pub first_limited: Option<usize>,
    /// Why it stopped.
    pub stop: Stop,
    /// Request 1's start until the last response.
    pub elapsed: Duration,
    /// Wall-clock end (converts HTTP-dates without a `Date` header).
    pub finished_at: SystemTime,
}

impl RateLimitEvidence {
    /// Request 1's response and the stopping response (once when they are the same).
    pub fn responses(&self) -> impl Iterator<Item = &Exchange> {
        let last = if self.attempts.len() > 1 {
            self.last.as_ref()
        } else {
            None
        };
        self.first.iter().chain(last)
    }

    /// Requests sent: never more than the cap.
    pub fn sent(&self) -> usize {
        self.requests
    }
}

/// The URL of the burst: `rate_limit.path` on the target, else the target URL.
pub fn url(target: &Target) -> Url {
    target
        .options
        .rate_limit
        .path
        .as_deref()
        .and_then(|p| target.url.join(p).ok())
        .filter(|u| target.same_host(u))
        .unwrap_or_else(|| target.url.clone())
}

/// The run the scheduler records when the burst may not run (`health_failing`): it sent
/// nothing.
pub fn skipped_run(target: &Target, reason: &'static str) -> ProbeRun {
    ProbeRun {
        kind: ProbeKind::RateLimit,
        started_at: SystemTime::now(),
        duration: Duration::ZERO,
        success: false,
        reason: Some(reason),
        evidence: Evidence::RateLimit(Box::new(RateLimitEvidence {
            skipped: Some(reason),
            url: url(target),
            method: Method::GET,
            planned: 0,
            attempts: Vec::new(),
            requests: 0,
            first: None,
            last: None,
            failure: None,
            first_limited: None,
            stop: Stop::Refused,
            elapsed: Duration::ZERO,
            finished_at: SystemTime::now(),
        })),
        measurements: Vec::new(),
    }
}

/// The most requests a burst can send: `cap` (at most the ceiling), and what `rps` paces into
/// the 30 s burst limit (CHECKS.md §12 steps 3–4).
pub fn reach(cap: usize, rps: u32) -> usize {
    let rps = rps.clamp(1, RATE_LIMIT_MAX_RPS) as usize;
    let paced = rps.saturating_mul(RATE_LIMIT_MAX_DURATION.as_secs() as usize);
    cap.min(RATE_LIMIT_CAP_CEILING).min(paced)
}

/// The burst size after request 1 (CHECKS.md §12 step 3): never more than [`reach`].
pub fn planned(fields: &ratelimit_fields::Fields, burst: usize, cap: usize, rps: u32) -> usize {
    let reach = reach(cap, rps);
    match (fields.quota, fields.window) {
        (Some(q), Some(w)) if w <= 60 && q.saturating_add(1) <= reach as u64 => q as usize + 1,
        _ => burst.min(reach),
    }
    .max(1)
}

/// Runs the probe.
pub(crate) async fn run(target: &Target, cx: &ProbeContext<'_>) -> Outcome {
    let opts = &target.options.rate_limit;
    let cap = opts.cap.min(RATE_LIMIT_CAP_CEILING);
    let rps = opts.rps.clamp(1, RATE_LIMIT_MAX_RPS);
    let url = url(target);
    let (method, body) = match opts.method {
        RateLimitMethod::Get => (Method::GET, Bytes::new()),
        RateLimitMethod::Head => (Method::HEAD, Bytes::new()),
        RateLimitMethod::Post => (Method::POST, Bytes::from(opts.body.clone())),
    };
    let mut spec = RequestSpec {
        method: method.clone(),
        body,
        ..RequestSpec::get(&url, OTHER_BODY_CAP)
            .header(header::ACCEPT, "*/*")
            .header(header::CACHE_CONTROL, "no-cache")
    };
    if method == Method::POST
        && let Ok(ct) = HeaderValue::from_str(&opts.content_type)
    {
        spec.headers.push((header::CONTENT_TYPE, ct));
    }
    let step = Duration::from_secs(1) / rps;
    let t0 = Instant::now();
    let burst_end = cx.deadline.min(t0 + RATE_LIMIT_MAX_DURATION);
    // Every request ends by the burst's end too (CHECKS.md §12: ≤ 30 s in total).
    let burst_cx = ProbeContext {
        engine: cx.engine,
        deadline: burst_end,
    };
    let mut session = Session::new(ProbeKind::RateLimit, target, &burst_cx, cap);
    let mut start_at = t0;
    let mut attempts = Vec::new();
    let (mut first, mut last, mut failure, mut first_limited) = (None, None, None, None);
    let mut n = 1usize;
    let mut slow_after = Duration::from_secs(1);
    let stop = loop {
        if attempts.len() >= n || session.sent() >= cap {
            break Stop::Completed;
        }
        if start_at >= burst_end {
            break Stop::Deadline;
        }
        sleep_until(start_at).await;
        let r0 = Instant::now();
        // Paced from the previous start, never from a fixed grid: after a slow request the
        // next ones do not rush to catch up, so no second carries more than `rps` starts.
        start_at = r0 + step;
        let sent = session.send(&spec).await;
        let latency = r0.elapsed();
        let hop = match sent {
            Ok(hop) => hop,
            Err(_) => break Stop::Refused,
        };
        let index = attempts.len() + 1;
        match hop {
            Err(f) => {
                attempts.push(Attempt {
                    at: r0 - t0,
                    status: None,
                    latency,
                });
                // Cut by the burst's end, not failed by the server.
                let cut = f.reason.ends_with("timeout") && Instant::now() >= burst_end;
                failure = Some(f);
                break if cut {
                    Stop::Deadline
                } else {
                    Stop::ConnectionError
                };
            }
            Ok(e) => {
                attempts.push(Attempt {
                    at: r0 - t0,
                    status: Some(e.status),
                    latency,
                });
                if index == 1 {
                    let fields = ratelimit_fields::read(&e, SystemTime::now());
                    n = planned(&fields, opts.burst, cap, rps);
                    slow_after = (latency * 3).max(Duration::from_secs(1));
                    first = Some(e.clone());
                }
                let limited = crate::backoff::triggers(&e);
                let status = e.status;
                last = Some(e);
                if limited {
                    first_limited = Some(index);
                    break Stop::Limited;
                }
                if (500..600).contains(&status) {
                    break Stop::ServerError;
                }
                if index > 1 && latency > slow_after {
                    break Stop::Slow;
                }
            }
        }
    };
    let evidence = RateLimitEvidence {
        skipped: None,
        url,
        method,
        planned: n,
        attempts,
        requests: session.sent(),
        first,
        last,
        failure,
        first_limited,
        stop,
        elapsed: t0.elapsed(),
        finished_at: SystemTime::now(),
    };
    let success = !matches!(stop, Stop::ConnectionError | Stop::Refused);
    let reason = match stop {
        Stop::ConnectionError => evidence.failure.as_ref().map(|f| f.reason),
        Stop::Refused => Some("refused"),
        _ => None,
    };
    Outcome {
        evidence: Evidence::RateLimit(Box::new(evidence)),
        success,
        reason,
        measurements: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CHECKS.md §12 steps 3–4: N = q + 1 when it fits under the cap and into 30 s at `rps`,
    /// else `burst`; never more than either allows.
    #[test]
    fn the_planned_burst_fits_the_cap_and_30_s_at_rps() {
        /// (q, w, burst, cap, rps, N)
        type Case = (Option<u64>, Option<u64>, usize, usize, u32, usize);
        let cases: &[Case] = &[
            (Some(4), Some(10), 20, 100, 5, 5),
            (Some(149), Some(60), 20, 200, 5, 150),
            (Some(199), Some(60), 20, 200, 5, 20),
            (Some(199), Some(60), 20, 200, 20, 200),
            (Some(100), Some(60), 20, 100, 20, 20),
            (Some(10), Some(61), 20, 100, 5, 20),
            (Some(10), None, 20, 100, 5, 20),
            (None, None, 200, 200, 5, 150),
            (None, None, 200, 500, 20, 200),
            (None, None, 20, 100, 0, 20),
        ];
        for &(quota, window, burst, cap, rps, n) in cases {
            let fields = ratelimit_fields::Fields {
                quota,
                window,
                ..Default::default()
            };
            assert_eq!(
                planned(&fields, burst, cap, rps),
                n,
                "q={quota:?} w={window:?} burst={burst} cap={cap} rps={rps}"
            );
        }
    }
}
