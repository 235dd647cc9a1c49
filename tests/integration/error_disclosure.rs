//! `error_disclosure` (CHECKS.md §14): the unknown-path status rule and every signature from
//! real server responses, 500 pages with a Python traceback, a Java stack trace and a Go
//! panic, and signatures found in the responses of other probes of the cycle.

use probes::verdict::{Severity, Status};

use crate::support::{Leaf, Pki, Req, Resp, TestServer, ids, target, verdict};

async fn server(pki: &Pki, f: impl Fn(&Req) -> Resp + Send + Sync + 'static) -> TestServer {
    TestServer::https(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&["127.0.0.1"])),
        f,
    )
    .await
}

fn sorted(mut v: Vec<&'static str>) -> Vec<&'static str> {
    v.sort_unstable();
    v
}

#[tokio::test]
async fn the_unknown_path_status_rule() {
    let pki = Pki::new();
    let cases: &[(u16, &[&str], Status)] = &[
        (404, &[], Status::Pass),
        (410, &[], Status::Pass),
        (403, &[], Status::Pass),
        (200, &["soft_404"], Status::Fail),
        (302, &["redirects_unknown"], Status::Pass),
        (500, &["server_error_on_unknown_path"], Status::Fail),
        (502, &["server_error_on_unknown_path"], Status::Fail),
    ];
    for (status, expected, want) in cases {
        let status = *status;
        let srv = server(&pki, move |r: &Req| {
            if r.path == "/" {
                return Resp::new(200).html("<p>home</p>");
            }
            let mut resp = Resp::new(status).body("nothing here");
            if (300..400).contains(&status) {
                resp = resp.header("Location", "/");
            }
            resp
        })
        .await;
        let t = target(&srv.url("https", "/"), pki.client(), None);
        let v = verdict(&t, "error_disclosure").await;
        assert_eq!(ids(&v), *expected, "status {status}: {:#?}", v.findings);
        assert_eq!(v.status, *want, "status {status}");
        let code = v
            .measurements
            .iter()
            .find(|m| m.gauge.name == "error_unknown_path_status_code")
            .unwrap();
        assert_eq!(code.value, f64::from(status));
        // (a), (b) and (c), never following the redirect; no credentials, GET only. (The
        // fetch probe's own requests are `/` and `/robots.txt`.)
        let unknown: Vec<Req> = srv
            .requests()
            .into_iter()
            .filter(|r| r.path != "/" && r.path != "/robots.txt")
            .collect();
        assert_eq!(unknown.len(), 3, "{unknown:#?}");
        assert!(unknown.iter().all(|r| r.method == "GET"));
        assert!(unknown.iter().any(|r| r.path.starts_with("/%ff%fe")));
        assert!(
            unknown
                .iter()
                .any(|r| r.header("accept") == Some("application/json"))
        );
    }
}

/// One body per signature, served as the home page (status 200, so `internal_path`, which
/// needs status ≥ 400, stays quiet except in its own case).
fn signature_pages() -> Vec<(&'static str, u16, &'static str)> {
    vec![
        (
            "python_traceback",
            200,
            "Traceback (most recent call last):\n  File \"/srv/app/views.py\", line 42, in handler\n    return data[\"x\"]\nKeyError: 'x'\n",
        ),
        (
            "django_debug",
            200,
            "<p>You&#x27;re seeing this error because you have <code>DEBUG = True</code> in your Django settings file.</p>",
        ),
        (
            "werkzeug_debugger",
            200,
            "<title>KeyError // Werkzeug Debugger</title>",
        ),
        (
            "java_stacktrace",
            200,
            "java.lang.NullPointerException\n\tat com.shop.web.CartController.add(CartController.java:57)\n\tat sun.reflect.NativeMethodAccessorImpl.invoke0(Native Method)\n",
        ),
        (
            "java_trace_json",
            200,
            r#"{"status":500,"error":"Internal Server Error","trace":"java.lang.IllegalStateException: boom"}"#,
        ),
        (
            "tomcat_error",
            200,
            "<html><h3>Apache Tomcat/9.0.83 (Debian)</h3></html>",
        ),
        (
            "dotnet_error",
            200,
            "<h1>Server Error in '/' Application.</h1>",
        ),
        (
            "php_error",
            200,
            "<br />\n<b>Fatal error</b>:  Uncaught Error: Call to undefined function foo() in <b>/var/www/html/index.php</b> on line <b>3</b><br />",
        ),
        // CHECKS.md's `PHP …` form is not anchored: a log line echoed inside markup or JSON.
        (
            "php_error",
            200,
            "<p>PHP Warning:  Undefined variable $x in /data/site/a.php on line 3</p>",
        ),
        (
            "php_error",
            500,
            "{\"message\":\"PHP Fatal error:  Uncaught Error: boom in /data/site/a.php on line 9\"}",
        ),
        (
            "node_stacktrace",
            200,
            "TypeError: Cannot read properties of undefined (reading 'id')\n    at getUser (/app/src/users.js:12:19)\n    at /app/src/server.js:40:5\n",
        ),
        (
            "rails_debug",
            200,
            "<h1>Action Controller: Exception caught</h1>",
        ),
        (
            "ruby_backtrace",
            200,
            "NoMethodError (undefined method `name' for nil):\n/srv/app/models/user.rb:10:in `full_name'\n",
        ),
        (
            "go_panic",
            200,
            "panic: runtime error: index out of range [3] with length 2\n\ngoroutine 1 [running]:\nmain.main()\n",
        ),
        (
            "sql_error",
            200,
            "You have an error in your SQL syntax; check the manual",
        ),
        (
            "internal_path",
            404,
            "no such page: /var/www/shop/index.php",
        ),
    ]
}

#[tokio::test]
async fn every_signature_from_a_real_response() {
    let pki = Pki::new();
    for (id, status, body) in signature_pages() {
        let srv = server(&pki, move |r: &Req| {
            if r.path == "/" {
                Resp::new(status).html(body)
            } else {
                Resp::new(404).body("not found")
            }
        })
        .await;
        let t = target(&srv.url("https", "/"), pki.client(), None);
        let v = verdict(&t, "error_disclosure").await;
        assert_eq!(ids(&v), [id], "{id}: {:#?}", v.findings);
        let sig = v
            .measurements
            .iter()
            .find(|m| m.gauge.name == "error_signature" && m.labels == [id])
            .unwrap();
        assert_eq!(sig.value, 1.0, "{id}");
        let others = v
            .measurements
            .iter()
            .filter(|m| m.gauge.name == "error_signature" && m.value == 1.0)
            .count();
        assert_eq!(others, 1, "{id}");
        assert_eq!(
            v.measurements
                .iter()
                .filter(|m| m.gauge.name == "error_signature")
                .count(),
            14
        );
    }
}

#[tokio::test]
async fn tracebacks_on_500_pages_for_unknown_paths() {
    let pki = Pki::new();
    let cases: &[(&str, &[&str])] = &[
        (
            "Traceback (most recent call last):\n  File \"/srv/app/views.py\", line 42, in handler\n    raise ValueError()\nValueError\n",
            &[
                "internal_path",
                "python_traceback",
                "server_error_on_unknown_path",
            ],
        ),
        (
            "<pre>java.lang.IllegalStateException: no route\n\tat org.springframework.web.servlet.DispatcherServlet.doDispatch(DispatcherServlet.java:1089)\n\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:897)\n</pre>",
            &["java_stacktrace", "server_error_on_unknown_path"],
        ),
        (
            "panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation]\n\ngoroutine 42 [running]:\nmain.handler(0x0)\n\t/home/dev/shop/main.go:27 +0x1d\n",
            &["go_panic", "internal_path", "server_error_on_unknown_path"],
        ),
    ];
    for (body, expected) in cases {
        let body = *body;
        let srv = server(&pki, move |r: &Req| {
            if r.path == "/" {
                Resp::new(200).html("<p>home</p>")
            } else {
                Resp::new(500).body(body)
            }
        })
        .await;
        let t = target(&srv.url("https", "/"), pki.client(), None);
        let v = verdict(&t, "error_disclosure").await;
        assert_eq!(sorted(ids(&v)), *expected, "{:#?}", v.findings);
        assert_eq!(v.status, Status::Fail);
        assert!(v.max_severity() >= Some(Severity::Medium));
    }
}

#[tokio::test]
async fn traces_inside_json_strings_and_html_escapes_match() {
    let pki = Pki::new();
    let srv = server(&pki, |r: &Req| {
        if r.path == "/" {
            Resp::new(200).header("Content-Type", "application/json").body(
                r#"{"detail":"Traceback (most recent call last):\n  File \"/srv/app/api.py\", line 7, in get\nKeyError"}"#,
            )
        } else {
            Resp::new(404)
        }
    })
    .await;
    let t = target(&srv.url("https", "/"), pki.client(), None);
    let v = verdict(&t, "error_disclosure").await;
    assert_eq!(ids(&v), ["python_traceback"]);
}

#[tokio::test]
async fn signatures_scan_every_response_of_the_cycle_and_can_be_suppressed() {
    let pki = Pki::new();
    // Only the health endpoint leaks a Go panic.
    let srv = server(&pki, |r: &Req| match r.path.as_str() {
        "/" => Resp::new(200).html("<p>home</p>"),
        "/healthz" => Resp::new(200).body("panic: boom\n\ngoroutine 7 [running]:\nmain.health()\n"),
        _ => Resp::new(404),
    })
    .await;
    let mut t = target(&srv.url("https", "/"), pki.client(), None);
    t.options.health.url = Some(url::Url::parse(&srv.url("https", "/healthz")).unwrap());
    t.checks
        .retain(|c| ["health", "error_disclosure"].contains(&c.id));
    let (_, verdicts) = crate::support::evaluate(&t).await;
    let v = verdicts
        .iter()
        .find(|v| v.check == "error_disclosure")
        .unwrap();
    assert_eq!(ids(v), ["go_panic"]);
    assert!(
        v.findings[0].evidence.contains("/healthz"),
        "{}",
        v.findings[0].evidence
    );

    t.options.error_disclosure.suppress = vec!["go_panic".into()];
    let (_, verdicts) = crate::support::evaluate(&t).await;
    let v = verdicts
        .iter()
        .find(|v| v.check == "error_disclosure")
        .unwrap();
    assert!(v.findings.is_empty(), "{:#?}", v.findings);
    assert_eq!(v.status, Status::Pass);
}

/// CHECKS.md §0.3: `error` = could not evaluate. A target that refuses every connection, or
/// accepts and drops it before any TLS handshake (no certificate is ever judged), is an error
/// for the response checks, never a pass and never `invalid_cert`. An active probe gives up
/// after three requests in a row got no answer, instead of waiting out its whole list.
#[tokio::test(flavor = "multi_thread")]
async fn no_answer_is_an_error_not_a_pass_and_not_invalid_cert() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let pki = Pki::new();
    let closed = crate::support::closed_port("127.0.0.1").await;
    let dropper = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dropper_addr = dropper.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    let accept_loop = tokio::spawn(async move {
        while let Ok((sock, _)) = dropper.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(sock);
        }
    });
    for url in [
        format!("https://127.0.0.1:{closed}/"),
        format!("https://{dropper_addr}/"),
    ] {
        let t = target(&url, pki.client(), None);
        for (check, reason) in [
            ("error_disclosure", "no_response"),
            ("csp", "no_response"),
            ("server_disclosure", "no_response"),
            ("exposed_paths", "unreachable"),
            // One request per cors path: a path that does not answer is left at once.
            ("cors", "no_response"),
        ] {
            let before = accepted.load(Ordering::SeqCst);
            let v = verdict(&t, check).await;
            assert_eq!(
                (v.status, v.reason),
                (Status::Error, Some(reason)),
                "{check} on {url}: {:#?}",
                v.findings
            );
            if check == "exposed_paths" && url.contains(&dropper_addr.to_string()) {
                // Three from the paths probe (not its whole list of 38), one from fetch, which
                // exposed_paths also reads (no /robots.txt after an unanswered main request).
                assert_eq!(accepted.load(Ordering::SeqCst) - before, 3 + 1);
            }
        }
    }
    accept_loop.abort();
}

