//! The version matcher, the Via reader and the server_disclosure rule over one response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use probes::checks::server_disclosure;
use prodprobe_fuzz::{latin1, response};

fuzz_target!(|data: &[u8]| {
    let text = latin1(data);
    let _ = server_disclosure::version_bearing(&text);
    let _ = server_disclosure::via_names_version(&text);
    for name in ["server", "via", "x-powered-by", "x-generator"] {
        let e = response(name, data, data);
        let (findings, m) = server_disclosure::judge(std::iter::once(&e), &e);
        assert!(findings.iter().all(|f| f.evidence.len() <= 1024));
        assert!(
            m.iter()
                .all(|m| m.labels.iter().all(|l| l.chars().count() <= 64))
        );
    }
});
