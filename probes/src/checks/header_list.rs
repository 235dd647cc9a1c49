//! Header values as browsers read them (CHECKS.md §0.2): the combined value of every field line,
//! decoded as Latin-1, bounded to 64 KiB, and Fetch's "get, decode, split" over it.
//!
//! Shared by csp, clickjacking, x_content_type_options, referrer_policy and server_disclosure.
//! Never used for `Set-Cookie`, whose lines are never combined.

use crate::evidence::{Exchange, latin1};

/// At most this many bytes of one header are parsed (CHECKS.md §0.2).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The first [`MAX_HEADER_BYTES`] of `bytes`.
pub fn bounded(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.len().min(MAX_HEADER_BYTES)]
}

/// Whether `s` holds a control character other than HTAB, which makes the value invalid for
/// its header (CHECKS.md §0.2).
pub fn has_ctl(s: &str) -> bool {
    s.chars().any(|c| (c < ' ' && c != '\t') || c == '\u{7f}')
}

/// A header's value list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderList {
    /// No field line.
    Absent,
    /// Present, but the combined value holds a control character (the value is shown).
    Invalid(String),
    /// Fetch's "get, decode, split" of the combined value (at least one value, maybe empty).
    Values(Vec<String>),
}

/// The combined value of `name` (field lines joined with `", "`), Latin-1, at most
/// [`MAX_HEADER_BYTES`] bytes of it.
pub fn combined(e: &Exchange, name: &str) -> Option<String> {
    let lines = e.field_lines(name);
    if lines.is_empty() {
        return None;
    }
    let mut raw: Vec<u8> = Vec::new();
    for (i, line) in lines.into_iter().enumerate() {
        if i > 0 {
            raw.extend_from_slice(b", ");
        }
        raw.extend_from_slice(line);
        if raw.len() >= MAX_HEADER_BYTES {
            break;
        }
    }
    Some(latin1(bounded(&raw)))
}

/// Fetch "get, decode, split" (`name` is case-insensitive).
pub fn get_decode_split(e: &Exchange, name: &str) -> HeaderList {
    match combined(e, name) {
        None => HeaderList::Absent,
        Some(v) if has_ctl(&v) => HeaderList::Invalid(v),
        Some(v) => HeaderList::Values(split(&v)),
    }
}

fn is_http_ws(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Fetch's "split" of a decoded value: on commas outside double-quoted strings, each value
/// trimmed of spaces and tabs. Quoted strings are kept as written, quotes included, so
/// `"nosniff"` stays distinct from `nosniff`. Always at least one value (maybe empty).
pub fn split(value: &str) -> Vec<String> {
    let chars: Vec<char> = value.chars().collect();
    let mut values = Vec::new();
    let mut pos = 0;
    let mut temp = String::new();
    loop {
        while pos < chars.len() && chars[pos] != '"' && chars[pos] != ',' {
            temp.push(chars[pos]);
            pos += 1;
        }
        if pos < chars.len() && chars[pos] == '"' {
            pos = quoted_string(&chars, pos, &mut temp);
            if pos < chars.len() {
                continue;
            }
        }
        values.push(temp.trim_matches(is_http_ws).to_owned());
        temp.clear();
        if pos >= chars.len() {
            return values;
        }
        // chars[pos] is ','.
        pos += 1;
    }
}

/// Fetch "collect an HTTP quoted string" with extract-value false: appends the string as
/// written (quotes and backslashes included) and returns the position after it.
fn quoted_string(chars: &[char], mut pos: usize, out: &mut String) -> usize {
    out.push(chars[pos]);
    pos += 1;
    loop {
        while pos < chars.len() && chars[pos] != '"' && chars[pos] != '\\' {
            out.push(chars[pos]);
            pos += 1;
        }
        if pos >= chars.len() {
            return pos;
        }
        let c = chars[pos];
        out.push(c);
        pos += 1;
        if c == '\\' {
            if pos >= chars.len() {
                return pos;
            }
            out.push(chars[pos]);
            pos += 1;
        } else {
            return pos;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_follows_fetch() {
        assert_eq!(split("nosniff"), ["nosniff"]);
        assert_eq!(split("nosniff, nosniff"), ["nosniff", "nosniff"]);
        assert_eq!(split(""), [""]);
        assert_eq!(split(" a ,, b "), ["a", "", "b"]);
        assert_eq!(split("\"a,b\", c"), ["\"a,b\"", "c"]);
        assert_eq!(split("x\"a\\\",b\"y, z"), ["x\"a\\\",b\"y", "z"]);
        // Unterminated quote swallows the rest.
        assert_eq!(split("\"a, b"), ["\"a, b"]);
        assert_eq!(split("a\\"), ["a\\"]);
        assert_eq!(split("\"a\\"), ["\"a\\"]);
    }

    #[test]
    fn control_characters_are_detected() {
        assert!(!has_ctl("a\tb"));
        assert!(has_ctl("a\u{1}b"));
        assert!(has_ctl("a\u{7f}"));
        assert!(!has_ctl("caf\u{e9}"));
    }
}
