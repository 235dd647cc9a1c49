//! The `paths` probe (CHECKS.md §13): `GET` each well-known sensitive path at the origin root
//! (and, when configured, under the target's base path) with `Range: bytes=0-65535`, reading
//! at most 64 KiB, plus a random-path baseline of five shapes so that a site answering 200
//! everywhere raises no false alarm. No redirects, never credentials.

use http::header;
use url::Url;

use crate::active::{Session, token};
use crate::context::ProbeContext;
use crate::cors::{active_success, halted_by_backoff};
use crate::evidence::{Evidence, Exchange, Hop};
use crate::fetch::{OTHER_BODY_CAP, RequestSpec};
use crate::probe::{Outcome, ProbeKind};
use crate::safety::{PATHS_MAX_EXTRA, PATHS_MAX_REQUESTS};
use crate::target::Target;

/// The default list of CHECKS.md §13: finding id and its paths (33 paths).
pub static DEFAULT_PATHS: &[(&str, &[&str])] = &[
    ("git_repository", &["/.git/config", "/.git/HEAD"]),
    ("dotenv", &["/.env", "/.env.production", "/.env.local"]),
    ("aws_credentials", &["/.aws/credentials"]),
    ("htpasswd", &["/.htpasswd"]),
    ("svn_repository", &["/.svn/wc.db"]),
    ("ds_store", &["/.DS_Store"]),
    ("apache_status", &["/server-status", "/server-info"]),
    ("nginx_status", &["/nginx_status"]),
    ("actuator_env", &["/actuator/env"]),
    ("actuator_heapdump", &["/actuator/heapdump"]),
    (
        "actuator_httpexchanges",
        &["/actuator/httpexchanges", "/actuator/httptrace"],
    ),
    ("actuator_index", &["/actuator"]),
    ("go_pprof", &["/debug/pprof/"]),
    ("go_expvar", &["/debug/vars"]),
    ("phpinfo", &["/phpinfo.php", "/info.php"]),
    ("werkzeug_console", &["/console"]),
    ("aspnet_trace", &["/trace.axd", "/elmah.axd"]),
    (
        "openapi_docs",
        &[
            "/openapi.json",
            "/swagger.json",
            "/v3/api-docs",
            "/v2/api-docs",
        ],
    ),
    (
        "api_docs_ui",
        &["/docs", "/redoc", "/swagger-ui/", "/swagger-ui.html"],
    ),
    ("prometheus_metrics", &["/metrics"]),
];

/// The shape of a path, and of the baseline request it is compared with (CHECKS.md §13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `/{r}`.
    Plain,
    /// `/.{r}`.
    Dot,
    /// `/{r}.php`.
    Php,
    /// `/{r}.json`.
    Json,
    /// `/{r}/`.
    Dir,
}

impl Shape {
    /// Every shape, in request order.
    pub const ALL: [Shape; 5] = [
        Shape::Plain,
        Shape::Dot,
        Shape::Php,
        Shape::Json,
        Shape::Dir,
    ];

    /// The shape of a listed path.
    pub fn of(path: &str) -> Shape {
        if path.ends_with('/') {
            Shape::Dir
        } else if path.split('/').any(|s| s.starts_with('.')) {
            Shape::Dot
        } else if path.ends_with(".php") {
            Shape::Php
        } else if path.ends_with(".json") {
            Shape::Json
        } else {
            Shape::Plain
        }
    }

    /// The baseline path of this shape for token `r`.
    pub fn baseline(self, r: &str) -> String {
        match self {
            Shape::Plain => format!("/{r}"),
            Shape::Dot => format!("/.{r}"),
            Shape::Php => format!("/{r}.php"),
            Shape::Json => format!("/{r}.json"),
            Shape::Dir => format!("/{r}/"),
        }
    }
}

/// One listed path and its answer.
#[derive(Debug, Clone)]
pub struct PathResult {
    /// The finding id (or a configured extra path's id).
    pub id: String,
    /// The listed path (without the base path).
    pub path: String,
    /// Requested under the target's base path.
    pub under_base: bool,
    /// The response, or why there is none.
    pub outcome: Hop,
}

/// One baseline request.
#[derive(Debug, Clone)]
pub struct BaselineResult {
    /// Its shape.
    pub shape: Shape,
    /// Requested under the target's base path.
    pub under_base: bool,
    /// The response, or why there is none.
    pub outcome: Hop,
}

/// Evidence of the `paths` probe.
#[derive(Debug, Clone)]
pub struct PathsEvidence {
    /// The random token of the baseline (removed before hashing bodies).
    pub token: String,
    /// The baseline.
    pub baseline: Vec<BaselineResult>,
    /// The listed paths.
    pub results: Vec<PathResult>,
    /// Requests sent.
    pub requests: usize,
    /// Why the run stopped early, if it did.
    pub stopped: Option<&'static str>,
}

