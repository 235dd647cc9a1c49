//! The configuration file: its model, strict parsing, and the values validated while parsing.
//!
//! [`parse`] is the only function that calls the YAML crate. Every struct denies unknown keys;
//! every value that can be wrong on its own (URLs, durations, check names, header names, label
//! names, regexes, secret references) is parsed into a typed value during deserialisation, so a
//! mistake is reported with its file, line and column. Rules that span several values
//! (timeout < interval, duplicate target names, unknown profiles, unset environment variables,
//! unreadable files) are checked in `plan.rs`, which reports the location of the value at fault.
//!
//! Settings come in layers: built-in defaults, then `defaults:`, then the target's `profile:`,
//! then the target itself; a key set in a higher layer wins (maps such as `labels` and
//! `headers` are merged key by key). `docs/config.md` lists every key.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::HeaderName;
use probes::checks::{self, CheckDef};
use probes::probe::ProbeKind;
use probes::verdict::Severity;
use regex::Regex;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_saphyr::Spanned;
use url::Url;

/// Default listen address of `serve` (9115 is blackbox_exporter's).
pub const DEFAULT_LISTEN: &str = "0.0.0.0:9747";
/// Default global limit of probe runs in flight.
pub const DEFAULT_MAX_CONCURRENCY: usize = 256;
/// Default limit of runs in flight per host (CHECKS.md §0.5: ≤ 2 concurrent requests).
pub const DEFAULT_PER_HOST_CONCURRENCY: usize = 2;
/// Default window over which first runs are spread.
pub const DEFAULT_INITIAL_SPREAD: Duration = Duration::from_secs(60);
/// The largest config file we read.
pub const MAX_CONFIG_BYTES: usize = 16 * 1024 * 1024;

/// A config error with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line, 0 when unknown.
    pub line: u64,
    /// 1-based column, 0 when unknown.
    pub column: u64,
    /// What is wrong and what was expected.
    pub message: String,
    /// The offending lines, when available.
    pub snippet: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}:{}: {}",
                self.path.display(),
                self.line,
                self.column,
                self.message
            )?;
        } else {
            write!(f, "{}: {}", self.path.display(), self.message)?;
        }
        if let Some(snippet) = &self.snippet {
            write!(f, "\n{snippet}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// An error at a known location.
    pub fn at(path: &Path, loc: &serde_saphyr::Location, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.to_owned(),
            line: loc.line(),
            column: loc.column(),
            message: message.into(),
            snippet: None,
        }
    }

    /// An error about the whole file.
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.to_owned(),
            line: 0,
            column: 0,
            message: message.into(),
            snippet: None,
        }
    }
}

/// Reads a regular file of at most `max` bytes: a device (`/dev/zero`), a FIFO or an oversized
/// file is an error before anything large is read or anything blocks.
///
/// # Errors
///
/// The I/O error, or one saying why the file was refused.
pub fn read_bounded(path: &Path, max: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let limit = u64::try_from(max).unwrap_or(u64::MAX);
    if meta.len() > limit {
        return Err(std::io::Error::other(format!("larger than {max} bytes")));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() > max {
        return Err(std::io::Error::other(format!("larger than {max} bytes")));
    }
    Ok(bytes)
}

/// [`read_bounded`] for text.
///
/// # Errors
///
/// As [`read_bounded`], or when the file is not UTF-8.
pub fn read_bounded_text(path: &Path, max: usize) -> std::io::Result<String> {
    String::from_utf8(read_bounded(path, max)?).map_err(|_| std::io::Error::other("not UTF-8 text"))
}

/// Files a config names (CA bundles, the preload list) are read up to this size.
pub const MAX_REFERENCED_FILE_BYTES: usize = 64 * 1024 * 1024;
/// A `${file:…}` secret is at most this long.
pub const MAX_SECRET_FILE_BYTES: usize = 64 * 1024;

/// Reads and parses a config file.
///
/// # Errors
///
/// [`ConfigError`] when the file cannot be read or does not parse.
pub fn load(path: &Path) -> Result<(ConfigFile, String), ConfigError> {
    let bytes = read_bounded(path, MAX_CONFIG_BYTES)
        .map_err(|e| ConfigError::file(path, format!("cannot read config file: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| ConfigError::file(path, format!("config file is not UTF-8: {e}")))?;
    let file = parse(path, &text)?;
    Ok((file, text))
}

/// Parses YAML text into the file model. The only caller of the YAML crate.
///
/// # Errors
///
/// [`ConfigError`] with the location and message of the first problem.
pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
    if text.trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(ConfigError::file(
            path,
            "config file is empty: it needs at least `targets:`",
        ));
    }
    // The parser's advice to its own callers is no help to someone editing a config file.
    let tidy = |s: &str| {
        s.replace(
            ", set DuplicateKeyPolicy in Options if acceptable",
            " (a key may appear once per mapping)",
        )
        .replace(
            "invalid boolean (strict mode expects true/false)",
            "expected a boolean, true or false (YAML 1.1's yes/no/on/off are not booleans)",
        )
    };
    // YAML 1.2 booleans only: `yes`, `no`, `on` and `off` are strings, as in every YAML 1.2
    // reader, so `enabled: no` is an error here rather than a silent `false`.
    let options = serde_saphyr::options! { strict_booleans: true };
    serde_saphyr::from_str_with_options::<ConfigFile>(text, options).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        let bare = tidy(&e.without_snippet().to_string());
        let message = match bare.rfind(" at line ") {
            Some(i) => bare[..i].to_owned(),
            None => bare,
        };
        let name = path.display().to_string();
        let rendered = e.render_with_options(
            serde_saphyr::render_options! { source_name: Some(name.as_str()) },
        );
        let snippet = rendered
            .find(" --> ")
            .map(|i| tidy(rendered[i..].trim_end()));
        ConfigError {
            path: path.to_owned(),
            line,
            column,
            message,
            snippet,
        }
    })
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The HTTP server of `serve`.
    #[serde(default)]
    pub server: ServerSection,
    /// Scheduling limits.
    #[serde(default)]
    pub scheduler: SchedulerSection,
    /// DNS resolver.
    #[serde(default)]
    pub resolver: ResolverSection,
    /// Settings applied to every target (lowest configured layer).
    #[serde(default)]
    pub defaults: Layer,
    /// Named setting layers that targets select with `profile:`.
    #[serde(default)]
    pub profiles: BTreeMap<String, Spanned<Layer>>,
    /// The targets.
    pub targets: Vec<Spanned<Layer>>,
}

