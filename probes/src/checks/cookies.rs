//! `cookies` (CHECKS.md §7): every cookie set by the fetch probe's responses (both chains and
//! `/robots.txt`) carries the attributes its role needs.
//!
//! Each `Set-Cookie` line is parsed on its own, per RFC 6265 §5.2 / rfc6265bis §5.6: the line is
//! never split on commas (`Expires` holds one), attributes are split on `;`, names are
//! case-insensitive and the last occurrence wins, `Secure` and `HttpOnly` ignore any value, and
//! the `__Host-` / `__Secure-` prefix rules of the rfc6265bis storage model apply.

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use url::Url;

use super::header_list::bounded;
use super::{CheckDef, CheckInput, Evaluation};
use crate::evidence::{Exchange, latin1};
use crate::measure::{GaugeDef, Measurement};
use crate::probe::ProbeKind;
use crate::target::{normalize_host, registrable_domain};
use crate::verdict::{Finding, FindingDef, Judgement, Severity, Status};

/// Exact session cookie names, beyond the Observatory's `login`/`sess` substrings (CHECKS.md §7),
/// compared ASCII case-insensitively after stripping `__Host-` / `__Secure-`.
pub const DEFAULT_SESSION_NAMES: &[&str] = &[
    "jsessionid",
    "phpsessid",
    "asp.net_sessionid",
    "connect.sid",
    "sid",
    "session",
    "sessionid",
    "laravel_session",
    "ci_session",
    "auth",
    "auth_token",
    "access_token",
    "refresh_token",
    "id_token",
    "jwt",
];

/// Cookies always ignored (the Observatory ignores Heroku's router cookie).
pub const ALWAYS_IGNORED: &[&str] = &["heroku-session-affinity"];

/// Options of `cookies`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CookieOptions {
    /// More exact session cookie names (ASCII case-insensitive), added to
    /// [`DEFAULT_SESSION_NAMES`].
    pub extra_session_names: Vec<String>,
    /// Cookie names not judged at all (ASCII case-insensitive), added to [`ALWAYS_IGNORED`].
    pub ignore_names: Vec<String>,
    /// Paths on the target origin (each starting with `/`) that the fetch probe also requests,
    /// not followed, for their `Set-Cookie` lines: pages such as a login form that set cookies
    /// the main URL does not (CHECKS.md §7, edge cases).
    pub paths: Vec<String>,
}

const SESSION_WITHOUT_SECURE: FindingDef =
    FindingDef::new("session_without_secure", Severity::High);
const SESSION_WITHOUT_SECURE_HSTS: FindingDef =
    FindingDef::new("session_without_secure_hsts", Severity::Medium);
const SESSION_WITHOUT_HTTPONLY: FindingDef =
    FindingDef::new("session_without_httponly", Severity::High);
const WITHOUT_SECURE: FindingDef = FindingDef::new("without_secure", Severity::High);
const WITHOUT_SECURE_HSTS: FindingDef = FindingDef::new("without_secure_hsts", Severity::Low);
const SAMESITE_INVALID: FindingDef = FindingDef::new("samesite_invalid", Severity::High);
const CSRF_WITHOUT_SAMESITE: FindingDef = FindingDef::new("csrf_without_samesite", Severity::High);
const PREFIX_VIOLATION: FindingDef = FindingDef::new("prefix_violation", Severity::Medium);
const SAMESITE_MISSING: FindingDef = FindingDef::new("samesite_missing", Severity::Info);
const SECURE_SET_OVER_HTTP: FindingDef = FindingDef::new("secure_set_over_http", Severity::Info);
const DOMAIN_TOO_BROAD: FindingDef = FindingDef::new("domain_too_broad", Severity::Info);

static OBSERVED: GaugeDef = GaugeDef {
    name: "cookies_observed",
    help: "Cookies set by the fetch responses after de-duplication (CHECKS.md cookies_total)",
    labels: &[],
};
static SESSION: GaugeDef = GaugeDef {
    name: "cookies_session",
    help: "Session cookies among them",
    labels: &[],
};
static WITHOUT_SECURE_G: GaugeDef = GaugeDef {
    name: "cookies_without_secure",
    help: "Cookies without Secure, or set over http",
    labels: &[],
};
static SESSION_WITHOUT_HTTPONLY_G: GaugeDef = GaugeDef {
    name: "cookies_session_without_httponly",
    help: "Session cookies without HttpOnly",
    labels: &[],
};
static WITHOUT_SAMESITE: GaugeDef = GaugeDef {
    name: "cookies_without_samesite",
    help: "Cookies without a SameSite attribute",
    labels: &[],
};

