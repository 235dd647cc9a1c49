//! `cookies` (CHECKS.md §7): every finding id from real server responses. The target runs
//! `hsts` before `cookies` (as every target does), so the `_hsts` forms follow what the server
//! really sends: paths under `/hsts/` carry a valid HSTS policy, the others none.

use probes::verdict::{Severity, Status, Verdict};

use crate::support::web::Web;
use crate::support::{Leaf, Pki, Resp, TestServer, ids, target};

const STS: &str = "max-age=63072000; includeSubDomains";

fn cookie(path_hsts: bool, set: &[&str]) -> Resp {
    let mut r = Resp::new(200).html("<p>x</p>");
    if path_hsts {
        r = r.header("Strict-Transport-Security", STS);
    }
    for c in set {
        r = r.header("Set-Cookie", c);
    }
    r
}

async fn web() -> Web {
    let a = vec![
        ("/", cookie(true, &[])),
        (
            "/plain/session",
            cookie(false, &["sessionid=abc; HttpOnly; SameSite=Lax"]),
        ),
        (
            "/hsts/session",
            cookie(true, &["sessionid=abc; HttpOnly; SameSite=Lax"]),
        ),
        (
            "/hsts/session-no-httponly",
            cookie(true, &["PHPSESSID=abc; Secure; SameSite=Lax"]),
        ),
        ("/plain/other", cookie(false, &["theme=dark; SameSite=Lax"])),
        ("/hsts/other", cookie(true, &["theme=dark; SameSite=Lax"])),
        (
            "/hsts/samesite-invalid",
            cookie(true, &["theme=dark; Secure; SameSite=Bogus"]),
        ),
        (
            "/hsts/samesite-none-insecure",
            cookie(true, &["theme=dark; SameSite=None"]),
        ),
        ("/hsts/csrf", cookie(true, &["csrftoken=x; Secure"])),
        (
            "/hsts/prefix",
            cookie(true, &["__Host-id=1; Secure; Path=/app; SameSite=Lax"]),
        ),
        (
            "/hsts/secure-prefix",
            cookie(true, &["__SECURE-id=1; SameSite=Lax"]),
        ),
        (
            "/hsts/samesite-missing",
            cookie(true, &["theme=dark; Secure"]),
        ),
        (
            "/hsts/secure-false",
            cookie(true, &["theme=dark; Secure=false; SameSite=Lax"]),
        ),
        (
            "/hsts/expires-comma",
            cookie(
                true,
                &["theme=dark; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Secure; SameSite=Lax"],
            ),
        ),
        (
            "/hsts/deleted",
            cookie(
                true,
                &[
                    "sessionid=; Max-Age=0",
                    "old=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                ],
            ),
        ),
        (
            "/hsts/heroku",
            cookie(true, &["heroku-session-affinity=xyz"]),
        ),
        ("/hsts/none", cookie(true, &[])),
        (
            "/hsts/good-session",
            cookie(
                true,
                &["__Host-session=abc; Secure; HttpOnly; Path=/; SameSite=Strict"],
            ),
        ),
        // 2100 bytes 0xE9: 2103 octets, under the 4096 limit (rfc6265bis §5.6).
        (
            "/plain/latin1-session",
            cookie(false, &[]).header(
                "Set-Cookie",
                [&b"sid="[..], &[0xe9; 2100], b"; SameSite=Lax"].concat(),
            ),
        ),
        (
            "/hsts/nameless-host-prefix",
            cookie(true, &["=__Host-y; SameSite=Lax"]),
        ),
    ];
    let h = vec![
        (
            "/secure-over-http",
            Resp::new(200).header("Set-Cookie", "theme=1; Secure; SameSite=Lax"),
        ),
        (
            "/session-over-http",
            Resp::new(200).header("Set-Cookie", "sid=1; HttpOnly; SameSite=Lax"),
        ),
    ];
    Web::start(a, vec![], vec![], h).await
}

/// hsts then cookies, over one fetch run.
async fn cookies(url: &str, web: &Web, http_url: Option<&str>) -> Verdict {
    let mut t = target(url, web.pki.client(), http_url);
    t.checks.retain(|c| c.id == "hsts" || c.id == "cookies");
    let (_, mut verdicts) = crate::support::evaluate(&t).await;
    assert_eq!(verdicts[0].check, "hsts");
    verdicts.remove(1)
}

/// The HSTS fact is the cookies rule's own: `--checks cookies` (or a `checks:` list without
/// hsts) judges a cookie on an HSTS host as HSTS-protected all the same.
#[tokio::test]
async fn hsts_protection_holds_when_only_cookies_is_checked() {
    let web = web().await;
    let v = crate::support::verdict(
        &target(&web.a("/hsts/other"), web.pki.client(), None),
        "cookies",
    )
    .await;
    assert_eq!(ids(&v), ["without_secure_hsts"]);
    let v = crate::support::verdict(
        &target(&web.a("/plain/other"), web.pki.client(), None),
        "cookies",
    )
    .await;
    assert_eq!(ids(&v), ["without_secure"]);
}

#[tokio::test]
async fn every_finding_from_real_responses() {
    let web = web().await;
    let cases: &[(&str, &[&str], Status)] = &[
        ("/plain/session", &["session_without_secure"], Status::Fail),
        (
            "/hsts/session",
            &["session_without_secure_hsts"],
            Status::Fail,
        ),
        (
            "/hsts/session-no-httponly",
            &["session_without_httponly"],
            Status::Fail,
        ),
        ("/plain/other", &["without_secure"], Status::Fail),
        ("/hsts/other", &["without_secure_hsts"], Status::Fail),
        (
            "/hsts/samesite-invalid",
            &["samesite_invalid"],
            Status::Fail,
        ),
        (
            "/hsts/samesite-none-insecure",
            &["samesite_invalid", "without_secure_hsts"],
            Status::Fail,
        ),
        (
            "/hsts/csrf",
            &["csrf_without_samesite", "samesite_missing"],
            Status::Fail,
        ),
        ("/hsts/prefix", &["prefix_violation"], Status::Fail),
        (
            "/hsts/secure-prefix",
            &["prefix_violation", "without_secure_hsts"],
            Status::Fail,
        ),
        (
            "/hsts/samesite-missing",
            &["samesite_missing"],
            Status::Pass,
        ),
        // `Secure=false` still sets Secure.
        ("/hsts/secure-false", &[], Status::Pass),
        // The comma in Expires does not split the line.
        ("/hsts/expires-comma", &[], Status::Pass),
        ("/hsts/deleted", &[], Status::Pass),
        ("/hsts/heroku", &[], Status::Pass),
        ("/hsts/none", &[], Status::Pass),
        ("/hsts/good-session", &[], Status::Pass),
        // Sizes count octets, not the UTF-8 bytes of the Latin-1 decoding.
        (
            "/plain/latin1-session",
            &["session_without_httponly", "session_without_secure"],
            Status::Fail,
        ),
        // rfc6265bis storage model: browsers drop a nameless cookie that looks prefixed.
        ("/hsts/nameless-host-prefix", &[], Status::Pass),
    ];
    for (path, expected, status) in cases {
        let v = cookies(&web.a(path), &web, None).await;
        let mut got = ids(&v);
        got.sort_unstable();
        let mut want = expected.to_vec();
        want.sort_unstable();
        assert_eq!(got, want, "case {path}: {:#?}", v.findings);
        assert_eq!(v.status, *status, "case {path}: {:#?}", v.findings);
        for f in &v.findings {
            assert_eq!(
                f.severity,
                probes::checks::cookies::CHECK.finding(f.id).severity
            );
        }
    }
}

#[tokio::test]
async fn cookies_set_over_http_count_even_when_https_sets_them_again() {
    let web = web().await;
    // The https page is clean; the http:// response sets a Secure cookie (ignored by browsers).
    let v = cookies(
        &web.a("/hsts/none"),
        &web,
        Some(&web.h("/secure-over-http")),
    )
    .await;
    let mut got = ids(&v);
    got.sort_unstable();
    assert_eq!(got, ["secure_set_over_http", "without_secure_hsts"]);
    assert!(v.findings.iter().all(|f| f.evidence.contains("http://")));
    let v = cookies(
        &web.a("/hsts/none"),
        &web,
        Some(&web.h("/session-over-http")),
    )
    .await;
    assert_eq!(ids(&v), ["session_without_secure_hsts"]);
    assert!(v.findings[0].evidence.contains("set over http"));
}

#[tokio::test]
async fn evidence_names_the_cookie_and_never_its_value() {
    let web = web().await;
    let v = cookies(&web.a("/plain/session"), &web, None).await;
    let e = &v.findings[0].evidence;
    assert!(
        e.starts_with("cookie \"sessionid\" (session: name contains login or sess"),
        "{e}"
    );
    assert!(
        e.contains("Set-Cookie: sessionid=<3 bytes>; HttpOnly; SameSite=Lax"),
        "{e}"
    );
    assert!(!e.contains("abc"), "{e}");
    assert_eq!(v.findings[0].severity, Severity::High);
    let m = |name: &str| {
        v.measurements
            .iter()
            .find(|m| m.gauge.name == name)
            .unwrap()
            .value
    };
    assert_eq!(m("cookies_observed"), 1.0);
    assert_eq!(m("cookies_session"), 1.0);
    assert_eq!(m("cookies_without_secure"), 1.0);
    assert_eq!(m("cookies_session_without_httponly"), 0.0);
    assert_eq!(m("cookies_without_samesite"), 0.0);
}

#[tokio::test]
async fn robots_txt_cookies_are_read() {
    let a = vec![
        ("/", cookie(true, &[])),
        (
            "/robots.txt",
            Resp::new(200)
                .header("Set-Cookie", "tracker=1; SameSite=Lax")
                .body("User-agent: *\n"),
        ),
    ];
    let web = Web::start(a, vec![], vec![], vec![]).await;
    let v = cookies(&web.a("/"), &web, None).await;
    assert_eq!(ids(&v), ["without_secure_hsts"]);
    assert!(
        v.findings[0].evidence.contains("/robots.txt"),
        "{}",
        v.findings[0].evidence
    );

    // Apache sets the same cookie on every response: the evidence names the page it was
    // first seen on, not `/robots.txt`, which the cycle requests last.
    let a = vec![
        ("/", cookie(true, &["SESSIONID=a1; Path=/"])),
        (
            "/robots.txt",
            Resp::new(200)
                .header("Set-Cookie", "SESSIONID=b2; Path=/")
                .body("User-agent: *\n"),
        ),
    ];
    let web = Web::start(a, vec![], vec![], vec![]).await;
    let v = cookies(&web.a("/"), &web, None).await;
    assert!(!v.findings.is_empty());
    for f in &v.findings {
        assert!(
            !f.evidence.contains("/robots.txt") && f.evidence.ends_with(&web.a("/")),
            "{}",
            f.evidence
        );
    }
}

#[tokio::test]
async fn configured_names_are_ignored_or_count_as_session_cookies() {
    let web = web().await;
    let mut t = target(&web.a("/hsts/other"), web.pki.client(), None);
    t.checks.retain(|c| c.id == "hsts" || c.id == "cookies");
    t.options.cookies.extra_session_names = vec!["Theme".into()];
    let v = crate::support::evaluate(&t).await.1.remove(1);
    let mut got = ids(&v);
    got.sort_unstable();
    assert_eq!(
        got,
        ["session_without_httponly", "session_without_secure_hsts"]
    );
    t.options.cookies.ignore_names = vec!["THEME".into()];
    let v = crate::support::evaluate(&t).await.1.remove(1);
    assert!(v.findings.is_empty(), "{:#?}", v.findings);
}

/// A session cookie set only by the login page is invisible from `/` (CHECKS.md §7, edge
/// cases); `cookies.paths` makes the fetch probe request that page too, once, unfollowed.
#[tokio::test]
async fn a_cookie_set_only_on_the_login_page_is_judged_when_cookies_paths_lists_it() {
    let web = Web::start(
        vec![
            ("/hsts/app", cookie(true, &[])),
            (
                "/login",
                cookie(false, &["sessionid=abc; Secure; SameSite=Lax"]).header("Location", "/x"),
            ),
            (
                "/crash",
                Resp {
                    raw: Some(Vec::new()),
                    ..Resp::new(500)
                },
            ),
        ],
        vec![],
        vec![],
        vec![],
    )
    .await;
    let mut t = target(&web.a("/hsts/app"), web.pki.client(), None);
    t.checks.retain(|c| c.id == "hsts" || c.id == "cookies");
    let v = crate::support::evaluate(&t).await.1.remove(1);
    assert!(v.findings.is_empty(), "{:#?}", v.findings);
    let before = web
        .a
        .requests()
        .iter()
        .filter(|r| r.path == "/login")
        .count();
    assert_eq!(
        before, 0,
        "the login page is not requested unless configured"
    );

    t.options.cookies.paths = vec!["/login".into()];
    let v = crate::support::evaluate(&t).await.1.remove(1);
    assert_eq!(ids(&v), ["session_without_httponly"], "{:#?}", v.findings);
    assert!(
        v.findings[0].evidence.contains("sessionid"),
        "{:#?}",
        v.findings
    );
    let logins: Vec<_> = web
        .a
        .requests()
        .into_iter()
        .filter(|r| r.path == "/login")
        .collect();
    assert_eq!(logins.len(), 1, "one unfollowed GET per configured page");
    assert_eq!(logins[0].method, "GET");

    // A configured page that closes the connection (a handler that panics) shows no cookie:
    // that is no pass.
    t.options.cookies.paths = vec!["/crash".into()];
    let v = crate::support::evaluate(&t).await.1.remove(1);
    assert_eq!(
        (v.status, v.reason),
        (probes::verdict::Status::Error, Some("no_response")),
        "{:#?}",
        v.findings
    );
}

/// `Domain` on a parent of the host needs a host name: a server for `www.shop.test`, pinned to
/// loopback (Host and SNI keep the name).
#[tokio::test]
async fn domain_too_broad_on_a_parent_domain() {
    let pki = Pki::new();
    let srv = TestServer::https(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&["www.shop.test"])),
        |_req: &crate::support::Req| {
            Resp::new(200)
                .header("Strict-Transport-Security", STS)
                .header(
                    "Set-Cookie",
                    "theme=1; Secure; SameSite=Lax; Domain=.Shop.test",
                )
                .header(
                    "Set-Cookie",
                    "lang=en; Secure; SameSite=Lax; Domain=www.shop.test",
                )
                // The last Domain wins; an empty one makes the cookie host-only.
                .header(
                    "Set-Cookie",
                    "a=1; Domain=shop.test; Domain=; Secure; SameSite=Lax",
                )
                .html("<p>x</p>")
        },
    )
    .await;
    let url = format!("https://www.shop.test:{}/", srv.addr.port());
    let mut t = target(&url, pki.client(), None);
    t.resolve = Some("127.0.0.1".parse().unwrap());
    t.checks.retain(|c| c.id == "hsts" || c.id == "cookies");
    let v = crate::support::evaluate(&t).await.1.remove(1);
    assert_eq!(ids(&v), ["domain_too_broad"], "{:#?}", v.findings);
    assert!(
        v.findings[0]
            .evidence
            .contains("Domain=shop.test is a parent of www.shop.test")
    );
    assert_eq!(v.status, Status::Pass);
}

