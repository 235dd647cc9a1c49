//! Report formats for CI systems: JUnit XML (one test case per target × check), SARIF 2.1.0
//! (findings as results) and Markdown (pull-request comments). All render the same [`Report`].

use std::fmt::Write as _;

use probes::checks;
use probes::verdict::{Severity, Status};
use serde_json::{Value, json};

use crate::report::{CheckReport, Report, TargetReport, counted};

const INFO_URI: &str = "https://github.com/prodprobe/prodprobe";

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters even escaped, and U+FFFE/U+FFFF; the
            // rest of the controls (DEL, C1) are allowed but no reader wants them.
            c if (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
                || matches!(c, '\u{fffe}' | '\u{ffff}') =>
            {
                out.push('\u{fffd}')
            }
            c => out.push(c),
        }
    }
    out
}

fn finding_lines(c: &CheckReport) -> String {
    c.findings
        .iter()
        .map(|f| {
            let mut line = format!("[{}] {}: {}", f.severity, f.id, f.evidence);
            // What to do, for what fails the check (info never does).
            if f.severity > Severity::Info
                && let Some(about) = crate::about::about(c.check, f.id)
            {
                line.push_str("\n  ");
                line.push_str(about);
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// How a check shows in JUnit: a skip that hides the answer (a certificate that failed
/// verification, a backoff, a failing health gate) fails the exit gate, so a CI dashboard must not
/// show it as a harmless skip: it is an error.
fn junit_status(c: &CheckReport) -> Status {
    if c.status == Status::Skipped && c.not_evaluated() {
        Status::Error
    } else {
        c.status
    }
}

/// JUnit XML: a test suite per target, a test case per check.
pub fn junit(report: &Report) -> String {
    let count = |checks: &mut dyn Iterator<Item = &CheckReport>, st: Status| {
        checks.filter(|c| junit_status(c) == st).count()
    };
    let all = || report.targets.iter().flat_map(|t| t.checks.iter());
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"prodprobe\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
        report.summary.checks,
        count(&mut all(), Status::Fail),
        count(&mut all(), Status::Error),
        count(&mut all(), Status::Skipped)
    );
    for t in &report.targets {
        let count = |st: Status| count(&mut t.checks.iter(), st);
        let time: f64 = t.probes.iter().map(|p| p.duration_seconds).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{time:.3}\">",
            xml_escape(&t.name),
            t.checks.len(),
            count(Status::Fail),
            count(Status::Error),
            count(Status::Skipped)
        );
        let _ = writeln!(
            out,
            "    <properties><property name=\"url\" value=\"{}\"/></properties>",
            xml_escape(&t.url)
        );
        for c in &t.checks {
            let _ = write!(
                out,
                "    <testcase classname=\"prodprobe.{}\" name=\"{}\"",
                // Dots would split the target into Java-style packages in Jenkins.
                xml_escape(&t.name.replace('.', "_")),
                c.check
            );
            let details = xml_escape(&finding_lines(c));
            match junit_status(c) {
                Status::Pass if c.findings.is_empty() => out.push_str("/>\n"),
                Status::Pass => {
                    let _ = writeln!(
                        out,
                        ">\n      <system-out>{details}</system-out>\n    </testcase>"
                    );
                }
                Status::Fail => {
                    let sev = c.severity.map_or("unknown", Severity::as_str);
                    let first = c
                        .findings
                        .first()
                        .map_or(String::new(), |f| format!(": {}", f.id));
                    let _ = writeln!(
                        out,
                        ">\n      <failure message=\"{} failed ({sev}){}\" type=\"{sev}\">{details}</failure>\n    </testcase>",
                        c.check,
                        xml_escape(&first)
                    );
                }
                Status::Error => {
                    // An error may still carry findings (rate_limit says where it stopped).
                    let skipped = if c.status == Status::Skipped {
                        " (skipped)"
                    } else {
                        ""
                    };
                    let _ = writeln!(
                        out,
                        ">\n      <error message=\"could not evaluate: {}{skipped}\" type=\"error\">{details}</error>\n    </testcase>",
                        c.reason.unwrap_or("unknown")
                    );
                }
                Status::Skipped => {
                    let _ = writeln!(
                        out,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        c.reason.unwrap_or("skipped")
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// A SARIF reporting descriptor for findings of `check` reported at `severity`.
fn sarif_rule(
    id: &str,
    name: &str,
    short: &str,
    (check, finding): (&str, &str),
    summary: &str,
    severity: Severity,
) -> Value {
    let full = format!("{check} check: {summary}");
    let help = crate::about::about(check, finding).unwrap_or(&full);
    json!({
        "id": id,
        "name": name,
        "shortDescription": { "text": short },
        "fullDescription": { "text": full },
        "help": { "text": help },
        "helpUri": format!(
            "{INFO_URI}/blob/main/docs/checks.md#{}",
            crate::about::anchor(check, finding)
        ),
        "defaultConfiguration": { "level": sarif_level(severity) },
        "properties": {
            "security-severity": security_severity(severity),
            "tags": ["security", "production-readiness", check],
            "prodprobe-severity": severity.as_str(),
        },
    })
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub code scanning's `security-severity` (CVSS-like, 0–10).
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "7.5",
        Severity::Medium => "5.0",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// SARIF 2.1.0: every finding a result, rule id `check/finding`, the catalogue of every check
/// that ran as the rules; errored and skipped checks as tool notifications.
pub fn sarif(report: &Report) -> String {
    let mut check_ids: Vec<&str> = report
        .targets
        .iter()
        .flat_map(|t| t.checks.iter().map(|c| c.check))
        .collect();
    check_ids.sort_unstable();
    check_ids.dedup();
    let mut rule_ids: Vec<String> = Vec::new();
    let mut rules: Vec<Value> = Vec::new();
    for id in check_ids {
        let Some(def) = checks::by_id(id) else {
            continue;
        };
        for f in def.findings {
            let id = format!("{}/{}", def.id, f.id);
            rules.push(sarif_rule(
                &id,
                &format!("{}_{}", def.id, f.id),
                &format!("{}: {}", def.id, f.id.replace('_', " ")),
                (def.id, f.id),
                def.summary,
                f.severity,
            ));
            rule_ids.push(id);
        }
    }
    let mut results = Vec::new();
    let mut notifications = Vec::new();
    for t in &report.targets {
        for c in &t.checks {
            match c.status {
                Status::Error | Status::Skipped => notifications.push(json!({
                    "level": if c.status == Status::Error { "error" } else { "note" },
                    "message": { "text": format!("{}: {} {} ({})", t.name, c.check, c.status.as_str(), c.reason.unwrap_or("unknown")) },
                    "properties": { "target": t.name, "check": c.check },
                })),
                Status::Pass | Status::Fail => {}
            }
            // Several findings of one id (one per cookie, per custom path) stay apart: the
            // fingerprint counts them in report order.
            let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
            for f in &c.findings {
                let n = seen.entry(f.id).or_default();
                *n += 1;
                let occurrence = if *n == 1 {
                    String::new()
                } else {
                    format!("|{n}")
                };
                let def = checks::by_id(c.check);
                let catalogue = def
                    .and_then(|d| d.findings.iter().find(|x| x.id == f.id))
                    .map(|x| x.severity);
                // Code scanning takes the severity from the rule: a finding whose severity was
                // adjusted (non-HTML cap, preload list, a custom path's) gets a rule of its own.
                let rule_id = if catalogue.is_none_or(|sev| sev == f.severity) {
                    format!("{}/{}", c.check, f.id)
                } else {
                    let id = format!("{}/{}/{}", c.check, f.id, f.severity.as_str());
                    if !rule_ids.contains(&id) {
                        rule_ids.push(id.clone());
                        rules.push(sarif_rule(
                            &id,
                            &format!("{}_{}_{}", c.check, f.id, f.severity.as_str()),
                            &format!(
                                "{}: {} ({})",
                                c.check,
                                f.id.replace('_', " "),
                                f.severity.as_str()
                            ),
                            (c.check, f.id),
                            def.map_or("", |d| d.summary),
                            f.severity,
                        ));
                    }
                    id
                };
                let index = rule_ids.iter().position(|r| *r == rule_id);
                let mut result = json!({
                    "ruleId": rule_id,
                    "level": sarif_level(f.severity),
                    "message": { "text": format!("{} ({}): {}", f.id, t.name, f.evidence) },
                    "locations": [{
                        "physicalLocation": { "artifactLocation": { "uri": relative_uri(&t.url) } },
                        "logicalLocations": [{ "name": t.name, "fullyQualifiedName": format!("{}/{}", t.name, c.check), "kind": "resource" }],
                    }],
                    "partialFingerprints": { "prodprobe/v1": format!("{}|{}|{}{occurrence}", t.name, c.check, f.id) },
                    "properties": { "target": t.name, "url": t.url, "check": c.check, "severity": f.severity.as_str() },
                });
                if let Some(i) = index {
                    result["ruleIndex"] = json!(i);
                }
                results.push(result);
            }
        }
    }
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "prodprobe",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": INFO_URI,
                "rules": rules,
            }},
            "invocations": [{
                "executionSuccessful": true,
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// A relative URI for SARIF's `artifactLocation`: code-scanning services accept only paths
/// relative to the checkout, not `https://` URLs. `https://shop.example:8443/app?x` becomes
/// `shop.example%3A8443/app` (the full URL stays in the result's properties). The URL is already
/// serialised (percent-encoded where needed), so its escapes stay as they are; `:` (not allowed
/// in a relative path's first segment) and an IPv6 literal's brackets are escaped.
fn relative_uri(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    rest.replace(':', "%3A")
        .replace('[', "%5B")
        .replace(']', "%5D")
        .replace(' ', "%20")
}

/// Evidence in a pull-request comment: inside a code span, so `@team` mentions, `#123` links,
/// `[links](…)` and images stay text; `|` escaped for the table; at most 300 characters.
fn md_code(s: &str) -> String {
    const MAX: usize = 300;
    let safe = crate::report::display_safe(s).replace('`', "'");
    let cut: String = safe.chars().take(MAX).collect();
    let more = if safe.chars().count() > MAX {
        "…"
    } else {
        ""
    };
    format!("`{}{more}`", cut.replace('|', "\\|"))
}

fn md_escape(s: &str) -> String {
    crate::report::display_safe(s)
        .replace('\\', "\\\\")
        .replace('&', "&amp;")
        .replace('|', "\\|")
        .replace('`', "'")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('@', "&#64;")
        .replace('\r', " ")
}

fn status_badge(st: Status) -> &'static str {
    match st {
        Status::Pass => "✅ pass",
        Status::Fail => "❌ fail",
        Status::Error => "⚠️ error",
        Status::Skipped => "⏭️ skipped",
    }
}

fn target_markdown(out: &mut String, t: &TargetReport) {
    let failed = t
        .checks
        .iter()
        .any(|c| c.status == Status::Fail || c.not_evaluated());
    let _ = writeln!(
        out,
        "### {} {} — {}\n",
        if failed { "❌" } else { "✅" },
        md_escape(&t.name),
        md_escape(&t.url)
    );
    out.push_str("| check | status | severity | findings |\n|---|---|---|---|\n");
    for c in &t.checks {
        let findings: Vec<String> = c
            .findings
            .iter()
            .map(|f| format!("**{}** `{}` {}", f.severity, f.id, md_code(&f.evidence)))
            .collect();
        let detail = match (c.status, c.reason) {
            (Status::Error | Status::Skipped, Some(r)) => format!("({r})"),
            _ => findings.join("<br>"),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            c.check,
            status_badge(c.status),
            c.severity.map_or("", Severity::as_str),
            detail
        );
    }
    out.push('\n');
}

/// Markdown for a pull-request comment.
pub fn markdown(report: &Report) -> String {
    let s = &report.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## prodprobe: {} failed, {} passed, {}, {} skipped ({})\n",
        s.fail,
        s.pass,
        counted(s.error, "error"),
        s.skipped,
        counted(s.targets, "target")
    );
    let f = &s.findings;
    let _ = writeln!(
        out,
        "Findings: {} critical · {} high · {} medium · {} low · {} info\n",
        f.critical, f.high, f.medium, f.low, f.info
    );
    for t in &report.targets {
        target_markdown(&mut out, t);
    }
    let todo = report.what_to_do();
    if !todo.is_empty() {
        out.push_str("<details><summary>What to do</summary>\n\n");
        for (sev, check, id, about) in todo {
            let _ = writeln!(out, "- **{sev}** `{check}/{id}`: {about}");
        }
        out.push_str("\n</details>\n");
    }
    // GitHub refuses comments over 65,536 characters.
    const MAX: usize = 60_000;
    if out.len() > MAX {
        let mut cut = MAX;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        let dropped = out.len() - cut;
        out.truncate(cut);
        let _ = writeln!(
            out,
            "\n\n… report truncated ({dropped} more bytes): see `prodprobe check --format json`"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{CheckReport, FindingReport, Summary};

    /// A hostile server's evidence: ANSI escapes, a C1 CSI, BEL, U+FFFE, markdown mentions,
    /// links and table pipes.
    const HOSTILE: &str = "Traceback \u{1b}[2J\u{1b}]0;owned\u{7} \u{9b}31m \u{fffe} @ops #12 [x](https://evil.example) | ![i](https://evil.example/i.png)";

    fn report() -> Report {
        let finding = |evidence: &str| FindingReport {
            id: "without_secure",
            severity: Severity::Medium,
            evidence: evidence.to_owned(),
        };
        Report {
            schema_version: 1,
            prodprobe_version: "test",
            summary: Summary::default(),
            targets: vec![TargetReport {
                name: "shop.example".into(),
                url: "https://shop.example:8443/app?x=1".into(),
                labels: Default::default(),
                probes: Vec::new(),
                checks: vec![
                    CheckReport {
                        check: "cookies",
                        status: Status::Fail,
                        reason: None,
                        severity: Some(Severity::Medium),
                        findings: vec![finding(HOSTILE), finding("sid")],
                        gauges: Vec::new(),
                    },
                    CheckReport {
                        check: "csp",
                        status: Status::Skipped,
                        reason: Some("invalid_cert"),
                        severity: None,
                        findings: Vec::new(),
                        gauges: Vec::new(),
                    },
                ],
            }],
        }
    }

    fn no_controls(s: &str) -> bool {
        !s.chars()
            .any(|c| (c.is_control() && c != '\n') || matches!(c, '\u{fffe}' | '\u{ffff}'))
    }

    #[test]
    fn hostile_evidence_reaches_no_terminal_xml_or_comment_raw() {
        let r = report();
        assert!(no_controls(&r.to_text(false)), "{:?}", r.to_text(false));
        assert!(no_controls(&junit(&r)));
        let md = markdown(&r);
        assert!(no_controls(&md));
        let row = md.lines().find(|l| l.contains("cookies")).unwrap();
        assert_eq!(
            row.matches(" | ").count(),
            3,
            "the evidence's pipe is escaped: {row}"
        );
        // Mentions, links and images stay inside the evidence's code span.
        let open = row.find("`Traceback").unwrap();
        let close = open + 1 + row[open + 1..].find('`').unwrap();
        let mention = row.find("@ops").unwrap();
        assert!(open < mention && mention < close, "{row}");
        assert!(!row[close..].contains("]("), "{row}");
    }

    #[test]
    fn a_check_that_could_not_be_judged_gates_and_marks_the_target() {
        let r = report();
        assert!(markdown(&r).contains("### ❌ shop.example"));
        let mut passing = report();
        passing.targets[0].checks.remove(0);
        assert_eq!(
            passing.exit_code(Severity::Low, false),
            1,
            "skipped (invalid_cert)"
        );
        assert_eq!(passing.exit_code(Severity::Low, true), 0, "--allow-errors");
        passing.targets[0].checks[0].reason = Some("not_https");
        assert_eq!(
            passing.exit_code(Severity::Low, false),
            0,
            "a skip that is the answer"
        );
    }

    #[test]
    fn sarif_locations_are_relative_and_fingerprints_tell_findings_of_one_id_apart() {
        let doc: Value = serde_json::from_str(&sarif(&report())).unwrap();
        let results = doc["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        let uri = &results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
        assert_eq!(uri, "shop.example%3A8443/app");
        assert_eq!(
            relative_uri("https://[::1]:18443/a%20b?q"),
            "%5B%3A%3A1%5D%3A18443/a%20b"
        );
        assert_eq!(
            results[0]["properties"]["url"],
            "https://shop.example:8443/app?x=1"
        );
        let fp = |i: usize| results[i]["partialFingerprints"]["prodprobe/v1"].clone();
        assert_ne!(fp(0), fp(1));
        // A severity other than the catalogue's gets a rule of its own, carrying it.
        let mut r = report();
        r.targets[0].checks[0].findings[1].severity = Severity::Low;
        let doc: Value = serde_json::from_str(&sarif(&r)).unwrap();
        let run = &doc["runs"][0];
        let result = &run["results"][1];
        assert_eq!(result["ruleId"], "cookies/without_secure/low");
        let rule = &run["tool"]["driver"]["rules"][result["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], "cookies/without_secure/low");
        assert_eq!(rule["properties"]["security-severity"], "3.0");
    }

    #[test]
    fn a_skip_that_fails_the_gate_is_a_junit_error_and_a_skip_that_is_the_answer_is_not() {
        let mut r = report();
        let xml = junit(&r);
        assert!(
            xml.contains("<error message=\"could not evaluate: invalid_cert (skipped)\""),
            "{xml}"
        );
        assert!(!xml.contains("<skipped"), "{xml}");
        assert!(
            xml.contains("failures=\"1\" errors=\"1\" skipped=\"0\""),
            "suite and run counts agree with the test cases: {xml}"
        );
        r.targets[0].checks[1].reason = Some("not_https");
        let xml = junit(&r);
        assert!(xml.contains("<skipped message=\"not_https\"/>"), "{xml}");
        assert!(
            xml.contains("failures=\"1\" errors=\"0\" skipped=\"1\""),
            "{xml}"
        );
    }

    #[test]
    fn junit_class_names_have_no_package_dots() {
        assert!(junit(&report()).contains("classname=\"prodprobe.shop_example\""));
    }
}
