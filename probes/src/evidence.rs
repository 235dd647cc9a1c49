//! Evidence: what probes observed, as plain data. Checks read it; nothing here judges.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

pub use crate::dns::DnsEvidence;
use crate::html::{HtmlFacts, Syntax};
use crate::measure::Measurement;
use crate::probe::ProbeKind;
use crate::tls::TlsFacts;
pub use crate::tls::probe::TlsEvidence;
pub use crate::tls::versions::VersionsEvidence;

/// Per-phase timings of one request (blackbox's `phase` label).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// DNS resolution.
    pub resolve: Duration,
    /// TCP connect.
    pub connect: Duration,
    /// TLS handshake.
    pub tls: Duration,
    /// Request sent until the response head arrived.
    pub processing: Duration,
    /// Response body read.
    pub transfer: Duration,
}

impl Timings {
    /// The phases in blackbox order, with their label values.
    pub fn phases(&self) -> [(&'static str, Duration); 5] {
        [
            ("resolve", self.resolve),
            ("connect", self.connect),
            ("tls", self.tls),
            ("processing", self.processing),
            ("transfer", self.transfer),
        ]
    }

    /// Sum of all phases.
    pub fn total(&self) -> Duration {
        self.phases().iter().map(|(_, d)| *d).sum()
    }

    /// Adds another request's phases (blackbox sums phases over redirect hops).
    pub fn add(&mut self, other: &Timings) {
        self.resolve += other.resolve;
        self.connect += other.connect;
        self.tls += other.tls;
        self.processing += other.processing;
        self.transfer += other.transfer;
    }
}

/// One HTTP request and its response.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The request method (evidence names it: a preflight's `OPTIONS`, a burst's `HEAD`).
    pub method: http::Method,
    /// The request URL.
    pub url: Url,
    /// The address connected to.
    pub remote: Option<SocketAddr>,
    /// HTTP version of the response.
    pub version: http::Version,
    /// Status code.
    pub status: u16,
    /// Response header fields; repeated field lines stay separate (`get_all`).
    pub headers: HeaderMap,
    /// Field lines left out of `headers` for a control byte in their value (CHECKS.md §0.2:
    /// invalid for their header, not an unreadable response). [`Exchange::field_lines`]
    /// puts them back in order.
    pub invalid_lines: Vec<InvalidLine>,
    /// Response body, decompressed, at most the probe's cap.
    pub body: Bytes,
    /// The body was longer than the cap (or its decompression was) and was cut.
    pub body_truncated: bool,
    /// The body was still arriving when the request's time ran out (a stalled or trickling
    /// body): the response came, the transfer did not finish.
    pub body_timed_out: bool,
    /// Timings of this request (connection phases are zero on a reused connection).
    pub timings: Timings,
    /// TLS facts of the connection, for `https` URLs.
    pub tls: Option<Arc<TlsFacts>>,
    /// Whether configured credential headers were sent with this request.
    pub credentials_sent: bool,
    /// `<meta>` facts when the response is HTML.
    pub html: Option<Arc<HtmlFacts>>,
}

impl Exchange {
    /// `METHOD url`, the request as evidence names it.
    pub fn request(&self) -> String {
        format!("{} {}", self.method, self.url)
    }

