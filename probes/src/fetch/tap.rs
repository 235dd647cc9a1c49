//! The bytes of each HTTP/1 response head as the server sent them, for the field lines hyper
//! drops.
//!
//! A field value with a control byte other than HTAB (`X-Debug: a\x01b`) is not a valid
//! `field-value` (RFC 9110 §5.5), and hyper's parser refuses the whole response over it. Browsers
//! do not: Chromium renders the page and ignores (or misreads) just that header. CHECKS.md §0.2
//! asks for the same, "CTLs other than HTAB make the value invalid for that header", so the engine
//! tells hyper to skip such lines (`ignore_invalid_headers_in_responses`) and re-reads them here,
//! from a copy of the head, as [`InvalidLine`]s of their header.
//!
//! Only the head is copied (at most [`MAX_HEAD`] bytes, one response at a time: HTTP/1.1 without
//! pipelining has one response in flight), and the lines are only looked for when the head holds
//! such a byte. A NUL byte still fails the response, in hyper as in Chromium.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::evidence::InvalidLine;

/// At most this many bytes of a head are copied (the engine's head limit).
pub(crate) const MAX_HEAD: usize = 256 * 1024;
/// At most this many invalid lines are kept per response.
const MAX_LINES: usize = 64;

/// The copy of the current response head, shared between the connection's IO and its sender.
#[derive(Debug, Default)]
pub(crate) struct HeadCopy {
    bytes: Vec<u8>,
    /// The final (non-1xx) head has ended: later bytes are body or the next response.
    complete: bool,
}

/// Shared handle to a connection's [`HeadCopy`].
pub(crate) type SharedHead = Arc<Mutex<HeadCopy>>;

impl HeadCopy {
    /// Forgets the previous response: called before a request is sent.
    pub(crate) fn reset(&mut self) {
        self.bytes.clear();
        self.complete = false;
    }

    fn record(&mut self, read: &[u8]) {
        if self.complete {
            return;
        }
        let room = MAX_HEAD.saturating_sub(self.bytes.len());
        let mut from = self.bytes.len().saturating_sub(3);
        self.bytes.extend_from_slice(&read[..read.len().min(room)]);
        // A head ends at the first empty line (RFC 9112 §2.1; a bare LF is accepted, as
        // hyper's parser does). An interim 1xx head (other than 101) is followed by another.
        while let Some(end) = head_end(&self.bytes, from) {
            if interim(&self.bytes) {
                self.bytes.drain(..end);
                from = 0;
                continue;
            }
            self.bytes.truncate(end);
            self.complete = true;
            return;
        }
    }

    /// The field lines of the copied head that hyper skipped for a control byte in their
    /// value. Empty when the head holds no such byte (the common case, checked first).
    pub(crate) fn invalid_lines(&self) -> Vec<InvalidLine> {
        invalid_lines(&self.bytes)
    }
}

/// The index just past the empty line ending a head that starts at 0, searching from `from`.
fn head_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(p) = bytes[i..].iter().position(|&b| b == b'\n') {
        let lf = i + p;
        let next = lf + 1;
        if bytes.get(next) == Some(&b'\n') {
            return Some(next + 1);
        }
        if bytes.get(next) == Some(&b'\r') && bytes.get(next + 1) == Some(&b'\n') {
            return Some(next + 2);
        }
        i = next;
    }
    None
}

/// Whether the head at the start of `bytes` is an interim 1xx response other than 101.
fn interim(bytes: &[u8]) -> bool {
    let status = bytes.get(9..12).unwrap_or_default();
    bytes.starts_with(b"HTTP/1.") && status.first() == Some(&b'1') && status != b"101"
}

fn is_ctl(b: u8) -> bool {
    (b < 0x20 && b != b'\t' && b != b'\r' && b != b'\n') || b == 0x7f
}

