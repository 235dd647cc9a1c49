//! The scheduler: one lightweight task per job (target × probe).
//!
//! - First runs start at a deterministic offset (hash of target and probe) within
//!   min(interval, initial_spread), so N targets spread out instead of firing together.
//! - A job runs on a fixed grid; it never overlaps itself (the task awaits its run), and grid
//!   slots missed while a run or a concurrency wait overran are counted as skipped.
//! - A global semaphore and one per host bound the runs in flight.
//! - Each run has a deadline; the probe honours it and the scheduler cuts it there as well.
//! - Reload cancels the jobs of removed or changed targets at once; shutdown stops scheduling
//!   and lets in-flight runs finish (each bounded by its timeout).
//!
//! After each run the checks that read the probe are re-evaluated over the newest evidence of
//! all their inputs, and the results go to the exporter.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use probes::backoff;
use probes::checks::{self, CheckInput};
use probes::context::ProbeContext;
use probes::evidence::{EvidenceSet, ProbeRun};
use probes::fetch::Engine;
use probes::probe::{self, ProbeKind};
use probes::target::Target;
use probes::verdict::{Judgement, Status, Verdict};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, sleep_until, timeout_at};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::exporter::Exporter;
use crate::plan::{JobSpec, Plan, PlannedTarget, SchedulerSettings};
use crate::state::StateFile;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs probes. The daemon uses [`EngineRunner`]; tests substitute their own.
pub trait Runner: Send + Sync + 'static {
    /// Runs `kind` against `target`, finishing by `deadline`.
    fn run<'a>(
        &'a self,
        kind: ProbeKind,
        target: &'a Target,
        deadline: Instant,
    ) -> BoxFuture<'a, ProbeRun>;
}

/// The real runner: the library's probes on the shared engine.
#[derive(Debug)]
pub struct EngineRunner {
    /// Resolver and User-Agent, built once.
    pub engine: Arc<Engine>,
}

impl Runner for EngineRunner {
    fn run<'a>(
        &'a self,
        kind: ProbeKind,
        target: &'a Target,
        deadline: Instant,
    ) -> BoxFuture<'a, ProbeRun> {
        Box::pin(async move {
            let cx = ProbeContext {
                engine: &self.engine,
                deadline,
            };
            probe::run(kind, target, &cx).await
        })
    }
}

/// The newest evidence and verdicts of a target.
#[derive(Debug, Default)]
struct TargetState {
    evidence: EvidenceSet,
    verdicts: BTreeMap<&'static str, Verdict>,
    /// Probes that have run, or had a slot skipped by a backoff, since the runtime started.
    settled: std::collections::HashSet<ProbeKind>,
    /// When each job last started a run (monotonic), for a reload to resume the schedule.
    last_start: HashMap<ProbeKind, Instant>,
    /// A rate-limit burst that a backoff skipped or cut has been given its one retry at the
    /// backoff's end; cleared when a burst completes.
    burst_retried: bool,
}

/// How long after a backoff ends a burst the backoff skipped or cut is retried.
const BURST_RETRY_AFTER_BACKOFF: Duration = Duration::from_secs(60);

/// Probes whose responses a cycle-scanning check reads (rate_limit, run a day apart, is not
/// waited for).
const CYCLE_PROBES: [ProbeKind; 5] = [
    ProbeKind::Fetch,
    ProbeKind::Health,
    ProbeKind::UnknownPath,
    ProbeKind::Cors,
    ProbeKind::Paths,
];

/// Logs a check whose status or finding ids differ from its previous verdict: one info line
/// per change, none while a verdict holds, so the log reads as the history of regressions
/// and fixes.
fn log_change(target: &str, previous: &Verdict, now: &Verdict) {
    // Before its evidence is whole a check has no verdict yet, only a placeholder: the first
    // real verdict is the starting point, not a change (a restart of a large fleet would
    // otherwise log every check of every target).
    let provisional = |v: &Verdict| {
        v.status == Status::Error && matches!(v.reason, Some("no_evidence" | "cycle_incomplete"))
    };
    if provisional(previous) || provisional(now) {
        return;
    }
    let ids = |v: &Verdict| v.findings.iter().map(|f| f.id).collect::<Vec<_>>();
    let (before, after) = (ids(previous), ids(now));
    if previous.status == now.status && before == after && previous.reason == now.reason {
        return;
    }
    tracing::info!(
        target_name = %target,
        check = now.check,
        from = previous.status.as_str(),
        to = now.status.as_str(),
        reason = now.reason.unwrap_or(""),
        findings = %after.join(","),
        "check verdict changed"
    );
}

/// A target while it is scheduled.
#[derive(Debug)]
pub struct TargetRuntime {
    /// The target.
    pub target: Arc<Target>,
    /// Its jobs.
    pub jobs: Vec<JobSpec>,
    /// Config fingerprint (unchanged targets survive reloads).
    pub fingerprint: u64,
    /// Distinguishes this incarnation from an earlier one with the same name.
    pub generation: u64,
    state: Mutex<TargetState>,
    /// End of the target's backoff (CHECKS.md §0.5), if one was ever set; every change is
    /// announced, so that runs in flight that must not continue during a backoff are cut.
    backoff: tokio::sync::watch::Sender<Option<Instant>>,
    /// Turns true once the first health run is recorded (rate_limit waits for it).
    health_seen: tokio::sync::watch::Sender<bool>,
    /// Bumped whenever a probe kind joins `TargetState::settled`.
    settled_changed: tokio::sync::watch::Sender<u64>,
    /// Log each change of a verdict (`serve`; a `check` run prints its report instead).
    log_changes: bool,
}

impl TargetRuntime {
    /// A runtime with no evidence yet.
    pub fn new(planned: &PlannedTarget, generation: u64) -> Self {
        TargetRuntime {
            target: Arc::clone(&planned.target),
            jobs: planned.jobs.clone(),
            fingerprint: planned.fingerprint,
            generation,
            state: Mutex::new(TargetState::default()),
            backoff: tokio::sync::watch::Sender::new(None),
            health_seen: tokio::sync::watch::Sender::new(false),
            settled_changed: tokio::sync::watch::Sender::new(0),
            log_changes: false,
        }
    }

