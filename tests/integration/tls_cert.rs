//! `tls_cert` (CHECKS.md §9): every finding id from a real handshake (in-process rustls servers
//! with rcgen chains; `openssl s_server` where rustls cannot serve the key), except the
//! public-root-only rules, which no loopback server can reach and are judged on committed
//! bytes (named so).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use probes::evidence::{Evidence, ProbeRun};
use probes::probe::ProbeKind;
use probes::tls::inspect;
use probes::tls::probe::{AddressTls, TlsEvidence};
use probes::tls::{TlsClient, TlsFacts, Verification};
use probes::verdict::{Severity, Status};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, PKCS_ED25519,
};
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;

use crate::support::der::{self, Status as OcspStatus};
use crate::support::dns::{Answer, DnsServer, a};
use crate::support::openssl::{self, SServer};
use crate::support::{
    Leaf, Pki, Resp, TestServer, engine_with_dns, evaluate_with, ids, judge, run_of, target,
    verdict,
};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn days(n: i64) -> time::Duration {
    time::Duration::days(n)
}

fn leaf(names: &[&str], from: i64, to: i64) -> Leaf {
    let t = OffsetDateTime::now_utc();
    Leaf {
        names: names.iter().map(|s| s.to_string()).collect(),
        not_before: t + days(from),
        not_after: t + days(to),
    }
}

fn config_with_ocsp(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    ocsp: Vec<u8>,
) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert_with_ocsp(chain, key, ocsp)
        .unwrap();
    Arc::new(cfg)
}

async fn serve(cfg: Arc<rustls::ServerConfig>) -> TestServer {
    TestServer::https("127.0.0.1", cfg, |_| Resp::new(200)).await
}

async fn tls_cert(url: &str, tls: Arc<TlsClient>) -> probes::verdict::Verdict {
    let mut t = target(url, tls, None);
    t.checks.retain(|c| c.id == "tls_cert");
    verdict(&t, "tls_cert").await
}

fn ids_sorted(v: &probes::verdict::Verdict) -> Vec<&'static str> {
    let mut i = ids(v);
    i.sort_unstable();
    i
}

