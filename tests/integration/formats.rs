//! `check --format junit|sarif|markdown`: the CI formats, from a real run.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::web::Web;
use crate::support::{Resp, write};

async fn web() -> Web {
    let a = vec![(
        "/",
        Resp::new(200)
            .header(
                "Strict-Transport-Security",
                "max-age=86400; includeSubDomains",
            )
            .html("<p>shop</p>"),
    )];
    let h = vec![("/", Resp::redirect(301, "https://{A}/"))];
    Web::start(a, vec![], vec![], h).await
}

fn run(web: &Web, dir: &Path, format: &str) -> Output {
    let ca = web.pki.write_ca(dir);
    let cfg = write(
        dir,
        "prodprobe.yaml",
        &format!(
            "defaults:\n  ca_file: {}\n  checks: [https_redirect, hsts, health]\ntargets:\n  - name: shop & co\n    url: https://{}/\n    http_url: http://{}/\n  - name: down\n    url: https://127.0.0.1:{}/\n    http_url: http://127.0.0.1:{}/\n",
            ca.display(),
            web.a.addr,
            web.h.addr,
            web.closed,
            web.closed
        ),
    );
    Command::new(crate::support::bin())
        .args(["check", "--format", format, "--config"])
        .arg(cfg)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn junit_has_one_test_case_per_target_and_check() {
    let web = web().await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(&web, dir.path(), "junit");
    assert_eq!(out.status.code(), Some(1));
    let xml = String::from_utf8(out.stdout).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut suites, mut cases, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    let mut current_case = String::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                let attr = |name: &str| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == name.as_bytes())
                        .map(|a| a.unescape_value().unwrap().into_owned())
                        .unwrap_or_default()
                };
                match e.name().as_ref() {
                    b"testsuite" => suites.push((attr("name"), attr("tests"), attr("failures"))),
                    b"testcase" => {
                        current_case = format!("{}/{}", attr("classname"), attr("name"));
                        cases.push(current_case.clone());
                    }
                    b"failure" => failures.push((current_case.clone(), attr("type"))),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    assert_eq!(
        suites[0],
        ("shop & co".to_owned(), "3".to_owned(), "1".to_owned())
    );
    assert_eq!(cases.len(), 6, "{cases:?}");
    assert!(cases.contains(&"prodprobe.shop & co/hsts".to_owned()));
    assert!(
        failures.contains(&("prodprobe.shop & co/hsts".to_owned(), "medium".to_owned())),
        "{failures:?}"
    );
    assert!(
        failures
            .iter()
            .any(|(c, t)| c == "prodprobe.down/health" && t == "critical"),
        "{failures:?}"
    );
    // A failure's text says what to do under each finding that fails the check.
    let about = prodprobe::about::about("hsts", "max_age_too_short").unwrap();
    assert!(!about.contains(['&', '<', '>', '"', '\'']), "{about}");
    assert!(
        xml.contains(&format!(
            "[medium] max_age_too_short: max-age=86400; includeSubDomains (minimum 15552000)\n  {about}"
        )),
        "{xml}"
    );
    assert!(!xml.contains(&format!(
        "\n  {}",
        prodprobe::about::about("hsts", "below_recommended").unwrap()
    )));
}

#[tokio::test(flavor = "multi_thread")]
async fn sarif_is_valid_against_the_2_1_0_schema() {
    let web = web().await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(&web, dir.path(), "sarif");
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut schema: serde_json::Value =
        serde_json::from_str(include_str!("../testdata/sarif-schema-2.1.0.json")).unwrap();
    // The official schema's `language` patterns end in a stray `]`: a literal in ECMA-262
    // (JSON Schema's regex dialect) but an error for the validator's meta-schema check. Escaping
    // it keeps the same meaning; the committed schema file stays as OASIS published it.
    fn escape_stray_bracket(v: &mut serde_json::Value) -> usize {
        const STRAY: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
        match v {
            serde_json::Value::String(s) if s == STRAY => {
                *s = STRAY.replace("]?$", "\\]?$");
                1
            }
            serde_json::Value::Array(a) => a.iter_mut().map(escape_stray_bracket).sum(),
            serde_json::Value::Object(o) => o.values_mut().map(escape_stray_bracket).sum(),
            _ => 0,
        }
    }
    assert_eq!(escape_stray_bracket(&mut schema), 2);
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");

    let run = &doc["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "prodprobe");
    let results = run["results"].as_array().unwrap();
    let short = results
        .iter()
        .find(|r| r["ruleId"] == "hsts/max_age_too_short")
        .expect("hsts finding as a result");
    assert_eq!(short["level"], "warning");
    assert!(
        short["message"]["text"]
            .as_str()
            .unwrap()
            .contains("max-age=86400")
    );
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let index = short["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(rules[index]["id"], "hsts/max_age_too_short");
    // The rule says what the finding means and what to do, and links to its own entry.
    assert_eq!(
        rules[index]["help"]["text"],
        prodprobe::about::about("hsts", "max_age_too_short").unwrap()
    );
    assert!(
        rules[index]["helpUri"]
            .as_str()
            .unwrap()
            .ends_with("docs/checks.md#hsts-max_age_too_short"),
        "{}",
        rules[index]
    );
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"] == "health/unreachable" && r["level"] == "error")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn markdown_tables_for_pull_requests_and_output_to_a_file() {
    let web = web().await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(&web, dir.path(), "markdown");
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.starts_with("## prodprobe: 3 failed, 3 passed"), "{md}");
    assert!(md.contains("| check | status | severity | findings |"));
    assert!(md.contains("| `hsts` | ❌ fail | medium |"), "{md}");
    assert!(md.contains("`max_age_too_short`"));
    // A collapsed closing section says what to do about each finding above info.
    let todo = md
        .split("<details><summary>What to do</summary>")
        .nth(1)
        .expect("a What to do section");
    assert!(
        todo.contains(&format!(
            "- **medium** `hsts/max_age_too_short`: {}",
            prodprobe::about::about("hsts", "max_age_too_short").unwrap()
        )),
        "{todo}"
    );
    assert!(!todo.contains("below_recommended"), "{todo}");

    let file = dir.path().join("report.json");
    let cfg = dir.path().join("prodprobe.yaml");
    let out = Command::new(crate::support::bin())
        .args(["check", "--format", "json", "--output"])
        .arg(&file)
        .arg("--config")
        .arg(cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(v["summary"]["targets"], 2);
}
