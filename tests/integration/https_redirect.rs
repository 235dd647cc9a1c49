//! `https_redirect` (CHECKS.md §1): every finding id from real server responses.

use std::sync::Arc;

use probes::preload::PreloadList;
use probes::verdict::{Severity, Status};

use crate::support::web::Web;
use crate::support::{Resp, assert_case, gauge, ids, target, verdict};

async fn web() -> Web {
    let r = Resp::redirect;
    let a = vec![
        ("/ok", Resp::new(200).html("<p>shop</p>")),
        (
            "/maintenance",
            Resp::new(503)
                .header("Retry-After", "120")
                .header("Strict-Transport-Security", "max-age=63072000")
                .body("back soon"),
        ),
        ("/down", r(301, "http://{H}/plain")),
        ("/missing", Resp::new(404).body("nope")),
        ("/loop", r(301, "https://{A}/loop2")),
        ("/loop2", r(301, "https://{A}/loop")),
        ("/bounce", r(301, "http://{H}/bounce")),
        ("/r/11", r(301, "/r/10")),
        ("/r/10", r(301, "/r/9")),
        ("/r/9", r(301, "/r/8")),
        ("/r/8", r(301, "/r/7")),
        ("/r/7", r(301, "/r/6")),
        ("/r/6", r(301, "/r/5")),
        ("/r/5", r(301, "/r/4")),
        ("/r/4", r(301, "/r/3")),
        ("/r/3", r(301, "/r/2")),
        ("/r/2", r(301, "/r/1")),
        ("/r/1", r(301, "/r/0")),
        ("/r/0", Resp::new(200).body("end")),
    ];
    let b = vec![("/ok", Resp::new(200).body("other host"))];
    let c = vec![("/ok", Resp::new(200).body("untrusted"))];
    let h = vec![
        ("/none", Resp::new(200).html("<p>plain</p>")),
        ("/ok", r(301, "https://{A}/ok")),
        ("/to-maintenance", r(301, "https://{A}/maintenance")),
        (
            "/limited",
            Resp::new(429).header("Retry-After", "30").body("slow down"),
        ),
        ("/forbidden", Resp::new(403).body("CDN says no")),
        ("/http-first", r(301, "http://{H}/ok")),
        ("/proto-relative", r(301, "//{H}/ok")),
        ("/offhost", r(301, "https://{B}/ok")),
        ("/downgrade", r(301, "https://{A}/down")),
        ("/final-http", r(301, "http://{H}/plain")),
        ("/plain", Resp::new(200).body("plain")),
        ("/badcert", r(301, "https://{C}/ok")),
        ("/unreachable", r(301, "https://{CLOSED}/")),
        ("/many", r(301, "https://{A}/r/5")),
        ("/four", r(301, "https://{A}/r/3")),
        ("/twelve", r(301, "https://{A}/r/11")),
        ("/loop", r(301, "https://{A}/loop")),
        ("/self", r(301, "http://{H}/self")),
        ("/bounce", r(301, "https://{A}/bounce")),
        ("/temp", r(302, "https://{A}/ok")),
        ("/see-other", r(303, "https://{A}/ok")),
        ("/to404", r(308, "https://{A}/missing")),
        ("/no-location", Resp::new(301).body("moved, but where?")),
        (
            "/multiple-choices",
            Resp::new(300).header("Location", "https://{A}/ok"),
        ),
    ];
    Web::start(a, b, c, h).await
}