/// The certificates of a PEM file, in order.
fn pem_chain(path: &std::path::Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// tls_cert for `https://shop.test:{port}/`, the name resolving (through a local DNS server)
/// to the three backends 127.0.0.1, 127.0.0.2 and ::1 the caller serves on `port`.
async fn tls_cert_of_three_backends(
    port: u16,
    client: Arc<probes::tls::TlsClient>,
) -> probes::verdict::Verdict {
    use hickory_resolver::proto::rr::RecordType;
    let dns = DnsServer::start(|name, ty| match (name, ty) {
        ("shop.test", RecordType::A) => Answer::Records(vec![
            a("shop.test", "127.0.0.1"),
            a("shop.test", "127.0.0.2"),
        ]),
        ("shop.test", RecordType::AAAA) => Answer::Records(vec![a("shop.test", "::1")]),
        _ => Answer::NoData,
    })
    .await;
    let engine = engine_with_dns(dns.addr, Duration::from_secs(2));
    let mut t = target(&format!("https://shop.test:{port}/"), client, None);
    t.checks.retain(|c| c.id == "tls_cert");
    let (_, mut verdicts) = evaluate_with(&engine, &t).await;
    verdicts.remove(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_finding_from_rustls_servers() {
    let pki = Pki::new();
    let other = Pki::new();
    let ip = "127.0.0.1";
    let n = now();
    let ca_key = inspect::inspect(&pki.ca_der).unwrap().public_key;
    let ocsp_for = |chain: &[CertificateDer<'static>], st: OcspStatus, next: i64| {
        let d = inspect::inspect(&chain[0]).unwrap();
        der::ocsp_response(
            (&d.issuer_der, &ca_key),
            &d.serial_bytes,
            st,
            n - 3600,
            next,
        )
    };

    // (case, server config, expected finding ids, status)
    let mut cases: Vec<(&str, Arc<rustls::ServerConfig>, Vec<&str>, Status)> = Vec::new();
    cases.push((
        "valid",
        pki.server_config(&Leaf::valid(&[ip])),
        vec!["ocsp_not_stapled"],
        Status::Pass,
    ));
    cases.push((
        "expired",
        pki.server_config(&Leaf::expired(&[ip])),
        vec!["expired", "ocsp_not_stapled"],
        Status::Fail,
    ));
    cases.push((
        "not yet valid",
        pki.server_config(&leaf(&[ip], 2, 92)),
        vec!["not_yet_valid", "ocsp_not_stapled"],
        Status::Fail,
    ));
    cases.push((
        "5 days left on a 90-day certificate",
        pki.server_config(&leaf(&[ip], -85, 5)),
        vec!["expires_critical", "ocsp_not_stapled"],
        Status::Fail,
    ));
    cases.push((
        "15 days left on a 90-day certificate",
        pki.server_config(&leaf(&[ip], -75, 15)),
        vec!["expires_soon", "ocsp_not_stapled"],
        Status::Fail,
    ));
    cases.push((
        "wrong host (CN matches, SAN does not)",
        {
            let (chain, key) = pki.leaf_with(&Leaf::valid(&["127.0.0.2"]), |p| {
                p.distinguished_name = rcgen::DistinguishedName::new();
                p.distinguished_name.push(DnType::CommonName, ip);
            });
            crate::support::server_config(chain, key)
        },
        vec!["hostname_mismatch", "ocsp_not_stapled"],
        Status::Fail,
    ));
    cases.push((
        "self-signed",
        {
            let (chain, key) = Pki::self_signed(&Leaf::valid(&[ip]));
            crate::support::server_config(chain, key)
        },
        vec!["ocsp_not_stapled", "untrusted_chain"],
        Status::Fail,
    ));
    cases.push((
        "unknown CA",
        other.server_config(&Leaf::valid(&[ip])),
        vec!["ocsp_not_stapled", "untrusted_chain"],
        Status::Fail,
    ));
    cases.push((
        "must-staple without a staple",
        {
            let (chain, key) = pki.leaf_with(&Leaf::valid(&[ip]), |p| {
                p.custom_extensions.push(der::must_staple());
            });
            crate::support::server_config(chain, key)
        },
        vec!["must_staple_without_staple", "ocsp_not_stapled"],
        Status::Fail,
    ));
    cases.push((
        "stapled: revoked",
        {
            let (chain, key) = pki.leaf(&Leaf::valid(&[ip]));
            let ocsp = ocsp_for(&chain, OcspStatus::Revoked, n + 86_400);
            config_with_ocsp(chain, key, ocsp)
        },
        vec!["revoked"],
        Status::Fail,
    ));
    cases.push((
        "stapled: stale",
        {
            let (chain, key) = pki.leaf(&Leaf::valid(&[ip]));
            let ocsp = ocsp_for(&chain, OcspStatus::Good, n - 60);
            config_with_ocsp(chain, key, ocsp)
        },
        vec!["ocsp_staple_bad"],
        Status::Fail,
    ));
    cases.push((
        "stapled: for another certificate",
        {
            let (chain, key) = pki.leaf(&Leaf::valid(&[ip]));
            let d = inspect::inspect(&chain[0]).unwrap();
            let ocsp = der::ocsp_response(
                (&d.issuer_der, &ca_key),
                &[0x7f, 0x01],
                OcspStatus::Good,
                n - 60,
                n + 86_400,
            );
            config_with_ocsp(chain, key, ocsp)
        },
        vec!["ocsp_staple_bad"],
        Status::Fail,
    ));
    cases.push((
        "stapled: good",
        {
            let (chain, key) = pki.leaf(&Leaf::valid(&[ip]));
            let ocsp = ocsp_for(&chain, OcspStatus::Good, n + 86_400);
            config_with_ocsp(chain, key, ocsp)
        },
        vec![],
        Status::Pass,
    ));
    cases.push((
        "chain includes the root",
        {
            let (mut chain, key) = pki.leaf(&Leaf::valid(&[ip]));
            chain.push(pki.ca_der.clone());
            crate::support::server_config(chain, key)
        },
        vec!["chain_order", "ocsp_not_stapled"],
        Status::Pass,
    ));

    for (name, cfg, want, status) in cases {
        let srv = serve(cfg).await;
        let v = tls_cert(&srv.url("https", "/"), pki.client()).await;
        assert_eq!(ids_sorted(&v), want, "{name}: {:?}", v.findings);
        assert_eq!(v.status, status, "{name}: {:?}", v.findings);
    }
}

/// RFC 6960 §4.1.1: a CertID names the issuer by its Name *and* key. A staple whose issuer key
/// hash is not that of the served intermediate is for another certificate (seen with real
/// nginx `ssl_stapling_file` and `openssl s_server -status_file` serving such a response),
/// while the same response for the right key passes.
#[tokio::test(flavor = "multi_thread")]
async fn a_staple_for_another_issuer_key_is_for_another_certificate() {
    let root = Pki::new();
    let (int, int_der) = root.intermediate("prodprobe test intermediate");
    let other_key = inspect::inspect(&Pki::new().ca_der).unwrap().public_key;
    let int_key = inspect::inspect(&int_der).unwrap().public_key;
    let n = now();
    for (case, key, want) in [
        ("issuer key of the intermediate", &int_key, vec![]),
        ("another issuer key", &other_key, vec!["ocsp_staple_bad"]),
    ] {
        let (chain, leaf_key) = int.leaf(&Leaf::valid(&["127.0.0.1"]));
        let d = inspect::inspect(&chain[0]).unwrap();
        let ocsp = der::ocsp_response(
            (&d.issuer_der, key),
            &d.serial_bytes,
            OcspStatus::Good,
            n - 60,
            n + 86_400,
        );
        let served = vec![chain[0].clone(), int_der.clone()];
        let srv = serve(config_with_ocsp(served, leaf_key, ocsp)).await;
        let v = tls_cert(&srv.url("https", "/"), root.client()).await;
        assert_eq!(ids_sorted(&v), want, "{case}: {:?}", v.findings);
        if let Some(f) = v.findings.first() {
            assert!(
                f.evidence.contains("for another certificate"),
                "{case}: {f:?}"
            );
        }
    }
}

/// `warn_days` / `critical_days` move the expiry findings, and the thresholds the check used are
/// exported, so that the alert rules follow the config (docs/prometheus.md).
#[tokio::test(flavor = "multi_thread")]
async fn configured_expiry_days_move_the_findings_and_the_exported_thresholds() {
    let pki = Pki::new();
    // 15 days left on a 90-day certificate.
    let srv = serve(pki.server_config(&leaf(&["127.0.0.1"], -75, 15))).await;
    const DAY: f64 = 86_400.0;
    // (warn_days, critical_days, expected expiry finding, warn_at, crit_at in days)
    // Days beyond a quarter / a tenth of the lifetime are capped there (22.5 and 9 days).
    let cases: [(u32, u32, Option<&str>, f64, f64); 3] = [
        (21, 7, Some("expires_soon"), 21.0, 7.0),
        (10, 3, None, 10.0, 3.0),
        (45, 20, Some("expires_soon"), 22.5, 9.0),
    ];
    for (warn, crit, want, warn_at, crit_at) in cases {
        let case = format!("warn_days {warn}, critical_days {crit}");
        let mut t = target(&srv.url("https", "/"), pki.client(), None);
        t.checks.retain(|c| c.id == "tls_cert");
        t.options.tls_cert.warn_days = warn;
        t.options.tls_cert.critical_days = crit;
        let (_, verdicts) = crate::support::evaluate(&t).await;
        let v = &verdicts[0];
        let expiry: Vec<&str> = v
            .findings
            .iter()
            .map(|f| f.id)
            .filter(|id| id.starts_with("expire"))
            .collect();
        assert_eq!(expiry, Vec::from_iter(want), "{case}: {:?}", v.findings);
        let m = |name: &str| crate::support::gauge(v, name);
        assert_eq!(
            m("tls_cert_expiry_warn_at_seconds"),
            warn_at * DAY,
            "{case}"
        );
        assert_eq!(
            m("tls_cert_expiry_crit_at_seconds"),
            crit_at * DAY,
            "{case}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_certificate_still_exports_every_fact() {
    let pki = Pki::new();
    let srv = serve(pki.server_config(&Leaf::expired(&["127.0.0.1"]))).await;
    let mut t = target(&srv.url("https", "/"), pki.client(), None);
    t.checks.retain(|c| c.id == "tls_cert");
    let (runs, verdicts) = crate::support::evaluate(&t).await;
    let run = run_of(&runs, ProbeKind::Tls);
    assert!(!run.success);
    assert_eq!(run.reason, Some("expired"));
    let m = |name: &str| {
        run.measurements
            .iter()
            .chain(verdicts[0].measurements.iter())
            .find(|m| m.gauge.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .clone()
    };
    let expiry = m("ssl_earliest_cert_expiry");
    assert!(expiry.value < now() as f64 - 9.0 * 86_400.0);
    assert_eq!(expiry.labels, ["127.0.0.1"]);
    assert_eq!(m("tls_chain_verified").labels, ["127.0.0.1", "expired"]);
    assert_eq!(m("tls_chain_verified").value, 0.0);
    assert!(m("tls_cert_expires_in_seconds").value < -9.0 * 86_400.0);
    assert!(m("tls_cert_lifetime_used_ratio").value > 1.0);
    assert_eq!(m("tls_cert_chain_valid").value, 0.0);
    assert_eq!(m("tls_cert_hostname_match").value, 1.0);
    assert_eq!(m("tls_cert_chain_length").value, 1.0);
    assert_eq!(m("tls_cert_key_length").value, 256.0);
    assert_eq!(m("tls_cert_info").labels[2], "ec-p256");
    let chain_info = m("ssl_last_chain_info");
    assert_eq!(chain_info.labels.len(), 6);
    assert_eq!(chain_info.labels[1].len(), 64, "sha256 hex");
    assert!(chain_info.labels.iter().all(|l| l.chars().count() <= 64));
    let finding = verdicts[0]
        .findings
        .iter()
        .find(|f| f.id == "expired")
        .unwrap();
    assert!(finding.evidence.contains("leaf #0"), "{}", finding.evidence);
    assert_eq!(finding.severity, Severity::Critical);
}

/// CA parameters named `cn`, valid from `from` to `to` days from now.
fn ca_params(cn: &str, from: i64, to: i64) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, cn);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let t = OffsetDateTime::now_utc();
    p.not_before = t + days(from);
    p.not_after = t + days(to);
    p
}

/// A leaf for `leaf` signed by `issuer`: (certificate, key).
fn leaf_of(
    leaf: &Leaf,
    issuer: &Issuer<'static, KeyPair>,
) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let key = KeyPair::generate().unwrap();
    let cert = Pki::params(leaf).signed_by(&key, issuer).unwrap();
    (
        cert.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}

/// CHECKS.md §9: `expired` is for certificates of the validated path. Servers still send
/// expired cross-signs (ISRG Root X1 signed by DST Root CA X3, expired 2024-09-30) after a
/// valid chain: path building goes around them, so they raise no `expired`, do not hide the
/// leaf's `expires_soon`, and do not set the path's earliest expiry; their expiry is named in
/// chain_order (info). An expired intermediate on the only path still is `expired`.
#[tokio::test(flavor = "multi_thread")]
async fn an_expired_cross_sign_off_the_path_is_not_expired_an_expired_intermediate_is() {
    let root_key = KeyPair::generate().unwrap();
    let root_der = ca_params("prodprobe test X1", -1000, 3000)
        .self_signed(&root_key)
        .unwrap()
        .der()
        .clone();
    // X1's own key and name, certified by an older root that expired 30 days ago.
    let dst = Issuer::new(
        ca_params("prodprobe test DST X3", -3000, -30),
        KeyPair::generate().unwrap(),
    );
    let cross = ca_params("prodprobe test X1", -1500, -30)
        .signed_by(&root_key, &dst)
        .unwrap()
        .der()
        .clone();
    let root = Issuer::new(ca_params("prodprobe test X1", -1000, 3000), root_key);
    let int_key = KeyPair::generate().unwrap();
    let int_params = ca_params("prodprobe test R3", -100, 800);
    let int_der = int_params.signed_by(&int_key, &root).unwrap().der().clone();
    let int = Issuer::new(int_params, int_key);
    let tls = Arc::new(TlsClient::new(std::slice::from_ref(&root_der)).unwrap());

    // 15 days left on a 90-day leaf, then R3, then the expired cross-sign of X1.
    let (leaf_der, key) = leaf_of(&leaf(&["127.0.0.1"], -75, 15), &int);
    let srv = serve(crate::support::server_config(
        vec![leaf_der.clone(), int_der, cross],
        key,
    ))
    .await;
    let mut t = target(&srv.url("https", "/"), Arc::clone(&tls), None);
    t.checks.retain(|c| c.id == "tls_cert");
    let (runs, verdicts) = crate::support::evaluate(&t).await;
    let v = &verdicts[0];
    assert!(run_of(&runs, ProbeKind::Tls).success, "the chain verifies");
    assert_eq!(
        ids_sorted(v),
        ["chain_order", "expires_soon", "ocsp_not_stapled"],
        "{:?}",
        v.findings
    );
    let order = v.findings.iter().find(|f| f.id == "chain_order").unwrap();
    assert!(
        order.evidence.contains("chain #2")
            && order
                .evidence
                .contains("expired 30.0 days ago, not on the validated path"),
        "{}",
        order.evidence
    );
    let leaf_not_after = inspect::inspect(&leaf_der).unwrap().summary.not_after;
    assert_eq!(
        crate::support::gauge(v, "tls_chain_not_after_min_timestamp_seconds"),
        leaf_not_after as f64
    );

    // R3 expired ten days ago and is the only way to X1.
    let old_key = KeyPair::generate().unwrap();
    let old_params = ca_params("prodprobe test R3 old", -400, -10);
    let old_der = old_params.signed_by(&old_key, &root).unwrap().der().clone();
    let old = Issuer::new(old_params, old_key);
    let (leaf_der, key) = leaf_of(&Leaf::valid(&["127.0.0.1"]), &old);
    let srv = serve(crate::support::server_config(vec![leaf_der, old_der], key)).await;
    let v = tls_cert(&srv.url("https", "/"), tls).await;
    assert_eq!(
        ids_sorted(&v),
        ["expired", "ocsp_not_stapled"],
        "{:?}",
        v.findings
    );
    let expired = v.findings.iter().find(|f| f.id == "expired").unwrap();
    assert!(
        expired.evidence.contains("chain #1") && expired.evidence.contains("R3 old"),
        "{}",
        expired.evidence
    );

    // The same chain for a client that does not trust X1: R3 old expired before the leaf was
    // issued, so no instant lies inside every validity window, and trust cannot be judged
    // apart from time by WebPKI. Its issuer Names lead to no anchor: untrusted as well
    // (seen with nginx and Apache serving an expired intermediate of a private CA).
    let stranger = Arc::new(TlsClient::new(&[]).unwrap());
    let v = tls_cert(&srv.url("https", "/"), stranger).await;
    assert_eq!(
        ids_sorted(&v),
        ["expired", "ocsp_not_stapled", "untrusted_chain"],
        "{:?}",
        v.findings
    );
}

/// The fallback that reads the chain from the hand-built TLS 1.2 hello is for servers that
/// refuse rustls's versions or suites (alerts 40, 70, 71, or a dropped connection); a server
/// failing otherwise (here: alert internal_error to every hello) gets no second connection.
#[tokio::test(flavor = "multi_thread")]
async fn other_handshake_failures_do_not_send_the_legacy_hello() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                // Fatal internal_error (80), TLS 1.2 record.
                let _ = s
                    .write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x50])
                    .await;
                let _ = s.shutdown().await;
            });
        }
    });
    let pki = Pki::new();
    let mut t = target(&format!("https://{addr}/"), pki.client(), None);
    t.checks.retain(|c| c.id == "tls_cert");
    let (runs, _) = crate::support::evaluate(&t).await;
    let run = run_of(&runs, ProbeKind::Tls);
    let Evidence::Tls(e) = &run.evidence else {
        panic!("{:?}", run.evidence)
    };
    let a = &e.addresses[0];
    assert_eq!(a.failure.as_ref().map(|f| f.0), Some("tls_handshake"));
    assert!(a.facts.is_none() && a.rustls_failure.is_none());
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection only");
    task.abort();
}

