//! A small web of loopback servers with scripted routes, shared by the finding tables:
//!
//! - `A`: HTTPS on 127.0.0.1, certificate from the test CA (valid)
//! - `B`: HTTPS on 127.0.0.2, certificate from the test CA (valid, another host)
//! - `C`: HTTPS on 127.0.0.1, certificate from a CA nobody trusts
//! - `E`: HTTPS on 127.0.0.1, expired certificate from the test CA
//! - `H`: plain HTTP on 127.0.0.1
//! - `closed`: a port where nothing listens
//!
//! Routes are `(path, response)` pairs per server; `{A}`, `{B}`, `{C}`, `{H}` and `{CLOSED}`
//! in header values are replaced by the servers' `host:port` at request time.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use super::{Leaf, Pki, Req, Resp, TestServer};

pub type Routes = Vec<(&'static str, Resp)>;

#[derive(Debug, Clone, Default)]
struct Addrs(HashMap<&'static str, String>);

pub struct Web {
    pub pki: Pki,
    pub a: TestServer,
    pub b: TestServer,
    pub c: TestServer,
    pub e: TestServer,
    pub h: TestServer,
    pub closed: u16,
}

fn substitute(resp: &Resp, addrs: &Addrs) -> Resp {
    let mut out = resp.clone();
    for (_, v) in &mut out.headers {
        // Other bytes (obs-text such as Latin-1) go out as written.
        let Ok(s) = std::str::from_utf8(v) else {
            continue;
        };
        let mut s = s.to_owned();
        for (k, a) in &addrs.0 {
            s = s.replace(&format!("{{{k}}}"), a);
        }
        *v = s.into_bytes();
    }
    out
}

fn router(
    routes: Routes,
    addrs: Arc<OnceLock<Addrs>>,
) -> impl Fn(&Req) -> Resp + Send + Sync + 'static {
    move |req: &Req| {
        let path = req.path.split('?').next().unwrap_or("");
        let addrs = addrs.get().cloned().unwrap_or_default();
        routes
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, r)| substitute(r, &addrs))
            .unwrap_or_else(|| Resp::new(404).body("not found"))
    }
}

impl Web {
    pub async fn start(a: Routes, b: Routes, c: Routes, h: Routes) -> Self {
        let pki = Pki::new();
        let addrs: Arc<OnceLock<Addrs>> = Arc::new(OnceLock::new());
        let a_srv = TestServer::https(
            "127.0.0.1",
            pki.server_config(&Leaf::valid(&["127.0.0.1", "localhost"])),
            router(a.clone(), Arc::clone(&addrs)),
        )
        .await;
        let b_srv = TestServer::https(
            "127.0.0.2",
            pki.server_config(&Leaf::valid(&["127.0.0.2"])),
            router(b, Arc::clone(&addrs)),
        )
        .await;
        let (chain, key) = Pki::new().leaf(&Leaf::valid(&["127.0.0.1"]));
        let c_srv = TestServer::https(
            "127.0.0.1",
            super::server_config(chain, key),
            router(c, Arc::clone(&addrs)),
        )
        .await;
        let e_srv = TestServer::https(
            "127.0.0.1",
            pki.server_config(&Leaf::expired(&["127.0.0.1"])),
            router(a, Arc::clone(&addrs)),
        )
        .await;
        let h_srv = TestServer::http("127.0.0.1", router(h, Arc::clone(&addrs))).await;
        let closed = super::closed_port("127.0.0.1").await;
        let mut map = HashMap::new();
        map.insert("A", a_srv.addr.to_string());
        map.insert("B", b_srv.addr.to_string());
        map.insert("C", c_srv.addr.to_string());
        map.insert("E", e_srv.addr.to_string());
        map.insert("H", h_srv.addr.to_string());
        map.insert("CLOSED", format!("127.0.0.1:{closed}"));
        let _ = addrs.set(Addrs(map));
        Web {
            pki,
            a: a_srv,
            b: b_srv,
            c: c_srv,
            e: e_srv,
            h: h_srv,
            closed,
        }
    }

    /// Only server A has routes (the usual case).
    pub async fn serving(a: Routes) -> Self {
        Self::start(a, Vec::new(), Vec::new(), Vec::new()).await
    }

    /// `https://{A}{path}`.
    pub fn a(&self, path: &str) -> String {
        self.a.url("https", path)
    }

    /// `http://{H}{path}`.
    pub fn h(&self, path: &str) -> String {
        self.h.url("http", path)
    }
}
