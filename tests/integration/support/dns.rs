//! A scripted DNS server on 127.0.0.1 (UDP), in process: every query goes to a handler that
//! answers records, NXDOMAIN, SERVFAIL, REFUSED, NODATA, nothing at all, or late. The resolver
//! under test is pointed at it through `resolver.nameservers`; nothing leaves loopback.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, CAA, CNAME, NS};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use tokio::net::UdpSocket;

/// What the server answers to one query.
#[derive(Debug, Clone)]
pub enum Answer {
    Records(Vec<Record>),
    NxDomain,
    ServFail,
    Refused,
    NoData,
    /// No reply at all (the client times out).
    Drop,
    /// NOERROR with no answer and an NS record for the name in the authority section: the
    /// delegation an authoritative server that does not recurse answers with.
    Referral,
    /// The answer, after a delay.
    Late(Duration, Box<Answer>),
}

pub type Zone = Arc<dyn Fn(&str, RecordType) -> Answer + Send + Sync>;

pub struct DnsServer {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<(String, RecordType)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn name(n: &str) -> Name {
    Name::from_ascii(format!("{}.", n.trim_end_matches('.'))).unwrap()
}

pub fn a(owner: &str, ip: &str) -> Record {
    let ip: IpAddr = ip.parse().unwrap();
    let data = match ip {
        IpAddr::V4(v4) => RData::A(A(v4)),
        IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
    };
    Record::from_rdata(name(owner), 300, data)
}

pub fn cname(owner: &str, target: &str) -> Record {
    Record::from_rdata(name(owner), 60, RData::CNAME(CNAME(name(target))))
}

pub fn caa(owner: &str, critical: bool, tag: &str, value: &str) -> Record {
    // Raw tag and value, so unknown tags and odd values can be served as written.
    let mut data = CAA::new_issue(critical, None, Vec::new());
    data.tag = tag.to_owned();
    data.value = value.as_bytes().to_vec();
    Record::from_rdata(name(owner), 3600, RData::CAA(data))
}

impl DnsServer {
    pub async fn start(zone: impl Fn(&str, RecordType) -> Answer + Send + Sync + 'static) -> Self {
        let zone: Zone = Arc::new(zone);
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let addr = socket.local_addr().unwrap();
        let log: Arc<Mutex<Vec<(String, RecordType)>>> = Arc::default();
        let log2 = Arc::clone(&log);
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let Some(q) = query.queries.first().cloned() else {
                    continue;
                };
                let qname = q
                    .name()
                    .to_ascii()
                    .trim_end_matches('.')
                    .to_ascii_lowercase();
                let qtype = q.query_type();
                log2.lock().unwrap().push((qname.clone(), qtype));
                let answer = zone(&qname, qtype);
                let socket = Arc::clone(&socket);
                tokio::spawn(async move {
                    let mut answer = answer;
                    while let Answer::Late(d, inner) = answer {
                        tokio::time::sleep(d).await;
                        answer = *inner;
                    }
                    let mut resp = Message::response(query.metadata.id, query.metadata.op_code);
                    resp.metadata.recursion_desired = query.metadata.recursion_desired;
                    resp.metadata.recursion_available = true;
                    let qname = q.name().clone();
                    resp.add_query(q);
                    match answer {
                        Answer::Records(r) => {
                            resp.add_answers(r);
                        }
                        Answer::NxDomain => resp.metadata.response_code = ResponseCode::NXDomain,
                        Answer::ServFail => resp.metadata.response_code = ResponseCode::ServFail,
                        Answer::Refused => resp.metadata.response_code = ResponseCode::Refused,
                        Answer::NoData => {}
                        Answer::Referral => {
                            resp.metadata.recursion_available = false;
                            let ns = RData::NS(NS(name("ns1.elsewhere.test")));
                            resp.add_authority(Record::from_rdata(qname, 3600, ns));
                        }
                        Answer::Drop | Answer::Late(..) => return,
                    }
                    if let Ok(bytes) = resp.to_vec() {
                        let _ = socket.send_to(&bytes, peer).await;
                    }
                });
            }
        });
        DnsServer { addr, log, task }
    }

    /// Queries received, in order.
    pub fn queries(&self) -> Vec<(String, RecordType)> {
        self.log.lock().unwrap().clone()
    }
}
