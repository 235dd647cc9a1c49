//! The Set-Cookie parser (one line) and the cookies rule (several lines, de-duplication).
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use probes::checks::cookies;
use prodprobe_fuzz::{latin1, response};

fuzz_target!(|data: &[u8]| {
    if let Some(c) = cookies::parse(data) {
        // rfc6265bis counts octets: one per character of the Latin-1-decoded name.
        assert!(c.name.chars().count() + c.value_len <= 4096);
        let _ = cookies::prefix_violation(&c);
        let _ = cookies::session_rule(&c.name, &cookies::CookieOptions::default());
    }
    let _ = cookies::parse_cookie_date(&latin1(data));
    let e = response("set-cookie", data, b"");
    let (findings, _) = cookies::judge(
        std::iter::once(&e),
        &cookies::CookieOptions::default(),
        "www.example.test",
        match data.first().map(|b| b % 3) {
            Some(1) => cookies::HstsCover::Host,
            Some(2) => cookies::HstsCover::HostAndSubdomains,
            _ => cookies::HstsCover::None,
        },
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    );
    assert!(findings.iter().all(|f| f.evidence.len() <= 1024));
});
