//! The network engine: resolve, connect, handshake and exchange, each phase timed and bounded.
//!
//! A convenience client hides what the checks need (ARCHITECTURE.md, network engine), so we dial
//! ourselves: hickory-resolver → `TcpStream` → tokio-rustls with the recording verifier → a
//! hyper client connection (HTTP/2 when ALPN selects it, else HTTP/1.1). A [`Connection`] can
//! carry several requests (multi-request probes reuse it as a kindness to the target); the
//! `fetch` and `health` probes open a fresh one per request.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};
use url::{Host, Url};

use super::body;
use super::tap::{SharedHead, Tap};
use crate::evidence::{Credential, Exchange, Failure, Phase, Timings};
use crate::resolve::Resolver;
use crate::tls::{TlsClient, TlsFacts};

/// TCP connect limit (CHECKS.md §0.1).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// TLS handshake limit (CHECKS.md §0.1).
pub const TLS_TIMEOUT: Duration = Duration::from_secs(5);
/// Request limit, head and body (CHECKS.md §0.1).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// At most this many resolved addresses are tried in turn.
pub const MAX_ADDRESSES: usize = 4;
/// Response head limits: a hostile server cannot make us buffer without bound.
/// (Browsers accept far more than hyper's default of 100 field lines; a site that sets a few
/// hundred cookies is still a site, not an outage.)
const MAX_HEADERS: usize = 1024;
const MAX_HEADER_BYTES: usize = 256 * 1024;

/// The long-lived part of the engine: resolver and User-Agent, built once per process.
#[derive(Debug)]
pub struct Engine {
    resolver: Resolver,
    user_agent: HeaderValue,
}

/// One request to send on a [`Connection`].
#[derive(Debug)]
pub struct RequestSpec<'a> {
    /// Method (GET, HEAD, OPTIONS; POST only for a configured rate-limit probe).
    pub method: Method,
    /// URL; its scheme, host and port must be the connection's.
    pub url: &'a Url,
    /// Probe-specific headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Configured credential headers: sent only if the connection's certificate verified.
    pub credentials: &'a [Credential],
    /// Request body (empty for everything but a configured rate-limit POST).
    pub body: Bytes,
    /// Body cap after decompression.
    pub body_cap: usize,
}

impl<'a> RequestSpec<'a> {
    /// A `GET` with no extra headers.
    pub fn get(url: &'a Url, body_cap: usize) -> Self {
        RequestSpec {
            method: Method::GET,
            url,
            headers: Vec::new(),
            credentials: &[],
            body: Bytes::new(),
            body_cap,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: HeaderName, value: &'static str) -> Self {
        self.headers.push((name, HeaderValue::from_static(value)));
        self
    }
}

enum Sender {
    /// HTTP/1.1, with the copy of each response head its IO keeps (`tap`).
    H1(http1::SendRequest<Full<Bytes>>, SharedHead),
    H2(http2::SendRequest<Full<Bytes>>),
}

impl Sender {
    /// Sends `req`; on failure, whether the request went out: a connection that was closed
    /// before hyper wrote anything hands the request back (a stale kept-alive connection),
    /// while a server that read the request and then closed (a handler that crashed) got it.
    async fn send(
        &mut self,
        req: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, (hyper::Error, bool)> {
        let result = match self {
            Sender::H1(s, head) => {
                if let Err(e) = s.ready().await {
                    return Err((e, false));
                }
                if let Ok(mut h) = head.lock() {
                    h.reset();
                }
                s.try_send_request(req).await
            }
            Sender::H2(s) => {
                if let Err(e) = s.ready().await {
                    return Err((e, false));
                }
                s.try_send_request(req).await
            }
        };
        result.map_err(|mut e| {
            let sent = e.take_message().is_none();
            (e.into_error(), sent)
        })
    }

    fn is_closed(&self) -> bool {
        match self {
            Sender::H1(s, _) => s.is_closed(),
            Sender::H2(s) => s.is_closed(),
        }
    }
}

/// An open connection to one origin.
pub struct Connection {
    sender: Sender,
    origin: Url,
    tls: Option<Arc<TlsFacts>>,
    remote: SocketAddr,
    /// Phases of opening the connection, charged to the first request.
    opening: Option<Timings>,
    driver: JoinHandle<()>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("origin", &self.origin.as_str())
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

fn failure(
    url: &Url,
    phase: Phase,
    reason: &'static str,
    detail: String,
    timings: Timings,
) -> Failure {
    Failure {
        url: url.clone(),
        phase,
        reason,
        detail,
        timings,
        tls: None,
    }
}

fn io_reason(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionRefused => "connect_refused",
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => "connect_unreachable",
        ErrorKind::TimedOut => "connect_timeout",
        _ => "connect_error",
    }
}

impl Engine {
    /// Creates the engine.
    ///
    /// # Panics
    ///
    /// Never: an invalid `user_agent` falls back to the crate's default.
    pub fn new(resolver: Resolver, user_agent: &str) -> Self {
        let user_agent = HeaderValue::from_str(user_agent)
            .unwrap_or_else(|_| HeaderValue::from_static(crate::USER_AGENT));
        Engine {
            resolver,
            user_agent,
        }
    }

