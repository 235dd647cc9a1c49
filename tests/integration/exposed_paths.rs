//! `exposed_paths` (CHECKS.md §13): every finding id from a real server, the random-path
//! baseline against sites that answer 200 everywhere, Range requests and the 64 KiB cap, and
//! the request count from the server's log.

use std::sync::Arc;

use probes::checks::exposed_paths::ExtraPath;
use probes::probe::ProbeKind;
use probes::verdict::{Severity, Status};

use crate::support::{Leaf, Pki, Req, Resp, TestServer, ids, run_of, target, verdict};

/// (finding id, path, body) of an exposure.
fn exposures() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut ds = vec![0, 0, 0, 1, 0x42, 0x75, 0x64, 0x31];
    ds.extend_from_slice(&[0u8; 32]);
    let mut heap = b"JAVA PROFILE 1.0.2\0".to_vec();
    heap.extend_from_slice(&[7u8; 64]);
    let mut svn = b"SQLite format 3\0".to_vec();
    svn.extend_from_slice(&[1u8; 64]);
    vec![
        (
            "git_repository",
            "/.git/config",
            b"[core]\n\trepositoryformatversion = 0\n\tbare = false\n".to_vec(),
        ),
        (
            "dotenv",
            "/.env",
            b"APP_KEY=base64:abc\nDB_PASSWORD=hunter2\n".to_vec(),
        ),
        (
            "aws_credentials",
            "/.aws/credentials",
            b"[default]\naws_access_key_id = AKIAEXAMPLE\n".to_vec(),
        ),
        ("htpasswd", "/.htpasswd", b"admin:$apr1$abc$def\n".to_vec()),
        ("svn_repository", "/.svn/wc.db", svn),
        ("ds_store", "/.DS_Store", ds),
        (
            "apache_status",
            "/server-status",
            b"<html><h1>Apache Server Status for shop</h1></html>".to_vec(),
        ),
        (
            "nginx_status",
            "/nginx_status",
            b"Active connections: 2 \nserver accepts handled requests\n 10 10 20 \n".to_vec(),
        ),
        (
            "actuator_env",
            "/actuator/env",
            br#"{"activeProfiles":["prod"],"propertySources":[]}"#.to_vec(),
        ),
        ("actuator_heapdump", "/actuator/heapdump", heap),
        (
            "actuator_httpexchanges",
            "/actuator/httpexchanges",
            br#"{"exchanges":[{"request":{}}]}"#.to_vec(),
        ),
        (
            "actuator_index",
            "/actuator",
            br#"{"_links":{"self":{"href":"http://x/actuator"}}}"#.to_vec(),
        ),
        (
            "go_pprof",
            "/debug/pprof/",
            b"<p>Types of profiles available:</p>".to_vec(),
        ),
        (
            "go_expvar",
            "/debug/vars",
            br#"{"cmdline":["/app"],"memstats":{}}"#.to_vec(),
        ),
        (
            "phpinfo",
            "/info.php",
            b"<html><title>phpinfo()</title></html>".to_vec(),
        ),
        (
            "werkzeug_console",
            "/console",
            b"<title>Console // Werkzeug Debugger</title>".to_vec(),
        ),
        (
            "aspnet_trace",
            "/elmah.axd",
            b"<h1>Error Log for /LM/W3SVC/1</h1>".to_vec(),
        ),
        (
            "openapi_docs",
            "/v3/api-docs",
            br#"{"openapi": "3.0.1","info":{}}"#.to_vec(),
        ),
        (
            "api_docs_ui",
            "/docs",
            b"<html><div id=\"swagger-ui\"></div></html>".to_vec(),
        ),
        (
            "prometheus_metrics",
            "/metrics",
            b"# HELP up ok\n# TYPE up gauge\nup 1\n".to_vec(),
        ),
    ]
}

async fn server(pki: &Pki, f: impl Fn(&Req) -> Resp + Send + Sync + 'static) -> TestServer {
    TestServer::https(
        "127.0.0.1",
        pki.server_config(&Leaf::valid(&["127.0.0.1"])),
        f,
    )
    .await
}

