//! `csp` (CHECKS.md §3): every finding id from real server responses, the non-HTML cap,
//! `static_nonce` across consecutive runs, and the issue's end-to-end cases (`check --format
//! json` and `serve`).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use probes::fetch::Engine;
use probes::resolve::Resolver;
use probes::verdict::{Severity, Status};
use prodprobe::plan::{self, PlanContext};
use prodprobe::scheduler::{EngineRunner, TargetRuntime, execute};

use crate::daemon::Daemon;
use crate::support::web::Web;
use crate::support::{Leaf, Resp, TestServer, ids, sample, target, verdict, write};

const STS: &str = "max-age=63072000; includeSubDomains";
/// The issue's weak policy: its only weakness is `'unsafe-inline'` for scripts.
pub const WEAK_CSP: &str =
    "default-src 'self'; script-src 'self' 'unsafe-inline'; object-src 'none'";

/// A response that passes every header check, with `csp` as its policy (none when empty).
pub fn hardened(csp: &str) -> Resp {
    let mut r = Resp::new(200)
        .header("Strict-Transport-Security", STS)
        .header("X-Frame-Options", "DENY")
        .header("X-Content-Type-Options", "nosniff")
        .header("Referrer-Policy", "strict-origin-when-cross-origin");
    if !csp.is_empty() {
        r = r.header("Content-Security-Policy", csp);
    }
    r.html("<!doctype html><html><head><title>t</title></head><body><p>ok</p></body></html>")
}

const BASE: &str =
    "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The head of a gitweb 2.39 page with `$site_html_head_string` set to a meta CSP.
const GITWEB_XHTML: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE html [
	<!ENTITY nbsp "&#xA0;">
	<!ENTITY sdot "&#x22C5;">
]>
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en-US" lang="en-US">
<!-- git web interface version 2.39.5 -->
<head>
<meta http-equiv="content-type" content="application/xhtml+xml; charset=utf-8"/>
<meta name="generator" content="gitweb/2.39.5 git/2.39.5"/>
<meta name="robots" content="index, nofollow"/>
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; base-uri 'none'; form-action 'self'"/>
<title>127.0.0.1 Git</title>
<link rel="stylesheet" type="text/css" href="static/gitweb.css"/>
</head>
<body>
<div class="page_header"><a href="http://git-scm.com/" title="git homepage">git</a></div>
</body>
</html>
"#;

const META_FA: &str = r#"<!doctype html><html><head><meta http-equiv="Content-Security-Policy" content="frame-ancestors 'none'"></head><body>x</body></html>"#;

fn with(extra: &str) -> String {
    format!("{BASE}; {extra}")
}

fn csp(v: &str) -> Resp {
    Resp::new(200)
        .header("Strict-Transport-Security", STS)
        .header("Content-Security-Policy", v)
        .html("<p>x</p>")
}

