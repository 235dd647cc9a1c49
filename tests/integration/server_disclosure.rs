//! `server_disclosure` (CHECKS.md §15): every finding id from real server responses.

use probes::verdict::Status;

use crate::support::web::Web;
use crate::support::{Resp, ids, target, verdict};

fn page() -> Resp {
    Resp::new(200).html("<p>x</p>")
}

async fn web() -> Web {
    let a = vec![
        ("/", page()),
        ("/clean", page()),
        ("/server-version", page().header("Server", "nginx/1.25.3")),
        ("/server-banner", page().header("Server", "nginx")),
        ("/cdn", page().header("Server", "cloudflare")),
        ("/alb", page().header("Server", "awselb/2.0")),
        (
            "/app-gateway",
            page().header("Server", "Microsoft-Azure-Application-Gateway/v2"),
        ),
        ("/edgecast", page().header("Server", "ECS (dcb/7F83)")),
        ("/powered", page().header("X-Powered-By", "Express")),
        ("/aspnet", page().header("X-AspNet-Version", "4.0.30319")),
        ("/aspnet-mvc", page().header("X-AspNetMvc-Version", "5.2")),
        ("/other", page().header("X-Generator", "WordPress 6.4.2")),
        ("/other-no-version", page().header("X-Generator", "WordPress")),
        ("/backend", page().header("X-Backend-Server", "app-7/2.1")),
        (
            "/dynatrace",
            page().header("X-dtInjectedServlet", "dtagent/1.281.105"),
        ),
        (
            "/envoy",
            page()
                .header("X-Envoy-External-Address", "10.1.2.3")
                .header("X-Envoy-Upstream-Service-Time", "12"),
        ),
        ("/debug", page().header("X-Debug-Token", "a1b2c3")),
        ("/debug-link", page().header("X-Debug-Token-Link", "/_profiler/a1b2c3")),
        ("/via", page().header("Via", "1.1 proxy.internal (squid/5.7)")),
        ("/via-plain", page().header("Via", "1.1 varnish, 1.1 vegur")),
        ("/via-kong", page().header("Via", "kong/2.8.1")),
        ("/via-ip", page().header("Via", "1.1 10.0.4.17, 1.1 [2001:db8::7]:8080")),
        (
            "/generator",
            Resp::new(200).html(r#"<html><head><meta name="generator" content="WordPress 6.4.2"></head><body>x</body></html>"#),
        ),
        (
            "/generator-plain",
            Resp::new(200).html(r#"<html><head><meta name="generator" content="Hugo"></head><body>x</body></html>"#),
        ),
    ];
    Web::start(a, vec![], vec![], vec![]).await
}

#[tokio::test]
async fn every_finding_from_real_responses() {
    let web = web().await;
    let cases: &[(&str, &[&str], Status)] = &[
        ("/clean", &[], Status::Pass),
        ("/server-version", &["server_version"], Status::Fail),
        ("/server-banner", &["server_banner"], Status::Pass),
        // A CDN banner without a version is on the default allow-list.
        ("/cdn", &[], Status::Pass),
        // Infrastructure banners whose digits are no software version (ALB, Application
        // Gateway, Edgecast POP code) are on the same allow-list.
        ("/alb", &[], Status::Pass),
        ("/app-gateway", &[], Status::Pass),
        ("/edgecast", &[], Status::Pass),
        ("/powered", &["x_powered_by"], Status::Fail),
        ("/aspnet", &["aspnet_version"], Status::Fail),
        ("/aspnet-mvc", &["aspnet_version"], Status::Fail),
        ("/other", &["other_version_header"], Status::Fail),
        ("/other-no-version", &[], Status::Pass),
        ("/backend", &["other_version_header"], Status::Fail),
        // OWASP's remove list; an address or a duration names no version.
        ("/dynatrace", &["other_version_header"], Status::Fail),
        ("/envoy", &[], Status::Pass),
        ("/debug", &["debug_token"], Status::Fail),
        ("/debug-link", &["debug_token"], Status::Fail),
        ("/via", &["via_version"], Status::Pass),
        ("/via-plain", &[], Status::Pass),
        // Kong's element has no protocol token: its only token is the product.
        ("/via-kong", &["via_version"], Status::Pass),
        // An IP-literal received-by is no version.
        ("/via-ip", &[], Status::Pass),
        ("/generator", &["meta_generator"], Status::Pass),
        ("/generator-plain", &[], Status::Pass),
    ];
    for (path, expected, status) in cases {
        let t = target(&web.a(path), web.pki.client(), None);
        let v = verdict(&t, "server_disclosure").await;
        assert_eq!(ids(&v), *expected, "case {path}: {:#?}", v.findings);
        assert_eq!(v.status, *status, "case {path}");
    }
}

#[tokio::test]
async fn every_response_of_the_cycle_is_read_and_gauges_follow() {
    // The target page is clean; the root and robots.txt (both fetched in the same run) leak.
    let a = vec![
        ("/", page().header("Server", "Apache/2.4.57 (Debian)")),
        (
            "/robots.txt",
            Resp::new(200).header("X-Powered-By", "PHP/8.2.1").body(""),
        ),
        ("/page", page().header("Server", "gunicorn")),
    ];
    let web = Web::start(a, vec![], vec![], vec![]).await;
    let v = verdict(
        &target(&web.a("/page"), web.pki.client(), None),
        "server_disclosure",
    )
    .await;
    let mut got = ids(&v);
    got.sort_unstable();
    assert_eq!(got, ["server_banner", "server_version", "x_powered_by"]);
    let version = v
        .findings
        .iter()
        .find(|f| f.id == "server_version")
        .unwrap();
    assert!(
        version
            .evidence
            .starts_with("Server: Apache/2.4.57 (Debian) (GET https://"),
        "{}",
        version.evidence
    );
    let m = |name: &str| {
        v.measurements
            .iter()
            .find(|m| m.gauge.name == name)
            .unwrap()
    };
    assert_eq!(m("server_disclosure_headers").value, 2.0);
    assert_eq!(m("server_header_has_version").value, 1.0);
    let banner = m("server_banner_info");
    assert_eq!(banner.labels, ["gunicorn"]);
    assert_eq!(banner.value, 1.0);
}

/// Evidence names the request that drew the response: Verdaccio's CORS preflight answers
/// `X-Powered-By: Express` where its pages say `hidden`, and a preflight that crashes shows its
/// trace; "GET" would send the reader to the wrong request.
#[tokio::test]
async fn evidence_names_the_method_of_the_request_that_disclosed() {
    let pki = crate::support::Pki::new();
    let srv = crate::support::TestServer::https(
        "127.0.0.1",
        pki.server_config(&crate::support::Leaf::valid(&["127.0.0.1"])),
        |r: &crate::support::Req| {
            if r.method == "OPTIONS" {
                Resp::new(500).header("X-Powered-By", "Express").body(
                    "TypeError: Cannot read properties of undefined (reading 'x')\n    at handler (/srv/app/index.js:3:17)\n    at Layer.handle (/srv/app/node_modules/router/lib/layer.js:152:17)\n    at next (/srv/app/node_modules/router/lib/route.js:157:13)\n",
                )
            } else {
                page()
            }
        },
    )
    .await;
    let t = target(&srv.url("https", "/"), pki.client(), None);
    let (_, verdicts) = crate::support::evaluate(&t).await;
    let finding = |check: &str, id: &str| {
        verdicts
            .iter()
            .find(|v| v.check == check)
            .and_then(|v| v.findings.iter().find(|f| f.id == id))
            .unwrap_or_else(|| panic!("{check}/{id}: {verdicts:#?}"))
            .evidence
            .clone()
    };
    let powered = finding("server_disclosure", "x_powered_by");
    assert!(
        powered.starts_with("X-Powered-By: Express (OPTIONS https://"),
        "{powered}"
    );
    let trace = finding("error_disclosure", "node_stacktrace");
    assert!(trace.starts_with("OPTIONS https://"), "{trace}");
}

#[tokio::test]
async fn long_server_banners_are_bounded_in_labels_and_evidence() {
    let long = format!("Custom/1.0 {}", "x".repeat(5000));
    let a = vec![("/", page().header("Server", &long))];
    let web = Web::start(a, vec![], vec![], vec![]).await;
    let v = verdict(
        &target(&web.a("/"), web.pki.client(), None),
        "server_disclosure",
    )
    .await;
    assert_eq!(ids(&v), ["server_version"]);
    assert!(v.findings[0].evidence.len() <= 1024);
    let banner = v
        .measurements
        .iter()
        .find(|m| m.gauge.name == "server_banner_info")
        .unwrap();
    assert_eq!(banner.labels[0].len(), 64);
}

/// CHECKS.md §0.1: server_disclosure and error_disclosure judge every response of the cycle, and
/// a check is re-evaluated whenever a probe it reads runs. Through the scheduler's own path, in
/// the order that used to lose evidence: health runs after fetch and after unknown_path, so its
/// headers and body count only if that run re-evaluates them. Before any of their own inputs
/// ran, a health run evaluates neither.
#[tokio::test(flavor = "multi_thread")]
async fn responses_of_a_probe_that_finishes_last_are_judged_too() {
    use probes::probe::ProbeKind;
    use prodprobe::scheduler::execute;

    use crate::support::{job_of, scheduled_target};

    let healthz = Resp::new(200)
        .header("Content-Type", "application/json")
        .header("X-Powered-By", "PHP/8.1.2")
        .body(
            "{\"status\":\"ok\",\"debug\":\"Traceback (most recent call last):\\n  File \\\"/srv/app/x.py\\\", line 3, in f\\n    boom()\\nZeroDivisionError: division by zero\"}",
        );
    let web = Web::serving(vec![("/", page()), ("/healthz", healthz)]).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = web.pki.write_ca(dir.path());
    let cfg = crate::support::write(
        dir.path(),
        "prodprobe.yaml",
        &format!(
            "defaults:\n  ca_file: {}\ntargets:\n  - name: t\n    url: https://{}/\n    checks: [server_disclosure, error_disclosure, health]\n    health: {{ url: /healthz }}\n",
            ca.display(),
            web.a.addr
        ),
    );
    let (rt, jobs, runner) = scheduled_target(&cfg);
    let job = |k: ProbeKind| job_of(&jobs, k);

    // Health first: neither disclosure check has its own evidence yet.
    let (_, verdicts) = execute(&runner, &rt, job(ProbeKind::Health)).await;
    let checks: Vec<&str> = verdicts.iter().map(|(v, _)| v.check).collect();
    assert_eq!(checks, ["health"]);

    // Then fetch and unknown_path, then health again, last.
    execute(&runner, &rt, job(ProbeKind::Fetch)).await;
    execute(&runner, &rt, job(ProbeKind::UnknownPath)).await;
    let (_, verdicts) = execute(&runner, &rt, job(ProbeKind::Health)).await;
    let mut checks: Vec<&str> = verdicts.iter().map(|(v, _)| v.check).collect();
    checks.sort_unstable();
    assert_eq!(checks, ["error_disclosure", "health", "server_disclosure"]);

    let (_, verdicts) = rt.snapshot();
    let by = |id: &str| verdicts.iter().find(|v| v.check == id).unwrap().clone();
    let sd = by("server_disclosure");
    assert_eq!(ids(&sd), ["x_powered_by"], "{:#?}", sd.findings);
    assert!(
        sd.findings[0].evidence.contains("/healthz"),
        "{}",
        sd.findings[0].evidence
    );
    let ed = by("error_disclosure");
    assert!(ids(&ed).contains(&"python_traceback"), "{:#?}", ed.findings);
}
