//! `tls_version` (CHECKS.md §10): rustls servers restricted to TLS 1.2 or 1.3, Debian's
//! `openssl s_server` for TLS 1.0 and 1.1 (security level 0) and for a TLS 1.2 server with
//! legacy suites only, and, for what no current server speaks (SSLv3, SSLv2, broken version
//! negotiation, silence), a scripted TCP server replaying committed bytes, named so.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use probes::context::ProbeContext;
use probes::evidence::ProbeRun;
use probes::measure::Measurement;
use probes::probe::{self, ProbeKind};
use probes::target::Target;
use probes::verdict::{Status, Verdict};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::openssl::{self, SServer};
use crate::support::{Leaf, Pki, Resp, TestServer, engine, ids, judge, target};

async fn run_versions(t: &Target, budget: Duration) -> (ProbeRun, Verdict) {
    let engine = engine();
    let cx = ProbeContext {
        engine: &engine,
        deadline: tokio::time::Instant::now() + budget,
    };
    let run = probe::run(ProbeKind::TlsVersions, t, &cx).await;
    let v = judge(t, vec![run.clone()], "tls_version");
    (run, v)
}

fn accepted(v: &Verdict, version: &str) -> f64 {
    gauge(&v.measurements, "tls_version_accepted", &[version])
}

fn gauge(ms: &[Measurement], name: &str, labels: &[&str]) -> f64 {
    ms.iter()
        .find(|m| m.gauge.name == name && m.labels.iter().zip(labels).all(|(a, b)| a == b))
        .unwrap_or_else(|| panic!("{name}{labels:?} missing: {ms:?}"))
        .value
}

fn sorted(v: &Verdict) -> Vec<&'static str> {
    let mut i = ids(v);
    i.sort_unstable();
    i
}

fn rustls_only(
    pki: &Pki,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ServerConfig> {
    let (chain, key) = pki.leaf(&Leaf::valid(&["127.0.0.1"]));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    Arc::new(cfg)
}

fn versions_target(url: &str, pki: &Pki) -> Target {
    let mut t = target(url, pki.client(), None);
    t.checks.retain(|c| c.id == "tls_version");
    t
}

#[tokio::test(flavor = "multi_thread")]
async fn tls12_only_and_tls13_only_rustls_servers() {
    let pki = Pki::new();
    let only12 = TestServer::https(
        "127.0.0.1",
        rustls_only(&pki, &[&rustls::version::TLS12]),
        |_| Resp::new(200),
    )
    .await;
    let only13 = TestServer::https(
        "127.0.0.1",
        rustls_only(&pki, &[&rustls::version::TLS13]),
        |_| Resp::new(200),
    )
    .await;
    let both = TestServer::https(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&["127.0.0.1"])),
        |_| Resp::new(200),
    )
    .await;

    let (run, v) = run_versions(
        &versions_target(&only12.url("https", "/"), &pki),
        Duration::from_secs(30),
    )
    .await;
    assert!(run.success, "{:?}", run.reason);
    assert_eq!(sorted(&v), ["tls13_unsupported"]);
    assert_eq!(v.status, Status::Pass, "info never fails");
    assert_eq!(accepted(&v, "tls1.2"), 1.0);
    assert_eq!(accepted(&v, "tls1.3"), 0.0);
    for legacy in ["ssl3", "tls1.0", "tls1.1"] {
        assert_eq!(accepted(&v, legacy), 0.0, "{legacy}");
        // rustls refuses every pre-1.2 hello with a fatal alert.
        assert!(
            gauge(&v.measurements, "tls_legacy_alert_code", &[legacy]) > 0.0,
            "{legacy}"
        );
    }
    assert!(
        v.measurements
            .iter()
            .any(|m| m.gauge.name == "tls_negotiated_info"
                && m.labels[0] == "tls1.2"
                && m.labels[1].starts_with("TLS_ECDHE_"))
    );

    let (_, v) = run_versions(
        &versions_target(&only13.url("https", "/"), &pki),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(sorted(&v), Vec::<&str>::new());
    assert_eq!(v.status, Status::Pass);
    assert_eq!(accepted(&v, "tls1.2"), 0.0);
    assert_eq!(accepted(&v, "tls1.3"), 1.0);

    let (_, v) = run_versions(
        &versions_target(&both.url("https", "/"), &pki),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(sorted(&v), Vec::<&str>::new());
    assert_eq!(accepted(&v, "tls1.2"), 1.0);
    assert_eq!(accepted(&v, "tls1.3"), 1.0);
}

/// A server that demands a client certificate (HAProxy `verify required`, Envoy
/// `require_client_certificate`) answers our certificate-less TLS 1.2 handshake with an alert
/// after its Certificate and CertificateRequest (rustls: 116 certificate_required; HAProxy,
/// Envoy: 40): it negotiated TLS 1.2, so TLS 1.2 counts as accepted and no legacy-suite hello
/// is sent. Without that, a TLS-1.2-only such server was `no_modern_tls` (critical).
#[tokio::test(flavor = "multi_thread")]
async fn a_server_demanding_a_client_certificate_accepts_tls12_and_tls13() {
    let pki = Pki::new();
    let clients = Pki::new();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(clients.ca_der.clone()).unwrap();
    let roots = Arc::new(roots);
    // (case, versions served, findings, TLS 1.3 gauge)
    let cases: [(&str, Vec<_>, &[&str], f64); 2] = [
        (
            "tls1.2 and tls1.3",
            vec![&rustls::version::TLS13, &rustls::version::TLS12],
            &[],
            1.0,
        ),
        (
            "tls1.2 only",
            vec![&rustls::version::TLS12],
            &["tls13_unsupported"],
            0.0,
        ),
    ];
    for (case, versions, want, tls13) in cases {
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::clone(&roots),
            Arc::clone(&provider),
        )
        .build()
        .unwrap();
        let (chain, key) = pki.leaf(&Leaf::valid(&["127.0.0.1"]));
        let cfg = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&versions)
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap();
        let srv = TestServer::https("127.0.0.1", Arc::new(cfg), |_| Resp::new(200)).await;
        let (run, v) = run_versions(
            &versions_target(&srv.url("https", "/"), &pki),
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(sorted(&v), want, "{case}: {:?}", v.findings);
        assert_eq!(v.status, Status::Pass, "{case}");
        assert_eq!(accepted(&v, "tls1.2"), 1.0, "{case}");
        assert_eq!(accepted(&v, "tls1.3"), tls13, "{case}");
        let probes::evidence::Evidence::TlsVersions(e) = &run.evidence else {
            panic!()
        };
        let a = &e.addresses[0];
        assert_eq!(
            a.tls12.reason,
            Some("failed_after_certificate"),
            "{case}: {:?}",
            a.tls12
        );
        assert!(a.tls12_legacy.is_none(), "{case}: {:?}", a.tls12_legacy);
    }
}

