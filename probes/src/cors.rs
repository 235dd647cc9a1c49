//! The `cors` probe (CHECKS.md §8): simple `GET`s with crafted `Origin` values and one
//! preflight per path, for the target URL and up to five configured `cors.paths`. No redirects,
//! no cookies; configured credentials only when the target opts `cors` in.

use http::Method;
use http::header::{self, HeaderName, HeaderValue};
use url::Url;

use crate::active::{Refusal, Session, token};
use crate::context::ProbeContext;
use crate::evidence::{Evidence, Exchange, Hop};
use crate::fetch::{OTHER_BODY_CAP, RequestSpec};
use crate::probe::{Outcome, ProbeKind};
use crate::safety::{
    CORS_MAX_ALLOWED_ORIGINS, CORS_MAX_PATHS, CORS_REQUESTS_PER_ALLOWED_ORIGIN,
    CORS_REQUESTS_PER_PATH,
};
use crate::target::{Target, registrable_domain};

/// Which crafted request (CHECKS.md §8 probe table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// No `Origin`.
    Baseline,
    /// The target's own origin (control).
    Own,
    /// `https://corsprobe-{n}.example.net`.
    Arbitrary,
    /// `null`.
    Null,
    /// `https://{H}.example.net`.
    Prefix,
    /// `https://corsprobe{n}{R}`.
    Suffix,
    /// H with its first `.` replaced by `x`.
    DotRegex,
    /// `https://corsprobe-{n}.{R}`.
    Subdomain,
    /// The own origin with scheme `http`.
    HttpScheme,
    /// A configured allowed origin with host `{A}.example.net`.
    AllowedPrefix,
    /// A configured allowed origin with host `corsprobe{n}{A}`.
    AllowedSuffix,
    /// A configured allowed origin itself (control).
    AllowedExact,
    /// `OPTIONS` with the arbitrary origin, `PUT` and a probe header.
    Preflight,
}

impl Variant {
    /// The name used in evidence.
    pub const fn as_str(self) -> &'static str {
        match self {
            Variant::Baseline => "baseline",
            Variant::Own => "own",
            Variant::Arbitrary => "arbitrary",
            Variant::Null => "null",
            Variant::Prefix => "prefix",
            Variant::Suffix => "suffix",
            Variant::DotRegex => "dot_regex",
            Variant::Subdomain => "subdomain",
            Variant::HttpScheme => "http_scheme",
            Variant::AllowedPrefix => "allowed_prefix",
            Variant::AllowedSuffix => "allowed_suffix",
            Variant::AllowedExact => "allowed_exact",
            Variant::Preflight => "preflight",
        }
    }
}

/// One crafted request and its answer.
#[derive(Debug, Clone)]
pub struct CorsProbe {
    /// Which probe.
    pub variant: Variant,
    /// The `Origin` sent (`None` for the baseline).
    pub origin: Option<String>,
    /// The `Access-Control-Request-Headers` value of the preflight.
    pub request_header: Option<String>,
    /// The response, or why there is none.
    pub outcome: Hop,
}

/// The probes of one path.
#[derive(Debug, Clone)]
pub struct CorsPath {
    /// The URL.
    pub url: Url,
    /// Every request sent for it, in order.
    pub probes: Vec<CorsProbe>,
}

/// Evidence of the `cors` probe.
#[derive(Debug, Clone)]
pub struct CorsEvidence {
    /// Per path.
    pub paths: Vec<CorsPath>,
    /// Requests sent.
    pub requests: usize,
    /// Why the run stopped early (`backoff`, `budget_exhausted`), if it did.
    pub stopped: Option<&'static str>,
}

