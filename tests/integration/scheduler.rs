//! The scheduler on virtual time (tokio's paused clock): spread, limits, no overlap, skipped
//! runs, reload semantics and shutdown. A fake runner stands in for the network.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use probes::evidence::ProbeRun;
use probes::probe::{self, ProbeKind};
use probes::target::Target;
use probes::tls::TlsClient;
use prodprobe::exporter::Exporter;
use prodprobe::plan::{self, Plan, PlanContext};
use prodprobe::reload::Reloader;
use prodprobe::scheduler::{BoxFuture, Runner, Scheduler, first_offset};
use tokio::time::{Instant, sleep};

use crate::support::{sample, write};

/// Records every run: when it started, and how many ran at once per host, per target and in all.
struct FakeRunner {
    t0: Instant,
    work: Duration,
    starts: Mutex<Vec<(String, ProbeKind, Duration)>>,
    running: Mutex<HashMap<String, usize>>,
    max: Mutex<HashMap<String, usize>>,
}

impl FakeRunner {
    fn new(work: Duration) -> Arc<Self> {
        Arc::new(FakeRunner {
            t0: Instant::now(),
            work,
            starts: Mutex::default(),
            running: Mutex::default(),
            max: Mutex::default(),
        })
    }

    fn enter(&self, key: String) {
        let mut running = self.running.lock().unwrap();
        let n = running.entry(key.clone()).or_default();
        *n += 1;
        let mut max = self.max.lock().unwrap();
        let m = max.entry(key).or_default();
        *m = (*m).max(*n);
    }

    fn leave(&self, key: &str) {
        *self.running.lock().unwrap().get_mut(key).unwrap() -= 1;
    }

    fn max(&self, key: &str) -> usize {
        self.max.lock().unwrap().get(key).copied().unwrap_or(0)
    }

    fn runs_of(&self, target: &str) -> usize {
        self.starts
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _, _)| t == target)
            .count()
    }
}

impl Runner for FakeRunner {
    fn run<'a>(
        &'a self,
        kind: ProbeKind,
        target: &'a Target,
        _deadline: Instant,
    ) -> BoxFuture<'a, ProbeRun> {
        Box::pin(async move {
            self.starts
                .lock()
                .unwrap()
                .push((target.name.clone(), kind, self.t0.elapsed()));
            let keys = [
                format!("host:{}", target.host),
                format!("target:{}:{}", target.name, kind.name()),
                "all".to_owned(),
            ];
            for k in &keys {
                self.enter(k.clone());
            }
            let requests = format!("requests:{}", target.host);
            for _ in 0..kind.requests_in_flight() {
                self.enter(requests.clone());
            }
            sleep(self.work).await;
            for k in &keys {
                self.leave(k);
            }
            for _ in 0..kind.requests_in_flight() {
                self.leave(&requests);
            }
            let mut run = probe::timed_out(kind, SystemTime::now(), self.work);
            run.success = true;
            run.reason = None;
            run
        })
    }
}

/// A scheduler over `runner` with `plan` applied, and its exporter.
fn started(plan: &Plan, runner: &Arc<FakeRunner>) -> (Scheduler, Arc<Exporter>) {
    let exporter = Arc::new(Exporter::new());
    let mut s = Scheduler::new(
        runner.clone(),
        Arc::clone(&exporter),
        plan.scheduler.clone(),
    );
    s.apply(plan);
    (s, exporter)
}

fn cx() -> PlanContext {
    PlanContext {
        public_tls: Arc::new(TlsClient::new(&[]).unwrap()),
    }
}

fn plan_from(dir: &Path, yaml: &str) -> Plan {
    let path = write(dir, "prodprobe.yaml", yaml);
    plan::load(&path, &cx()).unwrap_or_else(|e| panic!("{e:?}"))
}

fn health_targets(n: usize, host: impl Fn(usize) -> String, extra: &str) -> String {
    let mut y = format!("{extra}\ntargets:\n");
    for i in 0..n {
        y.push_str(&format!(
            "  - name: t{i}\n    url: https://{}/\n    checks: [health]\n    probes:\n      health: {{ interval: 10s, timeout: 9s }}\n",
            host(i)
        ));
    }
    y
}