/// An address that took no connection is not judged, nor counted in the gauges: a blackholed
/// backend (connect timeouts) next to a TLS-1.2-only one leaves TLS 1.3 refused (0), not
/// inconclusive (-1). Hand-made: the blackholed address is added to a real run's evidence as
/// the probe records one.
#[tokio::test(flavor = "multi_thread")]
async fn a_blackholed_address_does_not_make_the_gauges_inconclusive() {
    use probes::tls::versions::{AddressVersions, Modern};

    let pki = Pki::new();
    let only12 = TestServer::https(
        "127.0.0.1",
        rustls_only(&pki, &[&rustls::version::TLS12]),
        |_| Resp::new(200),
    )
    .await;
    let t = versions_target(&only12.url("https", "/"), &pki);
    let (mut run, _) = run_versions(&t, Duration::from_secs(30)).await;
    let timed_out = Modern {
        accepted: false,
        cipher: None,
        group: None,
        alert: None,
        reason: Some("connect_timeout"),
    };
    let probes::evidence::Evidence::TlsVersions(e) = &mut run.evidence else {
        panic!()
    };
    e.addresses.push(AddressVersions {
        address: "192.0.2.1".parse().unwrap(),
        tls13: timed_out.clone(),
        tls12: timed_out,
        tls12_legacy: None,
        tls13_legacy: None,
        legacy: Vec::new(),
    });
    let v = judge(&t, vec![run], "tls_version");
    assert_eq!(
        sorted(&v),
        ["probe_inconclusive", "tls13_unsupported"],
        "{:?}",
        v.findings
    );
    assert_eq!(accepted(&v, "tls1.3"), 0.0);
    assert_eq!(accepted(&v, "tls1.2"), 1.0);
}

/// An RSA-2048 leaf for 127.0.0.1 signed by `pki` with the openssl CLI (for `s_server`),
/// written into `dir`: (certificate, key).
fn loopback_rsa_leaf(
    pki: &Pki,
    dir: &std::path::Path,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let (ca_cert, ca_key) = pki.write_ca_and_key(dir);
    openssl::leaf(
        dir,
        name,
        "rsa:2048",
        "IP:127.0.0.1",
        "sha256",
        (&ca_cert, &ca_key),
    )
}

/// tls_version against `openssl s_server` with an RSA-2048 loopback leaf and `args`.
async fn s_server_versions(args: &[&str]) -> (ProbeRun, Verdict) {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = loopback_rsa_leaf(&pki, dir.path(), "srv");
    let srv = SServer::start(&cert, &key, args);
    run_versions(
        &versions_target(&format!("https://{}/", srv.addr), &pki),
        Duration::from_secs(60),
    )
    .await
}

