//! `rate_limit` (CHECKS.md §12): every finding id from a real limiter, the burst's hard caps
//! proven by the server's request counter (stop at the first 429, never more than N or the cap),
//! the advertised-quota rule and the header styles.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use probes::checks::rate_limit::RateLimitMethod;
use probes::probe::ProbeKind;
use probes::target::Target;
use probes::verdict::{Severity, Status, Verdict};

use crate::support::{Leaf, Pki, Req, Resp, TestServer, ids, target, verdict};

/// A limiter on `/login`: requests after the first `allow` get `limited` (the home page, which
/// the health probe reads, is never limited). `headers` go on every `/login` answer.
async fn limiter(
    pki: &Pki,
    allow: usize,
    limited: Resp,
    headers: &'static [(&'static str, &'static str)],
) -> (TestServer, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    let srv = TestServer::https(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&["127.0.0.1"])),
        move |r: &Req| {
            if r.path != "/login" {
                return Resp::new(200).body("ok");
            }
            let n = h.fetch_add(1, Ordering::SeqCst) + 1;
            let mut resp = if n > allow {
                limited.clone()
            } else {
                Resp::new(200).body("login form")
            };
            for (k, v) in headers {
                resp = resp.header(k, v);
            }
            resp
        },
    )
    .await;
    (srv, hits)
}

/// A kept-alive `/login` that reads its `drop_at`-th request and closes the connection without
/// an answer (a crashing handler, or an idle close racing the request); `headers` go on every
/// answer. (Its server, its `/login` counter.)
async fn dropping_login(
    pki: &Pki,
    drop_at: usize,
    headers: &'static [(&'static str, &'static str)],
) -> (TestServer, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    let srv = TestServer::keep_alive(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&["127.0.0.1"])),
        move |r: &Req| {
            if r.path != "/login" {
                return Resp::new(200).body("ok");
            }
            if h.fetch_add(1, Ordering::SeqCst) + 1 == drop_at {
                return Resp {
                    raw: Some(Vec::new()),
                    ..Resp::new(500)
                };
            }
            headers
                .iter()
                .fold(Resp::new(200).body("login form"), |r, (k, v)| {
                    r.header(k, v)
                })
        },
    )
    .await;
    (srv, hits)
}

fn rl_target(srv: &TestServer, pki: &Pki) -> Target {
    let mut t = target(&srv.url("https", "/"), pki.client(), None);
    t.checks = vec![&probes::checks::rate_limit::CHECK];
    t.options.rate_limit.path = Some("/login".into());
    t.options.rate_limit.rps = 20;
    t
}

/// A burst of at most 8 against a fresh [`limiter`]: (its server, the verdict).
async fn burst_of_eight(
    pki: &Pki,
    allow: usize,
    limited: Resp,
    headers: &'static [(&'static str, &'static str)],
) -> (TestServer, Verdict) {
    let (srv, _) = limiter(pki, allow, limited, headers).await;
    let mut t = rl_target(&srv, pki);
    t.options.rate_limit.burst = 8;
    let v = verdict(&t, "rate_limit").await;
    (srv, v)
}

fn gauge(v: &Verdict, name: &str) -> f64 {
    v.measurements
        .iter()
        .find(|m| m.gauge.name == name && m.labels.is_empty())
        .unwrap()
        .value
}

fn style(v: &Verdict, s: &str) -> f64 {
    v.measurements
        .iter()
        .find(|m| m.gauge.name == "ratelimit_headers_present" && m.labels == [s])
        .unwrap()
        .value
}

fn login_requests(srv: &TestServer) -> usize {
    srv.requests().iter().filter(|r| r.path == "/login").count()
}