    /// The shared resolver.
    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// Opens a connection to `url`'s origin: resolve (unless `pin` is given or the host is an IP
    /// literal), connect, and for `https` run the recording TLS handshake.
    ///
    /// # Errors
    ///
    /// A [`Failure`] naming the phase and a low-cardinality reason; for a failed TLS handshake
    /// it carries the chain if one was presented.
    pub async fn connect(
        &self,
        url: &Url,
        tls: &TlsClient,
        pin: Option<IpAddr>,
        deadline: Instant,
    ) -> Result<Connection, Failure> {
        let mut timings = Timings::default();
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => {
                return Err(failure(
                    url,
                    Phase::Connect,
                    "unsupported_scheme",
                    format!("scheme {other} is not http or https"),
                    timings,
                ));
            }
        };
        let port = url
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 });
        let host = url.host().ok_or_else(|| {
            failure(
                url,
                Phase::Resolve,
                "invalid_url",
                "URL has no host".into(),
                timings,
            )
        })?;

        let addrs: Vec<IpAddr> = match (pin, &host) {
            (Some(ip), _) => vec![ip],
            (None, Host::Ipv4(ip)) => vec![IpAddr::V4(*ip)],
            (None, Host::Ipv6(ip)) => vec![IpAddr::V6(*ip)],
            (None, Host::Domain(name)) => {
                let t0 = Instant::now();
                let looked_up = timeout_at(deadline, self.resolver.lookup_ip(name)).await;
                timings.resolve = t0.elapsed();
                match looked_up {
                    Ok(Ok(addrs)) => addrs,
                    Ok(Err(f)) => {
                        return Err(failure(url, Phase::Resolve, f.reason, f.detail, timings));
                    }
                    Err(_) => {
                        return Err(failure(
                            url,
                            Phase::Resolve,
                            "timeout",
                            format!("resolving {name} timed out"),
                            timings,
                        ));
                    }
                }
            }
        };

        // Each address gets its own connect limit and a dead one does not hide the next (a
        // browser moves on too); the run's deadline bounds the whole walk.
        let t0 = Instant::now();
        let mut last = ("connect_error", String::from("no address to connect to"));
        let mut connected = None;
        for ip in addrs.iter().take(MAX_ADDRESSES) {
            let addr = SocketAddr::new(*ip, port);
            let connect_deadline = deadline.min(Instant::now() + CONNECT_TIMEOUT);
            match timeout_at(connect_deadline, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => {
                    connected = Some((stream, addr));
                    break;
                }
                Ok(Err(e)) => last = (io_reason(&e), format!("connecting to {addr}: {e}")),
                Err(_) => {
                    last = ("connect_timeout", format!("connecting to {addr} timed out"));
                    if Instant::now() >= deadline {
                        break;
                    }
                }
            }
        }
        timings.connect = t0.elapsed();
        let Some((tcp, remote)) = connected else {
            return Err(failure(url, Phase::Connect, last.0, last.1, timings));
        };
        let _ = tcp.set_nodelay(true);

        let mut origin = url.clone();
        origin.set_path("/");
        origin.set_query(None);
        origin.set_fragment(None);

        if !https {
            let (sender, driver) = http_handshake(tcp, false).await.map_err(|e| {
                failure(
                    url,
                    Phase::Processing,
                    "http_protocol",
                    e.to_string(),
                    timings,
                )
            })?;
            return Ok(Connection {
                sender,
                origin,
                tls: None,
                remote,
                opening: Some(timings),
                driver,
            });
        }