/// `server:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Listen address of `serve`. Default `0.0.0.0:9747`.
    pub listen: Option<ListenAddr>,
    /// Export `probe_check_duration_seconds` and `probe_check_last_run_timestamp_seconds`.
    /// Default false (two series per check and target).
    pub check_timing_metrics: Option<bool>,
    /// Hosts `GET /probe` may probe: exact names or `*.example.com`. Default: the configured
    /// targets' hosts only (an open prober is a server-side request forgery tool).
    pub probe_allowed_hosts: Option<Vec<HostPattern>>,
}

/// `scheduler:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerSection {
    /// Probe runs in flight at once, all targets together. Default 256.
    pub max_concurrency: Option<Spanned<Count>>,
    /// Probe runs in flight at once against one host. Default 2.
    pub per_host_concurrency: Option<Spanned<Count>>,
    /// First runs start at a deterministic offset within min(interval, this). Default 60s.
    pub initial_spread: Option<DurationValue>,
    /// Where `serve` remembers rate-limit bursts and backoffs across restarts. Default none.
    pub state_file: Option<Spanned<PathBuf>>,
}

/// `resolver:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolverSection {
    /// Upstream DNS servers (`ip:port`); default the system's `/etc/resolv.conf`.
    pub nameservers: Option<Vec<SocketAddr>>,
    /// Per-query timeout. Default 3s.
    pub timeout: Option<DurationValue>,
    /// Attempts per query. Default 2.
    pub attempts: Option<Spanned<Count>>,
    /// Consult `/etc/hosts` first. Default true.
    pub hosts_file: Option<bool>,
}

/// A settings layer: `defaults:`, a profile, or a target. `name`, `url` and `profile` are
/// accepted only in targets (checked in `plan.rs`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// Target name, unique; the `target` label. Targets only.
    pub name: Option<Spanned<TargetName>>,
    /// Base URL `https://host[:port][/path]` (plain `http://` is allowed and judged as such).
    /// Targets only.
    pub url: Option<Spanned<TargetUrl>>,
    /// Profile to apply under the target's own settings. Targets only.
    pub profile: Option<Spanned<String>>,
    /// Extra labels on every series of the target.
    pub labels: Option<BTreeMap<LabelName, String>>,
    /// Checks to run (replaces the lower layer's list). Default: every check except opt-in ones.
    pub checks: Option<Vec<Spanned<CheckName>>>,
    /// Interval and timeout per probe.
    pub probes: Option<ProbesLayer>,
    /// Pin the target host to this address; Host header and SNI keep the name.
    pub resolve: Option<PinnedAddr>,
    /// Where the plain-HTTP chain starts. Default `http://host/` (and `http://host/path`).
    pub http_url: Option<Spanned<TargetUrl>>,
    /// PEM file of extra CA certificates, trusted in addition to the public roots.
    pub ca_file: Option<Spanned<PathBuf>>,
    /// PEM file of the client certificate chain presented to servers that ask (mutual TLS).
    pub client_cert: Option<Spanned<PathBuf>>,
    /// PEM file of the client certificate's private key.
    pub client_key: Option<Spanned<PathBuf>>,
    /// Request headers (credentials). Values may use `${env:VAR}` and `${file:/path}`.
    pub headers: Option<BTreeMap<HeaderNameValue, Spanned<SecretTemplate>>>,
    /// Probes allowed to send `headers` (`fetch`, `health`, `cors`). Default none.
    pub credentials_for: Option<Vec<Spanned<ProbeName>>>,
    /// A check fails on a finding at or above this severity. Default `low`.
    pub fail_min_severity: Option<SeverityValue>,
    /// Checks whose evidence gauges are not exported.
    pub disable_evidence_metrics: Option<Vec<Spanned<CheckName>>>,
    /// Chromium HSTS preload list JSON, read by `https_redirect` and `hsts`.
    pub hsts_preload_list: Option<Spanned<PathBuf>>,
    /// Options of `https_redirect`.
    pub https_redirect: Option<RedirectLayer>,
    /// Options of `hsts`.
    pub hsts: Option<HstsLayer>,
    /// Options of `health`.
    pub health: Option<HealthLayer>,
    /// Options of `tls_cert`.
    pub tls_cert: Option<TlsCertLayer>,
    /// Options of `tls_version`.
    pub tls_version: Option<TlsVersionLayer>,
    /// Options of `dns`.
    pub dns: Option<DnsLayer>,
    /// Options of `cors`.
    pub cors: Option<CorsLayer>,
    /// Options of `exposed_paths`.
    pub exposed_paths: Option<ExposedPathsLayer>,
    /// Options of `error_disclosure`.
    pub error_disclosure: Option<ErrorDisclosureLayer>,
    /// Options of `rate_limit` (opt-in: also list it in `checks`).
    pub rate_limit: Option<RateLimitLayer>,
    /// Options of `cookies`.
    pub cookies: Option<CookiesLayer>,
}

