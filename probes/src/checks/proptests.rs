//! Property tests for the header parsers of csp, clickjacking, x_content_type_options,
//! referrer_policy, cookies and server_disclosure: arbitrary bytes never panic, findings stay
//! within their catalogues and the 1024-byte evidence bound, and nothing past the first 64 KiB of
//! a header is read, so work and memory are bounded by the cap whatever a server sends.
//! (`fuzz/` runs the same entry points under libFuzzer.)

use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use http::HeaderValue;
use proptest::prelude::*;
use url::Url;

use super::header_list::{MAX_HEADER_BYTES, split};
use super::{
    clickjacking, cookies, csp, referrer_policy, server_disclosure, x_content_type_options,
};
use crate::evidence::{Exchange, Timings};
use crate::html::HtmlFacts;
use crate::verdict::{EVIDENCE_MAX_BYTES, Finding};

/// Bytes a header value may hold (what hyper accepts: no CR, LF or NUL).
fn header_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(|mut v| {
        v.retain(|b| !matches!(b, b'\r' | b'\n' | 0));
        v
    })
}

/// Header values built from the tokens that matter to these grammars, so generated inputs
/// reach deep into the parsers instead of being rejected at the first byte.
fn grammar_soup() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just("script-src".to_owned()),
        Just("default-src".to_owned()),
        Just("frame-ancestors".to_owned()),
        Just("'self'".to_owned()),
        Just("'unsafe-inline'".to_owned()),
        Just("'strict-dynamic'".to_owned()),
        Just("'nonce-abc='".to_owned()),
        Just("'sha256-x'".to_owned()),
        Just("https:".to_owned()),
        Just("http://*.*".to_owned()),
        Just("*".to_owned()),
        Just("DENY".to_owned()),
        Just("nosniff".to_owned()),
        Just("no-referrer".to_owned()),
        Just("Secure".to_owned()),
        Just("SameSite=None".to_owned()),
        Just("Expires=Wed, 21 Oct 2015 07:28:00 GMT".to_owned()),
        Just("Max-Age=-1".to_owned()),
        Just("Domain=.example.test".to_owned()),
        Just("__Host-".to_owned()),
        Just("nginx/1.2.3".to_owned()),
        Just(";".to_owned()),
        Just(",".to_owned()),
        Just("\"".to_owned()),
        Just("\\".to_owned()),
        Just("=".to_owned()),
        Just(" ".to_owned()),
        "[ -~\u{80}-\u{ff}]{0,8}",
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| {
        v.concat()
            .chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
            .collect()
    })
}

fn response(headers: &[(&str, Vec<u8>)], body: &[u8], html: bool) -> Exchange {
    let (mut map, invalid_lines) = super::test_support::field_lines(
        headers
            .iter()
            .filter(|(_, v)| !v.contains(&b'\r') && !v.contains(&b'\n') && !v.contains(&0))
            .map(|(n, v)| (*n, v.as_slice())),
    );
    if html {
        map.append("content-type", HeaderValue::from_static("text/html"));
    }
    let body = Bytes::copy_from_slice(body);
    let facts = html.then(|| std::sync::Arc::new(HtmlFacts::parse(&body)));
    Exchange {
        method: http::Method::GET,
        url: Url::parse("https://www.example.test/a/b").unwrap(),
        remote: None,
        version: http::Version::HTTP_11,
        status: 200,
        headers: map,
        invalid_lines,
        body,
        body_truncated: false,
        body_timed_out: false,
        timings: Timings::default(),
        tls: None,
        credentials_sent: false,
        html: facts,
    }
}

fn bounded(findings: &[Finding], catalogue: &[crate::verdict::FindingDef]) {
    for f in findings {
        assert!(f.evidence.len() <= EVIDENCE_MAX_BYTES, "{}", f.id);
        assert!(catalogue.iter().any(|d| d.id == f.id), "{}", f.id);
    }
}

fn all_header_checks(e: &Exchange) {
    let (f, _, _) = csp::judge(e, true);
    bounded(&f, csp::CHECK.findings);
    // Each csp finding id appears at most once (notes are aggregated).
    assert!(f.len() <= csp::CHECK.findings.len());
    let (f, _) = clickjacking::judge(e);
    bounded(&f, clickjacking::CHECK.findings);
    assert!(f.len() <= 3);
    let _ = x_content_type_options::nosniff(&super::header_list::get_decode_split(
        e,
        "x-content-type-options",
    ));
    let _ = referrer_policy::effective(e);
    let (f, m) = server_disclosure::judge(std::iter::once(e), e);
    bounded(&f, server_disclosure::CHECK.findings);
    for m in m {
        assert!(m.labels.iter().all(|l| l.chars().count() <= 64));
    }
    let (f, _) = cookies::judge(
        std::iter::once(e),
        &cookies::CookieOptions::default(),
        "www.example.test",
        cookies::HstsCover::HostAndSubdomains,
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    );
    bounded(&f, cookies::CHECK.findings);
}

