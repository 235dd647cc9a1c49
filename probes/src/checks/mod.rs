//! Checks: pure functions from evidence to verdicts, one file per check (CHECKS.md).
//!
//! [`ALL`] is the only list of checks. A check declares the probes it reads, its closed
//! finding catalogue and its evidence gauges; [`evaluate`] applies the target's fail threshold.

pub mod clickjacking;
pub mod cookies;
pub mod cors;
pub mod csp;
pub mod dns;
pub mod error_disclosure;
pub mod exposed_paths;
pub mod header_list;
pub mod health;
pub mod hsts;
pub mod https_redirect;
#[cfg(test)]
mod proptests;
pub mod rate_limit;
pub mod referrer_policy;
pub mod server_disclosure;
#[cfg(test)]
pub(crate) mod test_support;
pub mod tls_cert;
pub mod tls_version;
pub mod x_content_type_options;

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::evidence::{
    DnsEvidence, Evidence, EvidenceSet, Exchange, FetchEvidence, HealthEvidence, TlsEvidence,
    VersionsEvidence,
};
use crate::measure::{GaugeDef, Measurement};
use crate::probe::ProbeKind;
use crate::target::Target;
use crate::verdict::{Finding, FindingDef, Judgement, Severity, Verdict};

/// A check's static description and rule.
#[derive(Debug)]
pub struct CheckDef {
    /// Check id (config name, `check` label).
    pub id: &'static str,
    /// One line on what it verifies.
    pub summary: &'static str,
    /// Probes whose evidence it reads; it is re-evaluated when any of them runs.
    pub inputs: &'static [ProbeKind],
    /// The closed finding catalogue.
    pub findings: &'static [FindingDef],
    /// Evidence gauges it may export.
    pub gauges: &'static [&'static GaugeDef],
    /// Runs only when configured explicitly (rate_limit).
    pub opt_in: bool,
    /// Judges every response of the cycle (CHECKS.md §0.1: server_disclosure and
    /// error_disclosure), so it is also re-evaluated when any other probe of the target runs,
    /// once all of its `inputs` have run. It does not make those probes run.
    pub scans_cycle: bool,
    /// Probes whose evidence it also reads when present, without making them run (dns reads
    /// the leaf of the last `tls` run): a run of one of them re-evaluates it too.
    pub also_reads: &'static [ProbeKind],
    /// The rule.
    pub evaluate: fn(&CheckInput<'_>) -> Evaluation,
}

impl CheckDef {
    /// Whether a new run of `kind` re-evaluates this check, given the runs in `evidence`
    /// (CHECKS.md §0.1: a check is re-evaluated whenever a probe it reads runs).
    pub fn reevaluated_by(&self, kind: ProbeKind, evidence: &EvidenceSet) -> bool {
        self.inputs.contains(&kind)
            || self.also_reads.contains(&kind)
            || (self.scans_cycle && self.inputs.iter().all(|k| evidence.run(*k).is_some()))
    }

    /// The catalogue entry for `id`.
    ///
    /// # Panics
    ///
    /// If `id` is not in the catalogue: a programming error caught by the catalogue tests.
    pub fn finding(&self, id: &str) -> &'static FindingDef {
        self.findings
            .iter()
            .find(|f| f.id == id)
            .unwrap_or_else(|| panic!("{} has no finding {id}", self.id))
    }
}

/// What a rule returns.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Findings, or why the rule could not judge.
    pub judgement: Judgement,
    /// Evidence gauges.
    pub measurements: Vec<Measurement>,
    /// State the rule wants to read on its next evaluation (e.g. csp's nonce), kept on the
    /// verdict as [`Verdict::memo`].
    pub memo: Option<String>,
}

impl Evaluation {
    /// An evaluation with gauges.
    pub fn new(judgement: Judgement, measurements: Vec<Measurement>) -> Self {
        Evaluation {
            judgement,
            measurements,
            memo: None,
        }
    }

