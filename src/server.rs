//! The HTTP server of `serve`: `/metrics`, `/-/healthy`, `/-/ready`, `POST /-/reload`, the
//! blackbox-compatible `/probe`, a status page at `/` and its JSON at `/api/v1/status`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tokio::sync::{Semaphore, mpsc, oneshot};

use probes::probe::ProbeKind;

use crate::exporter::{self, Exporter};
use crate::plan::{AdHocError, PlanContext};
use crate::reload::SharedPlan;
use crate::report::Report;
use crate::scheduler::{self, LiveTargets, Readiness, Runner, SharedLimits};

/// A reload request and where to send its outcome.
pub type ReloadRequest = oneshot::Sender<Result<String, String>>;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Metrics.
    pub exporter: Arc<Exporter>,
    /// Readiness.
    pub readiness: Arc<Readiness>,
    /// Live targets for the status page.
    pub live: LiveTargets,
    /// Reload requests go to the reload task.
    pub reload: mpsc::Sender<ReloadRequest>,
    /// What `/probe` needs.
    pub probe: ProbeState,
}

/// The `/probe` endpoint's share: the running plan, the runner and a concurrency limit.
#[derive(Clone)]
pub struct ProbeState {
    /// The running plan (replaced on reload).
    pub plan: SharedPlan,
    /// Plan inputs (TLS client).
    pub cx: PlanContext,
    /// Runs the probes.
    pub runner: Arc<dyn Runner>,
    /// At most this many `/probe` requests run at once.
    pub permits: Arc<Semaphore>,
    /// The scheduler's limits: an on-demand run never adds a third run to a host.
    pub limits: SharedLimits,
    /// The last answer per (target, module), reused within [`PROBE_MIN_SPACING`].
    pub recent: RecentProbes,
    /// Start times of the on-demand runs per host in the last minute.
    pub host_runs: HostRuns,
    /// Backoffs on-demand runs met (a 429, or a 503 with `Retry-After`), per host: the next
    /// on-demand runs honour them as they honour the scheduler's (CHECKS.md §0.5).
    pub backoffs: HostBackoffs,
}

/// When each host's backoff ends, for hosts an on-demand run found limiting.
pub type HostBackoffs = Arc<std::sync::Mutex<HashMap<String, tokio::time::Instant>>>;

/// Recent on-demand run starts per host, for [`PROBE_RUNS_PER_HOST_PER_MINUTE`].
pub type HostRuns = Arc<std::sync::Mutex<HashMap<String, Vec<tokio::time::Instant>>>>;

/// How long an on-demand run may take when the request announces no scrape timeout
/// (Prometheus always does): less than the shutdown grace, so a run in flight at SIGTERM is
/// still answered.
pub const PROBE_DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
const _: () = assert!(PROBE_DEFAULT_TIMEOUT.as_secs() < scheduler::SHUTDOWN_GRACE.as_secs());

/// On-demand runs per host per minute at most: distinct URLs on one host (a query string makes
/// a new one) each get their own answer, but together they cannot turn `/probe` into a load
/// generator. Beyond it `/probe` answers 429 with `Retry-After`.
pub const PROBE_RUNS_PER_HOST_PER_MINUTE: usize = 30;

/// `/probe` answers by (target, module): each behind its own lock, so that concurrent requests
/// for one target wait for one run instead of starting their own.
pub type RecentProbes = Arc<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<Recent>>>>>;

/// One (target, module)'s last `/probe` answer.
#[derive(Debug, Default)]
pub struct Recent {
    at: Option<tokio::time::Instant>,
    body: String,
}

/// `/probe` requests in flight at once; more get 503.
pub const PROBE_CONCURRENCY: usize = 16;

/// A (target, module) is probed on demand at most once per this long; requests in between get
/// the last answer. Prometheus scrapes every 15 s or more, so scrapes always see a fresh run,
/// while a flood of requests cannot turn prodprobe into a load generator.
pub const PROBE_MIN_SPACING: Duration = Duration::from_secs(10);