/// Debian's OpenSSL (3.0 here) still implements TLS 1.0 and 1.1 behind security level 0.
#[tokio::test(flavor = "multi_thread")]
async fn openssl_s_server_tls10_and_tls11_are_accepted_and_fail() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = loopback_rsa_leaf(&pki, dir.path(), "legacy");
    let version = openssl::version();
    for (flag, label, finding) in [
        ("-tls1", "tls1.0", "tls10_accepted"),
        ("-tls1_1", "tls1.1", "tls11_accepted"),
    ] {
        assert!(
            openssl::s_server_supports(flag),
            "{version} has no s_server {flag}"
        );
        let srv = SServer::start(&cert, &key, &[flag, "-cipher", "ALL:@SECLEVEL=0"]);
        let (_, v) = run_versions(
            &versions_target(&format!("https://{}/", srv.addr), &pki),
            Duration::from_secs(60),
        )
        .await;
        assert_eq!(
            sorted(&v),
            {
                let mut want = [finding, "no_modern_tls", "tls13_unsupported"];
                want.sort_unstable();
                want
            },
            "{version} {flag}: {:?}",
            v.findings
        );
        assert_eq!(v.status, Status::Fail);
        assert_eq!(accepted(&v, label), 1.0);
        assert_eq!(accepted(&v, "tls1.2"), 0.0);
        assert_eq!(accepted(&v, "ssl3"), 0.0);
        // Nothing newer spoken: no DOWNGRD sentinel to report.
        let f = v.findings.iter().find(|f| f.id == finding).unwrap();
        assert!(!f.evidence.contains("DOWNGRD"), "{}", f.evidence);
    }
    // Every version at security level 0: the legacy hellos are accepted, rustls too. OpenSSL
    // ends the random of its TLS 1.0/1.1 ServerHello with DOWNGRD\0 (RFC 8446 §4.1.3), which
    // the evidence records (CHECKS.md §10).
    let srv = SServer::start(&cert, &key, &["-cipher", "ALL:@SECLEVEL=0"]);
    let (_, v) = run_versions(
        &versions_target(&format!("https://{}/", srv.addr), &pki),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        sorted(&v),
        ["tls10_accepted", "tls11_accepted"],
        "{:?}",
        v.findings
    );
    for (id, label) in [("tls10_accepted", "tls1.0"), ("tls11_accepted", "tls1.1")] {
        let f = v.findings.iter().find(|f| f.id == id).unwrap();
        assert!(
            f.evidence.ends_with(&format!(
                "accepts {label} (the ServerHello carries the DOWNGRD sentinel: it also speaks \
                 TLS 1.2 or 1.3)"
            )),
            "{}",
            f.evidence
        );
    }
    assert_eq!(accepted(&v, "tls1.3"), 1.0);
    assert_eq!(accepted(&v, "tls1.2"), 1.0);
    // SSLv3 cannot be offered by this OpenSSL build (compiled without it): that case runs on
    // committed bytes below.
    if !openssl::s_server_supports("-ssl3") {
        assert_eq!(accepted(&v, "ssl3"), 0.0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn openssl_tls12_with_cbc_rsa_suites_only_is_legacy_suites_only() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = loopback_rsa_leaf(&pki, dir.path(), "cbc");
    let srv = SServer::start(
        &cert,
        &key,
        &["-tls1_2", "-cipher", "AES128-SHA:@SECLEVEL=0"],
    );
    let (run, v) = run_versions(
        &versions_target(&format!("https://{}/", srv.addr), &pki),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        sorted(&v),
        ["tls12_legacy_suites_only", "tls13_unsupported"],
        "{:?}",
        v.findings
    );
    assert_eq!(accepted(&v, "tls1.2"), 1.0);
    let probes::evidence::Evidence::TlsVersions(e) = &run.evidence else {
        panic!()
    };
    assert_eq!(
        e.addresses[0].tls12.alert,
        Some(40),
        "rustls's ECDHE+AEAD hello draws handshake_failure"
    );
    let f = v
        .findings
        .iter()
        .find(|f| f.id == "tls12_legacy_suites_only")
        .unwrap();
    assert!(f.evidence.contains("0x002f, CBC"), "{}", f.evidence);

    // rustls cannot talk to this server at all: health is unreachable, and says why and where
    // to look instead of a bare "handshake failure".
    let health = crate::support::verdict(
        &target(&format!("https://{}/", srv.addr), pki.client(), None),
        "health",
    )
    .await;
    assert_eq!(ids(&health), ["unreachable"], "{:?}", health.findings);
    assert!(
        health.findings[0]
            .evidence
            .contains("no TLS version, cipher suite or signature scheme in common")
            && health.findings[0].evidence.contains("tls_version shows"),
        "{}",
        health.findings[0].evidence
    );
}

/// A TCP server answering each hello from a script of committed bytes: SSLv2/SSLv3 replies
/// written from the specifications (no current server speaks them), a TLS 1.2 ServerHello to
/// every hello (broken negotiation), or silence.
async fn scripted(reply: fn(&[u8]) -> Option<Vec<u8>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 2048];
                loop {
                    let need = match buf.first() {
                        Some(b) if b & 0x80 != 0 && buf.len() >= 2 => {
                            2 + ((usize::from(b & 0x7f) << 8) | usize::from(buf[1]))
                        }
                        Some(_) if buf.len() >= 5 => {
                            5 + ((usize::from(buf[3]) << 8) | usize::from(buf[4]))
                        }
                        _ => usize::MAX,
                    };
                    if buf.len() >= need || buf.len() > 65_536 {
                        break;
                    }
                    match tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk)).await {
                        Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                        _ => return,
                    }
                }
                match reply(&buf) {
                    Some(bytes) => {
                        let _ = s.write_all(&bytes).await;
                        let _ = s.shutdown().await;
                    }
                    // Silence: hold the connection until the client gives up.
                    None => {
                        let _ =
                            tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk)).await;
                    }
                }
            });
        }
    });
    addr
}

