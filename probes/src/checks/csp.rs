//! `csp` (CHECKS.md §3): HTML responses carry an enforced Content-Security-Policy that restricts
//! script execution.
//!
//! The parser follows CSP Level 3 "parse a serialized CSP" (#parse-serialized-policy) and the
//! source-list grammar; several field lines and comma-joined policies each become a policy, a
//! `<meta http-equiv>` policy is read from html5ever's tokens (only children of `<head>`, only on
//! HTML), and Report-Only policies are recorded but never counted. Since a load must be allowed
//! by every enforced policy, a weakness is raised only when every enforced policy has it.

use super::header_list::{MAX_HEADER_BYTES, bounded};
use super::{CheckDef, CheckInput, Evaluation, cap_for_non_html};
use crate::evidence::{Exchange, latin1};
use crate::measure::{GaugeDef, Measurement};
use crate::probe::ProbeKind;
use crate::verdict::{Finding, FindingDef, Judgement, Severity};

const MISSING: FindingDef = FindingDef::new("missing", Severity::High);
const REPORT_ONLY_ONLY: FindingDef = FindingDef::new("report_only_only", Severity::High);
const INVALID: FindingDef = FindingDef::new("invalid", Severity::High);
const STRICT_DYNAMIC_WITHOUT_NONCE: FindingDef =
    FindingDef::new("strict_dynamic_without_nonce", Severity::High);
const UNSAFE_INLINE_SCRIPT: FindingDef = FindingDef::new("unsafe_inline_script", Severity::High);
const OBJECT_SRC_UNRESTRICTED: FindingDef =
    FindingDef::new("object_src_unrestricted", Severity::High);
const INSECURE_SCHEME_ACTIVE: FindingDef =
    FindingDef::new("insecure_scheme_active", Severity::High);
const UNSAFE_EVAL: FindingDef = FindingDef::new("unsafe_eval", Severity::Medium);
const STATIC_NONCE: FindingDef = FindingDef::new("static_nonce", Severity::Medium);
const INSECURE_SCHEME_PASSIVE: FindingDef =
    FindingDef::new("insecure_scheme_passive", Severity::Info);
const UNSAFE_STYLE: FindingDef = FindingDef::new("unsafe_style", Severity::Info);
const BASE_URI_UNRESTRICTED: FindingDef = FindingDef::new("base_uri_unrestricted", Severity::Info);
const FORM_ACTION_UNRESTRICTED: FindingDef =
    FindingDef::new("form_action_unrestricted", Severity::Info);
const NO_FRAME_ANCESTORS: FindingDef = FindingDef::new("no_frame_ancestors", Severity::Info);
const META_ONLY: FindingDef = FindingDef::new("meta_only", Severity::Info);
const DEFAULT_SRC_NONE: FindingDef = FindingDef::new("default_src_none", Severity::Info);
const DUPLICATE_DIRECTIVE: FindingDef = FindingDef::new("duplicate_directive", Severity::Info);
const UNKNOWN_DIRECTIVE: FindingDef = FindingDef::new("unknown_directive", Severity::Info);
const INVALID_SOURCE: FindingDef = FindingDef::new("invalid_source", Severity::Info);

static POLICIES_ENFORCED: GaugeDef = GaugeDef {
    name: "csp_policies_enforced",
    help: "Enforced CSP policies on the final response (header and <meta>, after discarding empty ones)",
    labels: &[],
};
static POLICIES_REPORT_ONLY: GaugeDef = GaugeDef {
    name: "csp_policies_report_only",
    help: "Content-Security-Policy-Report-Only policies on the final response (never enforced)",
    labels: &[],
};
static HEADER_BYTES: GaugeDef = GaugeDef {
    name: "csp_header_bytes",
    help: "Bytes of the Content-Security-Policy field lines of the final response",
    labels: &[],
};
static UNSAFE_INLINE: GaugeDef = GaugeDef {
    name: "csp_unsafe_inline",
    help: "1 if every enforced policy lets inline script run (unsafe_inline_script)",
    labels: &[],
};
static UNSAFE_EVAL_G: GaugeDef = GaugeDef {
    name: "csp_unsafe_eval",
    help: "1 if every enforced policy allows 'unsafe-eval' for script or style",
    labels: &[],
};
static STRICT_DYNAMIC: GaugeDef = GaugeDef {
    name: "csp_strict_dynamic",
    help: "1 if an enforced policy's script list has 'strict-dynamic'",
    labels: &[],
};
static NONCE_USED: GaugeDef = GaugeDef {
    name: "csp_nonce_used",
    help: "1 if an enforced policy has a nonce source",
    labels: &[],
};
static HASH_USED: GaugeDef = GaugeDef {
    name: "csp_hash_used",
    help: "1 if an enforced policy has a hash source",
    labels: &[],
};
static DEFAULT_SRC_NONE_G: GaugeDef = GaugeDef {
    name: "csp_default_src_none",
    help: "1 if an enforced policy has default-src 'none' as its only source",
    labels: &[],
};
static FRAME_ANCESTORS_RESTRICTIVE: GaugeDef = GaugeDef {
    name: "csp_frame_ancestors_restrictive",
    help: "1 if a header policy has a frame-ancestors list without a broad source",
    labels: &[],
};

/// The check.
pub static CHECK: CheckDef = CheckDef {
    id: "csp",
    summary: "HTML responses carry an enforced Content-Security-Policy that restricts script execution",
    inputs: &[ProbeKind::Fetch],
    findings: &[
        MISSING,
        REPORT_ONLY_ONLY,
        INVALID,
        STRICT_DYNAMIC_WITHOUT_NONCE,
        UNSAFE_INLINE_SCRIPT,
        OBJECT_SRC_UNRESTRICTED,
        INSECURE_SCHEME_ACTIVE,
        UNSAFE_EVAL,
        STATIC_NONCE,
        INSECURE_SCHEME_PASSIVE,
        UNSAFE_STYLE,
        BASE_URI_UNRESTRICTED,
        FORM_ACTION_UNRESTRICTED,
        NO_FRAME_ANCESTORS,
        META_ONLY,
        DEFAULT_SRC_NONE,
        DUPLICATE_DIRECTIVE,
        UNKNOWN_DIRECTIVE,
        INVALID_SOURCE,
    ],
    gauges: &[
        &POLICIES_ENFORCED,
        &POLICIES_REPORT_ONLY,
        &HEADER_BYTES,
        &UNSAFE_INLINE,
        &UNSAFE_EVAL_G,
        &STRICT_DYNAMIC,
        &NONCE_USED,
        &HASH_USED,
        &DEFAULT_SRC_NONE_G,
        &FRAME_ANCESTORS_RESTRICTIVE,
    ],
    opt_in: false,
    scans_cycle: false,
    also_reads: &[],
    evaluate,
};

