//! Shared helpers of the fuzz targets: a response built from fuzzer bytes.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use probes::evidence::{Exchange, Timings};
use probes::html::HtmlFacts;
use url::Url;

/// A 200 HTML response with `name` set to each `\n`-separated line of `data` (lines hyper would
/// reject are dropped) and `body` as its body.
pub fn response(name: &str, data: &[u8], body: &[u8]) -> Exchange {
    let mut headers = HeaderMap::new();
    let name = HeaderName::from_bytes(name.as_bytes()).expect("valid header name");
    for line in data.split(|&b| b == b'\n') {
        if let Ok(v) = HeaderValue::from_bytes(line) {
            headers.append(name.clone(), v);
        }
    }
    headers.append("content-type", HeaderValue::from_static("text/html"));
    let body = Bytes::copy_from_slice(body);
    Exchange {
        method: http::Method::GET,
        url: Url::parse("https://www.example.test/a/b").expect("valid URL"),
        remote: None,
        version: http::Version::HTTP_11,
        status: 200,
        headers,
        html: Some(Arc::new(HtmlFacts::parse(&body))),
        body,
        body_truncated: false,
        body_timed_out: false,
        timings: Timings::default(),
        tls: None,
        credentials_sent: false,
    }
}

/// Latin-1 decoding, as the checks decode header bytes.
pub fn latin1(data: &[u8]) -> String {
    data.iter().map(|&b| b as char).collect()
}