#[tokio::test]
async fn every_finding_from_real_responses() {
    let web = web().await;
    let cases: &[(&str, &[&str], Status)] = &[
        ("/ok", &[], Status::Pass),
        ("/none", &["no_redirect"], Status::Fail),
        (
            "/forbidden",
            &["no_redirect", "final_error_status"],
            Status::Fail,
        ),
        ("/http-first", &["first_hop_not_https"], Status::Fail),
        ("/proto-relative", &["first_hop_not_https"], Status::Fail),
        ("/offhost", &["first_hop_off_host"], Status::Fail),
        (
            "/downgrade",
            &["downgrade_in_chain", "final_not_https"],
            Status::Fail,
        ),
        (
            "/final-http",
            &["first_hop_not_https", "final_not_https"],
            Status::Fail,
        ),
        ("/badcert", &["invalid_cert_in_chain"], Status::Fail),
        ("/unreachable", &["hop_unreachable"], Status::Fail),
        (
            "/many",
            &["too_many_redirects", "preload_hops_exceeded"],
            Status::Fail,
        ),
        ("/four", &["preload_hops_exceeded"], Status::Pass),
        ("/loop", &["too_many_redirects"], Status::Fail),
        // Loops that never settle on HTTPS: their last URL is the http: one they return to.
        (
            "/self",
            &[
                "first_hop_not_https",
                "final_not_https",
                "too_many_redirects",
            ],
            Status::Fail,
        ),
        (
            "/bounce",
            &[
                "downgrade_in_chain",
                "final_not_https",
                "too_many_redirects",
            ],
            Status::Fail,
        ),
        ("/temp", &["temporary_redirect"], Status::Pass),
        ("/see-other", &["temporary_redirect"], Status::Pass),
        ("/to404", &["final_error_status"], Status::Pass),
        // A 3xx without Location and a 300 are not redirects (RFC 9110 §15.4).
        ("/no-location", &["no_redirect"], Status::Fail),
        ("/multiple-choices", &["no_redirect"], Status::Fail),
    ];
    for (path, expected, status) in cases {
        let t = target(&web.a("/"), web.pki.client(), Some(&web.h(path)));
        let v = verdict(&t, "https_redirect").await;
        assert_case(&v, path, expected, *status);
    }
}

/// CHECKS.md §0.5: a 429, or a 503 with Retry-After, is a limiter's or a maintenance
/// answer. On the HTTPS page (nginx `return 503` with `Retry-After` for maintenance) it says
/// nothing about the redirect, which is judged as usual (the final status is info only); as
/// the answer to the first plain-HTTP request it stands where the redirect should be, and the
/// check cannot be evaluated.
#[tokio::test]
async fn a_maintenance_page_does_not_void_the_redirect_a_limited_first_request_does() {
    let web = web().await;
    let t = target(
        &web.a("/maintenance"),
        web.pki.client(),
        Some(&web.h("/to-maintenance")),
    );
    let v = verdict(&t, "https_redirect").await;
    assert_case(&v, "/to-maintenance", &["final_error_status"], Status::Pass);
    let t = target(&web.a("/ok"), web.pki.client(), Some(&web.h("/limited")));
    let v = verdict(&t, "https_redirect").await;
    assert_eq!(
        (v.status, v.reason),
        (Status::Error, Some("rate_limited")),
        "{:?}",
        v.findings
    );
}

#[tokio::test]
async fn http_not_served_passes_with_info() {
    let web = web().await;
    let closed = format!("http://127.0.0.1:{}/", web.closed);
    let t = target(&web.a("/"), web.pki.client(), Some(&closed));
    let v = verdict(&t, "https_redirect").await;
    assert_eq!(ids(&v), ["http_not_served"]);
    assert_eq!(v.findings[0].severity, Severity::Info);
    assert!(
        v.findings[0].evidence.contains("connect_refused"),
        "{}",
        v.findings[0].evidence
    );
    assert_eq!(v.status, Status::Pass);
}

#[tokio::test]
async fn evidence_names_the_hop_and_metrics_describe_the_first_chain() {
    let web = web().await;
    let t = target(&web.a("/"), web.pki.client(), Some(&web.h("/offhost")));
    let v = verdict(&t, "https_redirect").await;
    let f = &v.findings[0];
    assert!(
        f.evidence.contains("301") && f.evidence.contains(&web.b.addr.to_string()),
        "{}",
        f.evidence
    );
    let m = |name: &str| gauge(&v, name);
    assert_eq!(m("redirect_hops"), 1.0);
    assert_eq!(m("redirect_first_status_code"), 301.0);
    assert_eq!(m("redirect_first_hop_https"), 1.0);
    assert_eq!(m("redirect_first_hop_same_host"), 0.0);
    assert_eq!(m("redirect_final_https"), 1.0);
}

