//! Safety rules enforced by the scheduler, on tokio's paused clock (CHECKS.md §0.5, §12
//! step 1): a 429 or a 503 with Retry-After anywhere puts the target in backoff (only health
//! runs; skipped runs are counted; `probe_backoff_active` shows it), and the rate-limit burst
//! waits for health, is skipped while health fails, and runs one at a time globally. A
//! scripted runner stands in for the network.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use probes::cors::{CorsEvidence, CorsPath, CorsProbe, Variant};
use probes::evidence::{Evidence, Exchange, HealthEvidence, ProbeRun};
use probes::probe::ProbeKind;
use probes::rate_limit::{Attempt, RateLimitEvidence, Stop};
use probes::target::Target;
use probes::tls::TlsClient;
use probes::verdict::Status;
use prodprobe::exporter::Exporter;
use prodprobe::plan::{self, Plan, PlanContext};
use prodprobe::scheduler::{BoxFuture, Runner, Scheduler};
use tokio::time::{Instant, sleep};
use url::Url;

use crate::support::{sample, write};

fn exchange(status: u16, headers: &[(&'static str, &str)]) -> Exchange {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(
            HeaderName::from_static(k),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    Exchange {
        method: http::Method::GET,
        url: Url::parse("https://shop.test/").unwrap(),
        remote: None,
        version: http::Version::HTTP_11,
        status,
        headers: map,
        invalid_lines: Vec::new(),
        body: Bytes::new(),
        body_truncated: false,
        body_timed_out: false,
        timings: Default::default(),
        tls: None,
        credentials_sent: false,
        html: None,
    }
}

/// Answers each probe from a script and logs (target, probe, start, end) on virtual time.
struct Scripted {
    t0: Instant,
    health_ok: AtomicBool,
    health_work: Duration,
    rate_limit_work: Duration,
    tls_work: Duration,
    /// The status (and Retry-After) of the cors probe's one response.
    cors: (u16, Option<&'static str>),
    log: Mutex<Vec<(String, ProbeKind, Duration, Duration)>>,
    rate_limit_running: AtomicUsize,
    rate_limit_max: AtomicUsize,
}

impl Scripted {
    fn new(cors: (u16, Option<&'static str>)) -> Arc<Self> {
        Arc::new(Scripted {
            t0: Instant::now(),
            health_ok: AtomicBool::new(true),
            health_work: Duration::from_millis(10),
            rate_limit_work: Duration::from_millis(10),
            tls_work: Duration::from_millis(10),
            cors,
            log: Mutex::default(),
            rate_limit_running: AtomicUsize::new(0),
            rate_limit_max: AtomicUsize::new(0),
        })
    }

    /// Start times (seconds since t0) of `kind` runs of `target`.
    fn starts(&self, target: &str, kind: ProbeKind) -> Vec<f64> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, k, _, _)| t == target && *k == kind)
            .map(|(_, _, s, _)| s.as_secs_f64())
            .collect()
    }

    fn ends(&self, target: &str, kind: ProbeKind) -> Vec<f64> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, k, _, _)| t == target && *k == kind)
            .map(|(_, _, _, e)| e.as_secs_f64())
            .collect()
    }
}