/// Content type of the Prometheus text format.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content type of OpenMetrics.
pub const OPENMETRICS_FORMAT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/metrics", get(metrics))
        .route("/-/healthy", get(|| async { "Healthy\n" }))
        .route("/-/ready", get(ready))
        .route("/-/reload", post(reload))
        .route("/api/v1/status", get(status))
        .route("/probe", get(probe))
        .with_state(state)
}

/// Content negotiation on `Accept` (RFC 9110 §12.5.1): OpenMetrics when the client rates it
/// above zero and at least as high as the text format (`text/plain`, `text/*` or `*/*`);
/// the text format 0.0.4 otherwise, and without an `Accept`. Prometheus 3 configured to prefer
/// the text format sends `text/plain;…;q=0.6,application/openmetrics-text;…;q=0.5`.
fn wants_openmetrics(headers: &HeaderMap) -> bool {
    let (mut openmetrics, mut text) = (0.0f32, 0.0f32);
    for range in headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let mut params = range.split(';').map(str::trim);
        let media = params.next().unwrap_or("").to_ascii_lowercase();
        let mut q = Some(1.0f32);
        for p in params {
            if let Some((k, v)) = p.split_once('=')
                && k.trim().eq_ignore_ascii_case("q")
            {
                // An unreadable weight disqualifies the range rather than guessing one.
                q = v
                    .trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|q| (0.0..=1.0).contains(q));
            }
        }
        let Some(q) = q else { continue };
        match media.as_str() {
            "application/openmetrics-text" => openmetrics = openmetrics.max(q),
            "text/plain" | "text/*" | "*/*" => text = text.max(q),
            _ => {}
        }
    }
    openmetrics > 0.0 && openmetrics >= text
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if wants_openmetrics(&headers) {
        (
            [(header::CONTENT_TYPE, OPENMETRICS_FORMAT)],
            state.exporter.encode_openmetrics(),
        )
            .into_response()
    } else {
        (
            [(header::CONTENT_TYPE, TEXT_FORMAT)],
            state.exporter.encode_text(),
        )
            .into_response()
    }
}

async fn ready(State(state): State<AppState>) -> Response {
    if state.readiness.is_ready() {
        (StatusCode::OK, "Ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Not ready: waiting for every job's first run\n",
        )
            .into_response()
    }
}

