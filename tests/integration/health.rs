//! `health` (CHECKS.md §11): every finding id from real server responses.

use std::sync::Arc;
use std::time::Duration;

use probes::verdict::Status;
use url::Url;

use crate::support::web::Web;
use crate::support::{Resp, assert_case, gauge, ids, target, verdict};

fn json(status: u16, ct: &str, body: &str) -> Resp {
    Resp::new(status).header("Content-Type", ct).body(body)
}

async fn web() -> Web {
    let a = vec![
        (
            "/pass",
            json(200, "application/health+json", r#"{"status":"pass"}"#),
        ),
        ("/plain-ok", Resp::new(200).body("ok")),
        ("/503", Resp::new(503).body("unavailable")),
        (
            "/spring-down",
            json(
                503,
                "application/vnd.spring-boot.actuator.v3+json",
                r#"{"status":"DOWN"}"#,
            ),
        ),
        (
            "/fail-200",
            json(
                200,
                "application/health+json",
                r#"{"status":"fail","checks":{"db:responseTime":[{"status":"fail"}]}}"#,
            ),
        ),
        (
            "/warn",
            json(200, "application/health+json", r#"{"status":"warn"}"#),
        ),
        (
            "/spring-unknown",
            json(200, "application/json", r#"{"status":"UNKNOWN"}"#),
        ),
        (
            "/verbose",
            Resp::new(200)
                .body("[+]ping ok\n[-]etcd failed: reason withheld\nlivez check failed\n"),
        ),
        ("/login", Resp::redirect(302, "/login-page")),
        (
            "/components",
            json(
                200,
                "application/json",
                r#"{"status":"UP","components":{"db":{"status":"DOWN"},"disk":{"status":"UP"}}}"#,
            ),
        ),
        ("/not-json", json(200, "application/json", "{not json")),
        // A byte order mark before the JSON (some .NET writers).
        (
            "/bom-fail",
            json(200, "application/json", "\u{feff}{\"status\":\"fail\"}"),
        ),
        // ASP.NET Core: the default writer (text/plain) and HealthChecks.UI's JSON writer.
        ("/aspnet-healthy", json(200, "text/plain", "Healthy")),
        ("/aspnet-degraded", json(200, "text/plain", "Degraded")),
        ("/aspnet-unhealthy", json(503, "text/plain", "Unhealthy")),
        (
            "/aspnet-ui",
            json(
                200,
                "application/json",
                r#"{"status":"Degraded","totalDuration":"00:00:00.01","entries":{"db":{"status":"Unhealthy","duration":"00:00:00.01"},"self":{"status":"Healthy"}}}"#,
            ),
        ),
        // py-healthcheck with `failed_status=200`: `success` / `failure`.
        (
            "/pyhc-failure",
            json(
                200,
                "application/json",
                r#"{"hostname":"web-1","status":"failure","timestamp":1796300000.0,"results":[{"checker":"db","passed":false}]}"#,
            ),
        ),
        (
            "/pyhc-success",
            json(
                200,
                "application/json",
                r#"{"status":"success","results":[]}"#,
            ),
        ),
    ];
    let c = vec![(
        "/pass",
        json(200, "application/health+json", r#"{"status":"pass"}"#),
    )];
    Web::start(a, vec![], c, vec![]).await
}

#[tokio::test]
async fn every_finding_from_real_responses() {
    let web = web().await;
    let cases: &[(&str, &[&str], Status, f64)] = &[
        ("/pass", &[], Status::Pass, 2.0),
        ("/plain-ok", &[], Status::Pass, -1.0),
        ("/503", &["bad_status"], Status::Fail, -1.0),
        (
            "/spring-down",
            &["bad_status", "reports_unhealthy"],
            Status::Fail,
            0.0,
        ),
        (
            "/fail-200",
            &["reports_unhealthy", "status_code_mismatch"],
            Status::Fail,
            0.0,
        ),
        ("/warn", &["degraded"], Status::Fail, 1.0),
        ("/spring-unknown", &["degraded"], Status::Fail, 1.0),
        ("/verbose", &["reports_unhealthy"], Status::Fail, 0.0),
        ("/login", &["bad_status"], Status::Fail, -1.0),
        ("/components", &[], Status::Pass, 2.0),
        ("/not-json", &[], Status::Pass, -1.0),
        (
            "/bom-fail",
            &["reports_unhealthy", "status_code_mismatch"],
            Status::Fail,
            0.0,
        ),
        ("/aspnet-healthy", &[], Status::Pass, 2.0),
        ("/aspnet-degraded", &["degraded"], Status::Fail, 1.0),
        (
            "/aspnet-unhealthy",
            &["bad_status", "reports_unhealthy"],
            Status::Fail,
            0.0,
        ),
        ("/aspnet-ui", &["degraded"], Status::Fail, 1.0),
        (
            "/pyhc-failure",
            &["reports_unhealthy", "status_code_mismatch"],
            Status::Fail,
            0.0,
        ),
        ("/pyhc-success", &[], Status::Pass, 2.0),
    ];
    for (path, expected, status, reported) in cases {
        let t = target(&web.a(path), web.pki.client(), None);
        let v = verdict(&t, "health").await;
        assert_case(&v, path, expected, *status);
        let m = |name: &str| gauge(&v, name);
        assert_eq!(m("health_reported_status"), *reported, "case {path}");
    }
    let t = target(&web.a("/aspnet-ui"), web.pki.client(), None);
    let v = verdict(&t, "health").await;
    assert_eq!(gauge(&v, "health_component_failures"), 1.0);
}

#[tokio::test]
async fn unreachable_covers_refused_connections_and_bad_certificates() {
    let web = web().await;
    let closed = format!("https://127.0.0.1:{}/health", web.closed);
    let mut t = target(&closed, web.pki.client(), None);
    // No response, no latency to judge: a failed request is never also `slow`.
    t.options.health.latency_budget = Duration::ZERO;
    let v = verdict(&t, "health").await;
    assert_eq!(ids(&v), ["unreachable"]);
    assert!(v.findings[0].evidence.contains("connect_refused"));
    let m = |name: &str| gauge(&v, name);
    assert_eq!(m("health_up"), 0.0);
    assert_eq!(m("health_status_code"), 0.0);

    let untrusted = web.c.url("https", "/pass");
    let v = verdict(&target(&untrusted, web.pki.client(), None), "health").await;
    assert_eq!(ids(&v), ["unreachable"]);
    assert!(
        v.findings[0].evidence.contains("tls"),
        "{}",
        v.findings[0].evidence
    );
}

#[tokio::test]
async fn body_regex_mismatch_and_latency_budget() {
    let web = web().await;
    let mut t = target(&web.a("/"), web.pki.client(), None);
    t.options.health.url = Some(Url::parse(&web.a("/plain-ok")).unwrap());
    t.options.health.body_regex = Some(regex::Regex::new("^healthy$").unwrap());
    let v = verdict(&t, "health").await;
    assert_eq!(ids(&v), ["body_mismatch"]);

    t.options.health.body_regex = Some(regex::Regex::new("^ok$").unwrap());
    t.options.health.latency_budget = Duration::ZERO;
    let v = verdict(&t, "health").await;
    assert_eq!(ids(&v), ["slow"]);
    assert_eq!(v.status, Status::Fail);
    // slow is medium: the service is still up.
    let up = v
        .measurements
        .iter()
        .find(|m| m.gauge.name == "health_up")
        .unwrap();
    assert_eq!(up.value, 1.0);
}

#[tokio::test]
async fn expected_status_is_configurable_and_components_are_counted() {
    let web = web().await;
    let mut t = target(&web.a("/login"), web.pki.client(), None);
    t.options.health.expected_status = vec![200..=399];
    assert!(verdict(&t, "health").await.findings.is_empty());

    let t = target(&web.a("/components"), web.pki.client(), None);
    let v = verdict(&t, "health").await;
    let failures = v
        .measurements
        .iter()
        .find(|m| m.gauge.name == "health_component_failures")
        .unwrap();
    assert_eq!(failures.value, 1.0);
}

#[tokio::test]
async fn health_request_asks_for_fresh_answers_and_never_follows_redirects() {
    let web = web().await;
    let t = target(&web.a("/login"), web.pki.client(), None);
    verdict(&t, "health").await;
    let reqs = web.a.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0].header("cache-control"), Some("no-cache"));
}

/// A health endpoint whose head arrives but whose body never finishes: the request's time runs
/// out during the body, which CHECKS.md §11 calls `unreachable` (a timeout), not merely `slow`.
#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_never_finishes_is_unreachable_not_slow() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{\"status\":")
                .await;
            held.push(s);
        }
    });
    let pki = crate::support::Pki::new();
    let t = target(&format!("http://{addr}/healthz"), pki.client(), None);
    let engine = crate::support::engine();
    let cx = probes::context::ProbeContext {
        engine: &engine,
        deadline: tokio::time::Instant::now() + Duration::from_secs(2),
    };
    let run = probes::probe::run(probes::probe::ProbeKind::Health, &t, &cx).await;
    let v = crate::support::judge(&t, vec![run], "health");
    assert_eq!(ids(&v), ["unreachable"], "{:#?}", v.findings);
    assert!(
        v.findings[0].evidence.contains("timeout"),
        "{}",
        v.findings[0].evidence
    );
    assert_eq!(gauge(&v, "health_up"), 0.0);
    server.abort();
}