impl Runner for Scripted {
    fn run<'a>(
        &'a self,
        kind: ProbeKind,
        target: &'a Target,
        _deadline: Instant,
    ) -> BoxFuture<'a, ProbeRun> {
        Box::pin(async move {
            let start = self.t0.elapsed();
            let work = match kind {
                ProbeKind::Health => self.health_work,
                ProbeKind::RateLimit => {
                    let n = self.rate_limit_running.fetch_add(1, Ordering::SeqCst) + 1;
                    self.rate_limit_max.fetch_max(n, Ordering::SeqCst);
                    self.rate_limit_work
                }
                ProbeKind::Tls => self.tls_work,
                _ => Duration::from_millis(10),
            };
            sleep(work).await;
            let evidence = match kind {
                ProbeKind::Health => {
                    let status = if self.health_ok.load(Ordering::SeqCst) {
                        200
                    } else {
                        503
                    };
                    Evidence::Health(HealthEvidence {
                        url: target.url.clone(),
                        outcome: Ok(exchange(status, &[])),
                        // Within the latency budget, however long the scripted run takes.
                        latency: Duration::from_millis(10),
                    })
                }
                ProbeKind::Cors => {
                    let (status, retry) = self.cors;
                    let headers: Vec<(&'static str, &str)> =
                        retry.map(|r| ("retry-after", r)).into_iter().collect();
                    Evidence::Cors(CorsEvidence {
                        paths: vec![CorsPath {
                            url: target.url.clone(),
                            probes: vec![CorsProbe {
                                variant: Variant::Baseline,
                                origin: None,
                                request_header: None,
                                outcome: Ok(exchange(status, &headers)),
                            }],
                        }],
                        requests: 1,
                        stopped: None,
                    })
                }
                ProbeKind::RateLimit => {
                    self.rate_limit_running.fetch_sub(1, Ordering::SeqCst);
                    Evidence::RateLimit(Box::new(RateLimitEvidence {
                        skipped: None,
                        url: target.url.clone(),
                        method: http::Method::GET,
                        planned: 2,
                        attempts: vec![
                            Attempt {
                                at: Duration::ZERO,
                                status: Some(200),
                                latency: work,
                            },
                            Attempt {
                                at: work,
                                status: Some(200),
                                latency: work,
                            },
                        ],
                        requests: 2,
                        first: Some(exchange(200, &[])),
                        last: Some(exchange(200, &[])),
                        failure: None,
                        first_limited: None,
                        stop: Stop::Completed,
                        elapsed: work,
                        finished_at: SystemTime::now(),
                    }))
                }
                _ => Evidence::TimedOut,
            };
            self.log
                .lock()
                .unwrap()
                .push((target.name.clone(), kind, start, self.t0.elapsed()));
            ProbeRun {
                kind,
                started_at: SystemTime::now(),
                duration: work,
                success: true,
                reason: None,
                evidence,
                measurements: Vec::new(),
            }
        })
    }
}

fn plan_from(dir: &Path, yaml: &str) -> Plan {
    let path = write(dir, "prodprobe.yaml", yaml);
    let cx = PlanContext {
        public_tls: Arc::new(TlsClient::new(&[]).unwrap()),
    };
    plan::load(&path, &cx).unwrap_or_else(|e| panic!("{e:?}"))
}

fn scheduler(plan: &Plan, runner: Arc<Scripted>) -> (Scheduler, Arc<Exporter>) {
    let exporter = Arc::new(Exporter::new());
    let mut s = Scheduler::new(runner, Arc::clone(&exporter), plan.scheduler.clone());
    s.apply(plan);
    (s, exporter)
}

/// `probe_backoff_active{target="shop"}` in a scrape.
fn backoff_active(text: &str) -> Option<f64> {
    sample(text, "probe_backoff_active", &[("target", "shop")])
}

fn in_window(starts: &[f64], from: f64, to: f64) -> usize {
    starts.iter().filter(|s| **s > from && **s < to).count()
}

fn check_lines(text: &str, check: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("probe_check_") && l.contains(&format!("check=\"{check}\"")))
        .map(str::to_owned)
        .collect()
}

const BACKOFF_TARGET: &str = "scheduler:\n  initial_spread: 0s\ntargets:\n  - name: shop\n    url: https://shop.test/\n    checks: [https_redirect, health, cors]\n    probes:\n      health: { interval: 10s, timeout: 5s }\n      fetch: { interval: 30s, timeout: 20s }\n      cors: { interval: 5m, timeout: 1m }\n";