        let server_name = match &host {
            Host::Domain(name) => ServerName::try_from(name.to_string()).map_err(|e| {
                failure(
                    url,
                    Phase::Tls,
                    "invalid_url",
                    format!("{name} is not a valid TLS server name: {e}"),
                    timings,
                )
            })?,
            Host::Ipv4(ip) => ServerName::IpAddress(IpAddr::V4(*ip).into()),
            Host::Ipv6(ip) => ServerName::IpAddress(IpAddr::V6(*ip).into()),
        };
        let t0 = Instant::now();
        let tls_deadline = deadline.min(t0 + TLS_TIMEOUT);
        let handshake = timeout_at(tls_deadline, tls.handshake(server_name, tcp)).await;
        timings.tls = t0.elapsed();
        let (stream, facts) = match handshake {
            Ok((Ok(stream), facts)) => (stream, Arc::new(facts)),
            Ok((Err(e), facts)) => {
                let mut f = failure(
                    url,
                    Phase::Tls,
                    if facts.client_cert_missing {
                        "client_cert_required"
                    } else {
                        "tls_handshake"
                    },
                    crate::tls::handshake_failure_detail(remote, &e, &facts),
                    timings,
                );
                f.tls = Some(Arc::new(facts));
                return Err(f);
            }
            Err(_) => {
                return Err(failure(
                    url,
                    Phase::Tls,
                    "tls_timeout",
                    format!("TLS handshake with {remote} timed out"),
                    timings,
                ));
            }
        };
        let h2 = facts.alpn.as_deref() == Some("h2");
        let (sender, driver) = http_handshake(stream, h2).await.map_err(|e| {
            let mut f = failure(
                url,
                Phase::Processing,
                "http_protocol",
                e.to_string(),
                timings,
            );
            f.tls = Some(Arc::clone(&facts));
            f
        })?;
        Ok(Connection {
            sender,
            origin,
            tls: Some(facts),
            remote,
            opening: Some(timings),
            driver,
        })
    }

    /// Opens a fresh connection and sends one request on it.
    ///
    /// # Errors
    ///
    /// A [`Failure`] as for [`Engine::connect`] and [`Connection::send`].
    pub async fn exchange(
        &self,
        spec: &RequestSpec<'_>,
        tls: &TlsClient,
        pin: Option<IpAddr>,
        deadline: Instant,
    ) -> Result<Exchange, Failure> {
        let mut conn = self.connect(spec.url, tls, pin, deadline).await?;
        conn.send(self, spec, deadline).await
    }
}

async fn http_handshake<T>(io: T, h2: bool) -> hyper::Result<(Sender, JoinHandle<()>)>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    if h2 {
        let (sender, conn) = http2::Builder::new(TokioExecutor::new())
            .max_header_list_size(MAX_HEADER_BYTES as u32)
            .handshake(TokioIo::new(io))
            .await?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok((Sender::H2(sender), driver))
    } else {
        let (tapped, head) = Tap::new(io);
        // A field line with a control byte in its value is skipped rather than failing the
        // response; the tap's copy of the head gives it back as an invalid line (CHECKS.md §0.2).
        let (sender, conn) = http1::Builder::new()
            .max_headers(MAX_HEADERS)
            .max_buf_size(MAX_HEADER_BYTES)
            .allow_obsolete_multiline_headers_in_responses(true)
            .allow_spaces_after_header_name_in_responses(true)
            .ignore_invalid_headers_in_responses(true)
            .handshake(TokioIo::new(tapped))
            .await?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok((Sender::H1(sender, head), driver))
    }
}

/// The failure reason of a request that never left: the connection (a kept-alive one the
/// server had closed) was gone before hyper wrote it. Safe to send again on a new connection.
pub const CLOSED_BEFORE_SENDING: &str = "closed_before_sending";

fn hyper_reason(e: &hyper::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_parse() {
        "http_protocol"
    } else if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        "connection_closed"
    } else {
        "http_error"
    }
}

impl Connection {
    /// TLS facts of this connection (`None` for plain HTTP).
    pub fn tls(&self) -> Option<&Arc<TlsFacts>> {
        self.tls.as_ref()
    }

