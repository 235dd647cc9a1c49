//! `<meta>` facts from an HTML body, read with html5ever's tokenizer (never regexes).
//!
//! Browsers honour some `<meta>` pragmas only when the element is a child of `<head>`
//! (CHECKS.md §0.2). Without building a DOM, we follow the tree builder's insertion modes far
//! enough to know that: `<meta>` is placed in `<head>` until body content starts (a start tag
//! that head cannot hold, `<body>`, or non-whitespace text), including metas after `</head>`,
//! which the "after head" mode re-inserts into the head. Metas inside `<template>` or
//! `<noscript>` are not children of `<head>`, and body tags inside a head `<template>` belong
//! to its content, not to the document, so they do not start the body.

use std::cell::RefCell;

use html5ever::TokenizerResult;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

/// How much of a body is inspected (CHECKS.md §0.1).
pub const HTML_INSPECT_BYTES: usize = 256 * 1024;
/// At most this many `<meta>` elements are recorded, counting only those a check reads (see
/// [`READ_META_NAMES`]): a page's dozens of Open Graph / Twitter card metas must not push its
/// CSP or referrer pragma past the cap.
pub const MAX_METAS: usize = 64;

/// `<meta name>` values a check reads: `referrer` (CHECKS.md §6) and `generator` (§15). Metas
/// with an `http-equiv` are recorded whatever it says (§0.2: CSP honoured, HSTS and
/// X-Frame-Options reported as ignored); other metas are not recorded.
pub const READ_META_NAMES: &[&str] = &["referrer", "generator"];

/// One `<meta>` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// `http-equiv`, ASCII-lower-cased.
    pub http_equiv: Option<String>,
    /// `name`, ASCII-lower-cased.
    pub name: Option<String>,
    /// `content`, as written.
    pub content: Option<String>,
    /// A child of `<head>` (where pragmas apply).
    pub in_head: bool,
}

/// The `<meta>` elements of a document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HtmlFacts {
    /// Metas with an `http-equiv` or a name in [`READ_META_NAMES`], in document order (at
    /// most [`MAX_METAS`]).
    pub metas: Vec<Meta>,
}

impl HtmlFacts {
    /// Parses the first [`HTML_INSPECT_BYTES`] of `body` (lossy UTF-8).
    pub fn parse(body: &[u8]) -> Self {
        let body = &body[..body.len().min(HTML_INSPECT_BYTES)];
        let text = String::from_utf8_lossy(body);
        let sink = Sink::default();
        let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
        let queue = BufferQueue::default();
        queue.push_back(StrTendril::from(text.as_ref()));
        while let TokenizerResult::Script(_) = tokenizer.feed(&queue) {}
        tokenizer.end();
        HtmlFacts {
            metas: tokenizer.sink.state.into_inner().metas,
        }
    }

    /// Metas in `<head>` whose `http-equiv` equals `name` (ASCII case-insensitive).
    pub fn head_http_equiv<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Meta> + 'a {
        self.metas.iter().filter(move |m| {
            m.in_head
                && m.http_equiv
                    .as_deref()
                    .is_some_and(|h| h.eq_ignore_ascii_case(name))
        })
    }

    /// Metas anywhere whose `http-equiv` equals `name` (for "ignored by browsers" findings).
    pub fn any_http_equiv<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Meta> + 'a {
        self.metas.iter().filter(move |m| {
            m.http_equiv
                .as_deref()
                .is_some_and(|h| h.eq_ignore_ascii_case(name))
        })
    }

    /// Metas whose `name` equals `name` (ASCII case-insensitive), with `in_head` as recorded.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Meta> + 'a {
        self.metas.iter().filter(move |m| {
            m.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }
}

#[derive(Default)]
struct State {
    metas: Vec<Meta>,
    in_body: bool,
    /// Nesting of elements whose content is not part of `<head>` (template, noscript).
    detached: usize,
    /// Inside a raw-text element (title, script, style …): its text is not body content.
    raw_until: Option<String>,
}

#[derive(Default)]
struct Sink {
    state: RefCell<State>,
}

