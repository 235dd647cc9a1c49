//! `exposed_paths` (CHECKS.md §13): well-known sensitive files and endpoints are not publicly
//! served. A path is a *hit* only if it answered 200/206, its content signature matches, and it
//! is not baseline-like (the same-shape random path answered alike). Status alone never raises
//! a finding.

use regex::Regex;
use std::sync::LazyLock;

use super::{CheckDef, CheckInput, Evaluation};
use crate::active::{cert_gate, stopped_judgement};
use crate::evidence::Exchange;
use crate::fetch::OTHER_BODY_CAP;
use crate::measure::{GaugeDef, Measurement};
use crate::paths::{DEFAULT_PATHS, PathsEvidence, Shape};
use crate::probe::ProbeKind;
use crate::verdict::{Finding, FindingDef, Judgement, Severity};

/// A configured extra path (`exposed_paths.extra_paths`).
#[derive(Debug, Clone)]
pub struct ExtraPath {
    /// Its id: the `path_id` label value and the finding's evidence.
    pub id: String,
    /// The path, starting with `/`.
    pub path: String,
    /// The content signature (status alone never raises a finding).
    pub signature: Regex,
    /// Severity of the `custom_path` finding it raises.
    pub severity: Severity,
}

/// Options of `exposed_paths`.
#[derive(Debug, Clone, Default)]
pub struct ExposedPathsOptions {
    /// Extra paths (at most 20).
    pub extra_paths: Vec<ExtraPath>,
    /// Also sweep under the target's base path (`/app/.env`).
    pub under_base_path: bool,
    /// Public API docs are intended: `openapi_docs` and `api_docs_ui` become info.
    pub public_api_docs: bool,
}

const GIT: FindingDef = FindingDef::new("git_repository", Severity::High);
const DOTENV: FindingDef = FindingDef::new("dotenv", Severity::Critical);
const AWS: FindingDef = FindingDef::new("aws_credentials", Severity::Critical);
const HTPASSWD: FindingDef = FindingDef::new("htpasswd", Severity::High);
const SVN: FindingDef = FindingDef::new("svn_repository", Severity::High);
const DS_STORE: FindingDef = FindingDef::new("ds_store", Severity::Low);
const APACHE: FindingDef = FindingDef::new("apache_status", Severity::Medium);
const NGINX: FindingDef = FindingDef::new("nginx_status", Severity::Low);
const ACTUATOR_ENV: FindingDef = FindingDef::new("actuator_env", Severity::High);
const HEAPDUMP: FindingDef = FindingDef::new("actuator_heapdump", Severity::Critical);
const EXCHANGES: FindingDef = FindingDef::new("actuator_httpexchanges", Severity::High);
const ACTUATOR_INDEX: FindingDef = FindingDef::new("actuator_index", Severity::Low);
const PPROF: FindingDef = FindingDef::new("go_pprof", Severity::High);
const EXPVAR: FindingDef = FindingDef::new("go_expvar", Severity::Medium);
const PHPINFO: FindingDef = FindingDef::new("phpinfo", Severity::Medium);
const WERKZEUG: FindingDef = FindingDef::new("werkzeug_console", Severity::Critical);
const ASPNET: FindingDef = FindingDef::new("aspnet_trace", Severity::Medium);
const OPENAPI: FindingDef = FindingDef::new("openapi_docs", Severity::Low);
const DOCS_UI: FindingDef = FindingDef::new("api_docs_ui", Severity::Low);
const METRICS: FindingDef = FindingDef::new("prometheus_metrics", Severity::Low);
/// A configured extra path was found (deviation: CHECKS.md has no user-extensible list).
const CUSTOM: FindingDef = FindingDef::new("custom_path", Severity::Medium);

