//! prodprobe's benchmarks (bench/README.md). Every figure is a ratio against a reference run in
//! the same invocation, never an absolute time: the machine varies, the ratio much less.
//!
//! - `cpu`: client CPU per HTTPS probe run (health, tls, fetch) against a bare rustls loop that
//!   does the least an HTTPS probe can do: connect, full handshake, one GET, read to the end.
//! - `scale`: `prodprobe serve` carrying 10,000 targets: memory, scheduler lag, CPU per run,
//!   with the CPU per run as a ratio against the same bare loop.
//! - `blackbox`: `GET /probe` of prodprobe against blackbox_exporter's, process CPU per request.
//!
//! All traffic goes to an HTTPS server this program starts on 127.0.0.1 as a child process (so
//! that its CPU is not counted), and every loop is bounded in count and time.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::{Parser, Subcommand};
use probes::context::ProbeContext;
use probes::fetch::Engine;
use probes::probe::{self, ProbeKind};
use probes::resolve::Resolver;
use probes::target::Target;
use probes::tls::TlsClient;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use url::Url;

#[derive(Parser)]
#[command(about = "prodprobe's benchmarks: ratios against a reference run in the same invocation")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Client CPU per probe run against a bare rustls connect-handshake-GET loop.
    Cpu {
        /// Requests per measured loop.
        #[arg(long, default_value_t = 2000)]
        requests: u32,
        /// Interleaved rounds (reference, then each probe); the median ratio is reported.
        #[arg(long, default_value_t = 3)]
        rounds: u32,
    },
    /// `prodprobe serve` with many targets: memory, lag, CPU per run.
    Scale {
        /// The prodprobe binary (build it with --release).
        #[arg(long, default_value = "target/release/prodprobe")]
        prodprobe: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        targets: u32,
        /// Health interval of every target, seconds.
        #[arg(long, default_value_t = 60)]
        interval: u64,
        /// How long to measure once every target has run once, seconds.
        #[arg(long, default_value_t = 120)]
        seconds: u64,
    },
    /// Process CPU per `GET /probe`: prodprobe against blackbox_exporter.
    Blackbox {
        #[arg(long, default_value = "target/release/prodprobe")]
        prodprobe: PathBuf,
        #[arg(long, default_value = "prometheus-blackbox-exporter")]
        exporter: PathBuf,
        #[arg(long, default_value_t = 1000)]
        requests: u32,
    },
    /// Internal: the HTTPS server the other modes start (prints its port, writes its CA).
    #[command(hide = true)]
    Server {
        #[arg(long)]
        ca_out: PathBuf,
        /// Listen on 127.0.0.1 … 127.0.0.N (same port): N hosts for per-host limits.
        #[arg(long, default_value_t = 1)]
        hosts: u8,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Server { ca_out, hosts } => server(&ca_out, hosts),
        Cmd::Cpu { requests, rounds } => cpu(requests, rounds),
        Cmd::Scale {
            prodprobe,
            targets,
            interval,
            seconds,
        } => scale(&prodprobe, targets, interval, seconds),
        Cmd::Blackbox {
            prodprobe,
            exporter,
            requests,
        } => blackbox(&prodprobe, &exporter, requests),
    }
}

// ---------------------------------------------------------------------------------------------
// The HTTPS server (child process)

struct Certs {
    ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

/// A CA and a 90-day ECDSA P-256 leaf for 127.0.0.1 … 127.0.0.`hosts` and localhost: what
/// most sites serve.
fn certs(hosts: u8) -> Result<Certs> {
    let now = time::OffsetDateTime::now_utc();
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "prodprobe bench CA");
    ca.not_before = now - time::Duration::days(1);
    ca.not_after = now + time::Duration::days(365);
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()])?;
    for h in 1..=hosts {
        leaf.subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, h].into()));
    }
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.not_before = now - time::Duration::days(1);
    leaf.not_after = now + time::Duration::days(89);
    let cert = leaf.signed_by(&key, &issuer)?;
    Ok(Certs {
        ca_pem: ca_cert.pem(),
        chain: vec![cert.der().clone(), ca_cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    })
}

