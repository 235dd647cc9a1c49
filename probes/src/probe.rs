//! Probe kinds and the single dispatch point: `ProbeKind` is the only list of probes.

use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::time::Instant;

use crate::context::ProbeContext;
use crate::evidence::{Evidence, ProbeRun};
use crate::measure::{GaugeDef, Measurement};
use crate::target::Target;

/// A probe: network I/O against one target that returns evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// The HTTPS main fetch, the root response and the plain-HTTP chains.
    Fetch,
    /// The health endpoint.
    Health,
    /// TLS handshakes per address: the chain as served (tls_cert).
    Tls,
    /// Which protocol versions each address accepts (tls_version).
    TlsVersions,
    /// A/AAAA and CAA (dns).
    Dns,
    /// Crafted `Origin` requests and preflights (CHECKS.md §8).
    Cors,
    /// The answers for random unknown paths (CHECKS.md §14).
    UnknownPath,
    /// The exposed-path sweep and its random-path baseline (CHECKS.md §13).
    Paths,
    /// The bounded rate-limit burst (CHECKS.md §12, opt-in).
    RateLimit,
}

/// What a probe module returns; [`run`] wraps it into a [`ProbeRun`].
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) evidence: Evidence,
    pub(crate) success: bool,
    pub(crate) reason: Option<&'static str>,
    pub(crate) measurements: Vec<Measurement>,
}

impl ProbeKind {
    /// Every probe, in a fixed order.
    pub const ALL: &'static [ProbeKind] = &[
        ProbeKind::Fetch,
        ProbeKind::Health,
        ProbeKind::Tls,
        ProbeKind::TlsVersions,
        ProbeKind::Dns,
        ProbeKind::Cors,
        ProbeKind::UnknownPath,
        ProbeKind::Paths,
        ProbeKind::RateLimit,
    ];

    /// The name used in config, labels and reports.
    pub const fn name(self) -> &'static str {
        match self {
            ProbeKind::Fetch => "fetch",
            ProbeKind::Health => "health",
            ProbeKind::Tls => "tls",
            ProbeKind::TlsVersions => "tls_versions",
            ProbeKind::Dns => "dns",
            ProbeKind::Cors => "cors",
            ProbeKind::UnknownPath => "unknown_path",
            ProbeKind::Paths => "paths",
            ProbeKind::RateLimit => "rate_limit",
        }
    }

    /// Parses a probe name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// Default interval (CHECKS.md §0.5).
    pub const fn default_interval(self) -> Duration {
        match self {
            ProbeKind::Fetch => Duration::from_secs(300),
            ProbeKind::Health => Duration::from_secs(30),
            ProbeKind::Tls => Duration::from_secs(15 * 60),
            ProbeKind::TlsVersions => Duration::from_secs(6 * 3600),
            ProbeKind::Dns => Duration::from_secs(300),
            ProbeKind::Cors => Duration::from_secs(30 * 60),
            ProbeKind::UnknownPath => Duration::from_secs(3600),
            ProbeKind::Paths => Duration::from_secs(6 * 3600),
            ProbeKind::RateLimit => Duration::from_secs(24 * 3600),
        }
    }

    /// Default run timeout: the per-request limits of CHECKS.md §0.1 times the requests a run
    /// makes, kept below the default interval.
    pub const fn default_timeout(self) -> Duration {
        match self {
            ProbeKind::Fetch => Duration::from_secs(60),
            ProbeKind::Health => Duration::from_secs(10),
            // Up to 4 addresses × (connect 5 s + TLS 5 s), plus one AIA fetch.
            ProbeKind::Tls => Duration::from_secs(60),
            // Up to 4 addresses × up to 7 handshakes of ≤ 10 s each.
            ProbeKind::TlsVersions => Duration::from_secs(300),
            // A/AAAA (3 s × 2 attempts) then CAA up the tree.
            ProbeKind::Dns => Duration::from_secs(30),
            ProbeKind::Cors => Duration::from_secs(300),
            ProbeKind::UnknownPath => Duration::from_secs(60),
            ProbeKind::Paths => Duration::from_secs(600),
            // The burst itself is capped at 30 s; request 1 and a slow stop come on top.
            ProbeKind::RateLimit => Duration::from_secs(90),
        }
    }

    /// Whether the probe may be configured to send credential headers (ARCHITECTURE.md, Safety).
    pub const fn accepts_credentials(self) -> bool {
        matches!(self, ProbeKind::Fetch | ProbeKind::Health | ProbeKind::Cors)
    }

    /// Whether the probe keeps running while the target is in backoff (CHECKS.md §0.5).
    pub const fn runs_during_backoff(self) -> bool {
        matches!(self, ProbeKind::Health | ProbeKind::Dns)
    }

    /// Requests a run keeps in flight to the target at most: the fetch probe's main chain and
    /// its plain-HTTP side run together; every other probe sends one request at a time. The
    /// scheduler's per-host limit counts these (CHECKS.md §0.5: ≤ 2 concurrent requests).
    pub const fn requests_in_flight(self) -> u32 {
        match self {
            ProbeKind::Fetch => 2,
            _ => 1,
        }
    }

    /// The probe-level gauges it may produce.
    pub fn gauges(self) -> &'static [&'static GaugeDef] {
        match self {
            ProbeKind::Fetch => crate::fetch::GAUGES,
            ProbeKind::Tls => crate::tls::probe::GAUGES,
            ProbeKind::Health
            | ProbeKind::TlsVersions
            | ProbeKind::Dns
            | ProbeKind::Cors
            | ProbeKind::UnknownPath
            | ProbeKind::Paths
            | ProbeKind::RateLimit => &[],
        }
    }
}

impl std::fmt::Display for ProbeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Runs one probe against one target. Never fails: failures are evidence.
pub async fn run(kind: ProbeKind, target: &Target, cx: &ProbeContext<'_>) -> ProbeRun {
    let started_at = SystemTime::now();
    let t0 = Instant::now();
    let outcome = match kind {
        ProbeKind::Fetch => crate::fetch::run(target, cx).await,
        ProbeKind::Health => crate::health::run(target, cx).await,
        ProbeKind::Tls => crate::tls::probe::run(target, cx).await,
        ProbeKind::TlsVersions => crate::tls::versions::run(target, cx).await,
        ProbeKind::Dns => crate::dns::run(target, cx).await,
        ProbeKind::Cors => crate::cors::run(target, cx).await,
        ProbeKind::UnknownPath => crate::unknown_path::run(target, cx).await,
        ProbeKind::Paths => crate::paths::run(target, cx).await,
        ProbeKind::RateLimit => crate::rate_limit::run(target, cx).await,
    };
    ProbeRun {
        kind,
        started_at,
        duration: t0.elapsed(),
        success: outcome.success,
        reason: outcome.reason,
        evidence: outcome.evidence,
        measurements: outcome.measurements,
    }
}

/// The run of a probe that was cut at its deadline before producing evidence.
pub fn timed_out(kind: ProbeKind, started_at: SystemTime, duration: Duration) -> ProbeRun {
    ProbeRun {
        kind,
        started_at,
        duration,
        success: false,
        reason: Some("timeout"),
        evidence: Evidence::TimedOut,
        measurements: Vec::new(),
    }
}
