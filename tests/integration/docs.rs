//! The reference docs cannot drift from the code: every config key the parser accepts is in
//! `docs/config.md`, every metric the exporter can register is in `docs/metrics.md`, and the
//! docs name nothing that does not exist.

use std::collections::BTreeSet;
use std::path::Path;

use prodprobe::config;
use prodprobe::exporter::{CORE_GAUGES, Exporter};

fn doc(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs")
            .join(name),
    )
    .unwrap()
}

/// Backticked tokens of a markdown file.
fn code_spans(md: &str) -> BTreeSet<String> {
    md.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The field list of the struct at `yaml` (which has `__probe__` where the struct goes), read
/// from the strict parser's own "unknown field" error.
fn fields(yaml: &str) -> Option<Vec<String>> {
    let err = config::parse(Path::new("probe.yaml"), yaml).err()?;
    let rest = err
        .message
        .strip_prefix("unknown field `__probe__`, expected ")?;
    let list = rest.strip_prefix("one of ").unwrap_or(rest);
    Some(
        list.split(", ")
            .map(|f| f.trim_matches('`').to_owned())
            .collect(),
    )
}

/// Every key path under the struct reached by `wrap("{__probe__: 1}")`.
fn walk(wrap: &dyn Fn(&str) -> String, prefix: &str, skip: &[&str], out: &mut Vec<String>) {
    let Some(list) = fields(&wrap("{__probe__: 1}")) else {
        panic!("no struct at {prefix:?}");
    };
    for f in list {
        let path = format!("{prefix}{f}");
        out.push(path.clone());
        if skip.contains(&f.as_str()) {
            continue;
        }
        // A nested struct, a list of structs or a map of structs.
        for shape in ["{}", "[{}]", "{k: {}}"] {
            let f2 = f.clone();
            let inner = move |s: &str| shape.replace("{}", s);
            let nested = |s: &str| wrap(&format!("{{{f2}: {}}}", inner(s)));
            if fields(&nested("{__probe__: 1}")).is_some() {
                walk(&nested, &format!("{path}."), &[], out);
                break;
            }
        }
    }
}

fn accepted_keys() -> (Vec<String>, Vec<String>) {
    let mut global = Vec::new();
    walk(
        &|s: &str| s.to_owned(),
        "",
        &["defaults", "profiles", "targets"],
        &mut global,
    );
    let mut layer = Vec::new();
    walk(&|s: &str| format!("{{defaults: {s}}}"), "", &[], &mut layer);
    (global, layer)
}

#[test]
fn every_accepted_config_key_is_documented() {
    let (global, layer) = accepted_keys();
    assert!(global.contains(&"server.listen".to_owned()), "{global:?}");
    assert!(
        layer.contains(&"health.latency_budget".to_owned()),
        "{layer:?}"
    );
    assert!(
        layer.contains(&"probes.fetch.interval".to_owned()),
        "{layer:?}"
    );
    let spans = code_spans(&doc("config.md"));
    let missing: Vec<&String> = global
        .iter()
        .chain(&layer)
        .filter(|k| !spans.contains(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/config.md does not list {missing:?}"
    );
}

#[test]
fn documented_config_keys_exist() {
    let (global, layer) = accepted_keys();
    let md = doc("config.md");
    // Keys are the first column of the tables.
    for line in md.lines().filter(|l| l.starts_with("| `")) {
        let key = line.split('`').nth(1).unwrap();
        assert!(
            global.iter().chain(&layer).any(|k| k == key),
            "docs/config.md documents unknown key {key}"
        );
    }
}

pub(crate) fn registered_metrics() -> BTreeSet<String> {
    let mut names: BTreeSet<String> = CORE_GAUGES
        .iter()
        .chain(probes::measure::all_gauges().iter())
        .map(|g| format!("probe_{}", g.name))
        .collect();
    names.extend(Exporter::new().self_metric_names().iter().cloned());
    names
}

#[test]
fn every_registered_metric_is_documented() {
    let spans = code_spans(&doc("metrics.md"));
    let missing: Vec<String> = registered_metrics()
        .into_iter()
        .filter(|m| !spans.contains(m))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/metrics.md does not list {missing:?}"
    );
}

#[test]
fn documented_metrics_exist() {
    let registered = registered_metrics();
    for span in code_spans(&doc("metrics.md")) {
        let looks_like_metric = (span.starts_with("probe_") || span.starts_with("prodprobe_"))
            && !span.ends_with('_')
            && span
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if looks_like_metric {
            assert!(
                registered.contains(&span),
                "docs/metrics.md documents unknown metric {span}"
            );
        }
    }
}

#[test]
fn the_example_config_is_valid() {
    let cx = prodprobe::plan::PlanContext {
        public_tls: std::sync::Arc::new(probes::tls::TlsClient::new(&[]).unwrap()),
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.yaml");
    let plan = prodprobe::plan::load(&path, &cx).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(
        plan.targets
            .iter()
            .any(|t| t.target.url.as_str().starts_with("http://127.0.0.1:9747/"))
    );
}

/// Every file in `config/profiles/` is a valid config defining the profile its file name
/// names, and a target that selects it plans (the shipped profiles are meant to be copied).
#[test]
fn the_shipped_profiles_are_valid_and_usable() {
    let cx = prodprobe::plan::PlanContext {
        public_tls: std::sync::Arc::new(probes::tls::TlsClient::new(&[]).unwrap()),
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/profiles");
    let mut seen = 0;
    let tmp = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        prodprobe::plan::load(&path, &cx).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let text = std::fs::read_to_string(&path).unwrap().replace(
            "targets: []",
            &format!("targets:\n  - name: t\n    url: https://shop.example/\n    profile: {name}"),
        );
        let used = tmp.path().join(format!("{name}.yaml"));
        std::fs::write(&used, text).unwrap();
        let plan = prodprobe::plan::load(&used, &cx).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(!plan.targets[0].jobs.is_empty(), "{name}");
        seen += 1;
    }
    assert!(seen >= 3, "{seen} profiles");
}

const CHECKS_MD_HEADER: &str = "# Checks and findings

Every check prodprobe runs, the probes whose evidence it reads, and every finding id it can
raise with its default severity, what it means for the service and what to change. The rules
themselves (conditions, thresholds, references) are the rulebook,
[`CHECKS.md`](rulebook/CHECKS.md), which these docs cite as `CHECKS.md §N`; `docs/adr/` records
where prodprobe reads it differently and why.
A check fails when a finding at or above its `fail_min_severity` (default `low`) is active; `info`
findings never fail a check. Each finding has the anchor `#check-finding` (e.g.
`#hsts-missing`): SARIF results and the `ProdprobeCriticalFinding` alert link there, and the
`check` text report and the status page show the same explanation.

This file is generated from the code's catalogue and `src/about.tsv` (the explanations):
`PRODPROBE_BLESS=1 cargo test --test integration docs::checks_md` rewrites it, and the same test
fails when it is out of date.
";

/// `docs/checks.md` as the catalogue says it must read.
fn checks_md() -> String {
    let mut out = String::from(CHECKS_MD_HEADER);
    for c in probes::checks::ALL {
        out.push_str(&format!("\n## `{}`\n\n{}\n\n", c.id, c.summary));
        let inputs: Vec<String> = c.inputs.iter().map(|k| format!("`{}`", k.name())).collect();
        out.push_str(&format!(
            "Reads the {} probe{}",
            inputs.join(", "),
            if inputs.len() > 1 { "s" } else { "" }
        ));
        out.push_str(if c.opt_in {
            "; opt-in: runs only when listed in `checks`.\n\n"
        } else {
            ".\n\n"
        });
        out.push_str("| finding | severity | what it means, what to do |\n|---|---|---|\n");
        for f in c.findings {
            out.push_str(&format!(
                "| <a id=\"{anchor}\"></a>`{id}` | {} | {} |\n",
                f.severity.as_str(),
                prodprobe::about::about(c.id, f.id).unwrap_or(""),
                anchor = prodprobe::about::anchor(c.id, f.id),
                id = f.id
            ));
        }
    }
    out
}

/// Every finding of every check has its explanation, and the table explains nothing else: an
/// alert or a SARIF result always links to a line that says what to do.
#[test]
fn every_finding_says_what_it_means_and_what_to_do() {
    let mut want = Vec::new();
    for c in probes::checks::ALL {
        for f in c.findings {
            want.push((c.id, f.id));
            let text = prodprobe::about::about(c.id, f.id)
                .unwrap_or_else(|| panic!("src/about.tsv lacks {}/{}", c.id, f.id));
            assert!(
                (40..=300).contains(&text.chars().count())
                    && !text.contains('|')
                    && text.ends_with('.')
                    && text == text.trim(),
                "{}/{}: {text:?}",
                c.id,
                f.id
            );
        }
    }
    let got: Vec<(&str, &str)> = prodprobe::about::entries().collect();
    assert_eq!(
        got, want,
        "src/about.tsv: one line per finding, in catalogue order"
    );
}

/// `prodprobe explain` names each check's rulebook section from a table in the code: it is
/// the rulebook's own numbering, for every check.
#[test]
fn explain_names_each_checks_rulebook_section() {
    let rulebook = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rulebook/CHECKS.md"),
    )
    .unwrap();
    let headings: Vec<(String, String)> = rulebook
        .lines()
        .filter_map(|l| {
            let (number, title) = l.strip_prefix("## ")?.split_once(". ")?;
            let check = title.strip_prefix('`')?.split('`').next()?;
            Some((check.to_owned(), number.to_owned()))
        })
        .collect();
    let table: Vec<(String, String)> = prodprobe::about::SECTIONS
        .iter()
        .map(|(c, n)| ((*c).to_owned(), (*n).to_owned()))
        .collect();
    assert_eq!(table, headings);
    let checks: Vec<&str> = probes::checks::ALL.iter().map(|c| c.id).collect();
    let mut named: Vec<&str> = prodprobe::about::SECTIONS.iter().map(|(c, _)| *c).collect();
    named.sort_unstable();
    let mut all = checks.clone();
    all.sort_unstable();
    assert_eq!(named, all);
}

#[test]
fn checks_md_lists_every_check_and_finding() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/checks.md");
    let want = checks_md();
    if std::env::var_os("PRODPROBE_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let got = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        got == want,
        "docs/checks.md is out of date: run PRODPROBE_BLESS=1 cargo test --test integration docs::checks_md"
    );
}