/// CHECKS.md §0.3: a response over a connection whose certificate failed verification makes
/// the checks of that run `skipped (invalid_cert)`, so the active run stops there: one request
/// per active probe, not the path sweep's 38 (a server that closes every connection cost 38
/// handshakes), and the verdicts stay `skipped (invalid_cert)`.
#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_certificate_stops_each_active_run_after_one_response() {
    let pki = Pki::new();
    let other = Pki::new();
    let srv = server(&other, |_| Resp::new(200).html("<p>ok</p>")).await;
    let t = target(&srv.url("https", "/"), pki.client(), None);
    // (check, the requests of its cycle: fetch's page and /robots.txt, then one request of
    // the active probe)
    for (check, want) in [
        (
            "exposed_paths",
            ["GET /", "GET /robots.txt", "GET /{random}"],
        ),
        (
            "error_disclosure",
            ["GET /", "GET /robots.txt", "GET /{random}"],
        ),
        ("cors", ["GET /", "GET /robots.txt", "GET /"]),
    ] {
        let before = srv.requests().len();
        let v = verdict(&t, check).await;
        assert_eq!(
            (v.status, v.reason),
            (Status::Skipped, Some("invalid_cert")),
            "{check}"
        );
        let mut sent: Vec<String> = srv.requests()[before..]
            .iter()
            .map(|r| match r.path.as_str() {
                "/" | "/robots.txt" => format!("{} {}", r.method, r.path),
                _ => format!("{} /{{random}}", r.method),
            })
            .collect();
        sent.sort();
        let mut want = want.to_vec();
        want.sort();
        assert_eq!(sent, want, "{check}");
    }
}