proptest! {
    #[test]
    fn split_never_panics_and_never_grows(s in "[ -~\u{80}-\u{ff}\t]{0,300}") {
        let values = split(&s);
        prop_assert!(!values.is_empty());
        prop_assert!(values.len() <= s.matches(',').count() + 1);
        prop_assert!(values.iter().map(String::len).sum::<usize>() <= s.len());
    }

    #[test]
    fn csp_parser_never_panics(bytes in header_bytes(400)) {
        let text: String = bytes.iter().map(|&b| b as char).collect();
        for p in csp::parse_list(&text, csp::PolicySource::Header) {
            prop_assert!(!p.directives.is_empty());
            for d in &p.directives {
                prop_assert!(d.sources.len() <= d.values.len());
                for chain in [csp::SCRIPT_ELEM, csp::SCRIPT_ATTR] {
                    let _ = csp::effective(&p, chain).map(|d| csp::neutralised(d, true));
                }
            }
        }
    }

    #[test]
    fn source_expressions_never_panic(s in "[ -~\u{80}-\u{ff}]{0,40}") {
        let _ = csp::parse_source(&s);
    }

    #[test]
    fn set_cookie_parser_never_panics(bytes in header_bytes(400)) {
        if let Some(c) = cookies::parse(&bytes) {
            prop_assert!(c.name.len() + c.value_len <= 4096);
        }
    }

    #[test]
    fn cookie_dates_never_panic(s in "[ -~\u{80}-\u{ff}]{0,60}") {
        let _ = cookies::parse_cookie_date(&s);
    }

    #[test]
    fn version_regex_and_via_never_panic(s in "[ -~\u{80}-\u{ff}]{0,80}") {
        let _ = server_disclosure::version_bearing(&s);
        let _ = server_disclosure::via_names_version(&s);
    }

    #[test]
    fn every_check_survives_arbitrary_headers(
        csp_v in grammar_soup(),
        ro in grammar_soup(),
        xfo in grammar_soup(),
        xcto in header_bytes(64),
        rp in grammar_soup(),
        cookie1 in grammar_soup(),
        cookie2 in header_bytes(200),
        server in grammar_soup(),
        via in grammar_soup(),
        body in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let e = response(
            &[
                ("content-security-policy", csp_v),
                ("content-security-policy-report-only", ro),
                ("x-frame-options", xfo),
                ("x-content-type-options", xcto),
                ("referrer-policy", rp),
                ("set-cookie", cookie1),
                ("set-cookie", cookie2),
                ("server", server),
                ("via", via),
            ],
            &body,
            true,
        );
        all_header_checks(&e);
    }

    #[test]
    fn arbitrary_html_meta_pragmas_never_panic(
        content in "[ -~\u{80}-\u{ff}]{0,200}",
        junk in "[ -~]{0,100}",
    ) {
        let body = format!(
            "<html><head>{junk}<meta http-equiv=\"Content-Security-Policy\" content=\"{content}\"><meta name=referrer content=\"{content}\"><meta http-equiv=X-Frame-Options content=\"{content}\"><meta name=generator content=\"{content}\"></head><body>{junk}</body></html>"
        );
        all_header_checks(&response(&[], body.as_bytes(), true));
    }

    /// Either syntax, any bytes: no panic, the meta cap holds.
    #[test]
    fn arbitrary_bytes_parse_as_html_and_xhtml_within_the_cap(
        body in proptest::collection::vec(any::<u8>(), 0..4096),
    ) {
        for syntax in [crate::html::Syntax::Html, crate::html::Syntax::Xml] {
            let facts = HtmlFacts::parse_as(&body, syntax);
            prop_assert!(facts.metas.len() <= crate::html::MAX_METAS);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Whatever a server sends, only the first 64 KiB of a header is parsed: a header padded far
    /// past the cap parses exactly like its first 64 KiB, so work and memory stay bounded.
    #[test]
    fn nothing_past_64_kib_is_read(seed in grammar_soup(), repeat in 200usize..2000) {
        let mut seed = seed;
        seed.push(b' ');
        let mut long = seed.repeat(repeat.max(MAX_HEADER_BYTES / seed.len() + 2));
        long.truncate(4 * MAX_HEADER_BYTES);
        let capped = long[..MAX_HEADER_BYTES].to_vec();

        let big = response(&[("content-security-policy", long.clone())], b"", false);
        let small = response(&[("content-security-policy", capped.clone())], b"", false);
        prop_assert_eq!(csp::collect(&big).enforced, csp::collect(&small).enforced);

        prop_assert_eq!(cookies::parse(&long), cookies::parse(&capped));

        let big = response(&[("x-frame-options", long.clone())], b"", false);
        let small = response(&[("x-frame-options", capped.clone())], b"", false);
        prop_assert_eq!(
            clickjacking::interpret(&super::header_list::get_decode_split(&big, "x-frame-options")),
            clickjacking::interpret(&super::header_list::get_decode_split(&small, "x-frame-options"))
        );
        let big = response(&[("referrer-policy", long)], b"", false);
        let small = response(&[("referrer-policy", capped)], b"", false);
        prop_assert_eq!(
            referrer_policy::effective(&big).policy,
            referrer_policy::effective(&small).policy
        );
        all_header_checks(&big);
    }
}
