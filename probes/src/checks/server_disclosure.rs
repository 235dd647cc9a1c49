//! `server_disclosure` (CHECKS.md §15): response headers do not advertise software versions
//! (OWASP Secure Headers Project `headers_remove.json`). Every response of the cycle is read.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::LazyLock;

use regex::Regex;

use super::header_list::{bounded, combined};
use super::{CheckDef, CheckInput, Evaluation};
use crate::evidence::{Exchange, latin1};
use crate::measure::{GaugeDef, Measurement};
use crate::probe::ProbeKind;
use crate::verdict::{Finding, FindingDef, Judgement, Severity};

const SERVER_VERSION: FindingDef = FindingDef::new("server_version", Severity::Low);
const X_POWERED_BY: FindingDef = FindingDef::new("x_powered_by", Severity::Low);
const ASPNET_VERSION: FindingDef = FindingDef::new("aspnet_version", Severity::Low);
const OTHER_VERSION_HEADER: FindingDef = FindingDef::new("other_version_header", Severity::Low);
const DEBUG_TOKEN: FindingDef = FindingDef::new("debug_token", Severity::Low);
const SERVER_BANNER: FindingDef = FindingDef::new("server_banner", Severity::Info);
const VIA_VERSION: FindingDef = FindingDef::new("via_version", Severity::Info);
const META_GENERATOR: FindingDef = FindingDef::new("meta_generator", Severity::Info);

static DISCLOSURE_HEADERS: GaugeDef = GaugeDef {
    name: "server_disclosure_headers",
    help: "Distinct response headers of the cycle that disclose software or versions",
    labels: &[],
};
static SERVER_HAS_VERSION: GaugeDef = GaugeDef {
    name: "server_header_has_version",
    help: "1 if a Server header of the cycle carries a version",
    labels: &[],
};
static BANNER_INFO: GaugeDef = GaugeDef {
    name: "server_banner_info",
    help: "Server header of the final response (truncated to 64 bytes)",
    labels: &["server"],
};

/// The check.
pub static CHECK: CheckDef = CheckDef {
    id: "server_disclosure",
    summary: "response headers do not advertise software versions",
    inputs: &[ProbeKind::Fetch],
    findings: &[
        SERVER_VERSION,
        X_POWERED_BY,
        ASPNET_VERSION,
        OTHER_VERSION_HEADER,
        DEBUG_TOKEN,
        SERVER_BANNER,
        VIA_VERSION,
        META_GENERATOR,
    ],
    gauges: &[&DISCLOSURE_HEADERS, &SERVER_HAS_VERSION, &BANNER_INFO],
    opt_in: false,
    scans_cycle: true,
    also_reads: &[],
    evaluate,
};

/// Headers of the OWASP Secure Headers Project remove list (`ci/headers_remove.json`, as of
/// 2024-09) not judged by their own rule, plus `X-Backend-Server`; a version-bearing value
/// raises `other_version_header`. Most of them usually carry ids, flags or addresses, which
/// [`version_bearing`] and the address exception below leave alone.
pub const VERSION_HEADERS: &[&str] = &[
    "$wsep",
    "host-header",
    "k-proxy-request",
    "liferay-portal",
    "oraclecommercecloud-version",
    "pega-host",
    "powered-by",
    "product",
    "sourcemap",
    "x-atmosphere-error",
    "x-atmosphere-first-request",
    "x-atmosphere-tracking-id",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-spanid",
    "x-b3-traceid",
    "x-backend-server",
    "x-backside-transport",
    "x-beserver",
    "x-calculatedbetarget",
    "x-cf-powered-by",
    "x-cms",
    "x-cocoon-version",
    "x-content-encoded-by",
    "x-diaginfo",
    "x-dtagentid",
    "x-dthealthcheck",
    "x-dtinjectedservlet",
    "x-envoy-attempt-count",
    "x-envoy-external-address",
    "x-envoy-internal",
    "x-envoy-original-dst-host",
    "x-envoy-upstream-service-time",
    "x-feserver",
    "x-framework",
    "x-generated-by",
    "x-generator",
    "x-jitsi-release",
    "x-joomla-version",
    "x-kubernetes-pf-flowschema-uid",
    "x-kubernetes-pf-prioritylevel-uid",
    "x-litespeed-cache",
    "x-litespeed-cache-control",
    "x-litespeed-purge",
    "x-litespeed-tag",
    "x-litespeed-vary",
    "x-mod-pagespeed",
    "x-nextjs-cache",
    "x-nextjs-matched-path",
    "x-nextjs-page",
    "x-nextjs-redirect",
    "x-old-content-length",
    "x-oneagent-js-injection",
    "x-owa-version",
    "x-page-speed",
    "x-php-version",
    "x-powered-by-plesk",
    "x-powered-cms",
    "x-redirect-by",
    "x-ruxit-js-agent",
    "x-server-powered-by",
    "x-sourcefiles",
    "x-sourcemap",
    "x-turbo-charged-by",
    "x-umbraco-version",
    "x-varnish-backend",
    "x-varnish-server",
];

