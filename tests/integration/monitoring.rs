//! prodprobe inside a Prometheus stack: a real Prometheus scrapes a running `serve`, promtool
//! lints a real scrape, and the shipped alert rules and dashboard reference only metrics the
//! exporter registers.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::daemon::Daemon;
use crate::support::web::Web;
use crate::support::{Resp, closed_port, http_get, sample, write};

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Every `probe_*` / `prodprobe_*` name in a text.
fn metric_names(text: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(r"\b(?:probe|prodprobe)_[a-z0-9_]*[a-z0-9]\b").unwrap();
    re.find_iter(text).map(|m| m.as_str().to_owned()).collect()
}

fn known(name: &str, registered: &BTreeSet<String>) -> bool {
    registered.contains(name)
        || ["_bucket", "_sum", "_count"].iter().any(|s| {
            name.strip_suffix(s)
                .is_some_and(|base| registered.contains(base))
        })
}

/// Every string under one of `keys` in a dashboard's JSON.
fn collect_exprs(v: &serde_json::Value, keys: &[&str], out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                if keys.contains(&k.as_str()) && v.is_string() {
                    out.push(v.as_str().unwrap().to_owned());
                }
                collect_exprs(v, keys, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect_exprs(v, keys, out)),
        _ => {}
    }
}

/// The dashboard's panel queries, by panel title, with its variables set to "All".
fn dashboard_queries() -> Vec<(String, String)> {
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo("config/grafana/dashboard.json")).unwrap(),
    )
    .unwrap();
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        let mut exprs = Vec::new();
        collect_exprs(panel, &["expr"], &mut exprs);
        let title = panel["title"].as_str().unwrap_or("").to_owned();
        for e in exprs {
            let e = e
                .replace("$instance", ".*")
                .replace("$target", ".*")
                .replace("$__rate_interval", "1m");
            out.push((title.clone(), e));
        }
    }
    out
}

#[test]
fn alerts_and_dashboard_reference_only_registered_metrics() {
    let registered = crate::docs::registered_metrics();
    let alerts = std::fs::read_to_string(repo("config/prometheus/alerts.yml")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo("config/grafana/dashboard.json")).unwrap(),
    )
    .unwrap();
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &["expr", "query", "definition"], &mut exprs);
    assert!(exprs.len() >= 10, "{exprs:?}");
    let used = metric_names(&alerts)
        .into_iter()
        .chain(exprs.iter().flat_map(|e| metric_names(e)));
    let unknown: Vec<String> = used.filter(|n| !known(n, &registered)).collect();
    assert!(
        unknown.is_empty(),
        "alerts.yml / dashboard.json reference unregistered metrics: {unknown:?}"
    );
    // The dashboard covers what the issue asks for.
    let all = exprs.join("\n");
    for needle in [
        "probe_check_success",
        "probe_check_finding",
        "probe_ssl_earliest_cert_expiry",
        "probe_http_duration_seconds",
    ] {
        assert!(all.contains(needle), "dashboard lacks {needle}");
    }
}

