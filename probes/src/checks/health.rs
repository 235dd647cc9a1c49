//! `health` (CHECKS.md §11): the health endpoint answers successfully within a latency budget,
//! reading the status conventions of Kubernetes, draft-inadarei-api-health-check and Spring Boot.

use std::ops::RangeInclusive;
use std::time::Duration;

use regex::Regex;
use url::Url;

use super::{CheckDef, CheckInput, Evaluation};
use crate::evidence::Exchange;
use crate::measure::{GaugeDef, Measurement};
use crate::probe::ProbeKind;
use crate::verdict::{Finding, FindingDef, Judgement, Severity};

/// Default latency budget (CHECKS.md §11).
pub const DEFAULT_LATENCY_BUDGET: Duration = Duration::from_secs(2);

/// Options of `health`.
#[derive(Debug, Clone)]
pub struct HealthOptions {
    /// Health URL; default the target URL.
    pub url: Option<Url>,
    /// Accepted statuses; default 200–299.
    pub expected_status: Vec<RangeInclusive<u16>>,
    /// Latency above this raises `slow`.
    pub latency_budget: Duration,
    /// The body must match this, when set.
    pub body_regex: Option<Regex>,
}

impl Default for HealthOptions {
    fn default() -> Self {
        HealthOptions {
            url: None,
            expected_status: vec![200..=299],
            latency_budget: DEFAULT_LATENCY_BUDGET,
            body_regex: None,
        }
    }
}

const UNREACHABLE: FindingDef = FindingDef::new("unreachable", Severity::Critical);
const BAD_STATUS: FindingDef = FindingDef::new("bad_status", Severity::Critical);
const REPORTS_UNHEALTHY: FindingDef = FindingDef::new("reports_unhealthy", Severity::Critical);
const BODY_MISMATCH: FindingDef = FindingDef::new("body_mismatch", Severity::Critical);
const SLOW: FindingDef = FindingDef::new("slow", Severity::Medium);
const DEGRADED: FindingDef = FindingDef::new("degraded", Severity::Low);
const STATUS_CODE_MISMATCH: FindingDef = FindingDef::new("status_code_mismatch", Severity::Info);

static UP: GaugeDef = GaugeDef {
    name: "health_up",
    help: "1 if the health endpoint is reachable, answers an expected status, does not report itself unhealthy and matches body_regex",
    labels: &[],
};
static STATUS_CODE: GaugeDef = GaugeDef {
    name: "health_status_code",
    help: "HTTP status of the health endpoint, 0 when no response arrived",
    labels: &[],
};
static DURATION: GaugeDef = GaugeDef {
    name: "health_duration_seconds",
    help: "Health request latency, request start until the body was read",
    labels: &[],
};
static REPORTED: GaugeDef = GaugeDef {
    name: "health_reported_status",
    help: "Status the body reports: 2 pass, 1 warn, 0 fail, -1 none",
    labels: &[],
};
static COMPONENT_FAILURES: GaugeDef = GaugeDef {
    name: "health_component_failures",
    help: "Failing entries under checks/components in a JSON health body",
    labels: &[],
};

/// The check.
pub static CHECK: CheckDef = CheckDef {
    id: "health",
    summary: "the health endpoint answers successfully within its latency budget",
    inputs: &[ProbeKind::Health],
    findings: &[
        UNREACHABLE,
        BAD_STATUS,
        REPORTS_UNHEALTHY,
        BODY_MISMATCH,
        SLOW,
        DEGRADED,
        STATUS_CODE_MISMATCH,
    ],
    gauges: &[&UP, &STATUS_CODE, &DURATION, &REPORTED, &COMPONENT_FAILURES],
    opt_in: false,
    scans_cycle: false,
    also_reads: &[],
    evaluate,
};

/// What a health body reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    /// pass / ok / up.
    Pass,
    /// warn, or Spring's UNKNOWN.
    Warn,
    /// fail / error / down / out_of_service.
    Fail,
}

