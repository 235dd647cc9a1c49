//! The `unknown_path` probe (CHECKS.md §14): three requests for paths that cannot exist, no
//! redirects, never credentials: (a) `GET /{r}-{r}` asking for HTML, (b) `GET <base>/{r}` asking
//! for JSON, (c) `GET /%ff%fe{r}` (valid URI syntax, invalid UTF-8 once decoded).

use http::header;
use url::Url;

use crate::active::{Session, token};
use crate::context::ProbeContext;
use crate::cors::active_success;
use crate::evidence::{Evidence, Exchange, Hop};
use crate::fetch::{OTHER_BODY_CAP, RequestSpec};
use crate::probe::{Outcome, ProbeKind};
use crate::safety::UNKNOWN_PATH_REQUESTS;
use crate::target::Target;

/// Which request of CHECKS.md §14.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownKind {
    /// (a) `GET /{r}-{r}`, `Accept: text/html`.
    Html,
    /// (b) `GET <base>/{r}`, `Accept: application/json`.
    Json,
    /// (c) `GET /%ff%fe{r}`.
    Undecodable,
}

/// One request and its answer.
#[derive(Debug, Clone)]
pub struct UnknownRequest {
    /// Which request.
    pub kind: UnknownKind,
    /// The response, or why there is none.
    pub outcome: Hop,
}

/// Evidence of the `unknown_path` probe.
#[derive(Debug, Clone)]
pub struct UnknownPathEvidence {
    /// The random token of this run.
    pub token: String,
    /// The requests, in order.
    pub requests: Vec<UnknownRequest>,
    /// Why the run stopped early, if it did.
    pub stopped: Option<&'static str>,
}

impl UnknownPathEvidence {
    /// Every response.
    pub fn responses(&self) -> impl Iterator<Item = &Exchange> {
        self.requests.iter().filter_map(|r| r.outcome.as_ref().ok())
    }

    /// The response to request `kind`.
    pub fn response(&self, kind: UnknownKind) -> Option<&Exchange> {
        self.requests
            .iter()
            .find(|r| r.kind == kind)
            .and_then(|r| r.outcome.as_ref().ok())
    }
}

/// The three URLs of a run with token `r`.
pub fn urls(target: &Target, r: &str) -> Vec<(UnknownKind, Url, &'static str)> {
    let mut out = Vec::new();
    let base = target.url.path().trim_end_matches('/');
    for (kind, path, accept) in [
        (UnknownKind::Html, format!("/{r}-{r}"), "text/html"),
        (UnknownKind::Json, format!("{base}/{r}"), "application/json"),
        (UnknownKind::Undecodable, format!("/%ff%fe{r}"), "*/*"),
    ] {
        if let Ok(url) = target.url.join(&path) {
            out.push((kind, url, accept));
        }
    }
    out
}

/// Runs the probe.
pub(crate) async fn run(target: &Target, cx: &ProbeContext<'_>) -> Outcome {
    let r = token(12);
    let mut session = Session::new(ProbeKind::UnknownPath, target, cx, UNKNOWN_PATH_REQUESTS);
    let mut requests = Vec::new();
    let mut stopped = None;
    for (kind, url, accept) in urls(target, &r) {
        let spec = RequestSpec::get(&url, OTHER_BODY_CAP).header(header::ACCEPT, accept);
        match session.send_unknown(&spec).await {
            Ok(outcome) => requests.push(UnknownRequest { kind, outcome }),
            Err(refusal) => {
                stopped = Some(refusal.as_str());
                break;
            }
        }
    }
    if stopped.is_none() && session.halted() {
        stopped = Some("backoff");
    }
    let evidence = UnknownPathEvidence {
        token: r,
        requests,
        stopped,
    };
    let failure = evidence
        .requests
        .iter()
        .find_map(|r| r.outcome.as_ref().err().map(|f| f.reason));
    let (success, reason) = active_success(evidence.responses(), failure);
    Outcome {
        evidence: Evidence::UnknownPath(evidence),
        success,
        reason,
        measurements: Vec::new(),
    }
}
