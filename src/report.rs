//! Reports of `check` (and the daemon's status API): text for people, JSON for machines, and
//! the exit-code policy.

use std::fmt::Write as _;
use std::time::UNIX_EPOCH;

use probes::evidence::ProbeRun;
use probes::verdict::{Severity, Status, Verdict};
use serde::Serialize;

use crate::scheduler::TargetRuntime;

/// Version of the JSON report schema (`docs/report.md`).
pub const SCHEMA_VERSION: u32 = 1;

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Schema version.
    pub schema_version: u32,
    /// prodprobe version.
    pub prodprobe_version: &'static str,
    /// Counts.
    pub summary: Summary,
    /// Targets in config order.
    pub targets: Vec<TargetReport>,
}

/// Counts over all targets.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Targets.
    pub targets: usize,
    /// Check results.
    pub checks: usize,
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Errored.
    pub error: usize,
    /// Skipped.
    pub skipped: usize,
    /// Findings by severity.
    pub findings: FindingCounts,
}

/// Findings by severity.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FindingCounts {
    /// critical.
    pub critical: usize,
    /// high.
    pub high: usize,
    /// medium.
    pub medium: usize,
    /// low.
    pub low: usize,
    /// info.
    pub info: usize,
}

/// One target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    /// Name.
    pub name: String,
    /// URL.
    pub url: String,
    /// Configured labels.
    pub labels: std::collections::BTreeMap<String, String>,
    /// The probes' latest runs.
    pub probes: Vec<ProbeReport>,
    /// The checks' latest verdicts.
    pub checks: Vec<CheckReport>,
}

/// One probe run.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// Probe name.
    pub probe: &'static str,
    /// blackbox's probe_success.
    pub success: bool,
    /// Why not.
    pub reason: Option<&'static str>,
    /// Why the probe did no network work although it succeeded (dns: `localhost`,
    /// `ip_address`, `address_pinned`); null when it ran.
    pub skipped: Option<&'static str>,
    /// Run duration.
    pub duration_seconds: f64,
    /// Start, Unix seconds.
    pub started_at: f64,
}

/// One check verdict.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Check id.
    pub check: &'static str,
    /// pass | fail | error | skipped.
    pub status: Status,
    /// Why error/skipped.
    pub reason: Option<&'static str>,
    /// Highest finding severity.
    pub severity: Option<Severity>,
    /// Findings, highest severity first.
    pub findings: Vec<FindingReport>,
    /// The check's evidence gauges (as exported, with the `probe_` prefix).
    pub gauges: Vec<GaugeReport>,
}

