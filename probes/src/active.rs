//! What the active probes (cors, paths, unknown_path, rate_limit) share: a [`Session`] that is
//! the only way they send requests. It enforces the safety rules in code: only the target's
//! host, only GET/HEAD/OPTIONS (POST only for a rate-limit probe), a per-run request budget,
//! one request in flight, and a halt at the first 429 or 503 with `Retry-After` (the target
//! goes into backoff, CHECKS.md §0.5). It reuses one connection per origin (ADR 0002).

use http::header;
use url::Url;

use crate::backoff;
use crate::context::ProbeContext;
use crate::evidence::{Exchange, Failure, Hop, Phase, latin1};
use crate::fetch::{Connection, RequestSpec};
use crate::probe::ProbeKind;
use crate::safety::method_allowed;
use crate::target::Target;

/// Why a session refused to send a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The run's request budget is spent.
    Budget,
    /// The method (or a body) is not allowed for this probe.
    Method,
    /// The URL is not on the target's host.
    OffTarget,
    /// An earlier response of this run was a 429 or a 503 with `Retry-After`.
    Backoff,
    /// The last [`FAILURES_BEFORE_GIVING_UP`] requests of this run got no response (refused,
    /// handshake failure), or one timed out: the rest of the run would only fail the same way
    /// or wait out more timeouts.
    Unreachable,
    /// A response of this run came over a connection whose certificate failed verification:
    /// the checks it feeds are `skipped (invalid_cert)` whatever else it sees (CHECKS.md
    /// §0.3, [`cert_gate`]), so the rest of the run would be traffic for nothing.
    InvalidCert,
}

impl Refusal {
    /// Low-cardinality name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Refusal::Budget => "budget_exhausted",
            Refusal::Method => "method_not_allowed",
            Refusal::OffTarget => "off_target",
            Refusal::Backoff => "backoff",
            Refusal::Unreachable => "unreachable",
            Refusal::InvalidCert => "invalid_cert",
        }
    }
}

/// One probe run's sending side.
pub(crate) struct Session<'a, 'c> {
    kind: ProbeKind,
    target: &'a Target,
    cx: &'a ProbeContext<'c>,
    conn: Option<(String, Connection)>,
    budget: usize,
    sent: usize,
    halted: bool,
    /// Requests in a row that got no response.
    failed_in_a_row: usize,
    /// Whether a kept-alive connection may carry the next request; off after one closed
    /// under a request it had carried.
    reuse: bool,
    /// A response came over a connection whose certificate failed ([`Refusal::InvalidCert`]).
    unverified: bool,
}

/// A run stops after this many requests in a row got no response.
pub const FAILURES_BEFORE_GIVING_UP: usize = 3;

