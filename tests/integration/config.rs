//! Config validation: one invalid file per rejection rule (`tests/testdata/invalid-*.yaml`),
//! each paired with the line and the message it must produce.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use probes::tls::TlsClient;
use prodprobe::plan::{self, PlanContext};

fn cx() -> PlanContext {
    PlanContext {
        public_tls: Arc::new(TlsClient::new(&[]).unwrap()),
    }
}

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata")
        .join(name)
}

#[test]
fn the_good_config_plans_every_target() {
    let plan = plan::load(&testdata("good.yaml"), &cx()).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(plan.targets.len(), 2);
    let api = &plan.targets[1];
    assert_eq!(api.target.name, "api");
    assert_eq!(
        api.target.options.health.url.as_ref().unwrap().as_str(),
        "https://api.example/healthz"
    );
    assert_eq!(api.target.labels, [("env".to_owned(), "prod".to_owned())]);
    assert_eq!(api.target.resolve, Some("203.0.113.10".parse().unwrap()));
    let ids: Vec<&str> = api.target.checks.iter().map(|c| c.id).collect();
    assert_eq!(ids, ["hsts", "health"]);
    let health = api
        .jobs
        .iter()
        .find(|j| j.kind == probes::probe::ProbeKind::Health)
        .unwrap();
    assert_eq!(health.interval.as_secs(), 15);
    let shop = &plan.targets[0];
    // Target labels merge over the defaults' labels.
    assert_eq!(
        shop.target.labels,
        [
            ("env".to_owned(), "prod".to_owned()),
            ("team".to_owned(), "web".to_owned())
        ]
    );
    assert_eq!(shop.target.options.hsts.min_max_age, 180 * 86400);
    assert_eq!(plan.scheduler.max_concurrency, 64);
}

/// A plain-HTTP target schedules no TLS probe (it could only fail with `not_https` forever),
/// and a probe given only a short interval gets a timeout below it.
#[test]
fn plain_http_targets_get_no_tls_probes_and_short_intervals_their_own_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.yaml");
    std::fs::write(
        &path,
        "targets:\n  - name: intranet\n    url: http://intranet.example/\n  - name: listed\n    url: http://legacy.example/\n    checks: [tls_cert, hsts]\n  - name: fast\n    url: https://shop.example/\n    checks: [health]\n    probes:\n      health: { interval: 10s }\n",
    )
    .unwrap();
    let plan = plan::load(&path, &cx()).unwrap_or_else(|e| panic!("{e:?}"));
    use probes::probe::ProbeKind;
    for t in &plan.targets[..2] {
        assert!(
            !t.target
                .checks
                .iter()
                .any(|c| matches!(c.id, "tls_cert" | "tls_version")),
            "{}",
            t.target.name
        );
        assert!(
            !t.jobs
                .iter()
                .any(|j| matches!(j.kind, ProbeKind::Tls | ProbeKind::TlsVersions)),
            "{}",
            t.target.name
        );
    }
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
    assert!(
        plan.warnings[0].contains("\"listed\" is plain HTTP"),
        "{:?}",
        plan.warnings
    );
    let health = &plan.targets[2].jobs[0];
    assert_eq!(
        (health.interval.as_secs(), health.timeout.as_secs()),
        (10, 5)
    );
}

/// `headers` and `credentials_for` only work together: either one alone is a warning naming
/// the other, so a token that is never sent (or a list that sends nothing) does not go unnoticed.
#[test]
fn headers_without_credentials_for_and_the_reverse_are_warnings() {
    // (target keys, warning expected)
    let cases = [
        (
            "    headers: { Authorization: Bearer x }\n",
            Some("headers are configured but no probe sends them"),
        ),
        (
            "    credentials_for: [fetch]\n",
            Some("credentials_for is set but no headers are configured"),
        ),
        (
            "    headers: { Authorization: Bearer x }\n    credentials_for: [fetch]\n",
            None,
        ),
    ];
    for (keys, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yaml");
        std::fs::write(
            &path,
            format!("targets:\n  - name: api\n    url: https://api.example/\n{keys}"),
        )
        .unwrap();
        let plan = plan::load(&path, &cx()).unwrap_or_else(|e| panic!("{e:?}"));
        match expected {
            Some(w) => {
                assert_eq!(plan.warnings.len(), 1, "{keys}: {:?}", plan.warnings);
                assert!(plan.warnings[0].contains(w), "{keys}: {:?}", plan.warnings);
            }
            None => assert!(plan.warnings.is_empty(), "{keys}: {:?}", plan.warnings),
        }
    }
}