/// A server demanding a client certificate (mutual TLS), over TLS 1.2 (it refuses the
/// handshake, alert 40) and over TLS 1.3 (the client's handshake completes; the server's
/// alert 116 ends the connection when the request goes out): health is `unreachable` either
/// way, its evidence says the server asks for a client certificate, not "no version or
/// cipher suite in common" or a bare connection error, and the reason is
/// `client_cert_required`.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_demanding_a_client_certificate_is_named_as_such() {
    use probes::evidence::Evidence;
    use probes::probe::ProbeKind;

    use crate::support::{Pki, TestServer, engine, evaluate_with, run_of};

    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let pki = Pki::new();
        let cfg = demanding_client_certs(&pki, &pki, &[version], None);
        let srv = TestServer::https("127.0.0.1", cfg, |_| Resp::new(200)).await;
        let mut t = target(&srv.url("https", "/"), pki.client(), None);
        t.checks.retain(|c| c.id == "health");
        let (runs, verdicts) = evaluate_with(&engine(), &t).await;
        let v = &verdicts[0];
        assert_eq!(ids(v), ["unreachable"], "{version:?}: {:?}", v.findings);
        assert!(
            v.findings[0]
                .evidence
                .contains("asks for a client certificate"),
            "{version:?}: {}",
            v.findings[0].evidence
        );
        let run = run_of(&runs, ProbeKind::Health);
        assert_eq!(run.reason, Some("client_cert_required"), "{version:?}");
        let Evidence::Health(h) = &run.evidence else {
            panic!("{:?}", run.evidence)
        };
        assert!(h.outcome.is_err(), "{version:?}: no request was answered");
    }
}

