//! Keeps configured secrets out of findings and labels even when a target echoes them back.
//!
//! Credentials are sent only where configured (ARCHITECTURE.md, Safety), but a server may
//! reflect a request header into a response header, an error page or a banner: the evidence
//! and `*_info` label values built from that response would then carry the secret into
//! reports, `/api/v1/status` and Prometheus. Every verdict is passed through [`redact`] with the
//! target's secrets before anyone sees it.

use crate::evidence::{Credential, latin1};

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Parts shorter than this are not secrets on their own (`Bearer`, `Basic`).
const MIN_PART: usize = 8;

/// A truncated label ending in at least this much of a secret is cut there.
const MIN_PREFIX: usize = 4;

/// The strings to hide for these credentials: each whole value (of 4 bytes or more: hiding a
/// shorter one would garble every evidence string), and each whitespace-separated part of at
/// least 8 bytes (the token after `Bearer`).
pub fn needles(credentials: &[Credential]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in credentials {
        let value = latin1(c.value.as_bytes());
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        for part in std::iter::once(value).chain(value.split_ascii_whitespace()) {
            let long_enough = part.len() >= MIN_PART || (part == value && part.len() >= MIN_PREFIX);
            if long_enough && !out.iter().any(|n| n == part) {
                out.push(part.to_owned());
            }
        }
    }
    // Longest first, so a whole value is replaced before its parts.
    out.sort_by_key(|n| std::cmp::Reverse(n.len()));
    out
}

/// `text` with every needle replaced by [`REDACTED`]; a text cut short with `…` that ends in
/// the beginning of a needle loses that beginning too.
pub fn redact(text: &str, needles: &[String]) -> Option<String> {
    let mut out: Option<String> = None;
    for n in needles {
        let current = out.as_deref().unwrap_or(text);
        if current.contains(n.as_str()) {
            out = Some(current.replace(n.as_str(), REDACTED));
        }
    }
    let current = out.as_deref().unwrap_or(text);
    if let Some(head) = current.strip_suffix('…') {
        for n in needles {
            let longest = (MIN_PREFIX..n.len())
                .rev()
                .filter(|k| n.is_char_boundary(*k))
                .find(|k| head.ends_with(&n[..*k]));
            if let Some(k) = longest {
                out = Some(format!("{}{REDACTED}…", &head[..head.len() - k]));
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderName, HeaderValue};

    fn cred(v: &str) -> Credential {
        Credential {
            name: HeaderName::from_static("authorization"),
            value: HeaderValue::from_str(v).unwrap(),
        }
    }

    #[test]
    fn whole_values_and_their_token_are_hidden() {
        let n = needles(&[cred("Bearer ENVSECRETxk7"), cred("k")]);
        assert_eq!(n, ["Bearer ENVSECRETxk7", "ENVSECRETxk7"]);
        assert_eq!(
            redact("nginx Bearer ENVSECRETxk7", &n).unwrap(),
            "nginx [redacted]"
        );
        assert_eq!(
            redact("token=ENVSECRETxk7; path=/", &n).unwrap(),
            "token=[redacted]; path=/"
        );
        assert_eq!(redact("nothing here", &n), None);
        // A label cut at 64 bytes in the middle of the token.
        assert_eq!(
            redact("Server: nginx ENVSEC…", &n).unwrap(),
            "Server: nginx [redacted]…"
        );
    }
}
