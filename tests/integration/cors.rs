//! `cors` (CHECKS.md §8): every misconfiguration class from a real server, a correct
//! allow-list, the IP-literal rule and the request budget proven by the server's request log.

use std::net::IpAddr;
use std::sync::Arc;

use probes::probe::ProbeKind;
use probes::verdict::{Severity, Status};
use regex::Regex;

use crate::support::{Leaf, Pki, Req, Resp, TestServer, ids, target, verdict};

/// The host the CORS targets use (pinned to 127.0.0.1): two dots, registrable `example.com`.
const HOST: &str = "api.shop.example.com";

type Rule = Arc<dyn Fn(&Req) -> Resp + Send + Sync>;

/// A server on `HOST` whose CORS answer is decided by `allow(origin)` → (ACAO, credentials,
/// vary); OPTIONS answers a permissive preflight when `preflight` is set and the origin is
/// allowed.
fn cors_server(
    allow: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    credentials: Option<&'static str>,
    vary: bool,
    preflight: bool,
) -> Rule {
    Arc::new(move |req: &Req| {
        let mut resp = Resp::new(200)
            .header("Content-Type", "text/html")
            .body("<p>shop</p>");
        if req.method == "OPTIONS" {
            resp = Resp::new(204);
            if !preflight {
                return resp;
            }
        }
        if let Some(origin) = req.header("origin")
            && let Some(acao) = allow(origin)
        {
            resp = resp.header("Access-Control-Allow-Origin", acao);
            if let Some(c) = credentials {
                resp = resp.header("Access-Control-Allow-Credentials", c);
            }
            if req.method == "OPTIONS" {
                resp = resp
                    .header("Access-Control-Allow-Methods", "GET, PUT, POST")
                    .header(
                        "Access-Control-Allow-Headers",
                        req.header("access-control-request-headers").unwrap_or(""),
                    );
            }
        }
        if vary {
            resp = resp.header("Vary", "Origin");
        }
        resp
    })
}

fn echo(o: &str) -> Option<String> {
    Some(o.to_owned())
}

struct Case {
    name: &'static str,
    rule: Rule,
    allowed_origins: &'static [&'static str],
    expected: &'static [&'static str],
}

async fn run_case(pki: &Pki, case: &Case) -> (probes::verdict::Verdict, Vec<Req>) {
    let rule = Arc::clone(&case.rule);
    let server = TestServer::https(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&[HOST])),
        move |r: &Req| rule(r),
    )
    .await;
    let mut t = target(
        &format!("https://{HOST}:{}/", server.addr.port()),
        pki.client(),
        None,
    );
    t.resolve = Some(IpAddr::from([127, 0, 0, 1]));
    t.options.cors.allowed_origins = case.allowed_origins.iter().map(|s| s.to_string()).collect();
    let v = verdict(&t, "cors").await;
    (v, server.requests())
}