#[tokio::test]
async fn a_429_with_retry_after_after_five_requests_passes_and_stops_the_burst() {
    let pki = Pki::new();
    let (srv, _) = limiter(
        &pki,
        5,
        Resp::new(429).header("Retry-After", "30").body("slow down"),
        &[],
    )
    .await;
    let t = rl_target(&srv, &pki);
    let v = verdict(&t, "rate_limit").await;
    assert_eq!(v.status, Status::Pass, "{:#?}", v.findings);
    assert!(v.findings.is_empty());
    assert_eq!(gauge(&v, "ratelimit_limited"), 1.0);
    assert_eq!(gauge(&v, "ratelimit_first_limited_request"), 6.0);
    assert_eq!(gauge(&v, "ratelimit_requests_sent"), 6.0);
    assert_eq!(gauge(&v, "ratelimit_retry_after_seconds"), 30.0);
    // The burst stopped at the first 429: the server saw exactly six requests, all GETs
    // without credentials or cookies.
    assert_eq!(login_requests(&srv), 6);
    let reqs = srv.requests();
    assert!(reqs.iter().all(|r| r.method == "GET"));
    assert!(
        reqs.iter()
            .all(|r| r.header("authorization").is_none() && r.header("cookie").is_none())
    );
}

#[tokio::test]
async fn every_finding_from_real_limiters() {
    let pki = Pki::new();
    struct Case {
        name: &'static str,
        allow: usize,
        limited: Resp,
        headers: &'static [(&'static str, &'static str)],
        expected: &'static [&'static str],
        status: Status,
        requests: usize,
    }
    let never = usize::MAX;
    let cases = vec![
        Case {
            name: "429 without Retry-After",
            allow: 3,
            limited: Resp::new(429),
            headers: &[],
            expected: &["no_retry_after"],
            status: Status::Pass,
            requests: 4,
        },
        Case {
            name: "429 with an invalid Retry-After",
            allow: 3,
            limited: Resp::new(429).header("Retry-After", "soon"),
            headers: &[],
            expected: &["retry_after_invalid"],
            status: Status::Fail,
            requests: 4,
        },
        Case {
            name: "429 with an HTTP-date Retry-After",
            allow: 2,
            limited: Resp::new(429)
                .header("Date", "Sun, 06 Nov 1994 08:49:37 GMT")
                .header("Retry-After", "Sun, 06 Nov 1994 08:50:37 GMT"),
            headers: &[],
            expected: &[],
            status: Status::Pass,
            requests: 3,
        },
        Case {
            name: "limited by a 503 with Retry-After",
            allow: 2,
            limited: Resp::new(503).header("Retry-After", "5"),
            headers: &[],
            expected: &["limited_with_503"],
            status: Status::Pass,
            requests: 3,
        },
        Case {
            name: "a path that is never limited",
            allow: never,
            limited: Resp::new(200),
            headers: &[],
            expected: &["no_rate_limit_observed"],
            status: Status::Fail,
            requests: 8,
        },
        Case {
            name: "an advertised quota that is not enforced",
            allow: never,
            limited: Resp::new(200),
            headers: &[
                ("RateLimit-Policy", "\"burst\";q=3;w=60"),
                ("RateLimit", "\"burst\";r=3;t=60"),
            ],
            expected: &["limit_not_enforced"],
            status: Status::Fail,
            requests: 4,
        },
        Case {
            name: "an advertised quota above the cap is not tested",
            allow: never,
            limited: Resp::new(200),
            headers: &[("RateLimit-Policy", "\"day\";q=1000;w=86400")],
            expected: &["advertised_not_tested"],
            status: Status::Pass,
            requests: 8,
        },
        // CHECKS.md §12: q, r ≥ 0 and w > 0; a field outside them is malformed, ignored.
        Case {
            name: "draft -10 parameters out of range",
            allow: never,
            limited: Resp::new(200),
            headers: &[
                ("RateLimit-Policy", "\"p\";q=-1;w=60"),
                ("RateLimit", "\"p\";r=-3"),
            ],
            expected: &["ratelimit_header_malformed", "no_rate_limit_observed"],
            status: Status::Fail,
            requests: 8,
        },
        Case {
            name: "a zero window does not size the burst",
            allow: never,
            limited: Resp::new(200),
            headers: &[("RateLimit-Policy", "\"p\";q=5;w=0")],
            expected: &["ratelimit_header_malformed", "no_rate_limit_observed"],
            status: Status::Fail,
            requests: 8,
        },
        Case {
            name: "malformed RateLimit fields",
            allow: 1,
            limited: Resp::new(429).header("Retry-After", "1"),
            headers: &[("RateLimit", "50 left!!")],
            expected: &["ratelimit_header_malformed"],
            status: Status::Pass,
            requests: 2,
        },
    ];
    for case in cases {
        let (srv, v) = burst_of_eight(&pki, case.allow, case.limited, case.headers).await;
        assert_eq!(ids(&v), case.expected, "{}: {:#?}", case.name, v.findings);
        assert_eq!(v.status, case.status, "{}", case.name);
        assert_eq!(login_requests(&srv), case.requests, "{}", case.name);
        assert_eq!(
            gauge(&v, "ratelimit_requests_sent"),
            case.requests as f64,
            "{}",
            case.name
        );
    }
}

