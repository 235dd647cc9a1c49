//! `https_redirect` (CHECKS.md §1): plain-HTTP visitors are sent to HTTPS, first on the same
//! host, never back to HTTP.

use url::Url;

use super::{CheckDef, CheckInput, Evaluation, dedup_findings};
use crate::evidence::{Chain, ChainEnd, Exchange, latin1};
use crate::measure::{GaugeDef, Measurement};
use crate::preload::PreloadList;
use crate::probe::ProbeKind;
use crate::target::normalize_host;
use crate::verdict::{Finding, FindingDef, Judgement, Severity};

/// Default `max_redirects` (CHECKS.md §1).
pub const DEFAULT_MAX_REDIRECTS: usize = 5;
/// hstspreload's `maxRedirects`.
const PRELOAD_MAX_HOPS: usize = 3;

/// Options of `https_redirect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectOptions {
    /// More hops than this raise `too_many_redirects`.
    pub max_redirects: usize,
}

impl Default for RedirectOptions {
    fn default() -> Self {
        RedirectOptions {
            max_redirects: DEFAULT_MAX_REDIRECTS,
        }
    }
}

const HTTP_NOT_SERVED: FindingDef = FindingDef::new("http_not_served", Severity::Info);
const NO_REDIRECT: FindingDef = FindingDef::new("no_redirect", Severity::High);
const FIRST_HOP_NOT_HTTPS: FindingDef = FindingDef::new("first_hop_not_https", Severity::Medium);
const FIRST_HOP_OFF_HOST: FindingDef = FindingDef::new("first_hop_off_host", Severity::Low);
const DOWNGRADE_IN_CHAIN: FindingDef = FindingDef::new("downgrade_in_chain", Severity::High);
const FINAL_NOT_HTTPS: FindingDef = FindingDef::new("final_not_https", Severity::High);
const INVALID_CERT_IN_CHAIN: FindingDef = FindingDef::new("invalid_cert_in_chain", Severity::High);
const HOP_UNREACHABLE: FindingDef = FindingDef::new("hop_unreachable", Severity::Medium);
const TOO_MANY_REDIRECTS: FindingDef = FindingDef::new("too_many_redirects", Severity::Medium);
const PRELOAD_HOPS_EXCEEDED: FindingDef = FindingDef::new("preload_hops_exceeded", Severity::Info);
const TEMPORARY_REDIRECT: FindingDef = FindingDef::new("temporary_redirect", Severity::Info);
const FINAL_ERROR_STATUS: FindingDef = FindingDef::new("final_error_status", Severity::Info);

static REDIRECT_HOPS: GaugeDef = GaugeDef {
    name: "redirect_hops",
    help: "Redirects followed from the first http_url",
    labels: &[],
};
static REDIRECT_FIRST_STATUS: GaugeDef = GaugeDef {
    name: "redirect_first_status_code",
    help: "Status of the first plain-HTTP response, 0 if not served",
    labels: &[],
};
static REDIRECT_FIRST_HOP_HTTPS: GaugeDef = GaugeDef {
    name: "redirect_first_hop_https",
    help: "1 if the first plain-HTTP redirect points to https",
    labels: &[],
};
static REDIRECT_FIRST_HOP_SAME_HOST: GaugeDef = GaugeDef {
    name: "redirect_first_hop_same_host",
    help: "1 if the first plain-HTTP redirect stays on the same host",
    labels: &[],
};
static REDIRECT_FINAL_HTTPS: GaugeDef = GaugeDef {
    name: "redirect_final_https",
    help: "1 if the plain-HTTP chain ends on an https URL",
    labels: &[],
};

/// The check.
pub static CHECK: CheckDef = CheckDef {
    id: "https_redirect",
    summary: "plain-HTTP visitors are redirected to HTTPS on the same host, never back to HTTP",
    inputs: &[ProbeKind::Fetch],
    findings: &[
        HTTP_NOT_SERVED,
        NO_REDIRECT,
        FIRST_HOP_NOT_HTTPS,
        FIRST_HOP_OFF_HOST,
        DOWNGRADE_IN_CHAIN,
        FINAL_NOT_HTTPS,
        INVALID_CERT_IN_CHAIN,
        HOP_UNREACHABLE,
        TOO_MANY_REDIRECTS,
        PRELOAD_HOPS_EXCEEDED,
        TEMPORARY_REDIRECT,
        FINAL_ERROR_STATUS,
    ],
    gauges: &[
        &REDIRECT_HOPS,
        &REDIRECT_FIRST_STATUS,
        &REDIRECT_FIRST_HOP_HTTPS,
        &REDIRECT_FIRST_HOP_SAME_HOST,
        &REDIRECT_FINAL_HTTPS,
    ],
    opt_in: false,
    scans_cycle: false,
    also_reads: &[],
    evaluate,
};