    /// An evaluation without gauges.
    pub fn bare(judgement: Judgement) -> Self {
        Self::new(judgement, Vec::new())
    }

    /// Attaches a memo for the next evaluation.
    pub fn with_memo(mut self, memo: impl Into<String>) -> Self {
        self.memo = Some(memo.into());
        self
    }
}

/// Everything a rule may read. Rules never do I/O and never wait for another probe.
#[derive(Debug, Clone, Copy)]
pub struct CheckInput<'a> {
    /// The target and its options.
    pub target: &'a Target,
    /// The newest run of each probe of the target.
    pub evidence: &'a EvidenceSet,
    /// The latest verdict of each check of the target (for checks that read another's verdict).
    pub previous: &'a BTreeMap<&'static str, Verdict>,
    /// Evaluation time.
    pub now: SystemTime,
}

impl<'a> CheckInput<'a> {
    /// The newest evidence of `kind`, or the error judgement a rule returns without it.
    pub fn require(&self, kind: ProbeKind) -> Result<&'a Evidence, Judgement> {
        match self.evidence.run(kind).map(|r| &r.evidence) {
            None => Err(Judgement::Error("no_evidence")),
            Some(Evidence::TimedOut) => Err(Judgement::Error("timeout")),
            Some(e) => Ok(e),
        }
    }

    /// The newest `fetch` evidence, or the error judgement.
    /// `error` (`rate_limited`) when the page itself was answered with a 429 or a 503 with
    /// `Retry-After` (CHECKS.md §0.5 puts the target in backoff): that answer is the limiter's,
    /// not the page's, and judging its headers would flip the page checks with every refusal.
    pub fn fetch(&self) -> Result<&'a FetchEvidence, Judgement> {
        let f = self.fetch_unjudged()?;
        if f.main
            .final_response()
            .is_some_and(crate::backoff::triggers)
        {
            return Err(Judgement::Error("rate_limited"));
        }
        Ok(f)
    }

    /// The newest `fetch` evidence whatever answered the page, for facts that do not depend
    /// on the page's answer (a plain-HTTP target URL).
    pub fn fetch_unjudged(&self) -> Result<&'a FetchEvidence, Judgement> {
        match self.require(ProbeKind::Fetch)? {
            Evidence::Fetch(f) => Ok(f),
            _ => Err(Judgement::Error("no_evidence")),
        }
    }

    /// The newest `health` evidence, or the error judgement.
    pub fn health(&self) -> Result<&'a HealthEvidence, Judgement> {
        match self.require(ProbeKind::Health)? {
            Evidence::Health(h) => Ok(h),
            _ => Err(Judgement::Error("no_evidence")),
        }
    }

    /// The newest `tls` evidence, or the error judgement.
    pub fn tls(&self) -> Result<&'a TlsEvidence, Judgement> {
        match self.require(ProbeKind::Tls)? {
            Evidence::Tls(t) => Ok(t),
            _ => Err(Judgement::Error("no_evidence")),
        }
    }

    /// The newest `cors` evidence, or the error judgement.
    pub fn cors(&self) -> Result<&'a crate::cors::CorsEvidence, Judgement> {
        match self.require(ProbeKind::Cors)? {
            Evidence::Cors(c) => Ok(c),
            _ => Err(Judgement::Error("no_evidence")),
        }
    }

    /// The newest `tls_versions` evidence, or the error judgement.
    pub fn tls_versions(&self) -> Result<&'a VersionsEvidence, Judgement> {
        match self.require(ProbeKind::TlsVersions)? {
            Evidence::TlsVersions(t) => Ok(t),
            _ => Err(Judgement::Error("no_evidence")),
        }
    }

    /// The newest `unknown_path` evidence, or the error judgement.
    pub fn unknown_path(&self) -> Result<&'a crate::unknown_path::UnknownPathEvidence, Judgement> {
        match self.require(ProbeKind::UnknownPath)? {
            Evidence::UnknownPath(u) => Ok(u),
            _ => Err(Judgement::Error("no_evidence")),
        }
    }

    /// The newest `dns` evidence, or the error judgement.
    pub fn dns(&self) -> Result<&'a DnsEvidence, Judgement> {
        match self.require(ProbeKind::Dns)? {
            Evidence::Dns(d) => Ok(d),
            _ => Err(Judgement::Error("no_evidence")),
        }
    }

    /// The newest `paths` evidence, or the error judgement.
    pub fn paths(&self) -> Result<&'a crate::paths::PathsEvidence, Judgement> {
        match self.require(ProbeKind::Paths)? {
            Evidence::Paths(p) => Ok(p),
            _ => Err(Judgement::Error("no_evidence")),
        }
    }

    /// The newest `rate_limit` evidence, or the error judgement.
    pub fn rate_limit(&self) -> Result<&'a crate::rate_limit::RateLimitEvidence, Judgement> {
        match self.require(ProbeKind::RateLimit)? {
            Evidence::RateLimit(r) => Ok(r.as_ref()),
            _ => Err(Judgement::Error("no_evidence")),
        }
    }

    /// The final response of the main fetch, for the checks that judge the target's HTTPS
    /// responses (CHECKS.md §0.3): `skipped` with reason `invalid_cert` when the main fetch's
    /// certificate failed verification, `error` (`no_response`) when there is no response.
    pub fn judged_response(&self) -> Result<(&'a FetchEvidence, &'a Exchange), Judgement> {
        let fetch = self.fetch()?;
        if fetch.main.hops.iter().any(|h| {
            let tls = match h {
                Ok(e) => e.tls.as_ref(),
                Err(f) => f.tls.as_ref(),
            };
            tls.is_some_and(|t| t.cert_failed())
        }) {
            return Err(Judgement::Skipped("invalid_cert"));
        }
        match fetch.main.final_response() {
            Some(e) => Ok((fetch, e)),
            // A connection, TLS handshake (no certificate was judged) or HTTP failure: the
            // probe's own reason says which.
            None => Err(Judgement::Error("no_response")),
        }
    }

    /// The latest verdict of another check (or this one's previous), if evaluated before.
    pub fn verdict_of(&self, check: &str) -> Option<&'a Verdict> {
        self.previous.get(check)
    }
}