/// Out-of-range draft -10 fields are ignored (CHECKS.md §12): no `ietf` style, no quota.
#[tokio::test]
async fn out_of_range_draft_10_fields_are_no_style_and_no_quota() {
    let pki = Pki::new();
    let (_, v) = burst_of_eight(
        &pki,
        usize::MAX,
        Resp::new(200),
        &[
            ("RateLimit-Policy", "\"p\";q=-1;w=60"),
            ("RateLimit", "\"p\";r=-3"),
        ],
    )
    .await;
    assert_eq!(style(&v, "ietf"), 0.0);
    assert_eq!(gauge(&v, "ratelimit_policy_quota"), -1.0);
    assert_eq!(gauge(&v, "ratelimit_remaining"), -1.0);
    let malformed: Vec<&str> = v
        .findings
        .iter()
        .filter(|f| f.id == "ratelimit_header_malformed")
        .map(|f| f.evidence.as_str())
        .collect();
    assert_eq!(
        malformed,
        ["RateLimit-Policy: \"p\";q=-1;w=60"],
        "{:#?}",
        v.findings
    );
}

#[tokio::test]
async fn a_server_error_aborts_the_burst_with_status_error() {
    let pki = Pki::new();
    let (srv, _) = limiter(&pki, 2, Resp::new(500).body("boom"), &[]).await;
    let t = rl_target(&srv, &pki);
    let v = verdict(&t, "rate_limit").await;
    assert_eq!(v.status, Status::Error);
    assert_eq!(v.reason, Some("aborted_server_error"));
    assert_eq!(login_requests(&srv), 3);
    // The info finding of CHECKS.md §12 says where and why it stopped.
    assert_eq!(ids(&v), ["aborted_server_error"]);
    assert_eq!(v.findings[0].severity, Severity::Info);
    assert!(
        v.findings[0].evidence.starts_with("request 3 → 500"),
        "{}",
        v.findings[0].evidence
    );

    // nginx's default limit_req status: 503 without Retry-After is no rate limit (§12).
    let (srv, _) = limiter(&pki, 2, Resp::new(503).body("busy"), &[]).await;
    let v = verdict(&rl_target(&srv, &pki), "rate_limit").await;
    assert_eq!(v.reason, Some("aborted_server_error"));
    assert!(
        v.findings[0]
            .evidence
            .starts_with("request 3 → 503 without Retry-After"),
        "{}",
        v.findings[0].evidence
    );
}