/// One evidence gauge sample.
#[derive(Debug, Clone, Serialize)]
pub struct GaugeReport {
    /// Metric name, e.g. `probe_ratelimit_first_limited_request`.
    pub name: String,
    /// Extra labels (`path_id`, `signature`, `style` …).
    pub labels: std::collections::BTreeMap<&'static str, String>,
    /// Value.
    pub value: f64,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct FindingReport {
    /// Finding id.
    pub id: &'static str,
    /// Severity.
    pub severity: Severity,
    /// Evidence (≤ 1024 bytes).
    pub evidence: String,
}

impl CheckReport {
    /// The check should have been judged and was not: status `error`, or skipped for a reason
    /// that hides the answer (a certificate that failed verification, a backoff, a failing
    /// health gate). A skip that is the answer (`not_https`, `address_pinned`) is not.
    pub fn not_evaluated(&self) -> bool {
        self.status == Status::Error
            || (self.status == Status::Skipped
                && matches!(
                    self.reason,
                    Some("invalid_cert" | "backoff" | "health_failing")
                ))
    }
}

/// Text safe to print on a terminal or in a comment: control characters (C0 but tab, DEL, C1,
/// which hostile evidence can carry to clear a screen or retitle a terminal) and the
/// non-characters XML forbids become U+FFFD; a newline becomes ` ⏎ `.
pub fn display_safe(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\n' => " ⏎ ".to_owned(),
            '\t' => "\t".to_owned(),
            c if c.is_control() || matches!(c, '\u{fffe}' | '\u{ffff}') => '\u{fffd}'.to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// A short fact for the text report: the rate-limit burst's outcome.
fn note(c: &CheckReport) -> String {
    let g = |name: &str| {
        c.gauges
            .iter()
            .find(|g| g.name == name && g.labels.is_empty())
            .map(|g| g.value)
    };
    if c.check != "rate_limit" {
        return String::new();
    }
    match (
        g("probe_ratelimit_first_limited_request"),
        g("probe_ratelimit_requests_sent"),
    ) {
        (Some(first), _) if first > 0.0 => {
            let retry = match g("probe_ratelimit_retry_after_seconds") {
                Some(s) if s >= 0.0 => format!(", Retry-After {s} s"),
                _ => String::new(),
            };
            format!("  limited at request {first}{retry}")
        }
        (_, Some(sent)) => format!("  not limited after {sent} requests"),
        _ => String::new(),
    }
}

fn probe_report(run: &ProbeRun) -> ProbeReport {
    ProbeReport {
        probe: run.kind.name(),
        success: run.success,
        reason: run.reason,
        skipped: match &run.evidence {
            probes::evidence::Evidence::Dns(d) => d.skipped,
            _ => None,
        },
        duration_seconds: run.duration.as_secs_f64(),
        started_at: run
            .started_at
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
    }
}

fn check_report(v: &Verdict) -> CheckReport {
    let mut findings: Vec<FindingReport> = v
        .findings
        .iter()
        .map(|f| FindingReport {
            id: f.id,
            severity: f.severity,
            evidence: f.evidence.clone(),
        })
        .collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let gauges = v
        .measurements
        .iter()
        .map(|m| GaugeReport {
            name: format!("probe_{}", m.gauge.name),
            labels: m
                .gauge
                .labels
                .iter()
                .copied()
                .zip(m.labels.iter().cloned())
                .collect(),
            value: m.value,
        })
        .collect();
    CheckReport {
        check: v.check,
        status: v.status,
        reason: v.reason,
        severity: v.max_severity(),
        findings,
        gauges,
    }
}

impl Report {
    /// Builds the report from targets' latest state.
    pub fn from_runtimes(runtimes: &[std::sync::Arc<TargetRuntime>]) -> Self {
        let mut summary = Summary::default();
        let targets: Vec<TargetReport> = runtimes
            .iter()
            .map(|rt| {
                let (runs, verdicts) = rt.snapshot();
                let checks: Vec<CheckReport> = verdicts.iter().map(check_report).collect();
                for c in &checks {
                    summary.checks += 1;
                    match c.status {
                        Status::Pass => summary.pass += 1,
                        Status::Fail => summary.fail += 1,
                        Status::Error => summary.error += 1,
                        Status::Skipped => summary.skipped += 1,
                    }
                    for f in &c.findings {
                        let slot = match f.severity {
                            Severity::Critical => &mut summary.findings.critical,
                            Severity::High => &mut summary.findings.high,
                            Severity::Medium => &mut summary.findings.medium,
                            Severity::Low => &mut summary.findings.low,
                            Severity::Info => &mut summary.findings.info,
                        };
                        *slot += 1;
                    }
                }
                TargetReport {
                    name: rt.target.name.clone(),
                    url: rt.target.url.to_string(),
                    labels: rt.target.labels.iter().cloned().collect(),
                    probes: runs.iter().map(|r| probe_report(r)).collect(),
                    checks,
                }
            })
            .collect();
        summary.targets = targets.len();
        Report {
            schema_version: SCHEMA_VERSION,
            prodprobe_version: env!("CARGO_PKG_VERSION"),
            summary,
            targets,
        }
    }

    /// The CI gate: 1 when a check failed with a finding at or above `fail_on`, or (unless
    /// `allow_errors`) a check could not be evaluated; else 0.
    pub fn exit_code(&self, fail_on: Severity, allow_errors: bool) -> i32 {
        let failed = self.targets.iter().flat_map(|t| &t.checks).any(|c| {
            (c.status == Status::Fail && c.severity.is_some_and(|s| s >= fail_on))
                || (c.not_evaluated() && !allow_errors)
        });
        i32::from(failed)
    }

    /// JSON (the documented schema).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Each finding above info once, worst first, with what it means and what to do
    /// (`src/about.tsv`): the closing section of the text and Markdown reports.
    pub fn what_to_do(&self) -> Vec<(Severity, &'static str, &'static str, &'static str)> {
        let mut seen: Vec<(Severity, &'static str, &'static str, &'static str)> = self
            .targets
            .iter()
            .flat_map(|t| &t.checks)
            .flat_map(|c| {
                c.findings.iter().map(move |f| {
                    let about = crate::about::about(c.check, f.id).unwrap_or("");
                    (f.severity, c.check, f.id, about)
                })
            })
            .filter(|(sev, ..)| *sev > Severity::Info)
            .collect();
        seen.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)).then(a.2.cmp(b.2)));
        seen.dedup();
        seen
    }