#[tokio::test(start_paused = true)]
async fn first_runs_spread_deterministically_over_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut y = String::from("scheduler:\n  initial_spread: 60s\ntargets:\n");
    for i in 0..40 {
        y.push_str(&format!(
            "  - name: site-{i}\n    url: https://site-{i}.test/\n    checks: [hsts]\n"
        ));
    }
    let plan = plan_from(dir.path(), &y);
    let runner = FakeRunner::new(Duration::from_millis(10));
    let (_s, _) = started(&plan, &runner);
    sleep(Duration::from_secs(61)).await;
    let starts = runner.starts.lock().unwrap().clone();
    assert_eq!(
        starts.len(),
        40,
        "each fetch job ran exactly once within the first minute"
    );
    let mut seconds: Vec<u64> = Vec::new();
    for (name, kind, at) in &starts {
        let expected = first_offset(
            name,
            *kind,
            Duration::from_secs(300),
            Duration::from_secs(60),
        );
        assert_eq!(*at, expected, "{name} starts at its deterministic offset");
        assert!(*at < Duration::from_secs(60));
        seconds.push(at.as_secs());
    }
    seconds.sort_unstable();
    seconds.dedup();
    assert!(
        seconds.len() >= 20,
        "40 targets should not bunch up: {seconds:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn per_host_and_global_limits_hold() {
    let dir = tempfile::tempdir().unwrap();
    // Six targets on one host, all due at once.
    let plan = plan_from(
        dir.path(),
        &health_targets(
            6,
            |_| "same.test".into(),
            "scheduler:\n  initial_spread: 0s\n  per_host_concurrency: 2",
        ),
    );
    let runner = FakeRunner::new(Duration::from_secs(2));
    let (_s, _) = started(&plan, &runner);
    sleep(Duration::from_secs(9)).await;
    assert_eq!(runner.max("host:same.test"), 2);
    assert_eq!(runner.runs_of("t5"), 1, "queued runs still happen");

    // Six hosts, a global limit of three.
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_from(
        dir.path(),
        &health_targets(
            6,
            |i| format!("h{i}.test"),
            "scheduler:\n  initial_spread: 0s\n  max_concurrency: 3",
        ),
    );
    let runner = FakeRunner::new(Duration::from_secs(2));
    let (_s, _) = started(&plan, &runner);
    sleep(Duration::from_secs(9)).await;
    assert_eq!(runner.max("all"), 3);
}

/// CHECKS.md §0.5: ≤ 2 concurrent requests per target. A fetch run keeps two in flight (its
/// main chain and the plain-HTTP side), so it takes both host permits.
#[tokio::test(start_paused = true)]
async fn the_per_host_limit_counts_requests_in_flight_not_runs() {
    let dir = tempfile::tempdir().unwrap();
    let y = "scheduler:\n  initial_spread: 0s\n  per_host_concurrency: 2\ntargets:\n  - name: pages\n    url: https://same.test/\n    checks: [hsts]\n  - name: a\n    url: https://same.test/a\n    checks: [health]\n  - name: b\n    url: https://same.test/b\n    checks: [health]\n";
    let plan = plan_from(dir.path(), y);
    let runner = FakeRunner::new(Duration::from_secs(2));
    let (_s, _) = started(&plan, &runner);
    sleep(Duration::from_secs(9)).await;
    assert_eq!(runner.max("requests:same.test"), 2);
    for t in ["pages", "a", "b"] {
        assert_eq!(runner.runs_of(t), 1, "{t} still ran");
    }
}

/// A reload that changes only the global limit keeps the per-host semaphores: runs still in
/// flight count against the new limits, so a new target on the same host waits.
#[tokio::test(start_paused = true)]
async fn a_reload_of_the_limits_keeps_counting_runs_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let before = plan_from(
        dir.path(),
        &health_targets(
            2,
            |_| "same.test".into(),
            "scheduler:\n  initial_spread: 0s\n  per_host_concurrency: 2",
        ),
    );
    let runner = FakeRunner::new(Duration::from_secs(8));
    let (mut s, _) = started(&before, &runner);
    sleep(Duration::from_secs(1)).await;
    let after = plan_from(
        dir.path(),
        &health_targets(
            3,
            |_| "same.test".into(),
            "scheduler:\n  initial_spread: 0s\n  per_host_concurrency: 2\n  max_concurrency: 63",
        ),
    );
    s.apply(&after);
    sleep(Duration::from_secs(9)).await;
    assert_eq!(
        runner.runs_of("t2"),
        1,
        "the new target ran once the host was free"
    );
    assert_eq!(runner.max("host:same.test"), 2);
}