#[tokio::test]
async fn an_advertised_quota_sizes_the_burst_and_styles_are_recognised() {
    let pki = Pki::new();
    // draft -10 fields: q = 4 per 10 s, enforced: N = q + 1 = 5, the fifth is limited.
    let (srv, _) = limiter(
        &pki,
        4,
        Resp::new(429).header("Retry-After", "10"),
        &[
            ("RateLimit-Policy", "\"per10s\";q=4;w=10"),
            ("RateLimit", "\"per10s\";r=3;t=10"),
        ],
    )
    .await;
    let t = rl_target(&srv, &pki);
    let v = verdict(&t, "rate_limit").await;
    assert_eq!(v.status, Status::Pass, "{:#?}", v.findings);
    assert_eq!(login_requests(&srv), 5);
    assert_eq!(gauge(&v, "ratelimit_policy_quota"), 4.0);
    assert_eq!(gauge(&v, "ratelimit_policy_window_seconds"), 10.0);
    assert_eq!(gauge(&v, "ratelimit_remaining"), 3.0);
    assert_eq!(gauge(&v, "ratelimit_reset_seconds"), 10.0);
    assert_eq!(style(&v, "ietf"), 1.0);
    assert_eq!(style(&v, "draft7"), 0.0);

    // drafts -07/-08 (express-rate-limit) and the legacy X- fields.
    let (srv, _) = limiter(
        &pki,
        2,
        Resp::new(429).header("Retry-After", "60"),
        &[
            ("RateLimit", "limit=2, remaining=0, reset=60"),
            ("RateLimit-Policy", "2;w=60"),
            ("X-RateLimit-Limit", "2"),
            ("X-RateLimit-Remaining", "0"),
        ],
    )
    .await;
    let v = verdict(&rl_target(&srv, &pki), "rate_limit").await;
    assert_eq!(style(&v, "draft7"), 1.0);
    assert_eq!(style(&v, "legacy_x"), 1.0);
    assert_eq!(style(&v, "legacy_draft"), 0.0);
    assert_eq!(style(&v, "ietf"), 0.0);
    assert_eq!(
        login_requests(&srv),
        3,
        "N = q + 1 = 3, the third is limited"
    );

    let (srv, _) = limiter(
        &pki,
        1,
        Resp::new(429).header("Retry-After", "1"),
        &[
            ("RateLimit-Limit", "10"),
            ("RateLimit-Remaining", "9"),
            ("RateLimit-Reset", "30"),
        ],
    )
    .await;
    let v = verdict(&rl_target(&srv, &pki), "rate_limit").await;
    assert_eq!(style(&v, "legacy_draft"), 1.0);
    assert_eq!(gauge(&v, "ratelimit_reset_seconds"), 30.0);
}

#[tokio::test]
async fn the_burst_never_exceeds_its_cap() {
    let pki = Pki::new();
    let (srv, _) = limiter(&pki, usize::MAX, Resp::new(200), &[]).await;
    let mut t = rl_target(&srv, &pki);
    t.options.rate_limit.burst = 500;
    t.options.rate_limit.cap = 6;
    let v = verdict(&t, "rate_limit").await;
    assert_eq!(login_requests(&srv), 6);
    assert_eq!(ids(&v), ["no_rate_limit_observed"]);

    // An advertised quota that would need more than the cap is not chased.
    let (srv, _) = limiter(
        &pki,
        usize::MAX,
        Resp::new(200),
        &[("RateLimit-Policy", "\"min\";q=50;w=60")],
    )
    .await;
    let mut t = rl_target(&srv, &pki);
    t.options.rate_limit.burst = 4;
    t.options.rate_limit.cap = 10;
    let v = verdict(&t, "rate_limit").await;
    assert_eq!(login_requests(&srv), 4);
    assert_eq!(ids(&v), ["advertised_not_tested"]);
}

/// CHECKS.md §12 step 5: a connection the server closes under a burst request, without an
/// answer, is a connection error and ends the burst there: nothing is sent again (a login POST
/// would reach the server twice), the server's counter is the request number the evidence
/// names, and the verdict is `error` with `aborted_server_error`. Each burst request has its
/// own connection, so no idle-close race makes a live server look like it dropped one.
#[tokio::test]
async fn a_dropped_request_ends_the_burst_and_is_not_resent() {
    let pki = Pki::new();
    let policy: &[(&str, &str)] = &[("RateLimit-Policy", "\"min\";q=5;w=60")];
    for (drop_at, headers) in [(3, &[][..]), (5, policy)] {
        let (srv, hits) = dropping_login(&pki, drop_at, headers).await;
        let mut t = rl_target(&srv, &pki);
        t.options.rate_limit.cap = 10;
        let v = verdict(&t, "rate_limit").await;
        assert_eq!(hits.load(Ordering::SeqCst), drop_at, "{v:#?}");
        assert_eq!(gauge(&v, "ratelimit_requests_sent"), drop_at as f64);
        assert_eq!(
            (v.status, ids(&v)),
            (Status::Error, vec!["aborted_server_error"]),
            "{v:#?}"
        );
        let evidence = crate::support::evidence(&v, "aborted_server_error");
        assert!(
            evidence.contains(&format!("request {drop_at}")),
            "{evidence}"
        );
    }
}