fn server(ca_out: &Path, hosts: u8) -> Result<()> {
    let certs = certs(hosts.max(1))?;
    std::fs::write(ca_out, &certs.ca_pem).context("writing the CA")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs.chain, certs.key)?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let first = TcpListener::bind("127.0.0.1:0").await?;
        let port = first.local_addr()?.port();
        let mut listeners = vec![first];
        for h in 2..=hosts {
            listeners.push(TcpListener::bind(SocketAddr::from(([127, 0, 0, h], port))).await?);
        }
        let mut out = std::io::stdout();
        writeln!(out, "{port}")?;
        out.flush()?;
        let mut tasks = tokio::task::JoinSet::new();
        for listener in listeners {
            let acceptor = acceptor.clone();
            tasks.spawn(async move {
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        let _ =
                            tokio::time::timeout(Duration::from_secs(10), answer(acceptor, tcp))
                                .await;
                    });
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        Ok(())
    })
}

/// One request per connection: read the head (bounded), answer, close with close_notify.
async fn answer(acceptor: TlsAcceptor, tcp: TcpStream) -> std::io::Result<()> {
    tcp.set_nodelay(true)?;
    let mut tls = acceptor.accept(tcp).await?;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tls.read(&mut buf).await?;
        if n == 0 || head.len() > 16 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    const BODY: &str = "{\"status\":\"pass\"}\n";
    let head_only = head.starts_with(b"HEAD ");
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Strict-Transport-Security: max-age=31536000\r\nConnection: close\r\n\r\n{}",
        BODY.len(),
        if head_only { "" } else { BODY }
    );
    tls.write_all(response.as_bytes()).await?;
    tls.shutdown().await
}

/// A child process this program started, killed (by its PID, through the handle) and reaped
/// when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The HTTPS server child.
struct ServerChild {
    _child: Reaped,
    port: u16,
    ca_pem: String,
    ca_path: PathBuf,
}

fn start_server(dir: &Path, hosts: u8) -> Result<ServerChild> {
    let ca_path = dir.join("bench-ca.pem");
    let mut child = Command::new(std::env::current_exe()?)
        .arg("server")
        .arg("--hosts")
        .arg(hosts.to_string())
        .arg("--ca-out")
        .arg(&ca_path)
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the bench server")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("server stdout")?).read_line(&mut line)?;
    let port = line.trim().parse().context("server port")?;
    let ca_pem = std::fs::read_to_string(&ca_path)?;
    Ok(ServerChild {
        _child: Reaped(child),
        port,
        ca_pem,
        ca_path,
    })
}

fn ca_der(pem: &str) -> Result<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    Ok(CertificateDer::from_pem_slice(pem.as_bytes())?)
}

// ---------------------------------------------------------------------------------------------
// CPU accounting

/// User + system CPU time of this process (all threads).
fn self_cpu() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage(RUSAGE_SELF)");
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::new(t.tv_sec().max(0) as u64, (t.tv_usec().max(0) as u32) * 1000)
    };
    tv(usage.user_time()) + tv(usage.system_time())
}

/// User + system CPU time of another process, from /proc (clock ticks of 10 ms).
fn proc_cpu(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').context("malformed stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>()? + f[12].parse::<u64>()?;
    Ok(Duration::from_millis(ticks * 10))
}

/// Resident set size of a process, from /proc.
fn proc_rss_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .context("no VmRSS")?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kb / 1024.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

// ---------------------------------------------------------------------------------------------
// The reference: a bare rustls loop

/// A rustls client as plain as it gets, with the same crypto (ring) and the same rule as the
/// probes (no resumption: every run sees the certificate).
fn bare_connector(ca: &CertificateDer<'static>) -> Result<TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    Ok(TlsConnector::from(Arc::new(config)))
}