    /// When `kind`'s job last started a run, if it did.
    pub fn last_start(&self, kind: ProbeKind) -> Option<Instant> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.last_start.get(&kind).copied()
    }

    /// Whether a burst that a backoff skipped or cut may be retried at the backoff's end: once,
    /// until a burst completes.
    fn take_burst_retry(&self) -> bool {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        !std::mem::replace(&mut st.burst_retried, true)
    }

    fn burst_completed(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.burst_retried = false;
    }

    fn note_start(&self, kind: ProbeKind, at: Instant) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.last_start.insert(kind, at);
    }

    /// When the target's backoff ends (it may lie in the past).
    pub fn backoff_until(&self) -> Option<Instant> {
        *self.backoff.borrow()
    }

    /// Puts the target in backoff until `until`, unless it already is for longer.
    pub fn extend_backoff(&self, until: Instant) {
        self.backoff.send_if_modified(|b| {
            let later = b.is_none_or(|t| t < until);
            if later {
                *b = Some(until);
            }
            later
        });
    }

    /// Resolves when a backoff starts or is extended after this call.
    pub fn backoff_started(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.backoff.subscribe();
        async move {
            // The sender lives as long as the runtime, which outlives every run.
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Whether the target is in backoff now.
    pub fn in_backoff(&self) -> bool {
        self.backoff_until().is_some_and(|t| Instant::now() < t)
    }

    /// Stores a run and re-evaluates the checks that read its probe; a 429 or a 503 with
    /// `Retry-After` in its responses puts the target in backoff (CHECKS.md §0.5).
    pub fn record(&self, run: Arc<ProbeRun>) -> Vec<(Verdict, Duration)> {
        if let Some(d) = backoff::backoff_for(run.evidence.responses(), SystemTime::now()) {
            self.extend_backoff(Instant::now() + d);
            tracing::warn!(
                target_name = %self.target.name,
                probe = run.kind.name(),
                backoff_seconds = d.as_secs(),
                "429 or 503 with Retry-After: target in backoff, only health and dns continue"
            );
        }
        let kind = run.kind;
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.evidence.insert(run);
        st.settled.insert(kind);
        let due: Vec<&'static checks::CheckDef> = self
            .target
            .checks
            .iter()
            .copied()
            .filter(|c| c.reevaluated_by(kind, &st.evidence))
            .collect();
        let out = self.judge_all(&mut st, due);
        drop(st);
        self.settled_changed.send_modify(|n| *n += 1);
        if kind == ProbeKind::Health {
            self.health_seen.send_replace(true);
        }
        out
    }

    /// Whether every job but the rate-limit burst has run (or had a slot skipped) since the
    /// runtime started.
    fn others_settled(&self) -> bool {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.jobs
            .iter()
            .filter(|j| j.kind != ProbeKind::RateLimit)
            .all(|j| st.settled.contains(&j.kind))
    }

    /// Waits until every job but the rate-limit burst has run once (or had a slot skipped):
    /// a burst that trips a limiter puts the target in backoff, and the checks of a probe
    /// that had not run yet would have no verdict until it ends (an hour, for some servers).
    pub async fn others_ran_once(&self) {
        let mut rx = self.settled_changed.subscribe();
        let _ = rx.wait_for(|_| self.others_settled()).await;
    }

    /// Whether every probe of the target whose responses a cycle-scanning check reads has
    /// run (or had a slot skipped) since the runtime started.
    fn cycle_complete(&self, st: &TargetState) -> bool {
        self.jobs
            .iter()
            .filter(|j| CYCLE_PROBES.contains(&j.kind))
            .all(|j| st.settled.contains(&j.kind))
    }

    /// Evaluates `def` on the held evidence. A cycle-scanning check (error_disclosure) that
    /// finds nothing before the cycle is whole has not passed: after a start, the response
    /// carrying a stack trace may belong to a probe that has not run yet, and a pass exported
    /// meanwhile would make the check look regressed (`ProdprobeCheckRegressed`) when the next
    /// run finds the trace again. A finding stands: what was seen is real.
    /// Judges `due` over the stored evidence, stores the verdicts and returns them with the
    /// time each took.
    fn judge_all(
        &self,
        st: &mut TargetState,
        due: Vec<&'static checks::CheckDef>,
    ) -> Vec<(Verdict, Duration)> {
        let complete = self.cycle_complete(st);
        due.into_iter()
            .map(|def| {
                let c0 = std::time::Instant::now();
                let verdict = self.judge(def, st, complete);
                if self.log_changes
                    && let Some(previous) = st.verdicts.get(def.id)
                {
                    log_change(&self.target.name, previous, &verdict);
                }
                st.verdicts.insert(def.id, verdict.clone());
                (verdict, c0.elapsed())
            })
            .collect()
    }

    fn judge(&self, def: &'static checks::CheckDef, st: &TargetState, complete: bool) -> Verdict {
        let input = CheckInput {
            target: &self.target,
            evidence: &st.evidence,
            previous: &st.verdicts,
            now: SystemTime::now(),
        };
        let v = checks::evaluate(def, &input);
        if def.scans_cycle && !complete && v.status == Status::Pass {
            Verdict::from_judgement(
                def.id,
                Judgement::Error("cycle_incomplete"),
                self.target.fail_min_severity,
                Vec::new(),
            )
        } else {
            v
        }
    }

    /// Makes the runtime log each change of a verdict (the daemon's runtimes).
    #[must_use]
    pub fn logging_changes(mut self) -> Self {
        self.log_changes = true;
        self
    }

    /// A slot of `kind` was skipped (backoff): the cycle no longer waits for it.
    pub fn settle(&self, kind: ProbeKind) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.settled.insert(kind);
        drop(st);
        self.settled_changed.send_modify(|n| *n += 1);
    }

    /// Whether the health check passes on the newest health evidence (rate_limit's gate,
    /// CHECKS.md §12 step 1); evaluated here so it holds even when `health` is not reported.
    pub fn health_passes(&self) -> bool {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let input = CheckInput {
            target: &self.target,
            evidence: &st.evidence,
            previous: &st.verdicts,
            now: SystemTime::now(),
        };
        checks::evaluate(&checks::health::CHECK, &input).status == Status::Pass
    }

    /// Waits until the first health run is recorded.
    pub async fn health_recorded(&self) {
        let mut rx = self.health_seen.subscribe();
        let _ = rx.wait_for(|seen| *seen).await;
    }

    /// Takes over what a previous incarnation of this target (changed by a reload) knew: the
    /// newest run of each probe it still has and the verdicts of the checks it still has, so
    /// that checks re-evaluated by its first new runs judge a whole cycle, not the one probe
    /// that ran (a cors or exposed_paths verdict would drop to `error (no_evidence)`, and a
    /// cycle scan such as error_disclosure would pass on part of the cycle). The verdicts are
    /// judged again over the carried evidence with the new settings (checks are pure): a
    /// reload that changes `fail_min_severity`, `disable_evidence_metrics` or a check option
    /// shows at once, not after the next run of each probe (six hours for tls_versions).
    /// Returns the runs and verdicts taken.
    pub fn carry_over(&self, old: &TargetRuntime) -> (Vec<Arc<ProbeRun>>, Vec<Verdict>) {
        let (runs, verdicts) = old.snapshot_all();
        let runs: Vec<Arc<ProbeRun>> = runs
            .into_iter()
            .filter(|r| self.jobs.iter().any(|j| j.kind == r.kind))
            .collect();
        let verdicts: Vec<Verdict> = verdicts
            .into_iter()
            .filter(|v| self.target.has_check(v.check))
            .collect();
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for r in &runs {
            st.evidence.insert(Arc::clone(r));
            st.settled.insert(r.kind);
        }
        for v in &verdicts {
            st.verdicts.insert(v.check, v.clone());
        }
        // Every check whose inputs were all carried is judged now (a check the reload added
        // too); where an input's run was not carried, the old verdict stands until it runs.
        let due: Vec<&'static checks::CheckDef> = self
            .target
            .checks
            .iter()
            .copied()
            .filter(|def| def.inputs.iter().all(|k| st.evidence.run(*k).is_some()))
            .collect();
        let judged = self.judge_all(&mut st, due);
        let mut verdicts: Vec<Verdict> = verdicts
            .into_iter()
            .filter(|v| !judged.iter().any(|(j, _)| j.check == v.check))
            .collect();
        verdicts.extend(judged.into_iter().map(|(v, _)| v));
        drop(st);
        self.settled_changed.send_modify(|n| *n += 1);
        if runs.iter().any(|r| r.kind == ProbeKind::Health) {
            self.health_seen.send_replace(true);
        }
        for job in &self.jobs {
            if let Some(at) = old.last_start(job.kind) {
                self.note_start(job.kind, at);
            }
        }
        (runs, verdicts)
    }

    /// Every run and every verdict held, whatever the target's current checks.
    fn snapshot_all(&self) -> (Vec<Arc<ProbeRun>>, Vec<Verdict>) {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let runs = ProbeKind::ALL
            .iter()
            .filter_map(|k| st.evidence.run(*k).cloned())
            .collect();
        (runs, st.verdicts.values().cloned().collect())
    }

    /// Restores a verdict kept across a restart (the last rate-limit burst's), until a run
    /// replaces it.
    pub fn restore_verdict(&self, v: Verdict) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.verdicts.entry(v.check).or_insert(v);
    }

    /// Marks the checks that read `kinds` as skipped with `reason`, for probes that have no
    /// evidence (the `check` command's view of runs skipped during backoff).
    pub fn mark_skipped(&self, kinds: &[ProbeKind], reason: &'static str) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.settled.extend(kinds.iter().copied());
        // A check held at `cycle_incomplete` waited for these: judge it on what ran.
        let complete = self.cycle_complete(&st);
        let waiting: Vec<&'static checks::CheckDef> = self
            .target
            .checks
            .iter()
            .copied()
            .filter(|c| {
                st.verdicts
                    .get(c.id)
                    .is_some_and(|v| v.reason == Some("cycle_incomplete"))
            })
            .collect();
        for def in waiting {
            let verdict = self.judge(def, &st, complete);
            st.verdicts.insert(def.id, verdict);
        }
        for def in &self.target.checks {
            if def
                .inputs
                .iter()
                .any(|k| kinds.contains(k) && st.evidence.run(*k).is_none())
            {
                let v = Verdict::from_judgement(
                    def.id,
                    Judgement::Skipped(reason),
                    self.target.fail_min_severity,
                    Vec::new(),
                );
                st.verdicts.insert(def.id, v);
            }
        }
        drop(st);
        self.settled_changed.send_modify(|n| *n += 1);
    }

    /// The newest run of each probe and the latest verdict of each check, in registry order.
    pub fn snapshot(&self) -> (Vec<Arc<ProbeRun>>, Vec<Verdict>) {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let runs = ProbeKind::ALL
            .iter()
            .filter_map(|k| st.evidence.run(*k).cloned())
            .collect();
        let verdicts = self
            .target
            .checks
            .iter()
            .filter_map(|c| st.verdicts.get(c.id).cloned())
            .collect();
        (runs, verdicts)
    }
}