/// A health latency budget at or past the end of the health request (its run timeout, or
/// CHECKS.md §0.1's 5 s + 5 s + 15 s per request) can never be exceeded: a warning says so.
#[test]
fn a_latency_budget_the_health_request_never_reaches_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.yaml");
    // (health options, probes.health, warning expected)
    let cases = [
        ("{ latency_budget: 15s }", "{}", Some("run timeout 10s")),
        (
            "{ latency_budget: 26s }",
            "{ interval: 1m, timeout: 50s }",
            Some("at most 25s per request"),
        ),
        (
            "{ latency_budget: 20s }",
            "{ interval: 1m, timeout: 50s }",
            None,
        ),
        ("{ latency_budget: 9s }", "{}", None),
    ];
    for (health, probe, expected) in cases {
        std::fs::write(
            &path,
            format!(
                "targets:\n  - name: shop\n    url: https://shop.example/\n    health: {health}\n    probes:\n      health: {probe}\n"
            ),
        )
        .unwrap();
        let plan = plan::load(&path, &cx()).unwrap_or_else(|e| panic!("{e:?}"));
        match expected {
            Some(text) => {
                assert_eq!(plan.warnings.len(), 1, "{health}: {:?}", plan.warnings);
                let w = &plan.warnings[0];
                assert!(
                    w.contains("\"shop\"") && w.contains("`slow` never fires") && w.contains(text),
                    "{health}: {w}"
                );
            }
            None => assert!(plan.warnings.is_empty(), "{health}: {:?}", plan.warnings),
        }
    }
}

/// CHECKS.md §16: a pinned target resolves its public name only when it enables dns
/// explicitly: listed in its `checks:`, or `dns.when_pinned: true`; `when_pinned: false` wins.
#[test]
fn a_pinned_target_runs_dns_when_it_lists_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.yaml");
    let cases = [
        ("", false),
        ("    checks: [hsts, dns]\n", true),
        ("    checks: [hsts]\n", false),
        (
            "    checks: [dns]\n    dns: { when_pinned: false }\n",
            false,
        ),
        ("    dns: { when_pinned: true }\n", true),
        // A profile's or `defaults`' list names dns only because a list replaces the default
        // one: no explicit choice for this target.
        ("    profile: api\n", false),
    ];
    for (extra, expected) in cases {
        std::fs::write(
            &path,
            format!(
                "defaults:\n  checks: [health, dns]\nprofiles:\n  api:\n    checks: [hsts, dns]\ntargets:\n  - name: shop\n    url: https://shop.example/\n    resolve: 127.0.0.1\n{extra}"
            ),
        )
        .unwrap();
        let plan = plan::load(&path, &cx()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            plan.targets[0].target.options.dns.when_pinned, expected,
            "{extra:?}"
        );
    }
}

