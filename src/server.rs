//! The HTTP server of `serve`: `/metrics`, `/-/healthy`, `/-/ready`, `POST /-/reload`, a status
//! page at `/` and its JSON at `/api/v1/status`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{mpsc, oneshot};

use crate::exporter::Exporter;
use crate::report::Report;
use crate::scheduler::{LiveTargets, Readiness};

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
}

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
        .with_state(state)
}

/// Prometheus asks for OpenMetrics in `Accept` when it wants it; everyone else gets 0.0.4.
fn wants_openmetrics(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|part| {
            let mut params = part.split(';').map(str::trim);
            let media = params.next().unwrap_or("");
            let refused = params.any(|p| p.replace(' ', "") == "q=0");
            media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
        })
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
                    format!(
                        "<li><b>{}</b> {} <small>{}</small></li>",
                        f.severity,
                        escape(f.id),
                        escape(&f.evidence)
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
         ready: {}</p><table><tr><th>target</th><th>check</th><th>status</th><th>findings</th></tr>{rows}</table></body></html>",
        env!("CARGO_PKG_VERSION"),
        state.readiness.is_ready()
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
    }
}