/// Runs one job once: the probe (cut at its timeout), then the checks that read it.
pub async fn execute(
    runner: &dyn Runner,
    rt: &TargetRuntime,
    job: JobSpec,
) -> (Arc<ProbeRun>, Vec<(Verdict, Duration)>) {
    let started_at = SystemTime::now();
    let t0 = Instant::now();
    let deadline = t0 + job.timeout;
    // The probe bounds every phase by the deadline; this is the backstop.
    let run = match timeout_at(
        deadline + Duration::from_secs(1),
        runner.run(job.kind, &rt.target, deadline),
    )
    .await
    {
        Ok(run) => run,
        Err(_) => probe::timed_out(job.kind, started_at, t0.elapsed()),
    };
    let run = Arc::new(run);
    let out = rt.record(Arc::clone(&run));
    (run, out)
}

/// The scheduler's current limits, replaced on reload; `/probe` runs take their permits from
/// the same ones, so an on-demand probe never adds a third run to a host.
pub type SharedLimits = Arc<RwLock<Arc<Limits>>>;

/// Concurrency limits: global and per host.
#[derive(Debug)]
pub struct Limits {
    global: Arc<Semaphore>,
    max_concurrency: usize,
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Permits held for the duration of one run.
#[derive(Debug)]
pub struct Permits {
    _host: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

impl Limits {
    /// Limits from settings.
    pub fn new(settings: &SchedulerSettings) -> Self {
        Limits {
            global: Arc::new(Semaphore::new(settings.max_concurrency)),
            max_concurrency: settings.max_concurrency,
            per_host: settings.per_host_concurrency,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for the host permits of a run of `kind` (one per request it keeps in flight, at
    /// most the per-host limit), then a global one (so a busy host never holds global slots).
    pub async fn acquire(&self, host: &str, kind: ProbeKind) -> Permits {
        let host_sem = {
            let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
            // Bounded: `/probe` on hosts a `*.domain` pattern allows adds entries between
            // reloads; an entry nobody holds or waits on (only the map's reference) is idle.
            if hosts.len() >= MAX_IDLE_HOSTS && !hosts.contains_key(host) {
                hosts.retain(|_, sem| Arc::strong_count(sem) > 1);
            }
            Arc::clone(
                hosts
                    .entry(host.to_owned())
                    .or_insert_with(|| Arc::new(Semaphore::new(self.per_host))),
            )
        };
        // The semaphores are never closed, so acquiring cannot fail.
        let per_run = kind
            .requests_in_flight()
            .min(u32::try_from(self.per_host).unwrap_or(u32::MAX))
            .max(1);
        let host = host_sem
            .acquire_many_owned(per_run)
            .await
            .expect("host semaphore is never closed");
        let global = Arc::clone(&self.global)
            .acquire_owned()
            .await
            .expect("global semaphore is never closed");
        Permits {
            _host: host,
            _global: global,
        }
    }

    /// Limits for new settings. Runs in flight (and runs already waiting) keep counting against
    /// the new limits, so a reload never lets more runs onto a host, or in all, than the larger
    /// of the old and the new limit: see [`carried_over`].
    fn rebuilt(&self, settings: &SchedulerSettings) -> Self {
        let (per_host, max_concurrency) = (settings.per_host_concurrency, settings.max_concurrency);
        let hosts = self
            .hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(host, sem)| (host.clone(), carried_over(sem, self.per_host, per_host)))
            .collect();
        Limits {
            global: carried_over(&self.global, self.max_concurrency, max_concurrency),
            max_concurrency,
            per_host,
            hosts: Mutex::new(hosts),
        }
    }

    /// Forgets hosts that are no longer configured.
    fn retain_hosts(&self, keep: &[&str]) {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts.retain(|h, _| keep.contains(&h.as_str()));
    }
}

/// Whether a changed target keeps what its previous incarnation knew: evidence of the same URL
/// (and pinned address) still describes it.
fn keeps_evidence(new: &Target, old: &Target) -> bool {
    new.url == old.url && new.resolve == old.resolve
}

/// The semaphore that replaces `old` (of `old_cap` permits) when the limit becomes `new_cap`.
/// The same one while the limit stays. Otherwise a new one, and while the old one still has
/// runs in flight or waiting (which finish under the old limit: a waiter may need more permits
/// than a smaller new limit has), the new one lends `min(old_cap, new_cap)` of its permits to
/// them until the old one drains: a raised limit then admits only the difference, a lowered one
/// nothing new, so the two together never exceed the larger limit.
fn carried_over(old: &Arc<Semaphore>, old_cap: usize, new_cap: usize) -> Arc<Semaphore> {
    if old_cap == new_cap {
        return Arc::clone(old);
    }
    let new = Arc::new(Semaphore::new(new_cap));
    if old.available_permits() < old_cap {
        let lent = u32::try_from(old_cap.min(new_cap)).unwrap_or(u32::MAX);
        let all_old = u32::try_from(old_cap).unwrap_or(u32::MAX);
        // A fresh semaphore has every permit, and neither is ever closed.
        if let (Ok(lent), Ok(handle)) = (
            Arc::clone(&new).try_acquire_many_owned(lent),
            tokio::runtime::Handle::try_current(),
        ) {
            let old = Arc::clone(old);
            handle.spawn(async move {
                let drained = old.acquire_many_owned(all_old).await;
                drop((drained, lent));
            });
        }
    }
    new
}

/// Host semaphores kept before idle ones are forgotten (an idle one is recreated on demand).
const MAX_IDLE_HOSTS: usize = 1024;

/// Readiness: every job of the first configuration has run once.
#[derive(Debug, Default)]
pub struct Readiness {
    pending: AtomicUsize,
    ready: AtomicBool,
}

impl Readiness {
    /// Whether `/-/ready` answers 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    fn expect(&self, jobs: usize) {
        self.pending.store(jobs, Ordering::Release);
        if jobs == 0 {
            self.ready.store(true, Ordering::Release);
        }
    }

    /// More jobs to wait for (a reload before readiness started them).
    fn add(&self, jobs: usize) {
        self.pending.fetch_add(jobs, Ordering::AcqRel);
    }

    fn job_done(&self) {
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.ready.store(true, Ordering::Release);
        }
    }
}

/// A stable 64-bit hash (FNV-1a), so first-run offsets and shard membership do not change
/// between releases.
pub(crate) fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The first run's offset from start: deterministic per (target, probe), uniform over
/// min(interval, spread).
pub fn first_offset(
    target: &str,
    kind: ProbeKind,
    interval: Duration,
    spread: Duration,
) -> Duration {
    // Whole milliseconds: the timer's resolution.
    let window = u64::try_from(interval.min(spread).as_millis()).unwrap_or(u64::MAX);
    if window == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(fnv1a(&[target.as_bytes(), kind.name().as_bytes()]) % window)
}

struct Shared {
    runner: Arc<dyn Runner>,
    exporter: Arc<Exporter>,
    limits: SharedLimits,
    /// One rate-limit burst at a time, all targets together (CHECKS.md §12 step 1).
    rate_limit_gate: Arc<Semaphore>,
    /// Bursts and backoffs remembered across restarts (`scheduler.state_file`).
    state: Option<Arc<StateFile>>,
}

impl Shared {
    fn limits(&self) -> Arc<Limits> {
        Arc::clone(&self.limits.read().unwrap_or_else(|e| e.into_inner()))
    }
}

struct Scheduled {
    runtime: Arc<TargetRuntime>,
    cancel: CancellationToken,
}

/// The live targets, in config order, for the status page and API.
pub type LiveTargets = Arc<RwLock<Vec<Arc<TargetRuntime>>>>;

/// The longest `serve` waits for in-flight probes after SIGTERM or SIGINT.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(25);

/// The scheduler of `serve`.
pub struct Scheduler {
    shared: Arc<Shared>,
    settings: SchedulerSettings,
    scheduled: BTreeMap<String, Scheduled>,
    live: LiveTargets,
    readiness: Arc<Readiness>,
    applied_once: bool,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    next_generation: u64,
    max_timeout: Duration,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("targets", &self.scheduled.len())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// A scheduler with no jobs.
    pub fn new(
        runner: Arc<dyn Runner>,
        exporter: Arc<Exporter>,
        settings: SchedulerSettings,
    ) -> Self {
        let limits = Arc::new(Limits::new(&settings));
        Scheduler {
            shared: Arc::new(Shared {
                runner,
                exporter,
                limits: Arc::new(RwLock::new(limits)),
                rate_limit_gate: Arc::new(Semaphore::new(1)),
                state: settings
                    .state_file
                    .as_deref()
                    .map(|p| Arc::new(StateFile::open(p))),
            }),
            settings,
            scheduled: BTreeMap::new(),
            live: Arc::new(RwLock::new(Vec::new())),
            readiness: Arc::new(Readiness::default()),
            applied_once: false,
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            next_generation: 1,
            max_timeout: Duration::ZERO,
        }
    }

