//! Test harness: an rcgen PKI, in-process HTTP(S) servers on loopback with scripted raw
//! responses and a request log, a library-level probe runner, and helpers to run the binary.

#![allow(dead_code)]

pub mod der;
pub mod dns;
pub mod openssl;
pub mod web;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use probes::checks::{self, CheckInput};
use probes::context::ProbeContext;
use probes::evidence::{EvidenceSet, ProbeRun};
use probes::fetch::Engine;
use probes::probe::{self, ProbeKind};
use probes::resolve::Resolver;
use probes::target::Target;
use probes::tls::TlsClient;
use probes::verdict::Verdict;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use url::Url;

/// A CA that signs leaf certificates.
pub struct Pki {
    issuer: Issuer<'static, KeyPair>,
    pub ca_der: CertificateDer<'static>,
    pub ca_pem: String,
    /// The CA's private key (PKCS#8 PEM), for signing with the openssl CLI.
    pub ca_key_pem: String,
}

/// What a leaf certificate should look like.
pub struct Leaf {
    pub names: Vec<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl Leaf {
    /// Valid for `names` (DNS names or IP literals) from yesterday for 90 days.
    pub fn valid(names: &[&str]) -> Self {
        let now = OffsetDateTime::now_utc();
        Leaf {
            names: names.iter().map(|s| s.to_string()).collect(),
            not_before: now - time::Duration::days(1),
            not_after: now + time::Duration::days(89),
        }
    }

    /// Expired ten days ago.
    pub fn expired(names: &[&str]) -> Self {
        let now = OffsetDateTime::now_utc();
        Leaf {
            names: names.iter().map(|s| s.to_string()).collect(),
            not_before: now - time::Duration::days(100),
            not_after: now - time::Duration::days(10),
        }
    }
}

impl Pki {
    pub fn new() -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // Distinct names: a CA nobody trusts must not look like the trusted one.
        static SERIAL: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
        let n = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("prodprobe test CA {n}"));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        let ca_der = cert.der().clone();
        let ca_pem = cert.pem();
        let ca_key_pem = key.serialize_pem();
        Pki {
            issuer: Issuer::new(params, key),
            ca_der,
            ca_pem,
            ca_key_pem,
        }
    }

    /// A CA with the given distinguished name (e.g. to look like a public CA's intermediate),
    /// self-signed: (pki).
    pub fn named(dn: &[(DnType, &str)]) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        for (t, v) in dn {
            params.distinguished_name.push(t.clone(), *v);
        }
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        let ca_der = cert.der().clone();
        let ca_pem = cert.pem();
        let ca_key_pem = key.serialize_pem();
        Pki {
            issuer: Issuer::new(params, key),
            ca_der,
            ca_pem,
            ca_key_pem,
        }
    }

    /// An intermediate CA signed by this one: (the intermediate, its certificate).
    pub fn intermediate(&self, cn: &str) -> (Pki, CertificateDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, cn);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let der = cert.der().clone();
        let ca_key_pem = key.serialize_pem();
        (
            Pki {
                issuer: Issuer::new(params, key),
                ca_der: der.clone(),
                ca_pem: cert.pem(),
                ca_key_pem,
            },
            der,
        )
    }

    /// A leaf signed by this CA after `customise` adjusted its parameters: (chain, key).
    pub fn leaf_with(
        &self,
        leaf: &Leaf,
        customise: impl FnOnce(&mut CertificateParams),
    ) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let mut params = Self::params(leaf);
        customise(&mut params);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }

    /// A client certificate (extendedKeyUsage clientAuth) signed by this CA, written into
    /// `dir` as PEM files `{name}.pem` and `{name}.key`: (cert path, key path).
    pub fn write_client_leaf(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let mut params = Self::params(&Leaf::valid(&[name]));
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let (cert_path, key_path) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert_path, key_path)
    }

    /// Writes the CA certificate and key into `dir`: (cert path, key path).
    pub fn write_ca_and_key(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let cert = dir.join("signing-ca.pem");
        let key = dir.join("signing-ca.key");
        std::fs::write(&cert, &self.ca_pem).unwrap();
        std::fs::write(&key, &self.ca_key_pem).unwrap();
        (cert, key)
    }

    pub fn params(leaf: &Leaf) -> CertificateParams {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        for n in &leaf.names {
            match n.parse::<std::net::IpAddr>() {
                Ok(ip) => params.subject_alt_names.push(SanType::IpAddress(ip)),
                Err(_) => params
                    .subject_alt_names
                    .push(SanType::DnsName(n.clone().try_into().unwrap())),
            }
        }
        params
            .distinguished_name
            .push(DnType::CommonName, leaf.names[0].clone());
        params.not_before = leaf.not_before;
        params.not_after = leaf.not_after;
        params
    }

    /// A leaf signed by this CA: (chain, key).
    pub fn leaf(&self, leaf: &Leaf) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let cert = Self::params(leaf).signed_by(&key, &self.issuer).unwrap();
        (
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }

    /// A self-signed leaf.
    pub fn self_signed(leaf: &Leaf) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let cert = Self::params(leaf).self_signed(&key).unwrap();
        (
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }

    /// A TLS server config for a leaf of this CA.
    pub fn server_config(&self, leaf: &Leaf) -> Arc<rustls::ServerConfig> {
        let (chain, key) = self.leaf(leaf);
        server_config(chain, key)
    }

    /// A client trusting this CA (plus the public roots).
    pub fn client(&self) -> Arc<TlsClient> {
        Arc::new(TlsClient::new(std::slice::from_ref(&self.ca_der)).unwrap())
    }

    /// Writes the CA PEM into `dir` and returns the path.
    pub fn write_ca(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.ca_pem).unwrap();
        path
    }
}

pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(cfg)
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A scripted response.
#[derive(Debug, Clone, Default)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    /// Sent verbatim instead of the fields above.
    pub raw: Option<Vec<u8>>,
    /// Never answer: hold the connection until the client gives up.
    pub hang: bool,
}

impl Resp {
    pub fn new(status: u16) -> Self {
        Resp {
            status,
            ..Default::default()
        }
    }
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_owned(), value.as_ref().to_vec()));
        self
    }
    pub fn body(mut self, body: impl AsRef<[u8]>) -> Self {
        self.body = body.as_ref().to_vec();
        self
    }
    pub fn html(self, body: &str) -> Self {
        self.header("Content-Type", "text/html; charset=utf-8")
            .body(body)
    }
    /// A request the server takes and never answers (a path slower than any timeout).
    pub fn hang() -> Self {
        Resp {
            hang: true,
            ..Default::default()
        }
    }
    pub fn redirect(status: u16, location: &str) -> Self {
        Resp::new(status).header("Location", location)
    }
    fn bytes(&self, keep_alive: bool) -> Vec<u8> {
        if let Some(raw) = &self.raw {
            return raw.clone();
        }
        let mut out = format!("HTTP/1.1 {} X\r\n", self.status).into_bytes();
        for (n, v) in &self.headers {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
        let close = if keep_alive {
            ""
        } else {
            "Connection: close\r\n"
        };
        out.extend_from_slice(
            format!("Content-Length: {}\r\n{close}\r\n", self.body.len()).as_bytes(),
        );
        out.extend_from_slice(&self.body);
        out
    }
}

pub type Handler = Arc<dyn Fn(&Req) -> Resp + Send + Sync>;

/// An in-process server on loopback.
pub struct TestServer {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Req>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_head<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> Option<Req> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    req.parse(&buf).ok()?;
    Some(Req {
        method: req.method?.to_owned(),
        path: req.path?.to_owned(),
        headers: req
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_owned(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect(),
    })
}

impl TestServer {
    /// Serves `handler` on `ip:0`, over TLS when `tls` is given.
    pub async fn start(ip: &str, tls: Option<Arc<rustls::ServerConfig>>, handler: Handler) -> Self {
        Self::start_on((ip, 0), tls, handler).await
    }

    /// Serves `handler` on a given `(ip, port)`.
    pub async fn start_on(
        at: (&str, u16),
        tls: Option<Arc<rustls::ServerConfig>>,
        handler: Handler,
    ) -> Self {
        Self::listen(at, tls, handler, false).await
    }