/// A Prometheus server on loopback with a temporary data directory; killed on drop.
struct Prometheus {
    child: Child,
    addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    #[allow(clippy::zombie_processes)] // `Drop` kills and waits for the child.
    async fn start(scrape_target: std::net::SocketAddr) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = write(
            dir.path(),
            "prometheus.yml",
            &format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: prodprobe\n    static_configs:\n      - targets: ['{scrape_target}']\n"
            ),
        );
        let port = closed_port("127.0.0.1").await;
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the `prometheus` binary (Debian package prometheus) is required; .ci/run installs it");
        // Keep its log for failures, without blocking it on a full pipe.
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || for _ in BufReader::new(stderr).lines() {});
        let p = Prometheus {
            child,
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Ok(mut s)) = tokio::time::timeout(
                Duration::from_secs(1),
                tokio::net::TcpStream::connect(p.addr),
            )
            .await
            {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let _ = s
                    .write_all(b"GET /-/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .await;
                let mut buf = Vec::new();
                let _ = s.read_to_end(&mut buf).await;
                if buf.starts_with(b"HTTP/1.1 200") {
                    return p;
                }
            }
            assert!(Instant::now() < deadline, "prometheus did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Instant query; the result vector.
    async fn query(&self, q: &str) -> Vec<serde_json::Value> {
        let encoded: String = q
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (status, _, body) =
            http_get(self.addr, &format!("/api/v1/query?query={encoded}"), None).await;
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// Polls `q` until `pred` holds (at most 60 s).
    async fn wait_for(
        &self,
        q: &str,
        pred: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = self.query(q).await;
            if pred(&r) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "{q}: never satisfied; last result {r:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

fn value(sample: &serde_json::Value) -> f64 {
    sample["value"][1].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_prometheus_scrapes_check_verdicts_and_findings() {
    let good = Resp::new(200)
        .header(
            "Strict-Transport-Security",
            "max-age=63072000; includeSubDomains",
        )
        .html("<p>ok</p>");
    let bad = Resp::new(200).html("<p>no hsts</p>");
    let web = Web::serving(vec![("/", good), ("/bad", bad)]).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = web.pki.write_ca(dir.path());
    let yaml = format!(
        "scheduler:\n  initial_spread: 0s\ndefaults:\n  ca_file: {ca}\n  checks: [hsts, health]\ntargets:\n  - name: good\n    url: https://{a}/\n  - name: bad\n    url: https://{a}/bad\n",
        ca = ca.display(),
        a = web.a.addr
    );
    let path = write(dir.path(), "prodprobe.yaml", &yaml);
    let mut d = Daemon::start(&path);
    d.wait_ready().await;
    let prom = Prometheus::start(d.addr).await;

    // Prometheus negotiates OpenMetrics; the scrape must succeed.
    prom.wait_for("up{job=\"prodprobe\"}", |r| {
        r.len() == 1 && value(&r[0]) == 1.0
    })
    .await;
    let r = prom
        .wait_for("probe_check_success{check=\"hsts\"}", |r| r.len() == 2)
        .await;
    for s in &r {
        let expected = if s["metric"]["target"] == "good" {
            1.0
        } else {
            0.0
        };
        assert_eq!(value(s), expected, "{s}");
        assert_eq!(s["metric"]["job"], "prodprobe");
    }
    let r = prom
        .wait_for(
            "probe_check_finding{check=\"hsts\",severity=\"high\"}",
            |r| !r.is_empty(),
        )
        .await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["metric"]["target"], "bad");
    assert_eq!(r[0]["metric"]["finding"], "missing");
    assert_eq!(value(&r[0]), 1.0);
    let r = prom
        .wait_for("prodprobe_probe_runs_total", |r| !r.is_empty())
        .await;
    assert!(
        r.iter()
            .all(|s| s["metric"]["__name__"] == "prodprobe_probe_runs_total")
    );
    // Every dashboard query parses and runs on a real Prometheus (query() asserts a 200),
    // and the headline panels show what the targets are: one failing check, two targets.
    let queries = dashboard_queries();
    assert!(queries.len() >= 10, "{queries:?}");
    for (title, q) in &queries {
        let r = prom.query(q).await;
        let expected = match title.as_str() {
            "Checks failing" => 1.0,
            "Targets" => 2.0,
            _ => continue,
        };
        assert_eq!(r.len(), 1, "{title}: {r:?}");
        assert_eq!(value(&r[0]), expected, "{title}: {r:?}");
    }
    drop(prom);
    assert_eq!(d.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn promtool_finds_nothing_in_a_real_scrape() {
    let good = Resp::new(200)
        .header(
            "Strict-Transport-Security",
            "max-age=63072000; includeSubDomains",
        )
        .html("<p>ok</p>");
    let h = vec![("/", Resp::redirect(301, "https://{A}/"))];
    let web = Web::start(vec![("/", good)], vec![], vec![], h).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = web.pki.write_ca(dir.path());
    let yaml = format!(
        "server:\n  check_timing_metrics: true\nscheduler:\n  initial_spread: 0s\ndefaults:\n  ca_file: {ca}\ntargets:\n  - name: good\n    url: https://{a}/\n    http_url: http://{h}/\n  - name: expired\n    url: https://{e}/\n",
        ca = ca.display(),
        a = web.a.addr,
        e = web.e.addr,
        h = web.h.addr
    );
    let path = write(dir.path(), "prodprobe.yaml", &yaml);
    let mut d = Daemon::start(&path);
    d.wait_ready().await;
    let text = d.metrics().await;
    // Opted in: the per-check timing series of CHECKS.md §0.4 are there (ADR 0004).
    for name in [
        "probe_check_duration_seconds",
        "probe_check_last_run_timestamp_seconds",
    ] {
        assert!(
            sample(&text, name, &[("target", "good"), ("check", "hsts")]).is_some(),
            "{name} missing with check_timing_metrics: true"
        );
    }
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) is required; .ci/run installs it");
    {
        use std::io::Write;
        promtool
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = promtool.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics:\n{report}"
    );
    assert_eq!(d.terminate(), Some(0));
}

/// Series per target with `target="…"`, by metric name.
fn series_of(text: &str, target: &str) -> std::collections::BTreeMap<String, usize> {
    let needle = format!("target=\"{target}\"");
    let mut by_name = std::collections::BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains(&needle))
    {
        let name = line.split(['{', ' ']).next().unwrap_or_default().to_owned();
        *by_name.entry(name).or_insert(0) += 1;
    }
    by_name
}

/// ARCHITECTURE.md budgets "about 80" series for a healthy default target; CHECKS.md's evidence
/// gauges cost more (ADR 0004). Both figures are measured here, so a change that adds series per
/// target shows up as a failing budget rather than as a surprise in someone's Prometheus.
#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_target_stays_within_the_series_budget_with_and_without_evidence() {
    let good = Resp::new(200)
        .header(
            "Strict-Transport-Security",
            "max-age=63072000; includeSubDomains",
        )
        .header(
            "Content-Security-Policy",
            "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        )
        .header("X-Content-Type-Options", "nosniff")
        .header("Referrer-Policy", "strict-origin-when-cross-origin")
        .html("<p>ok</p>");
    let h = vec![("/", Resp::redirect(301, "https://{A}/"))];
    let web = Web::start(vec![("/", good)], vec![], vec![], h).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = web.pki.write_ca(dir.path());
    let all = "[https_redirect, hsts, csp, clickjacking, x_content_type_options, referrer_policy, cookies, cors, tls_cert, tls_version, health, exposed_paths, error_disclosure, server_disclosure, dns]";
    let yaml = format!(
        "scheduler:\n  initial_spread: 0s\ndefaults:\n  ca_file: {ca}\ntargets:\n  - name: full\n    url: https://{a}/\n    http_url: http://{h}/\n  - name: lean\n    url: https://{a}/\n    http_url: http://{h}/\n    disable_evidence_metrics: {all}\n",
        ca = ca.display(),
        a = web.a.addr,
        h = web.h.addr
    );
    let path = write(dir.path(), "prodprobe.yaml", &yaml);
    let mut d = Daemon::start(&path);
    d.wait_ready().await;
    let text = d.metrics().await;
    let full = series_of(&text, "full");
    let lean = series_of(&text, "lean");
    let (n_full, n_lean): (usize, usize) = (full.values().sum(), lean.values().sum());
    // Every default check is evaluated on both (15 checks; dns skips an IP-literal target but
    // still reports its verdict series).
    assert_eq!(full["probe_check_success"], 15, "{full:#?}");
    assert_eq!(lean["probe_check_success"], 15, "{lean:#?}");
    assert!(full.contains_key("probe_hsts_max_age_seconds"), "{full:#?}");
    assert!(
        !lean.contains_key("probe_hsts_max_age_seconds"),
        "{lean:#?}"
    );
    assert!(n_full <= 210, "{n_full} series with evidence: {full:#?}");
    assert!(n_lean <= 100, "{n_lean} series without evidence: {lean:#?}");
    eprintln!("series per healthy target: {n_full} with evidence, {n_lean} without");
    assert_eq!(d.terminate(), Some(0));
}