/// A reload that changes the target while it is in backoff restarts its jobs under the same
/// backoff: a config edit is no reason to ignore the server's Retry-After.
#[tokio::test(start_paused = true)]
async fn a_reload_of_a_target_in_backoff_keeps_the_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_from(dir.path(), BACKOFF_TARGET);
    let runner = Scripted::new((429, Some("600")));
    let (mut s, exporter) = scheduler(&plan, Arc::clone(&runner));
    sleep(Duration::from_secs(1)).await;
    assert_eq!(backoff_active(&exporter.encode_text()), Some(1.0));
    let fetch_before = runner.starts("shop", ProbeKind::Fetch).len();
    let cors_before = runner.starts("shop", ProbeKind::Cors).len();
    // Another fetch interval: the target's fingerprint changes and its jobs restart.
    let changed = plan_from(
        dir.path(),
        &BACKOFF_TARGET.replace("fetch: { interval: 30s", "fetch: { interval: 45s"),
    );
    s.apply(&changed);
    sleep(Duration::from_secs(100)).await;
    assert_eq!(backoff_active(&exporter.encode_text()), Some(1.0));
    assert_eq!(runner.starts("shop", ProbeKind::Fetch).len(), fetch_before);
    assert_eq!(runner.starts("shop", ProbeKind::Cors).len(), cors_before);
    assert!(in_window(&runner.starts("shop", ProbeKind::Health), 1.0, 101.0) >= 5);
}

#[tokio::test(start_paused = true)]
async fn a_429_puts_the_target_in_backoff_and_only_health_runs() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_from(dir.path(), BACKOFF_TARGET);
    let runner = Scripted::new((429, Some("120")));
    let (_s, exporter) = scheduler(&plan, Arc::clone(&runner));
    sleep(Duration::from_secs(1)).await;
    assert_eq!(runner.starts("shop", ProbeKind::Cors).len(), 1);
    let before = exporter.encode_text();
    assert_eq!(backoff_active(&before), Some(1.0), "{before}");

    sleep(Duration::from_secs(99)).await;
    let text = exporter.encode_text();
    // No fetch run in (1 s, 100 s): its slots at 30, 60 and 90 s were skipped and counted.
    assert_eq!(
        in_window(&runner.starts("shop", ProbeKind::Fetch), 1.0, 100.0),
        0
    );
    let skipped = sample(
        &text,
        "prodprobe_skipped_runs_total",
        &[("probe", "fetch"), ("reason", "backoff")],
    )
    .unwrap_or(0.0);
    assert!(skipped >= 3.0, "{text}");
    // Health kept its 10 s rhythm.
    assert!(in_window(&runner.starts("shop", ProbeKind::Health), 1.0, 100.0) >= 9);
    assert_eq!(backoff_active(&text), Some(1.0));
    // The skipped check kept its last verdict and metrics unchanged.
    assert_eq!(
        check_lines(&before, "https_redirect"),
        check_lines(&text, "https_redirect")
    );

    // min(Retry-After, 1 h) = 120 s later the target leaves backoff and fetch runs again.
    sleep(Duration::from_secs(100)).await;
    let text = exporter.encode_text();
    assert_eq!(backoff_active(&text), Some(0.0));
    let fetch = runner.starts("shop", ProbeKind::Fetch);
    assert!(in_window(&fetch, 120.0, 200.0) >= 1, "{fetch:?}");
}

#[tokio::test(start_paused = true)]
async fn a_503_without_retry_after_is_no_backoff_and_one_with_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_from(dir.path(), BACKOFF_TARGET);
    let runner = Scripted::new((503, None));
    let (_s, exporter) = scheduler(&plan, Arc::clone(&runner));
    sleep(Duration::from_secs(65)).await;
    assert_eq!(backoff_active(&exporter.encode_text()), Some(0.0));
    assert!(in_window(&runner.starts("shop", ProbeKind::Fetch), 1.0, 65.0) >= 2);

    let dir = tempfile::tempdir().unwrap();
    let plan = plan_from(dir.path(), BACKOFF_TARGET);
    // An unparseable Retry-After: backoff for the default 60 s.
    let runner = Scripted::new((503, Some("later")));
    let (_s, exporter) = scheduler(&plan, Arc::clone(&runner));
    sleep(Duration::from_secs(55)).await;
    assert_eq!(backoff_active(&exporter.encode_text()), Some(1.0));
    assert_eq!(
        in_window(&runner.starts("shop", ProbeKind::Fetch), 1.0, 55.0),
        0
    );
    sleep(Duration::from_secs(40)).await;
    assert_eq!(backoff_active(&exporter.encode_text()), Some(0.0));
    assert!(in_window(&runner.starts("shop", ProbeKind::Fetch), 60.0, 95.0) >= 1);
}