fn server_hello(version: [u8; 2]) -> Vec<u8> {
    let mut r = vec![
        0x16, 0x03, 0x00, 0x00, 0x2a, 0x02, 0x00, 0x00, 0x26, version[0], version[1],
    ];
    r.extend_from_slice(&[0x5a; 32]);
    r.extend_from_slice(&[0x00, 0x00, 0x0a, 0x00]);
    r
}

fn ssl3_server(hello: &[u8]) -> Option<Vec<u8>> {
    // Any SSLv3/TLS hello gets an SSLv3 ServerHello (RFC 6101 §5.6.1.3).
    (hello.first() == Some(&0x16)).then(|| server_hello([0x03, 0x00]))
}

fn sslv2_server(hello: &[u8]) -> Option<Vec<u8>> {
    if hello.first().is_some_and(|b| b & 0x80 != 0) {
        // SERVER-HELLO (draft-hickman-netscape-ssl-00): type 4, version 00 02.
        Some(vec![
            0x80, 0x0a, 0x04, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
        ])
    } else {
        Some(vec![0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46])
    }
}

fn tls12_to_everything(hello: &[u8]) -> Option<Vec<u8>> {
    (hello.first() == Some(&0x16)).then(|| server_hello([0x03, 0x03]))
}

fn silent(_: &[u8]) -> Option<Vec<u8>> {
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn sslv3_sslv2_broken_negotiation_and_silence_on_committed_bytes() {
    let pki = Pki::new();

    let addr = scripted(ssl3_server).await;
    let (_, v) = run_versions(
        &versions_target(&format!("https://{addr}/"), &pki),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(
        sorted(&v),
        ["no_modern_tls", "sslv3_accepted", "tls13_unsupported"],
        "{:?}",
        v.findings
    );
    assert_eq!(accepted(&v, "ssl3"), 1.0);
    assert_eq!(
        accepted(&v, "tls1.0"),
        0.0,
        "an SSLv3 answer to TLS 1.0 counts for SSLv3"
    );

    let addr = scripted(sslv2_server).await;
    let mut t = versions_target(&format!("https://{addr}/"), &pki);
    t.options.tls_version.sslv2 = true;
    let (_, v) = run_versions(&t, Duration::from_secs(30)).await;
    assert!(ids(&v).contains(&"sslv2_accepted"), "{:?}", v.findings);
    assert_eq!(accepted(&v, "ssl2"), 1.0);

    let addr = scripted(tls12_to_everything).await;
    let (_, v) = run_versions(
        &versions_target(&format!("https://{addr}/"), &pki),
        Duration::from_secs(30),
    )
    .await;
    assert!(
        ids(&v).contains(&"version_negotiation_broken"),
        "{:?}",
        v.findings
    );
    assert_eq!(accepted(&v, "tls1.0"), 0.0);

    // Silence: a 2 s budget cuts every hello. Not one modern handshake was answered, so
    // nothing can be judged (CHECKS.md §0.3 `error`; tls_cert reports the dead service), and
    // the probe's evidence says every version went unanswered (-1).
    let addr = scripted(silent).await;
    let t = versions_target(&format!("https://{addr}/"), &pki);
    let (run, v) = run_versions(&t, Duration::from_secs(2)).await;
    assert_eq!(
        (v.status, v.reason),
        (Status::Error, Some("no_answer")),
        "{:?}",
        v.findings
    );
    let probes::evidence::Evidence::TlsVersions(e) = &run.evidence else {
        panic!("{:?}", run.evidence)
    };
    assert!(
        e.addresses
            .iter()
            .all(|a| a.inconclusive(probes::tls::legacy::Version::Tls13)
                && a.inconclusive(probes::tls::legacy::Version::Tls10))
    );
}

/// CHECKS.md §0.3: an address that takes no connection says nothing about TLS versions. One
/// name on three addresses, the second refusing: only the others are judged (the refused one
/// is an info note, not `no_modern_tls`, and gets no legacy hello); a target refusing
/// everywhere is an error. CHECKS.md §10 probes every resolved address: more than the tls
/// probe's two per family (up to four).
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_address_is_not_judged_and_refused_everywhere_is_an_error() {
    use crate::support::dns::{Answer, DnsServer, a};
    use crate::support::engine_with_dns;
    use hickory_resolver::proto::rr::RecordType;

    let pki = Pki::new();
    let srv = TestServer::https(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&["shop.test"])),
        |_req: &crate::support::Req| Resp::new(200),
    )
    .await;
    let port = srv.addr.port();
    let third = TestServer::start_on(
        ("127.0.0.3", port),
        Some(pki.server_config(&Leaf::valid(&["shop.test"]))),
        Arc::new(|_req: &crate::support::Req| Resp::new(200)),
    )
    .await;
    let dns = DnsServer::start(|name, ty| match (name, ty) {
        ("shop.test", RecordType::A) => Answer::Records(vec![
            a("shop.test", "127.0.0.1"),
            a("shop.test", "127.0.0.2"),
            a("shop.test", "127.0.0.3"),
        ]),
        _ => Answer::NoData,
    })
    .await;
    let engine = engine_with_dns(dns.addr, Duration::from_secs(2));
    let t = versions_target(&format!("https://shop.test:{port}/"), &pki);
    let cx = ProbeContext {
        engine: &engine,
        deadline: tokio::time::Instant::now() + Duration::from_secs(30),
    };
    let run = probe::run(ProbeKind::TlsVersions, &t, &cx).await;
    let probes::evidence::Evidence::TlsVersions(e) = &run.evidence else {
        panic!()
    };
    let probed: Vec<String> = e.addresses.iter().map(|a| a.address.to_string()).collect();
    assert_eq!(probed, ["127.0.0.1", "127.0.0.2", "127.0.0.3"]);
    assert!(
        e.addresses[1].legacy.is_empty() && e.addresses[1].tls12_legacy.is_none(),
        "no legacy hello where nothing listens: {:?}",
        e.addresses[1].legacy
    );
    assert!(e.addresses[2].tls13.accepted && e.addresses[2].legacy.len() == 3);
    let v = judge(&t, vec![run], "tls_version");
    assert_eq!(v.status, Status::Pass, "{:#?}", v.findings);
    assert_eq!(sorted(&v), ["probe_inconclusive"], "{:#?}", v.findings);
    assert!(
        v.findings[0].evidence.starts_with("127.0.0.2:")
            && v.findings[0].evidence.contains("connect_refused"),
        "{}",
        v.findings[0].evidence
    );
    assert_eq!(accepted(&v, "tls1.3"), 1.0);
    assert_eq!(accepted(&v, "tls1.2"), 1.0);
    drop(third);

    let closed = crate::support::closed_port("127.0.0.1").await;
    let t = versions_target(&format!("https://127.0.0.1:{closed}/"), &pki);
    let (_, v) = run_versions(&t, Duration::from_secs(30)).await;
    assert_eq!(
        (v.status, v.reason),
        (Status::Error, Some("unreachable")),
        "{:#?}",
        v.findings
    );
}

