//! The `fetch` probe and the network engine: phases, chains as served, credentials, caps.

use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderName, HeaderValue};
use probes::evidence::{ChainEnd, Credential, Evidence};
use probes::probe::ProbeKind;
use probes::tls::Verification;

use crate::support::web::Web;
use crate::support::{Leaf, Pki, Resp, TestServer, evaluate, run_of, target};

fn credential() -> Credential {
    let mut value = HeaderValue::from_static("Bearer s3cret-token");
    value.set_sensitive(true);
    Credential {
        name: HeaderName::from_static("authorization"),
        value,
    }
}

async fn web() -> Web {
    let big = vec![b'x'; 2 * 1024 * 1024];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"<html><head><title>compressed</title></head></html>")
        .unwrap();
    let gz = gz.finish().unwrap();
    let a = vec![
        ("/", Resp::new(200).html("<p>home</p>")),
        ("/hop", Resp::redirect(302, "/")),
        ("/big", Resp::new(200).body(big)),
        (
            "/gzip",
            Resp::new(200)
                .header("Content-Encoding", "gzip")
                .header("Content-Type", "text/html")
                .body(gz),
        ),
        (
            "/dup",
            Resp::new(200)
                .header("X-Thing", "one")
                .header("X-Thing", "two"),
        ),
    ];
    let h = vec![("/", Resp::redirect(301, "https://{A}/"))];
    Web::start(a.clone(), vec![], a, h).await
}

#[tokio::test]
async fn all_five_phases_are_timed_for_a_named_host() {
    let web = web().await;
    // `localhost` comes from /etc/hosts, so the resolve phase is real.
    let url = format!("https://localhost:{}/", web.a.addr.port());
    let mut t = target(&url, web.pki.client(), Some(&web.h("/")));
    t.checks.retain(|c| c.id == "hsts");
    let (runs, _) = evaluate(&t).await;
    let run = run_of(&runs, ProbeKind::Fetch);
    assert!(run.success, "{:?}", run.reason);
    let Evidence::Fetch(f) = &run.evidence else {
        panic!()
    };
    let first = f.main.first().as_ref().unwrap();
    let tm = first.timings;
    assert!(
        !tm.resolve.is_zero()
            && !tm.connect.is_zero()
            && !tm.tls.is_zero()
            && !tm.processing.is_zero(),
        "{tm:?}"
    );
    let phases: Vec<&str> = run
        .measurements
        .iter()
        .filter(|m| m.gauge.name == "http_duration_seconds")
        .map(|m| m.labels[0].as_str())
        .collect();
    assert_eq!(
        phases,
        ["resolve", "connect", "tls", "processing", "transfer"]
    );
    let tls = first.tls.as_ref().unwrap();
    assert_eq!(tls.verification, Verification::Verified);
    assert!(matches!(tls.version, Some("tls1.3" | "tls1.2")));
    assert!(tls.cipher.is_some());
    assert_eq!(tls.alpn.as_deref(), Some("http/1.1"));
    assert_eq!(tls.sni.as_deref(), Some("localhost"));
    // The plain-HTTP chain was followed to HTTPS and recorded hop by hop.
    assert_eq!(f.http[0].hops.len(), 2);
    assert_eq!(f.http[0].end, ChainEnd::Final);
}

#[tokio::test]
async fn an_expired_certificate_keeps_its_chain_and_fails_probe_success() {
    let web = web().await;
    let t = target(&web.e.url("https", "/"), web.pki.client(), None);
    let (runs, _) = evaluate(&t).await;
    let run = run_of(&runs, ProbeKind::Fetch);
    assert!(!run.success);
    assert_eq!(run.reason, Some("expired"));
    let expiry = run
        .measurements
        .iter()
        .find(|m| m.gauge.name == "ssl_earliest_cert_expiry")
        .expect("expiry exported despite the failed verification")
        .value;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        expiry < now - 9.0 * 86400.0,
        "expiry {expiry} should be ten days in the past"
    );
    let Evidence::Fetch(f) = &run.evidence else {
        panic!()
    };
    let tls = f.main_tls().unwrap();
    assert_eq!(tls.chain.len(), 1);
    assert!(matches!(
        &tls.verification,
        Verification::Failed {
            reason: "expired",
            ..
        }
    ));
}