/// `probes:`: one entry per probe.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbesLayer {
    /// The HTTPS/HTTP fetch (default every 5m, timeout 60s).
    pub fetch: Option<ProbeLayer>,
    /// The health request (default every 30s, timeout 10s).
    pub health: Option<ProbeLayer>,
    /// The TLS handshakes of tls_cert (default every 15m, timeout 60s).
    pub tls: Option<ProbeLayer>,
    /// The protocol-version handshakes of tls_version (default every 6h, timeout 5m).
    pub tls_versions: Option<ProbeLayer>,
    /// The DNS queries of dns (default every 5m, timeout 30s).
    pub dns: Option<ProbeLayer>,
    /// The CORS requests (default every 30m, timeout 5m).
    pub cors: Option<ProbeLayer>,
    /// The unknown-path requests (default every 1h, timeout 1m).
    pub unknown_path: Option<ProbeLayer>,
    /// The exposed-path sweep (default every 6h, timeout 10m).
    pub paths: Option<ProbeLayer>,
    /// The rate-limit burst (default every 24h, floor 1h, timeout 90s).
    pub rate_limit: Option<ProbeLayer>,
}

impl ProbesLayer {
    /// The entry of `kind`.
    pub fn get(&self, kind: ProbeKind) -> Option<&ProbeLayer> {
        match kind {
            ProbeKind::Fetch => self.fetch.as_ref(),
            ProbeKind::Health => self.health.as_ref(),
            ProbeKind::Tls => self.tls.as_ref(),
            ProbeKind::TlsVersions => self.tls_versions.as_ref(),
            ProbeKind::Dns => self.dns.as_ref(),
            ProbeKind::Cors => self.cors.as_ref(),
            ProbeKind::UnknownPath => self.unknown_path.as_ref(),
            ProbeKind::Paths => self.paths.as_ref(),
            ProbeKind::RateLimit => self.rate_limit.as_ref(),
        }
    }
}

/// Interval and timeout of one probe.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeLayer {
    /// Time between runs.
    pub interval: Option<Spanned<DurationValue>>,
    /// A run is cut after this; must be below `interval`.
    pub timeout: Option<Spanned<DurationValue>>,
}

/// `https_redirect:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedirectLayer {
    /// More redirects than this raise `too_many_redirects`. Default 5, at most the 10 hops the
    /// fetch follows (CHECKS.md §0.1).
    pub max_redirects: Option<Spanned<Count>>,
}

/// `hsts:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HstsLayer {
    /// max-age below this raises `max_age_too_short`. Default 15552000 (180 days).
    pub min_max_age: Option<DurationValue>,
    /// max-age below this raises `below_recommended`. Default 31536000 (1 year).
    pub recommended_max_age: Option<DurationValue>,
}

/// `health:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthLayer {
    /// Health URL, absolute or a path on the target (`/healthz`). Default the target URL.
    pub url: Option<HealthUrl>,
    /// Accepted statuses: `200`, `200-299`, `2xx`. Default `[2xx]`.
    pub expected_status: Option<Vec<StatusRange>>,
    /// Latency above this raises `slow`. Default 2s.
    pub latency_budget: Option<DurationValue>,
    /// The body must match this regular expression.
    pub body_regex: Option<RegexValue>,
}

/// `tls_cert:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsCertLayer {
    /// `expires_soon` below min(this many days, 25 % of the lifetime). Default 21.
    pub warn_days: Option<Count>,
    /// `expires_critical` below min(this many days, 10 % of the lifetime). Default 7.
    pub critical_days: Option<Count>,
    /// Fetch the leaf's AIA caIssuers once to tell `incomplete_chain` from `untrusted_chain`.
    /// Default true.
    pub aia_fetch: Option<bool>,
    /// Trust the operating system's roots instead of webpki-roots, for every probe of the
    /// target. Default false.
    pub platform_roots: Option<bool>,
}

/// `tls_version:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsVersionLayer {
    /// Also send an SSLv2 CLIENT-HELLO. Default false.
    pub sslv2: Option<bool>,
}

/// `dns:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsLayer {
    /// Resolve the public name even when `resolve:` pins an address. Default false (skipped
    /// with reason `address_pinned`).
    pub when_pinned: Option<bool>,
}

/// `cookies:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CookiesLayer {
    /// More exact session cookie names (case-insensitive), added to the built-in list.
    /// Default none.
    pub extra_session_names: Option<Vec<CookieName>>,
    /// Cookie names never judged (case-insensitive), added to `heroku-session-affinity`.
    /// Default none.
    pub ignore_names: Option<Vec<CookieName>>,
    /// Pages also fetched for their cookies (e.g. the login page); at most 5. Default none.
    pub paths: Option<Spanned<Vec<PathValue>>>,
}