async fn web() -> Web {
    let meta = r#"<!doctype html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'self'; base-uri 'none'; form-action 'self'"></head><body>x</body></html>"#;
    let a = vec![
        ("/", hardened(BASE)),
        ("/good", csp(BASE)),
        ("/missing", Resp::new(200).html("<p>none</p>")),
        (
            "/report-only",
            Resp::new(200)
                .header("Content-Security-Policy-Report-Only", BASE)
                .html("<p>ro</p>"),
        ),
        ("/invalid", csp("foo bar")),
        ("/sd-no-nonce", csp(&with("script-src 'strict-dynamic'"))),
        (
            "/unsafe-inline",
            csp(&with("script-src 'self' 'unsafe-inline'")),
        ),
        ("/data-script", csp(&with("script-src 'self' data:"))),
        (
            "/object",
            csp(
                "default-src *; script-src 'self'; style-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            ),
        ),
        (
            "/insecure-active",
            csp(&with("script-src 'self' http://cdn.example")),
        ),
        (
            "/insecure-active-raw",
            csp(&with("connect-src 'self' http://*.*")),
        ),
        (
            "/unsafe-eval",
            csp(&with("script-src 'self' 'unsafe-eval'")),
        ),
        ("/insecure-passive", csp(&with("img-src 'self' http:"))),
        (
            "/unsafe-style",
            csp(&with("style-src 'self' 'unsafe-inline'")),
        ),
        (
            "/base-form",
            csp("default-src 'self'; frame-ancestors 'none'"),
        ),
        (
            "/no-fa",
            csp("default-src 'self'; base-uri 'none'; form-action 'self'"),
        ),
        ("/meta-only", Resp::new(200).html(meta)),
        // A <template> in head holds body tags without starting the body.
        (
            "/meta-after-template",
            Resp::new(200).html(&meta.replace(
                "<head>",
                r#"<head><template id="row"><div>x</div></template>"#,
            )),
        ),
        // Open Graph / Twitter metas do not use up the cap on recorded metas.
        (
            "/meta-after-og",
            Resp::new(200).html(&meta.replace(
                "<head>",
                &format!(
                    "<head>{}",
                    r#"<meta property="og:title" content="t"><meta name="twitter:card" content="c">"#
                        .repeat(40)
                ),
            )),
        ),
        // `<script …/>` closes nothing in HTML: the meta after it is script text (Apache
        // serving such a page; browsers apply no policy).
        (
            "/meta-after-self-closed-script",
            Resp::new(200).html(&meta.replace("<head>", r#"<head><script src="/a.js"/>"#)),
        ),
        // gitweb's XHTML: a DOCTYPE with an internal subset, `/>` metas; read as XML.
        (
            "/meta-xhtml-gitweb",
            Resp::new(200)
                .header("Content-Type", "application/xhtml+xml; charset=utf-8")
                .body(GITWEB_XHTML),
        ),
        // A meta policy that loses its only directive (frame-ancestors) is not a header.
        ("/meta-fa-only", Resp::new(200).html(META_FA)),
        (
            "/meta-fa-report-only",
            Resp::new(200)
                .header("Content-Security-Policy-Report-Only", "default-src 'self'")
                .html(META_FA),
        ),
        (
            "/default-none",
            csp("default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
        ),
        ("/duplicate", csp(&with("script-src 'self'; SCRIPT-SRC *"))),
        ("/unknown", csp(&with("foo-src 'self'"))),
        (
            "/invalid-source",
            csp(&with("script-src 'self' 'unsafe-foo'")),
        ),
        (
            "/nonce-inline",
            csp(&with("script-src 'nonce-abc' 'unsafe-inline'")),
        ),
        (
            "/strict-dynamic",
            csp(&with(
                "script-src 'strict-dynamic' 'nonce-abc' https: 'self' 'unsafe-inline'",
            )),
        ),
        (
            "/https-with-nonce",
            csp(&with("script-src 'nonce-abc' https:")),
        ),
        ("/comma-joined", csp("script-src 'self', object-src 'none'")),
        (
            "/sd-one-policy",
            csp("script-src 'strict-dynamic'").header("Content-Security-Policy", BASE),
        ),
        (
            "/two-lines",
            csp("script-src * 'unsafe-inline'").header("Content-Security-Policy", BASE),
        ),
        (
            "/api",
            Resp::new(200)
                .header("Strict-Transport-Security", STS)
                .header("Content-Type", "application/json")
                .body("{}"),
        ),
        ("/static-nonce", csp(&with("script-src 'nonce-c3RhdGlj'"))),
        // Two Content-Type lines: browsers take the last valid one and render HTML.
        (
            "/json-then-html",
            Resp::new(200)
                .header("Strict-Transport-Security", STS)
                .header("Content-Type", "application/json")
                .header("Content-Type", "text/html")
                .body("<p>shop</p>"),
        ),
        // No Content-Type (docker-registry's `/`): browsers sniff (WHATWG MIME Sniffing §7.1).
        ("/typeless-empty", Resp::new(200)),
        ("/typeless-json", Resp::new(200).body(r#"{"status":"ok"}"#)),
        (
            "/typeless-html",
            Resp::new(200).body("\n<!DOCTYPE html><title>shop</title><p>x"),
        ),
        (
            "/typeless-html-nosniff",
            Resp::new(200)
                .header("X-Content-Type-Options", "nosniff")
                .body("<!DOCTYPE html><title>shop</title><p>x"),
        ),
    ];
    Web::start(a, vec![], vec![], vec![]).await
}

#[tokio::test]
async fn every_finding_from_real_responses() {
    let web = web().await;
    let cases: &[(&str, &[&str], Status)] = &[
        ("/good", &[], Status::Pass),
        ("/missing", &["missing"], Status::Fail),
        ("/report-only", &["report_only_only"], Status::Fail),
        ("/invalid", &["invalid", "unknown_directive"], Status::Fail),
        (
            "/sd-no-nonce",
            &["strict_dynamic_without_nonce"],
            Status::Fail,
        ),
        ("/unsafe-inline", &["unsafe_inline_script"], Status::Fail),
        ("/data-script", &["unsafe_inline_script"], Status::Fail),
        ("/object", &["object_src_unrestricted"], Status::Fail),
        (
            "/insecure-active",
            &["insecure_scheme_active"],
            Status::Fail,
        ),
        ("/unsafe-eval", &["unsafe_eval"], Status::Fail),
        (
            "/insecure-passive",
            &["insecure_scheme_passive"],
            Status::Pass,
        ),
        ("/unsafe-style", &["unsafe_style"], Status::Pass),
        (
            "/base-form",
            &["base_uri_unrestricted", "form_action_unrestricted"],
            Status::Pass,
        ),
        ("/no-fa", &["no_frame_ancestors"], Status::Pass),
        (
            "/meta-only",
            &["meta_only", "no_frame_ancestors"],
            Status::Pass,
        ),
        ("/default-none", &["default_src_none"], Status::Pass),
        (
            "/meta-after-template",
            &["meta_only", "no_frame_ancestors"],
            Status::Pass,
        ),
        (
            "/meta-after-og",
            &["meta_only", "no_frame_ancestors"],
            Status::Pass,
        ),
        ("/meta-after-self-closed-script", &["missing"], Status::Fail),
        (
            "/meta-xhtml-gitweb",
            &["meta_only", "no_frame_ancestors"],
            Status::Pass,
        ),
        // CHECKS.md §3: `invalid` needs a CSP header; a meta-only page is judged as without one.
        ("/meta-fa-only", &["missing"], Status::Fail),
        ("/meta-fa-report-only", &["report_only_only"], Status::Fail),
        // Outside the source grammar (so also invalid_source), but still an http: source.
        (
            "/insecure-active-raw",
            &["insecure_scheme_active", "invalid_source"],
            Status::Fail,
        ),
        ("/duplicate", &["duplicate_directive"], Status::Pass),
        ("/unknown", &["unknown_directive"], Status::Pass),
        ("/invalid-source", &["invalid_source"], Status::Pass),
        // A nonce neutralises 'unsafe-inline' (the CSP1-compatible pattern).
        ("/nonce-inline", &[], Status::Pass),
        // 'strict-dynamic' cancels hosts, schemes, 'self' and 'unsafe-inline'.
        ("/strict-dynamic", &[], Status::Pass),
        // https: is broad even beside a nonce, without 'strict-dynamic'.
        ("/https-with-nonce", &["unsafe_inline_script"], Status::Fail),
        // `;` mistyped as `,`: two policies, both enforced; a weakness needs both to have it.
        (
            "/comma-joined",
            &[
                "unsafe_style",
                "base_uri_unrestricted",
                "form_action_unrestricted",
                "no_frame_ancestors",
            ],
            Status::Pass,
        ),
        ("/two-lines", &[], Status::Pass),
        // strict_dynamic_without_nonce, like every weakness, needs every policy to have it.
        ("/sd-one-policy", &[], Status::Pass),
    ];
    for (path, expected, status) in cases {
        let t = target(&web.a(path), web.pki.client(), None);
        let v = verdict(&t, "csp").await;
        let mut got = ids(&v);
        got.sort_unstable();
        let mut want = expected.to_vec();
        want.sort_unstable();
        assert_eq!(got, want, "case {path}: {:#?}", v.findings);
        assert_eq!(v.status, *status, "case {path}: {:#?}", v.findings);
        for f in &v.findings {
            assert_eq!(
                f.severity,
                probes::checks::csp::CHECK.finding(f.id).severity,
                "{path}"
            );
        }
    }
}

#[tokio::test]
async fn evidence_names_the_offending_directive_and_gauges_follow() {
    let web = web().await;
    let v = verdict(
        &target(&web.a("/unsafe-inline"), web.pki.client(), None),
        "csp",
    )
    .await;
    assert_eq!(v.findings[0].id, "unsafe_inline_script");
    assert_eq!(v.findings[0].severity, Severity::High);
    assert_eq!(v.findings[0].evidence, "script-src 'self' 'unsafe-inline'");
    let m = |name: &str| {
        v.measurements
            .iter()
            .find(|m| m.gauge.name == name)
            .unwrap()
            .value
    };
    assert_eq!(m("csp_policies_enforced"), 1.0);
    assert_eq!(m("csp_unsafe_inline"), 1.0);
    assert_eq!(m("csp_nonce_used"), 0.0);
    assert_eq!(m("csp_frame_ancestors_restrictive"), 1.0);
    assert_eq!(
        m("csp_header_bytes"),
        with("script-src 'self' 'unsafe-inline'").len() as f64
    );

    let v = verdict(
        &target(&web.a("/strict-dynamic"), web.pki.client(), None),
        "csp",
    )
    .await;
    let m = |name: &str| {
        v.measurements
            .iter()
            .find(|m| m.gauge.name == name)
            .unwrap()
            .value
    };
    assert_eq!(m("csp_strict_dynamic"), 1.0);
    assert_eq!(m("csp_nonce_used"), 1.0);
    assert_eq!(m("csp_unsafe_inline"), 0.0);
}

#[tokio::test]
async fn non_html_responses_are_capped_at_info() {
    let web = web().await;
    let v = verdict(&target(&web.a("/api"), web.pki.client(), None), "csp").await;
    assert_eq!(ids(&v), ["missing"]);
    assert_eq!(v.findings[0].severity, Severity::Info);
    assert_eq!(v.status, Status::Pass);

    // The last Content-Type line decides (Fetch "extract a MIME type"): HTML, not capped.
    let url = web.a("/json-then-html");
    let v = verdict(&target(&url, web.pki.client(), None), "csp").await;
    assert_eq!(ids(&v), ["missing"]);
    assert_eq!(v.findings[0].severity, Severity::High);

    // Without a Content-Type, a body is a page when a browser sniffs it as HTML, and only then
    // (unless nosniff forbids sniffing): csp and clickjacking alike.
    for (path, severity) in [
        ("/typeless-empty", Severity::Info),
        ("/typeless-json", Severity::Info),
        ("/typeless-html", Severity::High),
        ("/typeless-html-nosniff", Severity::Info),
    ] {
        for check in ["csp", "clickjacking"] {
            let v = verdict(&target(&web.a(path), web.pki.client(), None), check).await;
            assert_eq!(ids(&v), ["missing"], "{path} {check}");
            assert_eq!(v.findings[0].severity, severity, "{path} {check}");
        }
    }
}

/// A server that puts a fresh nonce into every response's script-src (a counter: unique per
/// response, deterministic), otherwise hardened.
async fn nonce_server(pki: &crate::support::Pki) -> TestServer {
    let n = Arc::new(AtomicU64::new(0));
    TestServer::https(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&["127.0.0.1"])),
        move |req: &crate::support::Req| {
            // Like a real site: only the home page exists.
            if req.path != "/" {
                return Resp::new(404).body("not found");
            }
            let i = n.fetch_add(1, Ordering::Relaxed);
            hardened(&format!(
                "default-src 'self'; script-src 'self' 'unsafe-inline' 'nonce-ZnJlc2g{i}'; object-src 'none'"
            ))
        },
    )
    .await
}

fn ca_config(dir: &Path, pki: &crate::support::Pki, targets: &str) -> std::path::PathBuf {
    let ca = pki.write_ca(dir);
    let yaml = format!(
        "scheduler:\n  initial_spread: 0s\ndefaults:\n  ca_file: {}\ntargets:\n{targets}",
        ca.display()
    );
    write(dir, "prodprobe.yaml", &yaml)
}

/// `static_nonce` across consecutive runs, through the daemon's own scheduler path
/// (`scheduler::execute` keeps each target's verdicts between runs exactly as `serve` does).
/// Calling it directly makes three consecutive fetch runs take milliseconds instead of three
/// 30 s fetch intervals, with no timing to wait for: each call is one complete run.
#[tokio::test(flavor = "multi_thread")]
async fn static_nonce_is_raised_only_when_a_nonce_repeats_across_runs() {
    let web = web().await;
    let fresh = nonce_server(&web.pki).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = ca_config(
        dir.path(),
        &web.pki,
        &format!(
            "  - name: fresh\n    url: https://{}/\n    checks: [csp]\n  - name: static\n    url: https://{}/static-nonce\n    checks: [csp]\n",
            fresh.addr, web.a.addr
        ),
    );
    let cx = PlanContext {
        public_tls: Arc::new(probes::tls::TlsClient::new(&[]).unwrap()),
    };
    let plan = plan::load(&cfg, &cx).unwrap();
    let runner = EngineRunner {
        engine: Arc::new(Engine::new(Resolver::hosts_only(), probes::USER_AGENT)),
    };
    let runs = |name: &str| {
        let planned = plan.targets.iter().find(|t| t.target.name == name).unwrap();
        (TargetRuntime::new(planned, 1), planned.jobs[0])
    };

    let (rt, job) = runs("fresh");
    for run in 1..=3 {
        let (_, verdicts) = execute(&runner, &rt, job).await;
        let v = &verdicts[0].0;
        assert_eq!(v.check, "csp");
        assert_eq!(v.status, Status::Pass, "run {run}: {:#?}", v.findings);
        assert!(!ids(v).contains(&"static_nonce"), "run {run}");
    }

    let (rt, job) = runs("static");
    let (_, verdicts) = execute(&runner, &rt, job).await;
    assert!(!ids(&verdicts[0].0).contains(&"static_nonce"), "first run");
    let (_, verdicts) = execute(&runner, &rt, job).await;
    let v = &verdicts[0].0;
    assert_eq!(ids(v), ["static_nonce"], "{:#?}", v.findings);
    assert_eq!(v.findings[0].severity, Severity::Medium);
    assert!(v.findings[0].evidence.contains("'nonce-c3RhdGlj'"));
    assert_eq!(v.status, Status::Fail);
}

/// Passed, or (dns only) skipped because an IP-literal target has no name to resolve.
fn assert_not_failed(c: &serde_json::Value) {
    if c["check"] == "dns" {
        assert_eq!(
            (c["status"].as_str(), c["reason"].as_str()),
            (Some("skipped"), Some("ip_address")),
            "{c:#}"
        );
    } else {
        assert_eq!(c["status"], "pass", "{c:#}");
    }
}

fn checks_of(report: &serde_json::Value, target: &str) -> Vec<serde_json::Value> {
    report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == target)
        .unwrap()["checks"]
        .as_array()
        .unwrap()
        .clone()
}

/// The issue's must-show: `check --format json` against a server whose only weakness is
/// `script-src 'self' 'unsafe-inline'` fails csp (high, unsafe_inline_script) and nothing
/// else; the same policy with a fresh nonce per response passes csp.
#[tokio::test(flavor = "multi_thread")]
async fn check_json_fails_csp_alone_on_unsafe_inline_and_passes_with_a_fresh_nonce() {
    let a = vec![("/", hardened(WEAK_CSP))];
    let h = vec![("/", Resp::redirect(301, "https://{A}/"))];
    let web = Web::start(a, vec![], vec![], h).await;
    let fresh = nonce_server(&web.pki).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = ca_config(
        dir.path(),
        &web.pki,
        &format!(
            "  - name: weak\n    url: https://{a}/\n    http_url: http://{h}/\n  - name: nonce\n    url: https://{n}/\n    http_url: http://{h}/\n",
            a = web.a.addr,
            h = web.h.addr,
            n = fresh.addr
        ),
    );
    let out = Command::new(crate::support::bin())
        .args(["check", "--format", "json", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let weak = checks_of(&report, "weak");
    let defaults = probes::checks::ALL.iter().filter(|c| !c.opt_in).count();
    assert_eq!(weak.len(), defaults, "every default check ran: {weak:#?}");
    for c in &weak {
        if c["check"] == "csp" {
            assert_eq!(c["status"], "fail");
            assert_eq!(c["severity"], "high");
            let f = &c["findings"][0];
            assert_eq!(f["id"], "unsafe_inline_script");
            assert_eq!(f["severity"], "high");
            assert_eq!(f["evidence"], "script-src 'self' 'unsafe-inline'");
            // Everything else csp says is info.
            for f in c["findings"].as_array().unwrap().iter().skip(1) {
                assert_eq!(f["severity"], "info", "{f}");
            }
        } else {
            assert_not_failed(c);
        }
    }
    for c in checks_of(&report, "nonce") {
        assert_not_failed(&c);
    }
    assert_eq!(report["summary"]["fail"], 1, "{stdout}");
}

/// The issue's must-show on `serve`: the fresh-nonce server passes csp and every other check,
/// and `/metrics` carries `probe_check_success` and `probe_check_finding` for all six header
/// checks (a second, weak target has a finding in each). Runs after the first are covered by
/// `static_nonce_is_raised_only_when_a_nonce_repeats_across_runs`, on the same scheduler code.
#[tokio::test(flavor = "multi_thread")]
async fn serve_exports_verdicts_and_findings_of_the_six_header_checks() {
    let weak = Resp::new(200)
        .header("Server", "Apache/2.4.57 (Debian)")
        .header("Set-Cookie", "sid=abc")
        .header("Referrer-Policy", "unsafe-url")
        .html("<p>weak</p>");
    let a = vec![("/", hardened(BASE)), ("/weak", weak)];
    let h = vec![("/", Resp::redirect(301, "https://{A}/"))];
    let web = Web::start(a, vec![], vec![], h).await;
    let fresh = nonce_server(&web.pki).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = ca_config(
        dir.path(),
        &web.pki,
        &format!(
            "  - name: nonce\n    url: https://{n}/\n    http_url: http://{h}/\n  - name: weak\n    url: https://{a}/weak\n    http_url: http://{h}/\n",
            a = web.a.addr,
            h = web.h.addr,
            n = fresh.addr
        ),
    );
    let mut d = Daemon::start(&cfg);
    d.wait_ready().await;
    let text = d.metrics().await;
    let six = [
        "csp",
        "clickjacking",
        "x_content_type_options",
        "referrer_policy",
        "cookies",
        "server_disclosure",
    ];
    for check in six.iter().chain(&["https_redirect", "hsts", "health"]) {
        assert_eq!(
            sample(
                &text,
                "probe_check_success",
                &[("target", "nonce"), ("check", check)]
            ),
            Some(1.0),
            "nonce/{check}: {text}"
        );
    }
    for check in six {
        assert_eq!(
            sample(
                &text,
                "probe_check_success",
                &[("target", "weak"), ("check", check)]
            ),
            Some(0.0),
            "weak/{check}"
        );
        assert_eq!(
            sample(
                &text,
                "probe_check_finding",
                &[("target", "weak"), ("check", check)]
            ),
            Some(1.0),
            "weak/{check} has an active finding: {text}"
        );
    }
    assert_eq!(
        sample(
            &text,
            "probe_check_finding",
            &[
                ("target", "weak"),
                ("check", "csp"),
                ("finding", "missing"),
                ("severity", "high")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "probe_csp_nonce_used", &[("target", "nonce")]),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "probe_referrer_policy_info",
            &[
                ("target", "nonce"),
                ("policy", "strict-origin-when-cross-origin")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "probe_server_banner_info",
            &[("target", "weak"), ("server", "Apache/2.4.57 (Debian)")]
        ),
        Some(1.0)
    );
    assert_eq!(d.terminate(), Some(0));
}