    /// An HTTPS server that keeps connections alive (no `Connection: close`) and answers every
    /// request on them; a `raw` response ends the connection after it (an empty one: the
    /// request is read, then the connection closed without an answer).
    pub async fn keep_alive(
        ip: &str,
        tls: Arc<rustls::ServerConfig>,
        f: impl Fn(&Req) -> Resp + Send + Sync + 'static,
    ) -> Self {
        Self::listen((ip, 0), Some(tls), Arc::new(f), true).await
    }

    async fn listen(
        at: (&str, u16),
        tls: Option<Arc<rustls::ServerConfig>>,
        handler: Handler,
        keep_alive: bool,
    ) -> Self {
        let listener = TcpListener::bind(at).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log: Arc<Mutex<Vec<Req>>> = Arc::default();
        let log2 = Arc::clone(&log);
        let acceptor = tls.map(TlsAcceptor::from);
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let handler = Arc::clone(&handler);
                let log = Arc::clone(&log2);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor {
                        Some(acc) => {
                            if let Ok(mut s) = acc.accept(tcp).await {
                                serve(&mut s, &handler, &log, keep_alive).await;
                            }
                        }
                        None => {
                            let mut s = tcp;
                            serve(&mut s, &handler, &log, keep_alive).await;
                        }
                    }
                });
            }
        });
        TestServer { addr, log, task }
    }

    /// An HTTP/2-only TLS server (ALPN `h2`), serving the same scripted responses.
    pub async fn h2(
        ip: &str,
        tls: Arc<rustls::ServerConfig>,
        f: impl Fn(&Req) -> Resp + Send + Sync + 'static,
    ) -> Self {
        let mut cfg = (*tls).clone();
        cfg.alpn_protocols = vec![b"h2".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(cfg));
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log: Arc<Mutex<Vec<Req>>> = Arc::default();
        let log2 = Arc::clone(&log);
        let handler: Handler = Arc::new(f);
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, handler, log) =
                    (acceptor.clone(), Arc::clone(&handler), Arc::clone(&log2));
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let r = Req {
                                method: req.method().to_string(),
                                path: req
                                    .uri()
                                    .path_and_query()
                                    .map(|p| p.to_string())
                                    .unwrap_or_default(),
                                headers: req
                                    .headers()
                                    .iter()
                                    .map(|(n, v)| {
                                        (
                                            n.to_string(),
                                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                                        )
                                    })
                                    .collect(),
                            };
                            let resp = handler(&r);
                            log.lock().unwrap().push(r);
                            let mut builder = hyper::Response::builder().status(resp.status);
                            for (n, v) in &resp.headers {
                                builder = builder.header(n.as_str(), v.as_slice());
                            }
                            let body = http_body_util::Full::new(bytes::Bytes::from(resp.body));
                            async move { builder.body(body) }
                        },
                    );
                    let _ = hyper::server::conn::http2::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
                });
            }
        });
        TestServer { addr, log, task }
    }

    pub async fn https(
        ip: &str,
        tls: Arc<rustls::ServerConfig>,
        f: impl Fn(&Req) -> Resp + Send + Sync + 'static,
    ) -> Self {
        Self::start(ip, Some(tls), Arc::new(f)).await
    }

    pub async fn http(ip: &str, f: impl Fn(&Req) -> Resp + Send + Sync + 'static) -> Self {
        Self::start(ip, None, Arc::new(f)).await
    }

    pub fn requests(&self) -> Vec<Req> {
        self.log.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    pub fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{path}", self.addr)
    }
}

/// One request per connection, or (`keep_alive`) requests until a `raw` or hanging response.
async fn serve<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    s: &mut S,
    handler: &Handler,
    log: &Mutex<Vec<Req>>,
    keep_alive: bool,
) {
    loop {
        let Some(req) = read_head(s).await else {
            return;
        };
        let resp = handler(&req);
        log.lock().unwrap().push(req);
        if resp.hang {
            // Until the client closes (read returns 0) or fails.
            let mut sink = [0u8; 1024];
            while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
            return;
        }
        let keep = keep_alive && resp.raw.is_none();
        let _ = s.write_all(&resp.bytes(keep)).await;
        if !keep {
            let _ = s.shutdown().await;
            return;
        }
    }
}