/// An RSA key restricted to PSS (SPKI id-RSASSA-PSS, RFC 4055) is an RSA key of its modulus
/// size, not "RSA 0 bits": no `weak_key` for a 2048-bit one. The certificate is OpenSSL's
/// (rcgen writes no such SPKI), judged as a public-root chain would be.
#[test]
fn rsa_pss_key_is_measured_by_its_modulus() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (ca_cert, ca_key) = pki.write_ca_and_key(dir.path());
    let (cert, _) = openssl::leaf(
        dir.path(),
        "pss",
        "rsa-pss:2048",
        "DNS:shop.example",
        "sha256",
        (&ca_cert, &ca_key),
    );
    let chain = pem_chain(&cert);
    let d = inspect::inspect(&chain[0]).unwrap();
    assert_eq!((d.key.label(), d.key_bits), ("rsa".to_owned(), 2048));
    let t = target(
        "https://shop.example/",
        Arc::new(TlsClient::new(&[]).unwrap()),
        None,
    );
    let v = judge(&t, vec![public_root_evidence(chain)], "tls_cert");
    assert!(!ids(&v).contains(&"weak_key"), "{:?}", v.findings);
    assert_eq!(
        crate::support::gauge(&v, "tls_cert_key_length"),
        2048.0,
        "{:?}",
        v.measurements
    );
}