#[test]
fn backoff_durations() {
    use probes::backoff::duration_for;
    let now = SystemTime::now();
    let d = |status, h: &[(&'static str, &str)]| duration_for(&exchange(status, h), now);
    assert_eq!(d(429, &[]), Some(Duration::from_secs(60)));
    assert_eq!(
        d(429, &[("retry-after", "30")]),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        d(429, &[("retry-after", "7200")]),
        Some(Duration::from_secs(3600))
    );
    assert_eq!(
        d(429, &[("retry-after", "soon")]),
        Some(Duration::from_secs(60))
    );
    assert_eq!(d(503, &[]), None);
    assert_eq!(
        d(503, &[("retry-after", "10")]),
        Some(Duration::from_secs(10))
    );
    assert_eq!(
        d(
            503,
            &[
                ("date", "Sun, 06 Nov 1994 08:49:37 GMT"),
                ("retry-after", "Sun, 06 Nov 1994 08:51:37 GMT")
            ]
        ),
        Some(Duration::from_secs(120))
    );
    assert_eq!(d(500, &[("retry-after", "10")]), None);
    assert_eq!(d(200, &[]), None);
}

const RATE_LIMITED: &str = "    checks: [health, rate_limit]\n    probes:\n      health: { interval: 10s, timeout: 5s }\n      rate_limit: { interval: 1h, timeout: 90s }\n";

fn rate_limited_targets(n: usize) -> String {
    let mut y = String::from("scheduler:\n  initial_spread: 0s\ntargets:\n");
    for i in 0..n {
        y.push_str(&format!(
            "  - name: t{i}\n    url: https://h{i}.test/\n{RATE_LIMITED}"
        ));
    }
    y
}

#[tokio::test(start_paused = true)]
async fn the_burst_waits_for_the_first_health_result() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_from(dir.path(), &rate_limited_targets(1));
    let mut r = Scripted::new((200, None));
    Arc::get_mut(&mut r).unwrap().health_work = Duration::from_secs(5);
    let (_s, _) = scheduler(&plan, Arc::clone(&r));
    sleep(Duration::from_secs(8)).await;
    let health_end = r.ends("t0", ProbeKind::Health)[0];
    let burst = r.starts("t0", ProbeKind::RateLimit);
    assert_eq!(burst.len(), 1);
    assert!(
        burst[0] >= health_end,
        "burst at {burst:?}, health ended at {health_end}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_burst_is_skipped_while_health_fails_and_retried_after_one_health_interval() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_from(dir.path(), &rate_limited_targets(1));
    let r = Scripted::new((200, None));
    r.health_ok.store(false, Ordering::SeqCst);
    let (s, exporter) = scheduler(&plan, Arc::clone(&r));
    sleep(Duration::from_secs(35)).await;
    assert!(
        r.starts("t0", ProbeKind::RateLimit).is_empty(),
        "nothing was sent"
    );
    let text = exporter.encode_text();
    let skipped = sample(
        &text,
        "prodprobe_skipped_runs_total",
        &[("probe", "rate_limit"), ("reason", "health_failing")],
    )
    .unwrap();
    // Tried at 0, 10, 20 and 30 s: once per health interval, not once per hour.
    assert_eq!(skipped, 4.0, "{text}");
    let rt = s.live().read().unwrap()[0].clone();
    let (_, verdicts) = rt.snapshot();
    let v = verdicts.iter().find(|v| v.check == "rate_limit").unwrap();
    assert_eq!(v.status, Status::Skipped);
    assert_eq!(v.reason, Some("health_failing"));
    assert_eq!(
        sample(&text, "probe_check_evaluated", &[("check", "rate_limit")]),
        Some(0.0)
    );

    // Health recovers at 40 s; the burst follows within one health interval, once.
    r.health_ok.store(true, Ordering::SeqCst);
    sleep(Duration::from_secs(60)).await;
    let burst = r.starts("t0", ProbeKind::RateLimit);
    assert_eq!(burst.len(), 1, "{burst:?}");
    assert!(burst[0] > 35.0 && burst[0] < 52.0, "{burst:?}");
    let (_, verdicts) = rt.snapshot();
    let v = verdicts.iter().find(|v| v.check == "rate_limit").unwrap();
    assert_eq!(v.status, Status::Fail, "no 429 in the scripted burst");
}

#[tokio::test(start_paused = true)]
async fn one_burst_at_a_time_across_all_targets() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_from(dir.path(), &rate_limited_targets(3));
    let mut r = Scripted::new((200, None));
    Arc::get_mut(&mut r).unwrap().rate_limit_work = Duration::from_secs(20);
    let (_s, _) = scheduler(&plan, Arc::clone(&r));
    sleep(Duration::from_secs(70)).await;
    assert_eq!(r.rate_limit_max.load(Ordering::SeqCst), 1);
    for t in ["t0", "t1", "t2"] {
        assert_eq!(r.starts(t, ProbeKind::RateLimit).len(), 1, "{t}");
    }
}

/// `check` runs a target's probes in fixed phases (`CHECK_PHASES`) and reads backoff only between
/// them: the cors run's 429 skips the path sweep after it (nothing sent, its check `skipped
/// (backoff)`), never the unknown-path run before it, on every run alike.
#[tokio::test(start_paused = true)]
async fn check_skips_what_falls_due_during_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_from(
        dir.path(),
        "targets:\n  - name: shop\n    url: https://shop.test/\n    checks: [health, cors, exposed_paths, error_disclosure]\n",
    );
    let mut reports = Vec::new();
    for _ in 0..3 {
        let r = Scripted::new((429, Some("30")));
        let runtimes = prodprobe::scheduler::run_once(&plan, r.clone()).await;
        assert_eq!(r.starts("shop", ProbeKind::UnknownPath).len(), 1);
        assert_eq!(r.starts("shop", ProbeKind::Cors).len(), 1);
        assert!(
            r.starts("shop", ProbeKind::Paths).is_empty(),
            "skipped: nothing sent"
        );
        let (_, verdicts) = runtimes[0].snapshot();
        let v = verdicts
            .iter()
            .find(|v| v.check == "exposed_paths")
            .unwrap();
        assert_eq!((v.status, v.reason), (Status::Skipped, Some("backoff")));
        let v = verdicts
            .iter()
            .find(|v| v.check == "error_disclosure")
            .unwrap();
        assert_ne!(v.status, Status::Skipped, "its probe ran before the 429");
        reports.push(
            verdicts
                .iter()
                .map(|v| (v.check, v.status, v.reason))
                .collect::<Vec<_>>(),
        );
    }
    assert!(reports.windows(2).all(|w| w[0] == w[1]), "{reports:#?}");
}