/// CDN and load-balancer banners that name no software version: they raise neither
/// `server_banner` nor `server_version` (CHECKS.md §15 default allow-list, info only), compared
/// ASCII case-insensitively with the whole trimmed `Server` value. `awselb/2.0` (AWS ALB) and
/// `Microsoft-Azure-Application-Gateway/v2` carry a service generation, not a software
/// release; Edgecast / Azure CDN's `ECS (pop/code)` is matched by [`banner_allow_listed`].
pub const BANNER_ALLOW_LIST: &[&str] = &[
    "cloudflare",
    "amazons3",
    "cloudfront",
    "akamaighost",
    "akamainetstorage",
    "google frontend",
    "gws",
    "esf",
    "vercel",
    "netlify",
    "github.com",
    "awselb/2.0",
    "microsoft-azure-application-gateway/v2",
];

/// Edgecast / Azure CDN: `ECS (dcb/7F83)`, the parenthesised part a POP code, not a version.
static ECS_POP_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^ECS \([a-z0-9]+/[0-9a-f]+\)$").expect("valid ECS regex"));

/// Whether a `Server` value is on the default allow-list (CHECKS.md §15): an entry of
/// [`BANNER_ALLOW_LIST`], or Edgecast's `ECS (pop/code)` with any POP code.
pub fn banner_allow_listed(server: &str) -> bool {
    let server = server.trim();
    BANNER_ALLOW_LIST
        .iter()
        .any(|b| b.eq_ignore_ascii_case(server))
        || ECS_POP_RE.is_match(server)
}

static VERSION_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[a-z][\w.+-]*/v?\d+(?:\.\d+)*|\b\d+\.\d+(?:\.\d+)*\b")
        .expect("valid version regex")
});

/// Whether a header value names a version (CHECKS.md §15), reading at most 64 KiB of it.
pub fn version_bearing(value: &str) -> bool {
    let end = floor_boundary(value, super::header_list::MAX_HEADER_BYTES);
    VERSION_RE.is_match(&value[..end])
}

fn floor_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A received-protocol (RFC 9110 §7.6.3: `[protocol-name "/"] protocol-version`), as the first
/// of several tokens: `1.1`, `2`, `HTTP/1.1`, `name/version`.
static RECEIVED_PROTOCOL_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+|\d+(?:\.\d+)?)$")
        .expect("valid received-protocol regex")
});

/// A lone token that is only a protocol (`1.1`, `HTTP/1.1`), not a product.
static LONE_PROTOCOL_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^(?:HTTP/)?\d+(?:\.\d+)?$").expect("valid protocol regex"));

/// An IPv4 or IPv6 literal, bracketed or not, with an optional port: a received-by that
/// names a host, not a product.
fn is_ip_literal(token: &str) -> bool {
    token.parse::<IpAddr>().is_ok()
        || token.parse::<SocketAddr>().is_ok()
        || token
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .is_some_and(|t| t.parse::<Ipv6Addr>().is_ok())
}

/// Whether a `Via` value names a product version. Each element is `received-protocol RWS
/// received-by [RWS comment]` (RFC 9110 §7.6.3): the received-protocol (`1.1`, `HTTP/2`) is
/// skipped, an IP-literal received-by is ignored, and the rest and the comment are read. An
/// element with a single token before its comment lacks one of the two, so that token is read
/// as the product (Kong sends `Via: kong/2.8.1`) unless it is only a protocol or an address.
pub fn via_names_version(value: &str) -> bool {
    value.split(',').any(|element| {
        let (head, comment) = element.split_at(element.find('(').unwrap_or(element.len()));
        let tokens: Vec<&str> = head.split([' ', '\t']).filter(|t| !t.is_empty()).collect();
        let named: &[&str] = match tokens.as_slice() {
            [lone] if LONE_PROTOCOL_RE.is_match(lone) => &[],
            [first, rest @ ..] if !rest.is_empty() && RECEIVED_PROTOCOL_RE.is_match(first) => rest,
            all => all,
        };
        named
            .iter()
            .any(|t| !is_ip_literal(t) && version_bearing(t))
            || version_bearing(comment)
    })
}

