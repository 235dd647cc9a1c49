//! What `serve` remembers across restarts (`scheduler.state_file`): when each target's
//! rate-limit burst last ran and the verdict it produced, and until when each target is in
//! backoff.
//!
//! Without it a daemon that restarts (a deploy, a crash loop) would fire every opted-in burst
//! again as soon as health passes, and would forget a server's `Retry-After`: the tool would
//! become the load generator ARCHITECTURE.md's Safety section forbids. The file is small JSON,
//! rewritten atomically (temporary file + rename) only when something changed; an unreadable
//! or corrupt file is reported and replaced, never a reason to refuse to start.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use probes::checks::CheckDef;
use probes::measure::Measurement;
use probes::verdict::{Finding, Severity, Status, Verdict};
use serde::{Deserialize, Serialize};

/// The file is read up to this size; anything longer is not ours.
const MAX_STATE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Persisted {
    /// Format version.
    version: u32,
    /// Target name → Unix seconds of its last rate-limit burst.
    #[serde(default)]
    rate_limit_last_run: BTreeMap<String, u64>,
    /// Target name → Unix seconds at which its backoff ends.
    #[serde(default)]
    backoff_until: BTreeMap<String, u64>,
    /// Target name → the verdict of its last rate-limit burst, shown until the next one.
    #[serde(default)]
    rate_limit_verdicts: BTreeMap<String, StoredVerdict>,
}

/// A verdict as the state file keeps it: ids and gauge names, rebuilt against the catalogue
/// when read (an id the catalogue no longer has drops the whole verdict).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StoredVerdict {
    status: String,
    reason: Option<String>,
    /// (finding id, severity, evidence).
    findings: Vec<(String, String, String)>,
    /// (gauge name, label values, value).
    measurements: Vec<(String, Vec<String>, f64)>,
}

impl StoredVerdict {
    /// What to keep of `v`.
    pub fn of(v: &Verdict) -> Self {
        StoredVerdict {
            status: v.status.as_str().to_owned(),
            reason: v.reason.map(str::to_owned),
            findings: v
                .findings
                .iter()
                .map(|f| {
                    (
                        f.id.to_owned(),
                        f.severity.as_str().to_owned(),
                        f.evidence.clone(),
                    )
                })
                .collect(),
            measurements: v
                .measurements
                .iter()
                .map(|m| (m.gauge.name.to_owned(), m.labels.clone(), m.value))
                .collect(),
        }
    }

    /// The verdict of check `def`, or `None` when something in the file is not (or no longer)
    /// part of its catalogue.
    pub fn verdict(&self, def: &'static CheckDef) -> Option<Verdict> {
        let status = [Status::Pass, Status::Fail, Status::Error, Status::Skipped]
            .into_iter()
            .find(|s| s.as_str() == self.status)?;
        // Reasons are low-cardinality `&'static str`s: only those the catalogue's verdicts
        // can carry are restored.
        let reason = match &self.reason {
            None => None,
            Some(r) => Some(*RESTORABLE_REASONS.iter().find(|k| **k == r.as_str())?),
        };
        let mut findings = Vec::new();
        for (id, severity, evidence) in &self.findings {
            let fd = def.findings.iter().find(|f| f.id == id.as_str())?;
            let mut f = Finding::new(fd, evidence.clone());
            f.severity = Severity::from_name(severity)?;
            findings.push(f);
        }
        let mut measurements = Vec::new();
        for (name, labels, value) in &self.measurements {
            let gauge = def.gauges.iter().find(|g| g.name == name.as_str())?;
            if labels.len() != gauge.labels.len() {
                return None;
            }
            measurements.push(Measurement {
                gauge,
                labels: labels.clone(),
                value: *value,
            });
        }
        Some(Verdict {
            check: def.id,
            status,
            reason,
            findings,
            measurements,
            memo: None,
        })
    }
}

