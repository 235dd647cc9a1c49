//! `dns` (CHECKS.md §16): every finding id against a scripted DNS server on loopback (the
//! resolver points at it through `resolver.nameservers`), and CAA judged against the leaf a
//! real TLS handshake saw.

use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::proto::rr::RecordType;
use probes::probe::ProbeKind;
use probes::tls::TlsClient;
use probes::verdict::{Status, Verdict};
use rcgen::DnType;

use crate::support::dns::{Answer, DnsServer, a, caa, cname};
use crate::support::{
    Leaf, Pki, Resp, TestServer, engine_with_dns, evaluate_with, ids, run_of, target,
};

fn zone(name: &str, ty: RecordType) -> Answer {
    use RecordType::{A, AAAA, CAA, CNAME};
    let recs = |r: Vec<hickory_resolver::proto::rr::Record>| Answer::Records(r);
    match (name, ty) {
        ("example.test", CAA) => recs(vec![
            caa("example.test", false, "issue", "letsencrypt.org"),
            caa("example.test", false, "iodef", "mailto:pki@example.test"),
        ]),
        ("good.example.test", A) => recs(vec![a("good.example.test", "127.0.0.1")]),
        ("good.example.test", AAAA) => recs(vec![a("good.example.test", "::1")]),
        ("www.example.test", A) => recs(vec![
            cname("www.example.test", "good.example.test"),
            a("good.example.test", "127.0.0.1"),
        ]),
        ("www.example.test", AAAA) => recs(vec![
            cname("www.example.test", "good.example.test"),
            a("good.example.test", "::1"),
        ]),
        ("nx.example.test", A | AAAA | CAA) => Answer::NxDomain,
        ("fail.example.test", A | AAAA) => Answer::ServFail,
        ("v4only.example.test", A) => recs(vec![a("v4only.example.test", "127.0.0.1")]),
        ("v6only.example.test", AAAA) => recs(vec![a("v6only.example.test", "::1")]),
        // Two days of TTL, and a server that answers NXDOMAIN for AAAA only.
        ("v4nx6.example.test", A) => {
            let mut r = a("v4nx6.example.test", "127.0.0.1");
            r.ttl = 172_800;
            recs(vec![r])
        }
        ("v4nx6.example.test", AAAA) => Answer::NxDomain,
        // Authoritative servers that SERVFAIL AAAA while A resolves.
        ("v6fail.example.test", A) => recs(vec![a("v6fail.example.test", "127.0.0.1")]),
        ("v6fail.example.test", AAAA) => Answer::ServFail,
        ("slow.example.test", A) => Answer::Late(
            Duration::from_millis(1300),
            Box::new(recs(vec![a("slow.example.test", "127.0.0.1")])),
        ),
        ("slow.example.test", AAAA) => Answer::Late(
            Duration::from_millis(1300),
            Box::new(recs(vec![a("slow.example.test", "::1")])),
        ),
        ("critical.example.test", A) => recs(vec![a("critical.example.test", "127.0.0.1")]),
        ("critical.example.test", AAAA) => recs(vec![a("critical.example.test", "::1")]),
        ("critical.example.test", CAA) => recs(vec![
            caa("critical.example.test", false, "issue", "letsencrypt.org"),
            caa("critical.example.test", true, "tbs", "unknown"),
        ]),
        ("caafail.example.test", A) => recs(vec![a("caafail.example.test", "127.0.0.1")]),
        ("caafail.example.test", AAAA) => recs(vec![a("caafail.example.test", "::1")]),
        ("caafail.example.test", CAA) => Answer::ServFail,
        ("bare.other.test", A) => recs(vec![a("bare.other.test", "127.0.0.1")]),
        ("bare.other.test", AAAA) => recs(vec![a("bare.other.test", "::1")]),
        ("le.pki.test", A) => recs(vec![a("le.pki.test", "127.0.0.1")]),
        ("pki.test", CAA) => recs(vec![caa("pki.test", false, "issue", "pki.goog")]),
        ("lewild.pki.test", A) => recs(vec![a("lewild.pki.test", "127.0.0.1")]),
        ("lewild.pki.test", CAA) => recs(vec![
            caa("lewild.pki.test", false, "issue", "letsencrypt.org"),
            caa("lewild.pki.test", false, "issuewild", ";"),
        ]),
        ("mixed.pki.test", A) => recs(vec![a("mixed.pki.test", "127.0.0.1")]),
        ("mixed.pki.test", CAA) => recs(vec![
            caa("mixed.pki.test", false, "issue", "pki.goog"),
            caa("mixed.pki.test", false, "issuewild", "letsencrypt.org"),
        ]),
        // A CNAME to a name that does not exist, one to a name without address, and a loop
        // (authoritative servers such as Knot and NSD answer a loop with NOERROR).
        ("dangling.example.test", A | AAAA) | ("gone.example.test", _) => Answer::NxDomain,
        ("dangling.example.test", CNAME) => recs(vec![cname(name, "gone.example.test")]),
        ("toempty.example.test", CNAME) => recs(vec![cname(name, "txtonly.example.test")]),
        ("loop.example.test", CNAME) => recs(vec![cname(name, "loop2.example.test")]),
        ("loop2.example.test", CNAME) => recs(vec![cname(name, "loop.example.test")]),
        // 35 issue records (more than the 32 once kept), then a critical unknown tag: the whole
        // RRset is judged.
        ("many.example.test", A) => recs(vec![a(name, "127.0.0.1")]),
        ("many.example.test", CAA) => {
            let mut r: Vec<_> = (0..35)
                .map(|i| caa(name, false, "issue", &format!("c{i}.ca")))
                .collect();
            r.push(caa(name, true, "tbs", "unknown"));
            recs(r)
        }
        // A nameserver that does not recurse answers other zones with a delegation.
        ("lame.example.test", _) => Answer::Referral,
        ("silent.example.test", _) => Answer::Drop,
        _ => Answer::NoData,
    }
}