/// A leaf of `int` for `names` whose AIA caIssuers URL (`path` on an in-process HTTP server)
/// serves `body`: (that server, the URL, chain, key).
async fn leaf_with_aia(
    int: &Pki,
    names: &[&str],
    path: &str,
    body: Vec<u8>,
) -> (
    TestServer,
    String,
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
) {
    let aia = TestServer::http("127.0.0.1", move |_| Resp::new(200).body(body.clone())).await;
    let url = aia.url("http", path);
    let (chain, key) = int.leaf_with(&Leaf::valid(names), |p| {
        p.custom_extensions.push(der::aia_ca_issuers(&url));
    });
    (aia, url, chain, key)
}

/// A leaf may list several caIssuers URLs (RFC 5280 §4.2.2.1: a sequence of access
/// descriptions); the first may be dead. Each is tried in order until one completes the path
/// (seen with a leaf whose first URL answered 404 behind nginx), and none after it is fetched.
#[tokio::test(flavor = "multi_thread")]
async fn a_later_aia_url_completes_the_path_when_the_first_is_dead() {
    let root = Pki::new();
    let (int, int_der) = root.intermediate("prodprobe test intermediate");
    let int_body = int_der.as_ref().to_vec();
    let aia = TestServer::http("127.0.0.1", move |r| match r.path.as_str() {
        "/int.der" => Resp::new(200).body(int_body.clone()),
        _ => Resp::new(404),
    })
    .await;
    let (dead, good, spare) = (
        aia.url("http", "/nope.der"),
        aia.url("http", "/int.der"),
        aia.url("http", "/spare.der"),
    );
    let (chain, key) = int.leaf_with(&Leaf::valid(&["127.0.0.1"]), |p| {
        p.custom_extensions
            .push(der::aia_ca_issuers_list(&[&dead, &good, &spare]));
    });
    let srv = serve(crate::support::server_config(chain, key)).await;
    let v = tls_cert(&srv.url("https", "/"), root.client()).await;
    assert_eq!(
        ids_sorted(&v),
        ["incomplete_chain", "ocsp_not_stapled"],
        "{:?}",
        v.findings
    );
    assert!(v.findings.iter().any(|f| f.evidence.contains(&good)));
    let asked: Vec<String> = aia.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(asked, ["/nope.der", "/int.der"]);
}

/// RFC 5280 §4.2.2.1 lets caIssuers point at a DER certs-only CMS message (`.p7c`, what
/// `openssl crl2pkcs7 -nocrl` writes, and what some CAs publish) as well as at one
/// certificate: the intermediate inside completes the path, so the chain is
/// `incomplete_chain`, not `untrusted_chain`.
#[tokio::test(flavor = "multi_thread")]
async fn a_p7c_at_the_aia_url_completes_the_path_too() {
    let root = Pki::new();
    let (int, int_der) = root.intermediate("prodprobe test intermediate");
    let dir = tempfile::tempdir().unwrap();
    let der_path = dir.path().join("int.der");
    std::fs::write(&der_path, int_der.as_ref()).unwrap();
    let pem_path = dir.path().join("int.pem");
    let p7c_path = dir.path().join("int.p7c");
    openssl::run(&[
        "x509",
        "-inform",
        "DER",
        "-in",
        der_path.to_str().unwrap(),
        "-out",
        pem_path.to_str().unwrap(),
    ]);
    openssl::run(&[
        "crl2pkcs7",
        "-nocrl",
        "-certfile",
        pem_path.to_str().unwrap(),
        "-outform",
        "DER",
        "-out",
        p7c_path.to_str().unwrap(),
    ]);
    let p7c = std::fs::read(&p7c_path).unwrap();
    let (aia, _, chain, key) = leaf_with_aia(&int, &["127.0.0.1"], "/int.p7c", p7c).await;
    let srv = serve(crate::support::server_config(chain, key)).await;
    let v = tls_cert(&srv.url("https", "/"), root.client()).await;
    assert_eq!(
        ids_sorted(&v),
        ["incomplete_chain", "ocsp_not_stapled"],
        "{:?}",
        v.findings
    );
    assert_eq!(aia.count(), 1, "exactly one caIssuers request");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_intermediate_is_incomplete_when_aia_completes_the_path() {
    let root = Pki::new();
    let (int, int_der) = root.intermediate("prodprobe test intermediate");
    // The caIssuers URL serves the intermediate (DER) from an in-process HTTP server.
    let (aia, aia_url, chain, key) =
        leaf_with_aia(&int, &["127.0.0.1"], "/int.der", int_der.as_ref().to_vec()).await;
    let srv = serve(crate::support::server_config(
        chain.clone(),
        key.clone_key(),
    ))
    .await;
    let v = tls_cert(&srv.url("https", "/"), root.client()).await;
    assert_eq!(
        ids_sorted(&v),
        ["incomplete_chain", "ocsp_not_stapled"],
        "{:?}",
        v.findings
    );
    assert_eq!(v.findings[0].severity, Severity::High);
    assert!(v.findings.iter().any(|f| f.evidence.contains(&aia_url)));
    assert_eq!(aia.count(), 1, "exactly one caIssuers request");

    // With the fetch switched off, the same chain is untrusted.
    let mut t = target(&srv.url("https", "/"), root.client(), None);
    t.checks.retain(|c| c.id == "tls_cert");
    t.options.tls_cert.aia_fetch = false;
    let v = verdict(&t, "tls_cert").await;
    assert_eq!(ids_sorted(&v), ["ocsp_not_stapled", "untrusted_chain"]);
    assert_eq!(aia.count(), 1);

    // Serving the intermediate fixes it.
    let full = serve(crate::support::server_config(
        vec![chain[0].clone(), int_der],
        key,
    ))
    .await;
    let v = tls_cert(&full.url("https", "/"), root.client()).await;
    assert_eq!(ids_sorted(&v), ["ocsp_not_stapled"]);
}

/// CHECKS.md §9: `incomplete_chain` replaces `untrusted_chain` only where fetching *that*
/// leaf's AIA caIssuers completes the path. Behind one name, 127.0.0.1 and ::1 omit their
/// intermediate (the leaf's AIA URL serves it) and 127.0.0.2 serves a leaf of a CA nobody
/// trusts, without AIA: 127.0.0.2 stays `untrusted_chain` (critical), and the URL the two
/// other addresses share is fetched once.
#[tokio::test(flavor = "multi_thread")]
async fn aia_completing_one_backend_does_not_hide_an_untrusted_one() {
    let root = Pki::new();
    let (int, int_der) = root.intermediate("prodprobe test intermediate");
    let (aia, aia_url, chain, key) =
        leaf_with_aia(&int, &["shop.test"], "/int.der", int_der.as_ref().to_vec()).await;
    let incomplete = crate::support::server_config(chain, key);
    let first = serve(Arc::clone(&incomplete)).await;
    let port = first.addr.port();
    let unknown = Pki::new();
    let second = TestServer::start_on(
        ("127.0.0.2", port),
        Some(unknown.server_config(&Leaf::valid(&["shop.test"]))),
        Arc::new(|_| Resp::new(200)),
    )
    .await;
    let v6 = TestServer::start_on(
        ("::1", port),
        Some(incomplete),
        Arc::new(|_| Resp::new(200)),
    )
    .await;
    let v = &tls_cert_of_three_backends(port, root.client()).await;
    assert_eq!(
        ids_sorted(v),
        [
            "incomplete_chain",
            "inconsistent_backends",
            "ocsp_not_stapled",
            "untrusted_chain"
        ],
        "{:?}",
        v.findings
    );
    let finding = |id: &str| v.findings.iter().find(|f| f.id == id).unwrap();
    let completed = &finding("incomplete_chain").evidence;
    assert!(
        completed.starts_with("127.0.0.1:")
            && completed.contains(&aia_url)
            && completed.contains(&format!("[::1]:{port}")),
        "{completed}"
    );
    let untrusted = finding("untrusted_chain");
    assert_eq!(untrusted.severity, Severity::Critical);
    assert!(
        untrusted.evidence.starts_with("127.0.0.2:")
            && untrusted.evidence.contains("unknown_issuer")
            && !untrusted.evidence.contains("127.0.0.1"),
        "{}",
        untrusted.evidence
    );
    assert_eq!(v.status, Status::Fail);
    assert_eq!(
        aia.count(),
        1,
        "one caIssuers request for the URL two addresses share"
    );
    drop((second, v6));
}

#[tokio::test(flavor = "multi_thread")]
async fn sha1_signature_is_weak_signature() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (ca_cert, ca_key) = pki.write_ca_and_key(dir.path());
    let (cert, key) = openssl::leaf(
        dir.path(),
        "sha1",
        "ec:P-256",
        "IP:127.0.0.1",
        "sha1",
        (&ca_cert, &ca_key),
    );
    let chain = pem_chain(&cert);
    let key = PrivateKeyDer::from_pem_file(&key).unwrap();
    let srv = serve(crate::support::server_config(chain, key)).await;
    let v = tls_cert(&srv.url("https", "/"), pki.client()).await;
    assert_eq!(
        ids_sorted(&v),
        ["ocsp_not_stapled", "weak_signature"],
        "{:?}",
        v.findings
    );
    assert!(
        v.findings
            .iter()
            .any(|f| f.evidence.contains("ecdsa-with-SHA1"))
    );
}

