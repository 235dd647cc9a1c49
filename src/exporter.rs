//! The exporter: per-target series and prodprobe's own metrics, encoded as Prometheus text
//! (0.0.4) or OpenMetrics.
//!
//! Per-target series live in a store of *slots*: one slot per (target, probe) and per
//! (target, check). A run replaces its slot wholesale, so a cleared finding's series disappears
//! at once (CHECKS.md §0.4) and a removed target's series go with it. The library declares its
//! evidence gauges beside the rules that produce them (ADR 0001); the series that every probe
//! and check has (`probe_success`, `probe_check_*` …) are declared here. Every per-target name
//! gets the `probe_` prefix; the daemon's own series start with `prodprobe_`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use probes::evidence::ProbeRun;
use probes::measure::{GaugeDef, Measurement};
use probes::probe::ProbeKind;
use probes::target::Target;
use probes::verdict::{Severity, Status, Verdict};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// `probe_success`.
pub static SUCCESS: GaugeDef = GaugeDef {
    name: "success",
    help: "1 if the probe's network work completed and, for HTTPS, the certificate verified (blackbox)",
    labels: &[],
};
/// `probe_duration_seconds`.
pub static DURATION: GaugeDef = GaugeDef {
    name: "duration_seconds",
    help: "How long the probe run took (blackbox)",
    labels: &[],
};
/// `probe_last_run_timestamp_seconds`.
pub static LAST_RUN: GaugeDef = GaugeDef {
    name: "last_run_timestamp_seconds",
    help: "When the probe last finished a run (Unix seconds); alert when older than a few intervals",
    labels: &[],
};
/// `probe_interval_seconds`.
pub static INTERVAL: GaugeDef = GaugeDef {
    name: "interval_seconds",
    help: "Configured interval of the probe, for staleness alerts",
    labels: &[],
};
/// `probe_check_success`.
pub static CHECK_SUCCESS: GaugeDef = GaugeDef {
    name: "check_success",
    help: "1 if the check was evaluated and passed, else 0",
    labels: &[],
};
/// `probe_check_evaluated`.
pub static CHECK_EVALUATED: GaugeDef = GaugeDef {
    name: "check_evaluated",
    help: "1 if the check was evaluated (pass or fail), 0 on error or skipped",
    labels: &[],
};
/// `probe_check_severity`.
pub static CHECK_SEVERITY: GaugeDef = GaugeDef {
    name: "check_severity",
    help: "Highest active finding severity: 0 none, 1 info, 2 low, 3 medium, 4 high, 5 critical",
    labels: &[],
};
/// `probe_check_finding`.
pub static CHECK_FINDING: GaugeDef = GaugeDef {
    name: "check_finding",
    help: "1 while the finding is active; the series disappears when it clears",
    labels: &["finding", "severity"],
};
/// `probe_check_duration_seconds` (with `server.check_timing_metrics`).
pub static CHECK_DURATION: GaugeDef = GaugeDef {
    name: "check_duration_seconds",
    help: "How long the check's rule took to evaluate",
    labels: &[],
};
/// `probe_check_last_run_timestamp_seconds` (with `server.check_timing_metrics`).
pub static CHECK_LAST_RUN: GaugeDef = GaugeDef {
    name: "check_last_run_timestamp_seconds",
    help: "When the check was last evaluated (Unix seconds)",
    labels: &[],
};

/// `probe_backoff_active` (CHECKS.md §0.5), one series per target, computed at scrape time.
pub static BACKOFF_ACTIVE: GaugeDef = GaugeDef {
    name: "backoff_active",
    help: "1 while the target is in backoff after a 429 or a 503 with Retry-After (only health and dns run), else 0",
    labels: &[],
};