/// Every `CHECKS.md §N` citation in the docs, the shipped config and the code (error messages
/// among them) names a section that the shipped rulebook, `docs/rulebook/CHECKS.md`, has.
#[test]
fn every_cited_rulebook_section_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rulebook = std::fs::read_to_string(root.join("docs/rulebook/CHECKS.md")).unwrap();
    let sections: BTreeSet<String> = rulebook
        .lines()
        .filter_map(|l| l.strip_prefix("## ").or_else(|| l.strip_prefix("### ")))
        .filter_map(|h| h.split_whitespace().next())
        .map(|n| n.trim_end_matches('.').to_owned())
        .collect();
    assert!(
        sections.contains("0.5") && sections.contains("16"),
        "{sections:?}"
    );
    fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files(&p, out);
            } else if matches!(
                p.extension().and_then(|x| x.to_str()),
                Some("md" | "rs" | "yml" | "yaml" | "json")
            ) {
                out.push(p);
            }
        }
    }
    let mut all = vec![root.join("README.md")];
    for d in ["docs", "config", "src", "probes/src"] {
        files(&root.join(d), &mut all);
    }
    let mut cited = 0;
    for path in &all {
        let text = std::fs::read_to_string(path).unwrap();
        for (i, _) in text.match_indices("CHECKS.md §") {
            let rest = &text[i + "CHECKS.md §".len()..];
            let n: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let n = n.trim_end_matches('.');
            if n.is_empty() {
                // `CHECKS.md §N`, the README's description of the citation form.
                continue;
            }
            assert!(
                sections.contains(n),
                "{} cites CHECKS.md §{n}, which the rulebook does not have",
                path.display()
            );
            cited += 1;
        }
    }
    assert!(cited > 100, "{cited} citations found");
}
