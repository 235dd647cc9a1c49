//! Rate-limit header fields (CHECKS.md §12): draft-ietf-httpapi-ratelimit-headers-10
//! (`RateLimit` / `RateLimit-Policy` as Structured Field Lists, RFC 9651), drafts -07/-08
//! (`RateLimit` as a Dictionary, `RateLimit-Policy: 5;w=60`), drafts ≤ -06
//! (`RateLimit-Limit/-Remaining/-Reset`) and the legacy `X-RateLimit-*` integers. A field is
//! malformed only when it parses as none of these styles.

use std::time::SystemTime;

use crate::backoff::response_date;
use crate::evidence::Exchange;

/// Which convention a response follows (the closed set of the `style` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// draft -10 (`RateLimit: "default";r=50;t=30`).
    Ietf,
    /// drafts -07/-08 (`RateLimit: limit=5, remaining=0, reset=60`).
    Draft7,
    /// `X-RateLimit-Limit/-Remaining/-Reset`.
    LegacyX,
    /// drafts ≤ -06 (`RateLimit-Limit/-Remaining/-Reset`).
    LegacyDraft,
}

impl Style {
    /// Every style, in label order.
    pub const ALL: [Style; 4] = [
        Style::Ietf,
        Style::Draft7,
        Style::LegacyX,
        Style::LegacyDraft,
    ];

    /// The `style` label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Style::Ietf => "ietf",
            Style::Draft7 => "draft7",
            Style::LegacyX => "legacy_x",
            Style::LegacyDraft => "legacy_draft",
        }
    }
}

/// How a reset was written (CHECKS.md §12: above 10^9 a Unix timestamp, else delta seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetForm {
    /// Seconds from the response (draft -10's `t`, drafts -07/-08's `reset`, and integer
    /// fields up to 10^9).
    Delta,
    /// A Unix timestamp, converted against the response's `Date`.
    Unix,
}

impl ResetForm {
    /// How evidence names it.
    pub const fn as_str(self) -> &'static str {
        match self {
            ResetForm::Delta => "delta seconds",
            ResetForm::Unix => "a Unix timestamp",
        }
    }
}

/// The rate-limit facts of one response.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields {
    /// Styles recognised.
    pub styles: Vec<Style>,
    /// Fields present that parse as no style (field name and value).
    pub malformed: Vec<String>,
    /// Quota of the `requests` policy with the shortest window (or the only quota advertised).
    pub quota: Option<u64>,
    /// That policy's window, seconds.
    pub window: Option<u64>,
    /// Remaining requests.
    pub remaining: Option<u64>,
    /// Seconds until the quota resets (a Unix-timestamp reset is converted against `Date`).
    pub reset: Option<u64>,
    /// How that reset was written, set with it.
    pub reset_form: Option<ResetForm>,
}