/// A reload that changes a target (here its health interval) restarts its jobs, but its series
/// stay until the new runs replace them: firing alerts must not resolve and fire again.
#[tokio::test(start_paused = true)]
async fn a_changed_target_keeps_its_series_across_the_reload() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = |interval: u32| {
        format!(
            "scheduler:\n  initial_spread: 0s\ntargets:\n  - name: t0\n    url: https://h.test/\n    checks: [health]\n    probes:\n      health: {{ interval: {interval}s, timeout: 9s }}\n"
        )
    };
    let runner = FakeRunner::new(Duration::from_secs(5));
    let exporter = Arc::new(Exporter::new());
    let before = plan_from(dir.path(), &yaml(10));
    let mut s = Scheduler::new(
        runner.clone(),
        Arc::clone(&exporter),
        before.scheduler.clone(),
    );
    s.apply(&before);
    sleep(Duration::from_secs(6)).await;
    let series = |text: &str| {
        (
            sample(
                text,
                "probe_success",
                &[("target", "t0"), ("probe", "health")],
            ),
            sample(
                text,
                "probe_check_success",
                &[("target", "t0"), ("check", "health")],
            ),
        )
    };
    assert!(series(&exporter.encode_text()).0.is_some());
    s.apply(&plan_from(dir.path(), &yaml(20)));
    // The restarted job's first run is still in flight: the last results are still exported.
    sleep(Duration::from_secs(1)).await;
    let (probe, check) = series(&exporter.encode_text());
    assert!(probe.is_some() && check.is_some(), "{probe:?} {check:?}");
}

#[tokio::test(start_paused = true)]
async fn a_changed_target_keeps_its_evidence_and_its_schedule_across_the_reload() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = |health: u32| {
        format!(
            "scheduler:\n  initial_spread: 0s\ntargets:\n  - name: t0\n    url: https://h.test/\n    checks: [health, cors]\n    probes:\n      health: {{ interval: {health}s, timeout: 9s }}\n      cors: {{ interval: 5m, timeout: 60s }}\n"
        )
    };
    let runner = FakeRunner::new(Duration::from_secs(1));
    let (mut s, exporter) = started(&plan_from(dir.path(), &yaml(10)), &runner);
    sleep(Duration::from_secs(30)).await;
    let cors_starts = || {
        runner
            .starts
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, k, _)| *k == ProbeKind::Cors)
            .map(|(_, _, at)| *at)
            .collect::<Vec<_>>()
    };
    assert_eq!(cors_starts().len(), 1);
    let live = s.live();
    let first_cors = |live: &prodprobe::scheduler::LiveTargets| {
        let rt = Arc::clone(&live.read().unwrap()[0]);
        let (runs, _) = rt.snapshot();
        runs.iter()
            .find(|r| r.kind == ProbeKind::Cors)
            .map(|r| r.started_at)
    };
    let before = first_cors(&live).expect("cors ran");

    // Only health's interval changes: the target restarts with the cors run it had, and the
    // cors job waits out its interval instead of sweeping again (CHECKS.md §0.5 floors).
    s.apply(&plan_from(dir.path(), &yaml(20)));
    sleep(Duration::from_secs(30)).await;
    assert_eq!(cors_starts().len(), 1, "{:?}", cors_starts());
    assert_eq!(
        first_cors(&s.live()),
        Some(before),
        "the cors evidence is carried over"
    );
    assert!(
        sample(
            &exporter.encode_text(),
            "probe_success",
            &[("target", "t0"), ("probe", "cors")]
        )
        .is_some()
    );
    sleep(Duration::from_secs(5 * 60)).await;
    let starts = cors_starts();
    assert_eq!(starts.len(), 2, "{starts:?}");
    let gap = starts[1] - starts[0];
    assert!(
        gap >= Duration::from_secs(299) && gap <= Duration::from_secs(301),
        "{gap:?}"
    );

    // A reload that cuts a run in flight: that run left no evidence, so its job does not
    // wait an interval counted from the cut start. (The fake cors run takes 1 s.)
    let before_cut = cors_starts().len();
    let next_due = starts[1] + Duration::from_secs(300);
    sleep(next_due.saturating_sub(runner.t0.elapsed()) + Duration::from_millis(500)).await;
    assert_eq!(cors_starts().len(), before_cut + 1, "cors is in flight now");
    s.apply(&plan_from(dir.path(), &yaml(30)));
    sleep(Duration::from_secs(2)).await;
    assert_eq!(cors_starts().len(), before_cut + 2, "{:?}", cors_starts());
    let starts = cors_starts();

    // A new URL is a new target: nothing is carried, its jobs start afresh.
    let moved = yaml(20).replace("https://h.test/", "https://other.test/");
    s.apply(&plan_from(dir.path(), &moved));
    sleep(Duration::from_secs(5)).await;
    assert_eq!(cors_starts().len(), starts.len() + 1);
}