async fn dns_verdict(
    server: &DnsServer,
    url: &str,
    customise: impl FnOnce(&mut probes::target::Target),
) -> Verdict {
    let engine = engine_with_dns(server.addr, Duration::from_secs(3));
    let mut t = target(url, Arc::new(TlsClient::new(&[]).unwrap()), None);
    t.checks.retain(|c| c.id == "dns");
    customise(&mut t);
    let (_, mut verdicts) = evaluate_with(&engine, &t).await;
    verdicts.remove(0)
}

fn sorted(v: &Verdict) -> Vec<&'static str> {
    let mut i = ids(v);
    i.sort_unstable();
    i
}

fn gauge(v: &Verdict, name: &str) -> f64 {
    v.measurements
        .iter()
        .find(|m| m.gauge.name == name)
        .unwrap_or_else(|| panic!("{name}: {:?}", v.measurements))
        .value
}

#[tokio::test(flavor = "multi_thread")]
async fn every_resolution_and_caa_finding_from_a_local_dns_server() {
    let server = DnsServer::start(zone).await;
    let cases: &[(&str, &[&str], Status)] = &[
        ("good.example.test", &[], Status::Pass),
        ("www.example.test", &[], Status::Pass),
        ("nx.example.test", &["nxdomain"], Status::Fail),
        ("fail.example.test", &["resolution_failed"], Status::Fail),
        ("empty.example.test", &["no_address"], Status::Fail),
        ("v4only.example.test", &["no_ipv6"], Status::Pass),
        ("v6only.example.test", &["no_ipv4"], Status::Pass),
        ("v4nx6.example.test", &["no_ipv6"], Status::Pass),
        // One family failing is no outage: the host resolves.
        ("v6fail.example.test", &["no_ipv6"], Status::Pass),
        ("slow.example.test", &["slow_resolution"], Status::Pass),
        (
            "critical.example.test",
            &["caa_unknown_critical"],
            Status::Fail,
        ),
        ("caafail.example.test", &["caa_lookup_failed"], Status::Fail),
        ("bare.other.test", &["caa_missing"], Status::Pass),
        ("dangling.example.test", &["nxdomain"], Status::Fail),
        ("toempty.example.test", &["no_address"], Status::Fail),
        (
            "loop.example.test",
            &["caa_lookup_failed", "resolution_failed"],
            Status::Fail,
        ),
        (
            "many.example.test",
            &["caa_unknown_critical", "no_ipv6"],
            Status::Fail,
        ),
    ];
    for (host, want, status) in cases {
        let v = dns_verdict(&server, &format!("https://{host}/"), |_| {}).await;
        let mut want = want.to_vec();
        want.sort_unstable();
        assert_eq!(sorted(&v), want, "{host}: {:?}", v.findings);
        assert_eq!(v.status, *status, "{host}: {:?}", v.findings);
    }
    let v = dns_verdict(&server, "https://v6fail.example.test/", |_| {}).await;
    assert!(
        v.findings[0].evidence.contains("AAAA") && v.findings[0].evidence.contains("servfail"),
        "the failed lookup stays named: {}",
        v.findings[0].evidence
    );
    assert_eq!(gauge(&v, "dns_resolve_success"), 1.0);
    // TTLs as served, not clamped to the resolver cache's one day.
    let v = dns_verdict(&server, "https://v4nx6.example.test/", |_| {}).await;
    assert_eq!(gauge(&v, "dns_min_ttl_seconds"), 172_800.0);
    let v = dns_verdict(&server, "https://nx.example.test/", |_| {}).await;
    assert!(
        v.findings[0].evidence.contains("NXDOMAIN") && !v.findings[0].evidence.contains("Query {"),
        "evidence in DNS terms, not the resolver's internals: {}",
        v.findings[0].evidence
    );

    // A name without address that is a CNAME: the evidence names the chain and its end.
    for (host, want) in [
        (
            "dangling.example.test",
            "dangling.example.test → gone.example.test); gone.example.test does not exist",
        ),
        (
            "toempty.example.test",
            "toempty.example.test → txtonly.example.test); txtonly.example.test has no A or AAAA",
        ),
        (
            "loop.example.test",
            "cname_loop (loop.example.test → loop2.example.test → loop.example.test)",
        ),
    ] {
        let v = dns_verdict(&server, &format!("https://{host}/"), |_| {}).await;
        assert!(
            v.findings[0].evidence.contains(want),
            "{host}: {}",
            v.findings[0].evidence
        );
    }
    let v = dns_verdict(&server, "https://many.example.test/", |_| {}).await;
    assert_eq!(gauge(&v, "dns_caa_issuers"), 35.0);
    let v = dns_verdict(&server, "https://lame.example.test/", |_| {}).await;
    assert_eq!(
        (v.status, v.reason),
        (Status::Error, Some("resolver_not_recursive")),
        "{:?}",
        v.findings
    );

    let v = dns_verdict(&server, "https://www.example.test/", |_| {}).await;
    assert_eq!(gauge(&v, "dns_cname_chain_length"), 1.0);
    assert_eq!(gauge(&v, "dns_resolve_success"), 1.0);
    assert_eq!(gauge(&v, "dns_caa_present"), 1.0);
    assert_eq!(
        gauge(&v, "dns_caa_relevant_depth"),
        1.0,
        "found on example.test"
    );
    assert_eq!(gauge(&v, "dns_caa_issuers"), 1.0);
    assert_eq!(gauge(&v, "dns_caa_iodef_present"), 1.0);
    assert_eq!(gauge(&v, "dns_min_ttl_seconds"), 60.0);
    let records: Vec<(String, f64)> = v
        .measurements
        .iter()
        .filter(|m| m.gauge.name == "dns_records")
        .map(|m| (m.labels[0].clone(), m.value))
        .collect();
    assert_eq!(
        records,
        [("ipv4".to_owned(), 1.0), ("ipv6".to_owned(), 1.0)]
    );
    // CAA climbed from the host to its parent.
    let caa_names: Vec<String> = server
        .queries()
        .into_iter()
        .filter(|(_, t)| *t == RecordType::CAA)
        .map(|(n, _)| n)
        .collect();
    assert!(
        caa_names.contains(&"www.example.test".to_owned()),
        "{caa_names:?}"
    );
    assert!(
        caa_names.contains(&"example.test".to_owned()),
        "{caa_names:?}"
    );
    let v = dns_verdict(&server, "https://bare.other.test/", |_| {}).await;
    assert!(
        server
            .queries()
            .iter()
            .any(|(n, t)| n == "test" && *t == RecordType::CAA),
        "the TLD is asked"
    );
    assert!(
        !server.queries().iter().any(|(n, _)| n.is_empty()),
        "never the root"
    );
    assert_eq!(gauge(&v, "dns_caa_present"), 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn pinned_and_ip_targets_skip_unless_enabled() {
    let server = DnsServer::start(zone).await;
    let v = dns_verdict(&server, "https://good.example.test/", |t| {
        t.resolve = Some("127.0.0.9".parse().unwrap());
    })
    .await;
    assert_eq!(
        (v.status, v.reason),
        (Status::Skipped, Some("address_pinned"))
    );
    let v = dns_verdict(&server, "https://good.example.test/", |t| {
        t.resolve = Some("127.0.0.9".parse().unwrap());
        t.options.dns.when_pinned = true;
    })
    .await;
    assert_eq!(v.status, Status::Pass, "{:?}", v.findings);
    let v = dns_verdict(&server, "https://127.0.0.1/", |_| {}).await;
    assert_eq!((v.status, v.reason), (Status::Skipped, Some("ip_address")));
    // RFC 6761 §6.3: localhost never reaches DNS, so no DNS or CAA rule applies.
    for url in ["https://localhost:8443/", "https://app.localhost/"] {
        let v = dns_verdict(&server, url, |_| {}).await;
        assert_eq!(
            (v.status, v.reason),
            (Status::Skipped, Some("localhost")),
            "{url}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn caa_blocks_the_ca_of_the_leaf_the_tls_probe_saw() {
    let server = DnsServer::start(zone).await;
    // A CA that names itself like Let's Encrypt's intermediates.
    let le = Pki::named(&[
        (DnType::OrganizationName, "Let's Encrypt"),
        (DnType::CommonName, "R10"),
    ]);
    let engine = engine_with_dns(server.addr, Duration::from_secs(3));
    for (host, names, want) in [
        ("le.pki.test", vec!["le.pki.test"], true),
        // issuewild ";" forbids wildcards; a plain leaf is still allowed by issue.
        ("lewild.pki.test", vec!["lewild.pki.test"], false),
        (
            "lewild.pki.test",
            vec!["*.pki.test", "lewild.pki.test"],
            true,
        ),
        // issuewild allows the wildcard name, issue forbids the plain one (CHECKS.md §16).
        (
            "mixed.pki.test",
            vec!["mixed.pki.test", "*.mixed.pki.test"],
            true,
        ),
    ] {
        let srv = TestServer::https("127.0.0.1", le.server_config(&Leaf::valid(&names)), |_| {
            Resp::new(200)
        })
        .await;
        let url = format!("https://{host}:{}/", srv.addr.port());
        let mut t = target(&url, le.client(), None);
        t.checks.retain(|c| c.id == "dns" || c.id == "tls_cert");
        let (runs, verdicts) = evaluate_with(&engine, &t).await;
        assert!(
            run_of(&runs, ProbeKind::Tls).success,
            "{host}: {:?}",
            run_of(&runs, ProbeKind::Tls).reason
        );
        let v = verdicts.iter().find(|v| v.check == "dns").unwrap();
        assert_eq!(
            ids(v).contains(&"caa_blocks_current_ca"),
            want,
            "{host} {names:?}: {:?}",
            v.findings
        );
        if want {
            let f = v
                .findings
                .iter()
                .find(|f| f.id == "caa_blocks_current_ca")
                .unwrap();
            assert!(f.evidence.contains("letsencrypt.org"), "{}", f.evidence);
        }
    }
}

/// CHECKS.md §16: timeout 3 s, 1 retry. `resolver.attempts` counts queries (hickory counts
/// retries): a server that never answers is asked exactly `attempts` times per type.
#[tokio::test(flavor = "multi_thread")]
async fn a_silent_server_is_asked_attempts_times_per_query() {
    let server = DnsServer::start(zone).await;
    for attempts in [1, 2, 3] {
        let settings = probes::resolve::ResolverSettings {
            nameservers: vec![server.addr],
            timeout: Duration::from_millis(200),
            attempts,
            use_hosts_file: false,
        };
        let engine = probes::fetch::Engine::new(
            probes::resolve::Resolver::new(&settings).unwrap(),
            probes::USER_AGENT,
        );
        let before = server.queries().len();
        let mut t = target(
            "https://silent.example.test/",
            Arc::new(TlsClient::new(&[]).unwrap()),
            None,
        );
        t.checks.retain(|c| c.id == "dns");
        let (_, verdicts) = evaluate_with(&engine, &t).await;
        assert!(
            ids(&verdicts[0]).contains(&"resolution_failed"),
            "{:?}",
            verdicts[0]
        );
        let asked = server.queries()[before..]
            .iter()
            .filter(|(n, ty)| n == "silent.example.test" && *ty == RecordType::A)
            .count();
        assert_eq!(asked, attempts, "attempts: {attempts}");
    }
}

/// dns judges CAA against the leaf of the last `tls` run, which may finish after dns (`check`
/// runs dns first): that tls run re-evaluates dns, so `caa_blocks_current_ca` is reported in
/// the same cycle, not one dns interval later.
#[tokio::test(flavor = "multi_thread")]
async fn a_tls_run_after_dns_re_evaluates_caa() {
    use prodprobe::scheduler::execute;

    use crate::support::{job_of, scheduled_target_on};

    let server = DnsServer::start(zone).await;
    let le = Pki::named(&[
        (DnType::OrganizationName, "Let's Encrypt"),
        (DnType::CommonName, "R10"),
    ]);
    let srv = TestServer::https(
        "127.0.0.1",
        le.server_config(&Leaf::valid(&["le.pki.test"])),
        |_| Resp::new(200),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let ca = le.write_ca(dir.path());
    let cfg = crate::support::write(
        dir.path(),
        "prodprobe.yaml",
        &format!(
            "targets:\n  - name: t\n    url: https://le.pki.test:{}/\n    ca_file: {}\n    checks: [dns, tls_cert]\n",
            srv.addr.port(),
            ca.display()
        ),
    );
    let (rt, jobs, runner) =
        scheduled_target_on(&cfg, engine_with_dns(server.addr, Duration::from_secs(3)));
    let dns_of = |verdicts: &[(Verdict, Duration)]| {
        verdicts
            .iter()
            .find(|(v, _)| v.check == "dns")
            .map(|(v, _)| v.clone())
    };
    let (_, verdicts) = execute(&runner, &rt, job_of(&jobs, ProbeKind::Dns)).await;
    let v = dns_of(&verdicts).unwrap();
    assert_eq!(v.status, Status::Pass, "no leaf seen yet: {:?}", v.findings);
    let (_, verdicts) = execute(&runner, &rt, job_of(&jobs, ProbeKind::Tls)).await;
    let v = dns_of(&verdicts).expect("the tls run re-evaluates dns");
    assert!(
        ids(&v).contains(&"caa_blocks_current_ca"),
        "pki.test's CAA names pki.goog only: {:?}",
        v.findings
    );
}
