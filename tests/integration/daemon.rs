//! `prodprobe serve` end to end: the real binary on port 0 against in-process HTTPS servers.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::web::Web;
use crate::support::{Resp, http_get, http_request, sample, write};

/// A running daemon; killed on drop if the test did not stop it.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    stderr: std::sync::mpsc::Receiver<String>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// Starts `serve` and waits (bounded) for its "listening" log line.
    pub fn start(config: &Path) -> Self {
        Self::start_with_env(config, &[])
    }

    /// [`Daemon::start`] with extra environment variables.
    #[allow(clippy::zombie_processes)] // `Drop` kills and waits for the child.
    pub fn start_with_env(config: &Path, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(crate::support::bin())
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--config",
            ])
            .arg(config)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("daemon did not log its listen address in time");
            let v: serde_json::Value = match serde_json::from_str(&line) {
                Ok(v) => v,
                Err(_) => continue,
            };
            if v["message"] == "prodprobe listening" {
                let addr = v["addr"].as_str().unwrap().parse().unwrap();
                return Daemon {
                    child,
                    addr,
                    stderr: rx,
                };
            }
        }
    }

    /// Polls `/-/ready` until it answers 200 (at most 30 s).
    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if http_get(self.addr, "/-/ready", None).await.0 == 200 {
                return;
            }
            assert!(Instant::now() < deadline, "daemon never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn metrics(&self) -> String {
        let (status, head, body) = http_get(self.addr, "/metrics", None).await;
        assert_eq!(status, 200);
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4"),
            "{head}"
        );
        body
    }

    /// Sends SIGTERM and waits (bounded) for a clean exit.
    pub fn terminate(&mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits (bounded) for a JSON log line with this message; returns it and the lines
    /// before it.
    pub fn wait_log(&self, message: &str, within: Duration) -> (serde_json::Value, Vec<String>) {
        let deadline = Instant::now() + within;
        let mut before = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .stderr
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {message:?} log line in {within:?}: {before:#?}"));
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && v["message"] == message
            {
                return (v, before);
            }
            before.push(line);
        }
    }

    /// Log lines so far.
    pub fn logs(&self) -> Vec<String> {
        self.stderr.try_iter().collect()
    }
}

