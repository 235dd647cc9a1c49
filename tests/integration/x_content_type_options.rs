//! `x_content_type_options` (CHECKS.md §5): every finding id from real server responses.

use probes::verdict::{Severity, Status};

use crate::support::web::Web;
use crate::support::{Resp, ids, target, verdict};

fn xcto(v: &str) -> Resp {
    Resp::new(200)
        .header("X-Content-Type-Options", v)
        .html("<p>x</p>")
}

async fn web() -> Web {
    let a = vec![
        ("/", xcto("nosniff")),
        ("/nosniff", xcto("nosniff")),
        ("/upper", xcto("NoSniff")),
        ("/twice", xcto("nosniff, nosniff")),
        ("/two-lines", xcto("nosniff").header("X-Content-Type-Options", "foo")),
        ("/missing", Resp::new(200).html("<p>x</p>")),
        ("/semicolon", xcto("nosniff;")),
        ("/quoted", xcto("\"nosniff\"")),
        ("/other-first", xcto("foo, nosniff")),
        (
            "/meta",
            Resp::new(200).html(r#"<html><head><meta http-equiv="X-Content-Type-Options" content="nosniff"></head></html>"#),
        ),
    ];
    Web::start(a, vec![], vec![], vec![]).await
}

#[tokio::test]
async fn every_finding_from_real_responses() {
    let web = web().await;
    let cases: &[(&str, &[&str], Status)] = &[
        ("/nosniff", &[], Status::Pass),
        ("/upper", &[], Status::Pass),
        // Deviation from the Observatory (CHECKS.md §5): duplicate values pass.
        ("/twice", &[], Status::Pass),
        ("/two-lines", &[], Status::Pass),
        ("/missing", &["missing"], Status::Fail),
        ("/semicolon", &["invalid"], Status::Fail),
        ("/quoted", &["invalid"], Status::Fail),
        ("/other-first", &["invalid"], Status::Fail),
        // <meta> is ignored.
        ("/meta", &["missing"], Status::Fail),
    ];
    for (path, expected, status) in cases {
        let t = target(&web.a(path), web.pki.client(), None);
        let v = verdict(&t, "x_content_type_options").await;
        assert_eq!(ids(&v), *expected, "case {path}: {:#?}", v.findings);
        assert_eq!(v.status, *status, "case {path}");
        for f in &v.findings {
            assert_eq!(f.severity, Severity::Low);
        }
    }
}

#[tokio::test]
async fn gauges_count_other_2xx_responses_without_nosniff() {
    let web = web().await;
    // The root (/) answers with nosniff; robots.txt is a 404: nothing else to count.
    let v = verdict(
        &target(&web.a("/nosniff"), web.pki.client(), None),
        "x_content_type_options",
    )
    .await;
    let m = |v: &probes::verdict::Verdict, name: &str| {
        v.measurements
            .iter()
            .find(|m| m.gauge.name == name)
            .unwrap()
            .value
    };
    assert_eq!(m(&v, "xcto_nosniff"), 1.0);
    assert_eq!(m(&v, "xcto_missing_responses"), 0.0);
    let v = verdict(
        &target(&web.a("/missing"), web.pki.client(), None),
        "x_content_type_options",
    )
    .await;
    assert_eq!(m(&v, "xcto_nosniff"), 0.0);
    assert_eq!(m(&v, "xcto_missing_responses"), 0.0);
    assert!(v.findings[0].evidence.contains("no X-Content-Type-Options"));
}

#[tokio::test]
async fn other_2xx_responses_without_nosniff_are_counted() {
    let a = vec![
        ("/", Resp::new(200).html("<p>root without</p>")),
        ("/robots.txt", Resp::new(200).body("User-agent: *\n")),
        ("/page", xcto("nosniff")),
    ];
    let web = Web::start(a, vec![], vec![], vec![]).await;
    let v = verdict(
        &target(&web.a("/page"), web.pki.client(), None),
        "x_content_type_options",
    )
    .await;
    let missing = v
        .measurements
        .iter()
        .find(|m| m.gauge.name == "xcto_missing_responses")
        .unwrap();
    assert_eq!(missing.value, 2.0, "the root and robots.txt lack it");
    assert_eq!(v.status, Status::Pass);
}

/// A plain-HTTP target's main chain is also its HTTP chain: its responses count once.
#[tokio::test]
async fn a_plain_http_target_counts_each_response_once() {
    let srv = crate::support::TestServer::http("127.0.0.1", |_: &crate::support::Req| {
        Resp::new(200).html("<p>intranet</p>")
    })
    .await;
    let v = verdict(
        &target(
            &srv.url("http", "/"),
            crate::support::Pki::new().client(),
            None,
        ),
        "x_content_type_options",
    )
    .await;
    let missing = v
        .measurements
        .iter()
        .find(|m| m.gauge.name == "xcto_missing_responses")
        .unwrap();
    // The judged page itself is not counted; robots.txt (the same 200 page) is.
    assert_eq!(missing.value, 1.0, "{:?}", srv.requests());
}
