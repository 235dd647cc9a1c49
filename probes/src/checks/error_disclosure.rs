//! `error_disclosure` (CHECKS.md §14): unknown or odd requests get a clean 4xx without stack
//! traces, debug pages or paths. The status rule reads the `unknown_path` probe's answers; the
//! signatures scan every response of the cycle (`EvidenceSet::responses()`), first 64 KiB,
//! after normalisation.

use std::sync::LazyLock;

use regex::Regex;

use super::{CheckDef, CheckInput, Evaluation};
use crate::active::{cert_gate, stopped_judgement};
use crate::evidence::Exchange;
use crate::measure::{GaugeDef, Measurement};
use crate::probe::ProbeKind;
use crate::unknown_path::UnknownKind;
use crate::verdict::{Finding, FindingDef, Judgement, Severity};

/// Options of `error_disclosure`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorDisclosureOptions {
    /// Finding ids never raised for this target (e.g. documentation that quotes traces).
    pub suppress: Vec<String>,
}

/// Bytes of each body scanned (CHECKS.md §14).
pub const SCAN_BYTES: usize = 64 * 1024;

const SOFT_404: FindingDef = FindingDef::new("soft_404", Severity::Low);
const SERVER_ERROR: FindingDef = FindingDef::new("server_error_on_unknown_path", Severity::Low);
const REDIRECTS_UNKNOWN: FindingDef = FindingDef::new("redirects_unknown", Severity::Info);
const PYTHON_TRACEBACK: FindingDef = FindingDef::new("python_traceback", Severity::Medium);
const DJANGO_DEBUG: FindingDef = FindingDef::new("django_debug", Severity::High);
const WERKZEUG_DEBUGGER: FindingDef = FindingDef::new("werkzeug_debugger", Severity::Critical);
const JAVA_STACKTRACE: FindingDef = FindingDef::new("java_stacktrace", Severity::Medium);
const JAVA_TRACE_JSON: FindingDef = FindingDef::new("java_trace_json", Severity::Medium);
const TOMCAT_ERROR: FindingDef = FindingDef::new("tomcat_error", Severity::Medium);
const DOTNET_ERROR: FindingDef = FindingDef::new("dotnet_error", Severity::Medium);
const PHP_ERROR: FindingDef = FindingDef::new("php_error", Severity::Medium);
const NODE_STACKTRACE: FindingDef = FindingDef::new("node_stacktrace", Severity::Medium);
const RAILS_DEBUG: FindingDef = FindingDef::new("rails_debug", Severity::High);
const RUBY_BACKTRACE: FindingDef = FindingDef::new("ruby_backtrace", Severity::Medium);
const GO_PANIC: FindingDef = FindingDef::new("go_panic", Severity::Medium);
const SQL_ERROR: FindingDef = FindingDef::new("sql_error", Severity::Medium);
const INTERNAL_PATH: FindingDef = FindingDef::new("internal_path", Severity::Low);

