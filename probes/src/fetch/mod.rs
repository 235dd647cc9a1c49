//! The `fetch` probe (CHECKS.md §0.1): the HTTPS main fetch with every redirect hop recorded,
//! the first response of `https://host/` when the target path differs, the plain-HTTP
//! chains from the target's `http_url`s, `/robots.txt` on the target origin (CHECKS.md §7
//! reads its cookies, as the Observatory's retriever does) and the target's `cookies.paths`.

mod body;
mod engine;
mod tap;

use std::collections::HashSet;

use http::header;
use url::Url;

pub use engine::{
    CLOSED_BEFORE_SENDING, CONNECT_TIMEOUT, Connection, Engine, MAX_ADDRESSES, REQUEST_TIMEOUT,
    RequestSpec, TLS_TIMEOUT,
};

use crate::context::ProbeContext;
use crate::evidence::{Chain, ChainEnd, Evidence, FetchEvidence, Hop};
use crate::measure::{GaugeDef, Measurement};
use crate::probe::{Outcome, ProbeKind};
use crate::target::Target;
use crate::tls::cert;

/// Body cap of the main fetch (CHECKS.md §0.1).
pub const MAIN_BODY_CAP: usize = 1024 * 1024;
/// Body cap of every other request (CHECKS.md §0.1).
pub const OTHER_BODY_CAP: usize = 64 * 1024;
/// Redirects followed at most (CHECKS.md §0.1).
pub const MAX_REDIRECTS: usize = 10;
/// The main fetch's `Accept` (as the Observatory's retriever).
pub const ACCEPT_HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// `probe_http_duration_seconds{phase}`.
pub static HTTP_DURATION: GaugeDef = GaugeDef {
    name: "http_duration_seconds",
    help: "Duration of the main HTTPS chain by phase, summed over redirect hops (blackbox)",
    labels: &["phase"],
};
/// `probe_http_status_code`.
pub static HTTP_STATUS: GaugeDef = GaugeDef {
    name: "http_status_code",
    help: "Status code of the main chain's final response, 0 if none (blackbox)",
    labels: &[],
};
/// `probe_http_redirects`.
pub static HTTP_REDIRECTS: GaugeDef = GaugeDef {
    name: "http_redirects",
    help: "Redirects followed by the main chain (blackbox)",
    labels: &[],
};
/// `probe_http_ssl`.
pub static HTTP_SSL: GaugeDef = GaugeDef {
    name: "http_ssl",
    help: "1 if the main chain's final response came over TLS (blackbox)",
    labels: &[],
};
/// `probe_http_version`.
pub static HTTP_VERSION: GaugeDef = GaugeDef {
    name: "http_version",
    help: "HTTP version of the main chain's final response, e.g. 1.1 or 2 (blackbox)",
    labels: &[],
};
/// `probe_ssl_earliest_cert_expiry`.
pub static SSL_EARLIEST_EXPIRY: GaugeDef = GaugeDef {
    name: "ssl_earliest_cert_expiry",
    help: "Earliest notAfter (Unix seconds) among the certificates as served, exported even when verification fails (blackbox)",
    labels: &[],
};
/// `probe_tls_version_info{version}`.
pub static TLS_VERSION_INFO: GaugeDef = GaugeDef {
    name: "tls_version_info",
    help: "Negotiated TLS version of the target's first HTTPS connection, as blackbox names it",
    labels: &["version"],
};

/// Gauges of the fetch probe.
pub static GAUGES: &[&GaugeDef] = &[
    &HTTP_DURATION,
    &HTTP_STATUS,
    &HTTP_REDIRECTS,
    &HTTP_SSL,
    &HTTP_VERSION,
    &SSL_EARLIEST_EXPIRY,
    &TLS_VERSION_INFO,
];

/// Follows `start` (or stops after the first response when `follow` is false).
async fn chain(
    target: &Target,
    cx: &ProbeContext<'_>,
    start: &Url,
    follow: bool,
    cap: usize,
) -> Chain {
    let mut hops: Vec<Hop> = Vec::new();
    let mut seen: HashSet<Url> = HashSet::new();
    let mut url = start.clone();
    url.set_fragment(None);
    let end = loop {
        seen.insert(url.clone());
        let spec = RequestSpec {
            credentials: target.credentials_for(ProbeKind::Fetch, &url),
            ..RequestSpec::get(&url, cap).header(header::ACCEPT, ACCEPT_HTML)
        };
        let hop = cx
            .engine
            .exchange(&spec, &target.tls, target.pin_for(&url), cx.deadline)
            .await;
        let next = hop.as_ref().ok().and_then(|e| e.redirect_target());
        let failed = hop.is_err();
        hops.push(hop);
        let Some(mut next) = next else {
            break if failed {
                ChainEnd::Failed
            } else {
                ChainEnd::Final
            };
        };
        next.set_fragment(None);
        if !follow {
            break ChainEnd::NotFollowed;
        }
        if seen.contains(&next) {
            break ChainEnd::Loop;
        }
        if hops.len() > MAX_REDIRECTS {
            break ChainEnd::HopLimit;
        }
        url = next;
    };
    Chain {
        start: start.clone(),
        hops,
        end,
    }
}