#[tokio::test]
async fn openssl_tls12_with_dhe_aead_suites_only_is_legacy_suites_only_not_no_tls12() {
    // DHE-RSA-CHACHA20-POLY1305 and DHE-RSA-AES256-CCM: AEAD, but no suite rustls or a
    // current browser offers. The broad hello must include them, or the server looks like
    // one without TLS 1.2 (`no_modern_tls`) and its certificate goes unjudged.
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = loopback_rsa_leaf(&pki, dir.path(), "dhe");
    let srv = SServer::start(
        &cert,
        &key,
        &[
            "-tls1_2",
            "-cipher",
            "DHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES256-CCM",
        ],
    );
    let url = format!("https://{}/", srv.addr);
    let (_, v) = run_versions(&versions_target(&url, &pki), Duration::from_secs(60)).await;
    assert_eq!(
        sorted(&v),
        ["tls12_legacy_suites_only", "tls13_unsupported"],
        "{:?}",
        v.findings
    );
    let f = v
        .findings
        .iter()
        .find(|f| f.id == "tls12_legacy_suites_only")
        .unwrap();
    assert!(
        f.evidence.contains("0xccaa, DHE key exchange")
            || f.evidence.contains("DHE key exchange, AES-CCM"),
        "{}",
        f.evidence
    );
    // The certificate, read from the server's flight, is judged: valid for 127.0.0.1.
    let cert = crate::support::verdict(&target(&url, pki.client(), None), "tls_cert").await;
    assert_eq!(cert.status, probes::verdict::Status::Pass, "{cert:?}");
}