#[tokio::test]
async fn every_misconfiguration_class_from_real_servers() {
    let pki = Pki::new();
    let dot_regex = Regex::new(r"^https://api.shop.example.com:\d+$").unwrap();
    let cases = vec![
        Case {
            name: "reflects every origin with credentials",
            rule: cors_server(echo, Some("true"), true, true),
            allowed_origins: &[],
            expected: &[
                "reflect_any_with_credentials",
                "null_origin_with_credentials",
                "origin_bypass_with_credentials",
                "any_subdomain_trusted_with_credentials",
                "http_origin_trusted_with_credentials",
                "preflight_permissive_with_credentials",
            ],
        },
        Case {
            name: "reflects every origin without credentials",
            rule: cors_server(echo, None, true, true),
            allowed_origins: &[],
            expected: &[
                "reflect_any",
                "null_origin",
                "origin_bypass",
                "any_subdomain_trusted",
                "http_origin_trusted",
                "preflight_permissive",
            ],
        },
        Case {
            name: "null allowed with credentials",
            rule: cors_server(
                |o| (o == "null").then(|| "null".to_owned()),
                Some("true"),
                true,
                false,
            ),
            allowed_origins: &[],
            expected: &["null_origin_with_credentials"],
        },
        Case {
            name: "unanchored prefix match",
            rule: cors_server(
                |o| {
                    o.starts_with(&format!("https://{HOST}"))
                        .then(|| o.to_owned())
                },
                Some("true"),
                true,
                false,
            ),
            allowed_origins: &[],
            expected: &["origin_bypass_with_credentials"],
        },
        Case {
            name: "endsWith(R) without a dot",
            rule: cors_server(
                |o| o.ends_with("example.com").then(|| o.to_owned()),
                None,
                true,
                false,
            ),
            allowed_origins: &[],
            expected: &["origin_bypass", "any_subdomain_trusted"],
        },
        Case {
            name: "any subdomain with credentials",
            rule: cors_server(
                |o| o.ends_with(".example.com").then(|| o.to_owned()),
                Some("true"),
                true,
                false,
            ),
            allowed_origins: &[],
            expected: &["any_subdomain_trusted_with_credentials"],
        },
        Case {
            name: "unescaped dot in a regex",
            rule: cors_server(
                move |o| dot_regex.is_match(o).then(|| o.to_owned()),
                Some("true"),
                true,
                false,
            ),
            allowed_origins: &[],
            expected: &["origin_bypass_with_credentials"],
        },
        Case {
            name: "http twin trusted with credentials",
            rule: cors_server(
                |o| {
                    (o.starts_with(&format!("http://{HOST}:"))
                        || o.starts_with(&format!("https://{HOST}:")))
                    .then(|| o.to_owned())
                },
                Some("true"),
                true,
                false,
            ),
            allowed_origins: &[],
            expected: &["http_origin_trusted_with_credentials"],
        },
        Case {
            name: "allow-list entry matched by substring",
            rule: cors_server(
                |o| o.contains("partner.example.org").then(|| o.to_owned()),
                Some("true"),
                true,
                false,
            ),
            allowed_origins: &["https://partner.example.org"],
            expected: &["origin_bypass_with_credentials"],
        },
        Case {
            // Starlette `allow_origin_regex=r"https://.*\.example\.com"`: the allowed_suffix
            // look-alike `corsprobe{n}app.example.com` is granted, and so is the subdomain
            // probe, while `corsprobe{n}example.com` (suffix, registrable) is refused: only
            // subdomains are trusted.
            name: "subdomains of the site's domain trusted by a regex",
            rule: cors_server(
                |o| {
                    (o.starts_with("https://") && o.ends_with(".example.com")).then(|| o.to_owned())
                },
                Some("true"),
                true,
                false,
            ),
            allowed_origins: &["https://app.example.com"],
            expected: &["any_subdomain_trusted_with_credentials"],
        },
        Case {
            // `origin.endsWith("example.com")`: `corsprobe{n}example.com` can be bought.
            name: "the site's domain matched by its end",
            rule: cors_server(
                |o| o.ends_with("example.com").then(|| o.to_owned()),
                Some("true"),
                true,
                false,
            ),
            allowed_origins: &["https://app.example.com"],
            expected: &[
                "origin_bypass_with_credentials",
                "any_subdomain_trusted_with_credentials",
            ],
        },
        Case {
            // `origin.endsWith("partner.example.org")` on another domain than the site's: no
            // probe of the path tells subdomain trust from a suffix match, so the rule of
            // CHECKS.md §8 stands (allowed_suffix granted: bypass).
            name: "an allowed origin on another domain matched by its end",
            rule: cors_server(
                |o| o.ends_with("partner.example.org").then(|| o.to_owned()),
                Some("true"),
                true,
                false,
            ),
            allowed_origins: &["https://partner.example.org"],
            expected: &["origin_bypass_with_credentials"],
        },
        Case {
            name: "only the preflight is permissive",
            rule: Arc::new(|req: &Req| {
                if req.method != "OPTIONS" {
                    return Resp::new(200).body("ok");
                }
                Resp::new(204)
                    .header(
                        "Access-Control-Allow-Origin",
                        req.header("origin").unwrap_or(""),
                    )
                    .header("Access-Control-Allow-Credentials", "true")
                    .header("Access-Control-Allow-Methods", "*")
                    .header("Access-Control-Allow-Headers", "*")
                    .header("Vary", "Origin")
            }),
            allowed_origins: &[],
            expected: &["preflight_permissive_with_credentials"],
        },
        Case {
            // rack-cors: `Vary: Origin` on every GET, none on the preflight answer, which no
            // HTTP cache stores (OPTIONS): no missing_vary_origin.
            name: "a preflight answer without Vary",
            rule: Arc::new(|req: &Req| {
                let origin = req.header("origin").unwrap_or("").to_owned();
                if req.method == "OPTIONS" {
                    return Resp::new(200)
                        .header("Access-Control-Allow-Origin", &origin)
                        .header("Access-Control-Allow-Credentials", "true")
                        .header("Access-Control-Allow-Methods", "GET, POST, PUT")
                        .header("Access-Control-Allow-Headers", "*");
                }
                Resp::new(200).header("Vary", "Origin").body("ok")
            }),
            allowed_origins: &[],
            expected: &["preflight_permissive_with_credentials"],
        },
        Case {
            name: "wildcard with credentials",
            rule: cors_server(|_| Some("*".into()), Some("true"), false, false),
            allowed_origins: &[],
            expected: &["wildcard_with_credentials"],
        },
        Case {
            name: "public wildcard without credentials is fine",
            rule: cors_server(|_| Some("*".into()), None, false, false),
            allowed_origins: &[],
            expected: &[],
        },
        Case {
            name: "own origin echoed without Vary",
            rule: cors_server(
                |o| {
                    o.starts_with(&format!("https://{HOST}:"))
                        .then(|| o.to_owned())
                },
                None,
                false,
                false,
            ),
            allowed_origins: &[],
            expected: &["missing_vary_origin"],
        },
        Case {
            name: "two ACAO values",
            rule: Arc::new(|_: &Req| {
                Resp::new(200)
                    .header("Access-Control-Allow-Origin", "https://a.example.org")
                    .header("Access-Control-Allow-Origin", "https://b.example.org")
            }),
            allowed_origins: &[],
            expected: &["acao_invalid"],
        },
        Case {
            name: "space-separated ACAO list",
            rule: Arc::new(|_: &Req| {
                Resp::new(200).header(
                    "Access-Control-Allow-Origin",
                    "https://a.example.org https://b.example.org",
                )
            }),
            allowed_origins: &[],
            expected: &["acao_invalid"],
        },
        Case {
            name: "a fixed ACAO on every response is static, not an echo: no Vary needed",
            rule: Arc::new(|_: &Req| {
                Resp::new(200).header("Access-Control-Allow-Origin", "https://app.example.org")
            }),
            allowed_origins: &["https://app.example.org"],
            expected: &[],
        },
        Case {
            name: "ACAC True is not credentialed",
            rule: cors_server(
                |o| {
                    o.starts_with(&format!("https://{HOST}:"))
                        .then(|| o.to_owned())
                },
                Some("True"),
                true,
                false,
            ),
            allowed_origins: &[],
            expected: &["acac_not_exact"],
        },
        Case {
            name: "no CORS at all",
            rule: cors_server(|_| None, None, false, false),
            allowed_origins: &[],
            expected: &["cors_not_enabled"],
        },
        Case {
            name: "a correct allow-list",
            rule: cors_server(
                |o| (o == "https://app.example.org").then(|| o.to_owned()),
                Some("true"),
                true,
                true,
            ),
            allowed_origins: &["https://app.example.org"],
            expected: &[],
        },
    ];
    for case in &cases {
        let (v, _) = run_case(&pki, case).await;
        let mut got = ids(&v);
        got.sort_unstable();
        let mut want = case.expected.to_vec();
        want.sort_unstable();
        assert_eq!(got, want, "case {:?}: {:#?}", case.name, v.findings);
        let fails = case.expected.iter().any(|id| {
            v.findings
                .iter()
                .any(|f| f.id == *id && f.severity >= Severity::Low)
        });
        let want_status = if fails { Status::Fail } else { Status::Pass };
        assert_eq!(v.status, want_status, "case {:?}", case.name);
        if case.name == "the site's domain matched by its end" {
            // One finding per id, naming every probe that raised it.
            let f = v
                .findings
                .iter()
                .find(|f| f.id == "origin_bypass_with_credentials")
                .unwrap();
            assert!(
                f.evidence.starts_with("suffix ") && f.evidence.contains("; also allowed_suffix "),
                "{}",
                f.evidence
            );
        }
    }
}

