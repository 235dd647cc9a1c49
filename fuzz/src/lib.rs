//! Shared helpers of the fuzz targets: a response built from fuzzer bytes.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use probes::evidence::{Exchange, InvalidLine, Timings};
use probes::html::HtmlFacts;
use url::Url;

/// A 200 HTML response with `name` set to each `\n`-separated line of `data` and `body` as its
/// body. Lines hyper refuses (a control byte in the value) are kept as the engine keeps them,
/// as invalid lines in their place among the others.
pub fn response(name: &str, data: &[u8], body: &[u8]) -> Exchange {
    let mut headers = HeaderMap::new();
    let mut invalid_lines = Vec::new();
    let name = HeaderName::from_bytes(name.as_bytes()).expect("valid header name");
    for (rank, line) in data.split(|&b| b == b'\n').enumerate() {
        match HeaderValue::from_bytes(line) {
            Ok(v) => {
                headers.append(name.clone(), v);
            }
            Err(_) => invalid_lines.push(InvalidLine {
                name: name.clone(),
                rank,
                value: Bytes::copy_from_slice(line.trim_ascii()),
            }),
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
        invalid_lines,
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