/// Runs tls_version against `url` and asserts the server counts as speaking TLS 1.2 although
/// rustls could not finish a handshake with it: accepted, neither `no_modern_tls` nor
/// `tls12_legacy_suites_only`. Returns the first address's evidence.
async fn speaks_tls12(url: &str, pki: &Pki) -> probes::tls::versions::AddressVersions {
    let (run, v) = run_versions(&versions_target(url, pki), Duration::from_secs(60)).await;
    let probes::evidence::Evidence::TlsVersions(e) = &run.evidence else {
        panic!("{:?}", run.evidence)
    };
    assert_eq!(accepted(&v, "tls1.2"), 1.0, "{:?}", v.findings);
    for absent in ["no_modern_tls", "tls12_legacy_suites_only"] {
        assert!(!ids(&v).contains(&absent), "{absent}: {:?}", v.findings);
    }
    e.addresses[0].clone()
}

/// A leaf with an RSASSA-PSS key (RFC 4055) signs only with the rsa_pss_pss_* schemes, which
/// rustls (like Chromium) does not implement: rustls's TLS 1.2 and 1.3 hellos both draw alert
/// 40. The server still speaks TLS 1.2 with modern suites, and the hand-built hello, which
/// offers those schemes, shows it: no `no_modern_tls`, no `tls12_legacy_suites_only`, TLS 1.3
/// accepted by the hand-built TLS 1.3 hello (no `tls13_unsupported`); and tls_cert judges the
/// certificate that hello read.
#[tokio::test(flavor = "multi_thread")]
async fn an_rsassa_pss_key_is_no_version_problem_and_its_certificate_is_judged() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (ca_cert, ca_key) = pki.write_ca_and_key(dir.path());
    let (cert, key) = openssl::leaf(
        dir.path(),
        "pss",
        "rsa-pss:2048",
        "IP:127.0.0.1",
        "sha256",
        (&ca_cert, &ca_key),
    );
    let srv = SServer::start(&cert, &key, &[]);
    let url = format!("https://{}/", srv.addr);
    let a = speaks_tls12(&url, &pki).await;
    assert_eq!(a.tls12.alert, Some(40), "rustls is refused");
    // TLS 1.3 too: rustls is refused, the hand-built TLS 1.3 hello is answered.
    assert_eq!(a.tls13.alert, Some(40));
    assert!(
        a.accepts(probes::tls::legacy::Version::Tls13),
        "{:?}",
        a.tls13_legacy
    );

    let mut t = target(&url, pki.client(), None);
    t.checks.retain(|c| c.id == "tls_cert");
    let c = crate::support::verdict(&t, "tls_cert").await;
    assert_eq!(c.status, Status::Pass, "{:?}: {:?}", c.reason, c.findings);
}

/// A TLS 1.2 ServerHello choosing ECDHE-RSA-AES128-GCM-SHA256, with an ALPN extension naming
/// `alpn` when given (RFC 7301 §3.1).
fn server_hello_gcm(alpn: Option<&[u8]>) -> Vec<u8> {
    let mut ext = Vec::new();
    if let Some(p) = alpn {
        let n = u8::try_from(p.len()).unwrap();
        ext.extend_from_slice(&[0x00, 0x10, 0x00, n + 3, 0x00, n + 1, n]);
        ext.extend_from_slice(p);
    }
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x5a; 32]);
    body.extend_from_slice(&[0x00, 0xc0, 0x2f, 0x00]);
    body.extend_from_slice(&u16::try_from(ext.len()).unwrap().to_be_bytes());
    body.extend_from_slice(&ext);
    let mut r = vec![0x16, 0x03, 0x03];
    r.extend_from_slice(&u16::try_from(body.len() + 4).unwrap().to_be_bytes());
    r.extend_from_slice(&[0x02, 0x00]);
    r.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    r.extend_from_slice(&body);
    r
}

