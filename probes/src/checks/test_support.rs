//! Unit-test helpers: an [`Exchange`] built from literal headers and body, so rules are tested
//! on plain data without a socket.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use crate::evidence::{Exchange, Timings};

/// A 200 response from `url` with these field lines (kept apart) and body.
pub(crate) fn exchange_at(url: &str, headers: &[(&str, &str)], body: &str) -> Exchange {
    let mut map = HeaderMap::new();
    for (n, v) in headers {
        map.append(
            HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_bytes(v.as_bytes()).unwrap(),
        );
    }
    let mut e = Exchange {
        method: http::Method::GET,
        url: Url::parse(url).unwrap(),
        remote: None,
        version: http::Version::HTTP_11,
        status: 200,
        headers: map,
        body: Bytes::copy_from_slice(body.as_bytes()),
        body_truncated: false,
        body_timed_out: false,
        timings: Timings::default(),
        tls: None,
        credentials_sent: false,
        html: None,
    };
    e.html = e.parse_html().map(Arc::new);
    e
}

/// [`exchange_at`] for `https://example.test/`.
pub(crate) fn exchange(headers: &[(&str, &str)], body: &str) -> Exchange {
    exchange_at("https://example.test/", headers, body)
}