#[tokio::test]
async fn credentials_go_only_to_verified_https_on_the_target_host() {
    let web = web().await;
    // Verified: sent.
    let mut t = target(&web.a("/"), web.pki.client(), Some(&web.h("/")));
    t.credentials = vec![credential()];
    t.credential_probes = vec![ProbeKind::Fetch];
    t.checks.retain(|c| c.id == "hsts");
    evaluate(&t).await;
    let auth: Vec<Option<String>> = web
        .a
        .requests()
        .iter()
        .map(|r| r.header("authorization").map(str::to_owned))
        .collect();
    assert!(
        auth.contains(&Some("Bearer s3cret-token".to_owned())),
        "{auth:?}"
    );
    // Never over plain HTTP.
    assert!(
        web.h
            .requests()
            .iter()
            .all(|r| r.header("authorization").is_none())
    );

    // Unverified certificate (unknown CA): the request goes out without them.
    let mut t = target(&web.c.url("https", "/"), web.pki.client(), None);
    t.credentials = vec![credential()];
    t.credential_probes = vec![ProbeKind::Fetch, ProbeKind::Health];
    evaluate(&t).await;
    let reqs = web.c.requests();
    assert!(!reqs.is_empty());
    assert!(
        reqs.iter().all(|r| r.header("authorization").is_none()),
        "{reqs:?}"
    );

    // Not opted in: not sent either.
    let before = web.a.count();
    let mut t = target(&web.a("/"), web.pki.client(), None);
    t.credentials = vec![credential()];
    t.checks.retain(|c| c.id == "hsts");
    evaluate(&t).await;
    assert!(
        web.a.requests()[before..]
            .iter()
            .all(|r| r.header("authorization").is_none())
    );
}

#[tokio::test]
async fn credentials_never_appear_in_debug_output() {
    let c = credential();
    assert!(!format!("{c:?}").contains("s3cret"));
}

#[tokio::test]
async fn bodies_are_capped_and_decompressed_within_the_cap() {
    let web = web().await;
    let mut t = target(&web.a("/big"), web.pki.client(), None);
    t.checks.retain(|c| c.id == "hsts");
    let (runs, _) = evaluate(&t).await;
    let Evidence::Fetch(f) = &run_of(&runs, ProbeKind::Fetch).evidence else {
        panic!()
    };
    let main = f.main.final_response().unwrap();
    assert_eq!(main.body.len(), probes::fetch::MAIN_BODY_CAP);
    assert!(main.body_truncated);

    let mut t = target(&web.a("/gzip"), web.pki.client(), None);
    t.checks.retain(|c| c.id == "hsts");
    let (runs, _) = evaluate(&t).await;
    let Evidence::Fetch(f) = &run_of(&runs, ProbeKind::Fetch).evidence else {
        panic!()
    };
    let main = f.main.final_response().unwrap();
    assert!(
        main.body.starts_with(b"<html><head><title>compressed"),
        "{:?}",
        main.body
    );
    assert!(main.html.is_some());
}

#[tokio::test]
async fn repeated_field_lines_stay_apart_and_hops_are_recorded() {
    let web = web().await;
    let mut t = target(&web.a("/dup"), web.pki.client(), None);
    t.checks.retain(|c| c.id == "hsts");
    let (runs, _) = evaluate(&t).await;
    let Evidence::Fetch(f) = &run_of(&runs, ProbeKind::Fetch).evidence else {
        panic!()
    };
    let resp = f.main.final_response().unwrap();
    let lines: Vec<&[u8]> = resp.header_lines("x-thing").map(|v| v.as_bytes()).collect();
    assert_eq!(lines, [b"one".as_slice(), b"two".as_slice()]);
    assert_eq!(resp.combined("x-thing").as_deref(), Some("one, two"));

    let mut t = target(&web.a("/hop"), web.pki.client(), None);
    t.checks.retain(|c| c.id == "hsts");
    let (runs, _) = evaluate(&t).await;
    let run = run_of(&runs, ProbeKind::Fetch);
    let Evidence::Fetch(f) = &run.evidence else {
        panic!()
    };
    assert_eq!(f.main.hops.len(), 2);
    assert_eq!(f.main.first().as_ref().unwrap().status, 302);
    let redirects = run
        .measurements
        .iter()
        .find(|m| m.gauge.name == "http_redirects")
        .unwrap();
    assert_eq!(redirects.value, 1.0);
}

#[tokio::test]
async fn a_pinned_address_keeps_host_and_sni() {
    let pki = Pki::new();
    let srv = TestServer::https(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&["shop.test"])),
        |_req: &crate::support::Req| Resp::new(200).body("pinned"),
    )
    .await;
    let url = format!("https://shop.test:{}/", srv.addr.port());
    let mut t = target(&url, pki.client(), None);
    t.resolve = Some("127.0.0.1".parse().unwrap());
    t.checks.retain(|c| c.id == "hsts");
    let (runs, _) = evaluate(&t).await;
    let run = run_of(&runs, ProbeKind::Fetch);
    assert!(run.success, "{:?}", run.reason);
    let host = srv.requests()[0].header("host").unwrap().to_owned();
    assert_eq!(host, format!("shop.test:{}", srv.addr.port()));
}

