//! Report formats for CI systems: JUnit XML (one test case per target × check), SARIF 2.1.0
//! (findings as results) and Markdown (pull-request comments). All render the same [`Report`].

use std::fmt::Write as _;

use probes::checks;
use probes::verdict::{Severity, Status};
use serde_json::{Value, json};

use crate::report::{CheckReport, Report, TargetReport};

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
            // XML 1.0 forbids most control characters even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn finding_lines(c: &CheckReport) -> String {
    c.findings
        .iter()
        .map(|f| format!("[{}] {}: {}", f.severity, f.id, f.evidence))
        .collect::<Vec<_>>()
        .join("\n")
}

/// JUnit XML: a test suite per target, a test case per check.
pub fn junit(report: &Report) -> String {
    let s = &report.summary;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"prodprobe\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
        s.checks, s.fail, s.error, s.skipped
    );
    for t in &report.targets {
        let count = |st: Status| t.checks.iter().filter(|c| c.status == st).count();
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
                xml_escape(&t.name),
                c.check
            );
            let details = xml_escape(&finding_lines(c));
            match c.status {
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
                    let _ = writeln!(
                        out,
                        ">\n      <error message=\"could not evaluate: {}\" type=\"error\"/>\n    </testcase>",
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
            rule_ids.push(format!("{}/{}", def.id, f.id));
            rules.push(json!({
                "id": format!("{}/{}", def.id, f.id),
                "name": format!("{}_{}", def.id, f.id),
                "shortDescription": { "text": format!("{}: {}", def.id, f.id.replace('_', " ")) },
                "fullDescription": { "text": format!("{} check: {}", def.id, def.summary) },
                "helpUri": format!("{INFO_URI}/blob/main/docs/checks.md#{}", def.id),
                "defaultConfiguration": { "level": sarif_level(f.severity) },
                "properties": {
                    "security-severity": security_severity(f.severity),
                    "tags": ["security", "production-readiness", def.id],
                    "prodprobe-severity": f.severity.as_str(),
                },
            }));
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
                    "descriptor": { "id": c.check },
                })),
                Status::Pass | Status::Fail => {}
            }
            for f in &c.findings {
                let rule_id = format!("{}/{}", c.check, f.id);
                let index = rule_ids.iter().position(|r| *r == rule_id);
                let mut result = json!({
                    "ruleId": rule_id,
                    "level": sarif_level(f.severity),
                    "message": { "text": format!("{} ({}): {}", f.id, t.name, f.evidence) },
                    "locations": [{
                        "physicalLocation": { "artifactLocation": { "uri": t.url } },
                        "logicalLocations": [{ "name": t.name, "fullyQualifiedName": format!("{}/{}", t.name, c.check), "kind": "resource" }],
                    }],
                    "partialFingerprints": { "prodprobe/v1": format!("{}|{}|{}", t.name, c.check, f.id) },
                    "properties": { "target": t.name, "check": c.check, "severity": f.severity.as_str() },
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

fn md_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('`', "'")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(['\n', '\r'], " ")
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
    let failed = t.checks.iter().any(|c| c.status == Status::Fail);
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
            .map(|f| format!("**{}** `{}` {}", f.severity, f.id, md_escape(&f.evidence)))
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
        "## prodprobe: {} failed, {} passed, {} errors, {} skipped ({} targets)\n",
        s.fail, s.pass, s.error, s.skipped, s.targets
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
    out
}
