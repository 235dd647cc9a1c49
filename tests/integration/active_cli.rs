//! `prodprobe check` against the active checks, end to end: the must-show cases of the issue
//! (credentialed CORS reflection at critical severity; a limiter that answers 429 with
//! `Retry-After: 30` after five requests), with the test servers' request counters proving
//! the caps held.

use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::{Leaf, Pki, Req, Resp, TestServer, write};

fn check(args: &[&str]) -> Output {
    Command::new(crate::support::bin())
        .arg("check")
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn config(dir: &std::path::Path, pki: &Pki, url: &str, extra: &str) -> String {
    let ca = pki.write_ca(dir);
    let yaml = format!(
        "defaults:\n  ca_file: {}\ntargets:\n  - name: shop\n    url: {url}\n{extra}",
        ca.display()
    );
    write(dir, "prodprobe.yaml", &yaml).display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_credentialed_origin_reflection_as_critical() {
    let pki = Pki::new();
    let srv = TestServer::https(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&["127.0.0.1"])),
        |r: &Req| {
            let mut resp = Resp::new(200)
                .header("Content-Type", "application/json")
                .body("{}");
            if let Some(o) = r.header("origin") {
                resp = resp
                    .header("Access-Control-Allow-Origin", o)
                    .header("Access-Control-Allow-Credentials", "true");
            }
            resp
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &pki,
        &srv.url("https", "/api/me"),
        "    checks: [cors]\n",
    );
    let out = check(&["--config", &cfg, "--format", "json"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cors = report["targets"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "cors")
        .unwrap();
    assert_eq!(cors["status"], "fail", "{t}");
    assert_eq!(cors["severity"], "critical", "{t}");
    assert_eq!(
        cors["findings"][0]["id"], "reflect_any_with_credentials",
        "{t}"
    );
    assert_eq!(cors["findings"][0]["severity"], "critical", "{t}");

    let out = check(&["--config", &cfg]);
    let t = text(&out);
    assert!(
        t.lines()
            .any(|l| l.contains("critical") && l.contains("reflect_any_with_credentials")),
        "{t}"
    );
    // Two runs, each within the cors budget for an IP target (6 requests); no POST, PUT or
    // anything but GET/OPTIONS ever reached the server.
    let reqs = srv.requests();
    let cors_requests = reqs
        .iter()
        .filter(|r| r.header("accept") == Some("*/*"))
        .count();
    assert_eq!(cors_requests, 12, "{reqs:#?}");
    assert!(
        reqs.iter()
            .all(|r| matches!(r.method.as_str(), "GET" | "OPTIONS"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_runs_the_burst_only_with_the_flag_and_reports_the_first_429() {
    let pki = Pki::new();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    let srv = TestServer::https(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&["127.0.0.1"])),
        move |r: &Req| {
            if r.path != "/login" {
                return Resp::new(200).body("ok");
            }
            if h.fetch_add(1, Ordering::SeqCst) + 1 > 5 {
                Resp::new(429).header("Retry-After", "30").body("slow down")
            } else {
                Resp::new(200).body("login")
            }
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &pki,
        &srv.url("https", "/"),
        "    checks: [health, rate_limit]\n    rate_limit: { path: /login, rps: 20 }\n",
    );

    // Without --rate-limit nothing is sent to the limited path.
    let out = check(&["--config", &cfg]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    assert!(!text(&out).contains("rate_limit"), "{}", text(&out));
    let out = check(&["--config", &cfg, "--checks", "rate_limit"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--rate-limit"));

    let out = check(&["--config", &cfg, "--rate-limit", "--format", "json"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rl = report["targets"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "rate_limit")
        .unwrap();
    assert_eq!(rl["status"], "pass", "{t}");
    let gauge = |name: &str| {
        rl["gauges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {t}"))["value"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(gauge("probe_ratelimit_first_limited_request"), 6.0, "{t}");
    assert_eq!(gauge("probe_ratelimit_retry_after_seconds"), 30.0, "{t}");
    // The server's counter: the burst stopped at the first 429.
    assert_eq!(hits.load(Ordering::SeqCst), 6);
    hits.store(0, Ordering::SeqCst);
    let text_out = check(&["--config", &cfg, "--rate-limit"]);
    let tt = text(&text_out);
    assert!(
        tt.lines().any(|l| l.contains("PASS")
            && l.contains("rate_limit")
            && l.contains("limited at request 6, Retry-After 30 s")),
        "{tt}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bare_url_gets_the_burst_with_the_flag() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    let srv = TestServer::http("127.0.0.1", move |r: &Req| {
        // The health request asks for health+json; only the burst asks for */*.
        if r.header("accept") != Some("*/*") {
            return Resp::new(200).body("ok");
        }
        if h.fetch_add(1, Ordering::SeqCst) + 1 > 4 {
            Resp::new(429).header("Retry-After", "5")
        } else {
            Resp::new(200).body("ok")
        }
    })
    .await;
    let url = srv.url("http", "/");
    let out = check(&[
        &url,
        "--checks",
        "rate_limit",
        "--rate-limit",
        "--format",
        "json",
    ]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = report["targets"][0]["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 1, "{t}");
    assert_eq!(checks[0]["check"], "rate_limit");
    assert_eq!(checks[0]["status"], "pass", "{t}");
    assert_eq!(hits.load(Ordering::SeqCst), 5, "stopped at the first 429");
}