fn classify(status: &str) -> Option<Reported> {
    match status.to_ascii_lowercase().as_str() {
        // CHECKS.md §11, plus ASP.NET Core's `HealthStatus` names (Healthy, Degraded,
        // Unhealthy: its default writer and the widespread HealthChecks.UI JSON writer) and
        // py-healthcheck's `success` / `failure` (ADR 0005).
        "pass" | "ok" | "up" | "healthy" | "success" => Some(Reported::Pass),
        "warn" | "unknown" | "degraded" => Some(Reported::Warn),
        "fail" | "error" | "down" | "out_of_service" | "unhealthy" | "failure" | "failed" => {
            Some(Reported::Fail)
        }
        _ => None,
    }
}

/// The JSON keys under which component statuses nest: the draft's `checks`, Spring's
/// `components` (and `details`), ASP.NET Core HealthChecks.UI's `entries`.
const COMPONENT_KEYS: [&str; 4] = ["checks", "components", "details", "entries"];

/// The parsed body: top-level status (with the raw value) and failing component entries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BodyStatus {
    /// Top-level status and its raw text.
    pub status: Option<(Reported, String)>,
    /// Failing entries under `checks` (draft) or `components` (Spring), recursively.
    pub component_failures: u32,
    /// Kubernetes `?verbose` lines starting `[-]`.
    pub verbose_failures: Vec<String>,
}

fn count_failures(v: &serde_json::Value, depth: usize) -> u32 {
    if depth > 16 {
        return 0;
    }
    match v {
        serde_json::Value::Object(map) => {
            let own = map
                .get("status")
                .and_then(|s| s.as_str())
                .and_then(classify)
                .is_some_and(|r| r == Reported::Fail);
            let nested: u32 = COMPONENT_KEYS
                .iter()
                .filter_map(|k| map.get(*k))
                .map(|c| children_failures(c, depth + 1))
                .sum();
            u32::from(own) + nested
        }
        serde_json::Value::Array(items) => items.iter().map(|i| count_failures(i, depth + 1)).sum(),
        _ => 0,
    }
}

fn children_failures(v: &serde_json::Value, depth: usize) -> u32 {
    match v {
        serde_json::Value::Object(map) => map.values().map(|c| count_failures(c, depth)).sum(),
        serde_json::Value::Array(items) => items.iter().map(|c| count_failures(c, depth)).sum(),
        _ => 0,
    }
}

/// Reads the status conventions of CHECKS.md §11 from a response body.
pub fn read_body(e: &Exchange) -> BodyStatus {
    let mut out = BodyStatus::default();
    let text = String::from_utf8_lossy(&e.body);
    let json_type = matches!(
        e.media_type().as_deref(),
        Some("application/health+json" | "application/json")
    );
    // A UTF-8 byte order mark (some .NET and PowerShell writers emit one) is not JSON text.
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if (json_type || trimmed.starts_with('{'))
        && let Ok(serde_json::Value::Object(map)) =
            serde_json::from_str::<serde_json::Value>(trimmed)
    {
        if let Some(s) = map.get("status").and_then(|s| s.as_str()) {
            out.status = classify(s).map(|r| (r, s.to_owned()));
        }
        out.component_failures = COMPONENT_KEYS
            .iter()
            .filter_map(|k| map.get(*k))
            .map(|c| children_failures(c, 1))
            .sum();
    }
    // ASP.NET Core's default writer: the bare status name as text/plain.
    if out.status.is_none()
        && e.media_type().as_deref() == Some("text/plain")
        && let word = text.trim()
        && matches!(word, "Healthy" | "Degraded" | "Unhealthy")
    {
        out.status = classify(word).map(|r| (r, word.to_owned()));
    }
    out.verbose_failures = text
        .lines()
        .filter(|l| l.starts_with("[-]"))
        .take(10)
        .map(str::to_owned)
        .collect();
    out
}