/// phpinfo()'s title (PHP 5–7: `phpinfo()`, PHP 8: `PHP 8.2.36 - phpinfo()`) or its version
/// heading `<h1 class="p">PHP Version 8.2.36</h1>`.
static PHPINFO_PAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"<title>(?:PHP [\d.]+ - )?phpinfo\(\)</title>|<h1 class="p">PHP Version \d"#)
        .expect("valid phpinfo regex")
});
static CATALOGUE: &[FindingDef] = &[
    GIT,
    DOTENV,
    AWS,
    HTPASSWD,
    SVN,
    DS_STORE,
    APACHE,
    NGINX,
    ACTUATOR_ENV,
    HEAPDUMP,
    EXCHANGES,
    ACTUATOR_INDEX,
    PPROF,
    EXPVAR,
    PHPINFO,
    WERKZEUG,
    ASPNET,
    OPENAPI,
    DOCS_UI,
    METRICS,
    CUSTOM,
];

static CHECKED: GaugeDef = GaugeDef {
    name: "exposed_paths_checked",
    help: "Listed paths requested in the last paths run (baseline excluded)",
    labels: &[],
};
static FOUND: GaugeDef = GaugeDef {
    name: "exposed_paths_found",
    help: "Path ids found exposed",
    labels: &[],
};
static PATH_FOUND: GaugeDef = GaugeDef {
    name: "exposed_path_found",
    help: "1 if the path id is exposed, else 0 (path_id: the CHECKS.md list plus configured extra paths)",
    labels: &["path_id"],
};
static PROTECTED: GaugeDef = GaugeDef {
    name: "exposed_paths_protected",
    help: "Listed paths that answered 401 or 403",
    labels: &[],
};
static SOFT_404: GaugeDef = GaugeDef {
    name: "soft_404_detected",
    help: "1 if a random baseline path answered 200 (or 206 to its Range request)",
    labels: &[],
};

/// The check.
pub static CHECK: CheckDef = CheckDef {
    id: "exposed_paths",
    summary: "well-known sensitive files and endpoints are not publicly served",
    inputs: &[ProbeKind::Paths, ProbeKind::Fetch],
    findings: CATALOGUE,
    gauges: &[&CHECKED, &FOUND, &PATH_FOUND, &PROTECTED, &SOFT_404],
    opt_in: false,
    scans_cycle: false,
    also_reads: &[],
    evaluate,
};

fn re(p: &str) -> Regex {
    Regex::new(p).expect("signature pattern compiles")
}

static DOTENV_LINE: LazyLock<Regex> = LazyLock::new(|| re(r"(?m)^[A-Z][A-Z0-9_]*="));
static HTPASSWD_LINE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?m)^[^:\s]+:(\$apr1\$|\$2[aby]\$|\{SHA\})"));
static GIT_HEAD: LazyLock<Regex> = LazyLock::new(|| re(r"(?m)\A(?:ref: refs/|[0-9a-f]{40}\s*\z)"));
static OPENAPI_RE: LazyLock<Regex> =
    LazyLock::new(|| re(r#""openapi"\s*:\s*"3|"swagger"\s*:\s*"2"#));
static DOCS_UI_RE: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)swagger-ui|redoc"));
static PROM_HELP: LazyLock<Regex> = LazyLock::new(|| re(r"(?m)^# HELP \S+"));
static PROM_TYPE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?m)^# TYPE \S+ (counter|gauge|histogram|summary|untyped)"));

fn no_html(t: &str) -> bool {
    let l = t.to_ascii_lowercase();
    !l.contains("<html") && !l.contains("<!doctype")
}