/// Requests of the path sweep (each carries `Range`).
fn sweep_requests(requests: &[Req]) -> usize {
    requests
        .iter()
        .filter(|r| r.header("range").is_some())
        .count()
}

fn found(v: &probes::verdict::Verdict, path_id: &str) -> f64 {
    v.measurements
        .iter()
        .find(|m| m.gauge.name == "exposed_path_found" && m.labels == [path_id])
        .map_or(-1.0, |m| m.value)
}

fn gauge(v: &probes::verdict::Verdict, name: &str) -> f64 {
    v.measurements
        .iter()
        .find(|m| m.gauge.name == name)
        .unwrap()
        .value
}

#[tokio::test]
async fn every_exposure_is_found_by_its_signature() {
    let pki = Pki::new();
    let table = Arc::new(exposures());
    let t2 = Arc::clone(&table);
    let srv = server(&pki, move |r: &Req| {
        match t2.iter().find(|(_, p, _)| *p == r.path) {
            Some((_, _, body)) => Resp::new(200).body(body),
            None if r.path == "/backup.sql" => Resp::new(200).body("INSERT INTO users VALUES (1)"),
            None if r.path == "/.git/HEAD" => Resp::new(403).body("forbidden"),
            None => Resp::new(404).body("not found"),
        }
    })
    .await;
    let mut t = target(&srv.url("https", "/"), pki.client(), None);
    t.options.exposed_paths.extra_paths = vec![ExtraPath {
        id: "backup_sql".into(),
        path: "/backup.sql".into(),
        signature: regex::Regex::new("INSERT INTO").unwrap(),
        severity: Severity::High,
    }];
    let v = verdict(&t, "exposed_paths").await;
    let mut got = ids(&v);
    got.sort_unstable();
    let mut want: Vec<&str> = table.iter().map(|(id, _, _)| *id).collect();
    want.push("custom_path");
    want.sort_unstable();
    assert_eq!(got, want, "{:#?}", v.findings);
    for (id, _, _) in table.iter() {
        assert_eq!(found(&v, id), 1.0, "{id}");
    }
    assert_eq!(found(&v, "backup_sql"), 1.0);
    let custom = v.findings.iter().find(|f| f.id == "custom_path").unwrap();
    assert_eq!(custom.severity, Severity::High);
    assert!(
        custom.evidence.starts_with("backup_sql: "),
        "{}",
        custom.evidence
    );
    assert_eq!(
        v.findings
            .iter()
            .find(|f| f.id == "dotenv")
            .unwrap()
            .severity,
        Severity::Critical
    );
    assert_eq!(gauge(&v, "exposed_paths_found"), 21.0);
    assert_eq!(gauge(&v, "exposed_paths_checked"), 34.0);
    assert_eq!(gauge(&v, "exposed_paths_protected"), 1.0);
    assert_eq!(gauge(&v, "soft_404_detected"), 0.0);
    assert_eq!(v.status, Status::Fail);

    // Every sweep request is a GET with a Range header; 33 + 1 listed paths + 5 baseline.
    let sweep: Vec<Req> = srv
        .requests()
        .into_iter()
        .filter(|r| r.header("range").is_some())
        .collect();
    assert_eq!(sweep.len(), 39);
    assert!(
        sweep
            .iter()
            .all(|r| r.method == "GET" && r.header("range") == Some("bytes=0-65535"))
    );
    assert!(sweep.iter().all(|r| r.header("authorization").is_none()));
}

