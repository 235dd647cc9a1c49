//! `x_content_type_options` (CHECKS.md §5): Fetch's "determine nosniff" on the final response.

use super::header_list::{HeaderList, get_decode_split};
use super::{CheckDef, CheckInput, Evaluation};
use crate::measure::{GaugeDef, Measurement};
use crate::probe::ProbeKind;
use crate::verdict::{Finding, FindingDef, Judgement, Severity};

const MISSING: FindingDef = FindingDef::new("missing", Severity::Low);
const INVALID: FindingDef = FindingDef::new("invalid", Severity::Low);

static NOSNIFF: GaugeDef = GaugeDef {
    name: "xcto_nosniff",
    help: "1 if the final response carries X-Content-Type-Options: nosniff (Fetch determine nosniff)",
    labels: &[],
};
static MISSING_RESPONSES: GaugeDef = GaugeDef {
    name: "xcto_missing_responses",
    help: "Other 2xx responses of the cycle without X-Content-Type-Options: nosniff",
    labels: &[],
};

/// The check.
pub static CHECK: CheckDef = CheckDef {
    id: "x_content_type_options",
    summary: "the final response carries X-Content-Type-Options: nosniff",
    inputs: &[ProbeKind::Fetch],
    findings: &[MISSING, INVALID],
    gauges: &[&NOSNIFF, &MISSING_RESPONSES],
    opt_in: false,
    scans_cycle: true,
    also_reads: &[],
    evaluate,
};

/// Fetch "determine nosniff": `Some(true)` when `values[0]` is `nosniff` (ASCII
/// case-insensitive), `Some(false)` when present otherwise, `None` when absent.
pub fn nosniff(list: &HeaderList) -> Option<bool> {
    match list {
        HeaderList::Absent => None,
        HeaderList::Invalid(_) => Some(false),
        HeaderList::Values(v) => Some(v.first().is_some_and(|f| f.eq_ignore_ascii_case("nosniff"))),
    }
}

fn evaluate(input: &CheckInput<'_>) -> Evaluation {
    let (_, e) = match input.judged_response() {
        Ok(r) => r,
        Err(j) => return Evaluation::bare(j),
    };
    let verdict = nosniff(&get_decode_split(e, "x-content-type-options"));
    let mut findings = Vec::new();
    match verdict {
        None => findings.push(Finding::new(
            &MISSING,
            format!("no X-Content-Type-Options on GET {} → {}", e.url, e.status),
        )),
        Some(false) => findings.push(Finding::new(
            &INVALID,
            format!(
                "X-Content-Type-Options: {} (first value must be nosniff)",
                e.combined("x-content-type-options").unwrap_or_default()
            ),
        )),
        Some(true) => {}
    }
    let others = input
        .evidence
        .responses()
        .filter(|r| !std::ptr::eq(*r, e))
        .filter(|r| (200..300).contains(&r.status))
        .filter(|r| !r.nosniff())
        .count();
    Evaluation::new(
        Judgement::Evaluated(findings),
        vec![
            Measurement::flag(&NOSNIFF, verdict == Some(true)),
            Measurement::new(&MISSING_RESPONSES, others as f64),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::header_list::split;

    fn v(s: &str) -> Option<bool> {
        nosniff(&HeaderList::Values(split(s)))
    }

    #[test]
    fn determine_nosniff() {
        assert_eq!(v("nosniff"), Some(true));
        assert_eq!(v("NoSniff"), Some(true));
        assert_eq!(v("nosniff, nosniff"), Some(true));
        assert_eq!(v("nosniff, foo"), Some(true));
        assert_eq!(v("foo, nosniff"), Some(false));
        assert_eq!(v("\"nosniff\""), Some(false));
        assert_eq!(v("nosniff;"), Some(false));
        assert_eq!(v(""), Some(false));
        assert_eq!(nosniff(&HeaderList::Absent), None);
    }
}