/// Whether `body` carries the content signature of `id` (CHECKS.md §13), for `path`.
pub fn signature_matches(id: &str, path: &str, body: &[u8]) -> bool {
    let t = String::from_utf8_lossy(body);
    let has = |s: &str| t.contains(s);
    match id {
        "git_repository" if path.ends_with("HEAD") => GIT_HEAD.is_match(&t),
        "git_repository" => {
            (has("[core]") || has("[credentials]")) && !t.to_ascii_lowercase().contains("<html")
        }
        "dotenv" => DOTENV_LINE.find_iter(&t).take(2).count() == 2 && no_html(&t),
        "aws_credentials" => has("aws_access_key_id"),
        "htpasswd" => HTPASSWD_LINE.is_match(&t),
        "svn_repository" => body.starts_with(b"SQLite format 3\0"),
        "ds_store" => body.starts_with(&[0, 0, 0, 1, 0x42, 0x75, 0x64, 0x31]),
        "apache_status" => has("Apache Server Status for") || has("Apache Server Information"),
        "nginx_status" => has("Active connections:") && has("server accepts handled requests"),
        "actuator_env" => has("\"propertySources\"") || has("\"activeProfiles\""),
        "actuator_heapdump" => body.starts_with(b"JAVA PROFILE 1.0.") || is_gzip(body),
        "actuator_httpexchanges" => has("\"exchanges\"") || has("\"traces\""),
        "actuator_index" => has("\"_links\"") && has("/actuator"),
        "go_pprof" => has("Types of profiles available"),
        "go_expvar" => has("\"memstats\"") && has("\"cmdline\""),
        // Deviation: PHP 8 titles the page "PHP 8.2.36 - phpinfo()", and its "PHP License"
        // section lies beyond the 64 KiB read; the version heading comes first.
        "phpinfo" => PHPINFO_PAGE.is_match(&t) || (has("PHP Version") && has("PHP License")),
        "werkzeug_console" => has("Werkzeug Debugger"),
        "aspnet_trace" => has("Application Trace") || has("Error Log for"),
        "openapi_docs" => OPENAPI_RE.is_match(&t),
        "api_docs_ui" => DOCS_UI_RE.is_match(&t),
        // Deviation: without `# HELP` too when two families are typed; the Rust `metrics`
        // crate's exporter writes HELP only for metrics the application describes.
        "prometheus_metrics" => {
            (PROM_HELP.is_match(&t) && PROM_TYPE.is_match(&t))
                || PROM_TYPE.find_iter(&t).nth(1).is_some()
        }
        _ => false,
    }
}

fn is_gzip(body: &[u8]) -> bool {
    body.starts_with(&[0x1f, 0x8b, 0x08])
}