// ---------------------------------------------------------------------------------------------
// Parser.

/// Where a policy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySource {
    /// A `Content-Security-Policy` field line (enforced).
    Header,
    /// A `<meta http-equiv="Content-Security-Policy">` child of `<head>` (enforced).
    Meta,
    /// A `Content-Security-Policy-Report-Only` field line (never enforced).
    ReportOnly,
}

/// CSP3 keyword sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// `'self'`.
    SelfOrigin,
    /// `'unsafe-inline'`.
    UnsafeInline,
    /// `'unsafe-eval'`.
    UnsafeEval,
    /// `'strict-dynamic'`.
    StrictDynamic,
    /// `'unsafe-hashes'`.
    UnsafeHashes,
    /// `'report-sample'`.
    ReportSample,
    /// `'unsafe-allow-redirects'`.
    UnsafeAllowRedirects,
    /// `'wasm-unsafe-eval'`.
    WasmUnsafeEval,
    /// `'trusted-types-eval'`.
    TrustedTypesEval,
    /// `'report-sha256'`, `'report-sha384'`, `'report-sha512'`.
    ReportHash,
    /// `'unsafe-webtransport-hashes'`.
    UnsafeWebtransportHashes,
}

const KEYWORDS: &[(&str, Keyword)] = &[
    ("'self'", Keyword::SelfOrigin),
    ("'unsafe-inline'", Keyword::UnsafeInline),
    ("'unsafe-eval'", Keyword::UnsafeEval),
    ("'strict-dynamic'", Keyword::StrictDynamic),
    ("'unsafe-hashes'", Keyword::UnsafeHashes),
    ("'report-sample'", Keyword::ReportSample),
    ("'unsafe-allow-redirects'", Keyword::UnsafeAllowRedirects),
    ("'wasm-unsafe-eval'", Keyword::WasmUnsafeEval),
    ("'trusted-types-eval'", Keyword::TrustedTypesEval),
    ("'report-sha256'", Keyword::ReportHash),
    ("'report-sha384'", Keyword::ReportHash),
    ("'report-sha512'", Keyword::ReportHash),
    (
        "'unsafe-webtransport-hashes'",
        Keyword::UnsafeWebtransportHashes,
    ),
];

/// One valid source expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `'none'`.
    None,
    /// A keyword.
    Keyword(Keyword),
    /// `'nonce-…'`, with its value (case-sensitive).
    Nonce(String),
    /// `'sha256-…'` etc.: algorithm (lower-case) and value.
    Hash(String, String),
    /// `scheme:`, scheme lower-cased without the colon.
    Scheme(String),
    /// `[scheme://]host[:port][/path]`, lower-cased as written.
    Host {
        /// Scheme, when written.
        scheme: Option<String>,
        /// Host part (`*`, `*.example.com`, `example.com`).
        host: String,
    },
}

/// A directive of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// Name, ASCII-lower-cased.
    pub name: String,
    /// Value tokens as written.
    pub values: Vec<String>,
    /// Valid source expressions, for directives whose value is a source list.
    pub sources: Vec<Source>,
}

impl Directive {
    /// The directive as written (name and values).
    pub fn text(&self) -> String {
        let mut s = self.name.clone();
        for v in &self.values {
            s.push(' ');
            s.push_str(v);
        }
        s
    }

    /// A source starting `http:`/`ftp:` (CHECKS.md §3 `insecure_scheme_*`), ASCII
    /// case-insensitive. Read on the raw tokens of a source list, so that expressions outside
    /// the grammar (`http://*.*`, also `invalid_source`) count too; directives that are not
    /// source lists (report-uri's URL) have no sources. A script directive with
    /// `'strict-dynamic'` ignores its host and scheme sources (§3 neutralisation): the strict-CSP
    /// recipe's `https: http:` fallback for CSP1 browsers loads nothing in browsers that
    /// enforce it, so it is no insecure source (the Observatory drops them likewise).
    fn insecure_scheme(&self) -> bool {
        let neutralised = matches!(
            self.name.as_str(),
            "script-src" | "script-src-elem" | "script-src-attr"
        ) && self
            .sources
            .contains(&Source::Keyword(Keyword::StrictDynamic));
        !neutralised
            && SOURCE_LIST_DIRECTIVES.contains(&self.name.as_str())
            && self.values.iter().any(|v| {
                ["http:", "ftp:"].iter().any(|p| {
                    v.get(..p.len())
                        .is_some_and(|head| head.eq_ignore_ascii_case(p))
                })
            })
    }

    /// BROAD (CHECKS.md §3): `*`, `http:`, `https:`, `ftp:`, `http(s)://*`, `http(s)://*.*`.
    /// The `*.*` forms are outside the grammar (so also `invalid_source`) but are matched on the
    /// raw token, as CHECKS.md and the Observatory list them.
    fn broad(sources: &[&Source], values: &[String]) -> bool {
        sources.iter().any(|s| match s {
            Source::Scheme(s) => matches!(s.as_str(), "http" | "https" | "ftp"),
            Source::Host { scheme, host } => {
                host == "*" && matches!(scheme.as_deref(), None | Some("http" | "https"))
            }
            _ => false,
        }) || values.iter().any(|v| {
            let v = v.to_ascii_lowercase();
            let v = v.trim_end_matches('/');
            matches!(v, "http://*.*" | "https://*.*" | "http://*" | "https://*")
        })
    }
}

/// Something the parser ignored, reported as an info finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A repeated directive name (the first wins).
    Duplicate(String),
    /// A malformed or unknown directive name, or a token with non-ASCII bytes.
    Unknown(String),
    /// A source expression outside the grammar: directive and expression.
    InvalidSource(String, String),
}

/// One parsed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Where it came from.
    pub source: PolicySource,
    /// The serialized policy as written (trimmed).
    pub text: String,
    /// Recognised directives, in order, first occurrence only.
    pub directives: Vec<Directive>,
    /// What the parser ignored.
    pub notes: Vec<Note>,
}