impl CorsEvidence {
    /// Why a request went unanswered, for the first one that did. A preflight is not counted:
    /// one that gets no answer (a server that drops `OPTIONS`, as tracd does) fails in a
    /// browser too, and a failed preflight grants nothing (CHECKS.md §8: permissive only with
    /// a 2xx), so it is the preflight's answer, not a gap in the run.
    pub fn unanswered(&self) -> Option<&'static str> {
        self.paths
            .iter()
            .flat_map(|p| p.probes.iter())
            .filter(|p| p.variant != Variant::Preflight)
            .find_map(|p| p.outcome.as_ref().err().map(|f| f.reason))
    }

    /// Every response.
    pub fn responses(&self) -> impl Iterator<Item = &Exchange> {
        self.paths
            .iter()
            .flat_map(|p| p.probes.iter())
            .filter_map(|p| p.outcome.as_ref().ok())
    }
}

/// `scheme://host[:port]` when `raw` is an origin (not `*`, `null`, or a URL with a path).
pub fn parse_origin(raw: &str) -> Option<(String, String, Option<u16>)> {
    let url = Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return None;
    }
    let host = url.host_str()?.to_ascii_lowercase();
    Some((url.scheme().to_owned(), host, url.port()))
}

fn with_port(scheme: &str, host: &str, port: Option<u16>) -> String {
    match port {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    }
}

/// The crafted origins for a target (without the preflight), in sending order.
pub fn origins(target: &Target, n: &str) -> Vec<(Variant, String)> {
    let h = target.host.as_str();
    let scheme = target.url.scheme();
    let port = target.url.port();
    let ip = h
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok();
    let r = registrable_domain(h);
    let own = with_port(scheme, h, port);
    let mut out = vec![
        (Variant::Own, own),
        (
            Variant::Arbitrary,
            format!("https://corsprobe-{n}.example.net"),
        ),
        (Variant::Null, "null".to_owned()),
    ];
    if !ip {
        out.push((Variant::Prefix, format!("https://{h}.example.net")));
        if let Some(r) = &r {
            out.push((Variant::Suffix, format!("https://corsprobe{n}{r}")));
        }
        if h.matches('.').count() >= 2 {
            let dotted = h.replacen('.', "x", 1);
            out.push((Variant::DotRegex, with_port(scheme, &dotted, port)));
        }
        if let Some(r) = &r {
            out.push((Variant::Subdomain, format!("https://corsprobe-{n}.{r}")));
        }
    }
    if scheme == "https" {
        out.push((Variant::HttpScheme, with_port("http", h, port)));
    }
    for raw in target
        .options
        .cors
        .allowed_origins
        .iter()
        .take(CORS_MAX_ALLOWED_ORIGINS)
    {
        let Some((s, a, p)) = parse_origin(raw) else {
            continue;
        };
        out.push((
            Variant::AllowedPrefix,
            with_port(&s, &format!("{a}.example.net"), p),
        ));
        out.push((
            Variant::AllowedSuffix,
            with_port(&s, &format!("corsprobe{n}{a}"), p),
        ));
        out.push((Variant::AllowedExact, with_port(&s, &a, p)));
    }
    out
}

/// The URLs probed: the target URL, then each configured path (on the target's host).
pub fn urls(target: &Target) -> Vec<Url> {
    let mut urls = vec![target.url.clone()];
    for p in target.options.cors.paths.iter().take(CORS_MAX_PATHS) {
        if let Ok(u) = target.url.join(p)
            && target.same_host(&u)
            && !urls.contains(&u)
        {
            urls.push(u);
        }
    }
    urls
}

/// The request budget of a run for this target (CHECKS.md §8).
pub fn budget(target: &Target) -> usize {
    let allowed = target
        .options
        .cors
        .allowed_origins
        .iter()
        .filter(|o| parse_origin(o).is_some())
        .count()
        .min(CORS_MAX_ALLOWED_ORIGINS);
    urls(target).len() * (CORS_REQUESTS_PER_PATH + CORS_REQUESTS_PER_ALLOWED_ORIGIN * allowed)
}