#[tokio::test(start_paused = true)]
async fn a_job_never_overlaps_itself_and_missed_slots_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    // Two jobs share a host with one slot; each run takes 8 s of a 10 s interval, so each job
    // keeps missing its next slot while the other runs.
    let plan = plan_from(
        dir.path(),
        &health_targets(
            2,
            |_| "busy.test".into(),
            "scheduler:\n  initial_spread: 0s\n  per_host_concurrency: 1",
        ),
    );
    let runner = FakeRunner::new(Duration::from_secs(8));
    let (_s, exporter) = started(&plan, &runner);
    sleep(Duration::from_secs(60)).await;
    assert_eq!(runner.max("target:t0:health"), 1);
    assert_eq!(runner.max("target:t1:health"), 1);
    assert_eq!(runner.max("host:busy.test"), 1);
    let text = exporter.encode_text();
    let skipped = sample(
        &text,
        "prodprobe_skipped_runs_total",
        &[("probe", "health"), ("reason", "overrun")],
    )
    .unwrap_or(0.0);
    assert!(skipped >= 2.0, "{text}");
    // Over 60 s two 8 s runs cannot fit more than 7 times on one slot.
    assert!(runner.starts.lock().unwrap().len() <= 8);
}

#[tokio::test(start_paused = true)]
async fn a_bad_reload_keeps_the_old_jobs_and_a_good_one_drops_removed_series() {
    let dir = tempfile::tempdir().unwrap();
    let two = health_targets(
        2,
        |i| format!("h{i}.test"),
        "scheduler:\n  initial_spread: 0s",
    );
    let path = write(dir.path(), "prodprobe.yaml", &two);
    let plan = plan::load(&path, &cx()).unwrap();
    let runner = FakeRunner::new(Duration::from_millis(100));
    let exporter = Arc::new(Exporter::new());
    exporter.reloaded(true);
    let mut scheduler = Scheduler::new(
        runner.clone(),
        Arc::clone(&exporter),
        plan.scheduler.clone(),
    );
    scheduler.apply(&plan);
    let mut reloader = Reloader {
        path: path.clone(),
        cx: cx(),
        shard: prodprobe::shard::Shard::ALL,
        scheduler,
        exporter: Arc::clone(&exporter),
        current: prodprobe::reload::shared(plan),
    };
    sleep(Duration::from_secs(15)).await;
    let text = exporter.encode_text();
    assert_eq!(
        sample(&text, "probe_success", &[("target", "t1")]),
        Some(1.0),
        "{text}"
    );

    // Broken file: rejected, old jobs go on.
    std::fs::write(&path, "targets:\n  - name: t0\n    url: nope\n").unwrap();
    let err = reloader.reload().unwrap_err();
    assert!(err.contains("invalid URL"), "{err}");
    let text = exporter.encode_text();
    assert_eq!(
        sample(&text, "prodprobe_config_last_reload_successful", &[]),
        Some(0.0)
    );
    let before = (runner.runs_of("t0"), runner.runs_of("t1"));
    sleep(Duration::from_secs(20)).await;
    assert!(runner.runs_of("t0") >= before.0 + 2 && runner.runs_of("t1") >= before.1 + 2);

    // Good file without t1: its series go at once, its job stops, t0 keeps its schedule.
    std::fs::write(
        &path,
        health_targets(
            1,
            |i| format!("h{i}.test"),
            "scheduler:\n  initial_spread: 0s",
        ),
    )
    .unwrap();
    reloader.reload().unwrap();
    let text = exporter.encode_text();
    assert_eq!(
        sample(&text, "prodprobe_config_last_reload_successful", &[]),
        Some(1.0)
    );
    assert!(!text.contains("target=\"t1\""), "{text}");
    assert!(text.contains("target=\"t0\""));
    let t1_runs = runner.runs_of("t1");
    let t0_runs = runner.runs_of("t0");
    sleep(Duration::from_secs(20)).await;
    assert_eq!(runner.runs_of("t1"), t1_runs);
    assert_eq!(
        runner.runs_of("t0"),
        t0_runs + 2,
        "t0 continues on its 10 s grid without a restart"
    );
}