/// A port on `ip` where nothing listens (bound, then released).
pub async fn closed_port(ip: &str) -> u16 {
    let l = TcpListener::bind((ip, 0)).await.unwrap();
    l.local_addr().unwrap().port()
}

/// The shared engine for library-level tests: hosts file only, never the network.
pub fn engine() -> Engine {
    Engine::new(Resolver::hosts_only(), probes::USER_AGENT)
}

/// The first target of the config at `cfg` as `serve` schedules it, with the real engine,
/// for tests that run its probes one by one in a chosen order with [`execute`]:
/// (runtime, its jobs, runner).
///
/// [`execute`]: prodprobe::scheduler::execute
pub fn scheduled_target(
    cfg: &Path,
) -> (
    prodprobe::scheduler::TargetRuntime,
    Vec<prodprobe::plan::JobSpec>,
    prodprobe::scheduler::EngineRunner,
) {
    scheduled_target_on(cfg, engine())
}

/// As [`scheduled_target`], the probes running on `engine` (one asking a test DNS server).
pub fn scheduled_target_on(
    cfg: &Path,
    engine: Engine,
) -> (
    prodprobe::scheduler::TargetRuntime,
    Vec<prodprobe::plan::JobSpec>,
    prodprobe::scheduler::EngineRunner,
) {
    let cx = prodprobe::plan::PlanContext {
        public_tls: Arc::new(TlsClient::new(&[]).unwrap()),
    };
    let plan = prodprobe::plan::load(cfg, &cx).unwrap_or_else(|e| panic!("{e:?}"));
    let planned = &plan.targets[0];
    let runner = prodprobe::scheduler::EngineRunner {
        engine: Arc::new(engine),
    };
    (
        prodprobe::scheduler::TargetRuntime::new(planned, 1),
        planned.jobs.clone(),
        runner,
    )
}

/// The job of `kind` among `jobs`.
pub fn job_of(jobs: &[prodprobe::plan::JobSpec], kind: ProbeKind) -> prodprobe::plan::JobSpec {
    *jobs.iter().find(|j| j.kind == kind).unwrap()
}

/// An engine whose resolver asks only `dns` (a test DNS server on loopback), one attempt of
/// at most `timeout`, no hosts file.
pub fn engine_with_dns(dns: SocketAddr, timeout: Duration) -> Engine {
    let settings = probes::resolve::ResolverSettings {
        nameservers: vec![dns],
        timeout,
        attempts: 1,
        use_hosts_file: false,
    };
    Engine::new(Resolver::new(&settings).unwrap(), probes::USER_AGENT)
}

/// Runs the probes the target's checks need on `engine`, in `ProbeKind::ALL` order, and
/// evaluates every check (in registry order, as the scheduler does).
pub async fn evaluate_with(engine: &Engine, t: &Target) -> (Vec<ProbeRun>, Vec<Verdict>) {
    let mut evidence = EvidenceSet::default();
    let mut runs = Vec::new();
    for kind in t.probes() {
        let cx = ProbeContext {
            engine,
            deadline: tokio::time::Instant::now() + Duration::from_secs(40),
        };
        let run = probe::run(kind, t, &cx).await;
        runs.push(run.clone());
        evidence.insert(Arc::new(run));
    }
    let previous = Default::default();
    let input = CheckInput {
        target: t,
        evidence: &evidence,
        previous: &previous,
        now: std::time::SystemTime::now(),
    };
    let verdicts = t
        .checks
        .iter()
        .map(|c| checks::evaluate(c, &input))
        .collect();
    (runs, verdicts)
}

/// Evaluates one check over hand-made evidence (for rules no live server can reach).
pub fn judge(t: &Target, runs: Vec<ProbeRun>, check: &str) -> Verdict {
    let mut evidence = EvidenceSet::default();
    for r in runs {
        evidence.insert(Arc::new(r));
    }
    let previous = Default::default();
    let input = CheckInput {
        target: t,
        evidence: &evidence,
        previous: &previous,
        now: std::time::SystemTime::now(),
    };
    checks::evaluate(checks::by_id(check).unwrap(), &input)
}