    /// Every valid field line of `name`, in order (without the [`InvalidLine`]s).
    pub fn header_lines<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a HeaderValue> + 'a {
        self.headers.get_all(name).iter()
    }

    /// Every field line of `name` as sent, in order, the invalid ones (a control byte in the
    /// value) among them: what the header checks read, so such a line makes its header's
    /// value invalid (CHECKS.md §0.2) rather than absent.
    pub fn field_lines<'a>(&'a self, name: &str) -> Vec<&'a [u8]> {
        let mut lines: Vec<&[u8]> = self.header_lines(name).map(HeaderValue::as_bytes).collect();
        let mut invalid: Vec<&InvalidLine> = self
            .invalid_lines
            .iter()
            .filter(|l| l.name.as_str().eq_ignore_ascii_case(name))
            .collect();
        invalid.sort_by_key(|l| l.rank);
        for l in invalid {
            lines.insert(l.rank.min(lines.len()), &l.value);
        }
        lines
    }

    /// The combined value (lines joined with `", "`, RFC 9110 §5.3), decoded as Latin-1.
    /// `None` when absent. Never use for `Set-Cookie`.
    pub fn combined(&self, name: &str) -> Option<String> {
        let lines = self.field_lines(name);
        if lines.is_empty() {
            return None;
        }
        Some(lines.into_iter().map(latin1).collect::<Vec<_>>().join(", "))
    }

    /// The media type essence of `Content-Type`, lower-cased (`text/html`), as Fetch's "extract
    /// a MIME type" reads it: every field line's values, the last valid one that is not `*/*`
    /// wins (two lines `application/json` then `text/html` render as HTML).
    pub fn media_type(&self) -> Option<String> {
        use crate::checks::header_list::{HeaderList, get_decode_split};
        let HeaderList::Values(values) = get_decode_split(self, "content-type") else {
            return None;
        };
        let token = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        };
        values
            .iter()
            .filter_map(|v| {
                let essence = v.split(';').next()?.trim_matches([' ', '\t', '\n', '\r']);
                let (ty, sub) = essence.split_once('/')?;
                (token(ty) && token(sub)).then(|| essence.to_ascii_lowercase())
            })
            .rfind(|e| e != "*/*")
    }

    /// `text/html` or `application/xhtml+xml` (where `<meta>` pragmas apply, CHECKS.md §0.2).
    pub fn is_html(&self) -> bool {
        matches!(
            self.media_type().as_deref(),
            Some("text/html" | "application/xhtml+xml")
        )
    }

    /// Whether a browser renders the response as a page: its media type is `text/html` or
    /// `application/xhtml+xml`, or it names none (no valid `Content-Type`, or
    /// `unknown/unknown`, `application/unknown`) and the body sniffs as HTML under WHATWG MIME
    /// Sniffing §7.1: an HTML tag (`<!DOCTYPE HTML`, `<html`, `<script`, `<p`, `<!--` …) at its
    /// start, after whitespace. Anything else, an empty or JSON body included, is `text/plain`
    /// to a browser, and so is every typeless body under `X-Content-Type-Options: nosniff`
    /// (§7 step 1: no scriptable sniffing).
    pub fn renders_as_html(&self) -> bool {
        match self.media_type().as_deref() {
            Some("text/html" | "application/xhtml+xml") => true,
            None | Some("unknown/unknown" | "application/unknown") => {
                !self.nosniff() && sniffs_as_html(&self.body)
            }
            Some(_) => false,
        }
    }

    /// `X-Content-Type-Options: nosniff` as Fetch's "determine nosniff" reads it.
    pub fn nosniff(&self) -> bool {
        use crate::checks::{header_list::get_decode_split, x_content_type_options::nosniff};
        nosniff(&get_decode_split(self, "x-content-type-options")) == Some(true)
    }

    /// The `<meta>` facts of an HTML or XHTML body, read with the parser its media type
    /// selects in browsers (CHECKS.md §0.2); `None` for other media types.
    pub fn parse_html(&self) -> Option<HtmlFacts> {
        match self.media_type().as_deref() {
            Some("text/html") => Some(HtmlFacts::parse_as(&self.body, Syntax::Html)),
            Some("application/xhtml+xml") => Some(HtmlFacts::parse_as(&self.body, Syntax::Xml)),
            _ => None,
        }
    }

    /// Whether the TLS certificate verified (false for plain HTTP).
    pub fn cert_verified(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.verified())
    }

    /// The redirect target per CHECKS.md §1: status 301/302/303/307/308 with a `Location` that
    /// resolves against the request URL (RFC 9110 §10.2.2, RFC 3986 §5).
    pub fn redirect_target(&self) -> Option<Url> {
        if !matches!(self.status, 301 | 302 | 303 | 307 | 308) {
            return None;
        }
        let location = self.headers.get(http::header::LOCATION)?;
        // Browsers read a raw non-ASCII Location as UTF-8 (IIS and ASP.NET send `/café`
        // unencoded), not as the Latin-1 of other fields: decoded as Latin-1, `é` would be
        // re-encoded as two characters and the redirect would lead elsewhere. Bytes that are
        // not UTF-8 are percent-encoded one by one.
        let location = match std::str::from_utf8(location.as_bytes()) {
            Ok(s) => s.to_owned(),
            Err(_) => location
                .as_bytes()
                .iter()
                .map(|&b| {
                    if b.is_ascii() {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect(),
        };
        let location = location.trim();
        if location.is_empty() {
            return None;
        }
        self.url.join(location).ok()
    }
}

/// Decodes header bytes as Latin-1 (CHECKS.md §0.2: values are bytes, never fail on non-UTF-8).
pub fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

/// Where a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// DNS.
    Resolve,
    /// TCP connect.
    Connect,
    /// TLS handshake.
    Tls,
    /// Sending the request or reading the response head.
    Processing,
    /// Reading the body.
    Transfer,
}

/// A request that did not produce a response.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The request URL.
    pub url: Url,
    /// The phase that failed.
    pub phase: Phase,
    /// Low-cardinality reason (`nxdomain`, `connect_refused`, `connect_timeout`,
    /// `tls_handshake`, `timeout`, `http_protocol` …).
    pub reason: &'static str,
    /// Human-readable detail (reports and debug logs only).
    pub detail: String,
    /// Timings of the phases that completed.
    pub timings: Timings,
    /// TLS facts when the handshake got as far as a certificate.
    pub tls: Option<Arc<TlsFacts>>,
}