#[tokio::test]
async fn credentialed_reflection_is_critical_and_the_gauges_say_so() {
    let pki = Pki::new();
    let case = Case {
        name: "reflect",
        rule: cors_server(echo, Some("true"), false, false),
        allowed_origins: &[],
        expected: &[],
    };
    let (v, reqs) = run_case(&pki, &case).await;
    let f = v
        .findings
        .iter()
        .find(|f| f.id == "reflect_any_with_credentials")
        .unwrap();
    assert_eq!(f.severity, Severity::Critical);
    assert!(f.evidence.contains("corsprobe-"), "{}", f.evidence);
    assert_eq!(v.max_severity(), Some(Severity::Critical));
    let m = |name: &str| {
        v.measurements
            .iter()
            .find(|m| m.gauge.name == name)
            .unwrap()
            .value
    };
    assert_eq!(m("cors_allows_arbitrary_origin"), 1.0);
    assert_eq!(m("cors_allows_null_origin"), 1.0);
    assert_eq!(m("cors_origin_bypass"), 1.0);
    assert_eq!(m("cors_credentials_allowed"), 1.0);
    assert_eq!(m("cors_vary_origin"), 0.0);
    // Origins are sent in lower case, no cookies, only GET and one OPTIONS per path.
    let cors: Vec<&Req> = reqs
        .iter()
        .filter(|r| r.header("accept") == Some("*/*"))
        .collect();
    assert_eq!(cors.len(), 10, "{cors:#?}");
    assert!(cors.iter().all(|r| r.header("cookie").is_none()));
    assert_eq!(cors.iter().filter(|r| r.method == "OPTIONS").count(), 1);
    assert!(
        cors.iter()
            .all(|r| matches!(r.method.as_str(), "GET" | "OPTIONS"))
    );
    for r in &cors {
        if let Some(o) = r.header("origin") {
            assert_eq!(o, o.to_ascii_lowercase());
        }
    }
}