fn evaluate(input: &CheckInput<'_>) -> Evaluation {
    let health = match input.health() {
        Ok(h) => h,
        Err(j) => return Evaluation::bare(j),
    };
    let opts = &input.target.options.health;
    let mut findings = Vec::new();
    let mut status_code = 0.0;
    let mut reported = -1.0;
    let mut component_failures = 0.0;

    match &health.outcome {
        Err(f) => findings.push(Finding::new(
            &UNREACHABLE,
            format!("GET {}: {} ({})", f.url, f.reason, f.detail),
        )),
        Ok(e) => {
            status_code = f64::from(e.status);
            if e.body_timed_out {
                // §11: a timeout is `unreachable`, also when it strikes during the body.
                findings.push(Finding::new(
                    &UNREACHABLE,
                    format!(
                        "GET {}: timeout ({} answered, but its body did not finish in time)",
                        e.url, e.status
                    ),
                ));
            } else if let Some(reason) =
                e.tls.as_ref().and_then(|t| t.verification.failure_reason())
            {
                findings.push(Finding::new(
                    &UNREACHABLE,
                    format!("GET {}: tls (certificate {reason})", e.url),
                ));
            } else {
                judge_response(
                    e,
                    opts,
                    &mut findings,
                    &mut reported,
                    &mut component_failures,
                );
            }
        }
    }
    // Latency is request start → body read (CHECKS.md §11); a request that got no response
    // has none, and its timeout is already `unreachable`.
    if health.outcome.as_ref().is_ok_and(|e| !e.body_timed_out)
        && health.latency > opts.latency_budget
    {
        findings.push(Finding::new(
            &SLOW,
            format!(
                "{:.3} s > budget {:.3} s",
                health.latency.as_secs_f64(),
                opts.latency_budget.as_secs_f64()
            ),
        ));
    }
    let up = !findings.iter().any(|f| f.severity == Severity::Critical);
    Evaluation::new(
        Judgement::Evaluated(findings),
        vec![
            Measurement::flag(&UP, up),
            Measurement::new(&STATUS_CODE, status_code),
            Measurement::new(&DURATION, health.latency.as_secs_f64()),
            Measurement::new(&REPORTED, reported),
            Measurement::new(&COMPONENT_FAILURES, component_failures),
        ],
    )
}

fn judge_response(
    e: &Exchange,
    opts: &HealthOptions,
    findings: &mut Vec<Finding>,
    reported: &mut f64,
    component_failures: &mut f64,
) {
    if !opts.expected_status.iter().any(|r| r.contains(&e.status)) {
        findings.push(Finding::new(
            &BAD_STATUS,
            format!("GET {} → {}", e.url, e.status),
        ));
    }
    let body = read_body(e);
    *component_failures = f64::from(body.component_failures);
    match &body.status {
        Some((Reported::Fail, raw)) => {
            *reported = 0.0;
            findings.push(Finding::new(
                &REPORTS_UNHEALTHY,
                format!("status \"{raw}\" (HTTP {})", e.status),
            ));
            if (200..300).contains(&e.status) {
                findings.push(Finding::new(
                    &STATUS_CODE_MISMATCH,
                    format!("status \"{raw}\" with HTTP {}", e.status),
                ));
            }
        }
        Some((Reported::Warn, raw)) => {
            *reported = 1.0;
            findings.push(Finding::new(&DEGRADED, format!("status \"{raw}\"")));
        }
        Some((Reported::Pass, _)) => *reported = 2.0,
        None => {}
    }
    if !body.verbose_failures.is_empty() && !findings.iter().any(|f| f.id == "reports_unhealthy") {
        *reported = 0.0;
        findings.push(Finding::new(
            &REPORTS_UNHEALTHY,
            body.verbose_failures.join("\n"),
        ));
    }
    if let Some(re) = &opts.body_regex {
        let text = String::from_utf8_lossy(&e.body);
        if !re.is_match(&text) {
            findings.push(Finding::new(
                &BODY_MISMATCH,
                format!("body does not match /{}/", re.as_str()),
            ));
        }
    }
}
