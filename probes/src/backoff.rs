//! The backoff rule (CHECKS.md §0.5) and `Retry-After` (RFC 9110 §10.2.3).
//!
//! Any 429, or 503 with `Retry-After`, in any response of any probe run puts the target in
//! backoff for min(Retry-After, 1 h), or 60 s when the response carries no valid
//! `Retry-After`. The scheduler applies it; this module only reads responses.

use std::time::{Duration, SystemTime};

use crate::evidence::{Exchange, latin1};
use crate::safety::{BACKOFF_DEFAULT, BACKOFF_MAX};

/// A parsed `Retry-After` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// `delay-seconds` (`1*DIGIT`, saturating).
    Seconds(u64),
    /// `HTTP-date` (IMF-fixdate, or the obsolete RFC 850 and asctime forms).
    Date(SystemTime),
    /// Present, but neither form.
    Invalid,
}

/// Parses one `Retry-After` value.
pub fn parse_retry_after(value: &str) -> RetryAfter {
    let v = value.trim_matches([' ', '\t']);
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        let secs = v.bytes().fold(0u64, |acc, b| {
            acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
        });
        return RetryAfter::Seconds(secs);
    }
    match httpdate::parse_http_date(v) {
        Ok(t) => RetryAfter::Date(t),
        Err(_) => RetryAfter::Invalid,
    }
}

/// The response's `Retry-After`, if present: its combined value (CHECKS.md §0.2), so two field
/// lines (`5` and `10`) are neither form, whatever their order, as one line `5, 10` is.
pub fn retry_after(e: &Exchange) -> Option<RetryAfter> {
    Some(parse_retry_after(&e.combined("retry-after")?))
}

/// The response's `Date`, if valid.
pub fn response_date(e: &Exchange) -> Option<SystemTime> {
    let line = e.headers.get(http::header::DATE)?;
    httpdate::parse_http_date(latin1(line.as_bytes()).trim()).ok()
}

/// `Retry-After` in seconds; an HTTP-date is converted against the response's `Date`, or
/// `fallback_now` without one. A date in the past is 0.
pub fn retry_after_seconds(
    e: &Exchange,
    fallback_now: SystemTime,
) -> Option<Result<u64, RetryAfter>> {
    match retry_after(e)? {
        RetryAfter::Seconds(s) => Some(Ok(s)),
        RetryAfter::Date(t) => {
            let base = response_date(e).unwrap_or(fallback_now);
            Some(Ok(t.duration_since(base).map_or(0, |d| d.as_secs())))
        }
        RetryAfter::Invalid => Some(Err(RetryAfter::Invalid)),
    }
}

/// Whether this response puts the target in backoff: a 429, or a 503 with `Retry-After`.
pub fn triggers(e: &Exchange) -> bool {
    e.status == 429 || (e.status == 503 && e.headers.contains_key(http::header::RETRY_AFTER))
}

/// How long `e` puts the target in backoff, if at all.
pub fn duration_for(e: &Exchange, now: SystemTime) -> Option<Duration> {
    if !triggers(e) {
        return None;
    }
    Some(match retry_after_seconds(e, now) {
        Some(Ok(s)) => Duration::from_secs(s).min(BACKOFF_MAX),
        _ => BACKOFF_DEFAULT,
    })
}

/// The longest backoff any of `responses` asks for.
pub fn backoff_for<'a>(
    responses: impl IntoIterator<Item = &'a Exchange>,
    now: SystemTime,
) -> Option<Duration> {
    responses
        .into_iter()
        .filter_map(|e| duration_for(e, now))
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("120"), RetryAfter::Seconds(120));
        assert_eq!(parse_retry_after(" 5 "), RetryAfter::Seconds(5));
        assert_eq!(
            parse_retry_after("99999999999999999999999"),
            RetryAfter::Seconds(u64::MAX)
        );
        let imf = parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT");
        let rfc850 = parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT");
        let asctime = parse_retry_after("Sun Nov  6 08:49:37 1994");
        assert!(matches!(imf, RetryAfter::Date(_)));
        assert_eq!(imf, rfc850);
        assert_eq!(imf, asctime);
        for bad in ["", "-1", "1.5", "soon", "30s", "Sun, 06 Nov 1994"] {
            assert_eq!(parse_retry_after(bad), RetryAfter::Invalid, "{bad:?}");
        }
    }

    /// Two `Retry-After` lines are read as their combined value (`5, 10`), which is neither
    /// form, in either order: no line wins by coming first.
    #[test]
    fn several_retry_after_lines_are_invalid_in_any_order() {
        for lines in [["5", "10"], ["10", "abc"], ["abc", "10"]] {
            let e = crate::checks::test_support::exchange(
                &[("retry-after", lines[0]), ("retry-after", lines[1])],
                "",
            );
            assert_eq!(retry_after(&e), Some(RetryAfter::Invalid), "{lines:?}");
        }
        let one = crate::checks::test_support::exchange(
            &[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")],
            "",
        );
        assert!(matches!(retry_after(&one), Some(RetryAfter::Date(_))));
    }
}