/// The facts and findings of one plain-HTTP chain.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainAnalysis {
    /// Findings, in catalogue order of discovery.
    pub findings: Vec<Finding>,
    /// The first request was answered.
    pub served: bool,
    /// Redirects followed.
    pub hops: usize,
    /// Status of the first response (0 if none).
    pub first_status: u16,
    /// The first redirect points to https.
    pub first_hop_https: bool,
    /// The first redirect stays on the request's host.
    pub first_hop_same_host: bool,
    /// The chain ends on an https URL.
    pub final_https: bool,
}

fn host_of(url: &Url) -> String {
    url.host_str().map(normalize_host).unwrap_or_default()
}

fn hop_line(e: &Exchange) -> String {
    let location = e
        .headers
        .get(http::header::LOCATION)
        .map(|l| format!(" Location: {}", latin1(l.as_bytes())))
        .unwrap_or_default();
    format!("GET {} → {}{location}", e.url, e.status)
}

/// Applies CHECKS.md §1 to one chain. Pure; also used by `hsts` for preload readiness.
pub fn analyze(
    chain: &Chain,
    opts: &RedirectOptions,
    preload: Option<&PreloadList>,
) -> ChainAnalysis {
    let mut a = ChainAnalysis {
        findings: Vec::new(),
        served: false,
        hops: chain.redirects(),
        first_status: 0,
        first_hop_https: false,
        first_hop_same_host: false,
        final_https: false,
    };
    let first = match chain.first() {
        Err(f) => {
            a.hops = 0;
            a.findings.push(Finding::new(
                &HTTP_NOT_SERVED,
                format!("GET {}: {} ({})", f.url, f.reason, f.detail),
            ));
            return a;
        }
        Ok(e) => e,
    };
    a.served = true;
    a.first_status = first.status;
    // A chain that stopped on a redirect it did not follow (a loop, the hop limit) goes on
    // to that redirect's Location: that is its last URL, and the redirect counts.
    let unfollowed = match (chain.end, chain.last()) {
        (ChainEnd::Loop | ChainEnd::HopLimit, Ok(e)) => e.redirect_target(),
        _ => None,
    };
    let last_url = match (&unfollowed, chain.last()) {
        (Some(next), _) => next,
        (None, Ok(e)) => &e.url,
        (None, Err(f)) => &f.url,
    };
    a.final_https = last_url.scheme() == "https";

    match first.redirect_target() {
        None => a.findings.push(Finding::new(&NO_REDIRECT, hop_line(first))),
        Some(target) => {
            a.first_hop_https = target.scheme() == "https";
            a.first_hop_same_host = host_of(&target) == host_of(&first.url);
            if !a.first_hop_https {
                a.findings
                    .push(Finding::new(&FIRST_HOP_NOT_HTTPS, hop_line(first)));
            } else if !a.first_hop_same_host {
                a.findings
                    .push(Finding::new(&FIRST_HOP_OFF_HOST, hop_line(first)));
            }
            if matches!(first.status, 302 | 303 | 307) {
                a.findings
                    .push(Finding::new(&TEMPORARY_REDIRECT, hop_line(first)));
            }
        }
    }

    for hop in chain.responses() {
        if hop.url.scheme() == "https"
            && let Some(next) = hop.redirect_target()
            && next.scheme() == "http"
        {
            a.findings
                .push(Finding::new(&DOWNGRADE_IN_CHAIN, hop_line(hop)));
            break;
        }
    }
    if (a.hops >= 1 || unfollowed.is_some()) && !a.final_https {
        let why = match chain.end {
            ChainEnd::Loop => format!("the chain loops back to {last_url}"),
            ChainEnd::HopLimit => format!("the chain is still at {last_url} at the hop limit"),
            _ => format!("chain ends at {last_url}"),
        };
        a.findings.push(Finding::new(&FINAL_NOT_HTTPS, why));
    }
    for hop in &chain.hops {
        let (url, tls) = match hop {
            Ok(e) => (&e.url, e.tls.as_ref()),
            Err(f) => (&f.url, f.tls.as_ref()),
        };
        if let Some(reason) = tls.and_then(|t| t.verification.failure_reason()) {
            a.findings.push(Finding::new(
                &INVALID_CERT_IN_CHAIN,
                format!("{url}: certificate {reason}"),
            ));
            break;
        }
    }
    // A hop whose certificate failed is `invalid_cert_in_chain` above, not unreachable, even when
    // a strict verifier (client certificates) ended its handshake.
    if let Some(f) = chain
        .hops
        .iter()
        .skip(1)
        .filter_map(|h| h.as_ref().err())
        .find(|f| !f.tls.as_ref().is_some_and(|t| t.cert_failed()))
    {
        a.findings.push(Finding::new(
            &HOP_UNREACHABLE,
            format!("GET {}: {} ({})", f.url, f.reason, f.detail),
        ));
    }
    let looped = chain.end == ChainEnd::Loop;
    if a.hops > opts.max_redirects || looped || chain.end == ChainEnd::HopLimit {
        let why = if looped {
            format!(
                "redirect loop: {} points back to {last_url}, an earlier URL of the chain, after {} redirects followed",
                chain.last().as_ref().map_or(last_url, |e| &e.url),
                a.hops
            )
        } else if chain.end == ChainEnd::HopLimit {
            format!(
                "more than {} redirects, the most the fetch follows (limit {})",
                a.hops, opts.max_redirects
            )
        } else {
            format!("{} redirects (limit {})", a.hops, opts.max_redirects)
        };
        a.findings.push(Finding::new(&TOO_MANY_REDIRECTS, why));
    }
    if a.hops > PRELOAD_MAX_HOPS {
        a.findings.push(Finding::new(
            &PRELOAD_HOPS_EXCEEDED,
            format!(
                "{} redirects (hstspreload allows {PRELOAD_MAX_HOPS})",
                a.hops
            ),
        ));
    }
    if let Some(last) = chain.final_response()
        && last.status >= 400
    {
        a.findings
            .push(Finding::new(&FINAL_ERROR_STATUS, hop_line(last)));
    }

    // Every host in the chain preloaded: browsers never make the plain-HTTP request.
    if let Some(list) = preload {
        let all_preloaded = chain.hops.iter().all(|h| {
            let url = match h {
                Ok(e) => &e.url,
                Err(f) => &f.url,
            };
            list.contains(&host_of(url))
        });
        if all_preloaded {
            for f in &mut a.findings {
                if matches!(
                    f.id,
                    "no_redirect" | "first_hop_not_https" | "first_hop_off_host"
                ) {
                    f.severity = Severity::Info;
                }
            }
        }
    }
    a
}