#[tokio::test(start_paused = true)]
async fn backoff_silences_the_active_probes_for_at_most_an_hour() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_from(
        dir.path(),
        "scheduler:\n  initial_spread: 0s\ntargets:\n  - name: shop\n    url: https://shop.test/\n    checks: [health, cors, error_disclosure]\n    probes:\n      health: { interval: 30s, timeout: 5s }\n      cors: { interval: 5m, timeout: 1m }\n      unknown_path: { interval: 5m, timeout: 1m }\n",
    );
    // Retry-After two hours: capped at one (CHECKS.md §0.5).
    let runner = Scripted::new((429, Some("7200")));
    let (_s, exporter) = scheduler(&plan, Arc::clone(&runner));
    sleep(Duration::from_secs(3500)).await;
    for kind in [ProbeKind::Cors, ProbeKind::UnknownPath, ProbeKind::Fetch] {
        assert_eq!(
            in_window(&runner.starts("shop", kind), 1.0, 3500.0),
            0,
            "{kind} sent nothing during backoff"
        );
    }
    assert!(in_window(&runner.starts("shop", ProbeKind::Health), 1.0, 3500.0) >= 110);
    let text = exporter.encode_text();
    for probe in ["cors", "unknown_path"] {
        let skipped = sample(
            &text,
            "prodprobe_skipped_runs_total",
            &[("probe", probe), ("reason", "backoff")],
        )
        .unwrap_or(0.0);
        assert!(skipped >= 11.0, "{probe}: {text}");
    }
    assert_eq!(backoff_active(&text), Some(1.0));
    sleep(Duration::from_secs(500)).await;
    assert_eq!(
        backoff_active(&exporter.encode_text()),
        // The 3900 s cors run met the scripted 429 again: a new backoff.
        Some(1.0)
    );
    let cors = runner.starts("shop", ProbeKind::Cors);
    assert_eq!(in_window(&cors, 3600.0, 4000.0), 1, "{cors:?}");
    assert!(
        in_window(
            &runner.starts("shop", ProbeKind::UnknownPath),
            3600.0,
            4000.0
        ) <= 1
    );
}