/// A run that would take minutes (a path sweep's timeout is 10 min) does not hold the
/// process after SIGTERM for longer than the shutdown grace: orchestrators kill it soon after.
#[tokio::test(start_paused = true)]
async fn shutdown_waits_for_in_flight_runs_at_most_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_from(
        dir.path(),
        "scheduler:\n  initial_spread: 0s\ntargets:\n  - name: slow\n    url: https://slow.test/\n    checks: [exposed_paths]\n",
    );
    let runner = FakeRunner::new(Duration::from_secs(300));
    let (s, _) = started(&plan, &runner);
    sleep(Duration::from_secs(1)).await;
    assert!(runner.runs_of("slow") >= 1);
    let t0 = Instant::now();
    s.shutdown().await;
    assert_eq!(t0.elapsed(), prodprobe::scheduler::SHUTDOWN_GRACE);
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_in_flight_runs_finish_and_starts_nothing_new() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_from(
        dir.path(),
        &health_targets(1, |_| "h.test".into(), "scheduler:\n  initial_spread: 0s"),
    );
    let runner = FakeRunner::new(Duration::from_secs(5));
    let (s, exporter) = started(&plan, &runner);
    sleep(Duration::from_secs(1)).await;
    assert_eq!(runner.runs_of("t0"), 1);
    s.shutdown().await;
    // The run that was in flight finished and was recorded.
    assert_eq!(
        sample(
            &exporter.encode_text(),
            "probe_success",
            &[("target", "t0")]
        ),
        Some(1.0)
    );
    sleep(Duration::from_secs(30)).await;
    assert_eq!(runner.runs_of("t0"), 1);
}

/// A reload that changes a target before the daemon is ready: the cancelled jobs no longer
/// count, the restarted ones do, so `/-/ready` waits for them instead of turning 200 with no
/// result at all.
#[tokio::test(start_paused = true)]
async fn a_reload_before_readiness_waits_for_the_restarted_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = |interval: u32| {
        format!(
            "scheduler:\n  initial_spread: 0s\ntargets:\n  - name: t0\n    url: https://h.test/\n    checks: [health]\n    probes:\n      health: {{ interval: {interval}s, timeout: 9s }}\n"
        )
    };
    let runner = FakeRunner::new(Duration::from_secs(5));
    let mut s = Scheduler::new(
        runner.clone(),
        Arc::new(Exporter::new()),
        plan_from(dir.path(), &yaml(10)).scheduler.clone(),
    );
    let ready = s.readiness();
    s.apply(&plan_from(dir.path(), &yaml(10)));
    sleep(Duration::from_secs(1)).await;
    s.apply(&plan_from(dir.path(), &yaml(20)));
    sleep(Duration::from_secs(1)).await;
    assert!(!ready.is_ready(), "the restarted job has not run yet");
    sleep(Duration::from_secs(5)).await;
    assert!(ready.is_ready());
}

/// A reload before readiness that changes a target which already ran: its jobs resume their
/// carried schedule (next run an interval after the last), so they do not hold `/-/ready` for
/// that interval; readiness waits only for the jobs that have not run.
#[tokio::test(start_paused = true)]
async fn a_reload_before_readiness_does_not_wait_for_resumed_jobs() {
    let spread = Duration::from_secs(3600);
    let offset = |name: &str| first_offset(name, ProbeKind::Health, spread, spread);
    // Deterministic names: one that runs at once, one whose first run comes much later.
    let early = (0..1000)
        .map(|i| format!("early{i}"))
        .find(|n| offset(n) < Duration::from_secs(10))
        .unwrap();
    let late = (0..1000)
        .map(|i| format!("late{i}"))
        .find(|n| offset(n) > Duration::from_secs(600) && offset(n) < Duration::from_secs(1200))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let yaml = |label: &str| {
        format!(
            "scheduler:\n  initial_spread: 1h\ntargets:\n  - name: {early}\n    url: https://a.test/\n    labels: {{ team: {label} }}\n    checks: [health]\n    probes:\n      health: {{ interval: 1h, timeout: 9s }}\n  - name: {late}\n    url: https://b.test/\n    checks: [health]\n    probes:\n      health: {{ interval: 1h, timeout: 9s }}\n"
        )
    };
    let runner = FakeRunner::new(Duration::from_secs(1));
    let mut s = Scheduler::new(
        runner.clone(),
        Arc::new(Exporter::new()),
        plan_from(dir.path(), &yaml("a")).scheduler.clone(),
    );
    let ready = s.readiness();
    s.apply(&plan_from(dir.path(), &yaml("a")));
    sleep(Duration::from_secs(20)).await;
    assert_eq!(runner.runs_of(&early), 1);
    s.apply(&plan_from(dir.path(), &yaml("b")));
    sleep(offset(&late) + Duration::from_secs(5)).await;
    assert_eq!(runner.runs_of(&late), 1);
    assert_eq!(runner.runs_of(&early), 1, "resumed, not re-run");
    assert!(ready.is_ready(), "every job has run once");
}

