//! The CSP parser and rule: header lines, comma-joined policies, `<meta>` pragmas.
#![no_main]

use libfuzzer_sys::fuzz_target;
use probes::checks::csp;
use prodprobe_fuzz::{latin1, response};

fuzz_target!(|data: &[u8]| {
    let text = latin1(data);
    for p in csp::parse_list(&text, csp::PolicySource::Header) {
        for chain in [
            csp::SCRIPT_ELEM,
            csp::SCRIPT_ATTR,
            csp::STYLE_ELEM,
            csp::OBJECT,
        ] {
            if let Some(d) = csp::effective(&p, chain) {
                let _ = csp::neutralised(d, true);
            }
        }
        let _ = csp::frame_ancestors_restrictive(&p);
    }
    let (findings, _, _) = csp::judge(&response("content-security-policy", data, b""), true);
    assert!(findings.iter().all(|f| f.evidence.len() <= 1024));
    let body = format!(
        "<head><meta http-equiv=\"Content-Security-Policy\" content=\"{}\"></head>",
        String::from_utf8_lossy(data).replace('"', "&quot;")
    );
    let _ = csp::judge(&response("x-unrelated", b"", body.as_bytes()), true);
});