/// Elements the "in head" insertion mode keeps in `<head>`.
const HEAD_ELEMENTS: &[&str] = &[
    "base", "basefont", "bgsound", "link", "meta", "noframes", "script", "style", "template",
    "title", "noscript", "html", "head",
];

impl Sink {
    fn start_tag(&self, tag: &Tag) -> TokenSinkResult<()> {
        let name: &str = &tag.name;
        let mut st = self.state.borrow_mut();
        // Inside a head <template>, body tags are template content (HTML "in template"
        // insertion mode): the document's body has not started.
        if !st.in_body && st.detached == 0 && !HEAD_ELEMENTS.contains(&name) {
            st.in_body = true;
        }
        if name == "meta" && st.metas.len() < MAX_METAS {
            let attr = |n: &str| {
                tag.attrs
                    .iter()
                    .find(|a| &*a.name.local == n)
                    .map(|a| a.value.to_string())
            };
            // Keywords compared ASCII-case-insensitively and untrimmed, as the HTML Standard
            // and browsers do: `http-equiv=" Content-Security-Policy "` is no pragma.
            let http_equiv = attr("http-equiv").map(|s| s.to_ascii_lowercase());
            let meta_name = attr("name").map(|s| s.to_ascii_lowercase());
            if http_equiv.is_some()
                || meta_name
                    .as_deref()
                    .is_some_and(|n| READ_META_NAMES.contains(&n))
            {
                let in_head = !st.in_body && st.detached == 0;
                st.metas.push(Meta {
                    http_equiv,
                    name: meta_name,
                    content: attr("content"),
                    in_head,
                });
            }
        }
        if tag.self_closing {
            return TokenSinkResult::Continue;
        }
        if matches!(name, "template" | "noscript") && !st.in_body {
            st.detached += 1;
        }
        let raw = match name {
            "script" => Some(RawKind::ScriptData),
            "style" | "noframes" | "iframe" | "xmp" | "noembed" | "noscript" => {
                Some(RawKind::Rawtext)
            }
            "title" | "textarea" => Some(RawKind::Rcdata),
            "plaintext" => {
                st.raw_until = Some(String::new());
                return TokenSinkResult::Plaintext;
            }
            _ => None,
        };
        match raw {
            Some(kind) => {
                st.raw_until = Some(name.to_owned());
                TokenSinkResult::RawData(kind)
            }
            None => TokenSinkResult::Continue,
        }
    }