#[tokio::test]
async fn preloaded_hosts_downgrade_missing_redirects_to_info() {
    let web = web().await;
    let mut t = target(&web.a("/"), web.pki.client(), Some(&web.h("/none")));
    t.options.preload = Some(Arc::new(PreloadList::from_entries([(
        "127.0.0.1".to_owned(),
        false,
    )])));
    let v = verdict(&t, "https_redirect").await;
    assert_eq!(ids(&v), ["no_redirect"]);
    assert_eq!(v.findings[0].severity, Severity::Info);
    assert_eq!(v.status, Status::Pass);
}

#[tokio::test]
async fn max_redirects_is_configurable() {
    let web = web().await;
    let mut t = target(&web.a("/"), web.pki.client(), Some(&web.h("/four")));
    t.options.https_redirect.max_redirects = 3;
    let v = verdict(&t, "https_redirect").await;
    assert!(ids(&v).contains(&"too_many_redirects"), "{:?}", ids(&v));
}

/// A chain longer than the 10 redirects the fetch follows (CHECKS.md §0.1) is cut there, and the
/// evidence says "more than", not a count that contradicts the chain.
#[tokio::test]
async fn a_chain_past_the_hop_limit_is_too_many_redirects_at_any_limit() {
    let web = web().await;
    let mut t = target(&web.a("/"), web.pki.client(), Some(&web.h("/twelve")));
    t.options.https_redirect.max_redirects = 10;
    let v = verdict(&t, "https_redirect").await;
    let f = v
        .findings
        .iter()
        .find(|f| f.id == "too_many_redirects")
        .unwrap_or_else(|| panic!("{:?}", ids(&v)));
    assert_eq!(
        f.evidence,
        "more than 10 redirects, the most the fetch follows (limit 10)"
    );
    assert_eq!(v.status, Status::Fail);

    // A plain-HTTP chain cut at the hop limit has not ended: it is judged on where its last
    // redirect points. /h/N redirects to /h/N-1 over http, /h/0 to https.
    use crate::support::TestServer;
    let to = web.a("/ok");
    let http = TestServer::http("127.0.0.1", move |req| {
        match req
            .path
            .strip_prefix("/h/")
            .and_then(|n| n.parse::<u32>().ok())
        {
            Some(0) => Resp::redirect(301, &to),
            Some(n) => Resp::redirect(301, &format!("/h/{}", n - 1)),
            None => Resp::new(404),
        }
    })
    .await;
    for (start, final_http) in [("/h/10", false), ("/h/12", true)] {
        let t = target(
            &web.a("/"),
            web.pki.client(),
            Some(&http.url("http", start)),
        );
        let v = verdict(&t, "https_redirect").await;
        let f = v.findings.iter().find(|f| f.id == "final_not_https");
        assert_eq!(f.is_some(), final_http, "{start}: {:?}", v.findings);
        if let Some(f) = f {
            assert!(
                f.evidence.contains("/h/1 at the hop limit"),
                "{}",
                f.evidence
            );
        }
        assert!(ids(&v).contains(&"too_many_redirects"), "{start}");
    }
}

/// CHECKS.md §1 probes `http://host/` besides the target path: a plain-HTTP target whose path
/// redirects while its root serves the page over HTTP is `no_redirect`, as an HTTPS target is.
#[tokio::test]
async fn a_plain_http_target_with_a_path_has_its_root_judged_too() {
    use crate::support::TestServer;
    let web = web().await;
    let to = web.a("/ok");
    let http = TestServer::http("127.0.0.1", move |req| match req.path.as_str() {
        "/app" => Resp::redirect(301, &to),
        _ => Resp::new(200).html("<p>plain</p>"),
    })
    .await;
    let mut t = target(&http.url("http", "/app"), web.pki.client(), None);
    t.http_urls = probes::target::default_http_urls(&t.url);
    let v = verdict(&t, "https_redirect").await;
    assert_eq!(ids(&v), ["no_redirect"], "{:#?}", v.findings);
    assert!(
        v.findings[0].evidence.contains(&http.url("http", "/")),
        "{}",
        v.findings[0].evidence
    );
    let paths: Vec<String> = http.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths.iter().filter(|p| *p == "/app").count(),
        1,
        "the target URL is fetched once: {paths:?}"
    );
}