async fn reload(State(state): State<AppState>) -> Response {
    let (tx, rx) = oneshot::channel();
    if state.reload.send(tx).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    match rx.await {
        Ok(Ok(msg)) => (StatusCode::OK, format!("{msg}\n")).into_response(),
        Ok(Err(msg)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{msg}\n")).into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct ProbeQuery {
    target: Option<String>,
    module: Option<String>,
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// blackbox-compatible `GET /probe?target=…&module=…`: runs the target's probes once and
/// answers with that run's series. Only configured targets, or hosts the config allows, are
/// probed. The run is cut a little before Prometheus's scrape timeout.
async fn probe(
    State(state): State<AppState>,
    Query(q): Query<ProbeQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(target) = q.target.filter(|t| !t.is_empty()) else {
        return text(
            StatusCode::BAD_REQUEST,
            "target parameter is missing\n".into(),
        );
    };
    let plan = Arc::clone(&state.probe.plan.read().unwrap_or_else(|e| e.into_inner()));
    let mut planned = match plan.adhoc(&state.probe.cx, &target, q.module.as_deref()) {
        Ok(p) => p,
        Err(AdHocError::Forbidden(m)) => return text(StatusCode::FORBIDDEN, format!("{m}\n")),
        Err(AdHocError::BadRequest(m)) => return text(StatusCode::BAD_REQUEST, format!("{m}\n")),
    };
    // On demand, only the passive probes run. The active ones (cors, paths, unknown_path,
    // rate_limit) and tls_versions keep the scheduler's intervals, budgets and one-burst rule:
    // a scrape every 15 s must not become a path sweep or a burst every 15 s. Their checks are
    // on `/metrics`.
    let on_demand = |k: ProbeKind| {
        matches!(
            k,
            ProbeKind::Health | ProbeKind::Fetch | ProbeKind::Tls | ProbeKind::Dns
        )
    };
    // A host in backoff (CHECKS.md §0.5), the scheduler's or one an earlier on-demand run met,
    // gets only health and dns.
    let now = tokio::time::Instant::now();
    let on_demand_backoff = state
        .probe
        .backoffs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&planned.target.host)
        .copied()
        .filter(|until| now < *until);
    let host_backoff = state
        .live
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|rt| rt.target.host == planned.target.host && rt.in_backoff())
        .filter_map(|rt| rt.backoff_until())
        .chain(on_demand_backoff)
        .max();
    let host_in_backoff = host_backoff.is_some();
    planned
        .jobs
        .retain(|j| on_demand(j.kind) && (!host_in_backoff || j.kind.runs_during_backoff()));
    let kept: Vec<ProbeKind> = planned.jobs.iter().map(|j| j.kind).collect();
    let mut on_demand_target = (*planned.target).clone();
    on_demand_target
        .checks
        .retain(|c| c.inputs.iter().all(|k| kept.contains(k)));
    planned.target = Arc::new(on_demand_target);
    let Ok(_permit) = state.probe.permits.clone().try_acquire_owned() else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many /probe requests in flight\n".into(),
        );
    };
    let slot = {
        let key = format!("{target}\u{0}{}", q.module.as_deref().unwrap_or_default());
        let mut recent = state.probe.recent.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: only allowed targets get here; forget answers nobody asked for lately.
        if recent.len() > 1024 {
            recent.retain(|_, r| {
                r.try_lock().map_or(true, |r| {
                    r.at.is_some_and(|t| t.elapsed() < PROBE_MIN_SPACING)
                })
            });
        }
        Arc::clone(recent.entry(key).or_default())
    };
    let mut last = slot.lock().await;
    if let Some(at) = last.at
        && at.elapsed() < PROBE_MIN_SPACING
    {
        return ([(header::CONTENT_TYPE, TEXT_FORMAT)], last.body.clone()).into_response();
    }
    {
        // Bounded: only allowed hosts get here, and each keeps a minute of starts.
        let mut runs = state
            .probe
            .host_runs
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let minute = Duration::from_secs(60);
        // Allowed-host patterns (`*.example.com`) admit many hosts: forget idle ones.
        if runs.len() > 1024 {
            runs.retain(|_, v| v.iter().any(|t| t.elapsed() < minute));
        }
        let starts = runs.entry(planned.target.host.clone()).or_default();
        starts.retain(|t| t.elapsed() < minute);
        if starts.len() >= PROBE_RUNS_PER_HOST_PER_MINUTE {
            let wait = starts
                .first()
                .map_or(minute, |t| minute.saturating_sub(t.elapsed()));
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, (wait.as_secs() + 1).to_string())],
                format!(
                    "more than {PROBE_RUNS_PER_HOST_PER_MINUTE} on-demand runs for host {} in the last minute\n",
                    planned.target.host
                ),
            )
                .into_response();
        }
        starts.push(tokio::time::Instant::now());
    }
    // Prometheus announces its scrape timeout; finish half a second before it.
    let scrape_timeout = headers
        .get("x-prometheus-scrape-timeout-seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        // Clamped: any header value, however large, is a usable duration.
        .map(|s| Duration::from_secs_f64((s - 0.5).clamp(0.5, 3600.0)));
    if let Some(limit) = scrape_timeout {
        for job in &mut planned.jobs {
            job.timeout = job.timeout.min(limit);
        }
    }
    let single = plan.with_targets(vec![planned]);
    let limits = Arc::clone(&state.probe.limits.read().unwrap_or_else(|e| e.into_inner()));
    // The whole run, permit waits included, ends before Prometheus gives up on the scrape (or,
    // asked without the header, within PROBE_DEFAULT_TIMEOUT, which also keeps it inside the
    // shutdown grace); what did not finish by then is `probe_success 0`, as blackbox answers.
    let deadline =
        Some(tokio::time::Instant::now() + scrape_timeout.unwrap_or(PROBE_DEFAULT_TIMEOUT));
    let runtimes =
        scheduler::run_once_within(&single, Arc::clone(&state.probe.runner), limits, deadline)
            .await;
    let Some(rt) = runtimes.first() else {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "no target\n".into());
    };
    let (runs, verdicts) = rt.snapshot();
    let runs: Vec<&probes::evidence::ProbeRun> = runs.iter().map(AsRef::as_ref).collect();
    // A backoff this run met holds for the scheduler's runs on the host and the next
    // on-demand ones too.
    if let Some(until) = rt.backoff_until() {
        for live in state
            .live
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|live| live.target.host == rt.target.host)
        {
            live.extend_backoff(until);
        }
        let mut backoffs = state
            .probe
            .backoffs
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Bounded: only allowed hosts get here; forget backoffs that are over.
        if backoffs.len() > 1024 {
            backoffs.retain(|_, t| now < *t);
        }
        let entry = backoffs.entry(rt.target.host.clone()).or_insert(until);
        *entry = (*entry).max(until);
    }
    // probe_backoff_active: the scheduler's backoff of the host, or one this run met.
    let backoff = host_backoff.max(rt.backoff_until());
    let body = exporter::render_target(&rt.target, &runs, &verdicts, backoff);
    *last = Recent {
        at: Some(tokio::time::Instant::now()),
        body: body.clone(),
    };
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], body).into_response()
}