    fn end_tag(&self, tag: &Tag) {
        let name: &str = &tag.name;
        let mut st = self.state.borrow_mut();
        if st.raw_until.as_deref() == Some(name) {
            st.raw_until = None;
        }
        if matches!(name, "template" | "noscript") && st.detached > 0 {
            st.detached -= 1;
        }
        // Before the body, `</body>`, `</html>` and `</br>` act as "anything else" in every
        // head insertion mode: the body element is inserted, so a later <meta> is in it.
        if matches!(name, "body" | "html" | "br") && st.detached == 0 {
            st.in_body = true;
        }
    }
}

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        match token {
            Token::TagToken(tag) => match tag.kind {
                TagKind::StartTag => return self.start_tag(&tag),
                TagKind::EndTag => self.end_tag(&tag),
            },
            Token::CharacterTokens(text) => {
                let mut st = self.state.borrow_mut();
                if st.raw_until.is_none()
                    && st.detached == 0
                    && text.chars().any(|c| !c.is_ascii_whitespace())
                {
                    st.in_body = true;
                }
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head_csp(html: &str) -> Vec<bool> {
        HtmlFacts::parse(html.as_bytes())
            .any_http_equiv("content-security-policy")
            .map(|m| m.in_head)
            .collect()
    }

    #[test]
    fn meta_in_head_counts() {
        assert_eq!(
            head_csp(
                r#"<!doctype html><html><head><title>x; <meta http-equiv=a></title><meta http-equiv="Content-Security-Policy" content="default-src 'self'"></head><body></body></html>"#
            ),
            vec![true]
        );
    }

    #[test]
    fn meta_with_implied_head_counts() {
        assert_eq!(
            head_csp(r#"<meta http-equiv="content-security-policy" content="x"><p>hi"#),
            vec![true]
        );
    }

    #[test]
    fn meta_in_body_does_not_count() {
        assert_eq!(
            head_csp(
                r#"<html><head></head><body><meta http-equiv="Content-Security-Policy" content="x"></body>"#
            ),
            vec![false]
        );
        assert_eq!(
            head_csp(r#"hello <meta http-equiv="Content-Security-Policy" content="x">"#),
            vec![false]
        );
    }

    #[test]
    fn meta_after_head_end_tag_is_reinserted_into_head() {
        assert_eq!(
            head_csp(
                r#"<head></head><meta http-equiv="Content-Security-Policy" content="x"><body>"#
            ),
            vec![true]
        );
    }

    #[test]
    fn a_body_end_tag_before_the_body_starts_it() {
        for html in [
            r#"<head></head></body><meta http-equiv="Content-Security-Policy" content="x">"#,
            r#"<head></html><meta http-equiv="Content-Security-Policy" content="x">"#,
        ] {
            assert_eq!(head_csp(html), vec![false], "{html}");
        }
    }

    /// `http-equiv` is an enumerated attribute: its keyword is matched ASCII-case-insensitively
    /// and untrimmed, so a padded value is no pragma (as in Chromium and Firefox).
    #[test]
    fn padded_http_equiv_and_name_are_not_keywords() {
        assert!(
            head_csp(r#"<head><meta http-equiv=" Content-Security-Policy " content="x"></head>"#)
                .is_empty()
        );
        let facts = HtmlFacts::parse(br#"<head><meta name=" referrer " content="no-referrer">"#);
        assert_eq!(facts.named("referrer").count(), 0);
    }

    #[test]
    fn meta_inside_template_or_noscript_does_not_count() {
        assert_eq!(
            head_csp(
                r#"<head><template><meta http-equiv="Content-Security-Policy" content="x"></template></head>"#
            ),
            vec![false]
        );
        // With scripting enabled, <noscript> in head is raw text: no meta element at all.
        assert!(head_csp(r#"<head><noscript><meta http-equiv="Content-Security-Policy" content="x"></noscript></head>"#).is_empty());
    }

    #[test]
    fn body_tags_inside_a_head_template_do_not_start_the_body() {
        assert_eq!(
            head_csp(
                r#"<head><template id="row"><div>x</div></template><meta http-equiv="Content-Security-Policy" content="default-src 'self'"></head>"#
            ),
            vec![true]
        );
    }

    #[test]
    fn metas_no_check_reads_do_not_use_up_the_cap() {
        let og = r#"<meta property="og:image" content="x"><meta name="twitter:card" content="y">"#
            .repeat(MAX_METAS);
        let html = format!(
            r#"<head>{og}<meta name="Referrer" content="no-referrer"><meta http-equiv="Content-Security-Policy" content="default-src 'self'"><meta name="generator" content="Hugo 0.120"></head>"#
        );
        let facts = HtmlFacts::parse(html.as_bytes());
        assert_eq!(facts.metas.len(), 3, "{:?}", facts.metas);
        assert_eq!(facts.named("referrer").count(), 1);
        assert_eq!(facts.named("generator").count(), 1);
        assert_eq!(head_csp(&html), vec![true]);
    }

    #[test]
    fn script_text_is_not_body_content() {
        assert_eq!(
            head_csp(
                r#"<head><script>var a = "<meta http-equiv=Content-Security-Policy>";</script><meta http-equiv="content-security-policy" content="y"></head>"#
            ),
            vec![true]
        );
    }

    #[test]
    fn garbage_never_panics_and_is_bounded() {
        let junk: Vec<u8> = (0..=255u8).cycle().take(600_000).collect();
        let facts = HtmlFacts::parse(&junk);
        assert!(facts.metas.len() <= MAX_METAS);
        let many = "<meta http-equiv=a>".repeat(1000);
        assert_eq!(HtmlFacts::parse(many.as_bytes()).metas.len(), MAX_METAS);
        let many = "<meta name=referrer>".repeat(1000);
        assert_eq!(HtmlFacts::parse(many.as_bytes()).metas.len(), MAX_METAS);
    }
}