/// Reasons a rate_limit verdict can carry (CHECKS.md §12 and the active probes' stops).
const RESTORABLE_REASONS: &[&str] = &[
    "health_failing",
    "backoff",
    "rate_limited",
    "budget_exhausted",
    "unreachable",
    "aborted_server_error",
    "no_response",
    "invalid_cert",
];

/// The state file of one `serve` process.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    data: Mutex<Persisted>,
}

impl Default for Persisted {
    fn default() -> Self {
        Persisted {
            version: 1,
            rate_limit_last_run: BTreeMap::new(),
            backoff_until: BTreeMap::new(),
            rate_limit_verdicts: BTreeMap::new(),
        }
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `None` for a value no clock can hold (a corrupt or hand-edited file).
fn from_unix(s: u64) -> Option<SystemTime> {
    UNIX_EPOCH.checked_add(Duration::from_secs(s))
}

impl StateFile {
    /// Opens `path`: a missing file is an empty state; an unreadable or corrupt one is logged
    /// and replaced at the next write.
    pub fn open(path: &Path) -> Self {
        let data = match read(path) {
            Ok(Some(d)) => d,
            Ok(None) => Persisted::default(),
            Err(e) => {
                tracing::warn!(
                    path = %path.display(),
                    error = %e,
                    "ignoring the unreadable state file; it is rewritten at the next burst or backoff"
                );
                Persisted::default()
            }
        };
        StateFile {
            path: path.to_owned(),
            data: Mutex::new(data),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Persisted> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When `target`'s last rate-limit burst started.
    pub fn rate_limit_last_run(&self, target: &str) -> Option<SystemTime> {
        self.lock()
            .rate_limit_last_run
            .get(target)
            .and_then(|s| from_unix(*s))
    }

    /// When `target`'s backoff ends, if it was in backoff.
    pub fn backoff_until(&self, target: &str) -> Option<SystemTime> {
        self.lock()
            .backoff_until
            .get(target)
            .and_then(|s| from_unix(*s))
    }

    /// Records a rate-limit burst of `target` that started at `at`.
    pub fn record_rate_limit_run(&self, target: &str, at: SystemTime) {
        let mut d = self.lock();
        if d.rate_limit_last_run.insert(target.to_owned(), unix(at)) != Some(unix(at)) {
            self.write(&d);
        }
    }

    /// The verdict of `target`'s last rate-limit burst, as stored.
    pub fn rate_limit_verdict(&self, target: &str) -> Option<StoredVerdict> {
        self.lock().rate_limit_verdicts.get(target).cloned()
    }

    /// Records the verdict of `target`'s latest rate-limit burst.
    pub fn record_rate_limit_verdict(&self, target: &str, v: &Verdict) {
        let mut d = self.lock();
        let stored = StoredVerdict::of(v);
        if d.rate_limit_verdicts.get(target) != Some(&stored) {
            d.rate_limit_verdicts.insert(target.to_owned(), stored);
            self.write(&d);
        }
    }

    /// Records that `target` is in backoff until `until` (kept only if later than what is
    /// stored).
    pub fn record_backoff(&self, target: &str, until: SystemTime) {
        let mut d = self.lock();
        let s = unix(until);
        if d.backoff_until.get(target).is_none_or(|old| *old < s) {
            d.backoff_until.insert(target.to_owned(), s);
            self.write(&d);
        }
    }

    /// Forgets targets no longer configured and backoffs that ended, so the file stays small.
    pub fn retain(&self, targets: &[&str], now: SystemTime) {
        let mut d = self.lock();
        let before = (
            d.rate_limit_last_run.len(),
            d.backoff_until.len(),
            d.rate_limit_verdicts.len(),
        );
        d.rate_limit_last_run
            .retain(|t, _| targets.contains(&t.as_str()));
        d.rate_limit_verdicts
            .retain(|t, _| targets.contains(&t.as_str()));
        let now = unix(now);
        d.backoff_until
            .retain(|t, until| targets.contains(&t.as_str()) && *until > now);
        if (
            d.rate_limit_last_run.len(),
            d.backoff_until.len(),
            d.rate_limit_verdicts.len(),
        ) != before
        {
            self.write(&d);
        }
    }

    fn write(&self, d: &Persisted) {
        let result = serde_json::to_vec_pretty(d)
            .map_err(std::io::Error::other)
            .and_then(|bytes| {
                let tmp = self.path.with_extension("tmp");
                std::fs::write(&tmp, bytes)?;
                std::fs::rename(&tmp, &self.path)
            });
        if let Err(e) = result {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot write the state file");
        }
    }
}

fn read(path: &Path) -> std::io::Result<Option<Persisted>> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    f.take(MAX_STATE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_STATE_BYTES {
        return Err(std::io::Error::other("larger than 16 MiB"));
    }
    let d: Persisted = serde_json::from_slice(&bytes).map_err(std::io::Error::other)?;
    if d.version != 1 {
        return Err(std::io::Error::other(format!(
            "unknown version {}",
            d.version
        )));
    }
    Ok(Some(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_a_reopen_and_keeps_the_later_backoff() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        {
            let s = StateFile::open(&path);
            assert_eq!(s.rate_limit_last_run("shop"), None);
            s.record_rate_limit_run("shop", t0);
            s.record_backoff("shop", t0 + Duration::from_secs(600));
            s.record_backoff("shop", t0 + Duration::from_secs(60));
        }
        let s = StateFile::open(&path);
        assert_eq!(s.rate_limit_last_run("shop"), Some(t0));
        assert_eq!(s.backoff_until("shop"), Some(t0 + Duration::from_secs(600)));
        s.retain(&["shop"], t0 + Duration::from_secs(601));
        assert_eq!(s.backoff_until("shop"), None, "an ended backoff is dropped");
        s.retain(&[], t0);
        assert_eq!(StateFile::open(&path).rate_limit_last_run("shop"), None);
    }

    #[test]
    fn a_stored_verdict_is_rebuilt_against_the_catalogue_or_dropped() {
        let def = probes::checks::by_id("rate_limit").unwrap();
        let stored = StoredVerdict {
            status: "fail".into(),
            reason: None,
            findings: vec![(
                "no_rate_limit_observed".into(),
                "medium".into(),
                "20 requests, no 429".into(),
            )],
            measurements: vec![("ratelimit_requests_sent".into(), vec![], 20.0)],
        };
        let v = stored.verdict(def).unwrap();
        assert_eq!((v.check, v.status), ("rate_limit", Status::Fail));
        assert_eq!(v.findings[0].id, "no_rate_limit_observed");
        assert_eq!(v.measurements[0].value, 20.0);
        assert_eq!(StoredVerdict::of(&v), stored);
        // Anything the catalogue does not know drops the verdict rather than inventing one.
        for broken in [
            StoredVerdict {
                status: "maybe".into(),
                ..stored.clone()
            },
            StoredVerdict {
                findings: vec![("gone".into(), "low".into(), String::new())],
                ..stored.clone()
            },
            StoredVerdict {
                measurements: vec![("ratelimit_requests_sent".into(), vec!["x".into()], 1.0)],
                ..stored.clone()
            },
            StoredVerdict {
                reason: Some("made_up".into()),
                ..stored.clone()
            },
        ] {
            assert!(broken.verdict(def).is_none(), "{broken:?}");
        }
    }

    #[test]
    fn times_no_clock_can_hold_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(
            &path,
            br#"{"version":1,"rate_limit_last_run":{"shop":18446744073709551615},"backoff_until":{"shop":18446744073709551615}}"#,
        )
        .unwrap();
        let s = StateFile::open(&path);
        assert_eq!(s.rate_limit_last_run("shop"), None);
        assert_eq!(s.backoff_until("shop"), None);
    }

    #[test]
    fn a_corrupt_file_is_an_empty_state_and_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, b"{not json").unwrap();
        let s = StateFile::open(&path);
        assert_eq!(s.rate_limit_last_run("shop"), None);
        s.record_rate_limit_run("shop", UNIX_EPOCH + Duration::from_secs(5));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"shop\": 5"), "{text}");
    }
}
