//! Name resolution through hickory-resolver, built once per process and shared by every probe.

use std::net::{IpAddr, SocketAddr};
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
        Ok(Resolver { inner, uncached })
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
        opts.attempts = settings.attempts;
        opts.use_hosts_file = if settings.use_hosts_file && cached {
            ResolveHosts::Always
        } else {
            ResolveHosts::Never
        };
        if !cached {
            opts.cache_size = 0;
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
            inner: build(ResolveHosts::Always, true),
            uncached: build(ResolveHosts::Never, false),
        }
    }

    /// Resolves A and AAAA for `host` (a DNS name, not an IP literal).
    ///
    /// # Errors
    ///
    /// A [`DnsFailure`] with a low-cardinality reason; never panics.
    pub async fn lookup_ip(&self, host: &str) -> Result<Vec<IpAddr>, DnsFailure> {
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

/// Maps a hickory error to a low-cardinality reason.
pub fn classify(host: &str, e: &NetError) -> DnsFailure {
    let reason = match e {
        NetError::Dns(DnsError::NoRecordsFound(nr))
            if nr.response_code == ResponseCode::NXDomain =>
        {
            "nxdomain"
        }
        NetError::Dns(DnsError::NoRecordsFound(_)) => "no_address",
        NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => "servfail",
        NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)) => "refused",
        NetError::Timeout => "timeout",
        _ => "dns_error",
    };
    DnsFailure {
        reason,
        detail: format!("resolving {host}: {e}"),
    }
}
