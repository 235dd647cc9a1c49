//! Verdicts: what a check concludes from evidence.
//!
//! A check returns a [`Judgement`]; the framework turns it into a [`Verdict`] by applying the
//! target's `fail_min_severity` (CHECKS.md §0.3: a check fails when at least one finding reaches
//! that severity; `info` never fails).

use std::fmt;

use serde::Serialize;

use crate::measure::Measurement;

/// Finding severity on the CHECKS.md §0.3 scale (info = 1 … critical = 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational; never fails a check.
    Info = 1,
    /// Low.
    Low = 2,
    /// Medium.
    Medium = 3,
    /// High.
    High = 4,
    /// Reserved for directly exploitable exposure or outage.
    Critical = 5,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lower-case name used in labels, config and reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The numeric value exported by `probe_check_severity`.
    pub const fn value(self) -> u8 {
        self as u8
    }

    /// Parses a lower-case severity name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome class of one check evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Evaluated; no finding at or above the fail threshold.
    Pass,
    /// Evaluated; at least one finding at or above the fail threshold.
    Fail,
    /// Could not be evaluated (missing or broken evidence); `reason` says why.
    Error,
    /// Not applicable right now; `reason` says why (e.g. `invalid_cert`).
    Skipped,
}

impl Status {
    /// Lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Skipped => "skipped",
        }
    }
}

/// The maximum number of bytes of evidence kept per finding (CHECKS.md §0.2, as the Observatory).
pub const EVIDENCE_MAX_BYTES: usize = 1024;

/// One finding from a check's closed catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Finding id, unique within its check (e.g. `max_age_too_short`).
    pub id: &'static str,
    /// Severity after any documented adjustment (preload list, non-HTML cap).
    pub severity: Severity,
    /// What triggered it: the header line, hop, value … truncated to [`EVIDENCE_MAX_BYTES`].
    pub evidence: String,
}

impl Finding {
    /// A finding with its catalogue severity and evidence (truncated on a char boundary).
    pub fn new(def: &FindingDef, evidence: impl Into<String>) -> Self {
        Finding {
            id: def.id,
            severity: def.severity,
            evidence: truncate(evidence.into(), EVIDENCE_MAX_BYTES),
        }
    }
}

/// Truncates `s` to at most `max` bytes on a char boundary, marking the cut with `…`.
pub fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max.saturating_sub('…'.len_utf8());
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// A catalogue entry: a finding id and its default severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FindingDef {
    /// Finding id.
    pub id: &'static str,
    /// Default severity (CHECKS.md).
    pub severity: Severity,
}

impl FindingDef {
    /// Declares a catalogue entry.
    pub const fn new(id: &'static str, severity: Severity) -> Self {
        FindingDef { id, severity }
    }
}

/// What a check's rule function returns: findings, or why it could not judge.
#[derive(Debug, Clone)]
pub enum Judgement {
    /// The rule ran; the findings may be empty.
    Evaluated(Vec<Finding>),
    /// The rule could not run; a low-cardinality reason.
    Error(&'static str),
    /// The rule could not finish, and says why with findings (rate_limit's
    /// `aborted_server_error`, CHECKS.md §12: an info finding on an `error` verdict).
    ErrorWith(&'static str, Vec<Finding>),
    /// The rule does not apply now; a low-cardinality reason.
    Skipped(&'static str),
}

/// A check's result for one target: status, findings and evidence gauges.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Check id.
    pub check: &'static str,
    /// Pass / fail / error / skipped.
    pub status: Status,
    /// Why the check errored or was skipped.
    pub reason: Option<&'static str>,
    /// Findings (empty unless evaluated).
    pub findings: Vec<Finding>,
    /// Evidence gauges for this check.
    pub measurements: Vec<Measurement>,
    /// State for the check's next evaluation (see `checks::Evaluation::memo`).
    pub memo: Option<String>,
}

impl Verdict {
    /// Builds a verdict from a judgement under the given fail threshold.
    pub fn from_judgement(
        check: &'static str,
        judgement: Judgement,
        fail_min: Severity,
        measurements: Vec<Measurement>,
    ) -> Self {
        let (status, reason, findings) = match judgement {
            Judgement::Evaluated(findings) => {
                let failed = findings
                    .iter()
                    .any(|f| f.severity >= fail_min && f.severity > Severity::Info);
                let status = if failed { Status::Fail } else { Status::Pass };
                (status, None, findings)
            }
            Judgement::Error(reason) => (Status::Error, Some(reason), Vec::new()),
            Judgement::ErrorWith(reason, findings) => (Status::Error, Some(reason), findings),
            Judgement::Skipped(reason) => (Status::Skipped, Some(reason), Vec::new()),
        };
        Verdict {
            check,
            status,
            reason,
            findings,
            measurements,
            memo: None,
        }
    }

    /// The highest severity among the findings, if any.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// Whether the check evaluated (pass or fail).
    pub fn evaluated(&self) -> bool {
        matches!(self.status, Status::Pass | Status::Fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOW: FindingDef = FindingDef::new("l", Severity::Low);
    const INFO: FindingDef = FindingDef::new("i", Severity::Info);

    #[test]
    fn info_never_fails_even_with_info_threshold() {
        let v = Verdict::from_judgement(
            "c",
            Judgement::Evaluated(vec![Finding::new(&INFO, "x")]),
            Severity::Info,
            vec![],
        );
        assert_eq!(v.status, Status::Pass);
    }

    #[test]
    fn threshold_decides_failure() {
        let j = Judgement::Evaluated(vec![Finding::new(&LOW, "x")]);
        assert_eq!(
            Verdict::from_judgement("c", j.clone(), Severity::Low, vec![]).status,
            Status::Fail
        );
        assert_eq!(
            Verdict::from_judgement("c", j, Severity::Medium, vec![]).status,
            Status::Pass
        );
    }

    #[test]
    fn evidence_is_truncated_on_a_char_boundary() {
        let long = "é".repeat(2000);
        let f = Finding::new(&LOW, long);
        assert!(f.evidence.len() <= EVIDENCE_MAX_BYTES);
        assert!(f.evidence.ends_with('…'));
    }
}
