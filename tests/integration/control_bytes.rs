//! CHECKS.md §0.2: a control byte other than HTAB makes a field value invalid for its header.
//!
//! Real servers do send these (a template that interpolates a raw byte into a header, a proxy that
//! passes one through). hyper refuses such a line by default, which would either fail the whole
//! response or, with `ignore_invalid_headers_in_responses`, drop the line silently and let a valid
//! sibling line stand alone. Browsers keep the line and treat the header as invalid, so the checks
//! must see it too.

use probes::verdict::Status;

use crate::support::web::Web;
use crate::support::{Resp, assert_case, ids, target, verdict};

const STS: &str = "max-age=31536000; includeSubDomains";

fn page() -> Resp {
    Resp::new(200)
        .header("Strict-Transport-Security", STS)
        .header("X-Frame-Options", "DENY")
        .header("X-Content-Type-Options", "nosniff")
        .header("Referrer-Policy", "no-referrer")
        .html("<p>x</p>")
}

/// A page whose every protection is valid except `name`, which carries `value` instead.
fn with(name: &str, value: &[u8]) -> Resp {
    let mut r = page();
    r.headers.retain(|(n, _)| n != name);
    r.header(name, value)
}

async fn web() -> Web {
    let a = vec![
        ("/", page()),
        ("/xfo", with("X-Frame-Options", b"DENY\x01")),
        ("/xcto", with("X-Content-Type-Options", b"nosniff\x01")),
        ("/referrer", with("Referrer-Policy", b"no-referrer\x01")),
        (
            "/sts",
            with("Strict-Transport-Security", b"max-age=31536000\x01"),
        ),
        (
            "/sts-valid-then-ctl",
            page().header("Strict-Transport-Security", b"max-age=0\x7f"),
        ),
        (
            "/sts-ctl-then-valid",
            with("Strict-Transport-Security", b"max-age=0\x1b")
                .header("Strict-Transport-Security", STS),
        ),
        (
            "/sts-tab",
            with(
                "Strict-Transport-Security",
                b"max-age=31536000;\tincludeSubDomains",
            ),
        ),
        (
            "/csp",
            page().header("Content-Security-Policy", b"default-src 'self'\x01"),
        ),
        (
            "/cookies",
            page()
                .header("Set-Cookie", b"tracker=a\x01b; Path=/")
                .header(
                    "Set-Cookie",
                    "sid=1; Secure; HttpOnly; SameSite=Lax; Path=/",
                ),
        ),
        ("/unrelated", page().header("X-Debug", b"a\x01b")),
    ];
    Web::serving(a).await
}

#[tokio::test]
async fn a_control_byte_makes_the_header_invalid_and_is_never_dropped() {
    let web = web().await;
    let cases: &[(&str, &str, &[&str], Status)] = &[
        ("/xfo", "clickjacking", &["xfo_invalid"], Status::Fail),
        (
            "/xcto",
            "x_content_type_options",
            &["invalid"],
            Status::Fail,
        ),
        ("/referrer", "referrer_policy", &["invalid"], Status::Fail),
        ("/sts", "hsts", &["invalid_syntax"], Status::Fail),
        // The invalid second line is still a second line: hyper's default would have dropped
        // it and reported the valid first line alone.
        (
            "/sts-valid-then-ctl",
            "hsts",
            &["multiple_headers"],
            Status::Fail,
        ),
        // Only the first line counts (RFC 6797 §8.1), and it is the invalid one.
        (
            "/sts-ctl-then-valid",
            "hsts",
            &["multiple_headers", "invalid_syntax"],
            Status::Fail,
        ),
        // HTAB is the one control byte a field value may hold.
        ("/sts-tab", "hsts", &[], Status::Pass),
        ("/unrelated", "hsts", &[], Status::Pass),
        ("/unrelated", "clickjacking", &[], Status::Pass),
        ("/unrelated", "x_content_type_options", &[], Status::Pass),
    ];
    for (path, check, expected, status) in cases {
        let t = target(&web.a(path), web.pki.client(), None);
        let v = verdict(&t, check).await;
        assert_case(&v, &format!("{check} {path}"), expected, *status);
    }
}

#[tokio::test]
async fn a_policy_with_a_control_byte_is_no_policy() {
    let web = web().await;
    let t = target(&web.a("/csp"), web.pki.client(), None);
    let v = verdict(&t, "csp").await;
    assert!(ids(&v).contains(&"invalid"), "{:#?}", v.findings);
    assert_eq!(v.status, Status::Fail);
}

#[tokio::test]
async fn a_set_cookie_line_with_a_control_byte_is_ignored_as_browsers_do() {
    let web = web().await;
    let t = target(&web.a("/cookies"), web.pki.client(), None);
    let v = verdict(&t, "cookies").await;
    // Judged, `tracker` would be `without_secure`; the valid `sid` beside it passes.
    assert_case(&v, "/cookies", &[], Status::Pass);
}

#[tokio::test]
async fn evidence_keeps_the_value_as_served() {
    let web = web().await;
    let t = target(&web.a("/xfo"), web.pki.client(), None);
    let v = verdict(&t, "clickjacking").await;
    let evidence = &v.findings[0].evidence;
    // Kept raw here; the text report and XML formats replace control characters when printing.
    assert!(
        evidence.starts_with("X-Frame-Options: DENY\u{1}"),
        "{evidence:?}"
    );
}