async fn web() -> Web {
    let good = Resp::new(200)
        .header(
            "Strict-Transport-Security",
            "max-age=63072000; includeSubDomains",
        )
        .header("Content-Type", "application/health+json")
        .body(r#"{"status":"pass"}"#);
    let a = vec![
        ("/", good.clone()),
        ("/weak", good.clone().header("X-Other", "1")),
    ];
    let h = vec![("/", Resp::redirect(301, "https://{A}/"))];
    Web::start(a, vec![], vec![], h).await
}

fn config(web: &Web, dir: &Path, extra_target: &str) -> std::path::PathBuf {
    let ca = web.pki.write_ca(dir);
    let yaml = format!(
        r#"
scheduler:
  initial_spread: 0s
defaults:
  ca_file: {ca}
  labels: {{ env: test }}
targets:
  - name: good
    url: https://{a}/
    http_url: http://{h}/
  - name: expired
    url: https://{e}/
    http_url: http://127.0.0.1:{closed}/
{extra_target}
"#,
        ca = ca.display(),
        a = web.a.addr,
        e = web.e.addr,
        h = web.h.addr,
        closed = web.closed,
    );
    write(dir, "prodprobe.yaml", &yaml)
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_exports_blackbox_and_check_metrics_and_reloads() {
    let web = web().await;
    let dir = tempfile::tempdir().unwrap();
    let path = config(&web, dir.path(), "");
    let mut d = Daemon::start(&path);
    d.wait_ready().await;
    let text = d.metrics().await;

    // A valid chain: probe_success 1, all five phases, hsts matches what the server sends.
    let good = [("target", "good"), ("probe", "fetch")];
    assert_eq!(sample(&text, "probe_success", &good), Some(1.0), "{text}");
    for phase in ["resolve", "connect", "tls", "processing", "transfer"] {
        let v = sample(
            &text,
            "probe_http_duration_seconds",
            &[("target", "good"), ("phase", phase)],
        );
        assert!(v.is_some_and(|v| v >= 0.0), "phase {phase}: {text}");
    }
    assert_eq!(
        sample(
            &text,
            "probe_check_success",
            &[("target", "good"), ("check", "hsts")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "probe_hsts_max_age_seconds", &[("target", "good")]),
        Some(63_072_000.0)
    );
    assert_eq!(
        sample(
            &text,
            "probe_check_success",
            &[("target", "good"), ("check", "https_redirect")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "probe_check_success",
            &[("target", "good"), ("check", "health")]
        ),
        Some(1.0)
    );
    assert_eq!(sample(&text, "probe_http_status_code", &good), Some(200.0));
    assert_eq!(sample(&text, "probe_interval_seconds", &good), Some(300.0));
    assert!(sample(&text, "probe_last_run_timestamp_seconds", &good).unwrap() > 1.7e9);
    // Configured labels ride on every per-target series.
    assert!(
        text.lines()
            .filter(|l| l.starts_with("probe_") && l.contains("target=\"good\""))
            .all(|l| l.contains("env=\"test\""))
    );

    // An expired certificate: probe_success 0, and the expiry is still there, in the past.
    let expired = [("target", "expired"), ("probe", "fetch")];
    assert_eq!(sample(&text, "probe_success", &expired), Some(0.0));
    let expiry = sample(&text, "probe_ssl_earliest_cert_expiry", &expired)
        .expect("expiry survives an expired certificate");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(expiry < now, "{expiry} is in the past");
    assert_eq!(
        sample(
            &text,
            "probe_check_finding",
            &[
                ("target", "expired"),
                ("check", "hsts"),
                ("finding", "invalid_cert"),
                ("severity", "high")
            ]
        ),
        Some(1.0)
    );

    // Self-metrics.
    assert_eq!(
        sample(&text, "prodprobe_config_last_reload_successful", &[]),
        Some(1.0)
    );
    assert_eq!(sample(&text, "prodprobe_targets", &[]), Some(2.0));
    assert!(
        sample(
            &text,
            "prodprobe_probe_runs_total",
            &[("probe", "fetch"), ("result", "success")]
        )
        .unwrap()
            >= 1.0
    );
    assert!(text.contains("# TYPE prodprobe_probe_runs_total counter"));
    // Counters exist at 0 before anything is counted, so that Prometheus's increase() sees
    // the first timeout or skip (a series born at 1 reads as no increase).
    for (probe, reason) in [
        ("fetch", "overrun"),
        ("fetch", "backoff"),
        ("health", "overrun"),
    ] {
        assert_eq!(
            sample(
                &text,
                "prodprobe_skipped_runs_total",
                &[("probe", probe), ("reason", reason)]
            ),
            Some(0.0),
            "{probe} {reason}"
        );
    }
    // Health keeps running during a backoff: it has no backoff skips to count.
    assert_eq!(
        sample(
            &text,
            "prodprobe_skipped_runs_total",
            &[("probe", "health"), ("reason", "backoff")]
        ),
        None
    );
    assert_eq!(
        sample(
            &text,
            "prodprobe_probe_runs_total",
            &[("probe", "tls"), ("result", "timeout")]
        ),
        Some(0.0)
    );
    assert!(sample(&text, "prodprobe_build_info", &[]).is_some());
    // The compiler version comes from build.rs, e.g. rustc="1.95.0".
    let build = text
        .lines()
        .find(|l| l.starts_with("prodprobe_build_info{"))
        .unwrap();
    let rustc = build
        .split("rustc=\"")
        .nth(1)
        .and_then(|r| r.split('"').next());
    assert!(
        rustc.is_some_and(|v| v.split('.').count() == 3 && v != "unknown"),
        "{build}"
    );

    // OpenMetrics on request.
    let (_, head, om) = http_get(
        d.addr,
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"),
    )
    .await;
    assert!(head.contains("application/openmetrics-text"), "{head}");
    assert!(om.trim_end().ends_with("# EOF"));

    // Health and readiness endpoints, status API.
    assert_eq!(http_get(d.addr, "/-/healthy", None).await.0, 200);
    let (status, _, json) = http_get(d.addr, "/api/v1/status", None).await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["targets"][0]["name"], "good");
    // The status page explains a finding on hover.
    let (status, _, page) = http_get(d.addr, "/", None).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<p>2 targets, ") && page.contains(" failed, "),
        "{page}"
    );
    let expired = prodprobe::about::about("tls_cert", "expired").unwrap();
    assert!(
        page.contains(&format!("<span title=\"{expired}\">expired</span>")),
        "{page}"
    );

    // A bad reload keeps the running configuration.
    let good_config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        "targets:\n  - name: x\n    url: https://x.example/\n    bogus: 1\n",
    )
    .unwrap();
    let (status, _, body) = http_request(d.addr, "POST", "/-/reload", None).await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("unknown field `bogus`"), "{body}");
    let text = d.metrics().await;
    assert_eq!(
        sample(&text, "prodprobe_config_last_reload_successful", &[]),
        Some(0.0)
    );
    assert_eq!(sample(&text, "probe_success", &good), Some(1.0));

    // A good reload that drops a target removes its series.
    let without_expired: String = good_config
        .split("  - name: expired")
        .next()
        .unwrap()
        .to_owned();
    std::fs::write(&path, without_expired).unwrap();
    let (status, _, body) = http_request(d.addr, "POST", "/-/reload", None).await;
    assert_eq!(status, 200, "{body}");
    let text = d.metrics().await;
    assert_eq!(
        sample(&text, "prodprobe_config_last_reload_successful", &[]),
        Some(1.0)
    );
    assert!(!text.contains("target=\"expired\""), "{text}");
    assert_eq!(
        sample(&text, "probe_success", &good),
        Some(1.0),
        "the unchanged target keeps its series"
    );

    assert_eq!(d.terminate(), Some(0));
    let logs = d.logs();
    assert!(logs.iter().any(|l| l.contains("stopped")), "{logs:?}");
    // Nothing these servers answer changed: the first cycle's placeholders (a check waiting
    // for its evidence) becoming verdicts are not changes, and neither is a reload.
    let changes: Vec<&String> = logs
        .iter()
        .filter(|l| l.contains("check verdict changed"))
        .collect();
    assert!(changes.is_empty(), "{changes:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_refuses_an_invalid_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "bad.yaml",
        "targets:\n  - name: a\n    url: https://a.example/\n    checks: [nope]\n",
    );
    let out = Command::new(crate::support::bin())
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.yaml:4:14: unknown check \"nope\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listen_address_in_use_is_one_error_line_in_either_log_format() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "p.yaml",
        &format!(
            "server:\n  listen: {addr}\ntargets:\n  - name: a\n    url: https://127.0.0.1:1/\n"
        ),
    );
    for format in ["human", "json"] {
        let out = Command::new(crate::support::bin())
            .args(["serve", "--log-format", format, "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{format}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains(&format!("cannot listen on {addr}")))
            .collect();
        assert_eq!(lines.len(), 1, "{format}: {stderr}");
        if format == "json" {
            let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
            assert_eq!(v["level"], "ERROR", "{stderr}");
        } else {
            assert!(lines[0].starts_with("prodprobe: "), "{stderr}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_reach_logs_or_metrics() {
    let web = web().await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "token", "super-secret-value\n");
    let extra = "  - name: authed\n    url: https://{A}/\n    checks: [health]\n    credentials_for: [health]\n    headers:\n      Authorization: \"Bearer ${file:token}\"\n"
        .replace("{A}", &web.a.addr.to_string());
    let path = config(&web, dir.path(), &extra);
    let mut d = Daemon::start(&path);
    d.wait_ready().await;
    let text = d.metrics().await;
    let (_, _, status) = http_get(d.addr, "/api/v1/status", None).await;
    assert!(
        web.a
            .requests()
            .iter()
            .any(|r| r.header("authorization") == Some("Bearer super-secret-value"))
    );
    d.terminate();
    let logs = d.logs().join("\n");
    for hay in [&text, &status, &logs] {
        assert!(!hay.contains("super-secret-value"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_endpoint_is_blackbox_compatible_and_refuses_unconfigured_hosts() {
    let good = Resp::new(200)
        .header(
            "Strict-Transport-Security",
            "max-age=63072000; includeSubDomains",
        )
        .html("<p>ok</p>");
    let web = Web::start(
        vec![("/", good.clone()), ("/other", good)],
        vec![("/", Resp::new(200))],
        vec![],
        vec![],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let ca = web.pki.write_ca(dir.path());
    let yaml = format!(
        "scheduler:\n  initial_spread: 0s\nprofiles:\n  web:\n    checks: [hsts]\ntargets:\n  - name: shop\n    url: https://{}/\n    ca_file: {}\n    checks: [health]\n",
        web.a.addr,
        ca.display()
    );
    let path = write(dir.path(), "prodprobe.yaml", &yaml);
    let mut d = Daemon::start(&path);
    d.wait_ready().await;

    // A URL on a configured host, with a module (= profile): that run's series only. The
    // module chose the checks; the target's own CA (trusted nowhere else) still applies.
    let q = format!("/probe?target=https://{}/other&module=web", web.a.addr);
    let (status, head, body) = crate::support::http_request_with(
        d.addr,
        "GET",
        &q,
        &[("X-Prometheus-Scrape-Timeout-Seconds", "10")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        head.to_ascii_lowercase()
            .contains("text/plain; version=0.0.4")
    );
    assert_eq!(
        sample(
            &body,
            "probe_check_success",
            &[("target", "127.0.0.1"), ("check", "hsts")]
        ),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        sample(&body, "probe_success", &[("probe", "fetch")]),
        Some(1.0)
    );
    assert!(
        !body.contains("check=\"health\""),
        "the module chose the checks: {body}"
    );
    assert!(
        !body.contains("prodprobe_"),
        "no self-metrics in a probe answer"
    );
    // An on-demand run has no interval: the staleness alert never matches /probe series.
    assert!(!body.contains("probe_interval_seconds"), "{body}");
    assert!(body.contains("probe_last_run_timestamp_seconds"));
    assert!(web.a.requests().iter().any(|r| r.path == "/other"));

    // Without a module, a URL on the host is probed as the configured target would be; the
    // configured target's own URL is that target, as scheduled (its name as the label).
    for (path, label) in [("/other", "127.0.0.1"), ("/", "shop")] {
        let q = format!("/probe?target=https://{}{path}", web.a.addr);
        let (status, _, body) = http_get(d.addr, &q, None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            sample(
                &body,
                "probe_check_success",
                &[("target", label), ("check", "health")]
            ),
            Some(1.0),
            "{path}: {body}"
        );
        assert!(!body.contains("check=\"hsts\""), "{path}: {body}");
    }

    // The configured target's own URL with a module keeps the target's name, so the on-demand
    // series and alerts meet the scheduled ones; blackbox's stock `http_2xx` (no profile of
    // that name here) is the target as configured, so existing blackbox jobs work unchanged.
    for (module, check) in [("web", "hsts"), ("http_2xx", "health")] {
        let q = format!("/probe?target=https://{}/&module={module}", web.a.addr);
        let (status, _, body) = http_get(d.addr, &q, None).await;
        assert_eq!(status, 200, "{module}: {body}");
        assert_eq!(
            sample(
                &body,
                "probe_check_success",
                &[("target", "shop"), ("check", check)]
            ),
            Some(1.0),
            "{module}: {body}"
        );
    }
    let q = format!("/probe?target={}&module=http_2xx", web.a.addr);
    let (status, _, body) = http_get(d.addr, &q, None).await;
    assert_eq!(status, 200, "a bare host:port with http_2xx: {body}");

    // A scrape-timeout header no duration can hold is clamped, not a crash.
    let (status, _, body) = crate::support::http_request_with(
        d.addr,
        "GET",
        "/probe?target=shop",
        &[("X-Prometheus-Scrape-Timeout-Seconds", "1e300")],
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // A configured target by name.
    let (status, _, body) = http_get(d.addr, "/probe?target=shop", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        sample(
            &body,
            "probe_check_success",
            &[("target", "shop"), ("check", "health")]
        ),
        Some(1.0),
        "{body}"
    );

    // Not a configured host: refused, and nothing is sent there.
    let q = format!("/probe?target=https://{}/", web.b.addr);
    let (status, _, body) = http_get(d.addr, &q, None).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(web.b.count(), 0);

    assert_eq!(http_get(d.addr, "/probe", None).await.0, 400);
    let q = format!("/probe?target=https://{}/&module=nope", web.a.addr);
    let (status, _, body) = http_get(d.addr, &q, None).await;
    assert_eq!(status, 400);
    assert!(body.contains("unknown module \"nope\""), "{body}");
    assert_eq!(d.terminate(), Some(0));
}

/// Must-show: an expired certificate on an in-process server and `openssl s_server -tls1`,
/// through the real daemon's `/metrics`.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_show_an_expired_certificate_and_an_accepted_tls10() {
    let web = web().await;
    let dir = tempfile::tempdir().unwrap();
    let (ca_cert, ca_key) = web.pki.write_ca_and_key(dir.path());
    let (cert, key) = crate::support::openssl::leaf(
        dir.path(),
        "tls10",
        "rsa:2048",
        "IP:127.0.0.1",
        "sha256",
        (&ca_cert, &ca_key),
    );
    let legacy = crate::support::openssl::SServer::start(
        &cert,
        &key,
        &["-tls1", "-cipher", "ALL:@SECLEVEL=0"],
    );
    let ca = web.pki.write_ca(dir.path());
    let yaml = format!(
        r#"
scheduler:
  initial_spread: 0s
defaults:
  ca_file: {ca}
targets:
  - name: expired
    url: https://{e}/
    checks: [tls_cert]
  - name: legacy
    url: https://{l}/
    checks: [tls_version]
"#,
        ca = ca.display(),
        e = web.e.addr,
        l = legacy.addr,
    );
    let path = write(dir.path(), "prodprobe.yaml", &yaml);
    let mut d = Daemon::start(&path);
    d.wait_ready().await;
    let text = d.metrics().await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();

    let tls = [
        ("target", "expired"),
        ("probe", "tls"),
        ("address", "127.0.0.1"),
    ];
    let expiry = sample(&text, "probe_ssl_earliest_cert_expiry", &tls).expect("tls expiry series");
    assert!(expiry < now, "{expiry} is in the past: {text}");
    assert_eq!(sample(&text, "probe_success", &tls[..2]), Some(0.0));
    assert_eq!(
        sample(
            &text,
            "probe_tls_chain_verified",
            &[("target", "expired"), ("reason", "expired")]
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            "probe_check_success",
            &[("target", "expired"), ("check", "tls_cert")]
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            "probe_check_finding",
            &[
                ("target", "expired"),
                ("check", "tls_cert"),
                ("finding", "expired"),
                ("severity", "critical")
            ]
        ),
        Some(1.0)
    );
    assert!(
        sample(
            &text,
            "probe_tls_cert_expires_in_seconds",
            &[("target", "expired")]
        )
        .unwrap()
            < 0.0
    );

    assert_eq!(
        sample(
            &text,
            "probe_tls_version_accepted",
            &[("target", "legacy"), ("version", "tls1.0")]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "probe_tls_version_accepted",
            &[("target", "legacy"), ("version", "tls1.2")]
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            "probe_check_success",
            &[("target", "legacy"), ("check", "tls_version")]
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            "probe_check_finding",
            &[
                ("target", "legacy"),
                ("check", "tls_version"),
                ("finding", "tls10_accepted"),
                ("severity", "medium")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(d.terminate(), Some(0));
}

/// A flood of `/probe` requests for one target is not a load generator (ARCHITECTURE.md,
/// Safety): requests within `PROBE_MIN_SPACING` share one run, and runs take the scheduler's
/// per-host permits, so the target sees one run's requests, never more than two at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_probe_requests_costs_the_target_one_run() {
    let web = Web::serving(vec![("/", Resp::new(200).html("<p>ok</p>"))]).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = web.pki.write_ca(dir.path());
    // The scheduled jobs start only after the flood (a 1 h spread window).
    let yaml = format!(
        "scheduler:\n  initial_spread: 1h\ndefaults:\n  ca_file: {}\ntargets:\n  - name: shop\n    url: https://{}/\n    checks: [hsts, health]\n    probes:\n      fetch: {{ interval: 1h, timeout: 30s }}\n      health: {{ interval: 1h, timeout: 5s }}\n",
        ca.display(),
        web.a.addr
    );
    let path = write(dir.path(), "prodprobe.yaml", &yaml);
    let d = Daemon::start(&path);

    let (status, _, _) = http_get(d.addr, "/probe?target=shop", None).await;
    assert_eq!(status, 200);
    let one_run = web.a.count();
    assert!(one_run > 0);

    let flood: Vec<_> = (0..12)
        .map(|_| {
            let addr = d.addr;
            tokio::spawn(async move { http_get(addr, "/probe?target=shop", None).await.0 })
        })
        .collect();
    for f in flood {
        assert_eq!(f.await.unwrap(), 200);
    }
    assert_eq!(
        web.a.count(),
        one_run,
        "answers within the spacing come from the last run"
    );
}

/// `/probe` runs only the passive probes: the active ones keep the scheduler's intervals and
/// caps (a blackbox-style scrape every 15 s must not sweep paths or burst), and a host the
/// scheduler holds in backoff gets only health.
#[tokio::test(flavor = "multi_thread")]
async fn probe_runs_no_active_probe_and_honours_the_schedulers_backoff() {
    let web = Web::serving(vec![
        ("/", Resp::new(200).html("<p>ok</p>")),
        ("/busy", Resp::new(429).header("Retry-After", "600")),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let ca = web.pki.write_ca(dir.path());

    // Scheduled jobs wait (1 h spread): only the on-demand run talks to the server.
    let yaml = format!(
        "scheduler:\n  initial_spread: 1h\ndefaults:\n  ca_file: {ca}\ntargets:\n  - name: shop\n    url: https://{a}/\n    checks: [hsts, health, exposed_paths, cors, error_disclosure]\n",
        ca = ca.display(),
        a = web.a.addr
    );
    let path = write(dir.path(), "prodprobe.yaml", &yaml);
    let mut d = Daemon::start(&path);
    let (status, _, body) = http_get(d.addr, "/probe?target=shop", None).await;
    assert_eq!(status, 200, "{body}");
    for check in ["hsts", "health"] {
        assert!(
            body.contains(&format!("check=\"{check}\"")),
            "{check}: {body}"
        );
    }
    for check in ["exposed_paths", "cors", "error_disclosure"] {
        assert!(
            !body.contains(&format!("check=\"{check}\"")),
            "{check}: {body}"
        );
    }
    let reqs = web.a.requests();
    assert!(
        !reqs
            .iter()
            .any(|r| r.header("range").is_some() || r.header("origin").is_some()),
        "no path sweep, no CORS probe: {:?}",
        reqs.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    assert_eq!(d.terminate(), Some(0));

    // The scheduler's first health run draws a 429 with Retry-After: the host is in backoff,
    // and an on-demand run sends health's one request, not fetch's.
    let yaml = format!(
        "scheduler:\n  initial_spread: 0s\ndefaults:\n  ca_file: {ca}\ntargets:\n  - name: busy\n    url: https://{a}/busy\n    checks: [health, hsts]\n    probes:\n      health: {{ interval: 1h, timeout: 5s }}\n",
        ca = ca.display(),
        a = web.a.addr
    );
    let path = write(dir.path(), "busy.yaml", &yaml);
    let mut d = Daemon::start(&path);
    d.wait_ready().await;
    let before = web.a.count();
    let (status, _, body) = http_get(d.addr, "/probe?target=busy", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("check=\"health\""), "{body}");
    assert!(!body.contains("check=\"hsts\""), "{body}");
    assert_eq!(
        sample(&body, "probe_backoff_active", &[("target", "busy")]),
        Some(1.0),
        "the answer says why fetch did not run: {body}"
    );
    assert_eq!(web.a.count(), before + 1, "{:?}", web.a.requests());
    assert_eq!(d.terminate(), Some(0));
}

/// Distinct URLs on one host (a query string makes a new one) each get their own on-demand
/// run, but no more than `PROBE_RUNS_PER_HOST_PER_MINUTE` a minute: then 429 with Retry-After,
/// and nothing is sent.
#[tokio::test(flavor = "multi_thread")]
async fn on_demand_runs_per_host_are_capped() {
    let web = Web::serving(vec![("/", Resp::new(200).html("<p>ok</p>"))]).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = web.pki.write_ca(dir.path());
    let yaml = format!(
        "scheduler:\n  initial_spread: 1h\ndefaults:\n  ca_file: {}\ntargets:\n  - name: shop\n    url: https://{}/\n    checks: [health]\n",
        ca.display(),
        web.a.addr
    );
    let path = write(dir.path(), "prodprobe.yaml", &yaml);
    let mut d = Daemon::start(&path);
    let cap = prodprobe::server::PROBE_RUNS_PER_HOST_PER_MINUTE;
    for i in 0..cap {
        let q = format!("/probe?target=https://{}/?n={i}", web.a.addr);
        let (status, _, body) = http_get(d.addr, &q, None).await;
        assert_eq!(status, 200, "run {i}: {body}");
    }
    let sent = web.a.count();
    assert_eq!(sent, cap, "one health request per run");
    let q = format!("/probe?target=https://{}/?n=more", web.a.addr);
    let (status, head, body) = http_get(d.addr, &q, None).await;
    assert_eq!(status, 429, "{body}");
    assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");
    assert_eq!(web.a.count(), sent, "nothing sent past the cap");
    assert_eq!(d.terminate(), Some(0));
}

/// `serve --shard i/n` (ARCHITECTURE.md "Scale"): two instances on the same config split the
/// targets by rendezvous hashing, every target on exactly one of them, each says which shard it
/// is, and `/probe` still knows the other shard's targets; `check --shard` runs the same split.
#[tokio::test(flavor = "multi_thread")]
async fn two_shards_split_the_targets_and_probe_still_knows_them_all() {
    use prodprobe::shard::Shard;

    let srv = crate::support::TestServer::http("127.0.0.1", |_| Resp::new(200).body("ok")).await;
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..8).map(|i| format!("svc-{i}")).collect();
    let mut yaml = String::from("scheduler:\n  initial_spread: 0s\ntargets:\n");
    for n in &names {
        yaml.push_str(&format!(
            "  - name: {n}\n    url: {}\n    checks: [health]\n",
            srv.url("http", &format!("/{n}"))
        ));
    }
    let cfg = write(dir.path(), "prodprobe.yaml", &yaml);
    let owned = |i: u32| -> Vec<&String> {
        let shard = Shard::new(i, 2).unwrap();
        names.iter().filter(|n| shard.owns(n)).collect()
    };
    assert!(
        !owned(0).is_empty() && !owned(1).is_empty(),
        "the names must land on both shards for this test to mean anything"
    );

    let mut seen: Vec<String> = Vec::new();
    for i in 0..2u32 {
        let spec = format!("{i}/2");
        let d = Daemon::start_with_env(&cfg, &[("PRODPROBE_SHARD", spec.as_str())]);
        d.wait_ready().await;
        let text = d.metrics().await;
        let (index, count) = (i.to_string(), "2".to_owned());
        assert_eq!(
            sample(
                &text,
                "prodprobe_shard_info",
                &[("shard", &index), ("shards", &count)]
            ),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            sample(&text, "prodprobe_targets", &[]),
            Some(owned(i).len() as f64)
        );
        for n in &names {
            let here = sample(
                &text,
                "probe_success",
                &[("target", n), ("probe", "health")],
            );
            assert_eq!(here.is_some(), owned(i).contains(&n), "{n} on shard {i}");
        }
        seen.extend(owned(i).into_iter().cloned());
        // A target of the other shard, on demand.
        let other = owned(1 - i)[0];
        let (status, _, body) = http_get(d.addr, &format!("/probe?target={other}"), None).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("probe_success"), "{body}");
    }
    seen.sort();
    let mut all = names.clone();
    all.sort();
    assert_eq!(seen, all, "every target on exactly one shard");

    let out = std::process::Command::new(crate::support::bin())
        .args(["check", "--format", "json", "--shard", "1/2", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let checked: Vec<&str> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        checked,
        owned(1).iter().map(|s| s.as_str()).collect::<Vec<_>>()
    );
    // Naming a target of the other shard says so (exit 2), not "no target named".
    let out = std::process::Command::new(crate::support::bin())
        .args([
            "check",
            "--shard",
            "1/2",
            "--target",
            owned(0)[0],
            "--config",
        ])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("belongs to another shard than 1/2"), "{err}");
}

/// blackbox answers a probe that times out with 200 and `probe_success 0`, so alerts on
/// `probe_success == 0` fire; a 504 would only make the scrape fail (`up 0`) and the series
/// go stale. The run is cut at the announced scrape timeout, not at the probe's own 30 s (the
/// generous bound below only tells the two apart; it times nothing).
#[tokio::test(flavor = "multi_thread")]
async fn a_probe_that_does_not_finish_in_the_scrape_timeout_is_probe_success_0() {
    let srv = crate::support::TestServer::http("127.0.0.1", |_| Resp::hang()).await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "scheduler:\n  initial_spread: 0s\ntargets:\n  - name: slow\n    url: {}\n    checks: [health, hsts]\n    probes:\n      health: {{ interval: 1h, timeout: 30s }}\n      fetch: {{ interval: 1h, timeout: 30s }}\n",
        srv.url("http", "/")
    );
    let d = Daemon::start(&write(dir.path(), "prodprobe.yaml", &yaml));
    let (status, _, body) = tokio::time::timeout(
        Duration::from_secs(20),
        crate::support::http_request_with(
            d.addr,
            "GET",
            "/probe?target=slow",
            &[("X-Prometheus-Scrape-Timeout-Seconds", "2")],
        ),
    )
    .await
    .expect("the run must end at the scrape timeout, not at the health timeout of 30 s");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        sample(
            &body,
            "probe_success",
            &[("target", "slow"), ("probe", "health")]
        ),
        Some(0.0),
        "{body}"
    );
    // The silent health request does not eat the fetch probe's time: each phase of the run
    // gets its share of the scrape timeout, and fetch ran until its own cut-off.
    assert_eq!(
        sample(
            &body,
            "probe_success",
            &[("target", "slow"), ("probe", "fetch")]
        ),
        Some(0.0),
        "{body}"
    );
    let fetch_ran = sample(
        &body,
        "probe_duration_seconds",
        &[("target", "slow"), ("probe", "fetch")],
    )
    .unwrap();
    assert!(fetch_ran > 0.2, "fetch was starved: {fetch_ran} s\n{body}");
}

/// SIGTERM while a `/probe` answer and a scheduled run hang on a silent target: the drain
/// waits for them (bounded by the shutdown grace), and a second SIGTERM ends it at once, for
/// HTTP answers in flight too. The bound below (10 s, under the probes' 20 s timeout) only
/// tells "stopped at the second signal" from "waited for the probes"; it times nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_sigterm_stops_at_once_even_with_a_probe_answer_in_flight() {
    let srv = crate::support::TestServer::http("127.0.0.1", |_| Resp::hang()).await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "scheduler:\n  initial_spread: 0s\ntargets:\n  - name: slow\n    url: {}\n    checks: [health]\n    probes:\n      health: {{ interval: 1h, timeout: 20s }}\n",
        srv.url("http", "/")
    );
    let mut d = Daemon::start(&write(dir.path(), "prodprobe.yaml", &yaml));
    let addr = d.addr;
    let answer = tokio::spawn(async move { http_get(addr, "/probe?target=slow", None).await });
    // Both the scheduled run and the on-demand one are waiting on the target.
    let deadline = Instant::now() + Duration::from_secs(10);
    while srv.count() < 2 {
        assert!(
            Instant::now() < deadline,
            "the runs never reached the target"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = d.child.id().to_string();
    let term = || {
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
    };
    term();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !d.logs().iter().any(|l| l.contains("shutting down")) {
        assert!(Instant::now() < deadline, "no shutdown log line");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    term();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = d.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the second SIGTERM did not stop the daemon"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(0));
    answer.abort();
}

/// A 429 an on-demand run meets (here on a host allowed only by `probe_allowed_hosts`, which
/// the scheduler never probes) holds for the next on-demand runs on that host: they send only
/// health (CHECKS.md §0.5). Within the run, the fetch probe asks for nothing after the 429.
#[tokio::test(flavor = "multi_thread")]
async fn a_backoff_met_on_demand_holds_for_the_next_on_demand_runs() {
    let srv = crate::support::TestServer::http("127.0.0.1", |r| {
        if r.path == "/healthz" {
            Resp::new(200).body("ok")
        } else {
            Resp::new(429).header("Retry-After", "3600")
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = "server:\n  probe_allowed_hosts: ['127.0.0.1']\ndefaults:\n  checks: [health, hsts]\n  health: { url: /healthz }\ntargets: []\n";
    let d = Daemon::start(&write(dir.path(), "prodprobe.yaml", yaml));
    let paths = || -> Vec<String> { srv.requests().into_iter().map(|r| r.path).collect() };
    let (status, _, body) = http_get(
        d.addr,
        &format!("/probe?target={}", srv.url("http", "/?a")),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        sample(&body, "probe_backoff_active", &[]),
        Some(1.0),
        "{body}"
    );
    assert!(paths().contains(&"/?a".to_owned()), "{:?}", paths());
    assert!(!paths().iter().any(|p| p == "/robots.txt"), "{:?}", paths());

    // Another URL on the host (its own answer, not the cached one): health only.
    let (status, _, body) = http_get(
        d.addr,
        &format!("/probe?target={}", srv.url("http", "/?b")),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(!paths().contains(&"/?b".to_owned()), "{:?}", paths());
    assert_eq!(
        paths().iter().filter(|p| *p == "/healthz").count(),
        2,
        "{:?}",
        paths()
    );
    assert_eq!(
        sample(&body, "probe_backoff_active", &[]),
        Some(1.0),
        "{body}"
    );
}

/// A check's verdict changing is one info line with both statuses and the findings; a verdict
/// that holds logs nothing, so the log reads as the history of regressions and fixes.
#[tokio::test(flavor = "multi_thread")]
async fn a_verdict_change_is_logged_once() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::support::{Leaf, Pki, TestServer};

    let pki = Pki::new();
    let served = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&served);
    let srv = TestServer::https(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&["127.0.0.1"])),
        move |_| {
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                Resp::new(200).body("ok")
            } else {
                Resp::new(500).body("down")
            }
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let ca = pki.write_ca(dir.path());
    let yaml = format!(
        "scheduler:\n  initial_spread: 0s\ndefaults:\n  ca_file: {}\ntargets:\n  - name: flaky\n    url: https://{}/\n    checks: [health]\n    probes:\n      health: {{ interval: 1s, timeout: 900ms }}\n",
        ca.display(),
        srv.addr
    );
    let path = write(dir.path(), "prodprobe.yaml", &yaml);
    let d = Daemon::start(&path);
    let (line, _) = d.wait_log("check verdict changed", Duration::from_secs(20));
    assert_eq!(line["target_name"], "flaky", "{line}");
    assert_eq!(line["check"], "health", "{line}");
    assert_eq!(line["from"], "pass", "{line}");
    assert_eq!(line["to"], "fail", "{line}");
    assert_eq!(line["findings"], "bad_status", "{line}");
    assert_eq!(line["level"], "INFO", "{line}");
    // Two more failing runs: the verdict holds, nothing more is logged about it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while served.load(Ordering::SeqCst) < 4 {
        assert!(Instant::now() < deadline, "health did not run again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let changes: Vec<String> = d
        .logs()
        .into_iter()
        .filter(|l| l.contains("check verdict changed"))
        .collect();
    assert!(changes.is_empty(), "{changes:#?}");
}
