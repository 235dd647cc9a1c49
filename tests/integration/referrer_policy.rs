//! `referrer_policy` (CHECKS.md §6): every finding id from real server responses.

use probes::verdict::{Severity, Status};

use crate::support::web::Web;
use crate::support::{Resp, ids, target, verdict};

fn rp(v: &str) -> Resp {
    Resp::new(200).header("Referrer-Policy", v).html("<p>x</p>")
}

fn meta(content: &str, in_head: bool) -> String {
    let m = format!(r#"<meta name="referrer" content="{content}">"#);
    if in_head {
        format!("<html><head>{m}</head><body>x</body></html>")
    } else {
        format!("<html><head></head><body>x{m}</body></html>")
    }
}

async fn web() -> Web {
    let a = vec![
        ("/strict", rp("strict-origin-when-cross-origin")),
        ("/no-referrer", rp("no-referrer")),
        ("/unsafe-url", rp("unsafe-url")),
        ("/downgrade", rp("no-referrer-when-downgrade")),
        ("/origin", rp("origin")),
        ("/origin-cross", rp("Origin-When-Cross-Origin")),
        (
            "/fallback",
            rp("no-referrer, strict-origin-when-cross-origin"),
        ),
        ("/fallback-unknown", rp("same-origin, future-policy")),
        (
            "/two-lines",
            rp("no-referrer").header("Referrer-Policy", "unsafe-url"),
        ),
        ("/invalid", rp("foo")),
        ("/empty", rp("")),
        ("/missing", Resp::new(200).html("<p>x</p>")),
        (
            "/meta-override",
            rp("unsafe-url").html(&meta("no-referrer", true)),
        ),
        ("/meta-legacy", Resp::new(200).html(&meta("always", true))),
        (
            "/meta-in-body",
            rp("no-referrer").html(&meta("unsafe-url", false)),
        ),
        ("/meta-invalid", rp("unsafe-url").html(&meta("bogus", true))),
    ];
    Web::start(a, vec![], vec![], vec![]).await
}

#[tokio::test]
async fn every_finding_from_real_responses() {
    let web = web().await;
    let cases: &[(&str, &[&str], &str, Status)] = &[
        (
            "/strict",
            &[],
            "strict-origin-when-cross-origin",
            Status::Pass,
        ),
        ("/no-referrer", &[], "no-referrer", Status::Pass),
        ("/unsafe-url", &["unsafe"], "unsafe-url", Status::Fail),
        (
            "/downgrade",
            &["unsafe"],
            "no-referrer-when-downgrade",
            Status::Fail,
        ),
        ("/origin", &["unsafe"], "origin", Status::Fail),
        (
            "/origin-cross",
            &["unsafe"],
            "origin-when-cross-origin",
            Status::Fail,
        ),
        // The last token a browser understands wins.
        (
            "/fallback",
            &[],
            "strict-origin-when-cross-origin",
            Status::Pass,
        ),
        ("/fallback-unknown", &[], "same-origin", Status::Pass),
        ("/two-lines", &["unsafe"], "unsafe-url", Status::Fail),
        ("/invalid", &["invalid"], "invalid", Status::Fail),
        ("/empty", &["invalid"], "invalid", Status::Fail),
        ("/missing", &["missing"], "none", Status::Pass),
        // <meta name="referrer"> in <head> applies after the header.
        ("/meta-override", &[], "no-referrer", Status::Pass),
        ("/meta-legacy", &["unsafe"], "unsafe-url", Status::Fail),
        ("/meta-in-body", &[], "no-referrer", Status::Pass),
        ("/meta-invalid", &["unsafe"], "unsafe-url", Status::Fail),
    ];
    for (path, expected, policy, status) in cases {
        let t = target(&web.a(path), web.pki.client(), None);
        let v = verdict(&t, "referrer_policy").await;
        assert_eq!(ids(&v), *expected, "case {path}: {:#?}", v.findings);
        assert_eq!(v.status, *status, "case {path}");
        assert_eq!(v.measurements.len(), 1);
        assert_eq!(v.measurements[0].gauge.name, "referrer_policy_info");
        assert_eq!(
            v.measurements[0].labels,
            [policy.to_string()],
            "case {path}"
        );
        for f in &v.findings {
            let want = if f.id == "missing" {
                Severity::Info
            } else {
                Severity::Low
            };
            assert_eq!(f.severity, want);
        }
    }
}

#[tokio::test]
async fn evidence_shows_the_header_line() {
    let web = web().await;
    let v = verdict(
        &target(&web.a("/two-lines"), web.pki.client(), None),
        "referrer_policy",
    )
    .await;
    assert_eq!(
        v.findings[0].evidence,
        "Referrer-Policy: no-referrer, unsafe-url (effective unsafe-url)"
    );
}