/// What `GET /probe` may probe (ARCHITECTURE.md "Safety"): configured targets by name, URLs on a
/// configured origin (scheme, host and port: another port on the same host is another
/// service), a bare `host:port` naming a configured origin (blackbox style), and hosts that
/// `server.probe_allowed_hosts` adds on any port.
#[test]
fn probe_targets_are_limited_to_configured_origins_and_allowed_hosts() {
    use prodprobe::plan::AdHocError;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.yaml");
    std::fs::write(
        &path,
        "server:\n  probe_allowed_hosts: ['*.partner.example']\ntargets:\n  - name: shop\n    url: https://127.0.0.1:8443/\n    headers: { Authorization: Bearer for-shop-only }\n    credentials_for: [health]\n  - name: api\n    url: https://127.0.0.1:9443/\n  - name: plain\n    url: http://127.0.0.1:18080/app\n",
    )
    .unwrap();
    let plan = plan::load(&path, &cx()).unwrap_or_else(|e| panic!("{e:?}"));
    // (target parameter, Some(name and URL of the run) or None: forbidden)
    let cases: &[(&str, Option<(&str, &str)>)] = &[
        ("shop", Some(("shop", "https://127.0.0.1:8443/"))),
        ("127.0.0.1:8443", Some(("shop", "https://127.0.0.1:8443/"))),
        (
            "127.0.0.1:18080",
            Some(("127.0.0.1", "http://127.0.0.1:18080/")),
        ),
        (
            "https://127.0.0.1:8443/x?y=1",
            Some(("127.0.0.1", "https://127.0.0.1:8443/x?y=1")),
        ),
        // shop's plain-HTTP chain starts at http://127.0.0.1/.
        (
            "http://127.0.0.1/",
            Some(("127.0.0.1", "http://127.0.0.1/")),
        ),
        (
            "https://api.partner.example:4443/",
            Some(("api.partner.example", "https://api.partner.example:4443/")),
        ),
        // Another configured origin on the same host: its own settings, never shop's secret.
        (
            "https://127.0.0.1:9443/x",
            Some(("127.0.0.1", "https://127.0.0.1:9443/x")),
        ),
        ("http://127.0.0.1:19901/internal/admin", None),
        ("https://127.0.0.1:9999/", None),
        ("127.0.0.1:22", None),
        ("https://partner.example/", None),
    ];
    for (param, expected) in cases {
        let got = plan.adhoc(&cx(), param, None);
        match (expected, got) {
            (Some((name, url)), Ok(t)) => {
                assert_eq!(
                    (t.target.name.as_str(), t.target.url.as_str()),
                    (*name, *url),
                    "{param}"
                );
                // Only URLs on shop's HTTPS origin are sent shop's credentials.
                let shops = t.target.url.port_or_known_default() == Some(8443);
                let sent = t
                    .target
                    .credentials_for(probes::probe::ProbeKind::Health, &t.target.url);
                assert_eq!(!sent.is_empty(), shops, "{param}");
            }
            (None, Err(AdHocError::Forbidden(m))) => {
                assert!(
                    m.contains("not the origin of a configured target"),
                    "{param}: {m}"
                );
            }
            (e, g) => panic!(
                "{param}: expected {e:?}, got {:?}",
                g.map(|t| t.target.url.to_string())
            ),
        }
    }
}

/// Shards read one config; each keeps its own state file, so none rewrites another's bursts
/// and backoffs away (one shared file would hold only the last writer's targets).
#[test]
fn each_shard_keeps_its_own_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.yaml");
    std::fs::write(
        &path,
        "scheduler:\n  state_file: state.json\ntargets:\n  - name: shop\n    url: https://shop.example/\n",
    )
    .unwrap();
    let file = |shard: &str| {
        let mut plan = plan::load(&path, &cx()).unwrap_or_else(|e| panic!("{e:?}"));
        plan.shard(shard.parse().unwrap());
        plan.scheduler.state_file.unwrap()
    };
    assert_eq!(file("0/1"), dir.path().join("state.json"));
    assert_eq!(file("1/4"), dir.path().join("state.json.shard-1-of-4"));
}