macro_rules! merge_layer {
    ($hi:ident, $lo:ident; plain: [$($p:ident),*]; nested: [$($n:ident),*]; maps: [$($m:ident),*]) => {{
        $( let $p = $hi.$p.or($lo.$p); )*
        $( let $n = match ($hi.$n, $lo.$n) {
            (Some(h), Some(l)) => Some(h.over(l)),
            (h, l) => h.or(l),
        }; )*
        $( let $m = match ($hi.$m, $lo.$m) {
            (Some(mut h), Some(l)) => { for (k, v) in l { h.entry(k).or_insert(v); } Some(h) }
            (h, l) => h.or(l),
        }; )*
        Self { $($p,)* $($n,)* $($m,)* }
    }};
}

/// Layers stack: `hi.over(lo)` keeps `hi`'s keys and takes the rest from `lo`.
pub trait Over {
    /// Merges `self` over `lower`.
    fn over(self, lower: Self) -> Self;
}

impl Over for Layer {
    fn over(self, lo: Self) -> Self {
        let hi = self;
        merge_layer!(hi, lo;
            plain: [name, url, profile, checks, resolve, http_url, ca_file, client_cert, client_key, credentials_for,
                    fail_min_severity, disable_evidence_metrics, hsts_preload_list];
            nested: [probes, https_redirect, hsts, health, cookies, tls_cert, tls_version, dns,
                     cors, exposed_paths, error_disclosure, rate_limit];
            maps: [labels, headers])
    }
}

impl Over for ProbesLayer {
    fn over(self, lo: Self) -> Self {
        let hi = self;
        merge_layer!(hi, lo; plain: []; nested: [fetch, health, tls, tls_versions, dns, cors, unknown_path, paths, rate_limit]; maps: [])
    }
}

impl Over for ProbeLayer {
    fn over(self, lo: Self) -> Self {
        let hi = self;
        merge_layer!(hi, lo; plain: [interval, timeout]; nested: []; maps: [])
    }
}

impl Over for RedirectLayer {
    fn over(self, lo: Self) -> Self {
        let hi = self;
        merge_layer!(hi, lo; plain: [max_redirects]; nested: []; maps: [])
    }
}

impl Over for HstsLayer {
    fn over(self, lo: Self) -> Self {
        let hi = self;
        merge_layer!(hi, lo; plain: [min_max_age, recommended_max_age]; nested: []; maps: [])
    }
}

impl Over for HealthLayer {
    fn over(self, lo: Self) -> Self {
        let hi = self;
        merge_layer!(hi, lo; plain: [url, expected_status, latency_budget, body_regex]; nested: []; maps: [])
    }
}

impl Over for TlsCertLayer {
    fn over(self, lo: Self) -> Self {
        let hi = self;
        merge_layer!(hi, lo; plain: [warn_days, critical_days, aia_fetch, platform_roots]; nested: []; maps: [])
    }
}

impl Over for TlsVersionLayer {
    fn over(self, lo: Self) -> Self {
        let hi = self;
        merge_layer!(hi, lo; plain: [sslv2]; nested: []; maps: [])
    }
}

impl Over for DnsLayer {
    fn over(self, lo: Self) -> Self {
        let hi = self;
        merge_layer!(hi, lo; plain: [when_pinned]; nested: []; maps: [])
    }
}

/// `cors:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsLayer {
    /// Origins the target legitimately trusts (`scheme://host[:port]`, `*`, `null`); at most 10.
    pub allowed_origins: Option<Spanned<Vec<AllowedOrigin>>>,
    /// Paths probed besides the target URL; at most 5.
    pub paths: Option<Spanned<Vec<PathValue>>>,
}

/// `exposed_paths:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExposedPathsLayer {
    /// Paths checked besides CHECKS.md's list; at most 20.
    pub extra_paths: Option<Spanned<Vec<ExtraPathValue>>>,
    /// Also sweep under the target's base path. Default false.
    pub under_base_path: Option<bool>,
    /// Public API docs are intended: `openapi_docs` and `api_docs_ui` become info. Default false.
    pub public_api_docs: Option<bool>,
}

/// One `exposed_paths.extra_paths` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraPathValue {
    /// Id: the `path_id` label value (`[a-z0-9_]`, 1–32 characters, not a built-in id).
    pub id: PathId,
    /// The path, starting with `/`.
    pub path: PathValue,
    /// Regular expression the body must match (status alone never raises a finding).
    pub signature: RegexValue,
    /// Severity of the `custom_path` finding. Default `medium`.
    pub severity: Option<SeverityValue>,
}

/// `error_disclosure:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorDisclosureLayer {
    /// Finding ids never raised for this target.
    pub suppress: Option<Vec<ErrorFindingName>>,
}

/// `rate_limit:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitLayer {
    /// Path of the burst. Default the target path.
    pub path: Option<PathValue>,
    /// `GET` (default), `HEAD` or `POST`.
    pub method: Option<Spanned<RateLimitMethodValue>>,
    /// The fixed POST body (at most 1024 bytes; only with `method: POST`).
    pub body: Option<Spanned<String>>,
    /// `Content-Type` of the POST body. Default `application/x-www-form-urlencoded`.
    pub content_type: Option<Spanned<String>>,
    /// Requests when no usable quota is advertised. Default 20, at most `cap`.
    pub burst: Option<Spanned<Count>>,
    /// Requests at most. Default 100, ceiling 200.
    pub cap: Option<Spanned<Count>>,
    /// Requests per second. Default 5, ceiling 20.
    pub rps: Option<Spanned<Count>>,
}