/// The check.
pub static CHECK: CheckDef = CheckDef {
    id: "cookies",
    summary: "cookies carry Secure, HttpOnly and SameSite as their role requires",
    inputs: &[ProbeKind::Fetch],
    findings: &[
        SESSION_WITHOUT_SECURE,
        SESSION_WITHOUT_SECURE_HSTS,
        SESSION_WITHOUT_HTTPONLY,
        WITHOUT_SECURE,
        WITHOUT_SECURE_HSTS,
        SAMESITE_INVALID,
        CSRF_WITHOUT_SAMESITE,
        PREFIX_VIOLATION,
        SAMESITE_MISSING,
        SECURE_SET_OVER_HTTP,
        DOMAIN_TOO_BROAD,
    ],
    gauges: &[
        &OBSERVED,
        &SESSION,
        &WITHOUT_SECURE_G,
        &SESSION_WITHOUT_HTTPONLY_G,
        &WITHOUT_SAMESITE,
    ],
    opt_in: false,
    scans_cycle: false,
    also_reads: &[],
    evaluate,
};

// ---------------------------------------------------------------------------------------------
// Parser.

/// A `SameSite` attribute value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SameSite {
    /// `Strict`.
    Strict,
    /// `Lax`.
    Lax,
    /// `None`.
    None,
    /// Anything else, including empty (browsers apply their default).
    Invalid(String),
}

/// One parsed `Set-Cookie` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    /// Cookie name (may be empty: a pair without `=` is all value).
    pub name: String,
    /// Length of the value in octets (the value itself is never kept: it may be a credential).
    pub value_len: usize,
    /// `Secure` present (any value).
    pub secure: bool,
    /// `HttpOnly` present (any value).
    pub http_only: bool,
    /// Last `SameSite`.
    pub same_site: Option<SameSite>,
    /// Last `Domain`, leading dot removed, lower-cased; `None` when absent or when the last
    /// one is empty (host-only).
    pub domain: Option<String>,
    /// Last `Path` value as written (maybe empty or relative, which means the default path).
    pub path: Option<String>,
    /// Last valid `Max-Age`, in seconds.
    pub max_age: Option<i64>,
    /// Last valid `Expires`, Unix seconds.
    pub expires: Option<i64>,
    /// The attributes as written (after the first `;`), for evidence.
    pub attributes: String,
}

/// Longest name + value browsers store (rfc6265bis §5.6).
const MAX_NAME_VALUE: usize = 4096;
/// Longest attribute value browsers read (rfc6265bis §5.6).
const MAX_ATTRIBUTE_VALUE: usize = 1024;

fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Octets of a part of the line: it was decoded as Latin-1, one char per octet.
fn octets(s: &str) -> usize {
    s.chars().count()
}

/// Parses one `Set-Cookie` line (RFC 6265 §5.2, rfc6265bis §5.6, §5.7). `None` when browsers
/// ignore the line: a control character other than HTAB, an empty name and value, an empty
/// name with a value starting `__Host-` or `__Secure-`, or a name and value longer than 4096
/// octets.
pub fn parse(line: &[u8]) -> Option<SetCookie> {
    let line = latin1(bounded(line));
    if line
        .chars()
        .any(|c| (c < ' ' && c != '\t') || c == '\u{7f}')
    {
        return None;
    }
    let (pair, attrs) = match line.find(';') {
        Some(i) => (&line[..i], &line[i..]),
        None => (line.as_str(), ""),
    };
    let (name, value) = match pair.find('=') {
        Some(i) => (&pair[..i], &pair[i + 1..]),
        None => ("", pair),
    };
    let (name, value) = (name.trim_matches(is_wsp), value.trim_matches(is_wsp));
    if name.is_empty() && value.is_empty() {
        return None;
    }
    // The storage model drops a nameless cookie that would pass for a prefixed one.
    if name.is_empty()
        && (strip_prefix_ci(value, "__Host-").is_some()
            || strip_prefix_ci(value, "__Secure-").is_some())
    {
        return None;
    }
    if octets(name) + octets(value) > MAX_NAME_VALUE {
        return None;
    }
    let mut c = SetCookie {
        name: name.to_owned(),
        value_len: octets(value),
        secure: false,
        http_only: false,
        same_site: None,
        domain: None,
        path: None,
        max_age: None,
        expires: None,
        attributes: attrs
            .trim_start_matches(';')
            .trim_matches(is_wsp)
            .to_owned(),
    };
    for av in attrs.split(';').skip(1) {
        let (an, avalue) = match av.find('=') {
            Some(i) => (&av[..i], &av[i + 1..]),
            None => (av, ""),
        };
        let (an, avalue) = (an.trim_matches(is_wsp), avalue.trim_matches(is_wsp));
        if octets(avalue) > MAX_ATTRIBUTE_VALUE {
            continue;
        }
        match an.to_ascii_lowercase().as_str() {
            "expires" => {
                if let Some(t) = parse_cookie_date(avalue) {
                    c.expires = Some(t);
                }
            }
            "max-age" => {
                if let Some(n) = parse_max_age(avalue) {
                    c.max_age = Some(n);
                }
            }
            // The last Domain wins even when empty, which makes the cookie host-only
            // (rfc6265bis §5.7; RFC 6265 §5.2.3 ignored an empty one).
            "domain" => {
                let d = avalue.strip_prefix('.').unwrap_or(avalue);
                c.domain = (!d.is_empty()).then(|| d.to_ascii_lowercase());
            }
            "path" => c.path = Some(avalue.to_owned()),
            "secure" => c.secure = true,
            "httponly" => c.http_only = true,
            "samesite" => {
                c.same_site = Some(match avalue.to_ascii_lowercase().as_str() {
                    "strict" => SameSite::Strict,
                    "lax" => SameSite::Lax,
                    "none" => SameSite::None,
                    _ => SameSite::Invalid(avalue.to_owned()),
                });
            }
            _ => {}
        }
    }
    Some(c)
}