#[tokio::test]
async fn public_api_docs_downgrade_the_docs_findings() {
    let pki = Pki::new();
    let srv = server(&pki, |r: &Req| match r.path.as_str() {
        "/openapi.json" => Resp::new(200).body(r#"{"openapi":"3.1.0"}"#),
        _ => Resp::new(404),
    })
    .await;
    let mut t = target(&srv.url("https", "/"), pki.client(), None);
    t.options.exposed_paths.public_api_docs = true;
    let v = verdict(&t, "exposed_paths").await;
    assert_eq!(ids(&v), ["openapi_docs"]);
    assert_eq!(v.findings[0].severity, Severity::Info);
    assert_eq!(v.status, Status::Pass);
}

#[tokio::test]
async fn a_site_answering_200_everywhere_raises_no_exposure_but_a_soft_404() {
    let pki = Pki::new();
    // An SPA: the same page for every path.
    let page = "<!doctype html><html><head><title>Shop</title></head><body><div id=app></div></body></html>";
    let srv = server(&pki, move |_: &Req| Resp::new(200).html(page)).await;
    let mut t = target(&srv.url("https", "/"), pki.client(), None);
    t.checks
        .retain(|c| ["exposed_paths", "error_disclosure"].contains(&c.id));
    let (_, verdicts) = crate::support::evaluate(&t).await;
    let paths = verdicts
        .iter()
        .find(|v| v.check == "exposed_paths")
        .unwrap();
    assert!(paths.findings.is_empty(), "{:#?}", paths.findings);
    assert_eq!(gauge(paths, "soft_404_detected"), 1.0);
    let errors = verdicts
        .iter()
        .find(|v| v.check == "error_disclosure")
        .unwrap();
    assert_eq!(ids(errors), ["soft_404"]);

    // A catch-all that even matches signatures (an env-like body everywhere) is baseline-like.
    let srv = server(&pki, |r: &Req| {
        Resp::new(200).body(format!("PATH={}\nMODE=catchall\nAPP_ENV=prod\n", r.path))
    })
    .await;
    let t = target(&srv.url("https", "/"), pki.client(), None);
    let v = verdict(&t, "exposed_paths").await;
    assert!(v.findings.is_empty(), "{:#?}", v.findings);
}

#[tokio::test]
async fn a_real_git_config_and_env_exposure() {
    let pki = Pki::new();
    let srv = server(&pki, |r: &Req| match r.path.as_str() {
        "/.git/config" => Resp::new(200).body(
            "[core]\n\trepositoryformatversion = 0\n[remote \"origin\"]\n\turl = git@github.com:shop/shop.git\n",
        ),
        "/.git/HEAD" => Resp::new(200).body("ref: refs/heads/main\n"),
        "/.env" => Resp::new(200)
            .header("Content-Type", "application/octet-stream")
            .body("APP_ENV=production\nDB_PASSWORD=hunter2\nSTRIPE_SECRET=sk_live_x\n"),
        _ => Resp::new(404).html("<html><h1>Not Found</h1></html>"),
    })
    .await;
    let t = target(&srv.url("https", "/"), pki.client(), None);
    let v = verdict(&t, "exposed_paths").await;
    let mut got = ids(&v);
    got.sort_unstable();
    assert_eq!(got, ["dotenv", "git_repository"]);
    assert_eq!(v.max_severity(), Some(Severity::Critical));
    assert_eq!(found(&v, "git_repository"), 1.0);
    assert_eq!(found(&v, "dotenv"), 1.0);
    assert_eq!(found(&v, "phpinfo"), 0.0);
    assert_eq!(
        sweep_requests(&srv.requests()),
        38,
        "33 paths and 5 baseline requests"
    );
}

/// Spring Boot writes a whole heap dump before its first byte: `/actuator/heapdump` outlasts
/// the request timeout. That path is lost, but the sweep goes on and what it found stands.
#[tokio::test(flavor = "multi_thread")]
async fn one_path_slower_than_the_timeout_does_not_void_the_sweep() {
    let pki = Pki::new();
    let srv = server(&pki, |r: &Req| match r.path.as_str() {
        "/actuator/heapdump" => Resp::hang(),
        "/.env" => Resp::new(200).body("APP_ENV=production\nDB_PASSWORD=hunter2\n"),
        _ => Resp::new(404).html("<html><h1>Not Found</h1></html>"),
    })
    .await;
    let t = target(&srv.url("https", "/"), pki.client(), None);
    let v = verdict(&t, "exposed_paths").await;
    assert_eq!(ids(&v), ["dotenv"], "{:?} {:?}", v.status, v.reason);
    assert_eq!(v.status, Status::Fail);
    assert_eq!(
        sweep_requests(&srv.requests()),
        38,
        "every path and baseline was asked for, the slow one included"
    );
}

/// A catch-all that honours `Range` (nginx `try_files … /index.html`, Express static) answers
/// every path 206 with the first 64 KiB: that is a soft 404, and a Spring `/actuator/env`
/// cut at the same 64 KiB has the baseline's length but not its content, so it is found.
#[tokio::test]
async fn range_honouring_catch_all_and_a_cut_exposure_of_the_same_length() {
    const CUT: usize = 64 * 1024;
    let pki = Pki::new();
    let page = {
        let mut p = b"<!doctype html><html><body><div id=root></div>".to_vec();
        p.resize(CUT, b' ');
        p
    };
    let env = {
        let mut e = br#"{"activeProfiles":["prod"],"propertySources":[{"name":"systemEnvironment","properties":{"#.to_vec();
        while e.len() < CUT {
            e.extend_from_slice(br#""KEY_X":{"value":"******"},"#);
        }
        e.truncate(CUT);
        e
    };
    let srv = server(&pki, move |r: &Req| {
        let body = if r.path == "/actuator/env" {
            &env
        } else {
            &page
        };
        Resp::new(206)
            .header("Content-Range", format!("bytes 0-{}/{}", CUT - 1, 4 * CUT))
            .body(body)
    })
    .await;
    let t = target(&srv.url("https", "/"), pki.client(), None);
    let v = verdict(&t, "exposed_paths").await;
    assert_eq!(ids(&v), ["actuator_env"], "{:#?}", v.findings);
    assert_eq!(gauge(&v, "soft_404_detected"), 1.0);
}

#[tokio::test]
async fn large_files_are_read_only_up_to_the_cap() {
    let pki = Pki::new();
    let srv = server(&pki, |r: &Req| match r.path.as_str() {
        // A server that ignores Range and sends 4 MiB.
        "/actuator/heapdump" => {
            let mut body = b"JAVA PROFILE 1.0.2\0".to_vec();
            body.resize(4 * 1024 * 1024, 0x42);
            Resp::new(200).body(body)
        }
        _ => Resp::new(404),
    })
    .await;
    let t = target(&srv.url("https", "/"), pki.client(), None);
    let mut t1 = t.clone();
    t1.checks.retain(|c| c.id == "exposed_paths");
    let (runs, verdicts) = crate::support::evaluate(&t1).await;
    assert_eq!(ids(&verdicts[0]), ["actuator_heapdump"]);
    let run = run_of(&runs, ProbeKind::Paths);
    let longest = run
        .evidence
        .responses()
        .map(|e| e.body.len())
        .max()
        .unwrap();
    assert!(longest <= 64 * 1024, "{longest}");
    assert!(run.evidence.responses().any(|e| e.body_truncated));
}

#[tokio::test]
async fn the_sweep_can_also_run_under_the_base_path() {
    let pki = Pki::new();
    let srv = server(&pki, |r: &Req| match r.path.as_str() {
        "/app/.env" => Resp::new(200).body("APP_KEY=x\nDB_HOST=db\n"),
        _ => Resp::new(404),
    })
    .await;
    let mut t = target(&srv.url("https", "/app/"), pki.client(), None);
    let v = verdict(&t, "exposed_paths").await;
    assert!(
        v.findings.is_empty(),
        "the root sweep alone misses /app/.env"
    );
    t.options.exposed_paths.under_base_path = true;
    let before = srv.requests().len();
    let v = verdict(&t, "exposed_paths").await;
    assert_eq!(ids(&v), ["dotenv"]);
    assert!(v.findings[0].evidence.contains("/app/.env"));
    let sweep = sweep_requests(&srv.requests()[before..]);
    assert_eq!(sweep, 76, "38 at the root and 38 under /app");
}

/// PHP 8's phpinfo() page: titled "PHP 8.2.x - phpinfo()", its "PHP License" section well past
/// the 64 KiB that prodprobe reads.
#[tokio::test]
async fn php_8_phpinfo_is_found() {
    let pki = Pki::new();
    let mut page = String::from(
        "<!DOCTYPE html><html><head><title>PHP 8.2.36 - phpinfo()</title></head><body><div class=\"center\"><table><tr class=\"h\"><td><h1 class=\"p\">PHP Version 8.2.36</h1></td></tr></table>",
    );
    while page.len() < 70_000 {
        page.push_str("<tr><td class=\"e\">directive</td><td class=\"v\">value</td></tr>\n");
    }
    page.push_str("<h2>PHP License</h2></div></body></html>");
    let srv = server(&pki, move |r: &Req| match r.path.as_str() {
        "/phpinfo.php" => Resp::new(200).html(&page),
        _ => Resp::new(404).body("not found"),
    })
    .await;
    let t = target(&srv.url("https", "/"), pki.client(), None);
    let v = verdict(&t, "exposed_paths").await;
    assert_eq!(found(&v, "phpinfo"), 1.0, "{:#?}", v.findings);
    assert!(ids(&v).contains(&"phpinfo"), "{:#?}", v.findings);
}

#[tokio::test]
async fn a_sweep_refused_everywhere_is_an_error_not_a_pass() {
    let pki = Pki::new();
    // An anti-DoS module (mod_evasive) tripped by the cycle's own requests answers 403 to
    // every path, random ones included; a limiter (nginx limit_req) answers 503; a 429 puts
    // the target in backoff, which stops the sweep.
    for (status, reason) in [
        (403, "blocked"),
        (503, "server_error"),
        (429, "rate_limited"),
    ] {
        let srv = server(&pki, move |r: &Req| {
            if r.header("range").is_some() {
                Resp::new(status).html("<h1>no</h1>")
            } else {
                Resp::new(200).html("<h1>shop</h1>")
            }
        })
        .await;
        let mut t = target(&srv.url("https", "/"), pki.client(), None);
        t.checks.retain(|c| c.id == "exposed_paths");
        let (runs, verdicts) = crate::support::evaluate(&t).await;
        let v = verdicts
            .iter()
            .find(|v| v.check == "exposed_paths")
            .unwrap();
        assert_eq!(v.status, Status::Error, "{status}: {v:?}");
        assert_eq!(v.reason, Some(reason), "{status}");
        // The sweep the backoff cut short did not complete (probe_success 0).
        let run = runs.iter().find(|r| r.kind == ProbeKind::Paths).unwrap();
        assert_eq!(
            (run.success, run.reason),
            if status == 429 {
                (false, Some("rate_limited"))
            } else {
                (true, None)
            },
            "{status}"
        );
    }

    // (refusal of a path, protected paths counted): a deny-all for dotfiles (403) draws 403
    // on the baseline's `/.{r}` too, so dotfiles are refused wholesale, not protected one by
    // one; two paths behind authentication while random paths get 404 are two protected.
    type Refusal = fn(&str) -> Option<u16>;
    let cases: [(Refusal, f64); 2] = [
        (|p| p.starts_with("/.").then_some(403), 0.0),
        (
            |p| matches!(p, "/.env" | "/server-status").then_some(401),
            2.0,
        ),
    ];
    for (refusal, protected) in cases {
        let srv = server(&pki, move |r: &Req| match refusal(&r.path) {
            Some(status) => Resp::new(status).html("no"),
            None => Resp::new(404).html("not found"),
        })
        .await;
        let t = target(&srv.url("https", "/"), pki.client(), None);
        let v = verdict(&t, "exposed_paths").await;
        assert_eq!(v.status, Status::Pass, "{v:?}");
        assert_eq!(gauge(&v, "exposed_paths_protected"), protected);
    }
}