#[test]
fn every_rejection_names_the_problem_and_the_line() {
    let cases: &[(&str, u64, &str)] = &[
        ("invalid-unknown-key.yaml", 4, "unknown field `timeuot`"),
        (
            "invalid-unknown-top-level-key.yaml",
            2,
            "unknown field `listen`",
        ),
        (
            "invalid-unknown-nested-key.yaml",
            5,
            "unknown field `latency`, expected one of url, expected_status, latency_budget, body_regex",
        ),
        ("invalid-duration.yaml", 6, "invalid duration \"5 minutes\""),
        (
            "invalid-duration-too-long.yaml",
            6,
            "duration 9223372036854775807 is too long: at most 366d",
        ),
        (
            "invalid-concurrency-too-large.yaml",
            2,
            "expected a positive integer up to 1000000",
        ),
        ("invalid-url.yaml", 3, "invalid URL \"shop.example\""),
        (
            "invalid-listen-address.yaml",
            2,
            "invalid listen address \"prodprobe.internal:9747\": expected IP:port",
        ),
        (
            "invalid-resolve-host-name.yaml",
            5,
            "invalid address \"lb-1.internal\": expected an IP address, not a host name",
        ),
        (
            "invalid-yaml11-boolean.yaml",
            2,
            "expected a boolean, true or false",
        ),
        ("invalid-url-scheme.yaml", 3, "scheme must be https"),
        (
            "invalid-url-credentials.yaml",
            3,
            "must not contain user:password",
        ),
        (
            "invalid-cookie-name-star.yaml",
            5,
            "cookie name \"*\" would match every cookie",
        ),
        (
            "invalid-duplicate-key.yaml",
            4,
            "duplicate mapping key: url (a key may appear once per mapping)",
        ),
        (
            "invalid-duplicate-target.yaml",
            4,
            "duplicate target name \"shop\" (first defined at line 2)",
        ),
        (
            "invalid-timeout-not-below-interval.yaml",
            7,
            "health timeout 30s must be less than its interval 30s",
        ),
        (
            "invalid-unknown-check.yaml",
            4,
            "unknown check \"hstss\", expected one of",
        ),
        ("invalid-ca-file-unreadable.yaml", 4, "cannot read ca_file"),
        (
            "invalid-client-cert-without-key.yaml",
            4,
            "client_cert needs client_key",
        ),
        (
            "invalid-missing-env-var.yaml",
            6,
            "environment variable PRODPROBE_TEST_VARIABLE_THAT_IS_NEVER_SET is not set",
        ),
        (
            "invalid-unknown-profile.yaml",
            6,
            "unknown profile \"wbe\", expected one of web",
        ),
        (
            "invalid-url-in-profile.yaml",
            3,
            "`url` is only allowed in a target",
        ),
        ("invalid-missing-name.yaml", 2, "target has no `name`"),
        (
            "invalid-reserved-label.yaml",
            4,
            "label name \"target\" is reserved",
        ),
        (
            "invalid-regex.yaml",
            5,
            "invalid regular expression \"(unclosed\": unclosed group (at character 1)",
        ),
        (
            "invalid-interval-below-floor.yaml",
            5,
            "fetch interval 1s is below the floor of 30s",
        ),
        (
            "invalid-state-file-directory-missing.yaml",
            3,
            "directory /nonexistent-prodprobe-dir does not exist",
        ),
        (
            "invalid-tls-versions-interval-below-floor.yaml",
            5,
            "tls_versions interval 1m is below the floor of 10m",
        ),
        (
            "invalid-forbidden-header.yaml",
            5,
            "header \"Host\" cannot be configured",
        ),
        ("invalid-status-range.yaml", 5, "invalid status \"200-199\""),
        ("invalid-severity.yaml", 2, "unknown severity \"severe\""),
        ("invalid-yaml-syntax.yaml", 3, ""),
        ("invalid-empty.yaml", 0, "config file is empty"),
        (
            "invalid-rate-limit-cap-above-ceiling.yaml",
            6,
            "rate_limit.cap 500 is above the ceiling of 200",
        ),
        (
            "invalid-rate-limit-rps-above-ceiling.yaml",
            6,
            "rate_limit.rps 50 is above the ceiling of 20",
        ),
        (
            "invalid-rate-limit-body-too-large.yaml",
            7,
            "rate_limit.body is 1100 bytes; at most 1024",
        ),
        (
            "invalid-rate-limit-body-without-post.yaml",
            6,
            "rate_limit.body needs `method: POST`",
        ),
        (
            "invalid-rate-limit-method.yaml",
            6,
            "invalid rate_limit method \"DELETE\"",
        ),
        (
            "invalid-max-redirects-above-hop-limit.yaml",
            6,
            "https_redirect.max_redirects 20 is above the 10 redirects the fetch follows",
        ),
        (
            "invalid-rate-limit-burst-above-cap.yaml",
            7,
            "rate_limit.burst 20 is above rate_limit.cap 10",
        ),
        (
            "invalid-rate-limit-interval-below-floor.yaml",
            7,
            "rate_limit interval 30m is below the floor of 1h",
        ),
        (
            "invalid-cors-too-many-paths.yaml",
            5,
            "cors.paths lists 6 paths; at most 5",
        ),
        (
            "invalid-cors-allowed-origin.yaml",
            5,
            "invalid allowed origin \"https://partner.example/login\"",
        ),
        (
            "invalid-per-host-concurrency-above-ceiling.yaml",
            2,
            "scheduler.per_host_concurrency 8 is above the ceiling of 2",
        ),
        (
            "invalid-credentials-for-paths.yaml",
            4,
            "probe \"paths\" never sends credentials (only fetch, health and cors may)",
        ),
        (
            // No target uses it, but `GET /probe?module=api` may: checked all the same.
            "invalid-unused-profile.yaml",
            6,
            "health timeout 45s must be less than its interval 30s (profile \"api\")",
        ),
        (
            "invalid-extra-path-builtin-id.yaml",
            6,
            "path id \"dotenv\" is built in",
        ),
    ];
    for (file, line, message) in cases {
        let errors = match plan::load(&testdata(file), &cx()) {
            Ok(_) => panic!("{file} was accepted"),
            Err(e) => e,
        };
        let e = &errors[0];
        assert_eq!(e.line, *line, "{file}: {e}");
        assert!(e.message.contains(message), "{file}: {e}");
        // One line: a library's multi-line message would be printed with `\n` escapes.
        assert!(
            !e.message.contains('\n') && !e.message.contains("\\n"),
            "{file}: {e}"
        );
        let shown = e.to_string();
        assert!(
            shown.contains(file),
            "{file}: the message names the file: {shown}"
        );
        if *line > 0 {
            assert!(shown.contains(&format!("{file}:{line}:")), "{shown}");
        }
    }
}