#[tokio::test(start_paused = true)]
async fn readiness_waits_for_every_first_run() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_from(
        dir.path(),
        &health_targets(
            3,
            |i| format!("h{i}.test"),
            "scheduler:\n  initial_spread: 10s",
        ),
    );
    let runner = FakeRunner::new(Duration::from_millis(10));
    let mut s = Scheduler::new(
        runner.clone(),
        Arc::new(Exporter::new()),
        plan.scheduler.clone(),
    );
    let ready = s.readiness();
    s.apply(&plan);
    assert!(!ready.is_ready());
    sleep(Duration::from_secs(11)).await;
    assert!(ready.is_ready());
    assert_eq!(runner.starts.lock().unwrap().len(), 3);
}

/// A reload that changes how a target is judged (not where it is probed) shows at once: the
/// carried evidence is judged again with the new settings, instead of the old verdict and
/// its evidence gauges standing until each probe's next run (hours, for some probes).
#[tokio::test(flavor = "multi_thread")]
async fn a_reload_judges_carried_evidence_with_the_new_settings() {
    use crate::support::{Resp, TestServer};
    use prodprobe::scheduler::EngineRunner;

    let srv = TestServer::http("127.0.0.1", |_| {
        Resp::new(200)
            .header("Content-Type", "application/health+json")
            .body(r#"{"status":"warn"}"#)
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = |checks: &str, extra: &str| {
        format!(
            "scheduler:\n  initial_spread: 0s\ntargets:\n  - name: t0\n    url: {}\n    checks: [{checks}]\n    probes:\n      health: {{ interval: 1h, timeout: 5s }}\n      fetch: {{ interval: 1h, timeout: 5s }}\n{extra}",
            srv.url("http", "/")
        )
    };
    let runner = Arc::new(EngineRunner {
        engine: Arc::new(crate::support::engine()),
    });
    let exporter = Arc::new(Exporter::new());
    let before = plan_from(dir.path(), &yaml("health, hsts", ""));
    let mut s = Scheduler::new(runner, Arc::clone(&exporter), before.scheduler.clone());
    s.apply(&before);
    let check = |text: &str| {
        sample(
            text,
            "probe_check_success",
            &[("target", "t0"), ("check", "health")],
        )
    };
    let hsts = |text: &str| {
        sample(
            text,
            "probe_check_success",
            &[("target", "t0"), ("check", "hsts")],
        )
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while check(&exporter.encode_text()).is_none() || hsts(&exporter.encode_text()).is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "no health or hsts verdict"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let requests = srv.count();
    let text = exporter.encode_text();
    assert_eq!(
        check(&text),
        Some(0.0),
        "degraded (low) fails at low: {text}"
    );
    assert!(text.contains("probe_health_up{"), "{text}");

    // Only the judging changes: the evidence is carried, no new run is due for an hour. A
    // check the reload adds over carried evidence (server_disclosure reads fetch) is judged
    // at once too.
    s.apply(&plan_from(
        dir.path(),
        &yaml(
            "health, hsts, server_disclosure",
            "    fail_min_severity: medium\n    disable_evidence_metrics: [health]\n",
        ),
    ));
    let text = exporter.encode_text();
    assert_eq!(check(&text), Some(1.0), "{text}");
    assert!(!text.contains("probe_health_up{"), "{text}");
    assert!(
        sample(
            &text,
            "probe_check_evaluated",
            &[("target", "t0"), ("check", "server_disclosure")]
        )
        .is_some(),
        "{text}"
    );
    assert_eq!(srv.count(), requests, "judged again without a new request");
}
