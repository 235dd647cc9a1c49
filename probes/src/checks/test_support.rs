//! Unit-test helpers: an [`Exchange`] built from literal headers and body, so rules are tested
//! on plain data without a socket.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use crate::evidence::{Exchange, InvalidLine, Timings};

/// A 200 response from `url` with these field lines (kept apart) and body. A value with a
/// control byte becomes an [`InvalidLine`], as the engine records it.
pub(crate) fn exchange_at(url: &str, headers: &[(&str, &str)], body: &str) -> Exchange {
    let (map, invalid_lines) = field_lines(headers.iter().map(|(n, v)| (*n, v.as_bytes())));
    let mut e = Exchange {
        method: http::Method::GET,
        url: Url::parse(url).unwrap(),
        remote: None,
        version: http::Version::HTTP_11,
        status: 200,
        headers: map,
        invalid_lines,
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

/// The header map and the invalid lines of these field lines, in order.
pub(crate) fn field_lines<'a>(
    headers: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> (HeaderMap, Vec<InvalidLine>) {
    let mut map = HeaderMap::new();
    let mut invalid = Vec::new();
    for (n, v) in headers {
        let name = HeaderName::from_bytes(n.as_bytes()).unwrap();
        let rank = map.get_all(&name).iter().count()
            + invalid
                .iter()
                .filter(|l: &&InvalidLine| l.name == name)
                .count();
        match HeaderValue::from_bytes(v) {
            Ok(v) => {
                map.append(name, v);
            }
            Err(_) => invalid.push(InvalidLine {
                name,
                rank,
                value: Bytes::copy_from_slice(v),
            }),
        }
    }
    (map, invalid)
}

/// [`exchange_at`] for `https://example.test/`.
pub(crate) fn exchange(headers: &[(&str, &str)], body: &str) -> Exchange {
    exchange_at("https://example.test/", headers, body)
}