impl Over for CorsLayer {
    fn over(self, lo: Self) -> Self {
        let hi = self;
        merge_layer!(hi, lo; plain: [allowed_origins, paths]; nested: []; maps: [])
    }
}

impl Over for ExposedPathsLayer {
    fn over(self, lo: Self) -> Self {
        let hi = self;
        merge_layer!(hi, lo; plain: [extra_paths, under_base_path, public_api_docs]; nested: []; maps: [])
    }
}

impl Over for ErrorDisclosureLayer {
    fn over(self, lo: Self) -> Self {
        let hi = self;
        merge_layer!(hi, lo; plain: [suppress]; nested: []; maps: [])
    }
}

impl Over for RateLimitLayer {
    fn over(self, lo: Self) -> Self {
        let hi = self;
        merge_layer!(hi, lo; plain: [path, method, body, content_type, burst, cap, rps]; nested: []; maps: [])
    }
}

/// A listen address: `IP:port`, `[IPv6]:port`, `:port` (every interface, as exporters'
/// `--web.listen-address` takes it) or `localhost:port` (127.0.0.1). Other host names are refused
/// rather than resolved: which address a name binds to should not depend on DNS at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ListenAddr(pub SocketAddr);

impl std::str::FromStr for ListenAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "invalid listen address {s:?}: expected IP:port, [IPv6]:port, :port or localhost:port, e.g. 0.0.0.0:9747"
            )
        };
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return Ok(ListenAddr(addr));
        }
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let ip = match host {
            "" => std::net::Ipv4Addr::UNSPECIFIED,
            h if h.eq_ignore_ascii_case("localhost") => std::net::Ipv4Addr::LOCALHOST,
            _ => return Err(bad()),
        };
        Ok(ListenAddr(SocketAddr::from((ip, port))))
    }
}

impl TryFrom<String> for ListenAddr {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

/// A pinned address (`resolve:`): an IPv4 or IPv6 address, brackets allowed around IPv6. No
/// port (the target URL's is used) and no host name (a pin that needs DNS pins nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct PinnedAddr(pub IpAddr);

impl std::str::FromStr for PinnedAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bare = s
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .unwrap_or(s);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(PinnedAddr(ip));
        }
        let why = if s.parse::<SocketAddr>().is_ok() {
            "an address without a port (the target URL's port is used)"
        } else if !s.contains(':') && s.chars().any(|c| c.is_ascii_alphabetic()) {
            "an IP address, not a host name (a pin that needs DNS pins nothing)"
        } else {
            "an IPv4 or IPv6 address"
        };
        Err(format!(
            "invalid address {s:?}: expected {why}, e.g. 192.0.2.7 or 2001:db8::7"
        ))
    }
}

impl TryFrom<String> for PinnedAddr {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

/// An allowed CORS origin: `scheme://host[:port]`, `*` or `null`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct AllowedOrigin(pub String);

impl TryFrom<String> for AllowedOrigin {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s == "*" || s == "null" || probes::cors::parse_origin(&s).is_some() {
            return Ok(AllowedOrigin(s));
        }
        Err(format!(
            "invalid allowed origin {s:?}: expected scheme://host[:port], * or null"
        ))
    }
}

/// A path on the target: starts with `/` (not `//`), no whitespace or control characters.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct PathValue(pub String);

impl TryFrom<String> for PathValue {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if !s.starts_with('/')
            || s.starts_with("//")
            || s.len() > 1024
            || s.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "invalid path {s:?}: expected a path on the target starting with /"
            ));
        }
        Ok(PathValue(s))
    }
}

/// An extra path's id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct PathId(pub String);

impl TryFrom<String> for PathId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let valid = !s.is_empty()
            && s.len() <= 32
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(format!(
                "invalid path id {s:?}: expected 1-32 characters of [a-z0-9_]"
            ));
        }
        if probes::paths::DEFAULT_PATHS.iter().any(|(id, _)| *id == s) {
            return Err(format!("path id {s:?} is built in; choose another id"));
        }
        Ok(PathId(s))
    }
}

/// A finding id of `error_disclosure`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ErrorFindingName(pub String);

impl TryFrom<String> for ErrorFindingName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let check = &probes::checks::error_disclosure::CHECK;
        check
            .findings
            .iter()
            .find(|f| f.id == s)
            .map(|f| ErrorFindingName(f.id.to_owned()))
            .ok_or_else(|| {
                let ids: Vec<&str> = check.findings.iter().map(|f| f.id).collect();
                format!(
                    "unknown error_disclosure finding {s:?}, expected one of {}",
                    ids.join(", ")
                )
            })
    }
}

/// `GET`, `HEAD` or `POST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct RateLimitMethodValue(pub probes::checks::rate_limit::RateLimitMethod);

impl TryFrom<String> for RateLimitMethodValue {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        use probes::checks::rate_limit::RateLimitMethod;
        match s.to_ascii_uppercase().as_str() {
            "GET" => Ok(RateLimitMethodValue(RateLimitMethod::Get)),
            "HEAD" => Ok(RateLimitMethodValue(RateLimitMethod::Head)),
            "POST" => Ok(RateLimitMethodValue(RateLimitMethod::Post)),
            _ => Err(format!(
                "invalid rate_limit method {s:?}: expected GET, HEAD or POST (prodprobe sends nothing else)"
            )),
        }
    }
}

