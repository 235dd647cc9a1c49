//! Bounded body reading and decompression (CHECKS.md §0.1: decompress gzip/br/deflate within
//! the caps; a heap dump can be gigabytes, so nothing is read past the cap).

use std::io::Read;

use bytes::Bytes;

/// Decodes `raw` per `Content-Encoding` (`gzip`, `x-gzip`, `deflate`, `br`), producing at most
/// `cap` bytes. Returns the decoded bytes and whether the output was cut at the cap. Unknown or
/// absent codings, and streams that fail before yielding anything, leave `raw` as it is.
pub(crate) fn decode(raw: Bytes, encoding: Option<&str>, cap: usize) -> (Bytes, bool) {
    let coding = encoding
        .and_then(|e| e.rsplit(',').next())
        .map(|e| e.trim().to_ascii_lowercase());
    let mut out = Vec::new();
    let result = match coding.as_deref() {
        Some("gzip" | "x-gzip") => {
            read_capped(flate2::read::MultiGzDecoder::new(&raw[..]), cap, &mut out)
        }
        Some("deflate") => {
            // RFC 9110 says zlib-wrapped, but some servers send raw deflate.
            let zlib = read_capped(flate2::read::ZlibDecoder::new(&raw[..]), cap, &mut out);
            if out.is_empty() {
                read_capped(flate2::read::DeflateDecoder::new(&raw[..]), cap, &mut out)
            } else {
                zlib
            }
        }
        Some("br") => read_capped(
            brotli_decompressor::Decompressor::new(&raw[..], 8192),
            cap,
            &mut out,
        ),
        _ => return (raw, false),
    };
    match result {
        Ok(truncated) => (Bytes::from(out), truncated),
        // A truncated or corrupt stream still yields what decoded before the error.
        Err(_) if !out.is_empty() => (Bytes::from(out), false),
        Err(_) => (raw, false),
    }
}

/// Reads at most `cap` bytes into `out`; `Ok(true)` when more was available.
fn read_capped(reader: impl Read, cap: usize, out: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut limited = reader.take(cap as u64 + 1);
    limited.read_to_end(out)?;
    if out.len() > cap {
        out.truncate(cap);
        return Ok(true);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Bytes {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        Bytes::from(e.finish().unwrap())
    }

    #[test]
    fn gzip_bomb_is_cut_at_the_cap() {
        let bomb = gzip(&vec![b'a'; 10 * 1024 * 1024]);
        let (out, truncated) = decode(bomb, Some("gzip"), 64 * 1024);
        assert_eq!(out.len(), 64 * 1024);
        assert!(truncated);
    }

    #[test]
    fn identity_and_unknown_codings_pass_through() {
        let raw = Bytes::from_static(b"hello");
        assert_eq!(decode(raw.clone(), None, 10).0, raw);
        assert_eq!(decode(raw.clone(), Some("zstd"), 10).0, raw);
    }

    #[test]
    fn truncated_gzip_keeps_the_decoded_prefix() {
        let text: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("{i:08} {}\n", i.wrapping_mul(2_654_435_761)).into_bytes())
            .collect();
        let full = gzip(&text);
        let cut = full.slice(..full.len() / 2);
        let (out, _) = decode(cut, Some("gzip"), 1 << 20);
        assert!(!out.is_empty());
        assert!(out.starts_with(b"00000000 0\n"));
    }

    #[test]
    fn corrupt_stream_keeps_raw_bytes() {
        let raw = Bytes::from_static(b"not gzip at all");
        assert_eq!(decode(raw.clone(), Some("gzip"), 100).0, raw);
    }
}
