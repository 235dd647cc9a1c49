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
        ("/powered", page().header("X-Powered-By", "Express")),
        ("/aspnet", page().header("X-AspNet-Version", "4.0.30319")),
        ("/aspnet-mvc", page().header("X-AspNetMvc-Version", "5.2")),
        ("/other", page().header("X-Generator", "WordPress 6.4.2")),
        ("/other-no-version", page().header("X-Generator", "WordPress")),
        ("/backend", page().header("X-Backend-Server", "app-7/2.1")),
        ("/debug", page().header("X-Debug-Token", "a1b2c3")),
        ("/debug-link", page().header("X-Debug-Token-Link", "/_profiler/a1b2c3")),
        ("/via", page().header("Via", "1.1 proxy.internal (squid/5.7)")),
        ("/via-plain", page().header("Via", "1.1 varnish, 1.1 vegur")),
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
        ("/powered", &["x_powered_by"], Status::Fail),
        ("/aspnet", &["aspnet_version"], Status::Fail),
        ("/aspnet-mvc", &["aspnet_version"], Status::Fail),
        ("/other", &["other_version_header"], Status::Fail),
        ("/other-no-version", &[], Status::Pass),
        ("/backend", &["other_version_header"], Status::Fail),
        ("/debug", &["debug_token"], Status::Fail),
        ("/debug-link", &["debug_token"], Status::Fail),
        ("/via", &["via_version"], Status::Pass),
        ("/via-plain", &[], Status::Pass),
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