    /// The address connected to.
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// Whether the peer has closed the connection (a server that closes after every response
    /// without saying `Connection: close`): it cannot carry another request.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Sends one request and reads the response, the body up to `spec.body_cap`.
    ///
    /// Credential headers are attached only when this is an HTTPS connection whose certificate
    /// verified. A body that stalls or breaks after the head keeps the response, marked
    /// truncated.
    ///
    /// # Errors
    ///
    /// A [`Failure`] when no response head arrives.
    pub async fn send(
        &mut self,
        engine: &Engine,
        spec: &RequestSpec<'_>,
        deadline: Instant,
    ) -> Result<Exchange, Failure> {
        let fresh = self.opening.is_some();
        let mut timings = self.opening.take().unwrap_or_default();
        let url = spec.url;
        let request_deadline = deadline.min(Instant::now() + REQUEST_TIMEOUT);
        let send_credentials =
            !spec.credentials.is_empty() && self.tls.as_ref().is_some_and(|t| t.verified());
        let request = self
            .build_request(engine, spec, send_credentials)
            .map_err(|detail| {
                failure(url, Phase::Processing, "invalid_request", detail, timings)
            })?;

        let t0 = Instant::now();
        let sent = timeout_at(request_deadline, self.sender.send(request)).await;
        timings.processing = t0.elapsed();
        let response = match sent {
            Ok(Ok(r)) => r,
            Ok(Err((e, sent))) => {
                // A TLS 1.3 server that wants a client certificate learns there is none only
                // after the client's Finished, and ends the connection (alert 116
                // certificate_required), before or after the request went out.
                let mtls = self.tls.as_ref().is_some_and(|t| t.client_cert_missing);
                let (reason, detail) = if mtls {
                    (
                        "client_cert_required",
                        format!("{e}{}", crate::tls::CLIENT_CERT_HINT),
                    )
                } else if !sent {
                    // On a new connection the server itself hung up at once: often a port
                    // that speaks something else, which may have written a banner first.
                    let who = if fresh {
                        "the server hung up on the new connection before the request was sent, as a port that speaks another protocol does"
                    } else {
                        "the connection closed before the request was sent"
                    };
                    (CLOSED_BEFORE_SENDING, format!("{who}: {e}"))
                } else {
                    (hyper_reason(&e), e.to_string())
                };
                let mut f = failure(url, Phase::Processing, reason, detail, timings);
                f.tls = self.tls.clone();
                return Err(f);
            }
            Err(_) => {
                let mut f = failure(
                    url,
                    Phase::Processing,
                    "timeout",
                    "no response head before the deadline".into(),
                    timings,
                );
                f.tls = self.tls.clone();
                return Err(f);
            }
        };
        let (parts, mut incoming) = response.into_parts();
        let invalid_lines = match &self.sender {
            Sender::H1(_, head) => head.lock().map(|h| h.invalid_lines()).unwrap_or_default(),
            Sender::H2(_) => Vec::new(),
        };

        let t1 = Instant::now();
        let mut raw = BytesMut::new();
        let mut truncated = false;
        let mut timed_out = false;
        if spec.method != Method::HEAD {
            loop {
                match timeout_at(request_deadline, incoming.frame()).await {
                    Ok(Some(Ok(frame))) => {
                        if let Ok(data) = frame.into_data() {
                            let room = spec.body_cap.saturating_sub(raw.len());
                            if data.len() > room {
                                raw.extend_from_slice(&data[..room]);
                                truncated = true;
                                break;
                            }
                            raw.extend_from_slice(&data);
                        }
                    }
                    Ok(None) => break,
                    Ok(Some(Err(_))) => {
                        truncated = true;
                        break;
                    }
                    Err(_) => {
                        truncated = true;
                        timed_out = true;
                        break;
                    }
                }
            }
        }
        timings.transfer = t1.elapsed();

        let encoding = parts
            .headers
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok());
        let (body, cut) = body::decode(raw.freeze(), encoding, spec.body_cap);
        let mut exchange = Exchange {
            method: spec.method.clone(),
            url: url.clone(),
            remote: Some(self.remote),
            version: parts.version,
            status: parts.status.as_u16(),
            headers: parts.headers,
            invalid_lines,
            body,
            body_truncated: truncated || cut,
            body_timed_out: timed_out,
            timings,
            tls: self.tls.clone(),
            credentials_sent: send_credentials,
            html: None,
        };
        exchange.html = exchange.parse_html().map(Arc::new);
        Ok(exchange)
    }

    fn build_request(
        &self,
        engine: &Engine,
        spec: &RequestSpec<'_>,
        send_credentials: bool,
    ) -> Result<Request<Full<Bytes>>, String> {
        let url = spec.url;
        let mut target = url.path().to_owned();
        if let Some(q) = url.query() {
            target.push('?');
            target.push_str(q);
        }
        let authority = authority(url);
        let uri: Uri = match self.sender {
            Sender::H1(..) => target.parse(),
            Sender::H2(_) => format!("{}://{}{}", url.scheme(), authority, target).parse(),
        }
        .map_err(|e| format!("invalid request target {target}: {e}"))?;
        let mut builder = Request::builder().method(spec.method.clone()).uri(uri);
        if let Sender::H1(..) = self.sender {
            builder = builder.header(header::HOST, authority);
        }
        builder = builder.header(header::USER_AGENT, engine.user_agent.clone());
        let has = |name: &HeaderName| spec.headers.iter().any(|(n, _)| n == name);
        if !has(&header::ACCEPT_ENCODING) {
            builder = builder.header(header::ACCEPT_ENCODING, "gzip, deflate, br");
        }
        for (name, value) in &spec.headers {
            builder = builder.header(name, value);
        }
        if send_credentials {
            for c in spec.credentials {
                builder = builder.header(&c.name, &c.value);
            }
        }
        builder
            .body(Full::new(spec.body.clone()))
            .map_err(|e| e.to_string())
    }
}

/// `host[:port]` as sent in `Host` / `:authority` (port only when not the scheme default).
fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}