/// CHECKS.md §9 `weak_signature` covers SHA-1 under RSASSA-PSS too: the hash is in the
/// signature's parameters (RFC 4055 §3.1; OpenSSL writes SHA-1's as the DEFAULT, absent).
/// OpenSSL signs the leaf (rcgen signs no PSS); PSS with SHA-256 passes.
#[tokio::test(flavor = "multi_thread")]
async fn sha1_under_rsassa_pss_is_weak_signature() {
    let dir = tempfile::tempdir().unwrap();
    let (ca_cert, ca_key) = openssl::ca(dir.path(), "rsa-ca", "rsa:2048");
    let ca_der = CertificateDer::from_pem_file(&ca_cert).unwrap();
    let tls = Arc::new(TlsClient::new(&[ca_der]).unwrap());
    for (digest, want, sig_alg) in [
        (
            "sha1-pss",
            &["ocsp_not_stapled", "weak_signature"][..],
            "rsassaPss-SHA1",
        ),
        ("sha256-pss", &["ocsp_not_stapled"][..], "rsassaPss-SHA256"),
    ] {
        let (cert, key) = openssl::leaf(
            dir.path(),
            digest,
            "ec:P-256",
            "IP:127.0.0.1",
            digest,
            (&ca_cert, &ca_key),
        );
        let chain = pem_chain(&cert);
        let key = PrivateKeyDer::from_pem_file(&key).unwrap();
        let srv = serve(crate::support::server_config(chain, key)).await;
        let v = tls_cert(&srv.url("https", "/"), Arc::clone(&tls)).await;
        assert_eq!(ids_sorted(&v), want, "{digest}: {:?}", v.findings);
        let info = v
            .measurements
            .iter()
            .find(|m| m.gauge.name == "tls_cert_info")
            .unwrap();
        assert_eq!(info.labels[3], sig_alg, "{digest}");
        if let Some(f) = v.findings.iter().find(|f| f.id == "weak_signature") {
            assert!(
                f.evidence.contains("leaf #0") && f.evidence.contains(sig_alg),
                "{}",
                f.evidence
            );
        }
    }
}

/// RSA under 2048 bits is `weak_key`, measured by the modulus's bit length: a 2047-bit key is
/// 2047 bits (not the 2040 of whole bytes), in the evidence and in the key-length gauge.
#[tokio::test(flavor = "multi_thread")]
async fn rsa_keys_under_2048_bits_from_openssl_s_server_are_weak_key() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (ca_cert, ca_key) = pki.write_ca_and_key(dir.path());
    for bits in [1024, 2047] {
        let (cert, key) = openssl::leaf(
            dir.path(),
            &format!("rsa{bits}"),
            &format!("rsa:{bits}"),
            "IP:127.0.0.1",
            "sha256",
            (&ca_cert, &ca_key),
        );
        // rustls cannot serve an RSA key under 2048 bits; OpenSSL at security level 0 can. The
        // handshake then fails in rustls (ring verifies no RSA key under 2048 bits), after the
        // chain was recorded.
        let srv = SServer::start(&cert, &key, &["-cipher", "ALL:@SECLEVEL=0"]);
        let v = tls_cert(&format!("https://{}/", srv.addr), pki.client()).await;
        assert_eq!(
            ids_sorted(&v),
            ["ocsp_not_stapled", "weak_key"],
            "{bits}: {:?}",
            v.findings
        );
        let weak = v.findings.iter().find(|f| f.id == "weak_key").unwrap();
        assert!(
            weak.evidence
                .ends_with(&format!("leaf #0 CN=rsa{bits}: RSA {bits} bits")),
            "{}",
            weak.evidence
        );
        assert_eq!(
            crate::support::gauge(&v, "tls_cert_key_length"),
            f64::from(bits)
        );
    }
}