/// A server that accepts connections and never answers: one timed-out request is enough, the
/// active run stops there (not after its whole list) and fetch does not ask for /robots.txt.
#[tokio::test(flavor = "multi_thread")]
async fn a_silent_server_costs_one_timeout_per_probe() {
    use std::sync::{Arc, Mutex};

    let pki = Pki::new();
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&held);
    let accept_loop = tokio::spawn(async move {
        while let Ok((sock, _)) = silent.accept().await {
            keep.lock().unwrap().push(sock);
        }
    });
    let t = target(&format!("https://{addr}/"), pki.client(), None);
    let v = verdict(&t, "exposed_paths").await;
    assert_eq!(
        (v.status, v.reason),
        (Status::Error, Some("unreachable")),
        "{:#?}",
        v.findings
    );
    // fetch's main request and the sweep's first: two connections, each cut by the TLS
    // timeout.
    assert_eq!(held.lock().unwrap().len(), 2);
    accept_loop.abort();
}

/// A server that answers `/` and leaves every other path hanging (browser-sync's UI port): a
/// random path has nothing to compute, so its first unanswered request ends the unknown_path
/// run and the path sweep (one request timeout each, not three).
#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_hangs_on_unknown_paths_costs_one_request_timeout() {
    use probes::evidence::Evidence;
    use probes::probe::{self, ProbeKind};

    let pki = Pki::new();
    let srv = server(&pki, |r: &Req| {
        if r.path == "/" {
            Resp::new(200).html("<p>ui</p>")
        } else {
            Resp::hang()
        }
    })
    .await;
    let t = target(&srv.url("https", "/"), pki.client(), None);
    let engine = crate::support::engine();
    // Past the 15 s request timeout, so that the run's deadline is not what stops it.
    let cx = probes::context::ProbeContext {
        engine: &engine,
        deadline: tokio::time::Instant::now() + std::time::Duration::from_secs(25),
    };
    let (unknown, paths) = tokio::join!(
        probe::run(ProbeKind::UnknownPath, &t, &cx),
        probe::run(ProbeKind::Paths, &t, &cx)
    );
    let Evidence::UnknownPath(u) = &unknown.evidence else {
        panic!("{:?}", unknown.evidence)
    };
    assert_eq!((u.requests.len(), u.stopped), (1, Some("unreachable")));
    let Evidence::Paths(p) = &paths.evidence else {
        panic!("{:?}", paths.evidence)
    };
    assert_eq!((p.requests, p.stopped), (1, Some("unreachable")));
    assert_eq!(srv.count(), 2, "{:?}", srv.requests());
    assert!(!unknown.success && !paths.success);
}