/// A target for `url` trusting `pki`, with its plain-HTTP chain starting at `http_url`.
pub fn target(url: &str, tls: Arc<TlsClient>, http_url: Option<&str>) -> Target {
    let mut t = Target::new("t", Url::parse(url).unwrap(), tls).unwrap();
    t.http_urls = http_url
        .map(|u| vec![Url::parse(u).unwrap()])
        .unwrap_or_default();
    t
}

/// Runs the probes the target's checks need and evaluates every check.
pub async fn evaluate(t: &Target) -> (Vec<ProbeRun>, Vec<Verdict>) {
    let engine = engine();
    let mut evidence = EvidenceSet::default();
    let mut runs = Vec::new();
    for kind in t.probes() {
        let cx = ProbeContext {
            engine: &engine,
            deadline: tokio::time::Instant::now() + Duration::from_secs(20),
        };
        let run = probe::run(kind, t, &cx).await;
        runs.push(run.clone());
        evidence.insert(Arc::new(run));
    }
    // As the scheduler does: checks run in registry order, each seeing the verdicts before it
    // (cookies reads hsts).
    let mut previous = std::collections::BTreeMap::new();
    let mut verdicts = Vec::new();
    for c in &t.checks {
        let input = CheckInput {
            target: t,
            evidence: &evidence,
            previous: &previous,
            now: std::time::SystemTime::now(),
        };
        let v = checks::evaluate(c, &input);
        previous.insert(c.id, v.clone());
        verdicts.push(v);
    }
    (runs, verdicts)
}

/// The verdict of one check.
pub async fn verdict(t: &Target, check: &str) -> Verdict {
    let mut t = t.clone();
    t.checks.retain(|c| c.id == check);
    assert_eq!(t.checks.len(), 1, "unknown check {check}");
    evaluate(&t).await.1.remove(0)
}

/// Finding ids of a verdict.
pub fn ids(v: &Verdict) -> Vec<&'static str> {
    v.findings.iter().map(|f| f.id).collect()
}

/// Asserts a table case: exactly these finding ids (in any order) and this status.
pub fn assert_case(v: &Verdict, case: &str, expected: &[&str], status: probes::verdict::Status) {
    let mut got = ids(v);
    got.sort_unstable();
    let mut want = expected.to_vec();
    want.sort_unstable();
    assert_eq!(got, want, "case {case}: {:#?}", v.findings);
    assert_eq!(v.status, status, "case {case}: {:#?}", v.findings);
}

/// The evidence of a verdict's finding `id`.
pub fn evidence<'v>(v: &'v Verdict, id: &str) -> &'v str {
    v.findings
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no {id} in {:#?}", v.findings))
        .evidence
        .as_str()
}

/// The value of one of a verdict's evidence gauges.
pub fn gauge(v: &Verdict, name: &str) -> f64 {
    v.measurements
        .iter()
        .find(|m| m.gauge.name == name)
        .unwrap_or_else(|| panic!("{} exported no {name}", v.check))
        .value
}

pub fn run_of(runs: &[ProbeRun], kind: ProbeKind) -> &ProbeRun {
    runs.iter().find(|r| r.kind == kind).unwrap()
}

/// The prodprobe binary built for this test run.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_prodprobe"))
}

/// Writes a file into `dir`.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    path
}

/// A raw HTTP/1.1 GET to a loopback address; (status, headers, body).
pub async fn http_get(addr: SocketAddr, path: &str, accept: Option<&str>) -> (u16, String, String) {
    http_request(addr, "GET", path, accept).await
}

pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    accept: Option<&str>,
) -> (u16, String, String) {
    let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
    http_request_with(addr, method, path, &headers).await
}

/// A raw HTTP/1.1 request with extra header lines; (status, head, body).
pub async fn http_request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    let fut = async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let accept: String = headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}\r\n"))
            .collect();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{accept}Content-Length: 0\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_owned()
        };
        (status, head.to_owned(), body)
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .expect("HTTP request to the daemon timed out")
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// One sample value from Prometheus text, matching a name and all given label pairs.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (n, rest) = match series.split_once('{') {
                Some((n, rest)) => (n, rest),
                None => (series, ""),
            };
            if n != name {
                return None;
            }
            labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
                .then(|| value.parse().ok())
                .flatten()
        })
}