async fn bare_once(connector: &TlsConnector, addr: SocketAddr) -> Result<()> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::IpAddress(addr.ip().into());
    let mut tls = connector.connect(name, tcp).await?;
    tls.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await?;
    let mut buf = Vec::with_capacity(512);
    tls.read_to_end(&mut buf).await?;
    ensure!(buf.starts_with(b"HTTP/1.1 200"), "unexpected answer");
    Ok(())
}

/// CPU per iteration of the bare loop.
async fn bare_loop(connector: &TlsConnector, addr: SocketAddr, n: u32) -> Result<Duration> {
    let cpu0 = self_cpu();
    for _ in 0..n {
        bare_once(connector, addr).await?;
    }
    Ok((self_cpu() - cpu0) / n)
}

async fn probe_loop(kind: ProbeKind, target: &Target, engine: &Engine, n: u32) -> Result<Duration> {
    let cpu0 = self_cpu();
    for _ in 0..n {
        let cx = ProbeContext {
            engine,
            deadline: tokio::time::Instant::now() + Duration::from_secs(10),
        };
        let run = probe::run(kind, target, &cx).await;
        // fetch's success is its main chain's; the refused http://127.0.0.1/ (port 80) side
        // is evidence, not a failure.
        ensure!(run.success, "{kind} run failed: {:?}", run.reason);
    }
    Ok((self_cpu() - cpu0) / n)
}

fn cpu(requests: u32, rounds: u32) -> Result<()> {
    ensure!(
        requests > 0 && rounds > 0,
        "requests and rounds must be positive"
    );
    let dir = tempdir()?;
    let dir = dir.path();
    let server = start_server(dir, 1)?;
    let addr = SocketAddr::from(([127, 0, 0, 1], server.port));
    let ca = ca_der(&server.ca_pem)?;
    // One thread: all client work is on it, none hides on another core.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let connector = bare_connector(&ca)?;
        let engine = Engine::new(Resolver::hosts_only(), probes::USER_AGENT);
        let tls = Arc::new(TlsClient::new(std::slice::from_ref(&ca))?);
        let url = Url::parse(&format!("https://127.0.0.1:{}/", server.port))?;
        let target = Target::new("bench", url, tls)?;
        let kinds = [ProbeKind::Health, ProbeKind::Tls, ProbeKind::Fetch];
        // Warm-up: first connections, lazy statics, allocator.
        bare_loop(&connector, addr, 50).await?;
        for k in kinds {
            probe_loop(k, &target, &engine, 50).await?;
        }
        let mut bare_us = Vec::new();
        let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
        let mut per_run: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
        for round in 1..=rounds {
            let reference = bare_loop(&connector, addr, requests).await?;
            bare_us.push(reference.as_secs_f64() * 1e6);
            for (i, k) in kinds.iter().enumerate() {
                let cost = probe_loop(*k, &target, &engine, requests).await?;
                per_run[i].push(cost.as_secs_f64() * 1e6);
                ratios[i].push(cost.as_secs_f64() / reference.as_secs_f64());
            }
            eprintln!("round {round}/{rounds} done");
        }
        println!(
            "client CPU per run, {requests} runs x {rounds} rounds (median), TLS 1.3, ECDSA P-256, fresh connection each:"
        );
        println!(
            "  bare rustls loop (connect, handshake, GET, read)   {:>8.1} us   1.00x",
            median(bare_us)
        );
        for (i, k) in kinds.iter().enumerate() {
            let what = match k {
                ProbeKind::Health => "health probe (one GET, status, body)",
                ProbeKind::Tls => "tls probe (handshake, chain facts)",
                _ => "fetch probe (2 HTTPS GETs + the http:// chain)",
            };
            println!(
                "  {:<50} {:>8.1} us   {:.2}x",
                what,
                median(per_run[i].clone()),
                median(ratios[i].clone())
            );
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// The daemon at scale

/// A scratch directory for the CA and configs, removed when dropped.
fn tempdir() -> Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new()
        .prefix("prodprobe-bench-")
        .tempdir()?)
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A blocking HTTP/1.1 GET to the daemon on loopback: (status, body).
fn http_get(port: u16, path: &str) -> Result<(u16, String)> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.take(256 << 20).read_to_string(&mut out)?;
    let status = out
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .context("no status line")?;
    let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    Ok((status, body))
}

