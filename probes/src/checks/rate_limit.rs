//! `rate_limit` (CHECKS.md §12, opt-in): one client gets throttled. Reads the bounded burst of
//! the `rate_limit` probe; passes when a 429 (or a 503 with `Retry-After`) was observed.
//! It is evaluated when health runs too (it reads health: the scheduler runs the burst only
//! while health passes), always over the newest burst.

use super::{CheckDef, CheckInput, Evaluation, dedup_findings};
use crate::backoff::{RetryAfter, retry_after, retry_after_seconds};
use crate::evidence::Exchange;
use crate::measure::{GaugeDef, Measurement};
use crate::probe::ProbeKind;
use crate::rate_limit::Stop;
use crate::ratelimit_fields::{self, Fields, Style};
use crate::safety::{
    RATE_LIMIT_DEFAULT_BURST, RATE_LIMIT_DEFAULT_CAP, RATE_LIMIT_DEFAULT_RPS,
    RATE_LIMIT_MAX_DURATION,
};
use crate::verdict::{Finding, FindingDef, Judgement, Severity, Status};

/// The burst's method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum RateLimitMethod {
    /// `GET` (default).
    #[default]
    Get,
    /// `HEAD`.
    Head,
    /// `POST` with the configured fixed body (≤ 1 KiB).
    Post,
}