/// Non-HTML responses (APIs): findings capped at `info` (CHECKS.md §0.3), for csp and
/// clickjacking. A response without a media type is judged like a page when its body sniffs
/// as HTML, since browsers render it as one ([`Exchange::renders_as_html`]).
pub fn cap_for_non_html(findings: &mut [Finding], response: &Exchange) {
    if !response.renders_as_html() {
        for f in findings {
            f.severity = f.severity.min(Severity::Info);
        }
    }
}

/// Every check, in report order.
pub static ALL: &[&CheckDef] = &[
    &https_redirect::CHECK,
    &hsts::CHECK,
    &csp::CHECK,
    &clickjacking::CHECK,
    &x_content_type_options::CHECK,
    &referrer_policy::CHECK,
    &cookies::CHECK,
    &cors::CHECK,
    &tls_cert::CHECK,
    &tls_version::CHECK,
    &health::CHECK,
    &rate_limit::CHECK,
    &exposed_paths::CHECK,
    &error_disclosure::CHECK,
    &server_disclosure::CHECK,
    &dns::CHECK,
];

/// Looks a check up by id.
pub fn by_id(id: &str) -> Option<&'static CheckDef> {
    ALL.iter().copied().find(|c| c.id == id)
}

/// Runs `def` over `input` and applies the target's fail threshold and gauge switches.
pub fn evaluate(def: &'static CheckDef, input: &CheckInput<'_>) -> Verdict {
    let Evaluation {
        judgement,
        measurements,
        memo,
    } = (def.evaluate)(input);
    let measurements = if input.target.quiet_checks.contains(&def.id) {
        Vec::new()
    } else {
        measurements
    };
    let mut verdict = Verdict::from_judgement(
        def.id,
        judgement,
        input.target.fail_min_severity,
        measurements,
    );
    verdict.memo = memo;
    let secrets = crate::redact::needles(&input.target.credentials);
    if !secrets.is_empty() {
        for f in &mut verdict.findings {
            if let Some(r) = crate::redact::redact(&f.evidence, &secrets) {
                // `[redacted]` can be longer than the secret it replaces.
                f.evidence = crate::verdict::truncate(r, crate::verdict::EVIDENCE_MAX_BYTES);
            }
        }
        for m in &mut verdict.measurements {
            for l in &mut m.labels {
                if let Some(r) = crate::redact::redact(l, &secrets) {
                    *l = r;
                }
            }
        }
    }
    verdict
}

