//! A target: one configured service, resolved into everything the probes and checks need.

use std::net::IpAddr;
use std::sync::Arc;

use url::{Host, Url};

use crate::checks::cookies::CookieOptions;
use crate::checks::cors::CorsOptions;
use crate::checks::dns::DnsOptions;
use crate::checks::error_disclosure::ErrorDisclosureOptions;
use crate::checks::exposed_paths::ExposedPathsOptions;
use crate::checks::health::HealthOptions;
use crate::checks::hsts::HstsOptions;
use crate::checks::https_redirect::RedirectOptions;
use crate::checks::rate_limit::RateLimitOptions;
use crate::checks::tls_cert::TlsCertOptions;
use crate::checks::tls_version::TlsVersionOptions;
use crate::checks::{self, CheckDef};
use crate::evidence::Credential;
use crate::preload::PreloadList;
use crate::probe::ProbeKind;
use crate::tls::TlsClient;
use crate::verdict::Severity;

/// Per-check options of a target.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// `https_redirect` (CHECKS.md §1).
    pub https_redirect: RedirectOptions,
    /// `hsts` (CHECKS.md §2).
    pub hsts: HstsOptions,
    /// `health` (CHECKS.md §11).
    pub health: HealthOptions,
    /// `tls_cert` (CHECKS.md §9).
    pub tls_cert: TlsCertOptions,
    /// `tls_version` (CHECKS.md §10).
    pub tls_version: TlsVersionOptions,
    /// `dns` (CHECKS.md §16).
    pub dns: DnsOptions,
    /// `cookies` (CHECKS.md §7).
    pub cookies: CookieOptions,
    /// Optional HSTS preload list (Chromium JSON), shared by the checks that read it.
    pub preload: Option<Arc<PreloadList>>,
    /// `cors` (CHECKS.md §8).
    pub cors: CorsOptions,
    /// `rate_limit` (CHECKS.md §12).
    pub rate_limit: RateLimitOptions,
    /// `exposed_paths` (CHECKS.md §13).
    pub exposed_paths: ExposedPathsOptions,
    /// `error_disclosure` (CHECKS.md §14).
    pub error_disclosure: ErrorDisclosureOptions,
}

/// A target as the probes see it. Built by the binary from the config (or from a bare URL).
#[derive(Debug, Clone)]
pub struct Target {
    /// Configured name (the `target` label).
    pub name: String,
    /// Base URL.
    pub url: Url,
    /// Normalised host (CHECKS.md §0.1): ASCII lower-case, A-labels, no trailing dot.
    pub host: String,
    /// Configured labels, in order; added to every series of the target.
    pub labels: Vec<(String, String)>,
    /// Pinned address for `host` (`resolve:`); Host and SNI stay the name.
    pub resolve: Option<IpAddr>,
    /// Where the plain-HTTP chains start (CHECKS.md §1).
    pub http_urls: Vec<Url>,
    /// Configured credential headers.
    pub credentials: Vec<Credential>,
    /// Probes that may send the credentials (only `fetch`, `health`, `cors` can opt in).
    pub credential_probes: Vec<ProbeKind>,
    /// TLS client (public roots, plus the target's CA when configured).
    pub tls: Arc<TlsClient>,
    /// A check fails on a finding at or above this severity (default `low`).
    pub fail_min_severity: Severity,
    /// Enabled checks, in registry order.
    pub checks: Vec<&'static CheckDef>,
    /// Checks whose evidence gauges are not exported.
    pub quiet_checks: Vec<&'static str>,
    /// Per-check options.
    pub options: CheckOptions,
}

/// Why a URL cannot be a target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Only `http` and `https` URLs can be probed.
    #[error("URL scheme must be https (or http), not {0}")]
    Scheme(String),
    /// The URL has no host.
    #[error("URL has no host")]
    NoHost,
    /// Credentials in URLs would end up in logs; use `headers:` instead.
    #[error("URL must not contain user:password; configure an Authorization header instead")]
    Userinfo,
}

