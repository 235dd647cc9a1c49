//! Evidence gauges: the facts a probe or check exports, declared beside the rule that makes them.
//!
//! Names here omit the `probe_` prefix that the exporter adds to every per-target series
//! (CHECKS.md §0.4). See `docs/adr/0001-metric-names-beside-their-rules.md` for why the
//! declarations live in this crate and not in the exporter.

/// A gauge the library can report, declared once as a `static`.
#[derive(Debug, PartialEq, Eq)]
pub struct GaugeDef {
    /// Metric name without the `probe_` prefix, e.g. `hsts_max_age_seconds`.
    pub name: &'static str,
    /// HELP text.
    pub help: &'static str,
    /// Extra label names, beyond `target`, the target's labels and `probe`/`check`.
    pub labels: &'static [&'static str],
}

/// Label values are bounded: at most this many characters (CHECKS.md §0.4), so at most four
/// times as many bytes.
pub const LABEL_VALUE_MAX_CHARS: usize = 64;

/// One sample of a [`GaugeDef`].
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The gauge.
    pub gauge: &'static GaugeDef,
    /// Values for `gauge.labels`, in order, each at most [`LABEL_VALUE_MAX_CHARS`].
    pub labels: Vec<String>,
    /// The value.
    pub value: f64,
}

impl Measurement {
    /// A sample of an unlabelled gauge.
    pub fn new(gauge: &'static GaugeDef, value: f64) -> Self {
        debug_assert!(gauge.labels.is_empty(), "{} needs labels", gauge.name);
        Measurement {
            gauge,
            labels: Vec::new(),
            value,
        }
    }

    /// A sample of a labelled gauge; values are truncated to [`LABEL_VALUE_MAX_CHARS`].
    pub fn labelled<I, S>(gauge: &'static GaugeDef, labels: I, value: f64) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let labels: Vec<String> = labels.into_iter().map(|l| bound_label(l.into())).collect();
        debug_assert_eq!(labels.len(), gauge.labels.len(), "{}", gauge.name);
        Measurement {
            gauge,
            labels,
            value,
        }
    }

    /// A 0/1 sample.
    pub fn flag(gauge: &'static GaugeDef, on: bool) -> Self {
        Self::new(gauge, if on { 1.0 } else { 0.0 })
    }
}

/// Truncates a label value to [`LABEL_VALUE_MAX_CHARS`] characters.
pub fn bound_label(mut value: String) -> String {
    if let Some((cut, _)) = value.char_indices().nth(LABEL_VALUE_MAX_CHARS) {
        value.truncate(cut);
    }
    value
}

/// Every gauge the library can produce: probe gauges, then check gauges. The exporter
/// pre-declares these and the docs test compares them with `docs/metrics.md`.
pub fn all_gauges() -> Vec<&'static GaugeDef> {
    let mut all: Vec<&'static GaugeDef> = Vec::new();
    for kind in crate::probe::ProbeKind::ALL {
        all.extend_from_slice(kind.gauges());
    }
    for check in crate::checks::ALL {
        all.extend_from_slice(check.gauges);
    }
    all.sort_by_key(|g| g.name);
    all.dedup_by_key(|g| g.name);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauge_names_are_unique_and_prometheus_safe() {
        let all = all_gauges();
        let re = regex::Regex::new("^[a-z][a-z0-9_]*$").unwrap();
        for g in &all {
            assert!(re.is_match(g.name), "{}", g.name);
            assert!(!g.help.is_empty(), "{} has no help", g.name);
            // promtool: only counters may end in _total; _count/_sum/_bucket are reserved.
            for bad in ["_total", "_count", "_sum", "_bucket"] {
                assert!(!g.name.ends_with(bad), "{} ends with {bad}", g.name);
            }
        }
    }

    #[test]
    fn long_label_values_are_bounded_in_characters() {
        let v = bound_label("x".repeat(100));
        assert_eq!(v.len(), LABEL_VALUE_MAX_CHARS);
        let v = bound_label("é".repeat(100));
        assert_eq!(v.chars().count(), LABEL_VALUE_MAX_CHARS);
        assert_eq!(bound_label("short".into()), "short");
    }
}