fn evaluate(input: &CheckInput<'_>) -> Evaluation {
    // The redirect lives on the plain-HTTP side: a maintenance 503 with Retry-After on the
    // HTTPS page says nothing about it. A limiter's answer (a 429, or a 503 with Retry-After,
    // CHECKS.md §0.5) to the first plain-HTTP request is not the site's redirect either.
    let fetch = match input.fetch_unjudged() {
        Ok(f) => f,
        Err(j) => return Evaluation::bare(j),
    };
    if fetch
        .http
        .first()
        .is_some_and(|c| c.first().as_ref().is_ok_and(crate::backoff::triggers))
    {
        return Evaluation::bare(Judgement::Error("rate_limited"));
    }
    let opts = &input.target.options.https_redirect;
    let preload = input.target.options.preload.as_deref();
    let analyses: Vec<ChainAnalysis> = fetch
        .http
        .iter()
        .map(|c| analyze(c, opts, preload))
        .collect();
    let Some(primary) = analyses.first() else {
        return Evaluation::bare(Judgement::Error("no_http_chain"));
    };
    let measurements = vec![
        Measurement::new(&REDIRECT_HOPS, primary.hops as f64),
        Measurement::new(&REDIRECT_FIRST_STATUS, f64::from(primary.first_status)),
        Measurement::flag(&REDIRECT_FIRST_HOP_HTTPS, primary.first_hop_https),
        Measurement::flag(&REDIRECT_FIRST_HOP_SAME_HOST, primary.first_hop_same_host),
        Measurement::flag(&REDIRECT_FINAL_HTTPS, primary.final_https),
    ];
    let mut findings: Vec<Finding> = analyses.into_iter().flat_map(|a| a.findings).collect();
    dedup_findings(&mut findings);
    Evaluation::new(Judgement::Evaluated(findings), measurements)
}