impl Target {
    /// A target with default options and every default-on check.
    ///
    /// # Errors
    ///
    /// [`TargetError`] for a URL that is not `http(s)://host…` or that embeds credentials.
    pub fn new(
        name: impl Into<String>,
        url: Url,
        tls: Arc<TlsClient>,
    ) -> Result<Self, TargetError> {
        if !matches!(url.scheme(), "https" | "http") {
            return Err(TargetError::Scheme(url.scheme().to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetError::Userinfo);
        }
        let host = url
            .host_str()
            .map(normalize_host)
            .ok_or(TargetError::NoHost)?;
        let http_urls = default_http_urls(&url);
        Ok(Target {
            name: name.into(),
            host,
            labels: Vec::new(),
            resolve: None,
            http_urls,
            credentials: Vec::new(),
            credential_probes: Vec::new(),
            tls,
            fail_min_severity: Severity::Low,
            checks: checks::ALL.iter().copied().filter(|c| !c.opt_in).collect(),
            quiet_checks: Vec::new(),
            options: CheckOptions::default(),
            url,
        })
    }

    /// Whether `url` is on the target's host (port ignored, CHECKS.md §0.1).
    pub fn same_host(&self, url: &Url) -> bool {
        url.host_str()
            .is_some_and(|h| normalize_host(h) == self.host)
    }

    /// The pinned address for `url`, if it is on the target's host.
    pub fn pin_for(&self, url: &Url) -> Option<IpAddr> {
        self.resolve.filter(|_| self.same_host(url))
    }

    /// The credentials `kind` may send to `url`: none unless the probe opted in and the URL is
    /// HTTPS on the target URL's own origin (host and port: another port is another service,
    /// and Fetch drops `Authorization` on a cross-origin redirect too). The engine also
    /// withholds them on a connection whose certificate failed verification.
    pub fn credentials_for(&self, kind: ProbeKind, url: &Url) -> &[Credential] {
        if self.credential_probes.contains(&kind)
            && url.scheme() == "https"
            && self.same_host(url)
            && url.port_or_known_default() == self.url.port_or_known_default()
        {
            &self.credentials
        } else {
            &[]
        }
    }

    /// The probes the enabled checks read, each once, in [`ProbeKind::ALL`] order.
    pub fn probes(&self) -> Vec<ProbeKind> {
        ProbeKind::ALL
            .iter()
            .copied()
            .filter(|k| self.checks.iter().any(|c| c.inputs.contains(k)))
            .collect()
    }

    /// Whether `check` is enabled.
    pub fn has_check(&self, id: &str) -> bool {
        self.checks.iter().any(|c| c.id == id)
    }
}

/// Normalises a host once (CHECKS.md §0.1): ASCII lower-case, trailing dot removed. (IDNs are
/// already A-labels once parsed by `url`.)
pub fn normalize_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// `http://host/` plus `http://host/path` when the target path is not `/` (CHECKS.md §1). A
/// plain-HTTP target keeps its own port: its URL is one of the chains.
pub fn default_http_urls(url: &Url) -> Vec<Url> {
    let mut with_path = url.clone();
    if url.scheme() != "http" {
        let _ = with_path.set_scheme("http");
        let _ = with_path.set_port(None);
    }
    with_path.set_fragment(None);
    let mut root = with_path.clone();
    root.set_path("/");
    root.set_query(None);
    let mut urls = vec![root];
    if url.path() != "/" {
        urls.push(with_path);
    }
    urls
}

/// The registrable domain (eTLD+1) of a host per the Public Suffix List; `None` for IP
/// literals and public suffixes themselves.
pub fn registrable_domain(host: &str) -> Option<String> {
    if host.parse::<IpAddr>().is_ok() || matches!(Host::parse(host), Ok(Host::Ipv6(_))) {
        return None;
    }
    let d = psl::domain(host.as_bytes())?;
    std::str::from_utf8(d.as_bytes()).ok().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_normalisation_and_same_host() {
        assert_eq!(normalize_host("Example.COM."), "example.com");
        let url = Url::parse("https://Shop.Example.com.:8443/app").unwrap();
        let tls = Arc::new(TlsClient::new(&[]).unwrap());
        let t = Target::new("shop", url, tls).unwrap();
        assert!(t.same_host(&Url::parse("HTTPS://shop.example.com/x").unwrap()));
        assert!(t.same_host(&Url::parse("http://shop.example.com:80/").unwrap()));
        assert!(!t.same_host(&Url::parse("https://www.shop.example.com/").unwrap()));
        assert_eq!(
            t.http_urls.iter().map(Url::as_str).collect::<Vec<_>>(),
            ["http://shop.example.com./", "http://shop.example.com./app"]
        );
        // A plain-HTTP target keeps its port and query; its root is a chain of its own.
        let url = Url::parse("http://intranet.example:8080/app?x=1#top").unwrap();
        assert_eq!(
            default_http_urls(&url)
                .iter()
                .map(Url::as_str)
                .collect::<Vec<_>>(),
            [
                "http://intranet.example:8080/",
                "http://intranet.example:8080/app?x=1"
            ]
        );
    }

    /// Credentials go to the target URL's own HTTPS origin only: not over plain HTTP, not to
    /// another port of the same host (another service), not to another host.
    #[test]
    fn credentials_stay_on_the_target_origin() {
        let tls = Arc::new(TlsClient::new(&[]).unwrap());
        let mut t = Target::new("shop", Url::parse("https://shop.example/").unwrap(), tls).unwrap();
        t.credentials = vec![Credential {
            name: http::HeaderName::from_static("authorization"),
            value: http::HeaderValue::from_static("Bearer x"),
        }];
        t.credential_probes = vec![ProbeKind::Health];
        for (url, sent) in [
            ("https://shop.example/health", true),
            ("https://SHOP.example:443/x", true),
            ("https://shop.example:8443/", false),
            ("http://shop.example/", false),
            ("https://other.example/", false),
        ] {
            let u = Url::parse(url).unwrap();
            assert_eq!(
                !t.credentials_for(ProbeKind::Health, &u).is_empty(),
                sent,
                "{url}"
            );
        }
        let u = Url::parse("https://shop.example/").unwrap();
        assert!(t.credentials_for(ProbeKind::Paths, &u).is_empty());
    }

    #[test]
    fn registrable_domains() {
        assert_eq!(
            registrable_domain("www.example.co.uk").as_deref(),
            Some("example.co.uk")
        );
        assert_eq!(
            registrable_domain("example.com").as_deref(),
            Some("example.com")
        );
        assert_eq!(registrable_domain("127.0.0.1"), None);
        assert_eq!(registrable_domain("co.uk"), None);
    }

    #[test]
    fn idn_hosts_become_a_labels() {
        let tls = Arc::new(TlsClient::new(&[]).unwrap());
        let t = Target::new("x", Url::parse("https://bücher.example/").unwrap(), tls).unwrap();
        assert_eq!(t.host, "xn--bcher-kva.example");
    }
}