    /// The limits every run takes its permits from (for `/probe`).
    pub fn limits(&self) -> SharedLimits {
        Arc::clone(&self.shared.limits)
    }

    /// Readiness shared with the server.
    pub fn readiness(&self) -> Arc<Readiness> {
        Arc::clone(&self.readiness)
    }

    /// Live targets shared with the server.
    pub fn live(&self) -> LiveTargets {
        Arc::clone(&self.live)
    }

    /// Applies a plan: jobs of removed or changed targets stop and their series go; new and
    /// changed targets start; unchanged targets keep running untouched.
    pub fn apply(&mut self, plan: &Plan) {
        let exporter = &self.shared.exporter;
        exporter.set_check_timing(plan.check_timing_metrics);
        if plan.scheduler.state_file != self.settings.state_file {
            tracing::warn!("scheduler.state_file changed: the new file is used after a restart");
        }
        if plan.scheduler != self.settings {
            // Running jobs pick the new limits up at their next run.
            let mut limits = self
                .shared
                .limits
                .write()
                .unwrap_or_else(|e| e.into_inner());
            *limits = Arc::new(limits.rebuilt(&plan.scheduler));
            drop(limits);
            self.settings = plan.scheduler.clone();
        }
        let wanted: HashMap<&str, &PlannedTarget> = plan
            .targets
            .iter()
            .map(|t| (t.target.name.as_str(), t))
            .collect();
        let stale: Vec<String> = self
            .scheduled
            .iter()
            .filter(|(name, s)| {
                wanted
                    .get(name.as_str())
                    .is_none_or(|p| p.fingerprint != s.runtime.fingerprint)
            })
            .map(|(name, _)| name.clone())
            .collect();
        // Until the daemon is ready, the jobs a reload starts (of new and changed targets) count
        // towards readiness too; counted before the stale jobs are cancelled, which count
        // themselves done, so readiness never passes through zero on the way.
        // A job that resumes a carried schedule (its target changed, its evidence kept) has
        // run already and does not count: it next runs an interval after its last start.
        let first_config = !self.applied_once;
        let counting = first_config || !self.readiness.is_ready();
        if counting && !first_config {
            let mut starting = 0;
            for t in &plan.targets {
                let name = t.target.name.as_str();
                match self.scheduled.get(name) {
                    None => starting += t.jobs.len(),
                    Some(s) if stale.iter().any(|n| n == name) => {
                        let carries = keeps_evidence(&t.target, &s.runtime.target);
                        starting += t
                            .jobs
                            .iter()
                            .filter(|j| !carries || s.runtime.last_start(j.kind).is_none())
                            .count();
                    }
                    Some(_) => {}
                }
            }
            self.readiness.add(starting);
        }
        // A changed target restarts with the backoff it was serving; its series stay until
        // its new runs replace them (the exporter keeps those it still has).
        let mut carried_backoff: HashMap<String, Instant> = HashMap::new();
        let mut previous: HashMap<String, Arc<TargetRuntime>> = HashMap::new();
        for name in stale {
            if let Some(s) = self.scheduled.remove(&name) {
                s.cancel.cancel();
                if let Some(p) = wanted.get(name.as_str()) {
                    if let Some(until) = s.runtime.backoff_until() {
                        carried_backoff.insert(name.clone(), until);
                    }
                    // Evidence of the same URL (and pinned address) still describes the
                    // target: the new jobs resume its schedule and its checks keep judging it.
                    if keeps_evidence(&p.target, &s.runtime.target) {
                        previous.insert(name.clone(), Arc::clone(&s.runtime));
                    }
                    tracing::info!(target_name = %name, "target changed: its jobs restart");
                } else {
                    exporter.remove_target(&name);
                    tracing::info!(target_name = %name, "target removed: its jobs stopped");
                }
            }
        }
        self.applied_once = true;
        let mut new_jobs = 0;
        let mut starts = Vec::new();
        for planned in &plan.targets {
            if self.scheduled.contains_key(&planned.target.name) {
                continue;
            }
            let generation = self.next_generation;
            self.next_generation += 1;
            let runtime = Arc::new(TargetRuntime::new(planned, generation).logging_changes());
            // A backoff the previous process was serving continues (CHECKS.md §0.5).
            if let Some(until) = self
                .shared
                .state
                .as_ref()
                .and_then(|s| s.backoff_until(&planned.target.name))
                && let Ok(left) = until.duration_since(SystemTime::now())
            {
                // Never longer than any backoff can be, whatever the file says.
                runtime.extend_backoff(Instant::now() + left.min(probes::safety::BACKOFF_MAX));
            }
            if let Some(until) = carried_backoff.get(&planned.target.name) {
                runtime.extend_backoff(*until);
            }
            exporter.add_target(&runtime.target, generation);
            if let Some(old) = previous.get(&planned.target.name) {
                let (runs, verdicts) = runtime.carry_over(old);
                for run in &runs {
                    let interval = runtime
                        .jobs
                        .iter()
                        .find(|j| j.kind == run.kind)
                        .map_or(run.kind.default_interval(), |j| j.interval);
                    exporter.record_probe(&runtime.target, generation, run, interval);
                }
                let verdicts: Vec<(Verdict, Duration)> =
                    verdicts.into_iter().map(|v| (v, Duration::ZERO)).collect();
                exporter.record_verdicts(&runtime.target, generation, &verdicts);
                exporter.set_backoff(&planned.target.name, generation, runtime.backoff_until());
            }
            // The last burst's verdict stands until the next burst (up to its interval away).
            if let Some(def) = runtime.target.checks.iter().find(|c| c.id == "rate_limit")
                && let Some(v) = self
                    .shared
                    .state
                    .as_ref()
                    .and_then(|s| s.rate_limit_verdict(&planned.target.name))
                    .and_then(|stored| stored.verdict(def))
            {
                runtime.restore_verdict(v.clone());
                exporter.record_verdicts(&runtime.target, generation, &[(v, Duration::ZERO)]);
            }
            // Not a child of `shutdown`: shutdown lets in-flight runs finish, removal cuts them.
            let cancel = CancellationToken::new();
            new_jobs += runtime.jobs.len();
            starts.push((Arc::clone(&runtime), cancel.clone()));
            self.scheduled
                .insert(planned.target.name.clone(), Scheduled { runtime, cancel });
        }
        if first_config {
            self.readiness.expect(new_jobs);
        }
        for (runtime, cancel) in starts {
            for job in runtime.jobs.clone() {
                self.max_timeout = self.max_timeout.max(job.timeout);
                let first = (counting && runtime.last_start(job.kind).is_none())
                    .then(|| Arc::clone(&self.readiness));
                let task = job_loop(
                    Arc::clone(&self.shared),
                    Arc::clone(&runtime),
                    job,
                    self.settings.initial_spread,
                    cancel.clone(),
                    self.shutdown.clone(),
                    first,
                );
                self.tracker.spawn(task);
            }
        }
        let hosts: Vec<&str> = plan
            .targets
            .iter()
            .map(|t| t.target.host.as_str())
            .collect();
        self.shared.limits().retain_hosts(&hosts);
        if let Some(state) = &self.shared.state {
            let names: Vec<&str> = plan
                .targets
                .iter()
                .map(|t| t.target.name.as_str())
                .collect();
            state.retain(&names, SystemTime::now());
        }
        let order: Vec<Arc<TargetRuntime>> = plan
            .targets
            .iter()
            .filter_map(|t| {
                self.scheduled
                    .get(&t.target.name)
                    .map(|s| Arc::clone(&s.runtime))
            })
            .collect();
        let jobs: usize = order.iter().map(|r| r.jobs.len()).sum();
        exporter.set_counts(order.len(), jobs);
        let kinds: std::collections::BTreeSet<ProbeKind> = order
            .iter()
            .flat_map(|r| r.jobs.iter().map(|j| j.kind))
            .collect();
        exporter.prepare_run_counters(kinds);
        *self.live.write().unwrap_or_else(|e| e.into_inner()) = order;
    }