#[test]
fn cookie_options_come_from_the_config_and_bad_names_are_rejected() {
    use prodprobe::plan::{self, PlanContext};
    let cx = PlanContext {
        public_tls: std::sync::Arc::new(probes::tls::TlsClient::new(&[]).unwrap()),
    };
    let dir = tempfile::tempdir().unwrap();
    let good = crate::support::write(
        dir.path(),
        "good.yaml",
        "defaults:\n  cookies:\n    ignore_names: [ab_bucket]\ntargets:\n  - name: shop\n    url: https://shop.example/\n    cookies:\n      extra_session_names: [shop_auth, Token]\n      paths: [/login, /account/sign-in]\n",
    );
    let plan = plan::load(&good, &cx).unwrap_or_else(|e| panic!("{e:?}"));
    let opts = &plan.targets[0].target.options.cookies;
    assert_eq!(opts.extra_session_names, ["shop_auth", "Token"]);
    assert_eq!(opts.ignore_names, ["ab_bucket"]);
    assert_eq!(opts.paths, ["/login", "/account/sign-in"]);

    let too_many = crate::support::write(
        dir.path(),
        "too-many.yaml",
        "targets:\n  - name: shop\n    url: https://shop.example/\n    cookies:\n      paths: [/a, /b, /c, /d, /e, /f]\n",
    );
    let errors = plan::load(&too_many, &cx).expect_err("rejected");
    assert_eq!(errors[0].line, 5, "{}", errors[0]);
    assert!(
        errors[0]
            .message
            .contains("cookies.paths lists 6 paths; at most 5"),
        "{}",
        errors[0]
    );

    let bad = crate::support::write(
        dir.path(),
        "bad.yaml",
        "targets:\n  - name: shop\n    url: https://shop.example/\n    cookies:\n      ignore_names: [\"a=b\"]\n",
    );
    let errors = plan::load(&bad, &cx).expect_err("rejected");
    assert_eq!(errors[0].line, 5, "{}", errors[0]);
    assert!(
        errors[0].message.contains("invalid cookie name \"a=b\""),
        "{}",
        errors[0]
    );
}

/// A response with 300 field lines is a response (browsers accept it), not an outage.
#[tokio::test]
async fn three_hundred_set_cookie_lines_are_judged() {
    let mut r = cookie(true, &[]);
    for i in 0..300 {
        r = r.header(
            "Set-Cookie",
            format!("c{i}=1; Secure; HttpOnly; SameSite=Lax"),
        );
    }
    let web = Web::serving(vec![("/", r)]).await;
    let mut t = target(&web.a("/"), web.pki.client(), None);
    t.checks.retain(|c| c.id == "hsts" || c.id == "cookies");
    let v = crate::support::evaluate(&t).await.1.remove(1);
    assert_eq!(v.status, Status::Pass, "{:?} {:#?}", v.reason, v.findings);
    let observed = v
        .measurements
        .iter()
        .find(|m| m.gauge.name == "cookies_observed")
        .unwrap();
    assert_eq!(observed.value, 300.0);
}