/// Tomcat 10's error report with `showServerInfo="false"` (no version heading): "Exception
/// Report" / "Root Cause" in title case, and stack frames printed without `at `.
#[tokio::test]
async fn tomcat_10_error_report_without_server_info() {
    let pki = Pki::new();
    let body = "<!doctype html><html lang=\"en\"><head><title>HTTP Status 500 – Internal Server Error</title></head><body><h1>HTTP Status 500 – Internal Server Error</h1><hr class=\"line\" /><p><b>Type</b> Exception Report</p><p><b>Message</b> Cannot invoke &quot;String.length()&quot; because &quot;s&quot; is null</p><p><b>Exception</b></p><pre>org.apache.jasper.JasperException: An exception occurred processing [/crash.jsp] at line [2]\n\torg.apache.jasper.servlet.JspServletWrapper.handleJspException(JspServletWrapper.java:610)\n\torg.apache.jasper.servlet.JspServletWrapper.service(JspServletWrapper.java:493)\n</pre><p><b>Root Cause</b></p><pre>java.lang.NullPointerException\n\torg.apache.jsp.crash_jsp._jspService(crash_jsp.java:130)\n\torg.apache.jasper.runtime.HttpJspBase.service(HttpJspBase.java:67)\n</pre></body></html>";
    let srv = server(&pki, move |r: &Req| {
        if r.path == "/crash.jsp" {
            Resp::new(500).html(body)
        } else {
            Resp::new(404).body("not found")
        }
    })
    .await;
    let t = target(&srv.url("https", "/crash.jsp"), pki.client(), None);
    let v = verdict(&t, "error_disclosure").await;
    let got = ids(&v);
    assert!(
        got.contains(&"tomcat_error") && got.contains(&"java_stacktrace"),
        "{:#?}",
        v.findings
    );
}