#[test]
fn every_invalid_fixture_is_covered_by_the_table() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/testdata");
    let source = include_str!("config.rs");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.starts_with("invalid-") {
            assert!(
                source.contains(&format!("\"{name}\"")),
                "{name} has no expectation"
            );
        }
    }
}

#[test]
fn several_errors_are_reported_together() {
    let dir = tempfile::tempdir().unwrap();
    let path = crate::support::write(
        dir.path(),
        "c.yaml",
        "targets:\n  - name: a\n    url: https://a.example/\n    ca_file: nope.pem\n  - name: a\n    url: https://b.example/\n",
    );
    let errors = plan::load(&path, &cx()).unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:?}");

    // One mistake under `defaults`, inherited by three targets: one error, with its line.
    let path = crate::support::write(
        dir.path(),
        "d.yaml",
        "defaults:\n  probes:\n    health: { interval: 500ms }\ntargets:\n  - { name: a, url: https://a.example/ }\n  - { name: b, url: https://b.example/ }\n  - { name: c, url: https://c.example/ }\n",
    );
    let errors = plan::load(&path, &cx()).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].line, 3, "{errors:?}");

    // A message that names its target: once, saying how many targets inherit the mistake.
    let path = crate::support::write(
        dir.path(),
        "e.yaml",
        "defaults:\n  probes:\n    fetch: { interval: 30s, timeout: 40s }\ntargets:\n  - { name: a, url: https://a.example/ }\n  - { name: b, url: https://b.example/ }\n",
    );
    let errors = plan::load(&path, &cx()).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].message.contains("must be less than its interval")
            && errors[0].message.ends_with("(2 targets inherit it)"),
        "{}",
        errors[0].message
    );
}

#[test]
fn a_secret_from_a_file_is_read_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    crate::support::write(dir.path(), "token", "t0ps3cret\n");
    let path = crate::support::write(
        dir.path(),
        "c.yaml",
        "targets:\n  - name: a\n    url: https://a.example/\n    credentials_for: [fetch]\n    headers:\n      Authorization: \"Bearer ${file:token}\"\n",
    );
    let plan = plan::load(&path, &cx()).unwrap();
    let t = &plan.targets[0].target;
    assert_eq!(t.credentials[0].value.to_str().unwrap(), "Bearer t0ps3cret");
    assert!(t.credentials[0].value.is_sensitive());
    assert!(!format!("{t:?}").contains("t0ps3cret"));
}