/// CHECKS.md §12 steps 3–4: N = q + 1 only when it fits under the cap and into the 30 s burst
/// at the configured rps; otherwise N = burst, and the evidence says why the quota was not
/// tested.
#[tokio::test]
async fn an_advertised_quota_that_does_not_fit_in_30_s_is_not_chased() {
    let pki = Pki::new();
    type Headers = &'static [(&'static str, &'static str)];
    // (RateLimit-Policy, how the evidence ends): without a window, that is the reason first.
    let cases: [(Headers, &str); 2] = [
        (
            &[("RateLimit-Policy", "\"min\";q=180;w=60")],
            "advertised quota 180 per 60 s; sent 4, not exceeded on purpose \
             (q+1 = 181 requests do not fit in 30 s at 6 rps)",
        ),
        (
            &[("RateLimit-Policy", "\"min\";q=180")],
            "(no window of at most 60 s is advertised)",
        ),
    ];
    for (headers, reason) in cases {
        let (srv, _) = limiter(&pki, usize::MAX, Resp::new(200), headers).await;
        let mut t = rl_target(&srv, &pki);
        t.options.rate_limit.cap = 200;
        t.options.rate_limit.rps = 6;
        t.options.rate_limit.burst = 4;
        let v = verdict(&t, "rate_limit").await;
        assert_eq!(
            login_requests(&srv),
            4,
            "{headers:?}: N = burst, 181 > 6 rps × 30 s"
        );
        assert_eq!(
            ids(&v),
            ["advertised_not_tested"],
            "{headers:?}: {:#?}",
            v.findings
        );
        assert_eq!(v.status, Status::Pass, "{headers:?}");
        let e = &v.findings[0].evidence;
        assert!(e.ends_with(reason), "{headers:?}: {e}");
    }
}

/// CHECKS.md §12 step 4: at most `rps` requests a second. A slow first answer (a cold start)
/// must not make the following requests rush to catch up with a fixed schedule: each starts
/// at least 1/rps after the previous one.
#[tokio::test(flavor = "multi_thread")]
async fn a_slow_first_answer_does_not_make_the_burst_rush() {
    let pki = Pki::new();
    let first = Arc::new(AtomicUsize::new(0));
    let srv = TestServer::https(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&["127.0.0.1"])),
        move |r: &Req| {
            if r.path == "/login" && first.fetch_add(1, Ordering::SeqCst) == 0 {
                // Blocks this connection's task only; the runtime has other workers.
                std::thread::sleep(std::time::Duration::from_millis(600));
            }
            Resp::new(200).body("ok")
        },
    )
    .await;
    let mut t = rl_target(&srv, &pki);
    t.options.rate_limit.burst = 6;
    let (runs, verdicts) = crate::support::evaluate(&t).await;
    assert_eq!(ids(&verdicts[0]), ["no_rate_limit_observed"]);
    let run = crate::support::run_of(&runs, ProbeKind::RateLimit);
    let probes::evidence::Evidence::RateLimit(e) = &run.evidence else {
        panic!("{:?}", run.evidence)
    };
    assert_eq!(e.attempts.len(), 6);
    let step = std::time::Duration::from_millis(1000 / 20);
    for pair in e.attempts.windows(2) {
        assert!(pair[1].at >= pair[0].at + step, "{:?}", e.attempts);
    }
    assert!(e.attempts[1].at >= std::time::Duration::from_millis(600));
}

#[tokio::test]
async fn head_and_post_bursts_send_only_what_is_configured() {
    let pki = Pki::new();
    let (srv, _) = limiter(&pki, 2, Resp::new(429).header("Retry-After", "5"), &[]).await;
    let mut t = rl_target(&srv, &pki);
    t.options.rate_limit.method = RateLimitMethod::Post;
    t.options.rate_limit.body = "user=probe&password=wrong".into();
    verdict(&t, "rate_limit").await;
    let posts: Vec<Req> = srv
        .requests()
        .into_iter()
        .filter(|r| r.path == "/login")
        .collect();
    assert_eq!(posts.len(), 3);
    assert!(posts.iter().all(|r| r.method == "POST"));
    assert!(
        posts
            .iter()
            .all(|r| r.header("content-length") == Some("25"))
    );
    assert!(
        posts
            .iter()
            .all(|r| { r.header("content-type") == Some("application/x-www-form-urlencoded") })
    );

    let (srv, _) = limiter(&pki, 1, Resp::new(429).header("Retry-After", "5"), &[]).await;
    let mut t = rl_target(&srv, &pki);
    t.options.rate_limit.method = RateLimitMethod::Head;
    let v = verdict(&t, "rate_limit").await;
    assert_eq!(v.status, Status::Pass);
    assert!(
        srv.requests()
            .iter()
            .filter(|r| r.path == "/login")
            .all(|r| r.method == "HEAD")
    );
}