/// One request of a chain: a response or a failure.
pub type Hop = Result<Exchange, Failure>;

/// Why a redirect chain stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainEnd {
    /// The last hop is a response that is not a redirect.
    Final,
    /// The last hop failed.
    Failed,
    /// The next `Location` was already visited.
    Loop,
    /// The hop limit was reached while still redirecting.
    HopLimit,
    /// Following was not requested (first response only).
    NotFollowed,
}

/// A request and the redirects followed from it, each hop recorded.
#[derive(Debug, Clone)]
pub struct Chain {
    /// The first URL.
    pub start: Url,
    /// Every request made, in order (at least one).
    pub hops: Vec<Hop>,
    /// Why it stopped.
    pub end: ChainEnd,
}

impl Chain {
    /// The first request's outcome.
    pub fn first(&self) -> &Hop {
        &self.hops[0]
    }

    /// The last request's outcome.
    pub fn last(&self) -> &Hop {
        self.hops.last().unwrap_or(&self.hops[0])
    }

    /// The final response, if the last request produced one.
    pub fn final_response(&self) -> Option<&Exchange> {
        self.last().as_ref().ok()
    }

    /// Number of redirects followed (hops after the first).
    pub fn redirects(&self) -> usize {
        self.hops.len().saturating_sub(1)
    }

    /// Every response of the chain.
    pub fn responses(&self) -> impl Iterator<Item = &Exchange> {
        self.hops.iter().filter_map(|h| h.as_ref().ok())
    }

    /// Sum of the phases over all hops.
    pub fn timings(&self) -> Timings {
        let mut t = Timings::default();
        for hop in &self.hops {
            match hop {
                Ok(e) => t.add(&e.timings),
                Err(f) => t.add(&f.timings),
            }
        }
        t
    }
}

/// Evidence of the `fetch` probe (CHECKS.md §0.1).
#[derive(Debug, Clone)]
pub struct FetchEvidence {
    /// Main fetch: `GET` the target URL over HTTPS, redirects followed.
    pub main: Chain,
    /// First response of `GET https://host/` when the target path is not `/` (hsts R1).
    pub root: Option<Chain>,
    /// The plain-HTTP chains from the target's `http_url`s.
    pub http: Vec<Chain>,
    /// `GET /robots.txt` on the target origin, not followed, body capped at 64 KiB (its
    /// `Set-Cookie` lines count for `cookies`, CHECKS.md §7).
    pub robots: Option<Chain>,
    /// First responses of the target's `cookies.paths` (not followed, body capped at 64 KiB),
    /// in configured order: pages such as a login form that set cookies the main URL does not.
    pub extra: Vec<Chain>,
}

