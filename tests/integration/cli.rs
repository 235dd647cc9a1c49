//! `prodprobe check` end to end: report output and exit codes 0, 1 and 2.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::web::Web;
use crate::support::{Resp, write};

fn check(args: &[&str]) -> Output {
    Command::new(crate::support::bin())
        .arg("check")
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn web() -> Web {
    // Passes every default check (HSTS, CSP, X-Frame-Options, nosniff, Referrer-Policy).
    let good = crate::csp::hardened(
        "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    let a = vec![
        ("/", good.clone()),
        (
            "/short",
            Resp::new(200)
                .header(
                    "Strict-Transport-Security",
                    "max-age=86400; includeSubDomains",
                )
                .html("<p>x</p>"),
        ),
        ("/none", Resp::new(200).html("<p>no hsts</p>")),
    ];
    let h = vec![
        ("/", Resp::redirect(301, "https://{A}/")),
        ("/plain", Resp::new(200).body("plain")),
    ];
    Web::start(a, vec![], vec![], h).await
}

fn config(web: &Web, dir: &Path, path: &str) -> String {
    let ca = web.pki.write_ca(dir);
    let yaml = format!(
        "defaults:\n  ca_file: {}\ntargets:\n  - name: shop\n    url: https://{}{path}\n    http_url: http://{}/\n",
        ca.display(),
        web.a.addr,
        web.h.addr
    );
    write(dir, "prodprobe.yaml", &yaml).display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_0_when_every_check_passes() {
    let web = web().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&web, dir.path(), "/");
    let out = check(&["--config", &cfg]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    // dns is skipped for an IP-literal target (asserted below).
    for c in probes::checks::ALL
        .iter()
        .filter(|c| !c.opt_in && c.id != "dns")
        .map(|c| c.id)
    {
        assert!(
            t.lines().any(|l| l.contains("PASS") && l.contains(c)),
            "{c}: {t}"
        );
    }
    // dns is skipped for an IP-literal target (no name to resolve).
    assert!(
        t.contains("1 target, 15 checks: 14 passed, 0 failed, 0 errors, 1 skipped"),
        "{t}"
    );
    assert!(
        t.lines()
            .any(|l| l.contains("SKIP") && l.contains("dns") && l.contains("ip_address")),
        "{t}"
    );
    // The report is the output: no log lines about verdicts settling during the run.
    assert!(!t.contains("verdict changed"), "{t}");
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_1_on_a_failing_check_with_the_finding_and_its_evidence() {
    let web = web().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&web, dir.path(), "/none");
    let out = check(&["--config", &cfg]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.lines()
            .any(|l| l.contains("FAIL") && l.contains("hsts") && l.contains("high")),
        "{t}"
    );
    assert!(
        t.lines().any(|l| l.contains("high")
            && l.contains("missing")
            && l.contains("no Strict-Transport-Security")),
        "{t}"
    );
    // After the targets, what to do about each finding above info, once, worst first.
    let todo = t
        .split("What to do\n")
        .nth(1)
        .expect("a What to do section");
    let hsts_missing = prodprobe::about::about("hsts", "missing").unwrap();
    let lines: Vec<&str> = todo.lines().take_while(|l| !l.is_empty()).collect();
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains(&format!("hsts/missing: {hsts_missing}")))
            .count(),
        1,
        "{todo}"
    );
    assert!(lines[0].trim_start().starts_with("high"), "{todo}");
    assert!(
        !lines.iter().any(|l| l.trim_start().starts_with("info")),
        "{todo}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fail_on_sets_the_gate() {
    let web = web().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&web, dir.path(), "/short");
    // max_age_too_short is medium.
    assert_eq!(
        check(&["--config", &cfg, "--checks", "hsts", "--fail-on", "high"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        check(&["--config", &cfg, "--checks", "hsts", "--fail-on", "medium"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        check(&["--config", &cfg, "--checks", "hsts"]).status.code(),
        Some(1)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_report_follows_the_schema() {
    let web = web().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&web, dir.path(), "/short");
    let out = check(&["--config", &cfg, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["summary"]["targets"], 1);
    assert_eq!(v["summary"]["checks"], 15);
    let t = &v["targets"][0];
    assert_eq!(t["name"], "shop");
    let hsts = t["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "hsts")
        .unwrap();
    assert_eq!(hsts["status"], "fail");
    assert_eq!(hsts["severity"], "medium");
    let f = &hsts["findings"][0];
    assert_eq!(f["id"], "max_age_too_short");
    assert_eq!(f["severity"], "medium");
    assert!(f["evidence"].as_str().unwrap().contains("max-age=86400"));
    let probes: Vec<&str> = t["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["probe"].as_str().unwrap())
        .collect();
    assert_eq!(
        probes,
        [
            "fetch",
            "health",
            "tls",
            "tls_versions",
            "dns",
            "cors",
            "unknown_path",
            "paths"
        ]
    );
    // An IP-literal target needs no DNS: the dns probe says it skipped, and why.
    let skipped = |name: &str| {
        t["probes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["probe"] == name)
            .unwrap()["skipped"]
            .clone()
    };
    assert_eq!(skipped("dns"), "ip_address");
    assert_eq!(skipped("fetch"), serde_json::Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bare_url_needs_no_config() {
    let web = web().await;
    let url = web.h("/plain");
    let out = check(&[&url]);
    let t = text(&out);
    // A plain-HTTP site fails hsts (no HTTPS), but the health endpoint answers.
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("https_unavailable"), "{t}");
    assert!(t.contains("dns skipped (ip_address)"), "{t}");
    assert!(
        t.lines()
            .any(|l| l.contains("PASS") && l.contains("health")),
        "{t}"
    );
    let out = check(&[&url, "--checks", "health"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // A plain-HTTP URL has no certificate and no TLS versions: those checks and probes are
    // not run (as for a config target), not reported as failed probes.
    // (The "What to do" section may name tls_cert in an explanation: only the report is read.)
    let report = t.split("What to do").next().unwrap();
    assert!(
        !report.contains("tls_cert")
            && !report.contains("tls_version")
            && !report.contains("not_https"),
        "{t}"
    );
    let probes = t.lines().find(|l| l.starts_with("  probes:")).unwrap();
    assert!(!probes.contains("tls"), "{probes}");

    // A bare host is its HTTPS origin.
    let https = web.a("/");
    let host = https.trim_start_matches("https://").trim_end_matches('/');
    let out = check(&[host, "--format", "json", "--checks", "tls_cert"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["targets"][0]["url"].as_str(),
        Some(https.as_str()),
        "{}",
        text(&out)
    );
}

/// `--ca-file` and `--resolve` give bare URLs what a config target's `ca_file` and `resolve`
/// give it: a private CA, and a name that only the command line maps to an address (Host and
/// SNI keep the name, so the certificate for `shop.test` verifies and the server, which answers
/// 421 to any other Host, answers 200).
#[tokio::test(flavor = "multi_thread")]
async fn a_bare_url_with_a_private_ca_and_a_pinned_name() {
    let pki = crate::support::Pki::new();
    let server = crate::support::TestServer::https(
        "127.0.0.1",
        pki.server_config(&crate::support::Leaf::valid(&["shop.test"])),
        |req| {
            let name = req.header("host").unwrap_or("").split(':').next();
            Resp::new(if name == Some("shop.test") { 200 } else { 421 }).body("ok")
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let ca = pki.write_ca(dir.path()).display().to_string();
    let url = format!("https://shop.test:{}/", server.addr.port());
    let checks = ["--checks", "tls_cert,health", "--format", "json"];
    let status = |out: &Output, check: &str| {
        let json: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)));
        let c = json["targets"][0]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == check)
            .cloned()
            .unwrap();
        (
            c["status"].as_str().unwrap().to_owned(),
            c["findings"][0]["id"].as_str().unwrap_or("").to_owned(),
        )
    };

    let pinned = ["--resolve", "shop.test:127.0.0.1"];
    let out = check(&[&[url.as_str(), "--ca-file", &ca], &pinned[..], &checks[..]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(status(&out, "tls_cert").0, "pass");
    assert_eq!(status(&out, "health").0, "pass");

    // The same without the CA: the chain is untrusted.
    let out = check(&[&[url.as_str()], &pinned[..], &checks[..]].concat());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        status(&out, "tls_cert"),
        ("fail".into(), "untrusted_chain".into())
    );
    assert!(server.count() > 0);

    // A pin the URLs do not use, an address that is not one, --ca-file with --config, a CA
    // file that is not PEM: usage errors that say what is wrong.
    for (args, says) in [
        (
            vec![url.as_str(), "--resolve", "other.test:127.0.0.1"],
            "none of the URLs",
        ),
        (
            vec![url.as_str(), "--resolve", "shop.test:443:127.0.0.1"],
            "HOST:ADDRESS",
        ),
        (vec!["--config", "x.yaml", "--ca-file", &ca], "per target"),
        (
            vec![url.as_str(), "--ca-file", "/dev/null"],
            "ca_file /dev/null",
        ),
    ] {
        let out = check(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(says), "{args:?}: {}", text(&out));
    }
}

#[test]
fn exit_2_on_usage_and_config_errors() {
    assert_eq!(check(&[]).status.code(), Some(2));
    assert_eq!(
        check(&["--config", "/nonexistent/prodprobe.yaml"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        check(&["--config", "x.yaml", "https://a.example/"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        check(&["https://a.example/", "--checks", "nope"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(check(&["ftp://a.example/"]).status.code(), Some(2));
    assert_eq!(
        check(&["https://a.example/", "--fail-on", "severe"])
            .status
            .code(),
        Some(2)
    );
    let out = Command::new(crate::support::bin())
        .arg("frobnicate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A CI gate that ran nothing must not pass: `--checks` naming a check that no target enables is
/// a usage error, not an empty green report.
#[test]
fn checks_that_no_target_enables_are_a_usage_error_not_an_empty_pass() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "prodprobe.yaml",
        "targets:\n  - name: shop\n    url: https://a.example/\n    checks: [hsts]\n",
    );
    let out = check(&["--config", cfg.to_str().unwrap(), "--checks", "csp"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("no selected target enables csp"),
        "{}",
        text(&out)
    );
    // A plain-HTTP URL has no certificate: asked for by name, the TLS checks say why they
    // are not run, and a run left with nothing is a usage error that says what to give.
    let out = check(&["http://127.0.0.1:1/", "--checks", "tls_cert"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("tls_cert cannot run on plain-HTTP targets: give an https:// URL"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_checks_asked_for_on_a_plain_http_url_say_they_are_not_run() {
    let web = web().await;
    let url = web.h("/plain");
    let out = check(&[&url, "--checks", "tls_version,health"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tls_version does not apply to plain-HTTP target") && stderr.contains(&url),
        "{stderr}"
    );
}

/// `tls_cert.platform_roots`: the operating system's store (rustls-native-certs, which honours
/// `SSL_CERT_FILE`) replaces the bundled roots. The test CA is in that store only through the
/// variable, so the same target verifies with it and is untrusted without it.
#[tokio::test(flavor = "multi_thread")]
async fn platform_roots_trust_the_operating_system_store() {
    let web = web().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = web.pki.write_ca(dir.path());
    let cfg = write(
        dir.path(),
        "platform.yaml",
        &format!(
            "defaults:\n  tls_cert: {{ platform_roots: true }}\ntargets:\n  - name: shop\n    url: https://{}/\n",
            web.a.addr
        ),
    );
    let run = |store: &Path| {
        Command::new(crate::support::bin())
            .args(["check", "--checks", "tls_cert", "--format", "json", "-c"])
            .arg(&cfg)
            .env("SSL_CERT_FILE", store)
            .env_remove("SSL_CERT_DIR")
            .output()
            .unwrap()
    };
    let status = |o: &Output| {
        let report: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)));
        let c = &report["targets"][0]["checks"][0];
        let ids: Vec<String> = c["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect();
        (c["status"].as_str().unwrap().to_owned(), ids)
    };
    let trusted = run(&ca);
    assert_eq!(trusted.status.code(), Some(0), "{}", text(&trusted));
    assert_eq!(status(&trusted).0, "pass");

    // A store with some other CA: the bundled webpki roots are not consulted either.
    std::fs::create_dir(dir.path().join("other")).unwrap();
    let other = crate::support::Pki::new().write_ca(&dir.path().join("other"));
    let untrusted = run(&other);
    assert_eq!(untrusted.status.code(), Some(1), "{}", text(&untrusted));
    assert!(
        status(&untrusted).1.contains(&"untrusted_chain".to_owned()),
        "{}",
        text(&untrusted)
    );
}

/// A target that echoes the configured credential back (into `Server`, `X-Powered-By` and an
/// error body) must not carry it into any report format or into `/metrics`: configured secrets
/// are redacted from findings and labels.
#[tokio::test(flavor = "multi_thread")]
async fn an_echoed_secret_never_reaches_reports_or_metrics() {
    const SECRET: &str = "s3cr3t-T0KEN-value";
    let pki = crate::support::Pki::new();
    let srv = crate::support::TestServer::https(
        "127.0.0.1",
        pki.server_config(&crate::support::Leaf::valid(&["127.0.0.1"])),
        |r: &crate::support::Req| {
            let echo = r.header("authorization").unwrap_or("none").to_owned();
            Resp::new(200)
                .header("Server", format!("nginx/1.25.3 {echo}"))
                .header("X-Powered-By", echo.clone())
                .html(&format!("<p>hello {echo}</p>"))
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let ca = pki.write_ca(dir.path());
    let cfg = write(
        dir.path(),
        "echo.yaml",
        &format!(
            "scheduler:\n  initial_spread: 0s\ndefaults:\n  ca_file: {}\ntargets:\n  - name: shop\n    url: https://{}/\n    checks: [server_disclosure, health, x_content_type_options]\n    headers:\n      Authorization: \"Bearer ${{env:PP_TEST_SECRET}}\"\n    credentials_for: [fetch, health]\n",
            ca.display(),
            srv.addr
        ),
    );
    assert!(
        srv.requests().is_empty(),
        "nothing sent before the runs below"
    );
    for format in ["text", "json", "junit", "sarif", "markdown"] {
        let out = Command::new(crate::support::bin())
            .args(["check", "--format", format, "--log-level", "debug", "-c"])
            .arg(&cfg)
            .env("PP_TEST_SECRET", SECRET)
            .output()
            .unwrap();
        let all = text(&out);
        assert!(all.contains("x_powered_by"), "{format}: {all}");
        assert!(!all.contains(SECRET), "{format} leaks the secret: {all}");
    }
    assert!(
        srv.requests()
            .iter()
            .any(|r| r.header("authorization") == Some(&format!("Bearer {SECRET}"))),
        "the credential was sent (and echoed)"
    );

    let mut d = crate::daemon::Daemon::start_with_env(&cfg, &[("PP_TEST_SECRET", SECRET)]);
    d.wait_ready().await;
    let metrics = d.metrics().await;
    assert!(
        metrics.contains("probe_server_banner_info") || metrics.contains("probe_check_finding")
    );
    assert!(!metrics.contains(SECRET), "{metrics}");
    let (_, _, status) = crate::support::http_get(d.addr, "/api/v1/status", None).await;
    assert!(!status.contains(SECRET), "{status}");
    assert_eq!(d.terminate(), Some(0));
}

/// The HTML parser logs every tokenizer step at debug and trace: thousands of lines per page
/// that would bury prodprobe's own. It is silenced unless the filter names it.
#[tokio::test(flavor = "multi_thread")]
async fn a_debug_log_level_is_not_flooded_by_the_html_parser() {
    let web = web().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = web.pki.write_ca(dir.path()).display().to_string();
    let url = web.a("/");
    let html5ever_lines = |level: &str| {
        let args = [
            &url,
            "--ca-file",
            &ca,
            "--checks",
            "csp",
            "--log-level",
            level,
        ];
        let out = check(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| l.contains("html5ever"))
            .count()
    };
    assert_eq!(html5ever_lines("trace"), 0);
    assert_eq!(html5ever_lines("debug"), 0);
    // Named, it speaks: the filter reaches the parser.
    assert!(html5ever_lines("info,html5ever=trace") > 0);
}

/// `prodprobe explain`: what an alert's or a SARIF result's finding means, offline.
#[test]
fn explain_says_what_a_finding_means_and_where_its_rule_is() {
    let explain = |args: &[&str]| {
        Command::new(crate::support::bin())
            .arg("explain")
            .args(args)
            .output()
            .unwrap()
    };
    let out = explain(&["hsts/missing"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = text(&out);
    assert!(t.starts_with("hsts/missing (high)\n"), "{t}");
    assert!(
        t.contains(prodprobe::about::about("hsts", "missing").unwrap()),
        "{t}"
    );
    assert!(t.contains("CHECKS.md §2 "), "{t}");
    assert!(t.contains("docs/checks.md#hsts-missing"), "{t}");
    // A SARIF rule id with its severity, and a bare id shared by several checks.
    assert_eq!(
        text(&explain(&["tls_cert/expired/critical"]))
            .lines()
            .next(),
        Some("tls_cert/expired (critical)")
    );
    let t = text(&explain(&["missing"]));
    for check in ["hsts", "csp", "clickjacking", "x_content_type_options"] {
        assert!(t.contains(&format!("{check}/missing (")), "{check}: {t}");
    }
    // A check: its rulebook section and every finding.
    for c in probes::checks::ALL {
        let t = text(&explain(&[c.id]));
        assert!(
            t.starts_with(&format!("{} (CHECKS.md §", c.id)) && !t.contains("§?"),
            "{t}"
        );
        for f in c.findings {
            assert!(
                t.contains(&format!(" {}: ", f.id)),
                "{}/{}: {t}",
                c.id,
                f.id
            );
        }
    }
    // Everything, and an unknown name.
    let t = text(&explain(&[]));
    assert_eq!(
        t.lines().filter(|l| l.contains(": ")).count(),
        probes::checks::ALL.len(),
        "{t}"
    );
    let out = explain(&["hsts/nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("`prodprobe explain` lists them"));
}