/// `scheme://host:port` of a URL.
fn origin_key(url: &Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// Whether the server will close the connection after this response.
fn closes(e: &Exchange) -> bool {
    e.version == http::Version::HTTP_10
        || e.headers
            .get_all(header::CONNECTION)
            .iter()
            .any(|v| latin1(v.as_bytes()).to_ascii_lowercase().contains("close"))
}

impl<'a, 'c> Session<'a, 'c> {
    /// A session allowed to send at most `budget` requests.
    pub(crate) fn new(
        kind: ProbeKind,
        target: &'a Target,
        cx: &'a ProbeContext<'c>,
        budget: usize,
    ) -> Self {
        Session {
            kind,
            target,
            cx,
            conn: None,
            budget,
            sent: 0,
            halted: false,
            failed_in_a_row: 0,
            // A rate-limit burst opens a connection per request: a connection that closes
            // under a request is then the server's answer (CHECKS.md §12 step 5 stops there),
            // never an idle-close race worth a resend, which would send a POST body twice.
            reuse: kind != ProbeKind::RateLimit,
            unverified: false,
        }
    }

    /// Requests sent so far (each attempt counts).
    pub(crate) fn sent(&self) -> usize {
        self.sent
    }

    /// Whether a 429 or 503 with `Retry-After` stopped this run.
    pub(crate) fn halted(&self) -> bool {
        self.halted
    }

    /// Sends one request, or refuses to.
    pub(crate) async fn send(&mut self, spec: &RequestSpec<'_>) -> Result<Hop, Refusal> {
        if self.halted {
            return Err(Refusal::Backoff);
        }
        if self.failed_in_a_row >= FAILURES_BEFORE_GIVING_UP {
            return Err(Refusal::Unreachable);
        }
        if self.unverified {
            return Err(Refusal::InvalidCert);
        }
        let hop = self.send_checked(spec).await;
        // A rate-limit burst measures the limiter, which answers whatever the certificate:
        // it runs on.
        if let Ok(Ok(e)) = &hop
            && self.kind != ProbeKind::RateLimit
            && unverified(e)
        {
            self.unverified = true;
        }
        match &hop {
            // A body still trickling when the time ran out: the next request would wait as
            // long (a slow-drip server held the path sweep for 38 × 15 s).
            Ok(Ok(e)) if e.body_timed_out => self.failed_in_a_row = FAILURES_BEFORE_GIVING_UP,
            Ok(Ok(_)) => self.failed_in_a_row = 0,
            // A connect or handshake timeout already waited a full phase: the next request
            // would wait as long. A server that took the request and did not answer it in
            // time may only be slow on that path (Spring writes a whole heap dump before its
            // first byte): that counts as one failure, so three such in a row still stop.
            Ok(Err(f))
                if f.reason.ends_with("timeout")
                    && matches!(f.phase, Phase::Resolve | Phase::Connect | Phase::Tls) =>
            {
                self.failed_in_a_row = FAILURES_BEFORE_GIVING_UP;
            }
            Ok(Err(_)) => self.failed_in_a_row += 1,
            Err(_) => {}
        }
        hop
    }

    /// [`Session::send`] for a path that does not exist (a random token): it has nothing to
    /// compute, so a request that got no answer in time means the server leaves unknown paths
    /// hanging (browser-sync's UI port answers `/` and nothing else), and the rest of the run
    /// stops instead of waiting out two more request timeouts.
    pub(crate) async fn send_unknown(&mut self, spec: &RequestSpec<'_>) -> Result<Hop, Refusal> {
        let hop = self.send(spec).await;
        if matches!(&hop, Ok(Err(f)) if f.reason.ends_with("timeout")) {
            self.failed_in_a_row = FAILURES_BEFORE_GIVING_UP;
        }
        hop
    }

    async fn send_checked(&mut self, spec: &RequestSpec<'_>) -> Result<Hop, Refusal> {
        if !method_allowed(self.kind, &spec.method, spec.body.len()) {
            return Err(Refusal::Method);
        }
        if !self.target.same_host(spec.url) {
            return Err(Refusal::OffTarget);
        }
        let key = origin_key(spec.url);
        let mut reused = self.reuse
            && self
                .conn
                .as_ref()
                .is_some_and(|(k, c)| *k == key && !c.is_closed());
        loop {
            if self.sent >= self.budget {
                return Err(Refusal::Budget);
            }
            if !reused {
                self.conn = None;
                match self
                    .cx
                    .engine
                    .connect(
                        spec.url,
                        &self.target.tls,
                        self.target.pin_for(spec.url),
                        self.cx.deadline,
                    )
                    .await
                {
                    Ok(c) => self.conn = Some((key.clone(), c)),
                    Err(f) => return Ok(Err(f)),
                }
            }
            let Some((_, conn)) = self.conn.as_mut() else {
                return Ok(Err(not_connected(spec.url)));
            };
            self.sent += 1;
            match conn.send(self.cx.engine, spec, self.cx.deadline).await {
                Ok(e) => {
                    if closes(&e) || e.body_truncated {
                        self.conn = None;
                    }
                    if backoff::triggers(&e) {
                        self.halted = true;
                    }
                    return Ok(Ok(e));
                }
                // A kept-alive connection the server closed meanwhile, before the request was
                // written: open a new one, once. Nothing was sent on the dead one, so that
                // attempt does not count against the budget.
                Err(f) if reused && f.reason == crate::fetch::CLOSED_BEFORE_SENDING => {
                    self.sent -= 1;
                    reused = false;
                }
                // Closed after the request was written: a server that silently closes idle
                // connections (the request raced the close), or one whose handler read it and
                // crashed; nothing tells the two apart. Sent again once on a new connection,
                // and from then on every request of the run gets a new connection, so a
                // crashing handler sees at most one extra request per run, not one per request.
                // The server may have read the first attempt: it counts, and the resend goes
                // only when the budget has room for it.
                Err(f) if reused && self.reuse && f.reason == "connection_closed" => {
                    self.reuse = false;
                    reused = false;
                    if self.sent >= self.budget {
                        self.conn = None;
                        return Ok(Err(f));
                    }
                }
                Err(f) => {
                    self.conn = None;
                    return Ok(Err(f));
                }
            }
        }
    }
}

fn not_connected(url: &Url) -> Failure {
    Failure {
        url: url.clone(),
        phase: Phase::Connect,
        reason: "connect_error",
        detail: "no connection".into(),
        timings: Default::default(),
        tls: None,
    }
}

/// `n` random characters from `[a-z0-9]` (CHECKS.md §8, §13, §14).
pub(crate) fn token(n: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Every HTTPS response of `hops` whose certificate failed verification makes the run's
/// responses unfit for judging (CHECKS.md §0.3).
pub(crate) fn any_unverified<'e>(responses: impl IntoIterator<Item = &'e Exchange>) -> bool {
    responses.into_iter().any(unverified)
}

/// Whether `e` came over a connection whose certificate failed verification.
fn unverified(e: &Exchange) -> bool {
    e.tls.as_ref().is_some_and(|t| t.cert_failed())
}

/// The invalid-certificate rule of CHECKS.md §0.3 for checks that judge an active probe's
/// responses: `skipped(invalid_cert)` when the main fetch's certificate failed, or when one of
/// the probe's own HTTPS responses came over a connection whose certificate failed.
pub(crate) fn cert_gate<'e>(
    input: &crate::checks::CheckInput<'_>,
    own: impl IntoIterator<Item = &'e Exchange>,
) -> Result<(), crate::verdict::Judgement> {
    if let Err(crate::verdict::Judgement::Skipped(r)) = input.judged_response() {
        return Err(crate::verdict::Judgement::Skipped(r));
    }
    if any_unverified(own) {
        return Err(crate::verdict::Judgement::Skipped("invalid_cert"));
    }
    Ok(())
}