/// Runs the probe.
pub(crate) async fn run(target: &Target, cx: &ProbeContext<'_>) -> Outcome {
    let root = (target.url.scheme() == "https" && target.url.path() != "/").then(|| {
        let mut root = target.url.clone();
        root.set_path("/");
        root.set_query(None);
        root
    });
    let plain_target = target.url.scheme() == "http";
    let robots_url = target.url.join("/robots.txt").ok();
    let extra_urls: Vec<Url> = target
        .options
        .cookies
        .paths
        .iter()
        .filter_map(|p| target.url.join(p).ok())
        .collect();
    // robots.txt and the cookie pages go after the main chain on the same side, so at most two
    // requests stay in flight and the main fetch is always the target's first request.
    let main_fut = async {
        let main = chain(target, cx, &target.url, true, MAIN_BODY_CAP).await;
        // The same origin did not answer the main request: the others would fail alike (after
        // another full timeout, for a silent server). A 429, or a 503 with Retry-After, asks
        // for a pause (CHECKS.md §0.5): /robots.txt and the cookie pages wait too.
        if main.first().is_err() || main.responses().any(crate::backoff::triggers) {
            return (main, None, Vec::new());
        }
        let robots = match &robots_url {
            Some(url) => Some(chain(target, cx, url, false, OTHER_BODY_CAP).await),
            None => None,
        };
        let mut extra = Vec::with_capacity(extra_urls.len());
        for url in &extra_urls {
            extra.push(chain(target, cx, url, false, OTHER_BODY_CAP).await);
        }
        (main, robots, extra)
    };
    let http_fut = async {
        let mut chains = Vec::new();
        // A plain-HTTP target's own URL is the main chain, fetched once.
        for url in target
            .http_urls
            .iter()
            .filter(|u| !plain_target || **u != target.url)
        {
            chains.push(chain(target, cx, url, true, OTHER_BODY_CAP).await);
        }
        if let Some(root) = &root {
            return (
                chains,
                Some(chain(target, cx, root, false, OTHER_BODY_CAP).await),
            );
        }
        (chains, None)
    };
    // Two requests in flight at most: the main chain and the plain-HTTP side.
    let ((main, robots, extra), (mut http, root)) = tokio::join!(main_fut, http_fut);
    if plain_target {
        http.push(main.clone());
    }
    let evidence = FetchEvidence {
        main,
        root,
        http,
        robots,
        extra,
    };
    let (success, reason) = success(&evidence);
    let measurements = measure(&evidence);
    Outcome {
        evidence: Evidence::Fetch(evidence),
        success,
        reason,
        measurements,
    }
}

/// blackbox semantics: the main chain reached a final response and every HTTPS hop verified.
fn success(e: &FetchEvidence) -> (bool, Option<&'static str>) {
    if let Some(failure) = e.main.hops.iter().find_map(|h| h.as_ref().err()) {
        return (false, Some(failure.reason));
    }
    for hop in e.main.responses() {
        if let Some(tls) = &hop.tls
            && let Some(reason) = tls.verification.failure_reason()
        {
            return (false, Some(reason));
        }
    }
    match e.main.end {
        ChainEnd::Final => (true, None),
        ChainEnd::Loop => (false, Some("redirect_loop")),
        ChainEnd::HopLimit => (false, Some("too_many_redirects")),
        ChainEnd::Failed | ChainEnd::NotFollowed => (false, Some("no_response")),
    }
}

fn measure(e: &FetchEvidence) -> Vec<Measurement> {
    let mut m = Vec::new();
    for (phase, d) in e.main.timings().phases() {
        m.push(Measurement::labelled(
            &HTTP_DURATION,
            [phase],
            d.as_secs_f64(),
        ));
    }
    let last = e.main.final_response();
    m.push(Measurement::new(
        &HTTP_STATUS,
        last.map_or(0.0, |r| f64::from(r.status)),
    ));
    m.push(Measurement::new(&HTTP_REDIRECTS, e.main.redirects() as f64));
    m.push(Measurement::flag(
        &HTTP_SSL,
        last.is_some_and(|r| r.tls.is_some()),
    ));
    if let Some(r) = last {
        let v = match r.version {
            http::Version::HTTP_09 => 0.9,
            http::Version::HTTP_10 => 1.0,
            http::Version::HTTP_11 => 1.1,
            http::Version::HTTP_2 => 2.0,
            http::Version::HTTP_3 => 3.0,
            _ => 0.0,
        };
        m.push(Measurement::new(&HTTP_VERSION, v));
    }
    if let Some(tls) = e.main_tls() {
        if let Some(expiry) = cert::earliest_not_after(&tls.chain) {
            m.push(Measurement::new(&SSL_EARLIEST_EXPIRY, expiry as f64));
        }
        if let Some(v) = tls.version {
            let name = match v {
                "tls1.3" => "TLS 1.3",
                "tls1.2" => "TLS 1.2",
                "tls1.1" => "TLS 1.1",
                "tls1.0" => "TLS 1.0",
                other => other,
            };
            m.push(Measurement::labelled(&TLS_VERSION_INFO, [name], 1.0));
        }
    }
    m
}