/// Botan 2's `tls_server` answers every TLS 1.2 hello that offers ALPN with the protocol
/// `echo/0.1`, which it was not offered; older versions get alert 70.
fn alpn_echo_server(hello: &[u8]) -> Option<Vec<u8>> {
    if hello.get(9..11) != Some(&[0x03, 0x03]) {
        return Some(vec![0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46]);
    }
    let offers_alpn = hello.windows(8).any(|w| w == b"http/1.1");
    Some(server_hello_gcm(
        offers_alpn.then_some(b"echo/0.1".as_slice()),
    ))
}

/// rustls refuses a ServerHello that selects an ALPN protocol it never offered (Botan's
/// `tls_server`). That server speaks TLS 1.2 all the same: the hand-built hello, which offers
/// no ALPN, is answered with a modern suite, so TLS 1.2 counts as accepted (committed bytes:
/// the replies are Botan's, written from its capture).
#[tokio::test(flavor = "multi_thread")]
async fn a_server_selecting_an_unoffered_alpn_still_speaks_tls12_on_committed_bytes() {
    let pki = Pki::new();
    let addr = scripted(alpn_echo_server).await;
    let a = speaks_tls12(&format!("https://{addr}/"), &pki).await;
    assert_eq!(a.tls12.reason, Some("rejected_by_client"));
}

/// The signature schemes a TLS ClientHello record offers (RFC 8446 §4.2.3), or none.
fn offered_schemes(hello: &[u8]) -> Vec<u16> {
    let u16_at = |b: &[u8], i: usize| b.get(i..i + 2).map(|s| u16::from_be_bytes([s[0], s[1]]));
    // Record header (5), handshake header (4), client_version (2), random (32).
    let mut i = 5 + 4 + 2 + 32;
    let Some(&sid) = hello.get(i) else {
        return Vec::new();
    };
    i += 1 + usize::from(sid);
    let Some(suites) = u16_at(hello, i) else {
        return Vec::new();
    };
    i += 2 + usize::from(suites);
    let Some(&comp) = hello.get(i) else {
        return Vec::new();
    };
    i += 1 + usize::from(comp) + 2;
    while let (Some(ty), Some(len)) = (u16_at(hello, i), u16_at(hello, i + 2)) {
        let data = i + 4;
        if ty == 0x000d {
            let n = usize::from(u16_at(hello, data).unwrap_or(0));
            return (0..n / 2)
                .filter_map(|k| u16_at(hello, data + 2 + 2 * k))
                .collect();
        }
        i = data + usize::from(len);
    }
    Vec::new()
}

/// Java 17 with an RSASSA-PSS key: a TLS 1.2 hello without the rsa_pss_pss schemes gets
/// alert 80 (internal_error, "No supported signature algorithm for RSASSA-PSS key"), one that
/// offers them a ServerHello. Committed bytes written from that server's capture.
fn pss_only_server(hello: &[u8]) -> Option<Vec<u8>> {
    if hello.get(9..11) != Some(&[0x03, 0x03]) {
        return Some(vec![0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46]);
    }
    if offered_schemes(hello).contains(&0x0809) {
        Some(server_hello_gcm(None))
    } else {
        Some(vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x50])
    }
}

/// CHECKS.md §10 sends the legacy-suite hello after alert 40 or 71; a server that refuses
/// rustls's hello with another alert (Java's internal_error for a key it cannot sign with under
/// rustls's schemes) is asked too, and its TLS 1.2 counts as accepted.
#[tokio::test(flavor = "multi_thread")]
async fn a_tls12_refusal_by_internal_error_still_gets_the_broad_hello_on_committed_bytes() {
    let pki = Pki::new();
    let addr = scripted(pss_only_server).await;
    let a = speaks_tls12(&format!("https://{addr}/"), &pki).await;
    assert_eq!(a.tls12.alert, Some(80));
}

/// A TLS 1.3-only server with only a CCM suite: it speaks TLS 1.3 (the hand-built hello is
/// answered, `tls_version_accepted{tls1.3}` 1), but neither rustls nor a browser can complete
/// a handshake with it: still `no_modern_tls` and `tls13_unsupported`, naming the suite.
#[tokio::test(flavor = "multi_thread")]
async fn tls13_with_only_a_ccm_suite_is_no_modern_tls_naming_the_suite() {
    let (_, v) = s_server_versions(&["-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_SHA256"]).await;
    assert_eq!(
        sorted(&v),
        ["no_modern_tls", "tls13_unsupported"],
        "{:?}",
        v.findings
    );
    assert!(
        v.findings[0].evidence.contains("only with 0x1304"),
        "{}",
        v.findings[0].evidence
    );
    assert_eq!(accepted(&v, "tls1.3"), 1.0);
}