    /// Stops scheduling and waits for in-flight runs (each bounded by its timeout).
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        self.tracker.close();
        // In-flight runs finish or are cut at their timeout, but never hold the process past
        // SHUTDOWN_GRACE: orchestrators kill it soon after (Kubernetes after 30 s).
        let grace = (self.max_timeout + Duration::from_secs(2)).min(SHUTDOWN_GRACE);
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("in-flight probes did not finish within {grace:?}");
        }
    }
}

async fn job_loop(
    shared: Arc<Shared>,
    rt: Arc<TargetRuntime>,
    job: JobSpec,
    spread: Duration,
    cancel: CancellationToken,
    shutdown: CancellationToken,
    first: Option<Arc<Readiness>>,
) {
    // Counts this job towards readiness once: after its first run, or when it ends before one
    // (its target was removed by a reload), so readiness never waits for a job that is gone.
    struct FirstRun(Option<Arc<Readiness>>);
    impl FirstRun {
        fn done(&mut self) {
            if let Some(r) = self.0.take() {
                r.job_done();
            }
        }
    }
    impl Drop for FirstRun {
        fn drop(&mut self) {
            self.done();
        }
    }
    let mut first = FirstRun(first);
    let name = rt.target.name.as_str();
    let mut next = Instant::now() + first_offset(name, job.kind, job.interval, spread);
    // A job of a target changed by a reload keeps its schedule: the next run falls one
    // interval after the last (a reload is no way around the active probes' floors, and a
    // config-management loop that reloads often must not turn into repeated sweeps).
    if let Some(last) = rt.last_start(job.kind) {
        next = (last + job.interval).max(Instant::now());
    }
    // A burst the previous process ran is not repeated before its interval is over.
    if job.kind == ProbeKind::RateLimit
        && let Some(last) = shared
            .state
            .as_ref()
            .and_then(|s| s.rate_limit_last_run(name))
        && let Some(due) = last.checked_add(job.interval)
        && let Ok(wait) = due.duration_since(SystemTime::now())
    {
        // A last run in the future (a clock that jumped back) waits one interval at most.
        let wait = wait.min(job.interval);
        tracing::info!(
            target_name = %name,
            next_in_seconds = wait.as_secs(),
            "rate_limit burst ran before the restart; the next one waits for its interval"
        );
        next = Instant::now() + wait;
        first.done();
    }
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            () = shutdown.cancelled() => return,
            () = sleep_until(next) => {}
        }
        let rate_limit_permit = match gate(&shared, &rt, job, &cancel, &shutdown).await {
            Gate::Stop => return,
            Gate::Skip(again) => {
                // A skipped slot was handled: readiness does not wait an hour of backoff, and
                // neither does a cycle-scanning check.
                first.done();
                rt.settle(job.kind);
                next = again;
                continue;
            }
            Gate::Go(permit) => permit,
        };
        let limits = shared.limits();
        let permits = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            () = shutdown.cancelled() => return,
            p = limits.acquire(&rt.target.host, job.kind) => p,
        };
        // A backoff may have started while this run waited for its permits.
        if !job.kind.runs_during_backoff() && rt.in_backoff() {
            drop(permits);
            first.done();
            rt.settle(job.kind);
            next = skip_for_backoff(&shared, &rt, job, next);
            continue;
        }
        shared
            .exporter
            .observe_lag(Instant::now().saturating_duration_since(next));
        let started = Instant::now();
        shared.exporter.in_flight(1);
        // Shutdown lets the run finish; removal of the target cuts it, and so does a backoff
        // that starts meanwhile (another probe's 429), for probes that must not run during one
        // (CHECKS.md §0.5): their checks keep their last verdict.
        let backoff_started = rt.backoff_started();
        let cut_by_backoff = async {
            if job.kind.runs_during_backoff() {
                std::future::pending::<()>().await;
            }
            backoff_started.await;
        };
        enum Ended {
            Removed,
            CutByBackoff,
            Done(Arc<ProbeRun>, Vec<(Verdict, Duration)>),
        }
        let ended = tokio::select! {
            biased;
            () = cancel.cancelled() => Ended::Removed,
            (run, verdicts) = execute(shared.runner.as_ref(), &rt, job) => Ended::Done(run, verdicts),
            () = cut_by_backoff => Ended::CutByBackoff,
        };
        shared.exporter.in_flight(-1);
        drop(permits);
        drop(rate_limit_permit);
        shared
            .exporter
            .set_backoff(name, rt.generation, rt.backoff_until());
        let (run, verdicts) = match ended {
            Ended::Removed => return,
            Ended::CutByBackoff => {
                tracing::info!(target_name = %name, probe = job.kind.name(), "run cut: the target went into backoff");
                first.done();
                rt.settle(job.kind);
                next = skip_for_backoff(&shared, &rt, job, next);
                continue;
            }
            Ended::Done(run, verdicts) => (run, verdicts),
        };
        // Only a run that finished counts for a reload's resumed schedule: one a reload cut
        // left no evidence, and its job must not wait a whole interval for the next.
        rt.note_start(job.kind, started);
        if job.kind == ProbeKind::RateLimit {
            rt.burst_completed();
        }
        if let Some(state) = &shared.state {
            if job.kind == ProbeKind::RateLimit {
                state.record_rate_limit_run(name, run.started_at);
                if let Some((v, _)) = verdicts.iter().find(|(v, _)| v.check == "rate_limit") {
                    state.record_rate_limit_verdict(name, v);
                }
            }
            if let Some(left) = rt
                .backoff_until()
                .and_then(|u| u.checked_duration_since(Instant::now()))
            {
                state.record_backoff(name, SystemTime::now() + left);
            }
        }
        shared.exporter.probe_finished(name, &run);
        shared
            .exporter
            .record_probe(&rt.target, rt.generation, &run, job.interval);
        shared
            .exporter
            .record_verdicts(&rt.target, rt.generation, &verdicts);
        first.done();
        next += job.interval;
        let now = Instant::now();
        if next <= now {
            let behind = now.duration_since(next).as_nanos();
            let missed =
                u64::try_from(behind / job.interval.as_nanos().max(1) + 1).unwrap_or(u64::MAX);
            shared
                .exporter
                .runs_skipped(name, job.kind, "overrun", missed);
            next += job
                .interval
                .saturating_mul(u32::try_from(missed).unwrap_or(u32::MAX));
        }
    }
}