#[tokio::test]
async fn the_request_budget_holds_with_paths_and_allowed_origins() {
    let pki = Pki::new();
    let server = TestServer::https(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&[HOST])),
        |_: &Req| Resp::new(404).body("nope"),
    )
    .await;
    let mut t = target(
        &format!("https://{HOST}:{}/", server.addr.port()),
        pki.client(),
        None,
    );
    t.resolve = Some(IpAddr::from([127, 0, 0, 1]));
    t.options.cors.paths = vec!["/api/me".into(), "/api/cart".into()];
    t.options.cors.allowed_origins =
        vec!["https://app.example.org".into(), "*".into(), "null".into()];
    let v = verdict(&t, "cors").await;
    assert_eq!(ids(&v), ["cors_not_enabled"]);
    let cors: Vec<Req> = server
        .requests()
        .into_iter()
        .filter(|r| r.header("accept") == Some("*/*"))
        .collect();
    // 3 paths × (10 + 3 for the one allowed origin that is an origin).
    assert_eq!(cors.len(), 39);
    assert_eq!(cors.len(), probes::cors::budget(&t));
    for p in ["/", "/api/me", "/api/cart"] {
        assert_eq!(cors.iter().filter(|r| r.path == p).count(), 13, "{p}");
    }
}

#[tokio::test]
async fn an_ip_literal_target_gets_no_domain_look_alikes() {
    let pki = Pki::new();
    let server = TestServer::https(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&["127.0.0.1"])),
        |_: &Req| Resp::new(200).body("ok"),
    )
    .await;
    let t = target(&server.url("https", "/"), pki.client(), None);
    verdict(&t, "cors").await;
    let origins: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.header("accept") == Some("*/*"))
        .map(|r| r.header("origin").unwrap_or("(none)").to_owned())
        .collect();
    // baseline, own, arbitrary, null, http_scheme, preflight.
    assert_eq!(origins.len(), 6, "{origins:?}");
    let port = server.addr.port();
    assert!(origins.contains(&format!("https://127.0.0.1:{port}")));
    assert!(origins.contains(&format!("http://127.0.0.1:{port}")));
    assert!(origins.contains(&"null".to_owned()));
    assert!(!origins.iter().any(|o| o.contains("127.0.0.1.example.net")));
}

#[tokio::test]
async fn credentials_only_when_cors_opts_in_and_never_on_a_bad_certificate() {
    let pki = Pki::new();
    let server = TestServer::https(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&["127.0.0.1"])),
        |_: &Req| Resp::new(200).body("ok"),
    )
    .await;
    let mut t = target(&server.url("https", "/"), pki.client(), None);
    t.credentials = vec![probes::evidence::Credential {
        name: http::header::AUTHORIZATION,
        value: http::HeaderValue::from_static("Bearer s3cret"),
    }];
    verdict(&t, "cors").await;
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("authorization").is_none())
    );
    t.credential_probes = vec![ProbeKind::Cors];
    verdict(&t, "cors").await;
    let with: Vec<Req> = server
        .requests()
        .into_iter()
        .filter(|r| r.header("authorization").is_some())
        .collect();
    assert_eq!(with.len(), 6, "every cors request of the second run");
    assert!(with.iter().all(|r| r.header("accept") == Some("*/*")));

    // An untrusted certificate: skipped(invalid_cert), and no credential is ever sent.
    let other = Pki::new();
    let bad = TestServer::https(
        "127.0.0.1",
        other.server_config(&Leaf::valid(&["127.0.0.1"])),
        |_: &Req| Resp::new(200).body("ok"),
    )
    .await;
    let mut t2 = target(&bad.url("https", "/"), pki.client(), None);
    t2.credentials = t.credentials.clone();
    t2.credential_probes = vec![ProbeKind::Cors];
    let v = verdict(&t2, "cors").await;
    assert_eq!(v.status, Status::Skipped);
    assert_eq!(v.reason, Some("invalid_cert"));
    assert!(
        bad.requests()
            .iter()
            .all(|r| r.header("authorization").is_none())
    );
}