impl FetchEvidence {
    /// Every response of the cycle's fetch (for checks that scan all responses), each once: a
    /// plain-HTTP target's main chain is also its HTTP chain (for https_redirect), and is not
    /// counted twice.
    pub fn responses(&self) -> impl Iterator<Item = &Exchange> {
        self.main
            .responses()
            .chain(self.root.iter().flat_map(|c| c.responses()))
            .chain(
                self.http
                    .iter()
                    .filter(|c| c.start != self.main.start)
                    .flat_map(|c| c.responses()),
            )
            .chain(self.robots.iter().flat_map(|c| c.responses()))
            .chain(self.extra.iter().flat_map(|c| c.responses()))
    }

    /// TLS facts of the first HTTPS request of the main chain.
    pub fn main_tls(&self) -> Option<&Arc<TlsFacts>> {
        match self.main.first() {
            Ok(e) => e.tls.as_ref(),
            Err(f) => f.tls.as_ref(),
        }
    }
}

/// Evidence of the `health` probe (CHECKS.md §11).
#[derive(Debug, Clone)]
pub struct HealthEvidence {
    /// The health URL.
    pub url: Url,
    /// The response, or why there is none.
    pub outcome: Hop,
    /// Request start until the body was fully read.
    pub latency: Duration,
}

/// A probe's evidence.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Evidence {
    /// `fetch`.
    Fetch(FetchEvidence),
    /// `health`.
    Health(HealthEvidence),
    /// `tls`.
    Tls(TlsEvidence),
    /// `tls_versions`.
    TlsVersions(VersionsEvidence),
    /// `dns`.
    Dns(DnsEvidence),
    /// `cors`.
    Cors(crate::cors::CorsEvidence),
    /// `unknown_path`.
    UnknownPath(crate::unknown_path::UnknownPathEvidence),
    /// `paths`.
    Paths(crate::paths::PathsEvidence),
    /// `rate_limit`.
    RateLimit(Box<crate::rate_limit::RateLimitEvidence>),
    /// The run was cut at its timeout before the probe produced evidence.
    TimedOut,
}

impl Evidence {
    /// Every HTTP response this evidence holds, in request order. Checks that scan "every
    /// response of the cycle" (server_disclosure, error_disclosure) and the backoff rule
    /// (CHECKS.md §0.5) read responses through this, so a new probe only extends this match.
    pub fn responses(&self) -> Box<dyn Iterator<Item = &Exchange> + '_> {
        match self {
            Evidence::Fetch(f) => Box::new(f.responses()),
            Evidence::Health(h) => Box::new(h.outcome.as_ref().ok().into_iter()),
            // No HTTP responses from the target (the tls probe's AIA fetch goes to the CA).
            Evidence::Tls(_) | Evidence::TlsVersions(_) | Evidence::Dns(_) => {
                Box::new(std::iter::empty())
            }
            Evidence::Cors(c) => Box::new(c.responses()),
            Evidence::UnknownPath(u) => Box::new(u.responses()),
            Evidence::Paths(p) => Box::new(p.responses()),
            Evidence::RateLimit(r) => Box::new(r.responses()),
            Evidence::TimedOut => Box::new(std::iter::empty()),
        }
    }
}

/// One run of one probe against one target.
#[derive(Debug, Clone)]
pub struct ProbeRun {
    /// Which probe.
    pub kind: ProbeKind,
    /// Wall-clock start.
    pub started_at: SystemTime,
    /// How long the run took.
    pub duration: Duration,
    /// blackbox's `probe_success`: the network work completed and, for HTTPS, the certificate
    /// verified.
    pub success: bool,
    /// Low-cardinality reason when not successful.
    pub reason: Option<&'static str>,
    /// The evidence.
    pub evidence: Evidence,
    /// Probe-level gauges (`probe_http_*`, `probe_ssl_*` …).
    pub measurements: Vec<Measurement>,
}

/// The newest run of each probe of one target: the input of every check.
#[derive(Debug, Clone, Default)]
pub struct EvidenceSet {
    runs: BTreeMap<ProbeKind, Arc<ProbeRun>>,
}