/// rustls offers TLS 1.2 only with ECDHE + AEAD suites and nothing older; a server limited to
/// CBC or RSA key-exchange suites, or to TLS 1.0, refuses it before any certificate. Before
/// TLS 1.3 the Certificate message travels in clear (RFC 5246 §7.4.2), so the tls probe reads
/// the chain from the server's answer to the hand-built TLS 1.2 hello and tls_cert judges it
/// like any other: a valid certificate passes, a wrong one is reported, and every certificate
/// metric is exported.
#[tokio::test(flavor = "multi_thread")]
async fn certificates_of_servers_rustls_cannot_talk_to_are_still_judged() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (ca_cert, ca_key) = pki.write_ca_and_key(dir.path());
    /// (case, SAN, s_server options, findings, negotiated version).
    type Case = (
        &'static str,
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
        &'static str,
    );
    let cases: [Case; 2] = [
        (
            "tls1.2 cbc only",
            "IP:127.0.0.1",
            &["-tls1_2", "-cipher", "AES128-SHA:@SECLEVEL=0"],
            &["ocsp_not_stapled"],
            "TLS 1.2",
        ),
        (
            "tls1.0 only, certificate for another host",
            "DNS:elsewhere.example",
            &["-tls1", "-cipher", "ALL:@SECLEVEL=0"],
            &["hostname_mismatch", "ocsp_not_stapled"],
            "TLS 1.0",
        ),
    ];
    for (case, san, args, want, version) in cases {
        let (cert, key) = openssl::leaf(
            dir.path(),
            &case.replace([' ', ','], "-"),
            "rsa:2048",
            san,
            "sha256",
            (&ca_cert, &ca_key),
        );
        let srv = SServer::start(&cert, &key, args);
        let mut t = target(&format!("https://{}/", srv.addr), pki.client(), None);
        t.checks.retain(|c| c.id == "tls_cert");
        let (runs, verdicts) = crate::support::evaluate(&t).await;
        let v = &verdicts[0];
        assert_eq!(ids_sorted(v), want, "{case}: {:?}", v.findings);
        let run = run_of(&runs, ProbeKind::Tls);
        let probes::evidence::Evidence::Tls(e) = &run.evidence else {
            panic!("{case}")
        };
        let a = &e.addresses[0];
        assert!(a.failure.is_none(), "{case}: {:?}", a.failure);
        assert!(
            a.rustls_failure.as_deref().is_some_and(
                |d| d.contains("no TLS version, cipher suite or signature scheme in common")
            ),
            "{case}: {:?}",
            a.rustls_failure
        );
        let m = |name: &str| {
            run.measurements
                .iter()
                .chain(v.measurements.iter())
                .find(|m| m.gauge.name == name)
                .unwrap_or_else(|| panic!("{case}: {name} missing"))
                .clone()
        };
        assert_eq!(
            m("tls_version_info").labels,
            ["127.0.0.1", version],
            "{case}"
        );
        assert!(m("ssl_earliest_cert_expiry").value > now() as f64, "{case}");
        assert!(m("tls_cert_expires_in_seconds").value > 0.0, "{case}");
        assert_eq!(m("tls_cert_key_length").value, 2048.0, "{case}");
        assert_eq!(m("tls_cert_chain_length").value, 1.0, "{case}");
        let hostname_ok = want.len() == 1;
        // The chain reaches the trusted CA in both cases: the name has its own gauge.
        assert_eq!(m("tls_cert_chain_valid").value, 1.0, "{case}");
        assert_eq!(
            m("tls_cert_hostname_match").value,
            f64::from(u8::from(hostname_ok)),
            "{case}"
        );
        assert_eq!(run.success, hostname_ok, "{case}: {:?}", run.reason);
    }
}

/// A rustls server for a P-256 leaf (`IP:127.0.0.1`) that OpenSSL signs with `digest` under the
/// intermediate `int` (certificate and key paths), serving the leaf and the intermediate.
async fn serve_leaf_of(
    dir: &std::path::Path,
    name: &str,
    digest: &str,
    int: &(std::path::PathBuf, std::path::PathBuf),
) -> TestServer {
    let (cert, key) = openssl::leaf(
        dir,
        name,
        "ec:P-256",
        "IP:127.0.0.1",
        digest,
        (&int.0, &int.1),
    );
    let mut chain = pem_chain(&cert);
    chain.extend(pem_chain(&int.0));
    let key = PrivateKeyDer::from_pem_file(&key).unwrap();
    serve(crate::support::server_config(chain, key)).await
}

/// P-521 is allowed (CHECKS.md §9: `uncommon_curve`, info): a chain through a P-521 intermediate
/// verifies, whichever hash signed the leaf (the intermediate is OpenSSL's, so its signatures
/// are real ones, not our own signer's).
#[tokio::test(flavor = "multi_thread")]
async fn p521_intermediate_verifies_and_is_uncommon_curve() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (ca_cert, ca_key) = pki.write_ca_and_key(dir.path());
    let int = openssl::intermediate(dir.path(), "p521-ca", "ec:P-521", (&ca_cert, &ca_key));
    for digest in ["sha256", "sha384", "sha512"] {
        let srv = serve_leaf_of(dir.path(), &format!("leaf-{digest}"), digest, &int).await;
        let v = tls_cert(&srv.url("https", "/"), pki.client()).await;
        assert_eq!(
            ids_sorted(&v),
            ["ocsp_not_stapled", "uncommon_curve"],
            "{digest}: {:?}",
            v.findings
        );
        assert_eq!(v.status, Status::Pass, "{digest}");
        let f = v
            .findings
            .iter()
            .find(|f| f.id == "uncommon_curve")
            .unwrap();
        assert!(f.evidence.contains("chain #1"), "{}", f.evidence);
    }
}

/// An intermediate with an RSA-1024 key: WebPKI (ring) will not verify what it signed and
/// calls the leaf's signature bad, but the path exists (`openssl verify` accepts it, nginx
/// serves it at a lowered security level). That is `weak_key` (high), as for an RSA-1024 leaf,
/// not `untrusted_chain (bad_signature)`; under a root the client does not trust it is
/// `untrusted_chain (unknown_issuer)` as well.
#[tokio::test(flavor = "multi_thread")]
async fn an_rsa_1024_intermediate_is_a_weak_key_not_a_bad_signature() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (ca_cert, ca_key) = pki.write_ca_and_key(dir.path());
    let int = openssl::intermediate(dir.path(), "rsa1024-ca", "rsa:1024", (&ca_cert, &ca_key));
    let srv = serve_leaf_of(dir.path(), "leaf", "sha256", &int).await;
    let v = tls_cert(&srv.url("https", "/"), pki.client()).await;
    assert_eq!(
        ids_sorted(&v),
        ["ocsp_not_stapled", "weak_key"],
        "{:?}",
        v.findings
    );
    let weak = crate::support::evidence(&v, "weak_key");
    assert!(
        weak.contains("chain #1") && weak.contains("RSA 1024 bits"),
        "{weak}"
    );
    assert_eq!(v.status, Status::Fail);
    let stranger = Arc::new(TlsClient::new(&[]).unwrap());
    let v = tls_cert(&srv.url("https", "/"), stranger).await;
    assert_eq!(
        ids_sorted(&v),
        ["ocsp_not_stapled", "untrusted_chain", "weak_key"],
        "{:?}",
        v.findings
    );
    let untrusted = crate::support::evidence(&v, "untrusted_chain");
    assert!(untrusted.contains("unknown_issuer"), "{untrusted}");
}