/// Keeps the first finding per id (several responses can raise the same finding).
pub(crate) fn dedup_findings(findings: &mut Vec<crate::verdict::Finding>) {
    let mut seen = std::collections::HashSet::new();
    findings.retain(|f| seen.insert(f.id));
}

/// One finding per id, the evidence of the others appended (`; `): each address or version
/// that raised it stays named.
pub(crate) fn merge_same_findings(findings: &mut Vec<crate::verdict::Finding>) {
    let mut merged: Vec<crate::verdict::Finding> = Vec::with_capacity(findings.len());
    for f in findings.drain(..) {
        match merged.iter_mut().find(|m| m.id == f.id) {
            Some(m) => {
                m.evidence = crate::verdict::truncate(
                    format!("{}; {}", m.evidence, f.evidence),
                    crate::verdict::EVIDENCE_MAX_BYTES,
                );
            }
            None => merged.push(f),
        }
    }
    *findings = merged;
}

/// Keeps at most `max` findings per id, in order; the last one kept says how many more there
/// were. A hostile response (a thousand `Set-Cookie` lines on every response of the cycle)
/// cannot turn one check into megabytes of findings.
pub(crate) fn cap_findings_per_id(findings: &mut Vec<crate::verdict::Finding>, max: usize) {
    let mut count: std::collections::HashMap<&'static str, usize> =
        std::collections::HashMap::new();
    for f in findings.iter() {
        *count.entry(f.id).or_default() += 1;
    }
    let mut kept: std::collections::HashMap<&'static str, usize> = std::collections::HashMap::new();
    findings.retain_mut(|f| {
        let n = kept.entry(f.id).or_default();
        *n += 1;
        let total = count[f.id];
        if *n == max && total > max {
            f.evidence
                .push_str(&format!(" (and {} more like it)", total - max));
        }
        *n <= max
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_are_capped_per_id_and_say_how_many_more() {
        use crate::verdict::{Finding, FindingDef, Severity};
        static A: FindingDef = FindingDef::new("a", Severity::Low);
        static B: FindingDef = FindingDef::new("b", Severity::Low);
        let mut f: Vec<Finding> = (0..30)
            .map(|i| Finding::new(&A, format!("a{i}")))
            .chain([Finding::new(&B, "b".to_owned())])
            .collect();
        cap_findings_per_id(&mut f, 20);
        assert_eq!(f.len(), 21);
        assert_eq!(f[19].evidence, "a19 (and 10 more like it)");
        assert_eq!(f[20].evidence, "b");
    }

    #[test]
    fn catalogues_are_well_formed() {
        let mut ids = std::collections::HashSet::new();
        for check in ALL {
            assert!(ids.insert(check.id), "duplicate check {}", check.id);
            let mut f = std::collections::HashSet::new();
            for def in check.findings {
                assert!(f.insert(def.id), "{} lists {} twice", check.id, def.id);
                assert!(
                    def.id
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{}",
                    def.id
                );
            }
            assert!(!check.inputs.is_empty());
        }
    }
}