/// A bare item (RFC 9651 §3.3).
#[derive(Debug, Clone, PartialEq)]
enum Bare {
    Int(i64),
    Dec,
    Str(String),
    Token(String),
    Bytes,
    Bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Item {
    value: Bare,
    params: Vec<(String, Bare)>,
}

impl Item {
    fn int_param(&self, key: &str) -> Option<i64> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| match v {
                Bare::Int(i) => Some(*i),
                _ => None,
            })
    }

    /// Whether parameter `key` is an Integer of at least `min`, or absent when not
    /// `required` (CHECKS.md §12: `q`, `r`, `t` ≥ 0, `w` > 0).
    fn int_param_at_least(&self, key: &str, min: i64, required: bool) -> bool {
        match self.params.iter().find(|(k, _)| k == key) {
            Some((_, Bare::Int(v))) => *v >= min,
            Some(_) => false,
            None => !required,
        }
    }

    fn str_param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| match v {
                Bare::Str(s) | Bare::Token(s) => Some(s.as_str()),
                _ => None,
            })
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn key(&mut self) -> Option<String> {
        let start = self.i;
        match self.peek() {
            Some(c) if c.is_ascii_lowercase() || c == b'*' => self.i += 1,
            _ => return None,
        }
        while let Some(c) = self.peek() {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-.*".contains(&c) {
                self.i += 1;
            } else {
                break;
            }
        }
        Some(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn bare(&mut self) -> Option<Bare> {
        match self.peek()? {
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                if self.peek() == Some(b'-') {
                    self.i += 1;
                }
                let digits = self.i;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.i += 1;
                }
                if self.i == digits {
                    return None;
                }
                if self.peek() == Some(b'.') {
                    self.i += 1;
                    let frac = self.i;
                    while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        self.i += 1;
                    }
                    return (self.i > frac && self.i - frac <= 3 && frac - 1 - digits <= 12)
                        .then_some(Bare::Dec);
                }
                if self.i - digits > 15 {
                    return None;
                }
                std::str::from_utf8(&self.s[start..self.i])
                    .ok()?
                    .parse()
                    .ok()
                    .map(Bare::Int)
            }
            b'"' => {
                self.i += 1;
                let mut out = String::new();
                loop {
                    let c = self.peek()?;
                    self.i += 1;
                    match c {
                        b'\\' => {
                            let n = self.peek()?;
                            if n != b'"' && n != b'\\' {
                                return None;
                            }
                            out.push(n as char);
                            self.i += 1;
                        }
                        b'"' => return Some(Bare::Str(out)),
                        0x20..=0x7e => out.push(c as char),
                        _ => return None,
                    }
                }
            }
            b':' => {
                self.i += 1;
                while let Some(c) = self.peek() {
                    self.i += 1;
                    if c == b':' {
                        return Some(Bare::Bytes);
                    }
                    if !(c.is_ascii_alphanumeric() || b"+/=".contains(&c)) {
                        return None;
                    }
                }
                None
            }
            b'?' => {
                self.i += 1;
                match self.peek()? {
                    b'0' | b'1' => {
                        self.i += 1;
                        Some(Bare::Bool)
                    }
                    _ => None,
                }
            }
            c if c.is_ascii_alphabetic() || c == b'*' => {
                let start = self.i;
                self.i += 1;
                while let Some(c) = self.peek() {
                    if c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&c) {
                        self.i += 1;
                    } else {
                        break;
                    }
                }
                Some(Bare::Token(
                    String::from_utf8_lossy(&self.s[start..self.i]).into_owned(),
                ))
            }
            _ => None,
        }
    }

    fn params(&mut self) -> Option<Vec<(String, Bare)>> {
        let mut out = Vec::new();
        while self.peek() == Some(b';') {
            self.i += 1;
            while self.peek() == Some(b' ') {
                self.i += 1;
            }
            let k = self.key()?;
            let v = if self.peek() == Some(b'=') {
                self.i += 1;
                self.bare()?
            } else {
                Bare::Bool
            };
            out.push((k, v));
        }
        Some(out)
    }

    fn item(&mut self) -> Option<Item> {
        let value = self.bare()?;
        let params = self.params()?;
        Some(Item { value, params })
    }

    /// `member *( OWS "," OWS member )`, then the end.
    fn members<T>(&mut self, mut member: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        self.ows();
        let mut out = Vec::new();
        if self.peek().is_none() {
            return Some(out);
        }
        loop {
            out.push(member(self)?);
            self.ows();
            match self.peek() {
                None => return Some(out),
                Some(b',') => {
                    self.i += 1;
                    self.ows();
                    self.peek()?;
                }
                Some(_) => return None,
            }
        }
    }
}

fn parse_list(s: &str) -> Option<Vec<Item>> {
    Parser {
        s: s.as_bytes(),
        i: 0,
    }
    .members(Parser::item)
}

fn parse_dict(s: &str) -> Option<Vec<(String, Item)>> {
    Parser {
        s: s.as_bytes(),
        i: 0,
    }
    .members(|p| {
        let k = p.key()?;
        if p.peek() == Some(b'=') {
            p.i += 1;
            let item = p.item()?;
            Some((k, item))
        } else {
            let params = p.params()?;
            Some((
                k,
                Item {
                    value: Bare::Bool,
                    params,
                },
            ))
        }
    })
}

fn nonneg(v: i64) -> Option<u64> {
    u64::try_from(v).ok()
}