/// The per-target gauges the exporter itself produces.
pub static CORE_GAUGES: &[&GaugeDef] = &[
    &BACKOFF_ACTIVE,
    &SUCCESS,
    &DURATION,
    &LAST_RUN,
    &INTERVAL,
    &CHECK_SUCCESS,
    &CHECK_EVALUATED,
    &CHECK_SEVERITY,
    &CHECK_FINDING,
    &CHECK_DURATION,
    &CHECK_LAST_RUN,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Probe(ProbeKind),
    Check(&'static str),
}

#[derive(Debug, Clone)]
struct Sample {
    gauge: &'static GaugeDef,
    labels: Vec<(&'static str, String)>,
    value: f64,
}

#[derive(Debug)]
struct TargetSeries {
    generation: u64,
    labels: Vec<(String, String)>,
    slots: BTreeMap<Slot, Vec<Sample>>,
    /// End of the target's backoff; `probe_backoff_active` compares it with the scrape time.
    backoff_until: Option<tokio::time::Instant>,
}

#[derive(Debug, Default)]
struct SeriesStore {
    targets: RwLock<BTreeMap<String, TargetSeries>>,
}

type Labels = Vec<(String, String)>;

/// prodprobe's own metrics.
#[derive(Debug)]
struct SelfMetrics {
    reload_ok: Gauge,
    reload_ts: Gauge<f64, AtomicU64>,
    runs: Family<Labels, Counter>,
    skipped: Family<Labels, Counter>,
    lag: Histogram,
    in_flight: Gauge,
    targets: Gauge,
    jobs: Gauge,
    shard: Family<Labels, Gauge>,
}

/// The exporter: a prometheus-client registry whose per-target part is a custom collector.
#[derive(Debug)]
pub struct Exporter {
    registry: Registry,
    /// Names of prodprobe's own families as the text format shows them (`_total` on counters).
    self_names: Vec<String>,
    store: Arc<SeriesStore>,
    own: SelfMetrics,
    check_timing: std::sync::atomic::AtomicBool,
}

impl Default for Exporter {
    fn default() -> Self {
        Self::new()
    }
}

/// The kinds of self-metric we register.
enum Metric {
    Gauge(Gauge),
    Float(Gauge<f64, AtomicU64>),
    Gauges(Family<Labels, Gauge>),
    Counters(Family<Labels, Counter>),
    Histogram(Histogram),
}

/// A registry that also remembers what it registered, as the text format names it.
#[derive(Default)]
struct Registering {
    registry: Registry,
    names: Vec<String>,
}

impl Registering {
    fn add(&mut self, name: &str, help: &str, metric: Metric) {
        let counter = matches!(metric, Metric::Counters(_));
        self.names.push(if counter {
            format!("{name}_total")
        } else {
            name.to_owned()
        });
        match metric {
            Metric::Gauge(m) => self.registry.register(name, help, m),
            Metric::Float(m) => self.registry.register(name, help, m),
            Metric::Gauges(m) => self.registry.register(name, help, m),
            Metric::Counters(m) => self.registry.register(name, help, m),
            Metric::Histogram(m) => self.registry.register(name, help, m),
        }
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Exporter {
    /// A fresh exporter with prodprobe's own metrics registered.
    pub fn new() -> Self {
        let mut reg = Registering::default();
        let mut register = |name: &str, help: &str, metric| reg.add(name, help, metric);
        let build_info: Family<Labels, Gauge> = Family::default();
        build_info
            .get_or_create(&vec![
                ("version".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
                (
                    "rustc".to_owned(),
                    option_env!("PRODPROBE_RUSTC")
                        .unwrap_or("unknown")
                        .to_owned(),
                ),
            ])
            .set(1);
        register(
            "prodprobe_build_info",
            "prodprobe version (always 1)",
            Metric::Gauges(build_info),
        );
        let own = SelfMetrics {
            reload_ok: Gauge::default(),
            reload_ts: Gauge::default(),
            runs: Family::default(),
            skipped: Family::default(),
            lag: Histogram::new([0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0]),
            in_flight: Gauge::default(),
            targets: Gauge::default(),
            jobs: Gauge::default(),
            shard: Family::default(),
        };
        register(
            "prodprobe_config_last_reload_successful",
            "1 if the last configuration (re)load succeeded",
            Metric::Gauge(own.reload_ok.clone()),
        );
        register(
            "prodprobe_config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded successfully (Unix seconds)",
            Metric::Float(own.reload_ts.clone()),
        );
        register(
            "prodprobe_probe_runs",
            "Probe runs by probe and result (success, failure, timeout)",
            Metric::Counters(own.runs.clone()),
        );
        register(
            "prodprobe_skipped_runs",
            "Scheduled runs not started, by probe and reason (overrun: the previous run was still going; backoff: the target is in backoff; health_failing: rate_limit waits for health)",
            Metric::Counters(own.skipped.clone()),
        );
        register(
            "prodprobe_scheduler_lag_seconds",
            "Delay between a run's scheduled time and its start, including waits for concurrency limits",
            Metric::Histogram(own.lag.clone()),
        );
        register(
            "prodprobe_probes_in_flight",
            "Probe runs in flight",
            Metric::Gauge(own.in_flight.clone()),
        );
        register(
            "prodprobe_targets",
            "Targets this instance probes (its shard's, with --shard)",
            Metric::Gauge(own.targets.clone()),
        );
        register(
            "prodprobe_shard_info",
            "The shard this instance probes: shard INDEX of shards COUNT (0 of 1 without --shard)",
            Metric::Gauges(own.shard.clone()),
        );
        register(
            "prodprobe_jobs",
            "Scheduled jobs (target × probe)",
            Metric::Gauge(own.jobs.clone()),
        );
        let Registering {
            mut registry,
            names: self_names,
        } = reg;
        let store = Arc::new(SeriesStore::default());
        registry.register_collector(Box::new(Arc::clone(&store)));
        let exporter = Exporter {
            registry,
            self_names,
            store,
            own,
            check_timing: std::sync::atomic::AtomicBool::new(false),
        };
        exporter.set_shard(crate::shard::Shard::ALL);
        exporter
    }

    /// prodprobe's own metric families, as the text format names them.
    pub fn self_metric_names(&self) -> &[String] {
        &self.self_names
    }

    /// Enables the check timing series.
    pub fn set_check_timing(&self, on: bool) {
        self.check_timing.store(on, Ordering::Relaxed);
    }

    /// Starts (or restarts) a target's series under a new generation, dropping old ones.
    pub fn add_target(&self, target: &Target, generation: u64) {
        self.store.add_target(target, generation);
    }

    /// Records when a target's backoff ends (`probe_backoff_active` is 1 until then).
    pub fn set_backoff(&self, name: &str, generation: u64, until: Option<tokio::time::Instant>) {
        self.store.set_backoff(name, generation, until);
    }

    /// Removes every series of a target.
    pub fn remove_target(&self, name: &str) {
        self.store.remove_target(name);
    }

    /// Records a probe run: `probe_success`, timings, the probe's own gauges.
    pub fn record_probe(
        &self,
        target: &Target,
        generation: u64,
        run: &ProbeRun,
        interval: Duration,
    ) {
        self.store
            .record_probe(target, generation, run, Some(interval));
    }

    /// Records check verdicts: `probe_check_*` and the checks' evidence gauges.
    pub fn record_verdicts(
        &self,
        target: &Target,
        generation: u64,
        verdicts: &[(Verdict, Duration)],
    ) {
        let timing = self.check_timing.load(Ordering::Relaxed);
        self.store
            .record_verdicts(target, generation, verdicts, timing);
    }

    /// A probe run finished: counts it and logs it (one call does both).
    pub fn probe_finished(&self, target: &str, run: &ProbeRun) {
        let result = match (run.success, run.reason) {
            (true, _) => "success",
            (false, Some("timeout")) => "timeout",
            (false, _) => "failure",
        };
        self.own
            .runs
            .get_or_create(&vec![
                ("probe".to_owned(), run.kind.name().to_owned()),
                ("result".to_owned(), result.to_owned()),
            ])
            .inc();
        tracing::debug!(
            target_name = target,
            probe = run.kind.name(),
            result,
            reason = run.reason.unwrap_or(""),
            duration_ms = run.duration.as_millis() as u64,
            "probe run finished"
        );
    }

    /// Scheduled runs were skipped: counts and logs them.
    pub fn runs_skipped(&self, target: &str, probe: ProbeKind, reason: &'static str, n: u64) {
        self.own
            .skipped
            .get_or_create(&vec![
                ("probe".to_owned(), probe.name().to_owned()),
                ("reason".to_owned(), reason.to_owned()),
            ])
            .inc_by(n);
        tracing::warn!(
            target_name = target,
            probe = probe.name(),
            reason,
            skipped = n,
            "scheduled runs skipped"
        );
    }

    /// Observes scheduler lag.
    pub fn observe_lag(&self, lag: Duration) {
        self.own.lag.observe(lag.as_secs_f64());
    }

    /// Adjusts the in-flight gauge.
    pub fn in_flight(&self, delta: i64) {
        self.own.in_flight.inc_by(delta);
    }

    /// Records the shard (once, at start).
    pub fn set_shard(&self, shard: crate::shard::Shard) {
        self.own.shard.clear();
        self.own
            .shard
            .get_or_create(&vec![
                ("shard".to_owned(), shard.index().to_string()),
                ("shards".to_owned(), shard.count().to_string()),
            ])
            .set(1);
    }

    /// Creates the run and skipped-run counters of these probes at 0, so that the first
    /// failure or skip is an increase Prometheus sees (`increase()` over a series that appears
    /// at 1 reads 0, and `ProdprobeOverloaded` would miss the first overrun). Counters are
    /// never removed: a probe a reload drops keeps its totals.
    pub fn prepare_run_counters(&self, kinds: impl IntoIterator<Item = ProbeKind>) {
        for kind in kinds {
            let labels = |name: &str, value: &str| {
                vec![
                    ("probe".to_owned(), kind.name().to_owned()),
                    (name.to_owned(), value.to_owned()),
                ]
            };
            for result in ["success", "failure", "timeout"] {
                let _ = self.own.runs.get_or_create(&labels("result", result));
            }
            let mut reasons = vec!["overrun"];
            if !kind.runs_during_backoff() {
                reasons.push("backoff");
            }
            if kind == ProbeKind::RateLimit {
                reasons.push("health_failing");
            }
            for reason in reasons {
                let _ = self.own.skipped.get_or_create(&labels("reason", reason));
            }
        }
    }

    /// Sets the target and job counts.
    pub fn set_counts(&self, targets: usize, jobs: usize) {
        self.own.targets.set(targets as i64);
        self.own.jobs.set(jobs as i64);
    }

    /// Records a (re)load outcome.
    pub fn reloaded(&self, ok: bool) {
        self.own.reload_ok.set(i64::from(ok));
        if ok {
            self.own.reload_ts.set(unix_now());
        }
    }

    /// Encodes everything in OpenMetrics 1.0.
    pub fn encode_openmetrics(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Encodes everything in the Prometheus text format 0.0.4.
    pub fn encode_text(&self) -> String {
        openmetrics_to_text(&self.encode_openmetrics())
    }
}

fn sample(gauge: &'static GaugeDef, labels: Vec<(&'static str, String)>, value: f64) -> Sample {
    Sample {
        gauge,
        labels,
        value,
    }
}

fn from_measurement(m: &Measurement, probe: Option<(&'static str, String)>) -> Sample {
    let mut labels: Vec<(&'static str, String)> = probe.into_iter().collect();
    labels.extend(m.gauge.labels.iter().copied().zip(m.labels.iter().cloned()));
    sample(m.gauge, labels, m.value)
}

impl SeriesStore {
    /// Records when a target's backoff ends, for the series of that generation.
    fn set_backoff(&self, name: &str, generation: u64, until: Option<tokio::time::Instant>) {
        let mut map = self.targets.write().unwrap_or_else(|e| e.into_inner());
        if let Some(series) = map.get_mut(name).filter(|s| s.generation == generation) {
            series.backoff_until = until;
        }
    }

    /// Starts (or restarts) a target's series under a new generation. A target restarted by a
    /// reload keeps the series of the probes and checks it still has (with unchanged labels)
    /// until its new runs replace them: a reload that touches `defaults:` must not make every
    /// firing alert resolve and fire again. Series of probes and checks it lost are dropped.
    fn add_target(&self, target: &Target, generation: u64) {
        let mut labels = vec![("target".to_owned(), target.name.clone())];
        labels.extend(target.labels.iter().cloned());
        let mut map = self.targets.write().unwrap_or_else(|e| e.into_inner());
        let kept = map
            .remove(&target.name)
            .filter(|old| old.labels == labels)
            .map(|old| {
                let probes = target.probes();
                let mut slots = old.slots;
                slots.retain(|slot, _| match slot {
                    Slot::Probe(kind) => probes.contains(kind),
                    Slot::Check(id) => target.has_check(id),
                });
                (slots, old.backoff_until)
            });
        let (slots, backoff_until) = kept.unwrap_or_default();
        map.insert(
            target.name.clone(),
            TargetSeries {
                generation,
                labels,
                slots,
                backoff_until,
            },
        );
    }

    /// Removes every series of a target.
    fn remove_target(&self, name: &str) {
        let mut map = self.targets.write().unwrap_or_else(|e| e.into_inner());
        map.remove(name);
    }

    fn replace_slot(&self, name: &str, generation: u64, slot: Slot, samples: Vec<Sample>) {
        let mut map = self.targets.write().unwrap_or_else(|e| e.into_inner());
        // A late result of a removed or replaced target is dropped.
        if let Some(series) = map.get_mut(name).filter(|s| s.generation == generation) {
            series.slots.insert(slot, samples);
        }
    }

    /// Records a probe run: `probe_success`, timings, the probe's own gauges.
    fn record_probe(
        &self,
        target: &Target,
        generation: u64,
        run: &ProbeRun,
        interval: Option<Duration>,
    ) {
        let probe = ("probe", run.kind.name().to_owned());
        let finished = run
            .started_at
            .checked_add(run.duration)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or_else(unix_now, |d| d.as_secs_f64());
        let mut samples = vec![
            sample(
                &SUCCESS,
                vec![probe.clone()],
                if run.success { 1.0 } else { 0.0 },
            ),
            sample(&DURATION, vec![probe.clone()], run.duration.as_secs_f64()),
            sample(&LAST_RUN, vec![probe.clone()], finished),
        ];
        if let Some(interval) = interval {
            samples.push(sample(
                &INTERVAL,
                vec![probe.clone()],
                interval.as_secs_f64(),
            ));
        }
        samples.extend(
            run.measurements
                .iter()
                .map(|m| from_measurement(m, Some(probe.clone()))),
        );
        self.replace_slot(&target.name, generation, Slot::Probe(run.kind), samples);
    }

    /// Records check verdicts: `probe_check_*` and the checks' evidence gauges.
    fn record_verdicts(
        &self,
        target: &Target,
        generation: u64,
        verdicts: &[(Verdict, Duration)],
        timing: bool,
    ) {
        let now = unix_now();
        for (v, took) in verdicts {
            let check = ("check", v.check.to_owned());
            let mut samples = vec![
                sample(
                    &CHECK_SUCCESS,
                    vec![check.clone()],
                    if v.status == Status::Pass { 1.0 } else { 0.0 },
                ),
                sample(
                    &CHECK_EVALUATED,
                    vec![check.clone()],
                    if v.evaluated() { 1.0 } else { 0.0 },
                ),
                sample(
                    &CHECK_SEVERITY,
                    vec![check.clone()],
                    f64::from(v.max_severity().map_or(0, Severity::value)),
                ),
            ];
            let mut seen: Vec<(&str, Severity)> = Vec::new();
            for f in &v.findings {
                if seen.contains(&(f.id, f.severity)) {
                    continue;
                }
                seen.push((f.id, f.severity));
                samples.push(sample(
                    &CHECK_FINDING,
                    vec![
                        check.clone(),
                        ("finding", f.id.to_owned()),
                        ("severity", f.severity.as_str().to_owned()),
                    ],
                    1.0,
                ));
            }
            if timing {
                samples.push(sample(
                    &CHECK_DURATION,
                    vec![check.clone()],
                    took.as_secs_f64(),
                ));
                samples.push(sample(&CHECK_LAST_RUN, vec![check.clone()], now));
            }
            samples.extend(v.measurements.iter().map(|m| from_measurement(m, None)));
            self.replace_slot(&target.name, generation, Slot::Check(v.check), samples);
        }
    }
}

/// Renders one target's latest results on their own, in the text format and without prodprobe's
/// own metrics: what blackbox's `/probe` answers. An on-demand run has no interval, so
/// `probe_interval_seconds` is left out (and the staleness alert never matches `/probe` series);
/// `probe_backoff_active` is 1 while `backoff_until` lies ahead.
pub fn render_target(
    target: &Target,
    runs: &[&ProbeRun],
    verdicts: &[Verdict],
    backoff_until: Option<tokio::time::Instant>,
) -> String {
    let store = Arc::new(SeriesStore::default());
    store.add_target(target, 1);
    store.set_backoff(&target.name, 1, backoff_until);
    for run in runs {
        store.record_probe(target, 1, run, None);
    }
    let verdicts: Vec<(Verdict, Duration)> = verdicts
        .iter()
        .map(|v| (v.clone(), Duration::ZERO))
        .collect();
    store.record_verdicts(target, 1, &verdicts, false);
    let mut registry = Registry::default();
    registry.register_collector(Box::new(store));
    let mut om = String::new();
    let _ = prometheus_client::encoding::text::encode(&mut om, &registry);
    openmetrics_to_text(&om)
}

/// One metric family being encoded: its definition and samples with their target.
type Encoding<'a> = (&'static GaugeDef, Vec<(&'a TargetSeries, &'a Sample)>);

impl Collector for SeriesStore {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let map = self.targets.read().unwrap_or_else(|e| e.into_inner());
        let now = tokio::time::Instant::now();
        let backoff: Vec<Sample> = map
            .values()
            .map(|s| {
                let on = s.backoff_until.is_some_and(|t| now < t);
                sample(&BACKOFF_ACTIVE, Vec::new(), if on { 1.0 } else { 0.0 })
            })
            .collect();
        let mut families: BTreeMap<&'static str, Encoding<'_>> = BTreeMap::new();
        for (series, s) in map.values().zip(&backoff) {
            families
                .entry(s.gauge.name)
                .or_insert_with(|| (s.gauge, Vec::new()))
                .1
                .push((series, s));
        }
        for series in map.values() {
            for samples in series.slots.values() {
                for s in samples {
                    families
                        .entry(s.gauge.name)
                        .or_insert_with(|| (s.gauge, Vec::new()))
                        .1
                        .push((series, s));
                }
            }
        }
        for (name, (gauge, samples)) in families {
            let full = format!("probe_{name}");
            let mut metric =
                encoder.encode_descriptor(&full, gauge.help, None, MetricType::Gauge)?;
            for (series, s) in samples {
                let labels = (series.labels.as_slice(), s.labels.as_slice());
                metric.encode_family(&labels)?.encode_gauge(&s.value)?;
            }
        }
        Ok(())
    }
}

/// Converts prometheus-client's OpenMetrics output to the Prometheus text format 0.0.4:
/// counters' HELP/TYPE names carry `_total`, `_created` samples, `# UNIT` and `# EOF` go,
/// `info` becomes a gauge named `*_info`, `unknown` becomes `untyped`.
pub fn openmetrics_to_text(om: &str) -> String {
    let mut out = String::with_capacity(om.len());
    let mut types: BTreeMap<&str, &str> = BTreeMap::new();
    for line in om.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some((name, ty)) = rest.split_once(' ')
        {
            types.insert(name, ty);
        }
    }
    let rename = |name: &str| -> String {
        match types.get(name) {
            Some(&"counter") => format!("{name}_total"),
            Some(&"info") => format!("{name}_info"),
            _ => name.to_owned(),
        }
    };
    for line in om.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            out.push_str(&format!("# HELP {} {help}\n", rename(name)));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let ty = match ty {
                "info" | "stateset" => "gauge",
                "unknown" => "untyped",
                "gaugehistogram" => "histogram",
                other => other,
            };
            out.push_str(&format!("# TYPE {} {ty}\n", rename(name)));
            continue;
        }
        let metric_name = line.split(['{', ' ']).next().unwrap_or("");
        if metric_name.ends_with("_created") {
            continue;
        }
        // No series carries exemplars, so a sample line passes as it is: cutting at ` # {`
        // would cut inside a label value holding it (a `Server: nginx # {x}` banner, a
        // certificate subject) and break the whole page.
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_get_total_in_text_format() {
        let e = Exporter::new();
        e.own
            .runs
            .get_or_create(&vec![
                ("probe".into(), "fetch".into()),
                ("result".into(), "success".into()),
            ])
            .inc();
        e.reloaded(true);
        let text = e.encode_text();
        assert!(
            text.contains("# TYPE prodprobe_probe_runs_total counter"),
            "{text}"
        );
        assert!(
            text.contains("prodprobe_probe_runs_total{probe=\"fetch\",result=\"success\"} 1"),
            "{text}"
        );
        assert!(!text.contains("_created"), "{text}");
        assert!(!text.contains("# EOF"), "{text}");
        let om = e.encode_openmetrics();
        assert!(om.contains("# TYPE prodprobe_probe_runs counter"), "{om}");
        assert!(om.ends_with("# EOF\n"), "{om}");
    }

    #[test]
    fn label_values_that_look_like_exemplars_pass_whole() {
        let e = Exporter::new();
        e.own
            .runs
            .get_or_create(&vec![
                ("probe".into(), "nginx # {x=\"1\"} 2".into()),
                ("result".into(), "success".into()),
            ])
            .inc();
        let text = e.encode_text();
        assert!(
            text.contains(
                "prodprobe_probe_runs_total{probe=\"nginx # {x=\\\"1\\\"} 2\",result=\"success\"} 1\n"
            ),
            "{text}"
        );
    }
}