/// A signature: any alternative matches when all its parts do; a part is a pattern and how
/// many times it must match.
struct Signature {
    def: FindingDef,
    alternatives: &'static [&'static [(&'static str, usize)]],
    /// Only responses with at least this status are scanned (internal_path: 400).
    min_status: u16,
    /// Scanned with URL references removed (internal_path): `href="/app/assets/x.js"`, a
    /// script's `import "/app/x.js"` name a URL on the site, not a file on the server.
    without_urls: bool,
}

const fn sig(
    def: FindingDef,
    alternatives: &'static [&'static [(&'static str, usize)]],
) -> Signature {
    Signature {
        def,
        alternatives,
        min_status: 0,
        without_urls: false,
    }
}

/// A V8 stack frame on a line of its own: CHECKS.md's frame, widened (deviation, ADR 0003) to
/// what V8 prints after an await or in a constructor (`at async getUser (…)`, `at new Repo (…)`,
/// `at Layer.handle [as handle_request] (…)`), to a frame that ends a JSON string or an HTML
/// element (`…:5:102</pre>`, `…:5:102"}`), and to one that is an item of a JSON array
/// (`"at file:///srv/a.mjs:6:32",`).
macro_rules! node_frame {
    () => {
        r#"(?m)^\s*"?at (?:async )?(?:new )?(?:[^\s()]+ )?(?:\[as [^\]\n]+\] )?\(?(?:/|[A-Za-z]:\\|node:|file://)[^()\s"<]*:\d+:\d+\)?(?:["',\]}]|</\w+>)*\s*$"#
    };
}

/// CHECKS.md §14's signature table, in catalogue order.
static SIGNATURES: &[Signature] = &[
    sig(
        PYTHON_TRACEBACK,
        &[
            &[
                (r"Traceback \(most recent call last\):", 1),
                (r#"File "[^"\n]+", line \d+, in "#, 1),
            ],
            // Deviations (ADR 0003), debug pages CHECKS.md's pair misses. Sanic's text page:
            // `Traceback of app (most recent call last):` and `File /srv/x.py, line 10, in f`.
            &[
                (r"Traceback of [^\n]+ \(most recent call last\):", 1),
                (r"File [^\n,]+, line \d+, in ", 1),
            ],
            // Starlette / FastAPI `debug=True`, HTML.
            &[
                (r#"class="traceback-title">Traceback<"#, 1),
                (r#"class="frame-filename">"#, 1),
            ],
            // Litestar `debug=True`, HTML.
            &[(r"<title>Litestar exception page", 1)],
            // Sanic debug mode, HTML (tracerite): source and locals of every frame. Its
            // inline CSS and script usually push this line past the 64 KiB read, so the JSON
            // form below (what unknown-path request (b) gets in debug mode) is the one that
            // catches Sanic.
            &[(r"Sanic debug mode only", 1)],
            // Quart `debug=True`, HTML: `File <span class="info">/srv/app.py</span>, line
            // <span class="info">8</span>, in`.
            &[(
                r#"File <span class="info">[^<\n]+</span>,\s*line <span class="info">\d+</span>, in"#,
                1,
            )],
            // Twisted web `displayTracebacks`, HTML: `web.Server Traceback (most recent call
            // last):` over frames written `<span>/srv/x.py</span>:<span>228</span> in`.
            &[
                (r"Traceback \(most recent call last\):", 1),
                (r"<span>[^<\n]+\.py</span>:<span>\d+</span> in", 1),
            ],
            // Sanic debug mode, JSON: `"exceptions":[{"type":…,"exception":…,"frames":[{"file":`.
            &[
                (r#""exceptions"\s*:\s*\[\s*\{\s*"type"\s*:"#, 1),
                (r#""frames"\s*:\s*\[\s*\{\s*"file"\s*:"#, 1),
            ],
        ],
    ),
    sig(
        DJANGO_DEBUG,
        &[
            &[(
                r"You(?:'|’)re seeing this error because you have <code>DEBUG = True</code>",
                1,
            )],
            &[(r"Using the URLconf defined in <code>", 1)],
        ],
    ),
    sig(
        WERKZEUG_DEBUGGER,
        &[
            &[(
                r"The debugger caught an exception in your WSGI application",
                1,
            )],
            &[(r"Werkzeug Debugger", 1)],
        ],
    ),
    sig(
        JAVA_STACKTRACE,
        &[&[(
            // `at ` optional (deviation): Tomcat's error report prints its frames without it.
            r"(?m)^\s*(?:at )?[\w$]+(?:\.[\w$<>]+)+\((?:[\w$-]+\.(?:java|kt|scala|groovy):\d+|Native Method|Unknown Source)\)",
            2,
        )]],
    ),
    sig(
        JAVA_TRACE_JSON,
        &[&[(
            // `cause0`… (deviation, ADR 0003): Jetty's JSON error page lists the exception chain.
            r#""(?:trace|cause\d+)"\s*:\s*"(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error)"#,
            1,
        )]],
    ),
    sig(
        TOMCAT_ERROR,
        &[
            &[(r"<h3>Apache Tomcat/\d+(?:\.\d+)+[^<]*</h3>", 1)],
            // Case-insensitive (deviation): Tomcat 10 writes "Exception Report", "Root Cause".
            &[(r"(?i)Exception report", 1), (r"(?i)root cause", 1)],
        ],
    ),
    sig(
        DOTNET_ERROR,
        &[
            &[(r"Server Error in '[^']*' Application\.", 1)],
            &[(
                r"An unhandled exception occurred while processing the request\.",
                1,
            )],
            &[(r"ASP\.NET is configured to show verbose error messages", 1)],
            &[(r"(?m)^\s*at \S.*\) in (?:[A-Za-z]:\\|/).*:line \d+", 1)],
        ],
    ),
    sig(
        PHP_ERROR,
        &[
            &[(
                r"<b>(?:Fatal error|Parse error|Warning|Notice|Deprecated)</b>:\s+.*? in <b>[^<]+</b> on line <b>\d+</b>",
                1,
            )],
            // CHECKS.md's `PHP …` anywhere, plus (deviation, ADR 0003) the same message without
            // `PHP ` at the start of a line, and `Deprecated`: with `html_errors=Off` PHP
            // writes `Warning: Undefined variable $x in /srv/a.php on line 2` into the page;
            // the `PHP ` prefix appears in logs (and in log lines a page or JSON echoes).
            &[(
                r"(?m)(?:PHP |^)(?:Fatal error|Parse error|Warning|Notice|Deprecated):\s+.+ in \S+ on line \d+",
                1,
            )],
            &[(r"(?m)^(?:Stack trace:|\[stacktrace\])\s*\n#0 ", 1)],
            // Deviations (ADR 0003), each a default PHP debug output. Xdebug (Debian's
            // php-xdebug loads it in `develop` mode): its HTML error table, or its text
            // `Call Stack:` listing.
            &[(r"class='xdebug-error", 1)],
            &[(r"(?m)^Call Stack:\s*\n\s+[\d.]+\s+\d+\s+1\. ", 1)],
            // Symfony's ErrorHandler debug page (Laravel 8 renders with it too): HTML, and its
            // problem+json with the trace's frames.
            &[
                (r#"class="exception-message-wrapper""#, 1),
                (r#"class="[^"]*trace-file-path"#, 1),
            ],
            &[(r#""trace"\s*:\s*\[\s*\{\s*"namespace"\s*:"#, 1)],
            // Laravel's JSON debug response.
            &[(
                r#""exception"\s*:\s*"[\w\\]+"\s*,\s*"file"\s*:\s*"[^"]+\.php"\s*,\s*"line"\s*:\s*\d+"#,
                1,
            )],
            // Frames of a PHP trace without its `Stack trace:` heading (Slim's error page,
            // Monolog lines, a JSON `"trace"` array).
            &[(
                r#"(?m)^[\s"]*#\d+ (?:\[internal function\]|(?:/|[A-Za-z]:\\)[^\n(]+\.php\(\d+\)): "#,
                2,
            )],
        ],
    ),
    sig(
        NODE_STACKTRACE,
        &[
            &[
                // Deviation (ADR 0003): Node writes a coded error with a space before the
                // code, `TypeError [ERR_INVALID_ARG_TYPE]: `, which CHECKS.md's `Error[CODE]: `
                // misses.
                (
                    r"(?:Error|TypeError|ReferenceError|SyntaxError|RangeError)(?: ?\[[A-Z_]+\])?: ",
                    1,
                ),
                // CHECKS.md's frame, widened (see `node_frame!`).
                (node_frame!(), 2),
            ],
            // A JSON `stack` whose frames come without the error line: Vite's dev-server error
            // overlay (its `cleanStack` keeps only the `at` lines), or a `"stack": [...]` array
            // of frame strings (h3 / Nitro in debug mode).
            &[(r#""stack"\s*:\s*["\[]"#, 1), (node_frame!(), 3)],
            // One frame right below the error line: Express in development prints
            // `TypeError: … <br> &nbsp; &nbsp;at /srv/app.js:5:102` for an async handler.
            &[(
                r#"(?m)(?:Error|TypeError|ReferenceError|SyntaxError|RangeError)(?: ?\[[A-Z_]+\])?: [^\n]*\n[ \t]*at (?:async )?(?:new )?(?:[^\s()]+ )?\(?(?:/|[A-Za-z]:\\|node:|file://)[^()\s"<]*:\d+:\d+\)?(?:["',\]}]|</\w+>)*[ \t]*$"#,
                1,
            )],
        ],
    ),
    sig(
        RAILS_DEBUG,
        &[
            &[(r"Action Controller: Exception caught", 1)],
            &[(r"Rails\.root:", 1), (r"Application Trace", 1)],
        ],
    ),
    sig(
        RUBY_BACKTRACE,
        &[
            &[(r"(?m)^\s*(?:/[\w.@-]+)+\.rb:\d+:in ", 1)],
            // Deviations (ADR 0003): the HTML backtrace pages of Rack's ShowExceptions (what
            // `rackup` adds in development) and of Sinatra in development, which print frames
            // as `<code>/…/base.rb</code> in <code>call</code>`, without `:in `.
            &[(r"Traceback <span>\(innermost first\)</span>", 1)],
            &[(r"/__sinatra__/500\.png", 1), (r"(?i)backtrace", 1)],
        ],
    ),
    sig(
        GO_PANIC,
        &[&[
            // `PANIC: ` too (deviation): negroni's Recovery prints it above the goroutine dump.
            (r"(?m)^(?:panic|PANIC): ", 1),
            (r"(?m)^goroutine \d+ \[[a-z ]+\]:", 1),
        ]],
    ),
    sig(
        SQL_ERROR,
        &[&[(
            r"You have an error in your SQL syntax|\bORA-\d{5}:|Unclosed quotation mark after the character string|SQLSTATE\[[0-9A-Z]{5}\]|PG::[A-Z]\w*Error|org\.postgresql\.util\.PSQLException|SQLite3?::SQLException|Microsoft OLE DB Provider for (?:ODBC Drivers|SQL Server)",
            1,
        )]],
    ),
    Signature {
        def: INTERNAL_PATH,
        alternatives: &[
            &[(
                // CHECKS.md's pattern behind a left boundary: the directory must start the
                // path, not sit inside a URL (Next.js 404 pages link
                // `/_next/static/chunks/app/layout-….js`, Django's `/static/app/js/main.js`).
                r"(?:^|[^\w./-])(?:/home/[\w.-]+|/var/www|/usr/(?:local/)?lib|/opt|/srv|/app)/[\w./-]+\.(?:py|rb|php|m?js|cjs|ts|java|go|rs|cs|jsp)\b",
                1,
            )],
            &[(
                r"(?:^|[^\w])[A-Za-z]:\\(?:[\w .()-]+\\)+[\w .()-]+\.(?:cs|vb|aspx?|php|py|js|java|config)\b",
                1,
            )],
        ],
        min_status: 400,
        without_urls: true,
    },
];

/// The signature ids: the closed set of the `signature` label.
pub fn signature_ids() -> impl Iterator<Item = &'static str> {
    SIGNATURES.iter().map(|s| s.def.id)
}

type Compiled = Vec<Vec<Vec<(Regex, usize)>>>;

static COMPILED: LazyLock<Compiled> = LazyLock::new(|| {
    SIGNATURES
        .iter()
        .map(|s| {
            s.alternatives
                .iter()
                .map(|parts| {
                    parts
                        .iter()
                        .map(|(p, n)| (Regex::new(p).expect("signature pattern compiles"), *n))
                        .collect()
                })
                .collect()
        })
        .collect()
});

/// A quoted URL reference in a page: an HTML attribute that holds a URL (`href`, `src`,
/// `action`, `poster`, `data`, `content`), a JavaScript module specifier (`import "…"`,
/// `import("…")`, `from "…"`), or a quoted bundle in an `assets/` directory, named the way
/// Vite names its output (`assets/[name]-[hash].js`, an 8-character hash), as React Router's
/// inline route manifest lists them. A file path such as `/srv/app/assets/handler.js` in an
/// error message still counts.
static URL_REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(?:\b(?:href|src|action|poster|data|content)\s*=\s*|\bimport\s*\(?\s*|\bfrom\s+)(?:"[^"\n]*"|'[^'\n]*')|["'](?:/[\w.-]+)*/assets/[^"'\s/]*-[\w-]{8}\.m?js["']"#,
    )
    .expect("url reference pattern compiles")
});

static BR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)<br\s*/?>").expect("br pattern compiles"));

/// CHECKS.md §14 normalisation: the first 64 KiB, `<br>` → newline, the common entities
/// decoded, and JSON string escapes (`\n`, `\t`, and, beyond CHECKS.md, `\"` and `\/`) undone
/// so traces inside JSON strings match.
pub fn normalise(body: &[u8]) -> String {
    let cut = &body[..body.len().min(SCAN_BYTES)];
    let text = String::from_utf8_lossy(cut);
    let text = text
        .replace("\\n", "\n")
        .replace("\\t", "\t")
        .replace("\\\"", "\"")
        .replace("\\/", "/");
    let text = BR.replace_all(&text, "\n");
    // Numeric character references (beyond CHECKS.md's `&#39;` / `&#x27;`): Rack and Sinatra
    // escape every `/` of a backtrace as `&#x2F;`.
    let text = NUMERIC_REF.replace_all(&text, |c: &regex::Captures<'_>| {
        let code = match (c.get(1), c.get(2)) {
            (Some(d), _) => d.as_str().parse::<u32>().ok(),
            (_, Some(h)) => u32::from_str_radix(h.as_str(), 16).ok(),
            _ => None,
        };
        code.and_then(char::from_u32)
            .filter(|ch| *ch != '\0')
            .map_or_else(|| c[0].to_owned(), String::from)
    });
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

static NUMERIC_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"&#(?:([0-9]{1,7})|[xX]([0-9a-fA-F]{1,6}));").expect("reference pattern compiles")
});

/// The evidence around a match: from its line's start (at most 80 bytes before it) to the end
/// of the next line (a stack trace's message and first frame), lines joined with ` | `; the
/// caller truncates it.
fn context(text: &str, start: usize, end: usize) -> String {
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let mut from = line_start.max(start.saturating_sub(80));
    while !text.is_char_boundary(from) {
        from += 1;
    }
    // Cut inside a long line: start at the next word or tag boundary, not mid-word.
    if from > line_start
        && let Some(i) = text[from..start].find([' ', '>'])
    {
        from += i + 1;
    }
    let line_end = |at: usize| text[at..].find('\n').map_or(text.len(), |i| at + i);
    let first = line_end(end);
    let to = if first < text.len() {
        line_end(first + 1)
    } else {
        first
    };
    text[from..to]
        .split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The ids of the signatures `text` matches (for a response with `status`), each with the
/// evidence around its first match.
pub fn matches(text: &str, status: u16) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut without_urls: Option<String> = None;
    for (sig, alternatives) in SIGNATURES.iter().zip(COMPILED.iter()) {
        if status < sig.min_status {
            continue;
        }
        let text: &str = if sig.without_urls {
            without_urls.get_or_insert_with(|| URL_REFERENCE.replace_all(text, " ").into_owned())
        } else {
            text
        };
        for parts in alternatives {
            let mut snippet = None;
            let all = parts.iter().all(|(re, n)| {
                let found: Vec<_> = re.find_iter(text).take(*n).collect();
                if snippet.is_none() {
                    snippet = found.first().map(|m| context(text, m.start(), m.end()));
                }
                found.len() >= *n
            });
            if all {
                out.push((sig.def.id, snippet.unwrap_or_default()));
                break;
            }
        }
    }
    out
}

static STATUS: GaugeDef = GaugeDef {
    name: "error_unknown_path_status_code",
    help: "Status of the unknown-path request (a), 0 if none",
    labels: &[],
};
static SOFT_404_GAUGE: GaugeDef = GaugeDef {
    name: "error_soft_404",
    help: "1 if an unknown path answered 200",
    labels: &[],
};
static MATCHED: GaugeDef = GaugeDef {
    name: "error_signatures_matched",
    help: "Distinct error-page signatures matched over every response of the cycle",
    labels: &[],
};
static SIGNATURE: GaugeDef = GaugeDef {
    name: "error_signature",
    help: "1 if the signature matched a response of the cycle, else 0 (signature is a closed set)",
    labels: &["signature"],
};

/// The check.
pub static CHECK: CheckDef = CheckDef {
    id: "error_disclosure",
    summary: "unknown paths get a clean 4xx; no response shows stack traces, debug pages or paths",
    inputs: &[ProbeKind::UnknownPath, ProbeKind::Fetch],
    findings: &[
        SOFT_404,
        SERVER_ERROR,
        REDIRECTS_UNKNOWN,
        PYTHON_TRACEBACK,
        DJANGO_DEBUG,
        WERKZEUG_DEBUGGER,
        JAVA_STACKTRACE,
        JAVA_TRACE_JSON,
        TOMCAT_ERROR,
        DOTNET_ERROR,
        PHP_ERROR,
        NODE_STACKTRACE,
        RAILS_DEBUG,
        RUBY_BACKTRACE,
        GO_PANIC,
        SQL_ERROR,
        INTERNAL_PATH,
    ],
    gauges: &[&STATUS, &SOFT_404_GAUGE, &MATCHED, &SIGNATURE],
    opt_in: false,
    scans_cycle: true,
    also_reads: &[],
    evaluate,
};

fn status_finding(e: &Exchange) -> Option<&'static FindingDef> {
    match e.status {
        200 => Some(&SOFT_404),
        300..=399 => Some(&REDIRECTS_UNKNOWN),
        500..=599 => Some(&SERVER_ERROR),
        _ => None,
    }
}

fn evaluate(input: &CheckInput<'_>) -> Evaluation {
    let ev = match input.unknown_path() {
        Ok(e) => e,
        Err(j) => return Evaluation::bare(j),
    };
    if let Err(j) = cert_gate(input, ev.responses()) {
        return Evaluation::bare(j);
    }
    // A run cut short (a 429, an unanswering server), or one without any answer, is judged on
    // what the cycle showed: a disclosure seen is real, but the absence of one proves nothing
    // (checked below), as for cors.
    let incomplete = match stopped_judgement(ev.stopped) {
        Err(j) => Some(j),
        Ok(()) if ev.responses().next().is_none() => Some(Judgement::Error("no_response")),
        Ok(()) => None,
    };
    let suppressed = |id: &str| {
        input
            .target
            .options
            .error_disclosure
            .suppress
            .iter()
            .any(|s| s == id)
    };
    let mut findings: Vec<Finding> = Vec::new();
    let mut soft = false;
    for kind in [UnknownKind::Html, UnknownKind::Json] {
        let Some(e) = ev.response(kind) else { continue };
        if let Some(def) = status_finding(e) {
            soft |= def.id == SOFT_404.id;
            if !findings.iter().any(|f| f.id == def.id) {
                findings.push(Finding::new(def, format!("{} → {}", e.request(), e.status)));
            }
        }
    }
    let mut matched: Vec<&'static str> = Vec::new();
    for e in input.evidence.responses() {
        let text = normalise(&e.body);
        for (id, snippet) in matches(&text, e.status) {
            if matched.contains(&id) || suppressed(id) {
                continue;
            }
            matched.push(id);
            let def = SIGNATURES
                .iter()
                .find(|s| s.def.id == id)
                .map(|s| &s.def)
                .unwrap_or(&INTERNAL_PATH);
            let snippet: String = snippet.chars().take(200).collect();
            findings.push(Finding::new(
                def,
                format!("{} → {}: {snippet}", e.request(), e.status),
            ));
        }
    }
    findings.retain(|f| !suppressed(f.id));
    if let Some(j) = incomplete
        && findings.iter().all(|f| f.severity == Severity::Info)
    {
        return Evaluation::bare(j);
    }
    let status = ev
        .response(UnknownKind::Html)
        .map_or(0.0, |e| f64::from(e.status));
    let mut measurements = vec![
        Measurement::new(&STATUS, status),
        Measurement::flag(&SOFT_404_GAUGE, soft),
        Measurement::new(&MATCHED, matched.len() as f64),
    ];
    for id in signature_ids() {
        measurements.push(Measurement::labelled(
            &SIGNATURE,
            [id],
            if matched.contains(&id) { 1.0 } else { 0.0 },
        ));
    }
    Evaluation::new(Judgement::Evaluated(findings), measurements)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signature_compiles() {
        assert_eq!(COMPILED.len(), SIGNATURES.len());
        assert_eq!(signature_ids().count(), 14);
    }

    #[test]
    fn normalisation_undoes_html_and_json_escaping() {
        let n = normalise(b"a<br/>b<BR>c &lt;code&gt; &#x27;x&#39; &amp;lt; \\n\\t \\\"q\\\"");
        assert_eq!(n, "a\nb\nc <code> 'x' &lt; \n\t \"q\"");
    }

    #[test]
    fn evidence_shows_the_message_and_the_first_frame() {
        let text = "<pre>Error: kaboom\n    at /srv/app.js:16:37\n    at Layer.handle (/srv/node_modules/express/lib/router/layer.js:95:5)\n    at next (/srv/node_modules/express/lib/router/route.js:149:13)</pre>";
        let m = matches(text, 500);
        let node = m.iter().find(|(id, _)| *id == "node_stacktrace").unwrap();
        assert!(
            node.1.contains("kaboom") && node.1.contains("at "),
            "{}",
            node.1
        );
        // A match deep inside one long line starts shortly before it, at a word boundary.
        let page = format!(
            "<p>{}</p><h3>Apache Tomcat/10.1.60 (Debian)</h3>",
            "word ".repeat(40)
        );
        let c = context(&page, page.find("<h3>").unwrap(), page.len());
        assert!(c.starts_with("word ") && c.ends_with("</h3>"), "{c}");
        let long = format!(
            "{}Traceback (most recent call last):\n  File \"/a.py\", line 1, in f",
            "x".repeat(5000)
        );
        assert!(context(&long, 5000, 5010).len() < 200);
    }

    #[test]
    fn internal_paths_count_only_on_errors() {
        let text = "failed in /var/www/app/index.php";
        assert!(matches(text, 200).is_empty());
        assert_eq!(matches(text, 500)[0].0, "internal_path");
    }

    #[test]
    fn internal_paths_start_a_path_not_a_url_segment() {
        for disclosed in [
            "/app/server.js:12",
            "at Object.<anonymous> (/app/src/index.ts:3:9)",
            "File \"/srv/www/views.py\"",
            "error in C:\\inetpub\\wwwroot\\Default.aspx",
            // Quoted file paths under an `assets/` directory that are no bundler output.
            r#"Error: Cannot find module '/home/deploy/app/assets/handler.js'"#,
            r#"{"error":"ENOENT","path":"/srv/shop/assets/templates/404.php"}"#,
            // A Rust error's Debug form (`{e:?}`) with the `file!()` of where it was made.
            r#"{"error":"Db { file: \"/app/src/db/users.rs\", line: 42 }"}"#,
        ] {
            assert_eq!(
                matches(disclosed, 404).first().map(|m| m.0),
                Some("internal_path"),
                "{disclosed}"
            );
        }
        // Asset URLs on framework 404 pages (Next.js App Router, Django static files).
        for asset in [
            r#"<script src="/_next/static/chunks/app/layout-8f1c2d.js" async=""></script>"#,
            r#"<link href="/static/app/js/main.js">"#,
            r#"<a href="https://cdn.example/opt/lib/x.js">"#,
            // React Router 7 (and any Vite build) served under base `/app/`: its production
            // 404 page preloads and imports the bundles by URL.
            r#"<link rel="modulepreload" href="/app/assets/entry.client-BMpkW_Ly.js"/>"#,
            r#"<script type="module" crossorigin src='/app/assets/index-3f9a.js'></script>"#,
            r#"<script type="module">import "/app/assets/manifest-1.js"; import * as r from "/app/assets/root-2.js"; import("/app/assets/x.js");</script>"#,
            r#"window.__reactRouterManifest = { "entry": { "module": "/app/assets/entry.client-BMpkW_Ly.js", "imports": [ "/app/assets/chunk-Z7SQORRT-BolIHqFf.js" ] } }"#,
        ] {
            assert!(matches(asset, 404).is_empty(), "{asset}");
        }
    }

    #[test]
    fn framework_debug_pages_on_committed_bytes() {
        // (signature, status, body): excerpts of what each framework sends by default in debug
        // mode (Sanic 25, Starlette 1.x, Litestar 2, Jetty 9.4, Node 20 behind Express 5, Quart,
        // Twisted web, h3, Vite).
        let cases: &[(&str, u16, &str)] = &[
            (
                "python_traceback",
                500,
                "Traceback of app (most recent call last):\n  File /srv/app/server.py, line 10, in crash\n    1/0\nZeroDivisionError: division by zero",
            ),
            (
                "python_traceback",
                500,
                "<div class=\"traceback-container\"><p class=\"traceback-title\">Traceback</p><p><span class=\"frame-filename\">/srv/app/main.py</span>, line <i>7</i>",
            ),
            (
                "python_traceback",
                500,
                "<html><head><title>Litestar exception page</title></head>",
            ),
            (
                "python_traceback",
                404,
                "<h2>Details for developers (Sanic debug mode only)</h2>",
            ),
            (
                "python_traceback",
                404,
                r#"{"description":"Not Found","status":404,"message":"Requested URL /x not found","path":"/x","args":{},"exceptions":[{"type":"NotFound","exception":"Requested URL /x not found","frames":[{"file":"/srv/venv/lib/python3.11/site-packages/sanic/router.py","line":48,"name":"_get","src":"raise NotFound(f\"Requested URL {path} not found\")"}]}]}"#,
            ),
            (
                "java_trace_json",
                500,
                r#"{"url":"/crash.jsp","status":"500","message":"boom","servlet":"jsp","cause0":"javax.servlet.ServletException: java.lang.IllegalStateException: boom"}"#,
            ),
            (
                "node_stacktrace",
                500,
                "<pre>TypeError: Cannot read properties of undefined (reading 'items')<br> &nbsp; &nbsp;at /srv/app/index.js:5:102</pre>",
            ),
            (
                "node_stacktrace",
                500,
                "Error: query failed\n    at q (/srv/app/db.js:4:66)\n    at async getUser (/srv/app/users.js:9:3)\n    at async Server.handler (/srv/app/server.js:12:5)",
            ),
            (
                "node_stacktrace",
                500,
                "TypeError: x is not a function\n    at new Repo (/srv/app/repo.js:7:36)\n    at Layer.handle [as handle_request] (/srv/node_modules/express/lib/router/layer.js:95:5)",
            ),
            (
                "node_stacktrace",
                500,
                r#"{"error":"Error: nope\n    at f (/srv/a.js:1:2)\n    at g (/srv/b.js:3:4)"}"#,
            ),
            // Node's coded errors put a space before the code (Express 5's development page).
            (
                "node_stacktrace",
                500,
                "<pre>TypeError [ERR_INVALID_ARG_TYPE]: The &quot;path&quot; argument must be of type string or an instance of Buffer or URL. Received undefined<br> &nbsp; &nbsp;at Object.openSync (node:fs:571:10)<br> &nbsp; &nbsp;at Object.readFileSync (node:fs:452:35)<br> &nbsp; &nbsp;at /srv/app/errs.js:3:3</pre>",
            ),
            (
                "node_stacktrace",
                500,
                "RangeError [ERR_OUT_OF_RANGE]: The value of \"offset\" is out of range.\n    at writeU_Int32BE (node:internal/buffer:562:3)\n    at Buffer.writeUInt32BE (node:internal/buffer:577:10)",
            ),
            // Quart 0.22 and Twisted web 26 (`displayTracebacks`) debug pages, HTML.
            (
                "python_traceback",
                500,
                "<h1>ValueError <span>boom</span></h1>\n<ul>\n<li>\n<div class=\"header\">\n        File <span class=\"info\">/srv/app/quart_app.py</span>,\n        line <span class=\"info\">8</span>, in\n      </div>",
            ),
            (
                "python_traceback",
                500,
                "<html><head><title>web.Server Traceback (most recent call last)</title></head><body><b>web.Server Traceback (most recent call last):</b>\n<div class=\"frame\"><div class=\"location\">\n        <span>/srv/venv/lib/python3.11/site-packages/twisted/web/server.py</span>:<span>228</span> in\n        <span class=\"function\">process</span>",
            ),
            // h3 2 / Nitro in debug mode: the stack as a JSON array of frame strings.
            (
                "node_stacktrace",
                500,
                "{\n  \"status\": 500,\n  \"message\": \"HTTPError\",\n  \"stack\": [\n    \"Error: boom\",\n    \"at file:///srv/app/h3_app.mjs:6:32\",\n    \"at H3.handler (file:///srv/app/node_modules/h3/dist/cache.mjs:386:56)\",\n    \"at ~request (file:///srv/app/node_modules/h3/dist/cache.mjs:399:29)\",\n    \"at Server.emit (node:events:524:28)\"\n  ]\n}",
            ),
            // Vite's dev-server error overlay (SvelteKit, React Router, Astro in `vite dev`):
            // the frames of a JSON `stack` string, without the error line.
            (
                "node_stacktrace",
                500,
                r#"<script type="module">const error = {"message":"URI malformed","stack":"    at decodeURI (\u003canonymous>)\n    at file:///srv/app/node_modules/@sveltejs/kit/src/exports/vite/dev/index.js:425:19\n    at call (file:///srv/app/node_modules/vite/dist/node/chunks/node.js:13627:5)\n    at next (file:///srv/app/node_modules/vite/dist/node/chunks/node.js:13580:4)\n"}</script>"#,
            ),
            (
                "ruby_backtrace",
                500,
                "<h2>Traceback <span>(innermost first)</span></h2><ul class=\"traceback\"><li class=\"frame\"><code>&#x2F;srv&#x2F;app&#x2F;config.ru</code>: in <code>block in &lt;main&gt;</code>",
            ),
            (
                "ruby_backtrace",
                500,
                "<img src=\"/__sinatra__/500.png\" alt=\"application error\" /><div id=\"backtrace\" class=\"condensed\">",
            ),
            (
                "internal_path",
                500,
                "<code>&#x2F;srv&#x2F;app&#x2F;app.rb</code> in <code>block in &lt;class:App&gt;</code>",
            ),
            (
                "go_panic",
                500,
                "PANIC: kaboom\ngoroutine 5 [running]:\nmain.main.func1()\n",
            ),
            // PHP 8.2 with `html_errors=Off`, Xdebug 3.2 (HTML and text), Symfony 5.4's debug
            // page and problem+json, Laravel 8's JSON, Slim 3's trace, Monolog's stack trace.
            (
                "php_error",
                200,
                "\nWarning: Undefined variable $undefined in /var/www/html/warn.php on line 2\n",
            ),
            (
                "php_error",
                200,
                "\nDeprecated: preg_replace(): Passing null to parameter #3 in /var/www/html/wp.php on line 9\n",
            ),
            (
                "php_error",
                500,
                "<br />\n<font size='1'><table class='xdebug-error xe-uncaught-exception' dir='ltr' border='1' cellspacing='0' cellpadding='1'>",
            ),
            (
                "php_error",
                500,
                "Exception: boom in /var/www/html/boom.php on line 2\n\nCall Stack:\n    0.0001     355552   1. {main}() /var/www/html/boom.php:0\n",
            ),
            (
                "php_error",
                500,
                "<div class=\"exception-message-wrapper\"><div class=\"container\"><h1 class=\"break-long-words exception-message\">boom</h1></div></div><span class=\"block trace-file-path\">in <a>index.php</a></span>",
            ),
            (
                "php_error",
                500,
                r#"{"title":"An error occurred","status":500,"detail":"boom","class":"RuntimeException","trace":[{"namespace":"","short_class":"","class":"","type":"","function":"","file":"\/var\/www\/html\/symfony\/index.php","line":45}]}"#,
            ),
            (
                "php_error",
                500,
                r#"{"message": "boom", "exception": "RuntimeException", "file": "/var/www/html/laravel/app/RouteProvider.php", "line": 8, "trace": []}"#,
            ),
            (
                "php_error",
                500,
                "<h2>Trace</h2><pre>#0 [internal function]: Closure-&gt;{closure}()\n#1 /usr/share/php/Slim/Handlers/Strategies/RequestResponse.php(40): call_user_func()\n#2 /usr/share/php/Slim/Route.php(281): x()</pre>",
            ),
            (
                "php_error",
                200,
                "[2026-12-03 10:00:00] local.ERROR: boom at /var/www/html/mono/index.php:4)\n[stacktrace]\n#0 /var/www/html/mono/index.php(10): thrower()\n#1 {main}\n",
            ),
        ];
        for (id, status, body) in cases {
            let normalised = normalise(body.as_bytes());
            let got: Vec<&str> = matches(&normalised, *status).iter().map(|m| m.0).collect();
            assert!(got.contains(id), "{id}: {got:?} on {body}");
        }
        // Not a trace: the words without a frame, a frame without an error line, asset URLs.
        for clean in [
            "Error: not found",
            "see the docs: at https://example.com/x.js:1:2",
            "Traceback (most recent call last): (quoted in a blog, no frame)",
            "<p>TypeError: is a JavaScript error type</p><p>at least 2 apples</p>",
        ] {
            assert!(
                matches(&normalise(clean.as_bytes()), 500)
                    .iter()
                    .all(|m| m.0 != "node_stacktrace" && m.0 != "python_traceback"),
                "{clean}"
            );
        }
    }
}