/// `scheduler.state_file`: a restarted daemon neither fires the burst again before its interval
/// is over nor forgets the backoff a server asked for (CHECKS.md §0.5, §12).
#[tokio::test(start_paused = true)]
async fn a_restart_neither_repeats_the_burst_nor_forgets_a_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let with_state = |yaml: &str| {
        yaml.replacen(
            "  initial_spread: 0s\n",
            &format!("  initial_spread: 0s\n  state_file: {}\n", state.display()),
            1,
        )
    };

    let plan = plan_from(dir.path(), &with_state(&rate_limited_targets(1)));
    let first = Scripted::new((200, None));
    let (s, first_exporter) = scheduler(&plan, Arc::clone(&first));
    sleep(Duration::from_secs(5)).await;
    assert_eq!(first.starts("t0", ProbeKind::RateLimit).len(), 1);
    s.shutdown().await;
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(text.contains("\"t0\""), "{text}");

    let verdict_lines = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains("check=\"rate_limit\"") && l.starts_with("probe_check_"))
            .map(str::to_owned)
            .collect()
    };
    let (first_lines, first_state) = {
        let text = std::fs::read_to_string(&state).unwrap();
        (verdict_lines(&first_exporter.encode_text()), text)
    };
    assert!(
        first_lines
            .iter()
            .any(|l| l.starts_with("probe_check_evaluated{") && l.ends_with(" 1.0")),
        "{first_lines:?}"
    );
    assert!(first_state.contains("rate_limit_verdicts"), "{first_state}");

    let second = Scripted::new((200, None));
    let (s, second_exporter) = scheduler(&plan, Arc::clone(&second));
    // The last burst's verdict is back at once, and health runs do not replace it.
    sleep(Duration::from_secs(60)).await;
    assert_eq!(verdict_lines(&second_exporter.encode_text()), first_lines);
    sleep(Duration::from_secs(49 * 60)).await;
    assert_eq!(verdict_lines(&second_exporter.encode_text()), first_lines);
    assert!(
        second.starts("t0", ProbeKind::RateLimit).is_empty(),
        "no burst within the hour after the last one"
    );
    assert!(!second.starts("t0", ProbeKind::Health).is_empty());
    sleep(Duration::from_secs(11 * 60)).await;
    assert_eq!(second.starts("t0", ProbeKind::RateLimit).len(), 1);
    s.shutdown().await;

    let plan = plan_from(dir.path(), &with_state(BACKOFF_TARGET));
    let limited = Scripted::new((429, Some("3000")));
    let (s, _) = scheduler(&plan, Arc::clone(&limited));
    sleep(Duration::from_secs(1)).await;
    assert_eq!(limited.starts("shop", ProbeKind::Cors).len(), 1);
    s.shutdown().await;

    let after = Scripted::new((200, None));
    let (_s, exporter) = scheduler(&plan, Arc::clone(&after));
    sleep(Duration::from_secs(100)).await;
    assert_eq!(backoff_active(&exporter.encode_text()), Some(1.0));
    assert!(after.starts("shop", ProbeKind::Fetch).is_empty());
    assert!(after.starts("shop", ProbeKind::Cors).is_empty());
    assert!(!after.starts("shop", ProbeKind::Health).is_empty());
}