/// Sum of the samples of `name` (any labels) in a Prometheus text exposition.
fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
        })
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

/// An exporter (prodprobe or blackbox_exporter) on a loopback port.
struct Daemon {
    child: Reaped,
    port: u16,
}

fn start_daemon(prodprobe: &Path, config: &Path, log: &Path) -> Result<Daemon> {
    ensure!(
        prodprobe.is_file(),
        "{} not found: build it with `cargo build --release`",
        prodprobe.display()
    );
    let port = free_port()?;
    let child = Command::new(prodprobe)
        .args(["serve", "--log-level", "warn", "--config"])
        .arg(config)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .spawn()
        .with_context(|| format!("starting {}", prodprobe.display()))?;
    let d = Daemon {
        child: Reaped(child),
        port,
    };
    wait_up(port, "/-/healthy")?;
    Ok(d)
}

/// Waits (at most 30 s) until the exporter on `port` answers `path`.
fn wait_up(port: u16, path: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while http_get(port, path).is_err() {
        ensure!(
            Instant::now() < deadline,
            "nothing answers {path} on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// The bare loop's CPU per run, measured in this process on a fresh current-thread runtime.
fn reference_cpu(server: &ServerChild, n: u32) -> Result<Duration> {
    let ca = ca_der(&server.ca_pem)?;
    let addr = SocketAddr::from(([127, 0, 0, 1], server.port));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let connector = bare_connector(&ca)?;
            bare_loop(&connector, addr, 50).await?;
            bare_loop(&connector, addr, n).await
        })
}

fn scale(prodprobe: &Path, targets: u32, interval: u64, seconds: u64) -> Result<()> {
    ensure!(
        targets > 0 && interval > 0,
        "targets and interval must be positive"
    );
    let dir = tempdir()?;
    let dir = dir.path();
    // Many targets share a host in real fleets, and per-host limits (2 in flight) apply: 64
    // loopback hosts carry the targets.
    let hosts: u8 = 64;
    let server = start_server(dir, hosts)?;
    let reference = reference_cpu(&server, 2000)?;
    let config = dir.join("scale.yaml");
    let mut yaml = format!(
        "scheduler:\n  initial_spread: {interval}s\n\
         defaults:\n  checks: [health]\n  ca_file: {}\n  probes:\n    health: {{ interval: {interval}s, timeout: 10s }}\ntargets:\n",
        server.ca_path.display()
    );
    for i in 0..targets {
        yaml.push_str(&format!(
            "  - {{ name: t{i}, url: \"https://127.0.0.{}:{}/t/{i}\" }}\n",
            1 + i % u32::from(hosts),
            server.port
        ));
    }
    std::fs::write(&config, yaml)?;
    let t0 = Instant::now();
    let daemon = start_daemon(prodprobe, &config, &dir.join("scale.log"))?;
    let pid = daemon.child.0.id();
    let startup = t0.elapsed();
    let deadline = Instant::now() + Duration::from_secs(interval * 3 + 60);
    while http_get(daemon.port, "/-/ready")?.0 != 200 {
        ensure!(Instant::now() < deadline, "daemon never became ready");
        std::thread::sleep(Duration::from_millis(500));
    }
    let ready_after = t0.elapsed();
    let rss_ready = proc_rss_mib(pid)?;
    let runs = |text: &str| metric_sum(text, "prodprobe_probe_runs_total");
    let (_, m0) = http_get(daemon.port, "/metrics")?;
    let cpu0 = proc_cpu(pid)?;
    let w0 = Instant::now();
    let mut rss_max = rss_ready;
    while w0.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_secs(5));
        rss_max = rss_max.max(proc_rss_mib(pid)?);
    }
    let cpu = proc_cpu(pid)? - cpu0;
    let wall = w0.elapsed();
    let (_, m1) = http_get(daemon.port, "/metrics")?;
    let done = runs(&m1) - runs(&m0);
    let skipped = metric_sum(&m1, "prodprobe_skipped_runs_total");
    let lag_sum = metric_sum(&m1, "prodprobe_scheduler_lag_seconds_sum")
        - metric_sum(&m0, "prodprobe_scheduler_lag_seconds_sum");
    let lag_count = metric_sum(&m1, "prodprobe_scheduler_lag_seconds_count")
        - metric_sum(&m0, "prodprobe_scheduler_lag_seconds_count");
    let lag_p99 = histogram_quantile(&m0, &m1, "prodprobe_scheduler_lag_seconds", 0.99);
    let series = m1
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count();
    ensure!(done > 0.0, "no runs completed while measuring");
    let per_run = cpu.as_secs_f64() / done;
    println!(
        "prodprobe serve, {targets} HTTPS targets (health every {interval}s), measured {:.0}s after ready:",
        wall.as_secs_f64()
    );
    println!(
        "  listening after          {:>8.2} s",
        startup.as_secs_f64()
    );
    println!(
        "  ready (all ran once)     {:>8.2} s",
        ready_after.as_secs_f64()
    );
    println!("  RSS at ready / max       {rss_ready:>8.1} / {rss_max:.1} MiB");
    println!(
        "  runs / s                 {:>8.1}   (expected {:.1})",
        done / wall.as_secs_f64(),
        f64::from(targets) / interval as f64
    );
    println!("  skipped runs (total)     {:>8.0}", skipped + 0.0);
    println!(
        "  scheduler lag, mean      {:>8.4} s   (p99 <= {lag_p99} s)",
        lag_sum / lag_count.max(1.0)
    );
    println!("  series on /metrics       {series:>8}");
    println!(
        "  CPU: {:.1}% of one core; per run {:.1} us = {:.2}x the bare rustls loop ({:.1} us)",
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
        per_run * 1e6,
        per_run / reference.as_secs_f64(),
        reference.as_secs_f64() * 1e6
    );
    Ok(())
}