/// A P-521 leaf key signs the TLS 1.3 handshake with ecdsa_secp521r1_sha512 (RFC 8446 §4.2.3);
/// rustls cannot serve that key, OpenSSL can. (Over TLS 1.2 a server may use an ECDSA
/// certificate only on a curve the client lists in supported_groups, RFC 8422 §5.1; like
/// Chrome's, our ClientHello lists no secp521r1, so a TLS-1.2-only P-521 server fails for both.)
#[tokio::test(flavor = "multi_thread")]
async fn p521_leaf_from_openssl_s_server_verifies() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (ca_cert, ca_key) = pki.write_ca_and_key(dir.path());
    let (cert, key) = openssl::leaf(
        dir.path(),
        "p521-leaf",
        "ec:P-521",
        "IP:127.0.0.1",
        "sha256",
        (&ca_cert, &ca_key),
    );
    let srv = SServer::start(&cert, &key, &["-tls1_3"]);
    let v = tls_cert(&format!("https://{}/", srv.addr), pki.client()).await;
    assert_eq!(
        ids_sorted(&v),
        ["ocsp_not_stapled", "uncommon_curve"],
        "{:?}",
        v.findings
    );
    assert_eq!(v.status, Status::Pass);
    // The curve's size, not the 528 bits of its 66-byte coordinates.
    assert_eq!(crate::support::gauge(&v, "tls_cert_key_length"), 521.0);
}