/// A server that closes the connection after every response without saying `Connection:
/// close` (HTTP/1.1 keep-alive implied): every request still gets its own live connection, no
/// dead-connection attempt eats the budget, and the reflection is found.
#[tokio::test]
async fn a_server_that_silently_closes_after_each_response_is_still_judged() {
    let pki = Pki::new();
    let srv = TestServer::https(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&["127.0.0.1"])),
        |r: &Req| {
            let mut head = String::from("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n");
            if let Some(o) = r.header("origin") {
                head.push_str(&format!(
                    "Access-Control-Allow-Origin: {o}\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n"
                ));
            }
            let body = "<p>ok</p>";
            let mut r = Resp::new(200);
            r.raw = Some(format!("{head}Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes());
            r
        },
    )
    .await;
    let t = target(&srv.url("https", "/"), pki.client(), None);
    let v = verdict(&t, "cors").await;
    assert_eq!(v.status, Status::Fail, "{:?} {:#?}", v.reason, v.findings);
    assert!(
        ids(&v).contains(&"reflect_any_with_credentials"),
        "{:#?}",
        v.findings
    );
    let v = verdict(&t, "error_disclosure").await;
    assert_ne!(v.status, Status::Error, "{:?}", v.reason);
}

/// A cors path whose handler closes the connection (an axum or actix handler that panics)
/// costs one request, and the run goes on to the next path; and a run cut short (here by a
/// per-route limiter's 429 on the last path) is judged on what it saw: the credentialed
/// reflection on `/api` stays critical instead of the whole check turning `error`.
#[tokio::test]
async fn a_failing_or_limited_cors_path_does_not_hide_a_reflection() {
    for limited in [false, true] {
        let pki = Pki::new();
        let srv = TestServer::https(
            "127.0.0.1",
            pki.server_config(&Leaf::valid(&["127.0.0.1"])),
            |r: &Req| match r.path.as_str() {
                "/panic" => Resp {
                    raw: Some(Vec::new()),
                    ..Resp::new(500)
                },
                "/login" => Resp::new(429).header("Retry-After", "9"),
                "/api" => match r.header("origin") {
                    Some(o) => Resp::new(200)
                        .header("Access-Control-Allow-Origin", o)
                        .header("Access-Control-Allow-Credentials", "true")
                        .header("Vary", "Origin"),
                    None => Resp::new(200),
                },
                _ => Resp::new(200).html("<p>shop</p>"),
            },
        )
        .await;
        let mut t = target(&srv.url("https", "/"), pki.client(), None);
        t.options.cors.paths = vec!["/panic".into(), "/api".into()];
        if limited {
            t.options.cors.paths.push("/login".into());
        }
        let v = verdict(&t, "cors").await;
        assert_eq!(
            v.status,
            Status::Fail,
            "{limited}: {:?} {:#?}",
            v.reason,
            v.findings
        );
        assert!(
            ids(&v).contains(&"reflect_any_with_credentials"),
            "{limited}: {:#?}",
            v.findings
        );
        let panics = srv.requests().iter().filter(|r| r.path == "/panic").count();
        assert_eq!(
            panics, 1,
            "{limited}: one request to a path that closes the connection"
        );
        // Without the reflecting path, what was seen proves nothing about the path that was
        // left unanswered: not a pass ("no Access-Control-Allow-Origin on any response"), an
        // error naming why.
        t.options.cors.paths.retain(|p| p != "/api");
        let v = verdict(&t, "cors").await;
        let reason = if limited {
            "rate_limited"
        } else {
            "connection_closed"
        };
        assert_eq!(
            (v.status, v.reason),
            (Status::Error, Some(reason)),
            "{limited}: {:#?}",
            v.findings
        );
    }
}