impl PathsEvidence {
    /// Every response.
    pub fn responses(&self) -> impl Iterator<Item = &Exchange> {
        self.baseline
            .iter()
            .map(|b| &b.outcome)
            .chain(self.results.iter().map(|r| &r.outcome))
            .filter_map(|h| h.as_ref().ok())
    }

    /// The baseline response of `shape`.
    pub fn baseline_for(&self, shape: Shape, under_base: bool) -> Option<&Exchange> {
        self.baseline
            .iter()
            .find(|b| b.shape == shape && b.under_base == under_base)
            .and_then(|b| b.outcome.as_ref().ok())
    }
}

/// The base path prefix (`/app`), when the sweep also runs under it.
fn base(target: &Target) -> Option<String> {
    let b = target.url.path().trim_end_matches('/');
    (target.options.exposed_paths.under_base_path && !b.is_empty()).then(|| b.to_owned())
}

/// The (id, path) list of a target: the default list, then the configured extra paths.
pub fn listed(target: &Target) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = DEFAULT_PATHS
        .iter()
        .flat_map(|(id, paths)| paths.iter().map(|p| ((*id).to_owned(), (*p).to_owned())))
        .collect();
    out.extend(
        target
            .options
            .exposed_paths
            .extra_paths
            .iter()
            .take(PATHS_MAX_EXTRA)
            .map(|e| (e.id.clone(), e.path.clone())),
    );
    out
}

/// Runs the probe.
pub(crate) async fn run(target: &Target, cx: &ProbeContext<'_>) -> Outcome {
    let r = token(12);
    let mut session = Session::new(ProbeKind::Paths, target, cx, PATHS_MAX_REQUESTS);
    let mut prefixes: Vec<(bool, String)> = vec![(false, String::new())];
    if let Some(b) = base(target) {
        prefixes.push((true, b));
    }
    let mut baseline = Vec::new();
    let mut results = Vec::new();
    let mut stopped = None;
    let send = |path: &str| -> Option<Url> { target.url.join(path).ok() };
    'all: for (under_base, prefix) in &prefixes {
        for shape in Shape::ALL {
            let Some(url) = send(&format!("{prefix}{}", shape.baseline(&r))) else {
                continue;
            };
            match session.send_unknown(&spec(&url)).await {
                Ok(outcome) => baseline.push(BaselineResult {
                    shape,
                    under_base: *under_base,
                    outcome,
                }),
                Err(refusal) => {
                    stopped = Some(refusal.as_str());
                    break 'all;
                }
            }
        }
        for (id, path) in listed(target) {
            let Some(url) = send(&format!("{prefix}{path}")) else {
                continue;
            };
            match session.send(&spec(&url)).await {
                Ok(outcome) => results.push(PathResult {
                    id,
                    path,
                    under_base: *under_base,
                    outcome,
                }),
                Err(refusal) => {
                    stopped = Some(refusal.as_str());
                    break 'all;
                }
            }
        }
    }
    if stopped.is_none() && session.halted() {
        stopped = Some("backoff");
    }
    let evidence = PathsEvidence {
        token: r,
        baseline,
        results,
        requests: session.sent(),
        stopped,
    };
    let failure = evidence
        .baseline
        .iter()
        .map(|b| &b.outcome)
        .chain(evidence.results.iter().map(|r| &r.outcome))
        .find_map(|h| h.as_ref().err().map(|f| f.reason))
        .or(halted_by_backoff(evidence.stopped));
    let (success, reason) = active_success(evidence.responses(), failure);
    Outcome {
        evidence: Evidence::Paths(evidence),
        success,
        reason,
        measurements: Vec::new(),
    }
}

fn spec(url: &Url) -> RequestSpec<'_> {
    RequestSpec::get(url, OTHER_BODY_CAP)
        .header(header::ACCEPT, "*/*")
        .header(header::RANGE, "bytes=0-65535")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_list_has_33_paths_and_shapes() {
        let n: usize = DEFAULT_PATHS.iter().map(|(_, p)| p.len()).sum();
        assert_eq!(n, 33);
        assert_eq!(Shape::of("/.git/config"), Shape::Dot);
        assert_eq!(Shape::of("/phpinfo.php"), Shape::Php);
        assert_eq!(Shape::of("/swagger.json"), Shape::Json);
        assert_eq!(Shape::of("/debug/pprof/"), Shape::Dir);
        assert_eq!(Shape::of("/actuator/env"), Shape::Plain);
    }
}