fn current_report(state: &AppState) -> Report {
    let live = state.live.read().unwrap_or_else(|e| e.into_inner()).clone();
    Report::from_runtimes(&live)
}

async fn status(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        current_report(&state).to_json(),
    )
        .into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn index(State(state): State<AppState>) -> Html<String> {
    let report = current_report(&state);
    let mut rows = String::new();
    for t in &report.targets {
        for c in &t.checks {
            let findings: Vec<String> = c
                .findings
                .iter()
                .map(|f| {
                    // The explanation shows on hover: what the finding means, what to do.
                    format!(
                        "<li><b>{}</b> <span title=\"{}\">{}</span> <small>{}</small></li>",
                        f.severity,
                        escape(crate::about::about(c.check, f.id).unwrap_or("")),
                        escape(f.id),
                        escape(&crate::report::display_safe(&f.evidence))
                    )
                })
                .collect();
            rows.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td><ul>{}</ul></td></tr>",
                escape(&t.name),
                c.check,
                c.status.as_str(),
                c.status.as_str(),
                findings.join("")
            ));
        }
    }
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>prodprobe</title>\
         <style>body{{font-family:sans-serif}}td{{vertical-align:top;padding:2px 8px}}\
         .pass{{color:green}}.fail{{color:#b00}}.error{{color:purple}}.skipped{{color:gray}}</style></head>\
         <body><h1>prodprobe {}</h1><p><a href=\"/metrics\">metrics</a> · <a href=\"/api/v1/status\">status JSON</a> · \
         ready: {}</p><p>{}</p><table><tr><th>target</th><th>check</th><th>status</th><th>findings</th></tr>{rows}</table></body></html>",
        env!("CARGO_PKG_VERSION"),
        state.readiness.is_ready(),
        report.summary.line()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        let mut h = HeaderMap::new();
        assert!(!wants_openmetrics(&h));
        h.insert(
            header::ACCEPT,
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
                .parse()
                .unwrap(),
        );
        assert!(wants_openmetrics(&h));
        h.insert(header::ACCEPT, "text/plain;version=0.0.4".parse().unwrap());
        assert!(!wants_openmetrics(&h));
        h.insert(
            header::ACCEPT,
            "application/openmetrics-text;q=0".parse().unwrap(),
        );
        assert!(!wants_openmetrics(&h));
        // (Accept, OpenMetrics?)
        for (accept, om) in [
            // Prometheus 3 with `scrape_protocols: [PrometheusText0.0.4, OpenMetricsText1.0.0]`.
            (
                "text/plain;version=0.0.4;q=0.6,application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.5,*/*;q=0.4",
                false,
            ),
            (
                "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=1.0.0;q=0.5",
                false,
            ),
            // Prometheus 3's default order.
            (
                "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
                true,
            ),
            ("application/openmetrics-text;q=0.0", false),
            ("application/openmetrics-text; q=0.000", false),
            ("application/openmetrics-text;q=nope", false),
            ("application/openmetrics-text, text/plain", true),
            ("*/*", false),
        ] {
            h.insert(header::ACCEPT, accept.parse().unwrap());
            assert_eq!(wants_openmetrics(&h), om, "{accept}");
        }
    }
}
