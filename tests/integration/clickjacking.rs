//! `clickjacking` (CHECKS.md §4): every finding id from real server responses.

use probes::verdict::{Severity, Status};

use crate::support::web::Web;
use crate::support::{Resp, ids, target, verdict};

fn page() -> Resp {
    Resp::new(200).html("<p>x</p>")
}

fn xfo(v: &str) -> Resp {
    page().header("X-Frame-Options", v)
}

async fn web() -> Web {
    let a = vec![
        ("/fa-self", page().header("Content-Security-Policy", "frame-ancestors 'self'")),
        (
            "/fa-permissive",
            page().header("Content-Security-Policy", "frame-ancestors 'self' https:"),
        ),
        ("/missing", page()),
        ("/deny", xfo("DENY")),
        ("/deny-sameorigin", xfo("DENY, SAMEORIGIN")),
        ("/sameorigin-twice", xfo("sameorigin").header("X-Frame-Options", "SAMEORIGIN")),
        ("/deny-lines", xfo("deny").header("X-Frame-Options", "sameorigin")),
        ("/invalid", xfo("foo")),
        ("/empty", xfo("")),
        ("/quoted", xfo("\"DENY\"")),
        ("/allowall", xfo("ALLOWALL")),
        ("/allow-from", xfo("ALLOW-FROM https://a.example/")),
        (
            "/overridden",
            xfo("ALLOWALL").header("Content-Security-Policy", "frame-ancestors 'none'"),
        ),
        (
            "/meta",
            xfo("DENY").html(r#"<html><head><meta http-equiv="X-Frame-Options" content="DENY"></head><body>x</body></html>"#),
        ),
        (
            "/report-only-fa",
            page().header("Content-Security-Policy-Report-Only", "frame-ancestors 'none'"),
        ),
        (
            "/meta-fa",
            Resp::new(200).html(r#"<html><head><meta http-equiv="Content-Security-Policy" content="frame-ancestors 'none'; default-src 'self'"></head><body>x</body></html>"#),
        ),
        (
            "/api",
            Resp::new(200)
                .header("Content-Type", "application/json")
                .body("{}"),
        ),
        // No Content-Type at all: browsers sniff the page as HTML and render it.
        ("/no-type", Resp::new(200).body("<!doctype html><p>x</p>")),
    ];
    Web::start(a, vec![], vec![], vec![]).await
}

#[tokio::test]
async fn every_finding_from_real_responses() {
    let web = web().await;
    let cases: &[(&str, &[&str], Status)] = &[
        ("/fa-self", &[], Status::Pass),
        (
            "/fa-permissive",
            &["frame_ancestors_permissive"],
            Status::Fail,
        ),
        ("/missing", &["missing"], Status::Fail),
        ("/deny", &[], Status::Pass),
        // Browsers block framing on conflicting values.
        (
            "/deny-sameorigin",
            &["xfo_conflicting_values"],
            Status::Pass,
        ),
        ("/deny-lines", &["xfo_conflicting_values"], Status::Pass),
        ("/sameorigin-twice", &[], Status::Pass),
        ("/invalid", &["xfo_invalid"], Status::Fail),
        ("/empty", &["xfo_invalid"], Status::Fail),
        ("/quoted", &["xfo_invalid"], Status::Fail),
        ("/allowall", &["xfo_allowall"], Status::Fail),
        ("/allow-from", &["xfo_allow_from_obsolete"], Status::Fail),
        // frame-ancestors wins over X-Frame-Options.
        ("/overridden", &["xfo_overridden_by_csp"], Status::Pass),
        ("/meta", &["xfo_meta_ignored"], Status::Pass),
        // frame-ancestors in Report-Only or <meta> never counts.
        ("/report-only-fa", &["missing"], Status::Fail),
        ("/meta-fa", &["missing"], Status::Fail),
        // Not capped at info: not known to be anything but a page.
        ("/no-type", &["missing"], Status::Fail),
    ];
    for (path, expected, status) in cases {
        let t = target(&web.a(path), web.pki.client(), None);
        let v = verdict(&t, "clickjacking").await;
        let mut got = ids(&v);
        got.sort_unstable();
        let mut want = expected.to_vec();
        want.sort_unstable();
        assert_eq!(got, want, "case {path}: {:#?}", v.findings);
        assert_eq!(v.status, *status, "case {path}: {:#?}", v.findings);
    }
}

#[tokio::test]
async fn evidence_and_gauges() {
    let web = web().await;
    let v = verdict(
        &target(&web.a("/allow-from"), web.pki.client(), None),
        "clickjacking",
    )
    .await;
    assert_eq!(v.findings[0].severity, Severity::Medium);
    assert!(
        v.findings[0]
            .evidence
            .starts_with("X-Frame-Options: ALLOW-FROM https://a.example/"),
        "{}",
        v.findings[0].evidence
    );
    let gauges = |v: &probes::verdict::Verdict| -> Vec<(String, f64)> {
        v.measurements
            .iter()
            .map(|m| (m.gauge.name.to_owned(), m.value))
            .collect()
    };
    let v = verdict(
        &target(&web.a("/fa-self"), web.pki.client(), None),
        "clickjacking",
    )
    .await;
    assert_eq!(
        gauges(&v),
        [
            ("clickjacking_protected".to_owned(), 1.0),
            ("clickjacking_via_csp".to_owned(), 1.0),
            ("clickjacking_via_xfo".to_owned(), 0.0)
        ]
    );
    let v = verdict(
        &target(&web.a("/deny"), web.pki.client(), None),
        "clickjacking",
    )
    .await;
    assert_eq!(
        gauges(&v),
        [
            ("clickjacking_protected".to_owned(), 1.0),
            ("clickjacking_via_csp".to_owned(), 0.0),
            ("clickjacking_via_xfo".to_owned(), 1.0)
        ]
    );
}

#[tokio::test]
async fn non_html_responses_are_capped_at_info() {
    let web = web().await;
    let v = verdict(
        &target(&web.a("/api"), web.pki.client(), None),
        "clickjacking",
    )
    .await;
    assert_eq!(ids(&v), ["missing"]);
    assert_eq!(v.findings[0].severity, Severity::Info);
    assert_eq!(v.status, Status::Pass);
}

#[tokio::test]
async fn an_invalid_certificate_skips_the_check() {
    let web = web().await;
    let v = verdict(
        &target(&web.c.url("https", "/"), web.pki.client(), None),
        "clickjacking",
    )
    .await;
    assert_eq!(v.status, Status::Skipped);
    assert_eq!(v.reason, Some("invalid_cert"));
}