/// `Max-Age`: an optional `-` then digits (RFC 6265 §5.2.2); saturating.
fn parse_max_age(v: &str) -> Option<i64> {
    let (neg, digits) = match v.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, v),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = digits.bytes().fold(0i64, |acc, b| {
        acc.saturating_mul(10).saturating_add(i64::from(b - b'0'))
    });
    Some(if neg { -n } else { n })
}

fn is_delimiter(c: char) -> bool {
    matches!(c, '\t' | ' '..='/' | ';'..='@' | '['..='`' | '{'..='~')
}

/// A token's leading run of 1–`max` digits when followed by a non-digit or the end.
fn leading_digits(token: &str, min: usize, max: usize) -> Option<u32> {
    let n = token.bytes().take_while(u8::is_ascii_digit).count();
    if n < min || n > max {
        return None;
    }
    token[..n].parse().ok()
}

/// The cookie-date algorithm of RFC 6265 §5.1.1, as Unix seconds.
pub fn parse_cookie_date(s: &str) -> Option<i64> {
    let (mut time, mut day, mut month, mut year) = (None, None, None, None);
    for token in s.split(is_delimiter).filter(|t| !t.is_empty()) {
        if time.is_none()
            && let Some(t) = parse_time(token)
        {
            time = Some(t);
        } else if day.is_none()
            && let Some(d) = leading_digits(token, 1, 2)
        {
            day = Some(d);
        } else if month.is_none()
            && let Some(m) = parse_month(token)
        {
            month = Some(m);
        } else if year.is_none()
            && let Some(y) = leading_digits(token, 2, 4)
        {
            year = Some(y);
        }
    }
    let (h, mi, se) = time?;
    let (day, month, mut year) = (day?, month?, year?);
    if (70..=99).contains(&year) {
        year += 1900;
    } else if year <= 69 {
        year += 2000;
    }
    if !(1..=31).contains(&day) || year < 1601 || h > 23 || mi > 59 || se > 59 {
        return None;
    }
    if day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    Some(days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(se))
}

fn parse_time(token: &str) -> Option<(u32, u32, u32)> {
    let mut parts = token.splitn(3, ':');
    let h = parts.next()?;
    let m = parts.next()?;
    let rest = parts.next()?;
    let all_digits =
        |x: &str| !x.is_empty() && x.len() <= 2 && x.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(h) || !all_digits(m) {
        return None;
    }
    let s = leading_digits(rest, 1, 2)?;
    Some((h.parse().ok()?, m.parse().ok()?, s))
}

fn parse_month(token: &str) -> Option<u32> {
    let prefix = token.get(..3)?.to_ascii_lowercase();
    [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|m| *m == prefix)
    .map(|i| i as u32 + 1)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The default-path of a request URL (RFC 6265 §5.1.4).
fn default_path(url: &Url) -> String {
    let p = url.path();
    if !p.starts_with('/') {
        return "/".into();
    }
    match p.rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => p[..i].to_owned(),
    }
}

fn strip_prefix_ci<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    name.get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .map(|_| &name[prefix.len()..])
}

/// Whether a configured cookie name matches `name`: ASCII case-insensitively, and as a prefix
/// when it ends with `*` (`username-*` for Jupyter's `username-<host>-<port>`).
fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => strip_prefix_ci(name, prefix).is_some(),
        None => pattern.eq_ignore_ascii_case(name),
    }
}

/// Which rule made a cookie a session cookie, if any.
pub fn session_rule(name: &str, opts: &CookieOptions) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if lower.contains("login") || lower.contains("sess") {
        return Some("name contains login or sess");
    }
    let bare = strip_prefix_ci(name, "__Host-")
        .or_else(|| strip_prefix_ci(name, "__Secure-"))
        .unwrap_or(name);
    if DEFAULT_SESSION_NAMES.iter().any(|n| name_matches(n, bare)) {
        return Some("name is a known session cookie name");
    }
    opts.extra_session_names
        .iter()
        .any(|n| name_matches(n, bare))
        .then_some("name listed in cookies.extra_session_names")
}

