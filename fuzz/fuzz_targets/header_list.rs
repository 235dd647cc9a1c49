//! Fetch's "get, decode, split" and the multi-value rules built on it: X-Frame-Options,
//! X-Content-Type-Options, Referrer-Policy (header and `<meta name="referrer">`), clickjacking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use probes::checks::header_list::{self, get_decode_split};
use probes::checks::{clickjacking, referrer_policy, x_content_type_options};
use prodprobe_fuzz::{latin1, response};

fuzz_target!(|data: &[u8]| {
    let text = latin1(data);
    let values = header_list::split(&text);
    assert!(!values.is_empty());
    let _ = referrer_policy::from_meta(&text);
    for name in [
        "x-frame-options",
        "x-content-type-options",
        "referrer-policy",
    ] {
        let e = response(name, data, b"");
        let list = get_decode_split(&e, name);
        let _ = clickjacking::interpret(&list);
        let _ = x_content_type_options::nosniff(&list);
        let _ = referrer_policy::from_header(&list);
        let _ = referrer_policy::effective(&e);
        let _ = clickjacking::judge(&e);
    }
});