fn evaluate(input: &CheckInput<'_>) -> Evaluation {
    let (_, final_response) = match input.judged_response() {
        Ok(r) => r,
        Err(j) => return Evaluation::bare(j),
    };
    let (findings, m) = judge(input.evidence.responses(), final_response);
    Evaluation::new(Judgement::Evaluated(findings), m)
}

/// Judges every response of the cycle; `final_response` labels `server_banner_info`.
pub fn judge<'a>(
    responses: impl Iterator<Item = &'a Exchange>,
    final_response: &Exchange,
) -> (Vec<Finding>, Vec<Measurement>) {
    let mut findings: Vec<Finding> = Vec::new();
    let mut seen: BTreeSet<(&'static str, String)> = BTreeSet::new();
    let mut headers: BTreeSet<String> = BTreeSet::new();
    let mut server_version = false;
    // One finding per disclosed value, shown with the first response that carried it: the
    // same `Server: nginx/1.25.3` on every URL of the cycle is one fact.
    let mut push = |def: &FindingDef, header: &str, disclosed: String, r: &Exchange| {
        headers.insert(header.to_owned());
        let evidence = format!("{disclosed} ({})", r.request());
        // Symfony's profiler token is new on every response: its presence is the fact, one
        // finding per header.
        let key = if def.id == DEBUG_TOKEN.id {
            header.to_owned()
        } else {
            disclosed
        };
        if seen.insert((def.id, key)) {
            findings.push(Finding::new(def, evidence));
        }
    };
    for r in responses {
        let shown = |name: &str, v: &str| format!("{name}: {v}");
        if let Some(v) = combined(r, "server").filter(|v| !banner_allow_listed(v)) {
            if version_bearing(&v) {
                server_version = true;
                push(&SERVER_VERSION, "server", shown("Server", &v), r);
            } else {
                push(&SERVER_BANNER, "server", shown("Server", &v), r);
            }
        }
        if let Some(v) = combined(r, "x-powered-by") {
            push(&X_POWERED_BY, "x-powered-by", shown("X-Powered-By", &v), r);
        }
        for name in ["x-aspnet-version", "x-aspnetmvc-version"] {
            if let Some(v) = combined(r, name) {
                push(&ASPNET_VERSION, name, shown(name, &v), r);
            }
        }
        for name in VERSION_HEADERS {
            // An address list (`X-Envoy-External-Address: 10.1.2.3`) names hosts, not software.
            if let Some(v) = combined(r, name)
                && version_bearing(&v)
                && !v.split(',').all(|a| is_ip_literal(a.trim()))
            {
                push(&OTHER_VERSION_HEADER, name, shown(name, &v), r);
            }
        }
        for name in ["x-debug-token", "x-debug-token-link"] {
            if let Some(v) = combined(r, name) {
                push(&DEBUG_TOKEN, name, shown(name, &v), r);
            }
        }
        if let Some(v) = combined(r, "via")
            && via_names_version(&v)
        {
            push(&VIA_VERSION, "via", shown("Via", &v), r);
        }
        if let Some(html) = &r.html {
            for m in html.named("generator") {
                if let Some(c) = m.content.as_deref().filter(|c| version_bearing(c)) {
                    push(
                        &META_GENERATOR,
                        "meta generator",
                        format!("<meta name=\"generator\" content=\"{c}\">"),
                        r,
                    );
                }
            }
        }
    }
    let mut m = vec![
        Measurement::new(&DISCLOSURE_HEADERS, headers.len() as f64),
        Measurement::flag(&SERVER_HAS_VERSION, server_version),
    ];
    if let Some(s) = final_response.headers.get("server") {
        m.push(Measurement::labelled(
            &BANNER_INFO,
            [latin1(bounded(s.as_bytes())).trim().to_owned()],
            1.0,
        ));
    }
    (findings, m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_bearing_values() {
        for v in [
            "nginx/1.25.3",
            "Apache/2.4.57 (Debian)",
            "PHP/8.2",
            "Microsoft-IIS/10.0",
            "express 4.18.2",
            "v/v2",
        ] {
            assert!(version_bearing(v), "{v}");
        }
        for v in ["nginx", "cloudflare", "Apache", "gunicorn", "AmazonS3"] {
            assert!(!version_bearing(v), "{v}");
        }
    }

    #[test]
    fn a_debug_token_new_on_every_response_is_one_finding_per_header() {
        use crate::checks::test_support::exchange_at;
        // Symfony's WebProfilerBundle: a fresh token on each of the cycle's responses.
        let responses: Vec<_> = (0..40)
            .map(|i| {
                exchange_at(
                    &format!("https://example.test/p{i}"),
                    &[
                        ("x-debug-token", &format!("{i:06x}")),
                        (
                            "x-debug-token-link",
                            &format!("https://example.test/_profiler/{i:06x}"),
                        ),
                    ],
                    "",
                )
            })
            .collect();
        let (findings, _) = judge(responses.iter(), &responses[0]);
        let tokens: Vec<&str> = findings
            .iter()
            .filter(|f| f.id == "debug_token")
            .map(|f| f.evidence.as_str())
            .collect();
        assert_eq!(tokens.len(), 2, "{tokens:?}");
        assert!(tokens[0].starts_with("x-debug-token: 000000"), "{tokens:?}");
    }

    #[test]
    fn one_finding_per_disclosed_value_whatever_the_number_of_responses() {
        use crate::checks::test_support::exchange_at;
        let a = exchange_at("https://example.test/", &[("server", "nginx/1.25.3")], "");
        let b = exchange_at(
            "https://example.test/robots.txt",
            &[("server", "nginx/1.25.3")],
            "",
        );
        let c = exchange_at(
            "https://example.test/api",
            &[("server", "nginx/1.27.0")],
            "",
        );
        let (findings, _) = judge([&a, &b, &c].into_iter(), &a);
        let evidence: Vec<&str> = findings.iter().map(|f| f.evidence.as_str()).collect();
        assert_eq!(
            evidence,
            [
                "Server: nginx/1.25.3 (GET https://example.test/)",
                "Server: nginx/1.27.0 (GET https://example.test/api)"
            ]
        );
    }

    #[test]
    fn via_skips_the_received_protocol() {
        assert!(!via_names_version("1.1 varnish"));
        assert!(!via_names_version(
            "1.1 abc.cloudfront.net (CloudFront), 2.0 vegur"
        ));
        assert!(via_names_version("1.1 proxy.example (squid/5.7)"));
        assert!(via_names_version("HTTP/1.1 gateway (Apache/2.4.1)"));
        assert!(!via_names_version(""));
    }

    #[test]
    fn via_without_a_protocol_token_is_read_as_a_product() {
        // Kong's malformed element: a lone product token (RFC 9110 §7.6.3 wants two).
        assert!(via_names_version("kong/2.8.1"));
        assert!(via_names_version("1.1 varnish, kong/2.8.1"));
        assert!(via_names_version("kong/2.8.1 (gateway)"));
        assert!(via_names_version("1.1 kong/3.4.2"));
        // A lone protocol or address names no product.
        assert!(!via_names_version("1.1"));
        assert!(!via_names_version("HTTP/1.1"));
        assert!(!via_names_version("10.0.4.17"));
    }

    #[test]
    fn via_ip_literal_received_by_is_not_a_version() {
        for v in [
            "1.1 10.0.4.17",
            "1.1 10.0.4.17:8080",
            "1.0 fred, 1.1 192.168.1.1",
            "HTTP/1.1 [2001:db8::1]:443",
            "2 [::1]",
            "1.1 2001:db8::1",
            "1.1 10.0.4.17 (proxy)",
        ] {
            assert!(!via_names_version(v), "{v}");
        }
        assert!(via_names_version("1.1 10.0.4.17 (squid/5.7)"));
        assert!(via_names_version("1.1 app-1.2.example"));
    }

    fn server_ids(server: &str) -> Vec<&'static str> {
        let e = crate::checks::test_support::exchange(&[("server", server)], "");
        judge(std::iter::once(&e), &e)
            .0
            .iter()
            .map(|f| f.id)
            .collect()
    }

    #[test]
    fn versionless_infrastructure_banners_are_allow_listed() {
        for banner in [
            "awselb/2.0",
            "AWSELB/2.0",
            "Microsoft-Azure-Application-Gateway/v2",
            "ECS (dcb/7F83)",
            "ECS (nyb/1D2E)",
            "cloudflare",
        ] {
            assert_eq!(server_ids(banner), Vec::<&str>::new(), "{banner}");
        }
        for banner in [
            "awselb/2.1",
            "ECS (dcb/7F83) nginx/1.25.3",
            "ECS",
            "Microsoft-Azure-Application-Gateway/v3",
        ] {
            assert!(!server_ids(banner).is_empty(), "{banner}");
        }
    }
}