/// The error a check reports when its probe's run was stopped early.
pub(crate) fn stopped_judgement(
    stopped: Option<&'static str>,
) -> Result<(), crate::verdict::Judgement> {
    match stopped {
        Some("backoff") => Err(crate::verdict::Judgement::Error("rate_limited")),
        Some(other) => Err(crate::verdict::Judgement::Error(other)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_lowercase_alphanumeric() {
        let t = token(12);
        assert_eq!(t.len(), 12);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_ne!(token(12), token(12));
    }

    #[tokio::test]
    async fn refusals_happen_before_anything_is_sent() {
        use crate::resolve::Resolver;
        use crate::tls::TlsClient;
        use std::sync::Arc;
        let engine = crate::fetch::Engine::new(Resolver::hosts_only(), crate::USER_AGENT);
        let cx = ProbeContext {
            engine: &engine,
            // Port 9 on a documentation address: nothing may be dialled in this test.
            deadline: tokio::time::Instant::now() + std::time::Duration::from_millis(1),
        };
        let tls = Arc::new(TlsClient::new(&[]).unwrap());
        let target = Target::new("t", Url::parse("https://192.0.2.1:9/").unwrap(), tls).unwrap();
        let url = target.url.clone();
        let other = Url::parse("https://192.0.2.2:9/").unwrap();
        for kind in [ProbeKind::Cors, ProbeKind::Paths, ProbeKind::UnknownPath] {
            let mut s = Session::new(kind, &target, &cx, 10);
            let mut put = RequestSpec::get(&url, 10);
            put.method = http::Method::PUT;
            assert_eq!(s.send(&put).await.err(), Some(Refusal::Method));
            let mut post = RequestSpec::get(&url, 10);
            post.method = http::Method::POST;
            post.body = bytes::Bytes::from_static(b"x");
            assert_eq!(s.send(&post).await.err(), Some(Refusal::Method));
            let mut get_with_body = RequestSpec::get(&url, 10);
            get_with_body.body = bytes::Bytes::from_static(b"x");
            assert_eq!(s.send(&get_with_body).await.err(), Some(Refusal::Method));
            let off = RequestSpec::get(&other, 10);
            assert_eq!(s.send(&off).await.err(), Some(Refusal::OffTarget));
            assert_eq!(s.sent(), 0);
        }
        let mut s = Session::new(ProbeKind::RateLimit, &target, &cx, 0);
        assert_eq!(
            s.send(&RequestSpec::get(&url, 10)).await.err(),
            Some(Refusal::Budget)
        );
        assert_eq!(s.sent(), 0);
    }
}