/// The field lines of `head` whose value holds a control byte other than HTAB, each with its
/// rank among its header's lines (hyper kept the others, in order, in the header map).
pub(crate) fn invalid_lines(head: &[u8]) -> Vec<InvalidLine> {
    if !head.starts_with(b"HTTP/1.") || !head.iter().copied().any(is_ctl) {
        return Vec::new();
    }
    let mut ranks: HashMap<HeaderName, usize> = HashMap::new();
    let mut out = Vec::new();
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        // An obs-fold continuation belongs to the line before; hyper joins valid ones.
        if line[0] == b' ' || line[0] == b'\t' {
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii_end();
        let Ok(name) = HeaderName::from_bytes(name) else {
            continue;
        };
        let value = trim_ows(&line[colon + 1..]);
        let rank = ranks.entry(name.clone()).or_insert(0);
        if value.iter().copied().any(is_ctl) && out.len() < MAX_LINES {
            out.push(InvalidLine {
                name,
                rank: *rank,
                value: Bytes::copy_from_slice(value),
            });
        }
        *rank += 1;
    }
    out
}

fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|&b| b != b' ' && b != b'\t');
    let end = v.iter().rposition(|&b| b != b' ' && b != b'\t');
    match (start, end) {
        (Some(s), Some(e)) => &v[s..=e],
        _ => &[],
    }
}

/// An IO that copies what it reads into a [`HeadCopy`].
#[derive(Debug)]
pub(crate) struct Tap<T> {
    inner: T,
    head: SharedHead,
}

impl<T> Tap<T> {
    pub(crate) fn new(inner: T) -> (Self, SharedHead) {
        let head = SharedHead::default();
        (
            Tap {
                inner,
                head: Arc::clone(&head),
            },
            head,
        )
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tap<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let read = &buf.filled()[before..];
            if !read.is_empty()
                && let Ok(mut head) = self.head.lock()
            {
                head.record(read);
            }
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tap<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(chunks: &[&[u8]]) -> HeadCopy {
        let mut h = HeadCopy::default();
        for c in chunks {
            h.record(c);
        }
        h
    }

    #[test]
    fn the_copy_ends_with_the_head_even_when_split_across_reads() {
        let h = copy(&[b"HTTP/1.1 200 OK\r\nA: 1\r", b"\n\r", b"\nbody bytes"]);
        assert!(h.complete);
        assert_eq!(h.bytes, b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\n");
        let h = copy(&[b"HTTP/1.1 200 OK\nA: 1\n\nbody"]);
        assert_eq!(h.bytes, b"HTTP/1.1 200 OK\nA: 1\n\n");
        let h = copy(&[b"HTTP/1.1 200 OK\r\nA: 1\r\n"]);
        assert!(!h.complete);
    }

    #[test]
    fn interim_heads_are_skipped_for_the_final_one() {
        let h = copy(&[
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\nbody",
        ]);
        assert!(h.complete);
        assert_eq!(h.bytes, b"HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n");
        assert_eq!(h.invalid_lines().len(), 1);
    }

    #[test]
    fn the_copy_is_bounded() {
        let mut h = HeadCopy::default();
        let filler = vec![b'a'; 64 * 1024];
        h.record(b"HTTP/1.1 200 OK\r\nX: ");
        for _ in 0..8 {
            h.record(&filler);
        }
        assert_eq!(h.bytes.len(), MAX_HEAD);
        assert!(!h.complete);
    }

    #[test]
    fn lines_with_control_bytes_are_found_with_their_rank() {
        let head = b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=\x01\r\nX-Frame-Options:  DENY\x7f \r\nx-frame-options: SAMEORIGIN\r\nBad\x01Name: v\x01\r\nTab: a\tb\r\n\r\n";
        let lines = invalid_lines(head);
        let got: Vec<(String, usize, Vec<u8>)> = lines
            .iter()
            .map(|l| (l.name.to_string(), l.rank, l.value.to_vec()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("set-cookie".into(), 1, b"b=\x01".to_vec()),
                ("x-frame-options".into(), 0, b"DENY\x7f".to_vec()),
            ]
        );
        assert!(invalid_lines(b"HTTP/1.1 200 OK\r\nTab: a\tb\r\n\r\n").is_empty());
    }
}