/// A TLS server for 127.0.0.1 with a leaf of `issuer`, offering `versions`, that demands a
/// client certificate of `clients`' CA; `shown` counts the certificates it is shown.
fn demanding_client_certs(
    issuer: &crate::support::Pki,
    clients: &crate::support::Pki,
    versions: &[&'static rustls::SupportedProtocolVersion],
    shown: Option<Arc<std::sync::atomic::AtomicUsize>>,
) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(clients.ca_der.clone()).unwrap();
    let inner = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::clone(&provider),
    )
    .build()
    .unwrap();
    let (chain, key) = issuer.leaf(&crate::support::Leaf::valid(&["127.0.0.1"]));
    let builder = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap();
    let builder = match shown {
        Some(shown) => builder.with_client_cert_verifier(Arc::new(Witness { inner, shown })),
        None => builder.with_client_cert_verifier(inner),
    };
    Arc::new(builder.with_single_cert(chain, key).unwrap())
}

/// A server's client-certificate verifier that counts the certificates it was shown.
#[derive(Debug)]
struct Witness {
    inner: Arc<dyn rustls::server::danger::ClientCertVerifier>,
    shown: Arc<std::sync::atomic::AtomicUsize>,
}

impl rustls::server::danger::ClientCertVerifier for Witness {
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.inner.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        self.shown.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner
            .verify_client_cert(end_entity, intermediates, now)
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `client_cert` / `client_key` (mutual TLS): a server that demands a client certificate gets
/// the configured one and answers; a server whose own certificate fails verification never
/// sees it (the handshake stops at the failed verification, before the client's Certificate
/// message), and health reports the bad certificate; a key that does not belong to the
/// certificate is a config error naming the files.
#[tokio::test(flavor = "multi_thread")]
async fn a_configured_client_certificate_reaches_only_a_verified_target() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::support::{Pki, TestServer, write};