/// CHECKS.md §13 normalised hash: lower-case, the token removed, digit runs and whitespace
/// runs collapsed (FNV-1a 64). Beyond CHECKS.md, the requested path is removed too (`remove`
/// holds it and the token): catch-all pages often echo the path they were asked for.
pub fn normalised_hash(body: &[u8], remove: &[&str]) -> u64 {
    let mut text = String::from_utf8_lossy(body).to_lowercase();
    for r in remove.iter().filter(|r| !r.is_empty()) {
        text = text.replace(&r.to_lowercase(), "");
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut last: Option<char> = None;
    for c in text.chars() {
        let class = if c.is_ascii_digit() {
            '0'
        } else if c.is_whitespace() {
            ' '
        } else {
            c
        };
        if matches!(class, '0' | ' ') && last == Some(class) {
            continue;
        }
        last = Some(class);
        let mut buf = [0u8; 4];
        for b in class.encode_utf8(&mut buf).bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Whether `e` looks like the same-shape baseline answer.
fn baseline_like(
    ev: &PathsEvidence,
    e: &Exchange,
    path: &str,
    under_base: bool,
    matches: &dyn Fn(&[u8]) -> bool,
) -> bool {
    let Some(b) = ev.baseline_for(Shape::of(path), under_base) else {
        return false;
    };
    if !matches!(b.status, 200 | 206) {
        return false;
    }
    let (lp, lb) = (e.body.len() as f64, b.body.len() as f64);
    // Two bodies cut at the 64 KiB read (a 206 to `Range: bytes=0-65535`, or a capped 200)
    // have equal lengths whatever they hold: only the hash and the signature can tell them
    // apart (phpinfo or /actuator/env beside a large catch-all page).
    let both_cut = e.body.len() >= OTHER_BODY_CAP && b.body.len() >= OTHER_BODY_CAP;
    normalised_hash(&e.body, &[e.url.path(), &ev.token])
        == normalised_hash(&b.body, &[b.url.path(), &ev.token])
        || (!both_cut && (lp - lb).abs() <= 0.05 * lb.max(lp))
        || matches(&b.body)
}

fn evaluate(input: &CheckInput<'_>) -> Evaluation {
    let ev = match input.paths() {
        Ok(e) => e,
        Err(j) => return Evaluation::bare(j),
    };
    if let Err(j) = cert_gate(input, ev.responses()) {
        return Evaluation::bare(j);
    }
    // A sweep cut short (backoff, budget, an unanswering server) is judged on what it found:
    // an exposure seen is real, but the absence of one proves nothing (checked below).
    let stopped = stopped_judgement(ev.stopped);
    if ev.responses().next().is_none() {
        return Evaluation::bare(stopped.err().unwrap_or(Judgement::Error("no_response")));
    }
    let opts = &input.target.options.exposed_paths;
    let mut findings: Vec<Finding> = Vec::new();
    let mut found: Vec<String> = Vec::new();
    let mut protected = 0usize;
    for r in &ev.results {
        let Ok(e) = &r.outcome else { continue };
        // A 401/403 that random paths of the same shape also draw is the site's answer to
        // anything (a WAF rule, a deny-all location), not this path being protected.
        if matches!(e.status, 401 | 403)
            && ev
                .baseline_for(Shape::of(&r.path), r.under_base)
                .is_none_or(|b| b.status != e.status)
        {
            protected += 1;
        }
        if !matches!(e.status, 200 | 206) || found.contains(&r.id) {
            continue;
        }
        let extra = opts.extra_paths.iter().find(|x| x.id == r.id);
        let matcher = |body: &[u8]| match extra {
            Some(x) => x.signature.is_match(&String::from_utf8_lossy(body)),
            None if r.id == "actuator_heapdump" => {
                body.starts_with(b"JAVA PROFILE 1.0.") || is_gzip(body)
            }
            None => signature_matches(&r.id, &r.path, body),
        };
        if !matcher(&e.body) || baseline_like(ev, e, &r.path, r.under_base, &matcher) {
            continue;
        }
        // A gzip heap dump counts only when the baseline is not gzip (CHECKS.md §13).
        if r.id == "actuator_heapdump"
            && !e.body.starts_with(b"JAVA PROFILE 1.0.")
            && ev
                .baseline_for(Shape::of(&r.path), r.under_base)
                .is_some_and(|b| is_gzip(&b.body))
        {
            continue;
        }
        found.push(r.id.clone());
        let evidence = format!("GET {} → {} ({} bytes)", e.url, e.status, e.body.len());
        let mut f = match extra {
            Some(x) => {
                let mut f = Finding::new(&CUSTOM, format!("{}: {evidence}", x.id));
                f.severity = x.severity;
                f
            }
            None => match CATALOGUE.iter().find(|d| d.id == r.id) {
                Some(def) => Finding::new(def, evidence),
                None => continue,
            },
        };
        if opts.public_api_docs && matches!(f.id, "openapi_docs" | "api_docs_ui") {
            f.severity = Severity::Info;
        }
        findings.push(f);
    }
    if let Err(j) = stopped
        && findings.is_empty()
    {
        return Evaluation::bare(j);
    }
    if findings.is_empty()
        && let Some(reason) = refused_everything(ev)
    {
        return Evaluation::bare(Judgement::Error(reason));
    }
    // A catch-all honouring Range answers the baseline 206 (nginx try_files, Express static).
    let soft = ev
        .baseline
        .iter()
        .filter_map(|b| b.outcome.as_ref().ok())
        .any(|e| matches!(e.status, 200 | 206));
    let mut measurements = vec![
        Measurement::new(&CHECKED, ev.results.len() as f64),
        Measurement::new(&FOUND, found.len() as f64),
        Measurement::new(&PROTECTED, protected as f64),
        Measurement::flag(&SOFT_404, soft),
    ];
    let ids = DEFAULT_PATHS
        .iter()
        .map(|(id, _)| (*id).to_owned())
        .chain(opts.extra_paths.iter().map(|x| x.id.clone()));
    for id in ids {
        let on = found.contains(&id);
        measurements.push(Measurement::labelled(
            &PATH_FOUND,
            [id],
            if on { 1.0 } else { 0.0 },
        ));
    }
    Evaluation::new(Judgement::Evaluated(findings), measurements)
}

/// Why nothing in the sweep can be judged, when every answer (catalogue paths and random
/// baseline paths alike) was a refusal or a server error: a sweep blocked by a WAF or an
/// anti-DoS module that the cycle's own requests tripped (mod_evasive answers 403 to
/// everything for a while), or a limiter's 503. Passing it would hide an exposure the next
/// run may see (CHECKS.md §0.3: `error` = could not evaluate).
fn refused_everything(ev: &PathsEvidence) -> Option<&'static str> {
    let statuses: Vec<u16> = ev
        .results
        .iter()
        .map(|r| &r.outcome)
        .chain(ev.baseline.iter().map(|b| &b.outcome))
        .filter_map(|o| o.as_ref().ok())
        .map(|e| e.status)
        .collect();
    if statuses.is_empty() || !statuses.iter().all(|&s| matches!(s, 403 | 429) || s >= 500) {
        return None;
    }
    Some(if statuses.iter().all(|&s| s >= 500) {
        "server_error"
    } else {
        "blocked"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_metrics_without_help_lines_are_found() {
        // The Rust `metrics` crate's exporter (metrics-exporter-prometheus 0.18): no `# HELP`
        // for metrics the application does not describe.
        let undescribed = b"# TYPE http_requests_total counter\nhttp_requests_total{path=\"/\"} 5\n\n# TYPE http_request_duration_seconds summary\nhttp_request_duration_seconds_sum 0.1\n";
        assert!(signature_matches(
            "prometheus_metrics",
            "/metrics",
            undescribed
        ));
        let described = b"# HELP up ok\n# TYPE up gauge\nup 1\n";
        assert!(signature_matches(
            "prometheus_metrics",
            "/metrics",
            described
        ));
        let one_type_line = b"# TYPE up gauge\nup 1\n";
        assert!(!signature_matches(
            "prometheus_metrics",
            "/metrics",
            one_type_line
        ));
        assert!(!signature_matches(
            "prometheus_metrics",
            "/metrics",
            b"<h1>Not found</h1>"
        ));
    }

    #[test]
    fn hashes_ignore_the_token_digits_and_whitespace() {
        let a = normalised_hash(b"Not found: /abc123xyz  at 12:01", &["abc123xyz"]);
        let b = normalised_hash(b"not FOUND: /   at 9:5", &["zzz"]);
        assert_eq!(a, b);
        assert_ne!(a, normalised_hash(b"something else", &["zzz"]));
        assert_eq!(
            normalised_hash(b"PATH=/.env\nX=1", &["/.env"]),
            normalised_hash(b"PATH=/.q1w2e3\nX=1", &["/.q1w2e3"])
        );
    }

    #[test]
    fn signatures_on_committed_bytes() {
        assert!(signature_matches(
            "git_repository",
            "/.git/HEAD",
            b"ref: refs/heads/main\n"
        ));
        assert!(signature_matches(
            "git_repository",
            "/.git/HEAD",
            b"0123456789abcdef0123456789abcdef01234567\n"
        ));
        assert!(!signature_matches(
            "git_repository",
            "/.git/HEAD",
            b"<html>ref: refs/"
        ));
        assert!(!signature_matches("dotenv", "/.env", b"<html>\nA=1\nB=2\n"));
        assert!(signature_matches(
            "dotenv",
            "/.env",
            b"APP_KEY=x\nDB_PASSWORD=y\n"
        ));
    }
}