/// Runs the probe.
pub(crate) async fn run(target: &Target, cx: &ProbeContext<'_>) -> Outcome {
    let mut session = Session::new(ProbeKind::Cors, target, cx, budget(target));
    let n = token(8);
    let origins = origins(target, &n);
    let probe_header = format!("x-corsprobe-{n}");
    let mut paths = Vec::new();
    let mut stopped = None;
    'paths: for url in urls(target) {
        let credentials = target.credentials_for(ProbeKind::Cors, &url);
        let mut probes = Vec::new();
        let mut plan: Vec<(Variant, Option<String>)> = vec![(Variant::Baseline, None)];
        plan.extend(origins.iter().map(|(v, o)| (*v, Some(o.clone()))));
        let arbitrary = origins
            .iter()
            .find(|(v, _)| *v == Variant::Arbitrary)
            .map(|(_, o)| o.clone());
        plan.push((Variant::Preflight, arbitrary));
        for (variant, origin) in plan {
            let mut spec = RequestSpec {
                credentials,
                ..RequestSpec::get(&url, OTHER_BODY_CAP).header(header::ACCEPT, "*/*")
            };
            if let Some(o) = &origin
                && let Ok(v) = HeaderValue::from_str(o)
            {
                spec.headers.push((header::ORIGIN, v));
            }
            let mut request_header = None;
            if variant == Variant::Preflight {
                spec.method = Method::OPTIONS;
                spec.headers.push((
                    header::ACCESS_CONTROL_REQUEST_METHOD,
                    HeaderValue::from_static("PUT"),
                ));
                if let Ok(v) = HeaderValue::from_str(&probe_header) {
                    spec.headers
                        .push((HeaderName::from_static("access-control-request-headers"), v));
                }
                request_header = Some(probe_header.clone());
            }
            match session.send(&spec).await {
                Ok(outcome) => {
                    let unanswered = outcome.is_err();
                    probes.push(CorsProbe {
                        variant,
                        origin,
                        request_header,
                        outcome,
                    });
                    // A path that closed the connection or timed out on one Origin (a handler
                    // that panics, one that hangs) will not answer the next: the run moves on
                    // to the next path instead of waiting out two more failures here.
                    if unanswered {
                        break;
                    }
                }
                Err(refusal) => {
                    stopped = Some(refusal.as_str());
                    paths.push(CorsPath {
                        url: url.clone(),
                        probes,
                    });
                    break 'paths;
                }
            }
        }
        paths.push(CorsPath { url, probes });
    }
    if stopped.is_none() && session.halted() {
        stopped = Some(Refusal::Backoff.as_str());
    }
    let evidence = CorsEvidence {
        paths,
        requests: session.sent(),
        stopped,
    };
    let failure = evidence
        .unanswered()
        .or(halted_by_backoff(evidence.stopped));
    let (success, reason) = active_success(evidence.responses(), failure);
    Outcome {
        evidence: Evidence::Cors(evidence),
        success,
        reason,
        measurements: Vec::new(),
    }
}

/// A run the target's backoff (a 429, or a 503 with Retry-After) cut short did not complete:
/// not a success, reason `rate_limited` (as the checks it feeds say).
pub(crate) fn halted_by_backoff(stopped: Option<&'static str>) -> Option<&'static str> {
    (stopped == Some("backoff")).then_some("rate_limited")
}

/// blackbox-style success of an active probe: no request failed and every certificate verified.
pub(crate) fn active_success<'e>(
    responses: impl Iterator<Item = &'e Exchange>,
    failure: Option<&'static str>,
) -> (bool, Option<&'static str>) {
    if let Some(reason) = failure {
        return (false, Some(reason));
    }
    let unverified = responses
        .filter_map(|e| e.tls.as_ref())
        .find(|t| !t.verified());
    match unverified {
        Some(t) => (
            false,
            Some(t.verification.failure_reason().unwrap_or("tls")),
        ),
        None => (true, None),
    }
}