/// After a start (or a reload that changed the target's URL), the response that carries a
/// stack trace may belong to a probe that has not run yet: until every probe whose responses
/// the check reads has run, finding nothing is `error (cycle_incomplete)`, never a pass that
/// would make the always-failing check look regressed once the trace is read again.
#[tokio::test]
async fn nothing_found_on_part_of_the_cycle_is_not_a_pass() {
    use probes::probe::ProbeKind;
    use prodprobe::scheduler::execute;

    use crate::support::{job_of, scheduled_target};

    let trace = "Traceback (most recent call last):\n  File \"/srv/app/health.py\", line 3, in check\n    db.ping()\nConnectionError: refused\n";
    let pki = Pki::new();
    let srv = TestServer::https(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&["127.0.0.1"])),
        move |r: &Req| match r.path.as_str() {
            "/" => Resp::new(200).html("<h1>shop</h1>"),
            "/health" => Resp::new(200).body(trace),
            _ => Resp::new(404).body("not found"),
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let ca = pki.write_ca(dir.path());
    let cfg = crate::support::write(
        dir.path(),
        "prodprobe.yaml",
        &format!(
            "defaults:\n  ca_file: {}\ntargets:\n  - name: t\n    url: https://{}/\n    checks: [error_disclosure, health]\n    health: {{ url: /health }}\n",
            ca.display(),
            srv.addr
        ),
    );
    let (rt, jobs, runner) = scheduled_target(&cfg);
    let job = |k: ProbeKind| job_of(&jobs, k);
    let disclosure = |verdicts: &[(probes::verdict::Verdict, std::time::Duration)]| {
        verdicts
            .iter()
            .find(|(v, _)| v.check == "error_disclosure")
            .map(|(v, _)| v.clone())
    };

    execute(&runner, &rt, job(ProbeKind::UnknownPath)).await;
    let (_, verdicts) = execute(&runner, &rt, job(ProbeKind::Fetch)).await;
    let v = disclosure(&verdicts).expect("both inputs have run");
    assert_eq!(
        (v.status, v.reason),
        (Status::Error, Some("cycle_incomplete")),
        "health, which carries the trace, has not run: {v:?}"
    );
    let (_, verdicts) = execute(&runner, &rt, job(ProbeKind::Health)).await;
    let v = disclosure(&verdicts).unwrap();
    assert_eq!(v.status, Status::Fail, "{v:?}");
    assert!(ids(&v).contains(&"python_traceback"), "{:#?}", v.findings);
}

/// An unknown-path run cut short by a limiter (429 with Retry-After) is judged on what the
/// cycle showed, as cors is: a debugger page on the target URL stays critical instead of the
/// check turning `error`; with nothing found, the cut-short run is `error (rate_limited)`.
#[tokio::test]
async fn a_limited_unknown_path_run_does_not_hide_a_disclosure() {
    let pki = Pki::new();
    for (page, expected) in [
        (
            "<title>KeyError // Werkzeug Debugger</title>",
            Ok("werkzeug_debugger"),
        ),
        ("<h1>shop</h1>", Err("rate_limited")),
    ] {
        let srv = server(&pki, move |r: &Req| match r.path.as_str() {
            "/" => Resp::new(200).html(page),
            _ => Resp::new(429).header("Retry-After", "30"),
        })
        .await;
        let t = target(&srv.url("https", "/"), pki.client(), None);
        let v = verdict(&t, "error_disclosure").await;
        match expected {
            Ok(id) => {
                assert_eq!((v.status, ids(&v)), (Status::Fail, vec![id]), "{v:#?}");
                assert_eq!(v.findings[0].severity, Severity::Critical);
            }
            Err(reason) => assert_eq!((v.status, v.reason), (Status::Error, Some(reason))),
        }
    }
}