/// Default `Content-Type` of a POST burst.
pub const DEFAULT_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Options of `rate_limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitOptions {
    /// Path of the burst (default: the target path).
    pub path: Option<String>,
    /// Method (default GET).
    pub method: RateLimitMethod,
    /// The fixed POST body.
    pub body: String,
    /// `Content-Type` of the POST body.
    pub content_type: String,
    /// Requests when no usable quota is advertised (default 20, at most `cap`).
    pub burst: usize,
    /// Requests at most (default 100, ceiling 200).
    pub cap: usize,
    /// Requests per second (default 5, ceiling 20).
    pub rps: u32,
}

impl Default for RateLimitOptions {
    fn default() -> Self {
        RateLimitOptions {
            path: None,
            method: RateLimitMethod::Get,
            body: String::new(),
            content_type: DEFAULT_CONTENT_TYPE.to_owned(),
            burst: RATE_LIMIT_DEFAULT_BURST,
            cap: RATE_LIMIT_DEFAULT_CAP,
            rps: RATE_LIMIT_DEFAULT_RPS,
        }
    }
}

const NO_RATE_LIMIT_OBSERVED: FindingDef =
    FindingDef::new("no_rate_limit_observed", Severity::Medium);
const LIMIT_NOT_ENFORCED: FindingDef = FindingDef::new("limit_not_enforced", Severity::Medium);
const RETRY_AFTER_INVALID: FindingDef = FindingDef::new("retry_after_invalid", Severity::Low);
const HEADER_MALFORMED: FindingDef = FindingDef::new("ratelimit_header_malformed", Severity::Info);
const NO_RETRY_AFTER: FindingDef = FindingDef::new("no_retry_after", Severity::Info);
const LIMITED_WITH_503: FindingDef = FindingDef::new("limited_with_503", Severity::Info);
const ADVERTISED_NOT_TESTED: FindingDef = FindingDef::new("advertised_not_tested", Severity::Info);
/// Status `error` (CHECKS.md §12 step 5); reported as the verdict's reason.
const ABORTED_SERVER_ERROR: FindingDef = FindingDef::new("aborted_server_error", Severity::Info);

static LIMITED: GaugeDef = GaugeDef {
    name: "ratelimit_limited",
    help: "1 if the burst was limited (429, or 503 with Retry-After)",
    labels: &[],
};
static SENT: GaugeDef = GaugeDef {
    name: "ratelimit_requests_sent",
    help: "Requests the last burst sent",
    labels: &[],
};
static FIRST_LIMITED: GaugeDef = GaugeDef {
    name: "ratelimit_first_limited_request",
    help: "Number of the first limited request of the burst, 0 = never",
    labels: &[],
};
static RETRY_AFTER_SECONDS: GaugeDef = GaugeDef {
    name: "ratelimit_retry_after_seconds",
    help: "Retry-After of the limited response in seconds (HTTP-dates against its Date), -1 absent or invalid",
    labels: &[],
};
static QUOTA: GaugeDef = GaugeDef {
    name: "ratelimit_policy_quota",
    help: "Advertised request quota, -1 unknown",
    labels: &[],
};
static WINDOW: GaugeDef = GaugeDef {
    name: "ratelimit_policy_window_seconds",
    help: "Window of the advertised quota, -1 unknown",
    labels: &[],
};
static REMAINING: GaugeDef = GaugeDef {
    name: "ratelimit_remaining",
    help: "Remaining requests advertised by the last response carrying the field, -1 unknown",
    labels: &[],
};
static RESET: GaugeDef = GaugeDef {
    name: "ratelimit_reset_seconds",
    help: "Seconds until the quota resets, per the last response carrying the field, -1 unknown",
    labels: &[],
};
static HEADERS_PRESENT: GaugeDef = GaugeDef {
    name: "ratelimit_headers_present",
    help: "1 if the burst's responses carry rate-limit fields of this style (ietf, draft7, legacy_x, legacy_draft)",
    labels: &["style"],
};

/// The check.
pub static CHECK: CheckDef = CheckDef {
    id: "rate_limit",
    summary: "one client gets throttled (bounded, paced burst; opt-in)",
    inputs: &[ProbeKind::RateLimit, ProbeKind::Health],
    findings: &[
        NO_RATE_LIMIT_OBSERVED,
        LIMIT_NOT_ENFORCED,
        RETRY_AFTER_INVALID,
        HEADER_MALFORMED,
        NO_RETRY_AFTER,
        LIMITED_WITH_503,
        ADVERTISED_NOT_TESTED,
        ABORTED_SERVER_ERROR,
    ],
    gauges: &[
        &LIMITED,
        &SENT,
        &FIRST_LIMITED,
        &RETRY_AFTER_SECONDS,
        &QUOTA,
        &WINDOW,
        &REMAINING,
        &RESET,
        &HEADERS_PRESENT,
    ],
    opt_in: true,
    scans_cycle: false,
    also_reads: &[],
    evaluate,
};

fn merge(into: &mut Fields, from: Fields) {
    for s in from.styles {
        if !into.styles.contains(&s) {
            into.styles.push(s);
        }
    }
    into.malformed.extend(from.malformed);
    into.quota = into.quota.or(from.quota);
    into.window = into.window.or(from.window);
    // The later response's counters are the current ones.
    into.remaining = from.remaining.or(into.remaining);
    if from.reset.is_some() {
        into.reset = from.reset;
        into.reset_form = from.reset_form;
    }
}

/// The burst's statuses in order, runs collapsed: `200 ×5, 403 ×15`. A limiter answering
/// 403 (django-ratelimit, mod_evasive) is not a 429, but the evidence must show it.
fn statuses(ev: &crate::rate_limit::RateLimitEvidence) -> String {
    let mut runs: Vec<(Option<u16>, usize)> = Vec::new();
    for a in &ev.attempts {
        match runs.last_mut() {
            Some((s, n)) if *s == a.status => *n += 1,
            _ => runs.push((a.status, 1)),
        }
    }
    let parts: Vec<String> = runs
        .iter()
        .map(|(s, n)| {
            let s = s.map_or_else(|| "no response".to_owned(), |s| s.to_string());
            if *n == 1 { s } else { format!("{s} ×{n}") }
        })
        .collect();
    format!("statuses: {}", parts.join(", "))
}

fn evaluate(input: &CheckInput<'_>) -> Evaluation {
    let ev = match input.rate_limit() {
        Ok(e) => e,
        // No burst in this process yet (a health run re-evaluates the check): the verdict of
        // the last burst, restored from the state file, stands until the next one.
        Err(j) => {
            return match input.verdict_of(CHECK.id) {
                Some(previous) => Evaluation::new(
                    match previous.status {
                        Status::Pass | Status::Fail => {
                            Judgement::Evaluated(previous.findings.clone())
                        }
                        Status::Error => Judgement::ErrorWith(
                            previous.reason.unwrap_or("error"),
                            previous.findings.clone(),
                        ),
                        Status::Skipped => Judgement::Skipped(previous.reason.unwrap_or("skipped")),
                    },
                    previous.measurements.clone(),
                ),
                None => Evaluation::bare(j),
            };
        }
    };
    if let Some(reason) = ev.skipped {
        return Evaluation::bare(Judgement::Skipped(reason));
    }
    let mut fields = Fields::default();
    // The first response's reset, on its own: it bounds the window that response opened.
    let mut first_reset = None;
    for (i, e) in ev.responses().enumerate() {
        let read = ratelimit_fields::read(e, ev.finished_at);
        if i == 0 && ev.first.is_some() {
            first_reset = read.reset.zip(read.reset_form);
        }
        merge(&mut fields, read);
    }
    let limited_response: Option<&Exchange> = ev.first_limited.and(ev.last.as_ref());
    let retry = limited_response.and_then(|e| retry_after_seconds(e, ev.finished_at));
    let mut measurements = vec![
        Measurement::flag(&LIMITED, ev.first_limited.is_some()),
        Measurement::new(&SENT, ev.sent() as f64),
        Measurement::new(&FIRST_LIMITED, ev.first_limited.unwrap_or(0) as f64),
        Measurement::new(
            &RETRY_AFTER_SECONDS,
            match retry {
                Some(Ok(s)) => s as f64,
                _ => -1.0,
            },
        ),
        Measurement::new(&QUOTA, fields.quota.map_or(-1.0, |q| q as f64)),
        Measurement::new(&WINDOW, fields.window.map_or(-1.0, |w| w as f64)),
        Measurement::new(&REMAINING, fields.remaining.map_or(-1.0, |r| r as f64)),
        Measurement::new(&RESET, fields.reset.map_or(-1.0, |r| r as f64)),
    ];
    for style in Style::ALL {
        measurements.push(Measurement::labelled(
            &HEADERS_PRESENT,
            [style.as_str()],
            if fields.styles.contains(&style) {
                1.0
            } else {
                0.0
            },
        ));
    }
    if matches!(
        ev.stop,
        Stop::ServerError | Stop::ConnectionError | Stop::Slow | Stop::Refused
    ) {
        let n = ev.sent();
        let why = match (ev.stop, &ev.last, &ev.failure) {
            (Stop::ConnectionError, _, Some(f)) => {
                format!("request {n}: no response ({}: {})", f.reason, f.detail)
            }
            (Stop::ServerError, Some(e), _) => format!(
                "request {n} → {}{}: a server error, not a rate limit (a limiter answers 429, or 503 with Retry-After)",
                e.status,
                if e.status == 503 {
                    " without Retry-After"
                } else {
                    ""
                }
            ),
            (Stop::Slow, _, _) => format!(
                "request {n} took {:.3} s, over 3× the first request's (at least 1 s): stopped before the service degrades",
                ev.attempts.last().map_or(0.0, |a| a.latency.as_secs_f64())
            ),
            _ => format!("stopped after {n} requests ({})", ev.stop.as_str()),
        };
        return Evaluation::new(
            Judgement::ErrorWith(
                ABORTED_SERVER_ERROR.id,
                vec![Finding::new(&ABORTED_SERVER_ERROR, why)],
            ),
            measurements,
        );
    }
    let mut findings = Vec::new();
    for m in &fields.malformed {
        findings.push(Finding::new(&HEADER_MALFORMED, m.clone()));
    }
    // Requests the burst sent, in order.
    let sent = ev.attempts.len();
    match limited_response {
        Some(e) => {
            if e.status == 503 {
                findings.push(Finding::new(
                    &LIMITED_WITH_503,
                    format!("request {sent} → 503 with Retry-After"),
                ));
            }
            match retry_after(e) {
                None => findings.push(Finding::new(
                    &NO_RETRY_AFTER,
                    format!("request {sent} → {} without Retry-After", e.status),
                )),
                Some(RetryAfter::Invalid) => findings.push(Finding::new(
                    &RETRY_AFTER_INVALID,
                    format!(
                        "Retry-After: {}",
                        e.combined("retry-after").unwrap_or_default()
                    ),
                )),
                Some(_) => {}
            }
        }
        None => {
            let elapsed = ev.elapsed.as_secs_f64();
            // Legacy `X-RateLimit-*` fields advertise a quota without a window; the first
            // response's reset then bounds the window it opened: a burst that ended before
            // that reset came due sent all its requests inside one window.
            let window = match (fields.window, first_reset) {
                (Some(w), _) => (elapsed <= w as f64).then(|| format!("per {w} s")),
                (None, Some((r, form))) => (elapsed < r as f64).then(|| {
                    format!(
                        "(no window; the first response's reset was {r} s away, sent as {})",
                        form.as_str()
                    )
                }),
                (None, None) => None,
            };
            match (fields.quota, window) {
                (Some(q), Some(window)) if (sent as u64) > q => {
                    findings.push(Finding::new(
                        &LIMIT_NOT_ENFORCED,
                        format!(
                            "advertised {q} {window}; {sent} requests in {elapsed:.1} s, no 429 ({})",
                            statuses(ev)
                        ),
                    ));
                }
                (Some(q), _) if (sent as u64) <= q => {
                    let opts = &input.target.options.rate_limit;
                    let cap = opts.cap;
                    let why = if q >= cap as u64 {
                        format!("q+1 = {} requests are over the cap of {cap}", q + 1)
                    } else if fields.window.is_some_and(|w| w > 60) {
                        "its window is over 60 s".to_owned()
                    } else if fields.window.is_none() {
                        "no window of at most 60 s is advertised".to_owned()
                    } else if q + 1 > crate::rate_limit::reach(cap, opts.rps) as u64 {
                        format!(
                            "q+1 = {} requests do not fit in {} s at {} rps",
                            q + 1,
                            RATE_LIMIT_MAX_DURATION.as_secs(),
                            opts.rps
                        )
                    } else {
                        format!("the burst ended early: {}", ev.stop.as_str())
                    };
                    findings.push(Finding::new(
                        &ADVERTISED_NOT_TESTED,
                        format!(
                            "advertised quota {q}{}; sent {sent}, not exceeded on purpose ({why})",
                            fields
                                .window
                                .map(|w| format!(" per {w} s"))
                                .unwrap_or_default(),
                        ),
                    ));
                }
                _ => {}
            }
            if fields.styles.is_empty() {
                findings.push(Finding::new(
                    &NO_RATE_LIMIT_OBSERVED,
                    format!(
                        "{} {}: {sent} requests in {elapsed:.1} s, no 429, no rate-limit fields ({})",
                        ev.method,
                        ev.url,
                        statuses(ev)
                    ),
                ));
            }
        }
    }
    dedup_findings(&mut findings);
    Evaluation::new(Judgement::Evaluated(findings), measurements)
}
