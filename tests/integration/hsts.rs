//! `hsts` (CHECKS.md §2): every finding id from real server responses.

use std::sync::Arc;

use probes::preload::PreloadList;
use probes::verdict::{Severity, Status};

use crate::support::web::Web;
use crate::support::{Resp, assert_case, gauge, ids, target, verdict};

const GOOD: &str = "max-age=31536000; includeSubDomains";

/// `max-age=…; includeSubDomains` and 60 unknown directives `x-directive-NN=…`.
fn many_unknown() -> String {
    let mut v = GOOD.to_owned();
    for i in 0..60 {
        v.push_str(&format!("; x-directive-{i:02}=value"));
    }
    v
}

fn sts(v: &str) -> Resp {
    Resp::new(200)
        .header("Strict-Transport-Security", v)
        .html("<p>ok</p>")
}

async fn web() -> Web {
    let a = vec![
        ("/", sts(GOOD)),
        ("/good", sts(GOOD)),
        ("/missing", Resp::new(200).html("<p>no hsts</p>")),
        ("/multiple", sts(GOOD).header("Strict-Transport-Security", "max-age=0")),
        ("/duplicate", sts(GOOD).header("Strict-Transport-Security", GOOD)),
        ("/comma", sts("max-age=31536000, includeSubDomains")),
        ("/quoted-whole", sts("\"max-age=31536000; includeSubDomains\"")),
        ("/curly", sts("max-age=“31536000”; includeSubDomains")),
        ("/twice", sts("max-age=1; max-age=31536000; includeSubDomains")),
        ("/no-max-age", sts("includeSubDomains")),
        ("/not-digits", sts("max-age=1y; includeSubDomains")),
        ("/unknown", sts("max-age=31536000; includeSubDomains; foo=bar")),
        ("/unknown-many", sts(&many_unknown())),
        ("/with-value", sts("max-age=31536000; includeSubDomains; preload=yes")),
        ("/empty", sts("max-age=31536000;; includeSubDomains")),
        ("/zero", sts("max-age=0; includeSubDomains")),
        ("/short", sts("max-age=86400; includeSubDomains")),
        ("/below", sts("max-age=20000000; includeSubDomains")),
        ("/no-subdomains", sts("max-age=31536000")),
        ("/preload", sts("max-age=31536000; includeSubDomains; preload")),
        ("/quoted-age", sts("Max-Age = \"031536000\" ; INCLUDESUBDOMAINS")),
        ("/on-redirect", Resp::redirect(301, "/good").header("Strict-Transport-Security", GOOD)),
        (
            "/meta",
            sts(GOOD).html(r#"<html><head><meta http-equiv="Strict-Transport-Security" content="max-age=31536000"></head><body>x</body></html>"#),
        ),
    ];
    let h = vec![(
        "/sts",
        Resp::new(200)
            .header("Strict-Transport-Security", GOOD)
            .body("plain"),
    )];
    let c = vec![("/", sts(GOOD))];
    Web::start(a, vec![], c, h).await
}

#[tokio::test]
async fn every_header_finding_from_real_responses() {
    let web = web().await;
    let cases: &[(&str, &[&str], Status)] = &[
        ("/good", &[], Status::Pass),
        ("/missing", &["missing"], Status::Fail),
        ("/multiple", &["multiple_headers"], Status::Fail),
        ("/duplicate", &["duplicate_identical"], Status::Pass),
        ("/comma", &["invalid_syntax"], Status::Fail),
        ("/quoted-whole", &["invalid_syntax"], Status::Fail),
        ("/curly", &["invalid_syntax"], Status::Fail),
        ("/twice", &["invalid_syntax"], Status::Fail),
        ("/no-max-age", &["max_age_missing"], Status::Fail),
        ("/not-digits", &["invalid_syntax"], Status::Fail),
        ("/unknown", &["unknown_directive"], Status::Pass),
        // One finding for every unknown directive of a 1.2 KiB line, not one per directive.
        ("/unknown-many", &["unknown_directive"], Status::Pass),
        ("/with-value", &["directive_with_value"], Status::Pass),
        ("/empty", &["empty_directive"], Status::Pass),
        (
            "/zero",
            &["max_age_zero", "below_recommended"],
            Status::Fail,
        ),
        (
            "/short",
            &["max_age_too_short", "below_recommended"],
            Status::Fail,
        ),
        ("/below", &["below_recommended"], Status::Pass),
        ("/no-subdomains", &["no_include_subdomains"], Status::Pass),
        // An IP literal is never a registrable domain, so preload requirements are unmet.
        ("/preload", &["preload_not_eligible"], Status::Pass),
        ("/quoted-age", &[], Status::Pass),
        // hstspreload: a redirecting HTTPS response must itself carry HSTS; it does.
        ("/on-redirect", &[], Status::Pass),
        ("/meta", &["meta_ignored"], Status::Pass),
    ];
    for (path, expected, status) in cases {
        let t = target(&web.a(path), web.pki.client(), None);
        let v = verdict(&t, "hsts").await;
        assert_case(&v, path, expected, *status);
    }
}

#[tokio::test]
async fn sent_over_http_is_info() {
    let web = web().await;
    let t = target(&web.a("/good"), web.pki.client(), Some(&web.h("/sts")));
    let v = verdict(&t, "hsts").await;
    assert_eq!(ids(&v), ["sent_over_http"]);
    assert_eq!(v.status, Status::Pass);
}

#[tokio::test]
async fn preconditions_https_unavailable_and_invalid_cert() {
    let web = web().await;
    let closed = format!("https://127.0.0.1:{}/", web.closed);
    let v = verdict(&target(&closed, web.pki.client(), None), "hsts").await;
    assert_eq!(ids(&v), ["https_unavailable"]);
    assert_eq!(v.findings[0].severity, Severity::High);

    // A plain-HTTP target that sends the header anyway: browsers ignore it there.
    let v = verdict(&target(&web.h("/sts"), web.pki.client(), None), "hsts").await;
    assert_eq!(ids(&v), ["https_unavailable", "sent_over_http"]);

    let untrusted = web.c.url("https", "/");
    let v = verdict(&target(&untrusted, web.pki.client(), None), "hsts").await;
    assert_eq!(ids(&v), ["invalid_cert"]);
    assert!(
        v.findings[0].evidence.contains("unknown_issuer"),
        "{}",
        v.findings[0].evidence
    );
    assert_eq!(v.status, Status::Fail);
}

#[tokio::test]
async fn the_worse_of_path_and_root_wins() {
    // Root (/) is good, the target path lacks the header: R1 of the path is judged too.
    let web = web().await;
    let v = verdict(&target(&web.a("/missing"), web.pki.client(), None), "hsts").await;
    assert_eq!(ids(&v), ["missing"]);
}

#[tokio::test]
async fn preloaded_host_passes_with_everything_info() {
    let web = web().await;
    let mut t = target(&web.a("/short"), web.pki.client(), None);
    t.options.preload = Some(Arc::new(PreloadList::from_entries([(
        "127.0.0.1".to_owned(),
        true,
    )])));
    let v = verdict(&t, "hsts").await;
    assert_eq!(v.status, Status::Pass);
    assert!(v.findings.iter().all(|f| f.severity == Severity::Info));
    let preloaded = v
        .measurements
        .iter()
        .find(|m| m.gauge.name == "hsts_preloaded")
        .unwrap();
    assert_eq!(preloaded.value, 1.0);
}

#[tokio::test]
async fn evidence_gauges_reflect_the_header() {
    let web = web().await;
    let v = verdict(&target(&web.a("/preload"), web.pki.client(), None), "hsts").await;
    let m = |name: &str| gauge(&v, name);
    assert_eq!(m("hsts_max_age_seconds"), 31_536_000.0);
    assert_eq!(m("hsts_include_subdomains"), 1.0);
    assert_eq!(m("hsts_preload_directive"), 1.0);
    assert_eq!(m("hsts_preload_ready"), 0.0);
    assert_eq!(m("hsts_header_lines"), 1.0);
    let v = verdict(&target(&web.a("/missing"), web.pki.client(), None), "hsts").await;
    let m = |name: &str| gauge(&v, name);
    assert_eq!(m("hsts_max_age_seconds"), -1.0);
    assert_eq!(m("hsts_header_lines"), 0.0);
}

#[tokio::test]
async fn custom_thresholds_apply() {
    let web = web().await;
    let mut t = target(&web.a("/short"), web.pki.client(), None);
    t.options.hsts.min_max_age = 3600;
    t.options.hsts.recommended_max_age = 3600;
    let v = verdict(&t, "hsts").await;
    assert!(v.findings.is_empty(), "{:?}", v.findings);
}

#[tokio::test]
async fn a_preloaded_host_passes_even_when_a_precondition_fails() {
    let web = web().await;
    let closed = format!("https://127.0.0.1:{}/", web.closed);
    let cases: [(String, &[&str]); 3] = [
        (web.c.url("https", "/"), &["invalid_cert"]),
        (closed, &["https_unavailable"]),
        (web.h("/sts"), &["https_unavailable", "sent_over_http"]),
    ];
    for (url, expected) in cases {
        let mut t = target(&url, web.pki.client(), None);
        t.options.preload = Some(Arc::new(PreloadList::from_entries([(
            "127.0.0.1".to_owned(),
            true,
        )])));
        let v = verdict(&t, "hsts").await;
        assert_eq!(ids(&v), expected, "{url}");
        assert!(
            v.findings.iter().all(|f| f.severity == Severity::Info),
            "{url}: {:?}",
            v.findings
        );
        assert_eq!(v.status, Status::Pass, "{url}");
    }
}

/// CHECKS.md §2: R1 is the first response of `GET https://host/`; a target path that answers
/// does not make up for a root that does not.
#[tokio::test]
async fn a_root_that_does_not_answer_is_https_unavailable() {
    let pki = crate::support::Pki::new();
    let srv = crate::support::TestServer::https(
        "127.0.0.1",
        pki.server_config(&crate::support::Leaf::valid(&["127.0.0.1"])),
        |r: &crate::support::Req| match r.path.as_str() {
            "/" => Resp {
                raw: Some(b"garbage, not HTTP\r\n\r\n".to_vec()),
                ..Resp::default()
            },
            _ => sts(GOOD),
        },
    )
    .await;
    let v = verdict(
        &target(&srv.url("https", "/app"), pki.client(), None),
        "hsts",
    )
    .await;
    assert_eq!(ids(&v), ["https_unavailable"], "{:?}", v.findings);
    assert!(
        v.findings[0]
            .evidence
            .starts_with(&format!("GET https://{}/:", srv.addr)),
        "{}",
        v.findings[0].evidence
    );
}

/// hstspreload asks for the HTTP→HTTPS redirect only "if you are listening on port 80": an
/// apex that serves no plain HTTP at all is ready with the right header.
#[tokio::test]
async fn preload_ready_without_plain_http() {
    let pki = crate::support::Pki::new();
    let srv = crate::support::TestServer::https(
        "127.0.0.1",
        pki.server_config(&crate::support::Leaf::valid(&["example.com"])),
        |_: &crate::support::Req| sts("max-age=63072000; includeSubDomains; preload"),
    )
    .await;
    let closed = crate::support::closed_port("127.0.0.1").await;
    let mut t = target(
        &format!("https://example.com:{}/", srv.addr.port()),
        pki.client(),
        Some(&format!("http://example.com:{closed}/")),
    );
    t.resolve = Some(std::net::IpAddr::from([127, 0, 0, 1]));
    let v = verdict(&t, "hsts").await;
    assert!(v.findings.is_empty(), "{:?}", v.findings);
    assert_eq!(gauge(&v, "hsts_preload_ready"), 1.0);
}