/// A keep-alive HTTP/1.1 server whose `/panic*` handlers read the request and drop the
/// connection without an answer (a Rust handler that panics), and whose `/api` reflects any
/// Origin with credentials. Returns its address and the request log (paths).
async fn keep_alive_server() -> (std::net::SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let log2 = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let log = Arc::clone(&log2);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let path = req.uri().path().to_owned();
                        log.lock().unwrap().push(path.clone());
                        let origin = req.headers().get("origin").cloned();
                        async move {
                            if path.starts_with("/panic") {
                                return Err("handler panicked");
                            }
                            let mut b = hyper::Response::builder().status(200);
                            if let (true, Some(o)) = (path == "/api", origin) {
                                b = b
                                    .header("access-control-allow-origin", o)
                                    .header("access-control-allow-credentials", "true")
                                    .header("vary", "Origin");
                            }
                            Ok(b.body(http_body_util::Full::new(bytes::Bytes::from_static(
                                b"<p>shop</p>",
                            )))
                            .unwrap())
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    (addr, log)
}

/// Over kept-alive connections, a request whose handler crashed cannot be told from one that
/// raced the server closing an idle connection; it is sent again once, and from then on the
/// run opens a new connection per request, so three crashing paths cost at most one extra
/// request in all (not one per request), and the reflection on `/api` is still found.
#[tokio::test]
async fn a_crashing_handler_gets_at_most_one_repeated_request_per_run() {
    let (addr, log) = keep_alive_server().await;
    let mut t = target(
        &format!("http://{addr}/"),
        Arc::new(probes::tls::TlsClient::new(&[]).unwrap()),
        None,
    );
    // Each crashing path follows one that kept its connection alive.
    t.options.cors.paths = vec![
        "/panic1".into(),
        "/api".into(),
        "/panic2".into(),
        "/ok".into(),
        "/panic3".into(),
    ];
    let v = verdict(&t, "cors").await;
    assert!(
        ids(&v).contains(&"reflect_any_with_credentials"),
        "{:?} {:#?}",
        v.reason,
        v.findings
    );
    let crashes = log
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p.starts_with("/panic"))
        .count();
    assert!(
        (3..=4).contains(&crashes),
        "one request per crashing path, one repeat in all: {crashes}"
    );
}

/// tracd (Trac 1.6) drops every `OPTIONS` request without an answer. A browser's preflight
/// fails there too, and a failed preflight grants nothing (CHECKS.md §8: permissive only with a
/// 2xx), so the run is judged on its answered requests: not `error (connection_closed)`, and
/// the probe did its work.
#[tokio::test]
async fn a_server_that_drops_preflights_is_judged_on_its_answers() {
    for reflects in [false, true] {
        let pki = Pki::new();
        let srv = TestServer::https(
            "127.0.0.1",
            pki.server_config(&Leaf::valid(&["127.0.0.1"])),
            move |r: &Req| {
                if r.method == "OPTIONS" {
                    return Resp {
                        raw: Some(Vec::new()),
                        ..Resp::new(500)
                    };
                }
                let page = Resp::new(200).html("<p>wiki</p>");
                match r.header("origin") {
                    Some(o) if reflects => page
                        .header("Access-Control-Allow-Origin", o)
                        .header("Access-Control-Allow-Credentials", "true")
                        .header("Vary", "Origin"),
                    _ => page,
                }
            },
        )
        .await;
        let t = target(&srv.url("https", "/"), pki.client(), None);
        let (runs, verdicts) = crate::support::evaluate(&{
            let mut t = t.clone();
            t.checks.retain(|c| c.id == "cors");
            t
        })
        .await;
        let v = &verdicts[0];
        let run = crate::support::run_of(&runs, ProbeKind::Cors);
        assert!(run.success, "{reflects}: {:?}", run.reason);
        if reflects {
            assert_eq!(v.status, Status::Fail, "{:#?}", v.findings);
            assert!(ids(v).contains(&"reflect_any_with_credentials"));
            assert!(!ids(v).contains(&"preflight_permissive_with_credentials"));
        } else {
            assert_eq!(
                (v.status, v.reason, ids(v)),
                (Status::Pass, None, vec!["cors_not_enabled"]),
                "{:#?}",
                v.findings
            );
        }
        let preflights = srv
            .requests()
            .iter()
            .filter(|r| r.method == "OPTIONS")
            .count();
        assert_eq!(preflights, 1, "{reflects}");
    }
}