impl Over for CookiesLayer {
    fn over(self, lo: Self) -> Self {
        let hi = self;
        merge_layer!(hi, lo; plain: [extra_session_names, ignore_names, paths]; nested: []; maps: [])
    }
}

// ---------------------------------------------------------------------------------------------
// Values validated while parsing.

/// A cookie name: 1-256 visible ASCII characters other than `=`, `;`, `,` and quotes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct CookieName(pub String);

impl TryFrom<String> for CookieName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let valid = !s.is_empty()
            && s.len() <= 256
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'=' | b';' | b',' | b'"'));
        if !valid {
            return Err(format!(
                "invalid cookie name {s:?}: expected 1-256 visible ASCII characters without = ; , \""
            ));
        }
        if s == "*" {
            return Err(
                "cookie name \"*\" would match every cookie: a trailing * needs a prefix before it (e.g. \"username-*\")".into(),
            );
        }
        Ok(CookieName(s))
    }
}

/// A positive count, at most [`MAX_COUNT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count(pub usize);

/// The largest count any setting takes (concurrency limits above it would only overflow).
pub const MAX_COUNT: i64 = 1_000_000;

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = i64::deserialize(d)?;
        if !(1..=MAX_COUNT).contains(&v) {
            return Err(de::Error::custom(format!(
                "expected a positive integer up to {MAX_COUNT}, got {v}"
            )));
        }
        usize::try_from(v).map(Count).map_err(de::Error::custom)
    }
}

/// A duration: `500ms`, `30s`, `5m`, `1h30m`, `2d`, or an integer number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationValue(pub Duration);

/// The longest duration any setting takes: a year and a day. Longer values mean nothing to a
/// monitor and would overflow the scheduler's clock arithmetic.
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 86_400);

impl DurationValue {
    /// `d` if it is at most [`MAX_DURATION`].
    fn bounded(d: Duration, shown: &dyn fmt::Display) -> Result<Self, String> {
        if d > MAX_DURATION {
            return Err(format!("duration {shown} is too long: at most 366d"));
        }
        Ok(DurationValue(d))
    }

    /// Parses the string form.
    ///
    /// # Errors
    ///
    /// A message naming the accepted forms.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "invalid duration {s:?}: expected a number with a unit (ms, s, m, h, d), e.g. 30s, 5m, 1h30m"
            )
        };
        let t = s.trim();
        if t.is_empty() {
            return Err(bad());
        }
        let mut total: u128 = 0;
        let mut rest = t;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad());
            }
            let n: u128 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let millis: u128 = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(bad()),
            };
            rest = &rest[unit_len..];
            total = total.saturating_add(n.saturating_mul(millis));
        }
        let millis = u64::try_from(total).unwrap_or(u64::MAX);
        Self::bounded(Duration::from_millis(millis), &format!("{s:?}"))
    }
}

impl fmt::Display for DurationValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humanize(self.0))
    }
}

/// Formats a duration the way the config writes it (`90s` → `1m30s`).
pub fn humanize(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let mut s = ms / 1000;
    let mut out = String::new();
    for (unit, len) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if s >= len {
            out.push_str(&format!("{}{unit}", s / len));
            s %= len;
        }
    }
    out
}

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DurationValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 30s, 5m or 1h30m, or a number of seconds")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DurationValue, E> {
                DurationValue::bounded(Duration::from_secs(v), &v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationValue, E> {
                let secs = u64::try_from(v).map_err(|_| {
                    E::custom(format!("invalid duration {v}: must not be negative"))
                })?;
                self.visit_u64(secs)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationValue, E> {
                DurationValue::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A target name: non-empty, printable, at most 128 bytes (it is a label value).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct TargetName(pub String);

impl TryFrom<String> for TargetName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.is_empty() || s.len() > 128 || s.chars().any(char::is_control) {
            return Err(format!(
                "invalid target name {s:?}: expected 1-128 printable characters"
            ));
        }
        Ok(TargetName(s))
    }
}

/// An absolute `http(s)://` URL with a host and without credentials.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct TargetUrl(pub Url);

impl TryFrom<String> for TargetUrl {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let url = Url::parse(&s)
            .map_err(|e| format!("invalid URL {s:?}: {e}; expected e.g. https://shop.example/"))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(format!(
                "invalid URL {s:?}: scheme must be https (or http), not {}",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("invalid URL {s:?}: no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "invalid URL {s:?}: must not contain user:password; configure `headers:` instead"
            ));
        }
        Ok(TargetUrl(url))
    }
}

/// `health.url`: an absolute URL or a path starting with `/`, resolved against the target URL.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum HealthUrl {
    /// Absolute.
    Absolute(Url),
    /// A path on the target.
    Path(String),
}

impl TryFrom<String> for HealthUrl {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.starts_with('/') && !s.starts_with("//") {
            return Ok(HealthUrl::Path(s));
        }
        TargetUrl::try_from(s).map(|u| HealthUrl::Absolute(u.0))
    }
}

/// A host name or `*.domain` pattern (lower-cased, trailing dot removed).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct HostPattern(pub String);

impl HostPattern {
    /// Whether `host` (normalised) matches: equal, or a subdomain of a `*.` pattern's domain.
    pub fn matches(&self, host: &str) -> bool {
        match self.0.strip_prefix("*.") {
            Some(domain) => {
                host.len() > domain.len() + 1
                    && host.ends_with(domain)
                    && host[..host.len() - domain.len()].ends_with('.')
            }
            None => host == self.0,
        }
    }
}

