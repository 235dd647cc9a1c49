//! Name resolution through hickory-resolver, built once per process and shared by every probe.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::{Resolver as Hickory, TokioResolver};

use crate::error::Error;

/// How the resolver is built. `nameservers` empty means the system configuration
/// (`/etc/resolv.conf`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResolverSettings {
    /// Upstream servers (UDP with TCP fallback); empty = system configuration.
    pub nameservers: Vec<SocketAddr>,
    /// Per-query timeout. Default 3 s (CHECKS.md §16).
    pub timeout: Duration,
    /// Attempts per query. Default 2 (one retry, CHECKS.md §16).
    pub attempts: usize,
    /// Consult `/etc/hosts` first. Default true.
    pub use_hosts_file: bool,
}

/// Default per-query DNS timeout.
pub const DEFAULT_DNS_TIMEOUT: Duration = Duration::from_secs(3);
/// Default DNS attempts per query.
pub const DEFAULT_DNS_ATTEMPTS: usize = 2;

impl Default for ResolverSettings {
    fn default() -> Self {
        ResolverSettings {
            nameservers: Vec::new(),
            timeout: DEFAULT_DNS_TIMEOUT,
            attempts: DEFAULT_DNS_ATTEMPTS,
            use_hosts_file: true,
        }
    }
}

/// A resolution failure with a low-cardinality reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsFailure {
    /// `nxdomain`, `no_address`, `servfail`, `refused`, `timeout` or `dns_error`.
    pub reason: &'static str,
    /// Human-readable detail for reports and logs (never a label).
    pub detail: String,
}

/// The shared resolver.
#[derive(Debug, Clone)]
pub struct Resolver {
    /// `/etc/hosts`, read once when the resolver is built (empty when `use_hosts_file` is off).
    hosts: Arc<HashMap<String, Vec<IpAddr>>>,
    inner: TokioResolver,
    /// Same upstreams, no cache and no hosts file: the `dns` probe measures DNS itself
    /// (CHECKS.md §16 edge case "resolver caching"). Built once with the resolver.
    uncached: TokioResolver,
}

impl Resolver {
    /// Builds the resolver.
    ///
    /// # Errors
    ///
    /// [`Error::Resolver`] when the system configuration cannot be read and no nameserver
    /// was configured; configure `resolver.nameservers` explicitly then.
    pub fn new(settings: &ResolverSettings) -> Result<Self, Error> {
        let inner = Self::build(settings, true)?;
        let uncached = Self::build(settings, false)?;
        Ok(Resolver {
            hosts: Arc::new(if settings.use_hosts_file {
                system_hosts()
            } else {
                HashMap::new()
            }),
            inner,
            uncached,
        })
    }

    fn build(settings: &ResolverSettings, cached: bool) -> Result<TokioResolver, Error> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = if settings.nameservers.is_empty() {
            Hickory::builder(provider).map_err(|e| Error::Resolver(e.to_string()))?
        } else {
            let servers = settings
                .nameservers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                })
                .collect();
            let config = ResolverConfig::from_parts(None, Vec::new(), servers);
            Hickory::builder_with_config(config, provider)
        };
        let opts: &mut ResolverOpts = builder.options_mut();
        opts.timeout = settings.timeout;
        // hickory's `attempts` counts retries after the first query; ours counts queries
        // (CHECKS.md §16: timeout 3 s, 1 retry = 2 attempts).
        opts.attempts = settings.attempts.saturating_sub(1);
        opts.use_hosts_file = if settings.use_hosts_file && cached {
            ResolveHosts::Always
        } else {
            ResolveHosts::Never
        };
        if !cached {
            opts.cache_size = 0;
            // The dns probe reports TTLs as served; hickory would clamp them to one day.
            opts.positive_max_ttl = Some(Duration::from_secs(u64::from(u32::MAX)));
        }
        builder.build().map_err(|e| Error::Resolver(e.to_string()))
    }

    /// A resolver that answers only from `/etc/hosts` (the fallback when the system
    /// configuration is unreadable): IP literals and pinned addresses still work.
    pub fn hosts_only() -> Self {
        let build = |hosts: ResolveHosts, cached: bool| {
            let config = ResolverConfig::from_parts(None, Vec::new(), Vec::new());
            let mut builder = Hickory::builder_with_config(config, TokioRuntimeProvider::default());
            builder.options_mut().use_hosts_file = hosts;
            if !cached {
                builder.options_mut().cache_size = 0;
            }
            builder
                .build()
                .unwrap_or_else(|_| unreachable!("an empty resolver config always builds"))
        };
        Resolver {
            hosts: Arc::new(system_hosts()),
            inner: build(ResolveHosts::Always, true),
            uncached: build(ResolveHosts::Never, false),
        }
    }

    /// Resolves A and AAAA for `host` (a DNS name, not an IP literal).
    ///
    /// # Errors
    ///
    /// A [`DnsFailure`] with a low-cardinality reason; never panics.
    ///
    /// A name listed in `/etc/hosts` resolves to its entries there and nothing else, as
    /// glibc's `getaddrinfo` does with `hosts: files dns`: an IPv4-only `localhost` line is not
    /// topped up with `::1` (hickory alone would add it, RFC 6761 §6.3).
    pub async fn lookup_ip(&self, host: &str) -> Result<Vec<IpAddr>, DnsFailure> {
        let key = host.trim_end_matches('.').to_ascii_lowercase();
        if let Some(addrs) = self.hosts.get(&key) {
            return Ok(addrs.clone());
        }
        match self.inner.lookup_ip(host).await {
            Ok(lookup) => {
                let addrs: Vec<IpAddr> = lookup.iter().collect();
                if addrs.is_empty() {
                    Err(DnsFailure {
                        reason: "no_address",
                        detail: format!("{host} has no A or AAAA record"),
                    })
                } else {
                    Ok(addrs)
                }
            }
            Err(e) => Err(classify(host, &e)),
        }
    }

    /// The underlying hickory resolver, for probes that query other record types.
    pub fn hickory(&self) -> &TokioResolver {
        &self.inner
    }

    /// A resolver with the same upstreams that neither caches nor reads `/etc/hosts`, for the
    /// `dns` probe's own measurement.
    pub fn uncached(&self) -> &TokioResolver {
        &self.uncached
    }
}