impl EvidenceSet {
    /// Stores a run, replacing the previous one of the same probe.
    pub fn insert(&mut self, run: Arc<ProbeRun>) {
        self.runs.insert(run.kind, run);
    }

    /// The newest run of `kind`.
    pub fn run(&self, kind: ProbeKind) -> Option<&Arc<ProbeRun>> {
        self.runs.get(&kind)
    }

    /// Every response of the cycle: the newest run of each probe, in probe order.
    pub fn responses(&self) -> impl Iterator<Item = &Exchange> {
        self.runs.values().flat_map(|r| r.evidence.responses())
    }

    /// The newest `fetch` evidence.
    pub fn fetch(&self) -> Option<&FetchEvidence> {
        match &self.run(ProbeKind::Fetch)?.evidence {
            Evidence::Fetch(f) => Some(f),
            _ => None,
        }
    }

    /// The newest `health` evidence.
    pub fn health(&self) -> Option<&HealthEvidence> {
        match &self.run(ProbeKind::Health)?.evidence {
            Evidence::Health(h) => Some(h),
            _ => None,
        }
    }

    /// The newest `tls` evidence.
    pub fn tls(&self) -> Option<&TlsEvidence> {
        match &self.run(ProbeKind::Tls)?.evidence {
            Evidence::Tls(t) => Some(t),
            _ => None,
        }
    }

    /// The newest `cors` evidence.
    pub fn cors(&self) -> Option<&crate::cors::CorsEvidence> {
        match &self.run(ProbeKind::Cors)?.evidence {
            Evidence::Cors(c) => Some(c),
            _ => None,
        }
    }

    /// The newest `tls_versions` evidence.
    pub fn tls_versions(&self) -> Option<&VersionsEvidence> {
        match &self.run(ProbeKind::TlsVersions)?.evidence {
            Evidence::TlsVersions(t) => Some(t),
            _ => None,
        }
    }

    /// The newest `unknown_path` evidence.
    pub fn unknown_path(&self) -> Option<&crate::unknown_path::UnknownPathEvidence> {
        match &self.run(ProbeKind::UnknownPath)?.evidence {
            Evidence::UnknownPath(u) => Some(u),
            _ => None,
        }
    }

    /// The newest `dns` evidence.
    pub fn dns(&self) -> Option<&DnsEvidence> {
        match &self.run(ProbeKind::Dns)?.evidence {
            Evidence::Dns(d) => Some(d),
            _ => None,
        }
    }

    /// The newest `paths` evidence.
    pub fn paths(&self) -> Option<&crate::paths::PathsEvidence> {
        match &self.run(ProbeKind::Paths)?.evidence {
            Evidence::Paths(p) => Some(p),
            _ => None,
        }
    }

    /// The newest `rate_limit` evidence.
    pub fn rate_limit(&self) -> Option<&crate::rate_limit::RateLimitEvidence> {
        match &self.run(ProbeKind::RateLimit)?.evidence {
            Evidence::RateLimit(r) => Some(r.as_ref()),
            _ => None,
        }
    }
}

/// A response field line whose value holds a control byte other than HTAB, which the HTTP
/// parser leaves out of the header map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidLine {
    /// Field name (lower case).
    pub name: http::HeaderName,
    /// Its position among the lines of that name, valid ones included.
    pub rank: usize,
    /// The value as sent, trimmed of surrounding spaces and tabs.
    pub value: bytes::Bytes,
}

/// A configured request header (credential): its value is marked sensitive so it never
/// appears in `Debug` output.
#[derive(Clone)]
pub struct Credential {
    /// Header name.
    pub name: HeaderName,
    /// Header value (sensitive).
    pub value: HeaderValue,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: <redacted>", self.name)
    }
}