/// Whether browsers would drop the cookie for its prefix (rfc6265bis storage model), and why.
pub fn prefix_violation(c: &SetCookie) -> Option<&'static str> {
    if strip_prefix_ci(&c.name, "__Secure-").is_some() && !c.secure {
        return Some("__Secure- cookie without Secure");
    }
    if strip_prefix_ci(&c.name, "__Host-").is_some() {
        if !c.secure {
            return Some("__Host- cookie without Secure");
        }
        if c.domain.is_some() {
            return Some("__Host- cookie with Domain");
        }
        if c.path.as_deref() != Some("/") {
            return Some("__Host- cookie without Path=/");
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The rule.

/// A cookie as stored from one line.
struct Line<'a> {
    cookie: SetCookie,
    response: &'a Exchange,
    /// Which response of the cycle it came in (its position).
    nth: usize,
    /// The first response of the cycle that sent this same line (value length and attributes)
    /// over the same scheme: evidence names the main page rather than `/robots.txt`, which
    /// comes later, and never a response that sent another value.
    cited: &'a Exchange,
    host: String,
    key: CookieKey,
    deletion: bool,
}

/// What a browser stores a cookie under: (name, domain, path).
type CookieKey = (String, String, String);

fn evidence(l: &Line<'_>, why: &str) -> String {
    let attrs = if l.cookie.attributes.is_empty() {
        String::new()
    } else {
        format!("; {}", l.cookie.attributes)
    };
    format!(
        "cookie \"{}\" ({why}): Set-Cookie: {}=<{} bytes>{attrs} on {}",
        l.cookie.name,
        l.cookie.name,
        l.cookie.value_len,
        l.cited.request()
    )
}

fn now_secs(now: SystemTime) -> i64 {
    now.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn evaluate(input: &CheckInput<'_>) -> Evaluation {
    let (fetch, _) = match input.judged_response() {
        Ok(r) => r,
        Err(j) => return Evaluation::bare(j),
    };
    // The hsts rule itself, whether or not the hsts check is reported (`--checks cookies`, a
    // `checks:` list without it): the fact belongs to the cookies rule too.
    let hsts = super::evaluate(&super::hsts::CHECK, input);
    let hsts = if hsts.status != Status::Pass {
        HstsCover::None
    } else if hsts
        .measurements
        .iter()
        .any(|m| m.gauge.name == "hsts_include_subdomains" && m.value == 1.0)
    {
        HstsCover::HostAndSubdomains
    } else {
        HstsCover::Host
    };
    let (findings, m) = judge(
        fetch.responses(),
        &input.target.options.cookies,
        &input.target.host,
        hsts,
        input.now,
    );
    let mut findings = findings;
    // A page of `cookies.paths` that went unanswered (a login handler that panics or hangs)
    // hides its Set-Cookie lines: nothing worse than info seen elsewhere is no pass.
    if fetch.extra.iter().any(|c| c.final_response().is_none())
        && findings.iter().all(|f| f.severity == Severity::Info)
    {
        return Evaluation::bare(Judgement::Error("no_response"));
    }
    super::cap_findings_per_id(&mut findings, MAX_FINDINGS_PER_ID);
    Evaluation::new(Judgement::Evaluated(findings), m)
}

/// Findings of one id kept at most (each names one cookie).
const MAX_FINDINGS_PER_ID: usize = 20;

/// Where a passing `hsts` check protects cookies (CHECKS.md §7 "HSTS-protected").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HstsCover {
    /// hsts does not pass.
    None,
    /// The target host only.
    Host,
    /// The target host and, by `includeSubDomains`, its subdomains (the `www` an apex
    /// redirects to).
    HostAndSubdomains,
}

/// Judges the cookies of `responses`. `hsts` says where `hsts` protects them.
pub fn judge<'a>(
    responses: impl Iterator<Item = &'a Exchange>,
    opts: &CookieOptions,
    target_host: &str,
    hsts: HstsCover,
    now: SystemTime,
) -> (Vec<Finding>, Vec<Measurement>) {
    let now = now_secs(now);
    let ignored = |name: &str| {
        ALWAYS_IGNORED
            .iter()
            .copied()
            .chain(opts.ignore_names.iter().map(String::as_str))
            .any(|n| name_matches(n, name))
    };
    let mut lines: Vec<Line<'_>> = Vec::new();
    // (key, value length, attributes, scheme): one line's shape.
    type LineShape = (CookieKey, usize, String, String);
    let mut first_seen: std::collections::HashMap<LineShape, &Exchange> =
        std::collections::HashMap::new();
    for (nth, r) in responses.enumerate() {
        let host = r.url.host_str().map(normalize_host).unwrap_or_default();
        for v in r.header_lines("set-cookie") {
            let Some(cookie) = parse(v.as_bytes()) else {
                continue;
            };
            if ignored(&cookie.name) {
                continue;
            }
            // Browsers reject a Domain that does not cover the host or is a public suffix.
            if let Some(d) = &cookie.domain {
                let covers = *d == host
                    || (host.ends_with(&format!(".{d}"))
                        && host.parse::<std::net::IpAddr>().is_err());
                if !covers || (*d != host && registrable_domain(d).is_none()) {
                    continue;
                }
            }
            let path = match &cookie.path {
                Some(p) if p.starts_with('/') => p.clone(),
                _ => default_path(&r.url),
            };
            let domain = cookie.domain.clone().unwrap_or_else(|| host.clone());
            let deletion = match (cookie.max_age, cookie.expires) {
                (Some(age), _) => age <= 0,
                (None, Some(t)) => t <= now,
                (None, None) => false,
            };
            let key = (cookie.name.clone(), domain, path);
            let cited = *first_seen
                .entry((
                    key.clone(),
                    cookie.value_len,
                    cookie.attributes.clone(),
                    r.url.scheme().to_owned(),
                ))
                .or_insert(r);
            lines.push(Line {
                key,
                cookie,
                response: r,
                nth,
                cited,
                host: host.clone(),
                deletion,
            });
        }
    }

    let mut findings = Vec::new();
    let mut raised: HashSet<(&'static str, CookieKey)> = HashSet::new();
    let mut raise = |def: &FindingDef, l: &Line<'_>, why: &str, findings: &mut Vec<Finding>| {
        if raised.insert((def.id, l.key.clone())) {
            findings.push(Finding::new(def, evidence(l, why)));
        }
    };
    let subdomain_suffix = format!(".{target_host}");
    let protected = |l: &Line<'_>| match hsts {
        HstsCover::None => false,
        HstsCover::Host => l.host == target_host,
        HstsCover::HostAndSubdomains => {
            l.host == target_host || l.host.ends_with(&subdomain_suffix)
        }
    };
    let lacks_secure = |l: &Line<'_>, session: Option<&str>| -> (&'static FindingDef, String) {
        let hsts = protected(l);
        match (session, hsts) {
            (Some(rule), false) => (&SESSION_WITHOUT_SECURE, format!("session: {rule}")),
            (Some(rule), true) => (
                &SESSION_WITHOUT_SECURE_HSTS,
                format!("session: {rule}; HSTS-protected"),
            ),
            (None, false) => (&WITHOUT_SECURE, "not a session cookie".into()),
            (None, true) => (
                &WITHOUT_SECURE_HSTS,
                "not a session cookie; HSTS-protected".into(),
            ),
        }
    };

    // Over-HTTP rule: each line of an http:// response on its own, before de-duplication.
    let mut over_http: HashSet<CookieKey> = HashSet::new();
    for l in lines.iter().filter(|l| !l.deletion) {
        if l.response.url.scheme() != "http" {
            continue;
        }
        over_http.insert(l.key.clone());
        let session = session_rule(&l.cookie.name, opts);
        let (def, why) = lacks_secure(l, session);
        raise(def, l, &format!("{why}; set over http"), &mut findings);
        if l.cookie.secure {
            raise(
                &SECURE_SET_OVER_HTTP,
                l,
                "Secure cookie in an http:// response, ignored by browsers",
                &mut findings,
            );
        }
    }

    // Skip deletions, and what a deletion later in the same response removes (a browser keeps
    // nothing of either); then de-duplicate by (name, domain, path), keeping the last line, in
    // the order of those last lines. A deletion on another page of the cycle (a logout page
    // listed after the login page) is another visit: it does not hide the cookie a visitor of
    // the first page keeps.
    let last_deletion: std::collections::HashMap<(usize, &CookieKey), usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.deletion)
        .map(|(i, l)| ((l.nth, &l.key), i))
        .collect();
    let kept: Vec<&Line<'_>> = lines
        .iter()
        .enumerate()
        .filter(|&(i, l)| !l.deletion && last_deletion.get(&(l.nth, &l.key)).is_none_or(|&d| d < i))
        .map(|(_, l)| l)
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut last: Vec<&Line<'_>> = kept
        .into_iter()
        .rev()
        .filter(|l| seen.insert(&l.key))
        .collect();
    last.reverse();

    let (mut sessions, mut without_secure, mut session_no_httponly, mut no_samesite) = (0, 0, 0, 0);
    for l in &last {
        let c = &l.cookie;
        let session = session_rule(&c.name, opts);
        let set_over_http = over_http.contains(&l.key);
        if session.is_some() {
            sessions += 1;
        }
        if !c.secure || set_over_http {
            without_secure += 1;
            let (def, why) = lacks_secure(l, session);
            let why = if set_over_http {
                format!("{why}; set over http")
            } else {
                format!("{why}; no Secure")
            };
            raise(def, l, &why, &mut findings);
        }
        if let Some(rule) = session
            && !c.http_only
        {
            session_no_httponly += 1;
            raise(
                &SESSION_WITHOUT_HTTPONLY,
                l,
                &format!("session: {rule}; no HttpOnly"),
                &mut findings,
            );
        }
        match &c.same_site {
            Some(SameSite::Invalid(v)) => raise(
                &SAMESITE_INVALID,
                l,
                &format!("invalid SameSite value {v:?}"),
                &mut findings,
            ),
            Some(SameSite::None) if !c.secure => raise(
                &SAMESITE_INVALID,
                l,
                "SameSite=None without Secure is rejected by browsers",
                &mut findings,
            ),
            _ => {}
        }
        if c.same_site.is_none() {
            no_samesite += 1;
            let lower = c.name.to_ascii_lowercase();
            if lower.contains("csrf") || lower.contains("xsrf") {
                raise(
                    &CSRF_WITHOUT_SAMESITE,
                    l,
                    "anti-CSRF cookie without SameSite",
                    &mut findings,
                );
            }
            raise(&SAMESITE_MISSING, l, "no SameSite", &mut findings);
        }
        if let Some(why) = prefix_violation(c) {
            raise(
                &PREFIX_VIOLATION,
                l,
                &format!("{why}: browsers drop it"),
                &mut findings,
            );
        }
        if let Some(d) = &c.domain
            && *d != l.host
        {
            raise(
                &DOMAIN_TOO_BROAD,
                l,
                &format!("Domain={d} is a parent of {}", l.host),
                &mut findings,
            );
        }
    }
    let m = vec![
        Measurement::new(&OBSERVED, last.len() as f64),
        Measurement::new(&SESSION, f64::from(sessions)),
        Measurement::new(&WITHOUT_SECURE_G, f64::from(without_secure)),
        Measurement::new(&SESSION_WITHOUT_HTTPONLY_G, f64::from(session_no_httponly)),
        Measurement::new(&WITHOUT_SAMESITE, f64::from(no_samesite)),
    ];
    (findings, m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::test_support::exchange_at;

    fn c(s: &str) -> SetCookie {
        parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn a_comma_in_expires_does_not_split_the_line() {
        let k = c("id=a3fWa; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Secure; HttpOnly");
        assert_eq!(k.name, "id");
        assert!(k.secure && k.http_only);
        assert_eq!(k.expires, Some(1_445_412_480));
    }

    #[test]
    fn secure_false_still_sets_secure() {
        let k = c("a=b; Secure=false; HttpOnly=no");
        assert!(k.secure);
        assert!(k.http_only);
    }

    #[test]
    fn attributes_are_case_insensitive_and_the_last_wins() {
        let k = c("a=b; SAMESITE=lax; samesite=Strict; path=/x; PATH=/; domain=.Example.COM");
        assert_eq!(k.same_site, Some(SameSite::Strict));
        assert_eq!(k.path.as_deref(), Some("/"));
        assert_eq!(k.domain.as_deref(), Some("example.com"));
        let k = c("a=b; SameSite=Lax; SameSite=");
        assert_eq!(k.same_site, Some(SameSite::Invalid(String::new())));
        let k = c("a=b; SameSite=None");
        assert_eq!(k.same_site, Some(SameSite::None));
    }

    #[test]
    fn name_value_pair_edge_cases() {
        assert_eq!(c("novalue").name, "");
        assert_eq!(c("novalue").value_len, 7);
        assert_eq!(c(" a = b=c ").name, "a");
        assert_eq!(c(" a = b=c ").value_len, 3);
        assert!(parse(b"=").is_none());
        assert!(parse(b"; Secure").is_none());
        assert!(parse(b"a=b\x01").is_none());
        let long = format!("a={}", "x".repeat(5000));
        assert!(parse(long.as_bytes()).is_none());
        // Non-UTF-8 bytes decode as Latin-1.
        assert_eq!(parse(b"n\xe9=v").unwrap().name, "n\u{e9}");
    }

    /// rfc6265bis §5.6: name + value ≤ 4096 and attribute values ≤ 1024 count octets. A
    /// Latin-1 byte is one octet, though it decodes to two UTF-8 bytes.
    #[test]
    fn size_limits_count_octets() {
        let line = |head: &[u8], fill: usize| [head, &vec![0xe9; fill][..]].concat();
        let k = parse(&line(b"sid=", 2100)).expect("2103 octets are stored");
        assert_eq!(k.value_len, 2100);
        assert!(parse(&line(b"sid=", 4093)).is_some(), "4096 octets");
        assert!(parse(&line(b"sid=", 4094)).is_none(), "4097 octets");
        let k = parse(&line(b"a=b; Path=/", 1023)).unwrap();
        assert_eq!(k.path.map(|p| p.chars().count()), Some(1024));
        assert_eq!(parse(&line(b"a=b; Path=/", 1024)).unwrap().path, None);
    }

    #[test]
    fn the_last_domain_wins_and_an_empty_one_means_host_only() {
        assert_eq!(c("a=1; Domain=example.test; Domain=").domain, None);
        assert_eq!(c("a=1; Domain=.").domain, None);
        assert_eq!(
            c("a=1; Domain=; Domain=Example.test").domain.as_deref(),
            Some("example.test")
        );
    }

    /// rfc6265bis §5.7 storage model: a nameless cookie whose value starts with a prefix
    /// (case-insensitively) is ignored entirely.
    #[test]
    fn a_nameless_cookie_that_looks_prefixed_is_dropped() {
        assert!(parse(b"=__Host-y; Secure; Path=/").is_none());
        assert!(parse(b"__SECURE-y").is_none());
        assert!(parse(b"=__host-").is_none());
        assert_eq!(c("=y").value_len, 1);
        assert_eq!(c("a=__Host-y").name, "a");
    }

    #[test]
    fn max_age_and_dates() {
        assert_eq!(c("a=b; Max-Age=0").max_age, Some(0));
        assert_eq!(c("a=b; Max-Age=-5").max_age, Some(-5));
        assert_eq!(c("a=b; Max-Age=+5").max_age, None);
        assert_eq!(
            c("a=b; Max-Age=99999999999999999999999").max_age,
            Some(i64::MAX)
        );
        assert_eq!(parse_cookie_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_cookie_date("Sun, 06-Nov-94 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_cookie_date("Wed Jun 09 10:18:14 2021"),
            Some(1_623_233_894)
        );
        assert_eq!(parse_cookie_date("31 Feb 2021 00:00:00"), None);
        assert_eq!(parse_cookie_date("01 Jan 1600 00:00:00"), None);
        assert_eq!(parse_cookie_date("garbage"), None);
        assert_eq!(
            parse_cookie_date("29 Feb 2024 23:59:59"),
            Some(1_709_251_199)
        );
    }

    #[test]
    fn prefixes_are_matched_case_insensitively() {
        assert!(prefix_violation(&c("__secure-a=1")).is_some());
        assert!(prefix_violation(&c("__Secure-a=1; Secure")).is_none());
        assert!(prefix_violation(&c("__HOST-a=1; Secure; Path=/")).is_none());
        assert!(prefix_violation(&c("__Host-a=1; Secure")).is_some());
        assert!(prefix_violation(&c("__Host-a=1; Secure; Path=/; Domain=x.example")).is_some());
        assert!(prefix_violation(&c("__Host-a=1; Path=/")).is_some());
    }

    #[test]
    fn session_classification() {
        let o = CookieOptions::default();
        assert!(session_rule("PHPSESSID", &o).is_some());
        assert!(session_rule("__Host-sid", &o).is_some());
        assert!(session_rule("my_login_state", &o).is_some());
        assert!(session_rule("theme", &o).is_none());
        let o = CookieOptions {
            extra_session_names: vec!["Token".into(), "username-*".into()],
            ..CookieOptions::default()
        };
        // The evidence tells a configured name from the built-in rules (CHECKS.md §7).
        assert_eq!(
            session_rule("token", &o),
            Some("name listed in cookies.extra_session_names")
        );
        assert_eq!(
            session_rule("sid", &o),
            Some("name is a known session cookie name")
        );
        assert!(session_rule("tokens", &o).is_none());
        // A trailing `*` is a prefix (Jupyter's `username-<host>-<port>`).
        assert!(session_rule("username-127-0-0-1-8888", &o).is_some());
        assert!(session_rule("Username-lab-443", &o).is_some());
        assert!(session_rule("user", &o).is_none());
    }

    fn ids(lines: &[(&str, &[&str])], hsts: bool) -> Vec<&'static str> {
        ids_with(
            lines,
            if hsts {
                HstsCover::Host
            } else {
                HstsCover::None
            },
        )
    }

    fn ids_with(lines: &[(&str, &[&str])], hsts: HstsCover) -> Vec<&'static str> {
        let mut v: Vec<_> = findings(lines, hsts).iter().map(|f| f.id).collect();
        v.sort_unstable();
        v
    }

    fn findings(lines: &[(&str, &[&str])], hsts: HstsCover) -> Vec<Finding> {
        let responses: Vec<Exchange> = lines
            .iter()
            .map(|(url, cookies)| {
                let h: Vec<(&str, &str)> = cookies.iter().map(|c| ("set-cookie", *c)).collect();
                exchange_at(url, &h, "")
            })
            .collect();
        judge(
            responses.iter(),
            &CookieOptions::default(),
            "example.test",
            hsts,
            SystemTime::now(),
        )
        .0
    }

    #[test]
    fn over_http_lines_are_judged_before_deduplication() {
        let got = ids(
            &[
                (
                    "http://example.test/",
                    &["sid=1; Secure; HttpOnly; SameSite=Lax"],
                ),
                (
                    "https://example.test/",
                    &["sid=2; Secure; HttpOnly; SameSite=Lax"],
                ),
            ],
            false,
        );
        assert_eq!(got, ["secure_set_over_http", "session_without_secure"]);
        let got = ids(
            &[
                ("http://example.test/", &["theme=1; SameSite=Lax"]),
                ("https://example.test/", &["theme=2; Secure; SameSite=Lax"]),
            ],
            true,
        );
        assert_eq!(got, ["without_secure_hsts"]);
    }

    #[test]
    fn include_subdomains_protects_the_www_an_apex_redirects_to() {
        let www = [(
            "https://www.example.test/",
            &["_app_session=1; HttpOnly; SameSite=Lax"][..],
        )];
        assert_eq!(
            ids_with(&www, HstsCover::HostAndSubdomains),
            ["session_without_secure_hsts"]
        );
        assert_eq!(ids_with(&www, HstsCover::Host), ["session_without_secure"]);
        // A look-alike host is no subdomain.
        let other = [(
            "https://notexample.test/",
            &["_app_session=1; HttpOnly; SameSite=Lax"][..],
        )];
        assert_eq!(
            ids_with(&other, HstsCover::HostAndSubdomains),
            ["session_without_secure"]
        );
    }

    #[test]
    fn deletions_and_ignored_cookies_are_skipped() {
        let got = ids(
            &[(
                "https://example.test/",
                &[
                    "sid=; Max-Age=0",
                    "old=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                    "heroku-session-affinity=x",
                ],
            )],
            false,
        );
        assert!(got.is_empty(), "{got:?}");
        // A later deletion in the same response removes an earlier set (PHP's logout sends
        // the regenerated id, then its deletion).
        let got = ids(
            &[("https://example.test/", &["sid=1", "sid=; Max-Age=0"])],
            false,
        );
        assert!(got.is_empty(), "{got:?}");
        // A deletion on another page of the cycle is another visit: the login page's cookie
        // stays judged, whatever the order of `cookies.paths` (koa-session's login and logout).
        for pages in [["login", "logout"], ["logout", "login"]] {
            let url = |p: &str| format!("https://example.test/{p}");
            let lines = |p: &str| -> &[&str] {
                if p == "login" {
                    &["sid=1; Path=/"]
                } else {
                    &["sid=; Path=/; Max-Age=0"]
                }
            };
            let (a, b) = (url(pages[0]), url(pages[1]));
            let got = ids(&[(&a, lines(pages[0])), (&b, lines(pages[1]))], false);
            assert_eq!(
                got,
                [
                    "samesite_missing",
                    "session_without_httponly",
                    "session_without_secure"
                ],
                "{pages:?}"
            );
        }
    }

    /// The evidence quotes the kept line and names a response that sent that very line.
    #[test]
    fn evidence_names_the_response_of_the_line_it_quotes() {
        let got = findings(
            &[
                ("https://example.test/p1", &["sid=aaaa; HttpOnly; Path=/"]),
                ("https://example.test/login", &["sid=zz; HttpOnly; Path=/"]),
            ],
            HstsCover::None,
        );
        let f = got
            .iter()
            .find(|f| f.id == "session_without_secure")
            .unwrap();
        assert!(
            f.evidence.contains("sid=<2 bytes>") && f.evidence.contains("/login"),
            "{}",
            f.evidence
        );
    }

    /// The audit's repros of the rfc6265bis storage model, as finding ids.
    #[test]
    fn storage_model_cases_as_findings() {
        // "é" is C3 A9 on the wire: 2100 octets, 4200 UTF-8 bytes once decoded as Latin-1.
        let wide = format!("sid={}; SameSite=Lax", "é".repeat(1050));
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "https://example.test/",
                &wide,
                &["session_without_httponly", "session_without_secure"],
            ),
            // An empty Domain last makes the cookie host-only: no domain_too_broad.
            (
                "https://www.example.test/",
                "a=1; Domain=example.test; Domain=; Secure; SameSite=Lax",
                &[],
            ),
            (
                "https://www.example.test/",
                "a=1; Domain=; Domain=example.test; Secure; SameSite=Lax",
                &["domain_too_broad"],
            ),
            // Browsers drop a nameless cookie that looks prefixed: no without_secure.
            ("https://example.test/", "=__Host-y; SameSite=Lax", &[]),
            ("https://example.test/", "=__secure-y; SameSite=Lax", &[]),
            (
                "https://example.test/",
                "=y; SameSite=Lax",
                &["without_secure"],
            ),
        ];
        for (url, line, expected) in cases {
            let got = ids(&[(url, &[*line][..])], false);
            assert_eq!(got, *expected, "{url} {line:.60}");
        }
    }

    #[test]
    fn foreign_or_public_suffix_domains_are_rejected_like_browsers_do() {
        let got = ids(
            &[(
                "https://www.example.test/",
                &["a=1; Domain=other.test", "b=1; Domain=test"],
            )],
            false,
        );
        assert!(got.is_empty(), "{got:?}");
    }
}