/// The system hosts file, or nothing when it cannot be read.
fn system_hosts() -> HashMap<String, Vec<IpAddr>> {
    // Bounded: a hosts file is small; a pathological one is cut at 1 MiB.
    use std::io::Read;
    let mut text = String::new();
    if let Ok(f) = std::fs::File::open("/etc/hosts") {
        let _ = f.take(1 << 20).read_to_string(&mut text);
    }
    parse_hosts(&text)
}

/// Parses hosts(5): an address, then names, `#` starts a comment; names are matched ASCII
/// case-insensitively. Unparseable lines are skipped; an address listed twice for a name is
/// kept once, in file order.
pub fn parse_hosts(text: &str) -> HashMap<String, Vec<IpAddr>> {
    let mut map: HashMap<String, Vec<IpAddr>> = HashMap::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut fields = line.split_ascii_whitespace();
        let Some(Ok(addr)) = fields.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        for name in fields {
            let entry = map
                .entry(name.trim_end_matches('.').to_ascii_lowercase())
                .or_default();
            if !entry.contains(&addr) {
                entry.push(addr);
            }
        }
    }
    map
}

/// Maps a hickory error to a low-cardinality reason.
pub fn classify(host: &str, e: &NetError) -> DnsFailure {
    let reason = match e {
        NetError::Dns(DnsError::NoRecordsFound(nr))
            if nr.response_code == ResponseCode::NXDomain =>
        {
            "nxdomain"
        }
        // NOERROR with NS records and no SOA in the authority section: a delegation, the
        // answer of an authoritative server that does not recurse (RFC 1034 §4.3.1).
        NetError::Dns(DnsError::NoRecordsFound(nr)) if nr.ns.is_some() && nr.soa.is_none() => {
            "referral"
        }
        NetError::Dns(DnsError::NoRecordsFound(_)) => "no_address",
        NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => "servfail",
        NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)) => "refused",
        NetError::Timeout => "timeout",
        _ => "dns_error",
    };
    // Hickory's Display of a missing record prints its internal query structure; reports get
    // the DNS meaning instead.
    let detail = match reason {
        "nxdomain" => format!("{host}: no such domain (NXDOMAIN)"),
        "no_address" => format!("{host}: no record of the queried type"),
        "servfail" => format!("{host}: the resolver answered SERVFAIL"),
        "refused" => format!("{host}: the resolver refused the query (REFUSED)"),
        "referral" => format!(
            "{host}: the nameserver answered with a referral, not an answer: it does not \
             recurse (resolver.nameservers must be recursive resolvers)"
        ),
        "timeout" => format!("resolving {host} timed out"),
        _ => format!("resolving {host}: {e}"),
    };
    DnsFailure { reason, detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_file_entries_are_the_whole_answer_for_their_names() {
        let map = parse_hosts(
            "127.0.0.1\tlocalhost\n# ::1 localhost\n10.0.0.5 Shop.Test. shop # pinned\n\
             10.0.0.6 shop\nnot-an-ip name\n::1 ip6-localhost ip6-loopback\n10.0.0.5 shop\n",
        );
        assert_eq!(map["localhost"], ["127.0.0.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(
            map["shop"],
            [
                "10.0.0.5".parse::<IpAddr>().unwrap(),
                "10.0.0.6".parse().unwrap()
            ]
        );
        assert_eq!(map["shop.test"], ["10.0.0.5".parse::<IpAddr>().unwrap()]);
        assert!(!map.contains_key("name"));
        assert_eq!(map["ip6-loopback"], ["::1".parse::<IpAddr>().unwrap()]);
    }

    #[tokio::test]
    async fn an_ipv4_only_localhost_line_gets_no_ipv6_address() {
        let mut r = Resolver::hosts_only();
        r.hosts = Arc::new(parse_hosts("127.0.0.1 localhost\n"));
        assert_eq!(
            r.lookup_ip("LOCALHOST.").await.unwrap(),
            ["127.0.0.1".parse::<IpAddr>().unwrap()]
        );
    }
}