/// WHATWG MIME Sniffing §7.1, the HTML rows of "rules for identifying an unknown MIME type"
/// with the sniff-scriptable flag: after leading whitespace, one of these (ASCII
/// case-insensitive) followed by a space or `>`, within the first 1445 bytes.
fn sniffs_as_html(body: &[u8]) -> bool {
    const PATTERNS: &[&[u8]] = &[
        b"<!doctype html",
        b"<html",
        b"<head",
        b"<script",
        b"<iframe",
        b"<h1",
        b"<div",
        b"<font",
        b"<table",
        b"<a",
        b"<style",
        b"<title",
        b"<b",
        b"<body",
        b"<br",
        b"<p",
        b"<!--",
    ];
    let header = &body[..body.len().min(1445)];
    let start = header
        .iter()
        .position(|b| !matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' '))
        .unwrap_or(header.len());
    let rest = &header[start..];
    PATTERNS.iter().any(|p| {
        rest.len() > p.len()
            && rest[..p.len()].eq_ignore_ascii_case(p)
            && matches!(rest[p.len()], b' ' | b'>')
    })
}

#[cfg(test)]
mod tests {
    use crate::checks::test_support::exchange_at;

    fn redirect(location: &[u8]) -> Option<String> {
        let mut e = exchange_at("https://shop.example/a/b", &[], "");
        e.status = 302;
        e.headers.insert(
            http::header::LOCATION,
            http::HeaderValue::from_bytes(location).unwrap(),
        );
        e.redirect_target().map(|u| u.to_string())
    }

    #[test]
    fn location_resolves_per_rfc_3986_and_reads_raw_utf8_as_browsers_do() {
        assert_eq!(redirect(b"../c").as_deref(), Some("https://shop.example/c"));
        assert_eq!(
            redirect("/café".as_bytes()).as_deref(),
            Some("https://shop.example/caf%C3%A9")
        );
        assert_eq!(
            redirect("https://bücher.example/".as_bytes()).as_deref(),
            Some("https://xn--bcher-kva.example/")
        );
        // Latin-1 bytes that are not UTF-8: percent-encoded as they are.
        assert_eq!(
            redirect(b"/caf\xe9").as_deref(),
            Some("https://shop.example/caf%E9")
        );
        assert_eq!(redirect(b"  "), None);
    }

    /// Fetch "extract a MIME type": the last valid value that is not `*/*` wins, across field
    /// lines and comma-separated values.
    #[test]
    fn a_typeless_body_renders_as_html_only_when_it_sniffs_as_html() {
        let e = |headers: &[(&str, &str)], body: &str| {
            crate::checks::test_support::exchange(headers, body).renders_as_html()
        };
        for body in [
            "<!DOCTYPE html>\n<p>x",
            "\r\n  <HTML lang=en>",
            "<p>hi</p>",
            "<!-- c -->",
            "<script>1</script>",
        ] {
            assert!(e(&[], body), "{body:?}");
            assert!(
                e(&[("content-type", "application/unknown")], body),
                "{body:?}"
            );
            assert!(
                !e(&[("x-content-type-options", "nosniff")], body),
                "{body:?}"
            );
            assert!(!e(&[("content-type", "text/plain")], body), "{body:?}");
        }
        for body in [
            "",
            "{\"status\":\"ok\"}",
            "ok",
            "<?xml version=\"1.0\"?><html>",
            "<pre>x</pre>",
            "<html",
            "\u{feff}<html>",
        ] {
            assert!(!e(&[], body), "{body:?}");
        }
        assert!(e(&[("content-type", "text/html")], ""));
        assert!(e(&[("content-type", "application/xhtml+xml")], "{}"));
    }

    #[test]
    fn media_type_is_the_last_valid_content_type_value() {
        let cases: &[(&[&str], Option<&str>)] = &[
            (&["text/html; charset=utf-8"], Some("text/html")),
            (&["application/json", "text/html"], Some("text/html")),
            (&["text/html", "application/json"], Some("application/json")),
            (&["text/html, */*"], Some("text/html")),
            (&["text/html", "nonsense"], Some("text/html")),
            (&["text/plain;a=\"x,y\", text/HTML"], Some("text/html")),
            (&["text/html;a=\"x, application/json\""], Some("text/html")),
            (&["nonsense"], None),
            (&[], None),
        ];
        for (lines, expected) in cases {
            let headers: Vec<(&str, &str)> = lines.iter().map(|l| ("content-type", *l)).collect();
            let e = exchange_at("https://shop.example/", &headers, "");
            assert_eq!(e.media_type().as_deref(), *expected, "{lines:?}");
        }
    }
}
