//! The optional HSTS preload list (Chromium's `transport_security_state_static.json`).

use std::collections::HashMap;

use serde::Deserialize;

/// Hosts preloaded with `mode: force-https`, and whether each covers its subdomains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreloadList {
    entries: HashMap<String, bool>,
}

#[derive(Deserialize)]
struct File {
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    include_subdomains: bool,
}

impl PreloadList {
    /// Parses Chromium's JSON (whose `//` comment lines are dropped first).
    ///
    /// # Errors
    ///
    /// The JSON error, when the file is not the Chromium format.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        let json: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let file: File = serde_json::from_str(&json)?;
        let entries = file
            .entries
            .into_iter()
            .filter(|e| e.mode.as_deref() == Some("force-https"))
            .map(|e| {
                (
                    e.name.trim_end_matches('.').to_ascii_lowercase(),
                    e.include_subdomains,
                )
            })
            .collect();
        Ok(PreloadList { entries })
    }

    /// Builds a list from `(host, include_subdomains)` pairs.
    pub fn from_entries<I: IntoIterator<Item = (String, bool)>>(entries: I) -> Self {
        PreloadList {
            entries: entries.into_iter().collect(),
        }
    }

    /// Whether `host` (normalised) is preloaded: listed itself, or under a listed parent with
    /// `include_subdomains`.
    pub fn contains(&self, host: &str) -> bool {
        if self.entries.contains_key(host) {
            return true;
        }
        let mut rest = host;
        while let Some((_, parent)) = rest.split_once('.') {
            if self.entries.get(parent) == Some(&true) {
                return true;
            }
            rest = parent;
        }
        false
    }

    /// Number of force-https entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_chromium_format_with_comments() {
        let text = r#"// header comment
{
  // another
  "entries": [
    { "name": "example.com", "policy": "custom", "mode": "force-https", "include_subdomains": true },
    { "name": "pinned.test", "policy": "custom" },
    { "name": "exact.org", "policy": "bulk-1-year", "mode": "force-https" }
  ]
}"#;
        let list = PreloadList::parse(text).unwrap();
        assert_eq!(list.len(), 2);
        assert!(list.contains("example.com"));
        assert!(list.contains("shop.example.com"));
        assert!(list.contains("exact.org"));
        assert!(!list.contains("www.exact.org"));
        assert!(!list.contains("pinned.test"));
    }
}