/// A TLS 1.3-only server limited to an FFDHE group (rustls has none): the hand-built hello
/// lists it, the server asks for it with a HelloRetryRequest, and TLS 1.3 counts as offered.
#[tokio::test(flavor = "multi_thread")]
async fn tls13_limited_to_ffdhe_answers_the_hand_built_hello_with_a_retry_request() {
    let (run, v) = s_server_versions(&["-tls1_3", "-groups", "ffdhe2048"]).await;
    let probes::evidence::Evidence::TlsVersions(e) = &run.evidence else {
        panic!("{:?}", run.evidence)
    };
    assert!(
        !e.addresses[0].tls13.accepted,
        "rustls offers no FFDHE group"
    );
    assert_eq!(accepted(&v, "tls1.3"), 1.0, "{:?}", v.findings);
    assert!(
        !ids(&v).contains(&"tls13_unsupported") && !ids(&v).contains(&"no_modern_tls"),
        "{:?}",
        v.findings
    );
}

/// TLS 1.3 that no browser can complete is not counted as offered: with TLS 1.2 beside it,
/// a CCM-only TLS 1.3 is `tls13_unsupported` (naming the suite); a TLS 1.3-only server
/// limited to X448, which no browser offers, refuses the hand-built hello and is
/// `no_modern_tls`.
#[tokio::test(flavor = "multi_thread")]
async fn tls13_no_browser_completes_is_not_offered_tls13() {
    let (_, v) = s_server_versions(&["-ciphersuites", "TLS_AES_128_CCM_SHA256"]).await;
    assert_eq!(sorted(&v), ["tls13_unsupported"], "{:?}", v.findings);
    assert!(
        v.findings[0].evidence.contains("only with 0x1304"),
        "{}",
        v.findings[0].evidence
    );
    let (_, v) = s_server_versions(&["-tls1_3", "-groups", "X448"]).await;
    assert_eq!(
        sorted(&v),
        ["no_modern_tls", "tls13_unsupported"],
        "{:?}",
        v.findings
    );
    assert_eq!(accepted(&v, "tls1.3"), 0.0);
}

/// P-521, which Safari and Firefox offer (and hardening guides' `ssl_ecdh_curve secp521r1`
/// requires): a TLS 1.2 server with a P-521 key (RFC 8422 §5.1: the client's supported_groups
/// must list the certificate's curve) and servers whose key exchange is limited to P-521 are
/// spoken to by every probe: the version accepted, the certificate judged, health answered.
/// Before, rustls and the hand-built hellos offered no secp521r1: `no_modern_tls` (critical)
/// and tls_cert `error` for a TLS-1.2-only server, and no `tls10_accepted` for a TLS 1.0 one.
#[tokio::test(flavor = "multi_thread")]
async fn p521_keys_and_p521_only_key_exchange_are_spoken_to() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (ca_cert, ca_key) = pki.write_ca_and_key(dir.path());
    let leaf = |name: &str, spec: &str| {
        openssl::leaf(
            dir.path(),
            name,
            spec,
            "IP:127.0.0.1",
            "sha256",
            (&ca_cert, &ca_key),
        )
    };
    let p521 = leaf("p521", "ec:P-521");
    let rsa = leaf("rsa", "rsa:2048");
    for ((cert, key), args, version, findings) in [
        (
            &p521,
            &["-tls1_2", "-www"][..],
            "tls1.2",
            &["tls13_unsupported"][..],
        ),
        (
            &rsa,
            &["-tls1_2", "-groups", "P-521", "-www"],
            "tls1.2",
            &["tls13_unsupported"],
        ),
        (
            &rsa,
            &["-tls1_3", "-groups", "P-521", "-www"],
            "tls1.3",
            &[],
        ),
    ] {
        let srv = SServer::start(cert, key, args);
        let mut t = target(&format!("https://{}/", srv.addr), pki.client(), None);
        t.checks
            .retain(|c| matches!(c.id, "tls_version" | "tls_cert" | "health"));
        let (_, verdicts) = crate::support::evaluate(&t).await;
        let of = |id: &str| verdicts.iter().find(|v| v.check == id).unwrap();
        let v = of("tls_version");
        assert_eq!(sorted(v), findings, "{args:?}: {:?}", v.findings);
        assert_eq!(accepted(v, version), 1.0, "{args:?}");
        for check in ["tls_cert", "health"] {
            assert_eq!(
                of(check).status,
                Status::Pass,
                "{args:?} {check}: {:?} {:?}",
                of(check).reason,
                of(check).findings
            );
        }
    }
    let srv = SServer::start(&p521.0, &p521.1, &["-tls1", "-cipher", "ALL:@SECLEVEL=0"]);
    let (_, v) = run_versions(
        &versions_target(&format!("https://{}/", srv.addr), &pki),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        sorted(&v),
        ["no_modern_tls", "tls10_accepted", "tls13_unsupported"],
        "{:?}",
        v.findings
    );
}