    /// Text for a terminal.
    pub fn to_text(&self, color: bool) -> String {
        // Padding goes on the plain text, before any colour code is added.
        let paint = |code: &str, s: &str| {
            if color {
                format!("\x1b[{code}m{s}\x1b[0m")
            } else {
                s.to_owned()
            }
        };
        let sev_color = |s: Severity| match s {
            Severity::Critical | Severity::High => "31",
            Severity::Medium => "33",
            Severity::Low => "36",
            Severity::Info => "2",
        };
        let mut out = String::new();
        for t in &self.targets {
            let _ = writeln!(
                out,
                "{}  {}",
                paint("1", &display_safe(&t.name)),
                display_safe(&t.url)
            );
            let width = t.checks.iter().map(|c| c.check.len()).max().unwrap_or(0);
            for c in &t.checks {
                let (mark, code) = match c.status {
                    Status::Pass => ("PASS", "32"),
                    Status::Fail => ("FAIL", "31"),
                    Status::Error => ("ERROR", "35"),
                    Status::Skipped => ("SKIP", "2"),
                };
                let mut tail = match (c.status, c.reason, c.severity) {
                    (Status::Error | Status::Skipped, Some(r), _) => format!("  ({r})"),
                    (Status::Fail, _, Some(s)) => format!("  {s}"),
                    _ => String::new(),
                };
                tail.push_str(&note(c));
                // Padded only where something follows: no trailing blanks on a bare PASS.
                let width = if tail.is_empty() { 0 } else { width };
                let _ = writeln!(
                    out,
                    "  {} {:<width$}{}",
                    paint(code, &format!("{mark:<5}")),
                    c.check,
                    display_safe(&tail)
                );
                for f in &c.findings {
                    let _ = writeln!(
                        out,
                        "        {} {}  {}",
                        paint(
                            sev_color(f.severity),
                            &format!("{:<8}", f.severity.as_str())
                        ),
                        f.id,
                        paint("2", &display_safe(&f.evidence))
                    );
                }
            }
            let probes: Vec<String> = t
                .probes
                .iter()
                .map(|p| {
                    let state = if let Some(why) = p.skipped {
                        format!("skipped ({why})")
                    } else if p.success {
                        "ok".to_owned()
                    } else {
                        format!("failed: {}", p.reason.unwrap_or("unknown"))
                    };
                    format!("{} {state} {:.2}s", p.probe, p.duration_seconds)
                })
                .collect();
            let _ = writeln!(out, "  probes: {}\n", probes.join(" · "));
        }
        let todo = self.what_to_do();
        if !todo.is_empty() {
            let _ = writeln!(out, "{}", paint("1", "What to do"));
            for (sev, check, id, about) in todo {
                let _ = writeln!(
                    out,
                    "  {} {check}/{id}: {about}",
                    paint(sev_color(sev), &format!("{:<8}", sev.as_str()))
                );
            }
            out.push('\n');
        }
        let _ = writeln!(out, "{}", self.summary.line());
        out
    }
}

impl Summary {
    /// The closing line of the text report and the status page's headline:
    /// `2 targets, 30 checks: 27 passed, 2 failed, 0 errors, 1 skipped; findings: …`.
    pub fn line(&self) -> String {
        let f = &self.findings;
        format!(
            "{}, {}: {} passed, {} failed, {}, {} skipped; findings: {} critical, {} high, {} medium, {} low, {} info",
            counted(self.targets, "target"),
            counted(self.checks, "check"),
            self.pass,
            self.fail,
            counted(self.error, "error"),
            self.skipped,
            f.critical,
            f.high,
            f.medium,
            f.low,
            f.info
        )
    }
}

/// `1 target`, `2 targets`.
pub fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