impl TryFrom<String> for HostPattern {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let norm = s.trim().trim_end_matches('.').to_ascii_lowercase();
        let name = norm.strip_prefix("*.").unwrap_or(&norm);
        let valid = !name.is_empty()
            && !name.contains('*')
            && (url::Host::parse(name).is_ok() || name.parse::<std::net::IpAddr>().is_ok());
        if !valid {
            return Err(format!(
                "invalid host pattern {s:?}: expected a host name, an IP address or *.domain"
            ));
        }
        Ok(HostPattern(norm))
    }
}

/// A known check name.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
pub struct CheckName(pub &'static CheckDef);

impl TryFrom<String> for CheckName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        checks::by_id(&s).map(CheckName).ok_or_else(|| {
            let known: Vec<&str> = checks::ALL.iter().map(|c| c.id).collect();
            format!("unknown check {s:?}, expected one of {}", known.join(", "))
        })
    }
}

/// A known probe name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ProbeName(pub ProbeKind);

impl TryFrom<String> for ProbeName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        ProbeKind::from_name(&s).map(ProbeName).ok_or_else(|| {
            let known: Vec<&str> = ProbeKind::ALL.iter().map(|k| k.name()).collect();
            format!("unknown probe {s:?}, expected one of {}", known.join(", "))
        })
    }
}

/// Label names the exporter uses itself.
pub const RESERVED_LABELS: &[&str] = &[
    "target",
    "probe",
    "check",
    "finding",
    "severity",
    "phase",
    "version",
    "reason",
    "address",
    "family",
    "path_id",
    "signature",
    "style",
    "policy",
    "server",
    "subject_cn",
    "issuer_cn",
    "key_type",
    "sig_alg",
    "fingerprint_sha256",
    "subject",
    "issuer",
    "subjectalternative",
    "serialnumber",
    "cipher",
    "group",
    "instance",
    "job",
    "result",
];

/// A Prometheus label name that does not collide with prodprobe's own labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct LabelName(pub String);

impl TryFrom<String> for LabelName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let valid = s
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
        if s.is_empty() || !valid || s.starts_with("__") {
            return Err(format!(
                "invalid label name {s:?}: expected [a-zA-Z_][a-zA-Z0-9_]* not starting with __"
            ));
        }
        if RESERVED_LABELS.contains(&s.as_str()) {
            return Err(format!("label name {s:?} is reserved by prodprobe"));
        }
        Ok(LabelName(s))
    }
}

/// A request header name allowed as a configured header.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct HeaderNameValue(pub String);

impl HeaderNameValue {
    /// As an `http` header name (validated at parse time).
    pub fn header(&self) -> HeaderName {
        HeaderName::from_bytes(self.0.as_bytes()).unwrap_or(http::header::AUTHORIZATION)
    }
}

impl TryFrom<String> for HeaderNameValue {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let name = HeaderName::from_bytes(s.as_bytes())
            .map_err(|_| format!("invalid header name {s:?}"))?;
        const FORBIDDEN: &[&str] = &[
            "host",
            "content-length",
            "transfer-encoding",
            "connection",
            "te",
            "upgrade",
            "keep-alive",
            "proxy-connection",
            "origin",
        ];
        if FORBIDDEN.contains(&name.as_str()) {
            return Err(format!(
                "header {s:?} cannot be configured: prodprobe sets it itself"
            ));
        }
        Ok(HeaderNameValue(name.as_str().to_owned()))
    }
}

/// One piece of a secret template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretPart {
    /// Literal text.
    Literal(String),
    /// `${env:VAR}`.
    Env(String),
    /// `${file:/path}` (trailing newline trimmed).
    File(PathBuf),
}

/// A header value with `${env:VAR}` / `${file:/path}` references (`$$` is a literal `$`).
/// Resolved when the plan is built; the resolved value never reaches logs or labels.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct SecretTemplate(pub Vec<SecretPart>);

impl TryFrom<String> for SecretTemplate {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = s.as_str();
        while let Some(i) = rest.find('$') {
            lit.push_str(&rest[..i]);
            rest = &rest[i..];
            if let Some(r) = rest.strip_prefix("$$") {
                lit.push('$');
                rest = r;
            } else if let Some(r) = rest.strip_prefix("${") {
                let end = r
                    .find('}')
                    .ok_or_else(|| format!("unterminated ${{...}} in {s:?}"))?;
                let inner = &r[..end];
                let part = if let Some(var) = inner.strip_prefix("env:") {
                    if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        return Err(format!("invalid environment variable name {var:?}"));
                    }
                    SecretPart::Env(var.to_owned())
                } else if let Some(p) = inner.strip_prefix("file:") {
                    if p.is_empty() {
                        return Err("empty ${file:} path".into());
                    }
                    SecretPart::File(PathBuf::from(p))
                } else {
                    return Err(format!(
                        "unknown reference ${{{inner}}}: expected ${{env:VAR}} or ${{file:/path}} ($$ for a literal $)"
                    ));
                };
                if !lit.is_empty() {
                    parts.push(SecretPart::Literal(std::mem::take(&mut lit)));
                }
                parts.push(part);
                rest = &r[end + 1..];
            } else {
                lit.push('$');
                rest = &rest[1..];
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(SecretPart::Literal(lit));
        }
        Ok(SecretTemplate(parts))
    }
}

/// A severity name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct SeverityValue(pub Severity);