#[tokio::test]
async fn health_failing_skips_the_burst_without_sending() {
    let pki = Pki::new();
    let srv = TestServer::https(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&["127.0.0.1"])),
        |_: &Req| Resp::new(503).body("down"),
    )
    .await;
    let t = rl_target(&srv, &pki);
    // The scheduler's gate records this run when health does not pass (tests/integration/
    // safety.rs drives the gate itself); its verdict is skipped(health_failing).
    let run = probes::rate_limit::skipped_run(&t, "health_failing");
    assert_eq!(run.kind, ProbeKind::RateLimit);
    let mut evidence = probes::evidence::EvidenceSet::default();
    evidence.insert(Arc::new(run));
    let previous = Default::default();
    let input = probes::checks::CheckInput {
        target: &t,
        evidence: &evidence,
        previous: &previous,
        now: std::time::SystemTime::now(),
    };
    let v = probes::checks::evaluate(&probes::checks::rate_limit::CHECK, &input);
    assert_eq!(v.status, Status::Skipped);
    assert_eq!(v.reason, Some("health_failing"));
    assert_eq!(srv.count(), 0);
}

#[tokio::test]
async fn a_limiter_answering_403_is_shown_in_the_evidence_and_legacy_quotas_are_held_to_their_reset()
 {
    let pki = Pki::new();
    // django-ratelimit's default: 403 once the quota is spent, no rate-limit fields. Not a 429
    // (CHECKS.md §12), but the evidence shows where the answers changed.
    let (_, v) = burst_of_eight(&pki, 3, Resp::new(403).body("Forbidden"), &[]).await;
    assert_eq!(ids(&v), ["no_rate_limit_observed"], "{:#?}", v.findings);
    assert!(
        v.findings[0]
            .evidence
            .ends_with("(statuses: 200 ×3, 403 ×5)"),
        "{}",
        v.findings[0].evidence
    );

    // Flask-Limiter with `on_breach` answering 403: `X-RateLimit-Limit: 3` and a reset a
    // minute away, no window. The burst outran the quota inside that reset: not enforced.
    let (_, v) = burst_of_eight(
        &pki,
        3,
        Resp::new(403).body("forbidden"),
        &[("X-RateLimit-Limit", "3"), ("X-RateLimit-Reset", "60")],
    )
    .await;
    assert_eq!(ids(&v), ["limit_not_enforced"], "{:#?}", v.findings);
    assert_eq!(v.status, Status::Fail);
    let e = &v.findings[0].evidence;
    assert!(
        e.contains("the first response's reset was 60 s away, sent as delta seconds)")
            && e.contains("403 ×5"),
        "{e}"
    );

    // Flask-Limiter's default reset is a Unix timestamp (above 10^9, CHECKS.md §12): read
    // against the response's Date, and the evidence says which form it was.
    let (_, v) = burst_of_eight(
        &pki,
        3,
        Resp::new(403).body("forbidden"),
        &[
            ("Date", "Wed, 21 Oct 2015 07:28:00 GMT"),
            ("X-RateLimit-Limit", "3"),
            ("X-RateLimit-Reset", "1445412540"),
        ],
    )
    .await;
    assert_eq!(ids(&v), ["limit_not_enforced"], "{:#?}", v.findings);
    let e = &v.findings[0].evidence;
    assert!(
        e.contains("the first response's reset was 60 s away, sent as a Unix timestamp)"),
        "{e}"
    );

    // The same quota with a reset already due: the burst may have spanned two windows, so
    // nothing is claimed.
    let (_, v) = burst_of_eight(
        &pki,
        usize::MAX,
        Resp::new(200),
        &[("X-RateLimit-Limit", "3"), ("X-RateLimit-Reset", "0")],
    )
    .await;
    assert!(v.findings.is_empty(), "{:#?}", v.findings);
    assert_eq!(v.status, Status::Pass);
}