/// Runs every job of a plan once (for `check`), within the plan's limits; returns the targets
/// with their evidence and verdicts.
///
/// The safety rules of `serve` hold: a run that falls due while its target is in backoff is
/// skipped without sending anything (its checks report `skipped (backoff)`), and rate_limit
/// runs last, one burst at a time, only after health has passed.
///
/// Each target's probes run in fixed phases ([`CHECK_PHASES`]), and backoff is read only
/// between phases, so one server gives the same report on every run: which probes were skipped
/// never depends on which response happened to arrive first.
pub async fn run_once(plan: &Plan, runner: Arc<dyn Runner>) -> Vec<Arc<TargetRuntime>> {
    run_once_within(plan, runner, Arc::new(Limits::new(&plan.scheduler)), None).await
}

/// [`run_once`] within given limits (`/probe` shares the scheduler's) and, when given, by a
/// deadline: each phase gets an equal share of what is left (a silent server cannot make the
/// first phase eat the time of the others), a run is cut a little before its share ends so that
/// its own timeout reports it, and a run that cannot get its permits or start in time is
/// recorded as timed out, so an on-demand answer still reports every probe.
pub async fn run_once_within(
    plan: &Plan,
    runner: Arc<dyn Runner>,
    limits: Arc<Limits>,
    deadline: Option<Instant>,
) -> Vec<Arc<TargetRuntime>> {
    let runtimes: Vec<Arc<TargetRuntime>> = plan
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| Arc::new(TargetRuntime::new(t, i as u64 + 1)))
        .collect();
    let mut set = tokio::task::JoinSet::new();
    for rt in &runtimes {
        let (rt, limits, runner) = (Arc::clone(rt), Arc::clone(&limits), Arc::clone(&runner));
        set.spawn(async move {
            let phases: Vec<Vec<JobSpec>> = CHECK_PHASES
                .iter()
                .map(|phase| {
                    rt.jobs
                        .iter()
                        .filter(|j| phase.contains(&j.kind))
                        .copied()
                        .collect::<Vec<_>>()
                })
                .filter(|jobs| !jobs.is_empty())
                .collect();
            let count = phases.len();
            for (i, jobs) in phases.into_iter().enumerate() {
                let deadline = deadline.map(|d| {
                    let now = Instant::now();
                    let share = u32::try_from(count - i).unwrap_or(1);
                    now + d.saturating_duration_since(now) / share
                });
                let backoff = rt.in_backoff();
                let runs = jobs.into_iter().map(|mut job| {
                    let (rt, limits, runner) = (&rt, &limits, &runner);
                    async move {
                        if backoff && !job.kind.runs_during_backoff() && sends_traffic(job.kind, rt)
                        {
                            rt.mark_skipped(&[job.kind], "backoff");
                            return;
                        }
                        let acquire = limits.acquire(&rt.target.host, job.kind);
                        let Some(deadline) = deadline else {
                            let _permits = acquire.await;
                            execute(runner.as_ref(), rt, job).await;
                            return;
                        };
                        let (started_at, t0) = (SystemTime::now(), Instant::now());
                        let permits = timeout_at(deadline, acquire).await.ok();
                        job.timeout = job.timeout.min(
                            deadline
                                .saturating_duration_since(Instant::now())
                                .saturating_sub(ON_DEMAND_MARGIN),
                        );
                        match permits {
                            // `execute`'s own backstop allows a second past the run's
                            // deadline; an on-demand answer must not pass the scrape's.
                            Some(_permits) if !job.timeout.is_zero() => {
                                let run = execute(runner.as_ref(), rt, job);
                                if timeout_at(deadline, run).await.is_err() {
                                    let run = probe::timed_out(job.kind, started_at, t0.elapsed());
                                    rt.record(Arc::new(run));
                                }
                            }
                            _ => {
                                let run = probe::timed_out(job.kind, started_at, t0.elapsed());
                                rt.record(Arc::new(run));
                            }
                        }
                    }
                });
                futures_join_all(runs).await;
            }
        });
    }
    while set.join_next().await.is_some() {}

    // The burst goes last, one at a time across targets, so that its 429 cannot silence the
    // target's other probes.
    let mut set = tokio::task::JoinSet::new();
    let gate = Arc::new(Semaphore::new(1));
    for rt in &runtimes {
        for job in rt
            .jobs
            .iter()
            .filter(|j| j.kind == ProbeKind::RateLimit)
            .copied()
        {
            let (rt, limits, runner, gate) = (
                Arc::clone(rt),
                Arc::clone(&limits),
                Arc::clone(&runner),
                Arc::clone(&gate),
            );
            set.spawn(async move {
                if !rt.health_passes() {
                    let run = probes::rate_limit::skipped_run(&rt.target, "health_failing");
                    rt.record(Arc::new(run));
                    return;
                }
                let _gate = gate.acquire_owned().await.ok();
                if rt.in_backoff() {
                    rt.mark_skipped(&[job.kind], "backoff");
                    return;
                }
                let _permits = limits.acquire(&rt.target.host, job.kind).await;
                execute(runner.as_ref(), &rt, job).await;
            });
        }
    }
    while set.join_next().await.is_some() {}
    runtimes
}