/// The upper bound of the first bucket of histogram `name` that holds quantile `q` of the
/// observations made between scrapes `m0` and `m1` (`+Inf` when none does).
fn histogram_quantile(m0: &str, m1: &str, name: &str, q: f64) -> String {
    let buckets = |text: &str| -> Vec<(String, f64)> {
        let prefix = format!("{name}_bucket{{");
        text.lines()
            .filter_map(|l| l.strip_prefix(prefix.as_str()))
            .filter_map(|l| {
                let le = l.split("le=\"").nth(1)?.split('"').next()?.to_owned();
                let v = l.rsplit_once(' ')?.1.parse().ok()?;
                Some((le, v))
            })
            .collect()
    };
    let (b0, b1) = (buckets(m0), buckets(m1));
    let total = b1.last().map_or(0.0, |b| b.1) - b0.last().map_or(0.0, |b| b.1);
    b1.iter()
        .map(|(le, v)| {
            let before = b0.iter().find(|(l, _)| l == le).map_or(0.0, |b| b.1);
            (le, v - before)
        })
        .find(|(_, n)| *n >= q * total)
        .map_or_else(|| "+Inf".to_owned(), |(le, _)| le.clone())
}

// ---------------------------------------------------------------------------------------------
// /probe against blackbox_exporter