fn int_field(e: &Exchange, name: &str) -> Option<Option<i64>> {
    let v = e.combined(name)?;
    let first = v.split(',').next().unwrap_or("").trim();
    let first = first.split(';').next().unwrap_or("").trim();
    Some(first.parse::<i64>().ok())
}

/// A legacy reset field: an integer, or a Unix timestamp with a fraction (slowapi sends
/// `X-RateLimit-Reset: 1796307325.1008356`), whose whole seconds are kept.
fn reset_field(e: &Exchange, name: &str) -> Option<Option<i64>> {
    let v = int_field(e, name)?;
    if v.is_some() {
        return Some(v);
    }
    let raw = e.combined(name)?;
    let first = raw.split([',', ';']).next().unwrap_or("").trim();
    Some(match first.split_once('.') {
        Some((whole, frac))
            if !whole.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit()) =>
        {
            whole.parse::<i64>().ok()
        }
        _ => None,
    })
}

/// Reads the rate-limit fields of one response. `now` converts Unix-timestamp resets when
/// the response has no `Date`.
pub fn read(e: &Exchange, now: SystemTime) -> Fields {
    let mut f = Fields::default();
    let base = response_date(e)
        .unwrap_or(now)
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let policy = e.combined("ratelimit-policy");
    let limit = e.combined("ratelimit");

    // draft -10: Lists of named policies; a parameter out of its range makes the field
    // malformed.
    let ietf_policy = policy.as_deref().and_then(parse_list).filter(|items| {
        !items.is_empty()
            && items.iter().all(|i| {
                matches!(i.value, Bare::Str(_) | Bare::Token(_))
                    && i.int_param_at_least("q", 0, true)
                    && i.int_param_at_least("w", 1, false)
            })
    });
    let ietf_limit = limit.as_deref().and_then(parse_list).filter(|items| {
        !items.is_empty()
            && items.iter().all(|i| {
                matches!(i.value, Bare::Str(_) | Bare::Token(_))
                    && i.int_param_at_least("r", 0, true)
                    && i.int_param_at_least("t", 0, false)
            })
    });
    // drafts -07/-08: a Dictionary and integer policies.
    let d7_limit = limit.as_deref().and_then(parse_dict).filter(|d| {
        d.iter().any(|(k, _)| k == "limit" || k == "remaining")
            && d.iter().all(|(_, i)| matches!(i.value, Bare::Int(_)))
    });
    let d7_policy = policy
        .as_deref()
        .and_then(parse_list)
        .filter(|items| !items.is_empty() && items.iter().all(|i| matches!(i.value, Bare::Int(_))));

    if ietf_policy.is_some() || ietf_limit.is_some() {
        f.styles.push(Style::Ietf);
    }
    if d7_limit.is_some() || d7_policy.is_some() {
        f.styles.push(Style::Draft7);
    }
    if let Some(p) = &policy
        && ietf_policy.is_none()
        && d7_policy.is_none()
    {
        f.malformed.push(format!("RateLimit-Policy: {p}"));
    }
    if let Some(l) = &limit
        && ietf_limit.is_none()
        && d7_limit.is_none()
    {
        f.malformed.push(format!("RateLimit: {l}"));
    }

    if let Some(items) = &ietf_policy {
        let best = items
            .iter()
            .filter(|i| i.str_param("qu").is_none_or(|u| u == "requests"))
            .filter_map(|i| {
                Some((
                    nonneg(i.int_param("q")?)?,
                    i.int_param("w").and_then(nonneg),
                ))
            })
            .min_by_key(|(_, w)| w.unwrap_or(u64::MAX));
        if let Some((q, w)) = best {
            f.quota = Some(q);
            f.window = w;
        }
    }
    if let Some(items) = &ietf_limit
        && let Some(first) = items.first()
    {
        f.remaining = first.int_param("r").and_then(nonneg);
        f.reset = first.int_param("t").and_then(nonneg);
        f.reset_form = f.reset.map(|_| ResetForm::Delta);
    }
    if let Some(d) = &d7_limit {
        let get = |k: &str| {
            d.iter()
                .find(|(n, _)| n == k)
                .and_then(|(_, i)| match i.value {
                    Bare::Int(v) => nonneg(v),
                    _ => None,
                })
        };
        f.quota = f.quota.or(get("limit"));
        f.remaining = f.remaining.or(get("remaining"));
        if f.reset.is_none() {
            f.reset = get("reset");
            f.reset_form = f.reset.map(|_| ResetForm::Delta);
        }
    }
    if let Some(items) = &d7_policy
        && f.quota.is_none_or(|_| f.window.is_none())
        && let Some(first) = items.first()
        && let Bare::Int(q) = first.value
    {
        f.quota = nonneg(q).or(f.quota);
        f.window = first.int_param("w").and_then(nonneg);
    }

    // Integer fields: legacy X- and drafts ≤ -06.
    for (style, prefix) in [
        (Style::LegacyX, "x-ratelimit-"),
        (Style::LegacyDraft, "ratelimit-"),
    ] {
        let lim = int_field(e, &format!("{prefix}limit"));
        let rem = int_field(e, &format!("{prefix}remaining"));
        let rst = reset_field(e, &format!("{prefix}reset"));
        // Each integer field stands on its own: `X-RateLimit-Reset: soon` beside valid
        // Limit and Remaining fields keeps those two. These fields are not RateLimit or
        // RateLimit-Policy, so an unparsable one is ignored, never `ratelimit_header_malformed`.
        if ![lim, rem, rst].iter().any(|v| matches!(v, Some(Some(_)))) {
            continue;
        }
        f.styles.push(style);
        if let Some(Some(q)) = lim {
            f.quota = f.quota.or(nonneg(q));
            if style == Style::LegacyDraft && f.window.is_none() {
                // drafts ≤ -06 may carry `10, 10;w=1` quota policies.
                f.window = e
                    .combined("ratelimit-limit")
                    .and_then(|v| parse_list(&v))
                    .and_then(|items| items.iter().find_map(|i| i.int_param("w")))
                    .and_then(nonneg);
            }
        }
        if let Some(Some(r)) = rem {
            f.remaining = f.remaining.or(nonneg(r));
        }
        if let Some(Some(t)) = rst
            && let Some(t) = nonneg(t)
            && f.reset.is_none()
        {
            // > 10^9: a Unix timestamp, else delta seconds (CHECKS.md §12).
            let (delta, form) = if t > 1_000_000_000 {
                (t.saturating_sub(base), ResetForm::Unix)
            } else {
                (t, ResetForm::Delta)
            };
            f.reset = Some(delta);
            f.reset_form = Some(form);
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_fields_subset() {
        let l = parse_list(r#""permin";q=50;w=60, "perhr";q=1000;w=3600"#).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].int_param("w"), Some(3600));
        assert!(parse_list("limit=5, remaining=0").is_none());
        let d = parse_dict("limit=5, remaining=0, reset=60").unwrap();
        assert_eq!(d.len(), 3);
        assert!(parse_dict(r#""default";r=50"#).is_none());
        assert!(parse_list("5;w=60").is_some());
        assert!(parse_list("a,").is_none());
        assert!(parse_list("\"unterminated").is_none());
    }

    /// CHECKS.md §12: `q`, `r`, `t` are Integers ≥ 0, `w` an Integer > 0; a draft -10 field
    /// that breaks them is malformed and ignored, so it neither counts as a style nor sizes the
    /// burst.
    #[test]
    fn ietf_parameters_out_of_range_make_the_field_malformed() {
        // (RateLimit-Policy, RateLimit, malformed fields, quota); "" = field absent.
        let cases: &[(&str, &str, usize, Option<u64>)] = &[
            (r#""p";q=5;w=60"#, r#""p";r=0;t=0"#, 0, Some(5)),
            (r#""p";q=0"#, r#""p";r=3"#, 0, Some(0)),
            (r#""p";q=-1;w=60"#, r#""p";r=-3"#, 2, None),
            (r#""p";q=5;w=0"#, "", 1, None),
            (r#""p";q=5;w=-60"#, "", 1, None),
            (r#""p";q=5;w="60""#, "", 1, None),
            (r#""a";q=5;w=60, "b";q=-5;w=1"#, "", 1, None),
            ("", r#""p";r=3;t=-1"#, 1, None),
            ("", r#""p";r=1.5"#, 1, None),
        ];
        for (policy, limit, malformed, quota) in cases {
            let h: Vec<(&str, &str)> = [("RateLimit-Policy", *policy), ("RateLimit", *limit)]
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .collect();
            let e = crate::checks::test_support::exchange(&h, "");
            let f = read(&e, SystemTime::now());
            let case = format!("{policy} / {limit}: {f:?}");
            assert_eq!(f.malformed.len(), *malformed, "{case}");
            assert_eq!(f.styles.contains(&Style::Ietf), *malformed == 0, "{case}");
            assert_eq!(f.quota, *quota, "{case}");
            if *malformed > 0 {
                assert_eq!(
                    (f.window, f.remaining, f.reset),
                    (None, None, None),
                    "{case}"
                );
            }
        }
    }

    /// CHECKS.md §12: a reset above 10^9 is a Unix timestamp, else delta seconds; which one
    /// is recorded. draft -10's `t` and drafts -07/-08's `reset` are always delta seconds.
    #[test]
    fn the_reset_form_is_recorded() {
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_796_307_300);
        let cases: &[(&str, &str, u64, ResetForm)] = &[
            ("RateLimit", r#""p";r=1;t=30"#, 30, ResetForm::Delta),
            (
                "RateLimit",
                "limit=5, remaining=0, reset=60",
                60,
                ResetForm::Delta,
            ),
            ("X-RateLimit-Reset", "30", 30, ResetForm::Delta),
            (
                "RateLimit-Reset",
                "1000000000",
                1_000_000_000,
                ResetForm::Delta,
            ),
            ("X-RateLimit-Reset", "1796307360", 60, ResetForm::Unix),
            (
                "X-RateLimit-Reset",
                "1796307325.1008356",
                25,
                ResetForm::Unix,
            ),
        ];
        for (name, value, reset, form) in cases {
            let f = read(
                &crate::checks::test_support::exchange(&[(name, value)], ""),
                now,
            );
            assert_eq!(
                (f.reset, f.reset_form),
                (Some(*reset), Some(*form)),
                "{name}: {value}"
            );
        }
        let f = read(&crate::checks::test_support::exchange(&[], ""), now);
        assert_eq!((f.reset, f.reset_form), (None, None));
    }

    #[test]
    fn legacy_integer_fields_stand_on_their_own() {
        let e = crate::checks::test_support::exchange(
            &[
                ("X-RateLimit-Limit", "1000"),
                ("X-RateLimit-Remaining", "990"),
                ("X-RateLimit-Reset", "in a minute"),
            ],
            "",
        );
        let f = read(&e, SystemTime::now());
        assert_eq!(f.styles, [Style::LegacyX]);
        assert_eq!(
            (f.quota, f.remaining, f.reset),
            (Some(1000), Some(990), None)
        );
        // slowapi's fractional Unix timestamp keeps its whole seconds.
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_796_307_300);
        let e = crate::checks::test_support::exchange(
            &[("X-RateLimit-Reset", "1796307325.1008356")],
            "",
        );
        assert_eq!(read(&e, now).reset, Some(25));
        let e = crate::checks::test_support::exchange(&[("X-RateLimit-Reset", "1.2.3")], "");
        assert_eq!(read(&e, now).reset, None);
        assert!(f.malformed.is_empty(), "{:?}", f.malformed);
        // Nothing parses: no style, and still not `malformed` (not a RateLimit field).
        let e = crate::checks::test_support::exchange(&[("X-RateLimit-Limit", "lots")], "");
        let f = read(&e, SystemTime::now());
        assert!(f.styles.is_empty() && f.malformed.is_empty(), "{f:?}");
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A deterministic xorshift stream of short field values, control bytes and Latin-1 included.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let alphabet = b"0123456789-.;=,:\"?*abcqrtw \t\x7f\xe9\\(";
        for _ in 0..5000 {
            let mut v = String::new();
            for _ in 0..(x % 24) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.push(alphabet[(x % alphabet.len() as u64) as usize] as char);
            }
            let _ = parse_list(&v);
            let _ = parse_dict(&v);
        }
    }
}