/// The order in which `check` runs a target's probes (rate_limit comes after all of them):
/// health and dns first (they run even in backoff), then the main fetch beside the TLS
/// handshakes, the version handshakes, and the active probes one at a time, each a request
/// sequence of its own.
pub const CHECK_PHASES: &[&[ProbeKind]] = &[
    &[ProbeKind::Health, ProbeKind::Dns],
    &[ProbeKind::Fetch, ProbeKind::Tls],
    &[ProbeKind::TlsVersions],
    &[ProbeKind::UnknownPath],
    &[ProbeKind::Cors],
    &[ProbeKind::Paths],
];

/// How much earlier than its share of an on-demand deadline a run is cut, so that the probe's
/// own timeout (with its evidence) ends it, not the backstop.
const ON_DEMAND_MARGIN: Duration = Duration::from_millis(100);

/// Whether `kind` would send anything to `rt`'s target: the TLS probes send nothing to a
/// plain-HTTP target (their checks say `not_https`, whatever the backoff).
fn sends_traffic(kind: ProbeKind, rt: &TargetRuntime) -> bool {
    !(matches!(kind, ProbeKind::Tls | ProbeKind::TlsVersions) && rt.target.url.scheme() != "https")
}

/// Runs futures concurrently and waits for all of them.
async fn futures_join_all<F: Future<Output = ()>>(futures: impl IntoIterator<Item = F>) {
    let mut pending: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    std::future::poll_fn(move |cx| {
        pending.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if pending.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

/// What a due run may do.
enum Gate {
    /// The job ends (target removed or shutdown).
    Stop,
    /// Skip this slot; the next attempt is at the given time.
    Skip(Instant),
    /// Run (holding the global rate-limit permit for a rate_limit job).
    Go(Option<OwnedSemaphorePermit>),
}

/// The rules a due run passes before it may start: backoff (CHECKS.md §0.5) for every probe
/// but health (and dns); for rate_limit also CHECKS.md §12 step 1: wait for the first health
/// result, run only while health passes (else record `skipped (health_failing)` and try again
/// after one health interval), one burst at a time globally.
async fn gate(
    shared: &Shared,
    rt: &TargetRuntime,
    job: JobSpec,
    cancel: &CancellationToken,
    shutdown: &CancellationToken,
) -> Gate {
    let due = Instant::now();
    if !job.kind.runs_during_backoff() && rt.in_backoff() {
        return Gate::Skip(skip_for_backoff(shared, rt, job, due));
    }
    if job.kind != ProbeKind::RateLimit {
        return Gate::Go(None);
    }
    tokio::select! {
        biased;
        () = cancel.cancelled() => return Gate::Stop,
        () = shutdown.cancelled() => return Gate::Stop,
        () = async { rt.health_recorded().await; rt.others_ran_once().await } => {}
    }
    if !rt.health_passes() {
        let run = Arc::new(probes::rate_limit::skipped_run(
            &rt.target,
            "health_failing",
        ));
        let verdicts = rt.record(run);
        shared
            .exporter
            .record_verdicts(&rt.target, rt.generation, &verdicts);
        shared
            .exporter
            .runs_skipped(&rt.target.name, job.kind, "health_failing", 1);
        let health = rt
            .jobs
            .iter()
            .find(|j| j.kind == ProbeKind::Health)
            .map_or(ProbeKind::Health.default_interval(), |j| j.interval);
        return Gate::Skip(Instant::now() + health);
    }
    let permit = tokio::select! {
        biased;
        () = cancel.cancelled() => return Gate::Stop,
        () = shutdown.cancelled() => return Gate::Stop,
        p = Arc::clone(&shared.rate_limit_gate).acquire_owned() => p.ok(),
    };
    if rt.in_backoff() {
        return Gate::Skip(skip_for_backoff(shared, rt, job, due));
    }
    Gate::Go(permit)
}

/// Counts a run skipped (or cut) for backoff and returns the job's next grid slot after `due`.
/// A rate-limit burst, whose interval is a day, is instead retried once shortly after the
/// backoff ends: another probe's 429 (a global limiter tripped by the path sweep) would
/// otherwise leave rate_limit without a verdict until tomorrow.
fn skip_for_backoff(shared: &Shared, rt: &TargetRuntime, job: JobSpec, due: Instant) -> Instant {
    shared
        .exporter
        .runs_skipped(&rt.target.name, job.kind, "backoff", 1);
    shared
        .exporter
        .set_backoff(&rt.target.name, rt.generation, rt.backoff_until());
    let mut next = due + job.interval;
    let now = Instant::now();
    while next <= now {
        next += job.interval;
    }
    if job.kind == ProbeKind::RateLimit
        && let Some(retry) = rt
            .backoff_until()
            .map(|u| u.max(now) + BURST_RETRY_AFTER_BACKOFF)
        && retry < next
        && rt.take_burst_retry()
    {
        tracing::info!(
            target_name = %rt.target.name,
            retry_in_seconds = retry.saturating_duration_since(now).as_secs(),
            "rate_limit burst retried once the backoff ends"
        );
        next = retry;
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hosts reached one after another (on-demand runs under a `*.domain` pattern) do not
    /// grow the semaphore map without bound, and a host whose permits are held keeps its
    /// semaphore, so the per-host limit still counts its runs.
    #[tokio::test]
    async fn idle_host_semaphores_are_forgotten_busy_ones_kept() {
        let limits = Limits::new(&SchedulerSettings::default());
        let held = limits.acquire("busy.example", ProbeKind::Health).await;
        for i in 0..3 * MAX_IDLE_HOSTS {
            drop(
                limits
                    .acquire(&format!("h{i}.example"), ProbeKind::Health)
                    .await,
            );
        }
        let hosts = limits.hosts.lock().unwrap();
        assert!(hosts.len() <= MAX_IDLE_HOSTS, "{}", hosts.len());
        let busy = hosts.get("busy.example").expect("a held host is kept");
        assert_eq!(busy.available_permits(), limits.per_host - 1);
        drop(hosts);
        drop(held);
    }

    fn settings(max_concurrency: usize, per_host_concurrency: usize) -> SchedulerSettings {
        SchedulerSettings {
            max_concurrency,
            per_host_concurrency,
            ..SchedulerSettings::default()
        }
    }

    fn host_sem(limits: &Limits, host: &str) -> Arc<Semaphore> {
        Arc::clone(&limits.hosts.lock().unwrap()[host])
    }

    /// A reload that lowers the per-host limit admits no new run on a host until the runs of the
    /// old limit are over; one that raises it admits only the difference; the global limit
    /// likewise. Before, a reload started from fresh semaphores and runs in flight counted for
    /// nothing: a third run on a host with a limit of 2.
    #[tokio::test]
    async fn a_reload_never_lets_more_runs_in_than_the_larger_limit() {
        let old = Limits::new(&settings(4, 2));
        let a = old.acquire("busy.example", ProbeKind::Health).await;
        let b = old.acquire("busy.example", ProbeKind::Health).await;
        let idle = old.acquire("idle.example", ProbeKind::Health).await;
        drop(idle);

        let lowered = old.rebuilt(&settings(2, 1));
        assert_eq!(host_sem(&lowered, "busy.example").available_permits(), 0);
        assert_eq!(host_sem(&lowered, "idle.example").available_permits(), 1);
        assert_eq!(
            lowered.global.available_permits(),
            0,
            "2 of 2 lent to old runs"
        );

        let raised = old.rebuilt(&settings(4, 3));
        assert!(
            Arc::ptr_eq(&raised.global, &old.global),
            "same limit, same semaphore"
        );
        assert_eq!(host_sem(&raised, "busy.example").available_permits(), 1);

        drop((a, b));
        // The lent permits come back once the old runs are over.
        let busy = host_sem(&lowered, "busy.example");
        drop(busy.acquire_many(1).await.unwrap());
        drop(
            Arc::clone(&lowered.global)
                .acquire_many_owned(2)
                .await
                .unwrap(),
        );
        drop(
            host_sem(&raised, "busy.example")
                .acquire_many(3)
                .await
                .unwrap(),
        );
    }

    #[test]
    fn check_phases_hold_every_probe_but_rate_limit_once() {
        let mut listed: Vec<ProbeKind> = CHECK_PHASES
            .iter()
            .flat_map(|p| p.iter().copied())
            .collect();
        let mut all: Vec<ProbeKind> = ProbeKind::ALL
            .iter()
            .copied()
            .filter(|k| *k != ProbeKind::RateLimit)
            .collect();
        listed.sort_by_key(|k| k.name());
        all.sort_by_key(|k| k.name());
        assert_eq!(listed, all);
    }

    #[test]
    fn offsets_are_deterministic_and_within_the_window() {
        let iv = Duration::from_secs(300);
        let spread = Duration::from_secs(60);
        let a = first_offset("shop", ProbeKind::Fetch, iv, spread);
        assert_eq!(a, first_offset("shop", ProbeKind::Fetch, iv, spread));
        assert!(a < spread);
        let health = first_offset("shop", ProbeKind::Health, Duration::from_secs(30), spread);
        assert!(health < Duration::from_secs(30));
        assert_eq!(
            first_offset("x", ProbeKind::Fetch, iv, Duration::ZERO),
            Duration::ZERO
        );
    }

    #[test]
    fn offsets_spread_over_the_window() {
        let spread = Duration::from_secs(60);
        let mut buckets = [0u32; 6];
        for i in 0..600 {
            let off = first_offset(
                &format!("target-{i}"),
                ProbeKind::Fetch,
                Duration::from_secs(300),
                spread,
            );
            buckets[(off.as_secs() / 10) as usize] += 1;
        }
        // 600 targets over six 10 s buckets: each bucket holds a fair share.
        for b in buckets {
            assert!((60..=140).contains(&b), "{buckets:?}");
        }
    }
}