#[tokio::test]
async fn http2_servers_are_spoken_to_in_http2() {
    let pki = Pki::new();
    let srv = TestServer::h2(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&["127.0.0.1"])),
        |_req: &crate::support::Req| {
            Resp::new(200)
                .header(
                    "Strict-Transport-Security",
                    "max-age=31536000; includeSubDomains",
                )
                .header("Set-Cookie", "a=1; Secure")
                .header("Set-Cookie", "b=2; Secure")
                .html("<p>h2</p>")
        },
    )
    .await;
    let mut t = target(&srv.url("https", "/"), pki.client(), None);
    t.checks.retain(|c| c.id == "hsts");
    let (runs, verdicts) = evaluate(&t).await;
    let run = run_of(&runs, ProbeKind::Fetch);
    assert!(run.success, "{:?}", run.reason);
    let Evidence::Fetch(f) = &run.evidence else {
        panic!()
    };
    let resp = f.main.final_response().unwrap();
    assert_eq!(resp.version, http::Version::HTTP_2);
    assert_eq!(resp.tls.as_ref().unwrap().alpn.as_deref(), Some("h2"));
    assert_eq!(resp.header_lines("set-cookie").count(), 2);
    assert_eq!(resp.body.as_ref(), b"<p>h2</p>");
    let version = run
        .measurements
        .iter()
        .find(|m| m.gauge.name == "http_version")
        .unwrap();
    assert_eq!(version.value, 2.0);
    assert!(
        verdicts[0].findings.is_empty(),
        "{:?}",
        verdicts[0].findings
    );
    assert_eq!(srv.requests()[0].path, "/");
}

/// A listener on `ip:port` whose accept queue is full: the kernel drops further SYNs, so a
/// connect to it hangs until the client's connect limit (a dead backend seen from outside).
/// Returns the listener and the connections that fill its queue; drop them to free it.
async fn clogged_listener(
    ip: &str,
    port: u16,
) -> (tokio::net::TcpListener, Vec<tokio::net::TcpStream>) {
    let addr: std::net::SocketAddr = format!("{ip}:{port}").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(addr).unwrap();
    let listener = socket.listen(0).unwrap();
    let mut held = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(
            Duration::from_millis(300),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            Ok(Ok(s)) => held.push(s),
            Ok(Err(e)) => panic!("filling the accept queue of {addr}: {e}"),
            // This connect hung: the queue is full.
            Err(_) => return (listener, held),
        }
    }
    panic!("the accept queue of {addr} never filled");
}

/// A name with two A records whose first backend never answers a SYN: the fetch engine gives
/// each address its own connect limit and goes on to the next, as a browser does, instead of
/// declaring the target unreachable.
#[tokio::test(flavor = "multi_thread")]
async fn a_dead_first_address_does_not_hide_the_live_second_one() {
    use crate::support::dns::{Answer, DnsServer, a};
    let pki = Pki::new();
    let live = TestServer::https(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&["shop.test"])),
        |_| Resp::new(200).body("ok"),
    )
    .await;
    let port = live.addr.port();
    let (_clogged, _held) = clogged_listener("127.0.0.2", port).await;
    let dns = DnsServer::start(|name, ty| match (name, ty) {
        ("shop.test", hickory_resolver::proto::rr::RecordType::A) => Answer::Records(vec![
            a("shop.test", "127.0.0.2"),
            a("shop.test", "127.0.0.1"),
        ]),
        _ => Answer::NoData,
    })
    .await;
    let engine = crate::support::engine_with_dns(dns.addr, Duration::from_secs(2));
    let mut t = target(&format!("https://shop.test:{port}/"), pki.client(), None);
    t.checks.retain(|c| c.id == "health");
    let (runs, verdicts) = crate::support::evaluate_with(&engine, &t).await;
    // Not unreachable: the second address answered, after the first one's 5 s connect limit,
    // which the latency budget (2 s) rightly reports.
    let ids: Vec<_> = verdicts[0].findings.iter().map(|f| f.id).collect();
    assert_eq!(ids, ["slow"], "{:?}", verdicts[0].findings);
    let run = run_of(&runs, ProbeKind::Health);
    assert!(run.success, "{:?}", run.reason);
    assert_eq!(live.count(), 1);
}