/// An X.509 v1 leaf (browser-sync's `--https` certificate): WebPKI refuses it, and since it
/// cannot even check the handshake signature with it, the handshake used to end there: health
/// showed rustls's debug text (`Other(OtherError(UnsupportedCertVersion))`) as a handshake
/// error. It now fails like any certificate that does not verify: a named reason, the
/// handshake completed, the response checks skipped as invalid_cert.
#[tokio::test(flavor = "multi_thread")]
async fn an_x509_v1_certificate_fails_verification_with_its_reason() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (ca_cert, ca_key) = pki.write_ca_and_key(dir.path());
    let (cert, key) = openssl::v1_leaf(dir.path(), "127.0.0.1", (&ca_cert, &ca_key));
    let srv = SServer::start(&cert, &key, &["-www"]);
    let mut t = target(&format!("https://{}/", srv.addr), pki.client(), None);
    t.checks
        .retain(|c| matches!(c.id, "tls_cert" | "health" | "x_content_type_options"));
    let (_, verdicts) = crate::support::evaluate(&t).await;
    let of = |id: &str| verdicts.iter().find(|v| v.check == id).unwrap();
    let v = of("tls_cert");
    assert_eq!(
        ids_sorted(v),
        ["hostname_mismatch", "ocsp_not_stapled", "untrusted_chain"],
        "{:?}",
        v.findings
    );
    let untrusted = v
        .findings
        .iter()
        .find(|f| f.id == "untrusted_chain")
        .unwrap();
    assert!(
        untrusted.evidence.contains("unsupported_cert_version"),
        "{}",
        untrusted.evidence
    );
    let health = of("health");
    assert_eq!(health.status, Status::Fail);
    let evidence = &health.findings[0].evidence;
    assert!(
        evidence.contains("tls (certificate unsupported_cert_version)")
            && !evidence.contains("Other("),
        "{evidence}"
    );
    let xcto = of("x_content_type_options");
    assert_eq!(
        (xcto.status, xcto.reason),
        (Status::Skipped, Some("invalid_cert"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn inconsistent_backends_across_two_addresses_of_one_name() {
    let pki = Pki::new();
    let good = serve(pki.server_config(&Leaf::valid(&["shop.test"]))).await;
    let port = good.addr.port();
    // The second backend, same port on 127.0.0.2, serves an expired certificate.
    let bad = TestServer::start_on(
        ("127.0.0.2", port),
        Some(pki.server_config(&Leaf::expired(&["shop.test"]))),
        Arc::new(|_| Resp::new(200)),
    )
    .await;
    let dns = DnsServer::start(|name, ty| match (name, ty) {
        ("shop.test", hickory_resolver::proto::rr::RecordType::A) => Answer::Records(vec![
            a("shop.test", "127.0.0.1"),
            a("shop.test", "127.0.0.2"),
        ]),
        _ => Answer::NoData,
    })
    .await;
    let engine = engine_with_dns(dns.addr, Duration::from_secs(2));
    let mut t = target(&format!("https://shop.test:{port}/"), pki.client(), None);
    t.checks.retain(|c| c.id == "tls_cert");
    let (runs, verdicts) = evaluate_with(&engine, &t).await;
    let v = &verdicts[0];
    assert_eq!(
        ids_sorted(v),
        ["expired", "inconsistent_backends", "ocsp_not_stapled"],
        "{:?}",
        v.findings
    );
    let expired = v.findings.iter().find(|f| f.id == "expired").unwrap();
    assert!(
        expired.evidence.starts_with("127.0.0.2:"),
        "{}",
        expired.evidence
    );
    // One series per address.
    let run = run_of(&runs, ProbeKind::Tls);
    let mut addrs: Vec<&str> = run
        .measurements
        .iter()
        .filter(|m| m.gauge.name == "ssl_earliest_cert_expiry")
        .map(|m| m.labels[0].as_str())
        .collect();
    addrs.sort_unstable();
    assert_eq!(addrs, ["127.0.0.1", "127.0.0.2"]);
    drop(bad);
}

/// CHECKS.md §9: the expiry findings are ranges, at most one per target, `expired` winning,
/// and its evidence says which addresses. Behind one name, 127.0.0.1's leaf has 10 days left
/// (`expires_soon` alone), 127.0.0.2's expired a day ago and ::1's three days ago: one
/// `expired` naming both, no `expires_soon`.
#[tokio::test(flavor = "multi_thread")]
async fn one_expiry_finding_per_target_the_worst_naming_every_address() {
    let pki = Pki::new();
    let soon = serve(pki.server_config(&leaf(&["shop.test"], -80, 10))).await;
    let port = soon.addr.port();
    let expired_since = |ip: &'static str, days_ago: i64| {
        TestServer::start_on(
            (ip, port),
            Some(pki.server_config(&leaf(&["shop.test"], -90 - days_ago, -days_ago))),
            Arc::new(|_| Resp::new(200)),
        )
    };
    let second = expired_since("127.0.0.2", 1).await;
    let v6 = expired_since("::1", 3).await;
    let v = &tls_cert_of_three_backends(port, pki.client()).await;
    assert_eq!(
        ids_sorted(v),
        ["expired", "inconsistent_backends", "ocsp_not_stapled"],
        "{:?}",
        v.findings
    );
    let evidence = |id: &str| &v.findings.iter().find(|f| f.id == id).unwrap().evidence;
    let expired = evidence("expired");
    assert!(
        expired.starts_with(&format!("127.0.0.2:{port}: leaf #0"))
            && expired.contains(&format!("; [::1]:{port}: leaf #0"))
            && !expired.contains("127.0.0.1:"),
        "{expired}"
    );
    let unstapled = evidence("ocsp_not_stapled");
    for at in [
        format!("127.0.0.1:{port}"),
        format!("127.0.0.2:{port}"),
        format!("[::1]:{port}"),
    ] {
        assert!(unstapled.contains(&at), "{at} in {unstapled}");
    }
    drop((second, v6));
}

/// A hand-made tls evidence whose chain ends at a public root: no loopback server can present
/// a chain to a real public root, so the public-root-only rules are judged on committed bytes
/// (rcgen certificates made here, with `public_root` set as the probe would set it).
fn public_root_evidence(chain: Vec<CertificateDer<'static>>) -> ProbeRun {
    let certs: Vec<_> = chain.iter().filter_map(inspect::inspect).collect();
    let facts = TlsFacts {
        version: Some("tls1.3"),
        cipher: None,
        group: None,
        alpn: None,
        sni: Some("shop.example".into()),
        chain: Arc::from(chain),
        ocsp: None,
        verification: Verification::Verified,
        client_cert_missing: false,
    };
    let evidence = TlsEvidence {
        host: "shop.example".into(),
        port: 443,
        skipped: None,
        addresses: vec![AddressTls {
            address: "192.0.2.1".parse::<IpAddr>().unwrap(),
            facts: Some(Arc::new(facts)),
            failure: None,
            trusted: Some(true),
            trust_reason: None,
            public_root: true,
            leaf_parsed: true,
            certs,
            duration: Duration::ZERO,
            rustls_failure: None,
            aia: None,
        }],
    };
    ProbeRun {
        kind: ProbeKind::Tls,
        started_at: SystemTime::now(),
        duration: Duration::ZERO,
        success: true,
        reason: None,
        evidence: Evidence::Tls(evidence),
        measurements: Vec::new(),
    }
}

#[test]
fn public_root_only_rules_on_committed_bytes_lifetime_and_ed25519() {
    let pki = Pki::new();
    let t = target(
        "https://shop.example/",
        Arc::new(TlsClient::new(&[]).unwrap()),
        None,
    );
    // A 400-day leaf issued before 2026-03-15: over the 398-day limit.
    let long = Leaf {
        names: vec!["shop.example".into()],
        not_before: OffsetDateTime::from_unix_timestamp(1_760_000_000).unwrap(),
        not_after: OffsetDateTime::from_unix_timestamp(1_760_000_000).unwrap() + days(400),
    };
    let (chain, _) = pki.leaf(&long);
    let v = judge(&t, vec![public_root_evidence(chain)], "tls_cert");
    assert!(
        ids(&v).contains(&"lifetime_exceeds_policy"),
        "{:?}",
        v.findings
    );
    // 90 days issued now: within every cap until 2029.
    let (chain, _) = pki.leaf(&Leaf::valid(&["shop.example"]));
    let v = judge(&t, vec![public_root_evidence(chain)], "tls_cert");
    assert!(
        !ids(&v).contains(&"lifetime_exceeds_policy"),
        "{:?}",
        v.findings
    );

    // An Ed25519 leaf is outside the Web PKI: weak_key on a public-root target only.
    let key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let params = Pki::params(&Leaf::valid(&["shop.example"]));
    let ed = params.self_signed(&key).unwrap().der().clone();
    let v = judge(&t, vec![public_root_evidence(vec![ed.clone()])], "tls_cert");
    assert!(ids(&v).contains(&"weak_key"), "{:?}", v.findings);
    let mut private = public_root_evidence(vec![ed]);
    if let Evidence::Tls(e) = &mut private.evidence {
        e.addresses[0].public_root = false;
    }
    let v = judge(&t, vec![private], "tls_cert");
    assert!(!ids(&v).contains(&"weak_key"), "{:?}", v.findings);
    let _ = PKCS_ECDSA_P256_SHA256;
}

#[tokio::test]
async fn a_ca_certificate_served_as_the_leaf_names_its_reason() {
    // `openssl req -x509 -addext subjectAltName=…` makes a CA:TRUE certificate; configured as
    // `ca_file` and served, WebPKI refuses it as an end entity. The reason must say so, not
    // the catch-all `invalid_certificate`.
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params.self_signed(&key).unwrap();
    let der = cert.der().clone();
    let srv = TestServer::https(
        "127.0.0.1",
        crate::support::server_config(
            vec![der.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        ),
        |_: &crate::support::Req| Resp::new(200).body("ok"),
    )
    .await;
    let client = Arc::new(TlsClient::new(std::slice::from_ref(&der)).unwrap());
    let v = verdict(&target(&srv.url("https", "/"), client, None), "tls_cert").await;
    let f = v
        .findings
        .iter()
        .find(|f| f.id == "untrusted_chain")
        .unwrap_or_else(|| panic!("{:?}", v.findings));
    assert!(
        f.evidence.contains("ca_used_as_end_entity"),
        "{}",
        f.evidence
    );
}

#[tokio::test]
async fn a_chain_deeper_than_webpki_follows_is_chain_too_long() {
    // Root → 8 intermediates → leaf, every certificate served: WebPKI stops at its path
    // depth, and the reason says so instead of `invalid_certificate`.
    let root = Pki::new();
    let mut served = Vec::new();
    let mut issuer = root.intermediate("depth 1");
    served.push(issuer.1.clone());
    for depth in 2..=8 {
        let next = issuer.0.intermediate(&format!("depth {depth}"));
        served.push(next.1.clone());
        issuer = next;
    }
    let (mut chain, key) = issuer.0.leaf(&Leaf::valid(&["127.0.0.1"]));
    served.reverse();
    chain.extend(served);
    let srv = TestServer::https(
        "127.0.0.1",
        crate::support::server_config(chain, key),
        |_: &crate::support::Req| Resp::new(200).body("ok"),
    )
    .await;
    let v = verdict(
        &target(&srv.url("https", "/"), root.client(), None),
        "tls_cert",
    )
    .await;
    let f = v
        .findings
        .iter()
        .find(|f| f.id == "untrusted_chain")
        .unwrap_or_else(|| panic!("{:?}", v.findings));
    assert!(f.evidence.contains("chain_too_long"), "{}", f.evidence);
}