/// Directives whose value is a source list (CSP3 fetch directives, document and navigation
/// directives, and CSP2's child-src / deprecated fetch directives browsers still parse).
const SOURCE_LIST_DIRECTIVES: &[&str] = &[
    "child-src",
    "connect-src",
    "default-src",
    "fenced-frame-src",
    "font-src",
    "frame-src",
    "img-src",
    "manifest-src",
    "media-src",
    "object-src",
    "prefetch-src",
    "script-src",
    "script-src-elem",
    "script-src-attr",
    "style-src",
    "style-src-elem",
    "style-src-attr",
    "worker-src",
    "base-uri",
    "form-action",
    "frame-ancestors",
    "navigate-to",
];

/// Known directives whose value is not a source list.
const OTHER_DIRECTIVES: &[&str] = &[
    "sandbox",
    "report-uri",
    "report-to",
    "upgrade-insecure-requests",
    "block-all-mixed-content",
    "require-trusted-types-for",
    "trusted-types",
    "webrtc",
    "plugin-types",
    "require-sri-for",
];

fn is_csp_ws(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ')
}

/// Parses one serialized policy (CSP3 #parse-serialized-policy). Directives are split on `;`;
/// policies are split on `,` by [`parse_list`].
pub fn parse_policy(text: &str, source: PolicySource) -> Policy {
    let mut policy = Policy {
        source,
        text: text.trim_matches(is_csp_ws).to_owned(),
        directives: Vec::new(),
        notes: Vec::new(),
    };
    // A set: a 64 KiB policy can name thousands of directives.
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for token in text.split(';') {
        let token = token.trim_matches(is_csp_ws);
        if token.is_empty() {
            continue;
        }
        if !token.is_ascii() {
            policy.notes.push(Note::Unknown(token.to_owned()));
            continue;
        }
        let (name, rest) = match token.find(is_csp_ws) {
            Some(i) => (&token[..i], &token[i..]),
            None => (token, ""),
        };
        let name = name.to_ascii_lowercase();
        if !seen.insert(name.clone()) {
            policy.notes.push(Note::Duplicate(token.to_owned()));
            continue;
        }
        let values: Vec<String> = rest
            .split(is_csp_ws)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect();
        let well_formed = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let source_list = SOURCE_LIST_DIRECTIVES.contains(&name.as_str());
        if !well_formed || !(source_list || OTHER_DIRECTIVES.contains(&name.as_str())) {
            policy.notes.push(Note::Unknown(token.to_owned()));
            continue;
        }
        let mut sources = Vec::new();
        if source_list {
            for v in &values {
                match parse_source(v) {
                    Some(s) => sources.push(s),
                    None => policy
                        .notes
                        .push(Note::InvalidSource(name.clone(), v.clone())),
                }
            }
        }
        policy.directives.push(Directive {
            name,
            values,
            sources,
        });
    }
    policy
}

/// Parses a serialized CSP list (one field line or one meta content): split on `,`, each part
/// a policy; policies without any recognised directive are discarded.
pub fn parse_list(value: &str, source: PolicySource) -> Vec<Policy> {
    value
        .split(',')
        .map(|p| parse_policy(p, source))
        .filter(|p| !p.directives.is_empty())
        .collect()
}

fn is_b64_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_')
}

/// `1*( ALPHA / DIGIT / "+" / "/" / "-" / "_" ) *2"="`.
fn is_b64_value(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    let pad = s.len() - body.len();
    !body.is_empty() && pad <= 2 && body.bytes().all(is_b64_char)
}