fn blackbox(prodprobe: &Path, exporter: &Path, requests: u32) -> Result<()> {
    ensure!(requests > 0, "requests must be positive");
    let dir = tempdir()?;
    let dir = dir.path();
    let server = start_server(dir, 1)?;
    let reference = reference_cpu(&server, 2000)?;
    let base = format!("https://127.0.0.1:{}", server.port);

    // prodprobe: one configured target on the bench host, a health-only module trusting the
    // bench CA (a module is a profile, like blackbox's module with its tls_config). Distinct
    // query strings keep /probe's 10 s per-target answer cache out of the measurement.
    let config = dir.join("probe.yaml");
    std::fs::write(
        &config,
        format!(
            "profiles:\n  health_only:\n    checks: [health]\n    ca_file: {ca}\n\
             targets:\n  - name: bench\n    url: {base}/\n    ca_file: {ca}\n    checks: [health]\n",
            ca = server.ca_path.display()
        ),
    )?;
    let daemon = start_daemon(prodprobe, &config, &dir.join("probe.log"))?;
    let ours = probe_cpu(daemon.child.0.id(), requests, |i| {
        let target = format!("{base}/%3Fn%3D{i}");
        http_get(
            daemon.port,
            &format!("/probe?module=health_only&target={target}"),
        )
    })?;
    drop(daemon);

    // blackbox_exporter: its http_2xx prober with the bench CA.
    let bb_config = dir.join("blackbox.yml");
    std::fs::write(
        &bb_config,
        format!(
            "modules:\n  https_2xx:\n    prober: http\n    timeout: 10s\n    http:\n      \
             preferred_ip_protocol: ip4\n      tls_config:\n        ca_file: {}\n",
            server.ca_path.display()
        ),
    )?;
    let port = free_port()?;
    let child = Command::new(exporter)
        .arg(format!("--config.file={}", bb_config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("blackbox.log"))?)
        .spawn()
        .with_context(|| {
            format!(
                "starting {} (Debian: prometheus-blackbox-exporter)",
                exporter.display()
            )
        })?;
    let bb = Daemon {
        child: Reaped(child),
        port,
    };
    wait_up(port, "/metrics")?;
    let theirs = probe_cpu(bb.child.0.id(), requests, |i| {
        http_get(
            port,
            &format!("/probe?module=https_2xx&target={base}/%3Fn%3D{i}"),
        )
    })?;
    println!("process CPU per GET /probe (one HTTPS GET, fresh connection), {requests} requests:");
    println!(
        "  bare rustls loop (in-process reference)  {:>8.1} us   1.00x",
        reference.as_secs_f64() * 1e6
    );
    println!(
        "  prodprobe /probe (health module)         {:>8.1} us   {:.2}x",
        ours.as_secs_f64() * 1e6,
        ours.as_secs_f64() / reference.as_secs_f64()
    );
    println!(
        "  blackbox_exporter /probe (http_2xx)      {:>8.1} us   {:.2}x",
        theirs.as_secs_f64() * 1e6,
        theirs.as_secs_f64() / reference.as_secs_f64()
    );
    println!(
        "  prodprobe / blackbox_exporter            {:.2}x",
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
    Ok(())
}

/// Process CPU of `pid` per request, over `n` sequential requests made by `request`.
fn probe_cpu(
    pid: u32,
    n: u32,
    mut request: impl FnMut(u32) -> Result<(u16, String)>,
) -> Result<Duration> {
    for i in 0..20 {
        request(i)?;
    }
    let cpu0 = proc_cpu(pid)?;
    for i in 0..n {
        let (status, body) = request(1000 + i)?;
        let success = body
            .lines()
            .filter(|l| l.starts_with("probe_success"))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
            .any(|v| v == 1.0);
        if status != 200 || !success {
            bail!(
                "/probe answered {status}: {}",
                body.lines().next().unwrap_or("")
            );
        }
    }
    Ok((proc_cpu(pid)? - cpu0) / n)
}