#[test]
fn validate_exits_2_with_the_location_and_0_when_valid() {
    let out = Command::new(crate::support::bin())
        .args(["validate", "--config"])
        .arg(testdata("invalid-timeout-not-below-interval.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid-timeout-not-below-interval.yaml:7:18: health timeout 30s must be less than its interval 30s"), "{stderr}");

    let out = Command::new(crate::support::bin())
        .args(["validate", "--config"])
        .arg(testdata("good.yaml"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A log filter that does not parse is a usage error, not a silent `info`.
    let out = Command::new(crate::support::bin())
        .args(["--log-level", "prodprobe=loud", "validate", "--config"])
        .arg(testdata("good.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid log level"));
}

/// A device, a FIFO or an oversized file is refused before anything large is read or anything
/// blocks: the config itself, a `${file:}` secret, a `ca_file`.
#[test]
fn devices_fifos_and_oversized_files_are_refused_without_reading_them() {
    let validate = |path: &std::path::Path| {
        let out = Command::new(crate::support::bin())
            .args(["validate", "--config"])
            .arg(path)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = validate(std::path::Path::new("/dev/zero"));
    assert_eq!(code, Some(2));
    assert!(err.contains("not a regular file"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let (code, err) = validate(&fifo);
    assert_eq!(code, Some(2));
    assert!(err.contains("not a regular file"), "{err}");

    let big = dir.path().join("big.yaml");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(17 * 1024 * 1024).unwrap();
    let (code, err) = validate(&big);
    assert_eq!(code, Some(2));
    assert!(err.contains("larger than 16777216 bytes"), "{err}");

    let cfg = crate::support::write(
        dir.path(),
        "secret.yaml",
        &format!(
            "targets:\n  - name: shop\n    url: https://shop.example/\n    headers:\n      Authorization: \"Bearer ${{file:/dev/zero}}\"\n    ca_file: {}\n",
            fifo.display()
        ),
    );
    let (code, err) = validate(&cfg);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("cannot read secret file /dev/zero: not a regular file"),
        "{err}"
    );
    assert!(err.contains("not a regular file"), "{err}");
    assert!(
        err.contains(&format!("cannot read ca_file {}", fifo.display())),
        "{err}"
    );
}

#[test]
fn pinned_addresses_say_what_is_wrong_with_them() {
    use prodprobe::config::PinnedAddr;
    for (given, ip) in [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8::7", "2001:db8::7"),
        ("[2001:db8::7]", "2001:db8::7"),
        ("::1", "::1"),
    ] {
        let a: PinnedAddr = given.parse().unwrap_or_else(|e| panic!("{given}: {e}"));
        assert_eq!(a.0.to_string(), ip, "{given}");
    }
    for (bad, why) in [
        ("1.2.3", "expected an IPv4 or IPv6 address"),
        ("300.1.1.1", "expected an IPv4 or IPv6 address"),
        ("", "expected an IPv4 or IPv6 address"),
        ("192.0.2.7:443", "without a port"),
        ("[2001:db8::7]:443", "without a port"),
        ("lb-1.internal", "not a host name"),
        ("localhost", "not a host name"),
    ] {
        let e = bad.parse::<PinnedAddr>().unwrap_err();
        assert!(e.contains(why), "{bad:?}: {e}");
    }
    // `check --resolve` says the same about its address part.
    let e = prodprobe::plan::parse_pin("shop.example:1.2.3").unwrap_err();
    assert!(e.contains("invalid address \"1.2.3\""), "{e}");
    assert!(prodprobe::plan::parse_pin(":192.0.2.7").is_err());
    assert_eq!(
        prodprobe::plan::parse_pin("Shop.Example:[2001:db8::7]").unwrap(),
        ("shop.example".to_owned(), "2001:db8::7".parse().unwrap())
    );
}

#[test]
fn listen_addresses_take_the_forms_exporters_accept() {
    use prodprobe::config::ListenAddr;
    let ok: &[(&str, &str)] = &[
        ("0.0.0.0:9747", "0.0.0.0:9747"),
        ("127.0.0.1:0", "127.0.0.1:0"),
        ("[::1]:9747", "[::1]:9747"),
        ("[::]:80", "[::]:80"),
        (":9747", "0.0.0.0:9747"),
        ("localhost:9747", "127.0.0.1:9747"),
        ("LOCALHOST:1", "127.0.0.1:1"),
    ];
    for (given, bound) in ok {
        let addr: ListenAddr = given.parse().unwrap_or_else(|e| panic!("{given}: {e}"));
        assert_eq!(addr.0.to_string(), *bound, "{given}");
    }
    for bad in [
        "9747",
        "localhost",
        "example.com:9747",
        ":99999",
        ":",
        "::1:9747",
        "0.0.0.0:-1",
        "",
    ] {
        let e = bad.parse::<ListenAddr>().unwrap_err();
        assert!(
            e.contains("expected IP:port, [IPv6]:port, :port or localhost:port"),
            "{bad:?}: {e}"
        );
    }
}