/// A backoff that starts while another probe's run is in flight cuts that run (CHECKS.md §0.5:
/// only health and dns continue), instead of letting it send the rest of its requests.
#[tokio::test(start_paused = true)]
async fn a_backoff_cuts_runs_in_flight_that_must_not_continue() {
    let dir = tempfile::tempdir().unwrap();
    // Two jobs, both in flight at once (per-host limit 2, one request each): a 15 s tls run
    // and a cors run whose one response is a 429 with Retry-After: 600.
    let plan = plan_from(
        dir.path(),
        "scheduler:\n  initial_spread: 0s\ntargets:\n  - name: shop\n    url: https://shop.test/\n    checks: [tls_cert, cors]\n    probes:\n      tls: { interval: 15m, timeout: 1m }\n      cors: { interval: 30m, timeout: 1m }\n",
    );
    let mut runner = Scripted::new((429, Some("600")));
    Arc::get_mut(&mut runner).unwrap().tls_work = Duration::from_secs(15);
    let (_s, exporter) = scheduler(&plan, Arc::clone(&runner));
    sleep(Duration::from_secs(20)).await;
    assert_eq!(runner.starts("shop", ProbeKind::Cors).len(), 1);
    assert!(
        runner.ends("shop", ProbeKind::Tls).is_empty(),
        "the 15 s tls run was cut when the 429 arrived"
    );
    let text = exporter.encode_text();
    assert_eq!(
        sample(
            &text,
            "prodprobe_skipped_runs_total",
            &[("probe", "tls"), ("reason", "backoff")]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(backoff_active(&text), Some(1.0));
}

/// CHECKS.md §0.5: a page answered by a limiter (a 429, or a 503 with Retry-After, as
/// @nestjs/throttler sends once a client is throttled) is not the page. The checks that judge
/// the page's headers report `error (rate_limited)` instead of judging the limiter's JSON,
/// which would flip csp and clickjacking to a pass (non-HTML caps them at info).
#[tokio::test]
async fn a_page_answered_by_a_limiter_is_not_judged() {
    use crate::support::{Leaf, Pki, Resp, TestServer, engine, evaluate_with, target};

    for (status, retry_after) in [(429, None), (503, Some("30"))] {
        let pki = Pki::new();
        let srv = TestServer::https(
            "127.0.0.1",
            pki.server_config(&Leaf::valid(&["127.0.0.1"])),
            move |_| {
                let r = Resp::new(status)
                    .header("content-type", "application/json")
                    .body(
                        r#"{"statusCode":429,"message":"ThrottlerException: Too Many Requests"}"#,
                    );
                match retry_after {
                    Some(v) => r.header("retry-after", v),
                    None => r,
                }
            },
        )
        .await;
        let mut t = target(&format!("https://{}/", srv.addr), pki.client(), None);
        let page_checks = [
            "hsts",
            "csp",
            "clickjacking",
            "x_content_type_options",
            "referrer_policy",
            "cookies",
            "server_disclosure",
        ];
        t.checks.retain(|c| page_checks.contains(&c.id));
        let (_, verdicts) = evaluate_with(&engine(), &t).await;
        assert_eq!(verdicts.len(), page_checks.len());
        for v in &verdicts {
            assert_eq!(
                (v.status, v.reason),
                (Status::Error, Some("rate_limited")),
                "{status}: {}: {:?}",
                v.check,
                v.findings
            );
        }
    }

    // A plain-HTTP target URL is still `https_unavailable`: that fact is the URL's, not the
    // limiter's answer.
    let srv = TestServer::http("127.0.0.1", |_| Resp::new(429).header("retry-after", "30")).await;
    let mut t = target(
        &srv.url("http", "/"),
        Arc::new(TlsClient::new(&[]).unwrap()),
        None,
    );
    t.checks.retain(|c| c.id == "hsts" || c.id == "csp");
    let (_, verdicts) = evaluate_with(&engine(), &t).await;
    let hsts = verdicts.iter().find(|v| v.check == "hsts").unwrap();
    assert_eq!(
        crate::support::ids(hsts),
        ["https_unavailable"],
        "{:?}",
        hsts.reason
    );
    let csp = verdicts.iter().find(|v| v.check == "csp").unwrap();
    assert_eq!(
        (csp.status, csp.reason),
        (Status::Error, Some("rate_limited"))
    );
}

/// A burst that falls due while another probe's 429 holds the target in backoff sends nothing
/// then, and is retried once, a minute after the backoff ends, instead of a whole interval
/// (a day by default) later; a burst that ran waits its interval again.
#[tokio::test(start_paused = true)]
async fn a_burst_skipped_by_a_backoff_is_retried_once_when_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_from(
        dir.path(),
        "scheduler:\n  initial_spread: 0s\ntargets:\n  - name: shop\n    url: https://shop.test/\n    checks: [health, cors, rate_limit]\n    probes:\n      health: { interval: 10s, timeout: 5s }\n      cors: { interval: 30m, timeout: 1m }\n      rate_limit: { interval: 24h, timeout: 90s }\n",
    );
    // The cors run at start is answered 429, Retry-After 600 s; the burst waits for the first
    // health result (1 s), so it falls due inside that backoff.
    let mut runner = Scripted::new((429, Some("600")));
    Arc::get_mut(&mut runner).unwrap().health_work = Duration::from_secs(1);
    let (_s, exporter) = scheduler(&plan, Arc::clone(&runner));
    sleep(Duration::from_secs(7200)).await;
    let bursts = runner.starts("shop", ProbeKind::RateLimit);
    assert_eq!(
        in_window(&bursts, 655.0, 665.0),
        1,
        "one burst a minute after the backoff ended: {bursts:?}, cors {:?}",
        runner.starts("shop", ProbeKind::Cors)
    );
    assert_eq!(
        bursts.len(),
        1,
        "no second burst within the day: {bursts:?}"
    );
    let text = exporter.encode_text();
    assert_eq!(
        sample(
            &text,
            "prodprobe_skipped_runs_total",
            &[("probe", "rate_limit"), ("reason", "backoff")]
        ),
        Some(1.0),
        "{text}"
    );
}

/// The first burst waits until every other probe of the target has run once: a burst that
/// trips the limiter puts the target in backoff, and a probe that had not run yet would leave
/// its checks without any verdict until the backoff ends (up to an hour).
#[tokio::test(start_paused = true)]
async fn the_first_burst_waits_for_every_other_probe_to_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_from(
        dir.path(),
        "scheduler:\n  initial_spread: 0s\ntargets:\n  - name: shop\n    url: https://shop.test/\n    checks: [health, tls_cert, rate_limit]\n    probes:\n      health: { interval: 10s, timeout: 5s }\n      tls: { interval: 15m, timeout: 1m }\n      rate_limit: { interval: 24h, timeout: 90s }\n",
    );
    let mut runner = Scripted::new((200, None));
    Arc::get_mut(&mut runner).unwrap().tls_work = Duration::from_secs(5);
    let (_s, _) = scheduler(&plan, Arc::clone(&runner));
    sleep(Duration::from_secs(20)).await;
    let tls_end = runner.ends("shop", ProbeKind::Tls)[0];
    let bursts = runner.starts("shop", ProbeKind::RateLimit);
    assert_eq!(bursts.len(), 1, "{bursts:?}");
    assert!(
        bursts[0] >= tls_end,
        "burst at {}, the tls run ended at {tls_end}",
        bursts[0]
    );
}