    let dir = tempfile::tempdir().unwrap();
    let (servers, clients, stranger) = (Pki::new(), Pki::new(), Pki::new());
    let (client_cert, client_key) = clients.write_client_leaf(dir.path(), "prober");
    let ca = servers.write_ca(dir.path());
    let config = |url: &str, http_url: &str, key: &std::path::Path| {
        write(
            dir.path(),
            "prodprobe.yaml",
            &format!(
                "targets:\n  - name: t\n    url: {url}\n    http_url: {http_url}\n    ca_file: {}\n    client_cert: {}\n    client_key: {}\n    checks: [health, hsts, https_redirect]\n",
                ca.display(),
                client_cert.display(),
                key.display()
            ),
        )
    };
    let cx = prodprobe::plan::PlanContext {
        public_tls: Arc::new(probes::tls::TlsClient::new(&[]).unwrap()),
    };
    for (issuer, trusted) in [(&servers, true), (&stranger, false)] {
        let shown = Arc::new(AtomicUsize::new(0));
        let cfg = demanding_client_certs(
            issuer,
            &clients,
            rustls::DEFAULT_VERSIONS,
            Some(Arc::clone(&shown)),
        );
        let srv = TestServer::https("127.0.0.1", cfg, |_| {
            Resp::new(200)
                .header("Strict-Transport-Security", "max-age=31536000")
                .body("ok")
        })
        .await;
        let url = srv.url("https", "/");
        // The plain-HTTP chain redirects to the target, so https_redirect reaches it too.
        let to = url.clone();
        let http = TestServer::http("127.0.0.1", move |_| Resp::redirect(301, &to)).await;
        let cfg = config(&url, &http.url("http", "/"), &client_key);
        let plan = prodprobe::plan::load(&cfg, &cx).unwrap_or_else(|e| panic!("{e:?}"));
        let t = &plan.targets[0].target;
        let v = verdict(t, "health").await;
        if trusted {
            assert_eq!(v.status, Status::Pass, "{:?}", v.findings);
            assert!(shown.load(Ordering::SeqCst) >= 1);
            let (hsts, redirect) = (verdict(t, "hsts").await, verdict(t, "https_redirect").await);
            assert_eq!((hsts.status, redirect.status), (Status::Pass, Status::Pass));
        } else {
            assert_eq!(ids(&v), ["unreachable"], "{:?}", v.findings);
            // The strict verifier ends the handshake at the bad certificate; the checks still
            // name the certificate, not an unreachable HTTPS.
            assert_eq!(ids(&verdict(t, "hsts").await), ["invalid_cert"]);
            assert_eq!(
                ids(&verdict(t, "https_redirect").await),
                ["invalid_cert_in_chain"]
            );
            assert_eq!(
                shown.load(Ordering::SeqCst),
                0,
                "no client certificate for a server that failed verification"
            );
        }
    }

    // A key of another certificate.
    let (_, other_key) = clients.write_client_leaf(dir.path(), "other");
    let cfg = config("https://127.0.0.1:1/", "http://127.0.0.1:1/", &other_key);
    let err = format!("{:?}", prodprobe::plan::load(&cfg, &cx).unwrap_err());
    assert!(
        err.contains("client_key") && err.contains("prober.pem") && !err.contains("PRIVATE KEY"),
        "{err}"
    );
    assert!(
        err.contains("the private key does not belong to the certificate"),
        "{err}"
    );
}