impl TryFrom<String> for SeverityValue {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Severity::from_name(&s).map(SeverityValue).ok_or_else(|| {
            format!("unknown severity {s:?}, expected one of info, low, medium, high, critical")
        })
    }
}

/// `200`, `200-299` or `2xx`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRange(pub std::ops::RangeInclusive<u16>);

impl StatusRange {
    fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid status {s:?}: expected e.g. 200, 200-299 or 2xx");
        let code = |t: &str| {
            t.trim()
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
        };
        let t = s.trim();
        if let Some(c) = t
            .strip_suffix("xx")
            .and_then(|d| d.parse::<u16>().ok())
            .filter(|d| (1..=5).contains(d))
        {
            return Ok(StatusRange(c * 100..=c * 100 + 99));
        }
        if let Some((a, b)) = t.split_once('-') {
            let (a, b) = (code(a).ok_or_else(bad)?, code(b).ok_or_else(bad)?);
            if a > b {
                return Err(bad());
            }
            return Ok(StatusRange(a..=b));
        }
        code(t).map(|c| StatusRange(c..=c)).ok_or_else(bad)
    }
}

impl<'de> Deserialize<'de> for StatusRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StatusRange;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a status such as 200, 200-299 or 2xx")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusRange, E> {
                StatusRange::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusRange, E> {
                StatusRange::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusRange, E> {
                StatusRange::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A regular expression, compiled at load time with a size limit.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct RegexValue(pub Regex);

impl TryFrom<String> for RegexValue {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        regex::RegexBuilder::new(&s)
            .size_limit(1 << 20)
            .build()
            .map(RegexValue)
            .map_err(|e| format!("invalid regular expression {s:?}: {}", regex_error(&s, &e)))
    }
}

/// The regex crate's error on one line: its kind, and where in a one-line pattern it is (the
/// crate's own message is a multi-line drawing, which a config error prints as `\n` escapes).
fn regex_error(pattern: &str, e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(msg) => {
            let kind = msg
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("error: "))
                .unwrap_or(msg.as_str());
            // A one-line pattern is drawn indented by four spaces, a caret line under it.
            let at = (!pattern.contains('\n'))
                .then(|| {
                    msg.lines()
                        .find(|l| {
                            l.trim_start().starts_with('^')
                                && l.trim().chars().all(|c| matches!(c, '^' | '-'))
                        })
                        .and_then(|l| l.find('^'))
                        .and_then(|col| col.checked_sub(4))
                })
                .flatten();
            match at {
                Some(col) => format!("{kind} (at character {})", col + 1),
                None => kind.to_owned(),
            }
        }
        regex::Error::CompiledTooBig(limit) => {
            format!("compiles to more than {limit} bytes; use a simpler pattern")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let d = |s: &str| DurationValue::parse(s).map(|d| d.0);
        assert_eq!(d("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(d("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(d("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(d("2d"), Ok(Duration::from_secs(172_800)));
        assert!(d("5").is_err());
        assert!(d("5x").is_err());
        assert!(d("s").is_err());
        assert!(d("").is_err());
        assert!(d("99999999999999999999999999d").is_err());
        assert_eq!(humanize(Duration::from_secs(5400)), "1h30m");
        assert_eq!(humanize(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn secret_templates() {
        let t = SecretTemplate::try_from("Bearer ${env:TOKEN}".to_owned()).unwrap();
        assert_eq!(
            t.0,
            vec![
                SecretPart::Literal("Bearer ".into()),
                SecretPart::Env("TOKEN".into())
            ]
        );
        let t = SecretTemplate::try_from("a$$b${file:/run/s}".to_owned()).unwrap();
        assert_eq!(
            t.0,
            vec![
                SecretPart::Literal("a$b".into()),
                SecretPart::File("/run/s".into())
            ]
        );
        assert!(SecretTemplate::try_from("${vault:x}".to_owned()).is_err());
        assert!(SecretTemplate::try_from("${env:X".to_owned()).is_err());
    }

    #[test]
    fn status_ranges() {
        assert_eq!(StatusRange::parse("2xx").unwrap().0, 200..=299);
        assert_eq!(StatusRange::parse("200-399").unwrap().0, 200..=399);
        assert_eq!(StatusRange::parse("204").unwrap().0, 204..=204);
        assert!(StatusRange::parse("299-200").is_err());
        assert!(StatusRange::parse("700").is_err());
    }

    #[test]
    fn host_patterns() {
        let p = HostPattern::try_from("*.Example.com.".to_owned()).unwrap();
        assert!(p.matches("shop.example.com"));
        assert!(p.matches("a.b.example.com"));
        assert!(!p.matches("example.com"));
        assert!(!p.matches("badexample.com"));
        let exact = HostPattern::try_from("shop.example".to_owned()).unwrap();
        assert!(exact.matches("shop.example") && !exact.matches("x.shop.example"));
        assert!(HostPattern::try_from("*".to_owned()).is_err());
        assert!(HostPattern::try_from("a.*.b".to_owned()).is_err());
    }

    #[test]
    fn label_names() {
        assert!(LabelName::try_from("team".to_owned()).is_ok());
        assert!(LabelName::try_from("target".to_owned()).is_err());
        assert!(LabelName::try_from("__x".to_owned()).is_err());
        assert!(LabelName::try_from("9a".to_owned()).is_err());
        assert!(LabelName::try_from("a-b".to_owned()).is_err());
    }
}
