//! `<meta>` facts from an HTML body, read with html5ever's tokenizer (never regexes).
//!
//! Browsers honour some `<meta>` pragmas only when the element is a child of `<head>`
//! (CHECKS.md §0.2). Without building a DOM, we follow the tree builder's insertion modes far
//! enough to know that: `<meta>` is placed in `<head>` until body content starts (a start tag
//! that head cannot hold, `<body>`, or non-whitespace text), including metas after `</head>`,
//! which the "after head" mode re-inserts into the head. Metas inside `<template>` or
//! `<noscript>` are not children of `<head>`, and body tags inside a head `<template>` belong
//! to its content, not to the document, so they do not start the body. A `/>` closes nothing
//! in HTML but a void or foreign (SVG, MathML) element: `<script src=a.js/>` opens a script
//! whose text runs to `</script>`, swallowing any `<meta>` before it, as in browsers.
//!
//! `application/xhtml+xml` is read by browsers with the XML parser ([`Syntax::Xml`]): no
//! insertion modes, `/>` closes any element, and a `<meta>` is a child of `<head>` exactly when
//! its parent element is `head`. A DOCTYPE's internal subset (gitweb's `<!DOCTYPE html [
//! <!ENTITY nbsp "&#xA0;"> ]>`), which the HTML tokenizer reads as text, then starts nothing.

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

/// How a body is parsed, by its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Syntax {
    /// `text/html`: the HTML parser's rules.
    #[default]
    Html,
    /// `application/xhtml+xml`: the XML parser's rules.
    Xml,
}

/// Element nesting tracked in [`Syntax::Xml`] (deeper elements are counted, not named).
const MAX_XML_DEPTH: usize = 256;

impl HtmlFacts {
    /// Parses the first [`HTML_INSPECT_BYTES`] of `body` (lossy UTF-8) as HTML.
    pub fn parse(body: &[u8]) -> Self {
        Self::parse_as(body, Syntax::Html)
    }

    /// Parses the first [`HTML_INSPECT_BYTES`] of `body` (lossy UTF-8) with `syntax`'s rules.
    pub fn parse_as(body: &[u8], syntax: Syntax) -> Self {
        let body = &body[..body.len().min(HTML_INSPECT_BYTES)];
        let text = String::from_utf8_lossy(body);
        let sink = Sink {
            state: RefCell::new(State {
                xml: syntax == Syntax::Xml,
                ..State::default()
            }),
        };
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
    /// HTML: nesting of `<svg>` and `<math>`, where `/>` closes and no element is raw text.
    foreign: usize,
    /// [`Syntax::Xml`]: the open elements (and how many more, past [`MAX_XML_DEPTH`]).
    xml: bool,
    open: Vec<String>,
    open_beyond: usize,
}

impl State {
    /// Whether a `<meta>` starting now is a child of `<head>`.
    fn meta_in_head(&self) -> bool {
        if self.xml {
            self.open_beyond == 0 && self.open.last().is_some_and(|e| e == "head")
        } else {
            !self.in_body && self.detached == 0
        }
    }