fn is_scheme(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

fn is_label(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
}

/// `"*" / [ "*." ] 1*host-char *( "." 1*host-char ) [ "." ]`.
fn is_host_part(s: &str) -> bool {
    if s == "*" {
        return true;
    }
    let s = s.strip_prefix("*.").unwrap_or(s);
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty() && s.split('.').all(is_label)
}

fn is_pchar_or_slash(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/%".contains(c)
}

/// path-absolute (RFC 3986), not starting with `//`; percent-escapes must be well formed.
fn is_path(s: &str) -> bool {
    if !s.starts_with('/') || s.starts_with("//") || !s.chars().all(is_pchar_or_slash) {
        return false;
    }
    let b = s.as_bytes();
    b.iter().enumerate().all(|(i, &c)| {
        c != b'%'
            || (b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

/// Parses one source expression (CSP3 source-list grammar); `None` when outside it.
pub fn parse_source(expr: &str) -> Option<Source> {
    let lower = expr.to_ascii_lowercase();
    if lower == "'none'" {
        return Some(Source::None);
    }
    if let Some((_, k)) = KEYWORDS.iter().find(|(k, _)| *k == lower) {
        return Some(Source::Keyword(*k));
    }
    if expr.starts_with('\'') {
        let inner = expr.strip_prefix('\'')?.strip_suffix('\'')?;
        let (kind, value) = inner.split_once('-')?;
        if !is_b64_value(value) {
            return None;
        }
        let kind = kind.to_ascii_lowercase();
        return match kind.as_str() {
            "nonce" => Some(Source::Nonce(value.to_owned())),
            "sha256" | "sha384" | "sha512" => Some(Source::Hash(kind, value.to_owned())),
            _ => None,
        };
    }
    // scheme-source: `scheme ":"` and nothing else.
    if let Some(scheme) = lower.strip_suffix(':')
        && is_scheme(scheme)
    {
        return Some(Source::Scheme(scheme.to_owned()));
    }
    // host-source: [scheme "://"] host-part [port-part] [path-part].
    // A `://` that does not follow a scheme may still lie in the path (`example.com/a://b`).
    let (scheme, rest) = match lower.split_once("://") {
        Some((s, r)) if is_scheme(s) => (Some(s.to_owned()), r),
        _ => (None, lower.as_str()),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    let port_ok =
        port.is_none_or(|p| p == "*" || (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())));
    let path_ok = path.is_none_or(is_path);
    if is_host_part(host) && port_ok && path_ok {
        return Some(Source::Host {
            scheme,
            host: host.to_owned(),
        });
    }
    None
}

/// The enforced and report-only policies of a response (CHECKS.md §3 "Collection").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collected {
    /// Enforced policies: header lines first, then `<meta>` (with frame-ancestors, report-uri
    /// and sandbox removed).
    pub enforced: Vec<Policy>,
    /// Report-Only policies (header only).
    pub report_only: Vec<Policy>,
    /// `Content-Security-Policy` field lines present.
    pub header_lines: usize,
    /// Non-empty meta CSPs in `<head>` present.
    pub meta_present: bool,
    /// Bytes of the `Content-Security-Policy` field lines.
    pub header_bytes: usize,
    /// Policies discarded because no directive was recognised (their text).
    pub discarded: Vec<Policy>,
}

fn collect_lines<'a>(
    lines: impl Iterator<Item = &'a [u8]>,
    source: PolicySource,
    out: &mut Vec<Policy>,
    discarded: &mut Vec<Policy>,
) {
    let mut budget = MAX_HEADER_BYTES;
    for line in lines {
        if budget == 0 {
            break;
        }
        let line = &line[..line.len().min(budget)];
        budget -= line.len();
        let text = latin1(bounded(line));
        if super::header_list::has_ctl(&text) {
            // A control byte makes the whole line invalid (CHECKS.md §0.2): no policy.
            discarded.push(Policy {
                source,
                text: text.trim().to_owned(),
                directives: Vec::new(),
                notes: Vec::new(),
            });
            continue;
        }
        for p in text.split(',').map(|p| parse_policy(p, source)) {
            if p.directives.is_empty() {
                discarded.push(p);
            } else {
                out.push(p);
            }
        }
    }
}

/// Collects the policies of a response.
pub fn collect(e: &Exchange) -> Collected {
    let mut c = Collected::default();
    let lines = e.field_lines("content-security-policy");
    c.header_lines = lines.len();
    c.header_bytes = lines.iter().map(|l| l.len()).sum();
    collect_lines(
        lines.into_iter(),
        PolicySource::Header,
        &mut c.enforced,
        &mut c.discarded,
    );
    let mut ignored = Vec::new();
    collect_lines(
        e.field_lines("content-security-policy-report-only")
            .into_iter(),
        PolicySource::ReportOnly,
        &mut c.report_only,
        &mut ignored,
    );
    if e.is_html()
        && let Some(html) = &e.html
    {
        for meta in html.head_http_equiv("content-security-policy") {
            let Some(content) = meta.content.as_deref().filter(|c| !c.trim().is_empty()) else {
                continue;
            };
            c.meta_present = true;
            let content = &content[..floor_char_boundary(content, MAX_HEADER_BYTES)];
            for mut p in content
                .split(',')
                .map(|p| parse_policy(p, PolicySource::Meta))
            {
                // CSP3 #meta-element: these directives are not supported in <meta>.
                p.directives.retain(|d| {
                    !matches!(
                        d.name.as_str(),
                        "frame-ancestors" | "report-uri" | "sandbox"
                    )
                });
                if p.directives.is_empty() {
                    c.discarded.push(p);
                } else {
                    c.enforced.push(p);
                }
            }
        }
    }
    c
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

// ---------------------------------------------------------------------------------------------
// Effective lists.

/// The first present directive of a fallback chain.
pub fn effective<'a>(policy: &'a Policy, chain: &[&str]) -> Option<&'a Directive> {
    chain
        .iter()
        .find_map(|name| policy.directives.iter().find(|d| d.name == *name))
}

/// Script-element chain.
pub const SCRIPT_ELEM: &[&str] = &["script-src-elem", "script-src", "default-src"];
/// Script-attribute chain.
pub const SCRIPT_ATTR: &[&str] = &["script-src-attr", "script-src", "default-src"];
/// `script-src` itself (eval).
pub const SCRIPT: &[&str] = &["script-src", "default-src"];
/// Style-element chain.
pub const STYLE_ELEM: &[&str] = &["style-src-elem", "style-src", "default-src"];
/// Style-attribute chain.
pub const STYLE_ATTR: &[&str] = &["style-src-attr", "style-src", "default-src"];
/// Object chain.
pub const OBJECT: &[&str] = &["object-src", "default-src"];

/// A source list after neutralisation (CSP3 "allow all inline behavior", #strict-dynamic-usage):
/// a nonce or hash disables `'unsafe-inline'`; for scripts, `'strict-dynamic'` disables host
/// and scheme sources, `'self'` and `'unsafe-inline'`.
pub fn neutralised(d: &Directive, script: bool) -> Vec<&Source> {
    let nonce_or_hash = d
        .sources
        .iter()
        .any(|s| matches!(s, Source::Nonce(_) | Source::Hash(..)));
    let strict_dynamic = script && d.sources.contains(&Source::Keyword(Keyword::StrictDynamic));
    d.sources
        .iter()
        .filter(|s| match s {
            Source::Keyword(Keyword::UnsafeInline) => !nonce_or_hash && !strict_dynamic,
            Source::Keyword(Keyword::SelfOrigin) | Source::Host { .. } | Source::Scheme(_) => {
                !strict_dynamic
            }
            _ => true,
        })
        .collect()
}

/// Whether an effective list (after neutralisation) contains INLINE (`'unsafe-inline'`,
/// `data:`) or BROAD; an absent list is unrestricted.
fn inline_or_broad(d: Option<&Directive>, script: bool) -> bool {
    let Some(d) = d else { return true };
    let list = neutralised(d, script);
    // Strict-dynamic drops host and scheme sources, so the raw `*.*` tokens no longer count.
    let values: &[String] =
        if script && d.sources.contains(&Source::Keyword(Keyword::StrictDynamic)) {
            &[]
        } else {
            &d.values
        };
    list.iter().any(|s| {
        matches!(s, Source::Keyword(Keyword::UnsafeInline))
            || matches!(s, Source::Scheme(x) if x == "data")
    }) || Directive::broad(&list, values)
}

fn absent_or_broad(d: Option<&Directive>) -> bool {
    d.is_none_or(|d| Directive::broad(&d.sources.iter().collect::<Vec<_>>(), &d.values))
}

fn describe(d: Option<&Directive>, chain: &[&str], p: &Policy) -> String {
    match d {
        Some(d) => d.text(),
        None => format!("no {} in policy \"{}\"", chain.join(" / "), p.text),
    }
}

/// `default-src 'none'` as the sole expression.
fn default_src_none(p: &Policy) -> bool {
    effective(p, &["default-src"])
        .is_some_and(|d| d.sources == [Source::None] && d.values.len() == 1)
}

/// Whether a header policy's frame-ancestors list restricts framing (no BROAD source); `None`
/// when the policy has no frame-ancestors.
pub fn frame_ancestors_restrictive(p: &Policy) -> Option<bool> {
    effective(p, &["frame-ancestors"]).map(|d| !absent_or_broad(Some(d)))
}

fn nonces(policies: &[Policy]) -> Vec<String> {
    let mut out: Vec<String> = policies
        .iter()
        .flat_map(|p| p.directives.iter())
        .flat_map(|d| d.sources.iter())
        .filter_map(|s| match s {
            Source::Nonce(n) => Some(n.chars().take(MAX_NONCE_CHARS).collect()),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out.truncate(MAX_NONCES);
    out
}

/// Nonces remembered per run (memo size bound).
const MAX_NONCES: usize = 16;
const MAX_NONCE_CHARS: usize = 128;

/// The memo carried to the next evaluation: this run's start, its nonces, and the nonces of
/// the run before (used when the same run is evaluated again).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Memo {
    run: String,
    nonces: Vec<String>,
    previous: Vec<String>,
}

impl Memo {
    fn encode(&self) -> String {
        format!(
            "run={}\nnonces={}\nprevious={}",
            self.run,
            self.nonces.join(" "),
            self.previous.join(" ")
        )
    }

    fn decode(s: &str) -> Memo {
        let mut m = Memo::default();
        for line in s.lines() {
            let list = |v: &str| {
                v.split(' ')
                    .filter(|x| !x.is_empty())
                    .map(str::to_owned)
                    .collect()
            };
            if let Some(v) = line.strip_prefix("run=") {
                m.run = v.to_owned();
            } else if let Some(v) = line.strip_prefix("nonces=") {
                m.nonces = list(v);
            } else if let Some(v) = line.strip_prefix("previous=") {
                m.previous = list(v);
            }
        }
        m
    }
}

// ---------------------------------------------------------------------------------------------
// The rule.

fn evaluate(input: &CheckInput<'_>) -> Evaluation {
    let (_, response) = match input.judged_response() {
        Ok(r) => r,
        Err(j) => return Evaluation::bare(j),
    };
    let run = input
        .evidence
        .run(ProbeKind::Fetch)
        .and_then(|r| r.started_at.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or_else(String::new, |d| d.as_nanos().to_string());
    let previous = input
        .verdict_of(CHECK.id)
        .and_then(|v| v.memo.as_deref())
        .map(Memo::decode);
    let https = response.url.scheme() == "https";
    let (mut findings, measurements, nonces) = judge(response, https);

    // static_nonce: a nonce of this response was also served on the previous run.
    let earlier = match &previous {
        Some(m) if m.run == run => m.previous.clone(),
        Some(m) => m.nonces.clone(),
        None => Vec::new(),
    };
    let repeated: Vec<&String> = nonces.iter().filter(|n| earlier.contains(n)).collect();
    if !repeated.is_empty() {
        findings.push(Finding::new(
            &STATIC_NONCE,
            format!(
                "nonce {} served again on consecutive runs (nonces must be fresh per response)",
                repeated
                    .iter()
                    .map(|n| format!("'nonce-{n}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    cap_for_non_html(&mut findings, response);
    let memo = Memo {
        run,
        nonces,
        previous: earlier,
    };
    Evaluation::new(Judgement::Evaluated(findings), measurements).with_memo(memo.encode())
}

/// Judges one final response: findings (without `static_nonce`), gauges, and the nonces of
/// its enforced policies.
pub fn judge(response: &Exchange, https: bool) -> (Vec<Finding>, Vec<Measurement>, Vec<String>) {
    let c = collect(response);
    let mut findings = Vec::new();
    let enforced = &c.enforced;
    let any = |f: &dyn Fn(&Policy) -> bool| enforced.iter().any(f);
    let header_fa: Vec<bool> = enforced
        .iter()
        .filter(|p| p.source == PolicySource::Header)
        .filter_map(frame_ancestors_restrictive)
        .collect();
    let mut m = vec![
        Measurement::new(&POLICIES_ENFORCED, enforced.len() as f64),
        Measurement::new(&POLICIES_REPORT_ONLY, c.report_only.len() as f64),
        Measurement::new(&HEADER_BYTES, c.header_bytes as f64),
    ];

    // Parser notes, one finding per kind, from every policy that counts (and the discarded
    // ones, so an `invalid` policy shows why).
    let mut dup = Vec::new();
    let mut unknown = Vec::new();
    let mut invalid_src = Vec::new();
    for p in enforced.iter().chain(&c.discarded) {
        for n in &p.notes {
            match n {
                Note::Duplicate(t) => dup.push(t.clone()),
                Note::Unknown(t) => unknown.push(t.clone()),
                Note::InvalidSource(d, s) => invalid_src.push(format!("{d}: {s}")),
            }
        }
    }

    if enforced.is_empty() {
        // CHECKS.md §3: `invalid` needs a CSP header. A meta policy that ends up empty (only
        // frame-ancestors, which <meta> cannot carry) leaves the page as if it had none.
        let f = if c.header_lines > 0 {
            Finding::new(
                &INVALID,
                format!(
                    "no usable directive in Content-Security-Policy: {}",
                    c.discarded
                        .iter()
                        .filter(|p| p.source == PolicySource::Header)
                        .map(|p| format!("\"{}\"", p.text))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        } else if let Some(ro) = c.report_only.first() {
            Finding::new(
                &REPORT_ONLY_ONLY,
                format!(
                    "only Content-Security-Policy-Report-Only (never enforced): {}",
                    ro.text
                ),
            )
        } else {
            Finding::new(
                &MISSING,
                format!(
                    "no Content-Security-Policy on GET {} → {}",
                    response.url, response.status
                ),
            )
        };
        findings.push(f);
        push_notes(&mut findings, dup, unknown, invalid_src);
        m.extend([
            Measurement::flag(&UNSAFE_INLINE, false),
            Measurement::flag(&UNSAFE_EVAL_G, false),
            Measurement::flag(&STRICT_DYNAMIC, false),
            Measurement::flag(&NONCE_USED, false),
            Measurement::flag(&HASH_USED, false),
            Measurement::flag(&DEFAULT_SRC_NONE_G, false),
            Measurement::flag(&FRAME_ANCESTORS_RESTRICTIVE, false),
        ]);
        return (findings, m, Vec::new());
    }

    // Every policy must have a weakness for it to count (a load must pass every policy).
    let all = |f: &dyn Fn(&Policy) -> Option<String>| -> Option<String> {
        let mut ev = Vec::new();
        for p in enforced {
            ev.push(f(p)?);
        }
        ev.dedup();
        Some(ev.join(" | "))
    };

    if let Some(ev) = all(&|p| {
        [SCRIPT_ELEM, SCRIPT_ATTR].iter().find_map(|chain| {
            effective(p, chain)
                .filter(|d| {
                    d.sources.contains(&Source::Keyword(Keyword::StrictDynamic))
                        && !d
                            .sources
                            .iter()
                            .any(|s| matches!(s, Source::Nonce(_) | Source::Hash(..)))
                })
                .map(|d| format!("{} (no nonce or hash to propagate trust from)", d.text()))
        })
    }) {
        findings.push(Finding::new(&STRICT_DYNAMIC_WITHOUT_NONCE, ev));
    }

    // Per chain: a browser runs an inline script element (or attribute) only when every
    // enforced policy allows it, so policy A open to elements and policy B open to
    // attributes leave both blocked.
    let unsafe_inline = [SCRIPT_ELEM, SCRIPT_ATTR].iter().find_map(|chain| {
        all(&|p| {
            let d = effective(p, chain);
            inline_or_broad(d, true).then(|| describe(d, chain, p))
        })
    });
    if let Some(ev) = &unsafe_inline {
        findings.push(Finding::new(&UNSAFE_INLINE_SCRIPT, ev.clone()));
    }
    if let Some(ev) = all(&|p| {
        let d = effective(p, OBJECT);
        absent_or_broad(d).then(|| describe(d, OBJECT, p))
    }) {
        findings.push(Finding::new(&OBJECT_SRC_UNRESTRICTED, ev));
    }
    let insecure = |p: &Policy, passive: bool| -> Option<String> {
        let hits: Vec<String> = p
            .directives
            .iter()
            .filter(|d| matches!(d.name.as_str(), "img-src" | "media-src") == passive)
            .filter(|d| d.insecure_scheme())
            .map(Directive::text)
            .collect();
        (!hits.is_empty()).then(|| hits.join("; "))
    };
    if https && let Some(ev) = all(&|p| insecure(p, false)) {
        findings.push(Finding::new(&INSECURE_SCHEME_ACTIVE, ev));
    }
    let unsafe_eval = all(&|p| {
        [SCRIPT, SCRIPT_ELEM, SCRIPT_ATTR, STYLE_ELEM, STYLE_ATTR]
            .iter()
            .filter_map(|chain| effective(p, chain))
            .find(|d| d.sources.contains(&Source::Keyword(Keyword::UnsafeEval)))
            .map(Directive::text)
    });
    if let Some(ev) = &unsafe_eval {
        findings.push(Finding::new(&UNSAFE_EVAL, ev.clone()));
    }
    if https && let Some(ev) = all(&|p| insecure(p, true)) {
        findings.push(Finding::new(&INSECURE_SCHEME_PASSIVE, ev));
    }
    if let Some(ev) = all(&|p| {
        [STYLE_ELEM, STYLE_ATTR].iter().find_map(|chain| {
            let d = effective(p, chain);
            inline_or_broad(d, false).then(|| describe(d, chain, p))
        })
    }) {
        findings.push(Finding::new(&UNSAFE_STYLE, ev));
    }
    for (name, def) in [
        ("base-uri", &BASE_URI_UNRESTRICTED),
        ("form-action", &FORM_ACTION_UNRESTRICTED),
    ] {
        if let Some(ev) = all(&|p| {
            let d = effective(p, &[name]);
            absent_or_broad(d).then(|| describe(d, &[name], p))
        }) {
            findings.push(Finding::new(def, ev));
        }
    }
    if header_fa.is_empty() {
        findings.push(Finding::new(
            &NO_FRAME_ANCESTORS,
            "no header policy has frame-ancestors (clickjacking falls back to X-Frame-Options)",
        ));
    }
    if enforced.iter().all(|p| p.source == PolicySource::Meta) {
        findings.push(Finding::new(
            &META_ONLY,
            format!(
                "policy only in <meta http-equiv=\"Content-Security-Policy\">: {}",
                enforced[0].text
            ),
        ));
    }
    let dsn = enforced.iter().find(|p| default_src_none(p));
    if let Some(p) = dsn {
        findings.push(Finding::new(&DEFAULT_SRC_NONE, p.text.clone()));
    }
    push_notes(&mut findings, dup, unknown, invalid_src);

    let has_source = |f: &dyn Fn(&Source) -> bool| {
        any(&|p: &Policy| p.directives.iter().any(|d| d.sources.iter().any(f)))
    };
    m.extend([
        Measurement::flag(&UNSAFE_INLINE, unsafe_inline.is_some()),
        Measurement::flag(&UNSAFE_EVAL_G, unsafe_eval.is_some()),
        Measurement::flag(
            &STRICT_DYNAMIC,
            any(&|p: &Policy| {
                [SCRIPT_ELEM, SCRIPT_ATTR]
                    .iter()
                    .filter_map(|chain| effective(p, chain))
                    .any(|d| d.sources.contains(&Source::Keyword(Keyword::StrictDynamic)))
            }),
        ),
        Measurement::flag(&NONCE_USED, has_source(&|s| matches!(s, Source::Nonce(_)))),
        Measurement::flag(&HASH_USED, has_source(&|s| matches!(s, Source::Hash(..)))),
        Measurement::flag(&DEFAULT_SRC_NONE_G, dsn.is_some()),
        Measurement::flag(&FRAME_ANCESTORS_RESTRICTIVE, header_fa.contains(&true)),
    ]);
    (findings, m, nonces(enforced))
}

fn push_notes(
    findings: &mut Vec<Finding>,
    dup: Vec<String>,
    unknown: Vec<String>,
    invalid: Vec<String>,
) {
    for (def, list) in [
        (&DUPLICATE_DIRECTIVE, dup),
        (&UNKNOWN_DIRECTIVE, unknown),
        (&INVALID_SOURCE, invalid),
    ] {
        if !list.is_empty() {
            findings.push(Finding::new(def, list.join("; ")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Policy {
        parse_policy(s, PolicySource::Header)
    }

    #[test]
    fn directives_are_split_on_semicolons_and_first_wins() {
        let pol = p(" Script-SRC 'self' ;; script-src *; object-src 'none';");
        assert_eq!(pol.directives.len(), 2);
        assert_eq!(pol.directives[0].name, "script-src");
        assert_eq!(
            pol.directives[0].sources,
            [Source::Keyword(Keyword::SelfOrigin)]
        );
        assert_eq!(pol.notes, [Note::Duplicate("script-src *".into())]);
    }

    #[test]
    fn unknown_malformed_and_non_ascii_directives_are_noted() {
        let pol = p("foo-bar x; sc_ript 'self'; img-src caf\u{e9}.example; default-src 'none'");
        assert_eq!(pol.directives.len(), 1);
        assert_eq!(pol.notes.len(), 3);
        assert!(pol.notes.iter().all(|n| matches!(n, Note::Unknown(_))));
    }

    #[test]
    fn a_policy_of_only_unknown_directives_is_discarded() {
        assert!(parse_list("foo bar, , ;", PolicySource::Header).is_empty());
        assert_eq!(
            parse_list("script-src 'self', object-src 'none'", PolicySource::Header).len(),
            2
        );
    }

    #[test]
    fn source_expression_grammar() {
        use Source::*;
        assert_eq!(parse_source("'NONE'"), Some(None));
        assert_eq!(
            parse_source("'Self'"),
            Some(Keyword(super::Keyword::SelfOrigin))
        );
        assert_eq!(
            parse_source("'nonce-AbC+/_-=='"),
            Some(Nonce("AbC+/_-==".into()))
        );
        assert_eq!(parse_source("'NONCE-xY'"), Some(Nonce("xY".into())));
        assert_eq!(
            parse_source("'sha384-abc='"),
            Some(Hash("sha384".into(), "abc=".into()))
        );
        assert_eq!(parse_source("https:"), Some(Scheme("https".into())));
        assert_eq!(parse_source("Data:"), Some(Scheme("data".into())));
        assert_eq!(
            parse_source("*"),
            Some(Host {
                scheme: Option::None,
                host: "*".into()
            })
        );
        assert!(parse_source("https://*.example.com:*/path/a%20b").is_some());
        assert!(parse_source("example.com.").is_some());
        assert!(parse_source("example.com:443").is_some());
        // `://` inside the path of a scheme-less host-source.
        assert!(parse_source("example.com/a://b").is_some());
        for bad in [
            "'nonce-'",
            "'nonce-a==='",
            "'nonce-a b'",
            "'sha1-abc'",
            "'unsafe-foo'",
            "'self",
            "self'",
            "https://*.*",
            "*.*",
            "http://",
            "https://exa mple",
            "example.com:80a",
            "example.com//x",
            "example.com/%zz",
            "1http:",
            "a..b",
        ] {
            assert_eq!(parse_source(bad), Option::None, "{bad}");
        }
    }

    fn weak(header: &str) -> Vec<&'static str> {
        let e = crate::checks::test_support::exchange(&[("content-security-policy", header)], "");
        judge(&e, true).0.iter().map(|f| f.id).collect()
    }

    #[test]
    fn nonce_neutralises_unsafe_inline() {
        let ids = weak("script-src 'nonce-abc' 'unsafe-inline'; object-src 'none'");
        assert!(!ids.contains(&"unsafe_inline_script"), "{ids:?}");
        let ids = weak("script-src 'sha256-abc=' 'unsafe-inline'; object-src 'none'");
        assert!(!ids.contains(&"unsafe_inline_script"), "{ids:?}");
        let ids = weak("script-src 'self' 'unsafe-inline'; object-src 'none'");
        assert!(ids.contains(&"unsafe_inline_script"), "{ids:?}");
    }

    #[test]
    fn strict_dynamic_cancels_hosts_schemes_and_self() {
        let ids = weak(
            "script-src 'strict-dynamic' 'nonce-abc' https: 'self' 'unsafe-inline'; object-src 'none'",
        );
        assert!(!ids.contains(&"unsafe_inline_script"), "{ids:?}");
        assert!(!ids.contains(&"strict_dynamic_without_nonce"), "{ids:?}");
        // Without strict-dynamic, https: is broad even with a nonce.
        let ids = weak("script-src 'nonce-abc' https:; object-src 'none'");
        assert!(ids.contains(&"unsafe_inline_script"), "{ids:?}");
        let ids = weak("script-src 'strict-dynamic' https:; object-src 'none'");
        assert!(ids.contains(&"strict_dynamic_without_nonce"), "{ids:?}");
    }

    #[test]
    fn script_src_attr_chain_is_judged_on_its_own() {
        let ids =
            weak("script-src 'nonce-abc'; script-src-attr 'unsafe-inline'; object-src 'none'");
        assert!(ids.contains(&"unsafe_inline_script"), "{ids:?}");
        let ids = weak("default-src 'self'; script-src-elem 'self'; object-src 'none'");
        assert!(!ids.contains(&"unsafe_inline_script"), "{ids:?}");
        let ids = weak("default-src *; script-src-elem 'self'; object-src 'none'");
        assert!(ids.contains(&"unsafe_inline_script"), "{ids:?}");
    }

    #[test]
    fn a_weakness_counts_only_if_every_policy_has_it() {
        let e = crate::checks::test_support::exchange(
            &[
                ("content-security-policy", "script-src * 'unsafe-inline'"),
                (
                    "content-security-policy",
                    "script-src 'self'; object-src 'none'",
                ),
            ],
            "",
        );
        let ids: Vec<_> = judge(&e, true).0.iter().map(|f| f.id).collect();
        assert!(!ids.contains(&"unsafe_inline_script"), "{ids:?}");
        assert!(!ids.contains(&"object_src_unrestricted"), "{ids:?}");
        // `;` mistyped as `,`: two single-directive policies, both enforced.
        let ids = weak("script-src 'self', object-src 'none'");
        assert!(!ids.contains(&"unsafe_inline_script"), "{ids:?}");
        assert!(!ids.contains(&"object_src_unrestricted"), "{ids:?}");
        // Per script chain: one policy open to inline elements, the other to inline
        // attributes, leave both blocked in a browser; both open to elements does not.
        let two = |a: &str, b: &str| -> Vec<&'static str> {
            let e = crate::checks::test_support::exchange(
                &[
                    ("content-security-policy", a),
                    ("content-security-policy", b),
                ],
                "",
            );
            judge(&e, true).0.iter().map(|f| f.id).collect()
        };
        let elem_only =
            "script-src-elem 'unsafe-inline'; script-src-attr 'none'; object-src 'none'";
        let attr_only =
            "script-src-elem 'self'; script-src-attr 'unsafe-inline'; object-src 'none'";
        let ids = two(elem_only, attr_only);
        assert!(!ids.contains(&"unsafe_inline_script"), "{ids:?}");
        let ids = two(elem_only, elem_only);
        assert!(ids.contains(&"unsafe_inline_script"), "{ids:?}");
    }

    #[test]
    fn strict_dynamic_without_nonce_counts_only_if_every_policy_has_it() {
        let e = crate::checks::test_support::exchange(
            &[
                ("content-security-policy", "script-src 'strict-dynamic'"),
                (
                    "content-security-policy",
                    "script-src 'self'; object-src 'none'",
                ),
            ],
            "",
        );
        let ids: Vec<_> = judge(&e, true).0.iter().map(|f| f.id).collect();
        assert!(!ids.contains(&"strict_dynamic_without_nonce"), "{ids:?}");
        let e = crate::checks::test_support::exchange(
            &[
                ("content-security-policy", "script-src 'strict-dynamic'"),
                (
                    "content-security-policy",
                    "script-src-elem 'strict-dynamic' 'self'; object-src 'none'",
                ),
            ],
            "",
        );
        let f = judge(&e, true).0;
        let sd: Vec<_> = f
            .iter()
            .filter(|f| f.id == "strict_dynamic_without_nonce")
            .collect();
        assert_eq!(sd.len(), 1, "{f:?}");
        assert_eq!(
            sd[0].evidence,
            "script-src 'strict-dynamic' (no nonce or hash to propagate trust from) | \
             script-src-elem 'strict-dynamic' 'self' (no nonce or hash to propagate trust from)"
        );
    }

    #[test]
    fn insecure_scheme_is_read_on_raw_tokens_too() {
        let base = "default-src 'self'; object-src 'none'";
        for active in [
            "connect-src http://*.*",
            "connect-src HTTP://*.*",
            "script-src 'self' Http://cdn.example",
            "frame-src ftp:",
            "connect-src http:",
        ] {
            let ids = weak(&format!("{base}; {active}"));
            assert!(ids.contains(&"insecure_scheme_active"), "{active}: {ids:?}");
        }
        for passive in ["img-src http://*.*", "media-src FTP://x.example"] {
            let ids = weak(&format!("{base}; {passive}"));
            assert!(
                !ids.contains(&"insecure_scheme_active"),
                "{passive}: {ids:?}"
            );
            assert!(
                ids.contains(&"insecure_scheme_passive"),
                "{passive}: {ids:?}"
            );
        }
        for fine in [
            "report-uri http://report.example/csp",
            "connect-src https://*.*",
            "connect-src https: wss://x.example",
            // The strict-CSP recipe: 'strict-dynamic' drops the CSP1 fallback sources.
            "script-src 'nonce-r4nd0mN0nc3' 'strict-dynamic' https: http:",
            "script-src-elem 'sha256-abc=' 'strict-dynamic' http:",
        ] {
            let ids = weak(&format!("{base}; {fine}"));
            assert!(!ids.contains(&"insecure_scheme_active"), "{fine}: {ids:?}");
        }
    }

    #[test]
    fn a_meta_policy_alone_never_makes_invalid() {
        let body = r#"<head><meta http-equiv="Content-Security-Policy" content="frame-ancestors 'none'"></head>"#;
        let ids = |headers: &[(&str, &str)]| -> Vec<&'static str> {
            let mut h = vec![("content-type", "text/html")];
            h.extend_from_slice(headers);
            let e = crate::checks::test_support::exchange(&h, body);
            judge(&e, true).0.iter().map(|f| f.id).collect()
        };
        assert_eq!(ids(&[]), ["missing"]);
        assert_eq!(
            ids(&[("content-security-policy-report-only", "default-src 'self'")]),
            ["report_only_only"]
        );
        // A header line that yields no policy is still invalid, and its evidence names only it.
        let e = crate::checks::test_support::exchange(
            &[
                ("content-type", "text/html"),
                ("content-security-policy", "foo"),
            ],
            body,
        );
        let f = judge(&e, true).0;
        assert_eq!(f[0].id, "invalid");
        assert_eq!(
            f[0].evidence,
            "no usable directive in Content-Security-Policy: \"foo\""
        );
    }

    #[test]
    fn report_only_never_counts() {
        let e = crate::checks::test_support::exchange(
            &[("content-security-policy-report-only", "default-src 'none'")],
            "",
        );
        let (f, m, _) = judge(&e, true);
        assert_eq!(
            f.iter().map(|f| f.id).collect::<Vec<_>>(),
            ["report_only_only"]
        );
        assert_eq!(m[0].value, 0.0);
        assert_eq!(m[1].value, 1.0);
    }

    #[test]
    fn meta_policy_counts_only_in_head_and_loses_frame_ancestors() {
        let body = r#"<html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'; frame-ancestors 'none'"></head><body></body></html>"#;
        let e = crate::checks::test_support::exchange(&[("content-type", "text/html")], body);
        let c = collect(&e);
        assert_eq!(c.enforced.len(), 1);
        assert!(effective(&c.enforced[0], &["frame-ancestors"]).is_none());
        let ids: Vec<_> = judge(&e, true).0.iter().map(|f| f.id).collect();
        assert!(ids.contains(&"meta_only"), "{ids:?}");
        assert!(ids.contains(&"no_frame_ancestors"), "{ids:?}");
        let body = r#"<html><head></head><body><meta http-equiv="Content-Security-Policy" content="default-src 'none'"></body></html>"#;
        let e = crate::checks::test_support::exchange(&[("content-type", "text/html")], body);
        assert!(collect(&e).enforced.is_empty());
        // Not HTML: meta is not a pragma.
        let body = r#"<head><meta http-equiv="Content-Security-Policy" content="default-src 'none'"></head>"#;
        let e = crate::checks::test_support::exchange(&[("content-type", "text/plain")], body);
        assert!(collect(&e).enforced.is_empty());
    }

    #[test]
    fn memo_round_trips() {
        let m = Memo {
            run: "12".into(),
            nonces: vec!["a".into(), "b".into()],
            previous: vec![],
        };
        assert_eq!(Memo::decode(&m.encode()), m);
    }
}