    /// Whether a start tag's `/>` closes the element: always in XML; in HTML for void
    /// elements (which never have content anyway) and in foreign content.
    fn closes_itself(&self, tag: &Tag) -> bool {
        tag.self_closing && (self.xml || self.foreign > 0)
    }
}

#[derive(Default)]
struct Sink {
    state: RefCell<State>,
}

/// HTML's void elements: no content, no end tag, `/>` or not.
const VOID_ELEMENTS: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr", "basefont", "bgsound", "frame", "keygen", "param",
];

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
        if !st.xml && !st.in_body && st.detached == 0 && !HEAD_ELEMENTS.contains(&name) {
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
                let in_head = st.meta_in_head();
                st.metas.push(Meta {
                    http_equiv,
                    name: meta_name,
                    content: attr("content"),
                    in_head,
                });
            }
        }
        if st.closes_itself(tag) || VOID_ELEMENTS.contains(&name) {
            return TokenSinkResult::Continue;
        }
        if st.xml {
            if st.open.len() < MAX_XML_DEPTH {
                st.open.push(name.to_owned());
            } else {
                st.open_beyond += 1;
            }
        } else if matches!(name, "template" | "noscript") && !st.in_body {
            st.detached += 1;
        }
        if !st.xml && matches!(name, "svg" | "math") {
            st.foreign += 1;
        }
        // XML has no raw-text elements (a script's `<` is escaped or in CDATA), nor has
        // foreign content.
        if st.xml || st.foreign > 0 {
            return TokenSinkResult::Continue;
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
        if st.xml {
            // Closes the innermost open element of that name (a stray end tag closes nothing).
            if st.open_beyond > 0 {
                st.open_beyond -= 1;
            } else if let Some(i) = st.open.iter().rposition(|e| e == name) {
                st.open.truncate(i);
            }
            return;
        }
        if matches!(name, "svg" | "math") && st.foreign > 0 {
            st.foreign -= 1;
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
                if !st.xml
                    && st.raw_until.is_none()
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

    /// In HTML, `/>` on a non-void element is ignored: `<script src=a.js/>` and `<title/>`
    /// open elements whose raw text runs to their end tag, so a meta after them is no element
    /// at all (html5lib and browsers agree); `<noscript/>` and `<template/>` hold what follows.
    /// Found against Apache serving such a page: csp passed on a policy browsers never see.
    #[test]
    fn a_self_closing_slash_on_a_non_void_element_closes_nothing_in_html() {
        let meta = r#"<meta http-equiv="Content-Security-Policy" content="default-src 'self'">"#;
        for opener in [
            r#"<script src="/a.js"/>"#,
            "<title/>",
            "<style/>",
            "<noscript/>",
        ] {
            let html = format!("<!DOCTYPE html><html><head>{opener}{meta}<title>t</title></head>");
            assert!(head_csp(&html).is_empty(), "{html}");
        }
        let html = format!("<head><template/>{meta}</head>");
        assert_eq!(head_csp(&html), vec![false], "{html}");
        // Void elements and foreign content do close themselves.
        for before in [
            r#"<link rel="stylesheet" href="a.css"/><meta charset="utf-8"/>"#,
            "<base href=\"/\"/>",
        ] {
            let html = format!("<head>{before}{meta}</head>");
            assert_eq!(head_csp(&html), vec![true], "{html}");
        }
        let facts = HtmlFacts::parse(
            br#"<body><svg><script/><title/></svg><meta name="referrer" content="no-referrer">"#,
        );
        assert_eq!(facts.named("referrer").count(), 1, "{facts:?}");
    }

    fn xhtml_head_csp(xhtml: &str) -> Vec<bool> {
        HtmlFacts::parse_as(xhtml.as_bytes(), Syntax::Xml)
            .any_http_equiv("content-security-policy")
            .map(|m| m.in_head)
            .collect()
    }

    /// `application/xhtml+xml` follows the XML parser: gitweb's DOCTYPE with an internal subset
    /// (text to the HTML tokenizer, which then started the body) starts nothing, `/>` closes
    /// any element, and a meta counts when its parent is `head`.
    #[test]
    fn xhtml_reads_metas_by_their_parent_element() {
        let gitweb = r#"<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE html [
	<!ENTITY nbsp "&#xA0;">
	<!ENTITY sdot "&#x22C5;">
]>
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en-US" lang="en-US">
<head>
<meta name="generator" content="gitweb/2.39.5 git/2.39.5"/>
<script type="text/javascript" src="static/gitweb.js"/>
<meta http-equiv="Content-Security-Policy" content="default-src 'self'"/><meta name="referrer" content="no-referrer"/>
<title>127.0.0.1 Git</title>
</head>
<body>
<meta http-equiv="Content-Security-Policy" content="default-src *"/>
</body></html>"#;
        assert_eq!(xhtml_head_csp(gitweb), vec![true, false]);
        let facts = HtmlFacts::parse_as(gitweb.as_bytes(), Syntax::Xml);
        assert!(facts.named("referrer").all(|m| m.in_head));
        assert_eq!(
            HtmlFacts::parse(gitweb.as_bytes())
                .any_http_equiv("content-security-policy")
                .filter(|m| m.in_head)
                .count(),
            0,
            "the HTML parser's reading, which browsers do not apply to XHTML"
        );
        // No implied head in XML, and a meta under noscript or another element is not a child
        // of head.
        assert_eq!(
            xhtml_head_csp(r#"<meta http-equiv="Content-Security-Policy" content="x"/>"#),
            vec![false]
        );
        assert_eq!(
            xhtml_head_csp(
                r#"<html><head><noscript><meta http-equiv="Content-Security-Policy" content="x"/></noscript></head></html>"#
            ),
            vec![false]
        );
        let deep = format!(
            "<html><head>{}</head></html>",
            "<div>".repeat(MAX_XML_DEPTH * 2)
                + r#"<meta http-equiv="Content-Security-Policy" content="x"/>"#
                + &"</div>".repeat(MAX_XML_DEPTH * 2)
                + r#"<meta http-equiv="Content-Security-Policy" content="y"/>"#
        );
        assert_eq!(xhtml_head_csp(&deep), vec![false, true]);
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
        let facts = HtmlFacts::parse_as(&junk, Syntax::Xml);
        assert!(facts.metas.len() <= MAX_METAS);
        let deep = "<a>".repeat(200_000);
        assert!(
            HtmlFacts::parse_as(deep.as_bytes(), Syntax::Xml)
                .metas
                .is_empty()
        );
    }
}
