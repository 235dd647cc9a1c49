//! Config → plan: targets resolved into [`probes::target::Target`] values and their jobs, with the
//! rules that span several values checked here (each error names the value at fault).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use probes::checks::{self, CheckDef};
use probes::evidence::Credential;
use probes::preload::PreloadList;
use probes::probe::ProbeKind;
use probes::resolve::ResolverSettings;
use probes::safety::COOKIES_MAX_PATHS;
use probes::target::{Target, default_http_urls};
use probes::tls::TlsClient;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_saphyr::{Location, Spanned};

use crate::config::{
    self, ConfigError, ConfigFile, DEFAULT_INITIAL_SPREAD, DEFAULT_MAX_CONCURRENCY,
    DEFAULT_PER_HOST_CONCURRENCY, HealthUrl, Layer, Over, SecretPart, humanize,
};

/// Scheduler limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerSettings {
    /// Runs in flight, all targets.
    pub max_concurrency: usize,
    /// Runs in flight per host.
    pub per_host_concurrency: usize,
    /// First runs are spread over min(interval, this).
    pub initial_spread: Duration,
    /// Rate-limit bursts and backoffs survive restarts here (`serve` only).
    pub state_file: Option<PathBuf>,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        SchedulerSettings {
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            per_host_concurrency: DEFAULT_PER_HOST_CONCURRENCY,
            initial_spread: DEFAULT_INITIAL_SPREAD,
            state_file: None,
        }
    }
}

/// One probe of one target, with its schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobSpec {
    /// The probe.
    pub kind: ProbeKind,
    /// Time between runs.
    pub interval: Duration,
    /// Run timeout (< interval).
    pub timeout: Duration,
}

/// A target and its jobs.
#[derive(Debug, Clone)]
pub struct PlannedTarget {
    /// The target.
    pub target: Arc<Target>,
    /// Its jobs, one per probe its checks read.
    pub jobs: Vec<JobSpec>,
    /// Changes whenever anything that affects the target changes (secrets and CA bytes
    /// included); an unchanged target keeps running across reloads.
    pub fingerprint: u64,
}

/// Everything `serve` and `check` need from a config.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Listen address of `serve`.
    pub listen: SocketAddr,
    /// Export check timing series.
    pub check_timing_metrics: bool,
    /// Scheduler limits.
    pub scheduler: SchedulerSettings,
    /// Resolver settings.
    pub resolver: ResolverSettings,
    /// Targets in file order.
    pub targets: Vec<PlannedTarget>,
    /// Things worth a log line that are not errors.
    pub warnings: Vec<String>,
    /// What `GET /probe` may build targets from.
    pub modules: Modules,
}

/// The settings `GET /probe?target=…&module=…` builds a one-off target from.
#[derive(Debug, Clone, Default)]
pub struct Modules {
    /// The config file (for error locations).
    pub path: PathBuf,
    /// `defaults:`.
    pub defaults: Layer,
    /// `profiles:` by name (a profile is a blackbox "module").
    pub profiles: BTreeMap<String, Layer>,
    /// `server.probe_allowed_hosts`: hosts allowed (any port) besides the configured origins.
    pub allowed_hosts: Option<Vec<config::HostPattern>>,
    /// Per configured origin (`scheme://host:port` of a target's URL or `http_url`), the first
    /// such target's own settings (without `name`, `url` and `http_url`): a URL on that origin
    /// is probed with its CA, pins and headers, and a URL on another origin never is.
    pub host_targets: BTreeMap<String, Layer>,
    /// Configured targets another shard probes: `/probe` still knows them.
    pub other_shards: Vec<PlannedTarget>,
}

/// Why `GET /probe` refuses a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdHocError {
    /// The host is not allowed (403).
    Forbidden(String),
    /// Bad parameters (400).
    BadRequest(String),
}

impl Plan {
    /// The same settings with other targets (for one-off runs).
    pub fn with_targets(&self, targets: Vec<PlannedTarget>) -> Plan {
        Plan {
            listen: self.listen,
            check_timing_metrics: self.check_timing_metrics,
            scheduler: self.scheduler.clone(),
            resolver: self.resolver.clone(),
            targets,
            warnings: Vec::new(),
            modules: Modules::default(),
        }
    }

    /// Keeps the targets `shard` owns (rendezvous hashing on the name); the others stay known
    /// to `GET /probe`. A warning says when the shard owns none. Each shard keeps its own
    /// `scheduler.state_file` (`state.json` becomes `state.json.shard-1-of-4`): shards read
    /// one config, and one shared file would be rewritten by each with only its own targets.
    pub fn shard(&mut self, shard: crate::shard::Shard) {
        if shard == crate::shard::Shard::ALL {
            return;
        }
        if let Some(path) = &mut self.scheduler.state_file {
            let mut name = path.file_name().unwrap_or_default().to_owned();
            name.push(format!(".shard-{}-of-{}", shard.index(), shard.count()));
            path.set_file_name(name);
        }
        let all = self.targets.len();
        let (own, others) = std::mem::take(&mut self.targets)
            .into_iter()
            .partition(|t| shard.owns(&t.target.name));
        self.targets = own;
        self.modules.other_shards = others;
        if self.targets.is_empty() && all > 0 {
            self.warnings.push(format!(
                "shard {shard} owns none of the {all} configured targets"
            ));
        }
    }

    /// Every configured target, this shard's first.
    fn configured(&self) -> impl Iterator<Item = &PlannedTarget> {
        self.targets.iter().chain(&self.modules.other_shards)
    }

    /// Whether `url`'s origin (scheme, host, port) is one the config probes: a target's URL or
    /// one of its plain-HTTP chain starts.
    fn configured_origin(&self, url: &url::Url) -> bool {
        let o = origin(url);
        self.configured().any(|t| {
            origin(&t.target.url) == o || t.target.http_urls.iter().any(|h| origin(h) == o)
        })
    }

    /// A one-off target for `GET /probe`: a configured target by name, or a URL on an allowed
    /// host. A URL on a configured target's host is probed as that target would be (its CA,
    /// `resolve` pin, headers …) with `module`, when given, in place of its profile and over
    /// its own settings: the module says how to probe, the target where and with what. A URL
    /// on a host allowed only by `server.probe_allowed_hosts` gets `module` over `defaults`.
    ///
    /// # Errors
    ///
    /// [`AdHocError::Forbidden`] for a host the config does not allow, `BadRequest` for an
    /// unknown module or an invalid URL.
    pub fn adhoc(
        &self,
        cx: &PlanContext,
        target: &str,
        module: Option<&str>,
    ) -> Result<PlannedTarget, AdHocError> {
        if let Some(t) = self.configured().find(|t| t.target.name == target) {
            return Ok(t.clone());
        }
        // blackbox_exporter's stock module, in every existing blackbox scrape config: the
        // target's own settings, unless a profile has that name.
        let module = module
            .filter(|m| !m.is_empty())
            .filter(|m| *m != BLACKBOX_DEFAULT_MODULE || self.modules.profiles.contains_key(*m));
        // A bare `host[:port]` (blackbox style) is the configured origin it names, HTTPS first;
        // anything else defaults to HTTPS.
        let url = if target.contains("://") {
            config::TargetUrl::try_from(target.to_owned()).map_err(AdHocError::BadRequest)?
        } else {
            let candidates: Vec<config::TargetUrl> = ["https", "http"]
                .iter()
                .filter_map(|s| config::TargetUrl::try_from(format!("{s}://{target}")).ok())
                .collect();
            match candidates.iter().position(|u| self.configured_origin(&u.0)) {
                Some(i) => candidates[i].clone(),
                None => config::TargetUrl::try_from(format!("https://{target}"))
                    .map_err(AdHocError::BadRequest)?,
            }
        };
        // A configured target's own URL, without a module, is that target (its `http_url`,
        // pins and name included), as scheduled.
        if module.is_none()
            && let Some(t) = self.configured().find(|t| t.target.url == url.0)
        {
            return Ok(t.clone());
        }
        let host = url
            .0
            .host_str()
            .map(probes::target::normalize_host)
            .unwrap_or_default();
        // The configured origins (scheme, host and port: another port on a configured host is
        // another service), plus the hosts `server.probe_allowed_hosts` adds on any port.
        let allowed = self.configured_origin(&url.0)
            || self
                .modules
                .allowed_hosts
                .as_ref()
                .is_some_and(|patterns| patterns.iter().any(|p| p.matches(&host)));
        if !allowed {
            let (scheme, _, port) = origin(&url.0);
            return Err(AdHocError::Forbidden(format!(
                "{scheme}://{host}:{port} is not the origin of a configured target (scheme, host and port; server.probe_allowed_hosts allows more hosts)"
            )));
        }
        let host_target = self.modules.host_targets.get(&origin_key(&url.0)).cloned();
        // A configured target's own URL keeps its name in the `target` label whatever the
        // module, so its on-demand series, alerts and `check --target` meet the scheduled
        // ones; any other URL is named by its host.
        let name = self
            .configured()
            .find(|t| t.target.url == url.0)
            .map_or(host.clone(), |t| t.target.name.clone());
        let own = Layer {
            url: Some(Spanned::new(url, Location::UNKNOWN, Location::UNKNOWN)),
            ..Layer::default()
        };
        let merged = match (module, host_target) {
            (Some(m), base) => {
                let profile = self.modules.profiles.get(m).cloned().ok_or_else(|| {
                    AdHocError::BadRequest(format!(
                        "unknown module {m:?}: modules are the config's profiles"
                    ))
                })?;
                own.over(profile).over(base.unwrap_or_default())
            }
            (None, Some(base)) => {
                let profile = base
                    .profile
                    .as_ref()
                    .and_then(|p| self.modules.profiles.get(&p.value))
                    .cloned()
                    .unwrap_or_default();
                own.over(base).over(profile)
            }
            (None, None) => own,
        };
        let merged = merged.over(self.modules.defaults.clone());
        let mut b = Builder::new(&self.modules.path, cx);
        match plan_target(&mut b, &name, merged, false) {
            Some(t) if b.errors.is_empty() => Ok(t),
            _ => Err(AdHocError::BadRequest(
                b.errors
                    .iter()
                    .map(|e| e.message.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
            )),
        }
    }
}

/// blackbox_exporter's stock HTTP module name: on `/probe`, the target's own settings unless
/// a profile of that name exists.
pub const BLACKBOX_DEFAULT_MODULE: &str = "http_2xx";

/// A URL's origin: scheme, normalised host, port (the scheme's default when not written).
fn origin(url: &url::Url) -> (&str, String, u16) {
    (
        url.scheme(),
        url.host_str()
            .map(probes::target::normalize_host)
            .unwrap_or_default(),
        url.port_or_known_default().unwrap_or(0),
    )
}

/// [`origin`] as a map key: `scheme://host:port`.
fn origin_key(url: &url::Url) -> String {
    let (scheme, host, port) = origin(url);
    format!("{scheme}://{host}:{port}")
}

/// The lowest interval a probe accepts: prodprobe must never become a load generator.
pub fn interval_floor(kind: ProbeKind) -> Duration {
    match kind {
        ProbeKind::Health => Duration::from_secs(1),
        ProbeKind::Fetch => Duration::from_secs(30),
        ProbeKind::Tls => Duration::from_secs(60),
        ProbeKind::TlsVersions => Duration::from_secs(600),
        ProbeKind::Dns => Duration::from_secs(30),
        ProbeKind::Cors | ProbeKind::UnknownPath => Duration::from_secs(300),
        ProbeKind::Paths => Duration::from_secs(3600),
        ProbeKind::RateLimit => probes::safety::RATE_LIMIT_MIN_INTERVAL_FLOOR,
    }
}

/// Shared, expensive inputs built once per process.
#[derive(Debug, Clone)]
pub struct PlanContext {
    /// The public-roots TLS client, shared by every target without a CA file.
    pub public_tls: Arc<TlsClient>,
}

struct Builder<'a> {
    path: &'a Path,
    dir: PathBuf,
    cx: &'a PlanContext,
    errors: Vec<ConfigError>,
    warnings: Vec<String>,
    tls_cache: HashMap<PathBuf, (Arc<TlsClient>, u64)>,
    platform_cache: HashMap<Option<PathBuf>, Arc<TlsClient>>,
    preload_cache: HashMap<PathBuf, Arc<PreloadList>>,
}

impl<'a> Builder<'a> {
    fn new(path: &'a Path, cx: &'a PlanContext) -> Self {
        Builder {
            path,
            dir: path.parent().map(Path::to_owned).unwrap_or_default(),
            cx,
            errors: Vec::new(),
            warnings: Vec::new(),
            tls_cache: HashMap::new(),
            platform_cache: HashMap::new(),
            preload_cache: HashMap::new(),
        }
    }

    fn err(&mut self, loc: &Location, msg: impl Into<String>) {
        self.errors.push(ConfigError::at(self.path, loc, msg));
    }

    fn resolve_path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.dir.join(p)
        }
    }
}

/// Builds the plan.
///
/// # Errors
///
/// Every problem found, each with its location.
pub fn build(path: &Path, file: ConfigFile, cx: &PlanContext) -> Result<Plan, Vec<ConfigError>> {
    let mut b = Builder::new(path, cx);

    let scheduler = SchedulerSettings {
        max_concurrency: file
            .scheduler
            .max_concurrency
            .as_ref()
            .map_or(DEFAULT_MAX_CONCURRENCY, |c| c.value.0),
        per_host_concurrency: file
            .scheduler
            .per_host_concurrency
            .as_ref()
            .map_or(DEFAULT_PER_HOST_CONCURRENCY, |c| c.value.0),
        initial_spread: file
            .scheduler
            .initial_spread
            .map_or(DEFAULT_INITIAL_SPREAD, |d| d.0),
        state_file: None,
    };
    let mut scheduler = scheduler;
    if let Some(p) = &file.scheduler.state_file {
        let path = b.resolve_path(&p.value);
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if dir.is_dir() {
            scheduler.state_file = Some(path);
        } else {
            b.err(
                &p.referenced,
                format!(
                    "scheduler.state_file {}: directory {} does not exist",
                    p.value.display(),
                    dir.display()
                ),
            );
        }
    }
    let defaults = ResolverSettings::default();
    let resolver = ResolverSettings {
        nameservers: file.resolver.nameservers.clone().unwrap_or_default(),
        timeout: file.resolver.timeout.map_or(defaults.timeout, |d| d.0),
        attempts: file
            .resolver
            .attempts
            .as_ref()
            .map_or(defaults.attempts, |c| c.value.0),
        use_hosts_file: file.resolver.hosts_file.unwrap_or(defaults.use_hosts_file),
    };
    let listen = file.server.listen.map(|l| l.0).unwrap_or_else(|| {
        config::DEFAULT_LISTEN
            .parse()
            .expect("valid default listen address")
    });

    if let Some(c) = &file.scheduler.per_host_concurrency
        && c.value.0 > probes::safety::MAX_PER_HOST_CONCURRENCY
    {
        let msg = format!(
            "scheduler.per_host_concurrency {} is above the ceiling of {} (CHECKS.md §0.5: at most 2 requests in flight per target)",
            c.value.0,
            probes::safety::MAX_PER_HOST_CONCURRENCY
        );
        b.err(&c.referenced, msg);
    }
    target_only_keys(&mut b, &file.defaults, "defaults");
    for (name, profile) in &file.profiles {
        target_only_keys(&mut b, &profile.value, &format!("profile {name:?}"));
    }

    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    let mut targets = Vec::new();
    let mut host_targets: BTreeMap<String, Layer> = BTreeMap::new();
    for spanned in &file.targets {
        let loc = &spanned.referenced;
        let own = &spanned.value;
        let Some(name) = own.name.as_ref() else {
            b.err(loc, "target has no `name`");
            continue;
        };
        if let Some(first_line) = seen.get(&name.value.0) {
            let msg = format!(
                "duplicate target name {:?} (first defined at line {first_line})",
                name.value.0
            );
            b.err(&name.referenced, msg);
            continue;
        }
        seen.insert(name.value.0.clone(), name.referenced.line());
        if own.url.is_none() {
            b.err(loc, format!("target {:?} has no `url`", name.value.0));
            continue;
        }
        let mut merged = own.clone();
        if let Some(profile) = &own.profile {
            match file.profiles.get(&profile.value) {
                Some(p) => merged = merged.over(p.value.clone()),
                None => {
                    let known: Vec<&str> = file.profiles.keys().map(String::as_str).collect();
                    let msg = if known.is_empty() {
                        format!(
                            "unknown profile {:?}: no profiles are defined",
                            profile.value
                        )
                    } else {
                        format!(
                            "unknown profile {:?}, expected one of {}",
                            profile.value,
                            known.join(", ")
                        )
                    };
                    b.err(&profile.referenced, msg);
                    continue;
                }
            }
        }
        let merged = merged.over(file.defaults.clone());
        // CHECKS.md §16's "enables dns explicitly": the target's own `checks` list names it (a
        // profile's or `defaults`' list names dns only because a list replaces the default).
        let lists_dns = own
            .checks
            .as_ref()
            .is_some_and(|l| l.iter().any(|c| c.value.0.id == "dns"));
        if let Some(planned) = plan_target(&mut b, &name.value.0, merged, lists_dns) {
            let t = &planned.target;
            for url in std::iter::once(&t.url).chain(&t.http_urls) {
                host_targets
                    .entry(origin_key(url))
                    .or_insert_with(|| Layer {
                        name: None,
                        url: None,
                        http_url: None,
                        ..own.clone()
                    });
            }
            targets.push(planned);
        }
    }
    // A profile no target uses is still a module of `GET /probe`: its mistakes are found now,
    // by planning it over `defaults` for a stand-in URL, not at the first request naming it.
    for (pname, profile) in &file.profiles {
        if file
            .targets
            .iter()
            .any(|t| t.value.profile.as_ref().is_some_and(|p| &p.value == pname))
        {
            continue;
        }
        let stand_in = config::TargetUrl::try_from("https://profile.invalid/".to_owned())
            .expect("valid stand-in URL");
        let own = Layer {
            url: Some(Spanned::new(stand_in, Location::UNKNOWN, Location::UNKNOWN)),
            ..Layer::default()
        };
        let mut pb = Builder::new(path, cx);
        plan_target(
            &mut pb,
            pname,
            own.over(profile.value.clone()).over(file.defaults.clone()),
            false,
        );
        let as_target = format!("target {pname:?}");
        let as_profile = format!("profile {pname:?}");
        b.errors.extend(pb.errors.into_iter().map(|mut e| {
            e.message = e.message.replace(&as_target, &as_profile);
            e
        }));
    }
    if targets.is_empty() && b.errors.is_empty() {
        b.warnings.push("the config has no targets".into());
    }
    if b.errors.is_empty() {
        Ok(Plan {
            listen,
            check_timing_metrics: file.server.check_timing_metrics.unwrap_or(false),
            scheduler,
            resolver,
            targets,
            warnings: b.warnings,
            modules: Modules {
                path: path.to_owned(),
                defaults: file.defaults.clone(),
                profiles: file
                    .profiles
                    .iter()
                    .map(|(k, v)| (k.clone(), v.value.clone()))
                    .collect(),
                allowed_hosts: file.server.probe_allowed_hosts.clone(),
                host_targets,
                other_shards: Vec::new(),
            },
        })
    } else {
        Err(once_per_place(b.errors))
    }
}

fn target_only_keys(b: &mut Builder<'_>, layer: &Layer, place: &str) {
    if let Some(n) = &layer.name {
        b.err(
            &n.referenced,
            format!("`name` is only allowed in a target, not in {place}"),
        );
    }
    if let Some(u) = &layer.url {
        b.err(
            &u.referenced,
            format!("`url` is only allowed in a target, not in {place}"),
        );
    }
    if let Some(p) = &layer.profile {
        b.err(
            &p.referenced,
            format!("`profile` is only allowed in a target, not in {place}"),
        );
    }
}

fn plan_target(
    b: &mut Builder<'_>,
    name: &str,
    layer: Layer,
    lists_dns: bool,
) -> Option<PlannedTarget> {
    let errors_before = b.errors.len();
    let url = layer.url.as_ref()?.value.0.clone();
    let mut fp = DefaultHasher::new();
    name.hash(&mut fp);
    url.as_str().hash(&mut fp);

    // TLS client: shared public one, or one per CA file.
    let tls = match &layer.ca_file {
        None => Arc::clone(&b.cx.public_tls),
        Some(ca) => match load_ca(b, ca) {
            Some((tls, hash)) => {
                hash.hash(&mut fp);
                tls
            }
            None => Arc::clone(&b.cx.public_tls),
        },
    };
    let platform = layer
        .tls_cert
        .as_ref()
        .and_then(|t| t.platform_roots)
        .unwrap_or(false);
    let tls = if platform {
        platform.hash(&mut fp);
        load_platform(b, layer.ca_file.as_ref()).unwrap_or(tls)
    } else {
        tls
    };
    let tls = match load_client_cert(b, &layer, &url, &tls) {
        Some((mtls, hash)) => {
            hash.hash(&mut fp);
            Arc::new(mtls)
        }
        None => tls,
    };
    let mut target = match Target::new(name, url.clone(), tls) {
        Ok(t) => t,
        Err(e) => {
            let loc = layer
                .url
                .as_ref()
                .map(|u| u.referenced)
                .unwrap_or(Location::UNKNOWN);
            b.err(&loc, format!("invalid target URL: {e}"));
            return None;
        }
    };

    if let Some(labels) = &layer.labels {
        target.labels = labels
            .iter()
            .map(|(k, v)| (k.0.clone(), v.clone()))
            .collect();
    }
    target.resolve = layer.resolve.map(|a| a.0);
    if let Some(http_url) = &layer.http_url {
        if http_url.value.0.scheme() != "http" {
            b.err(&http_url.referenced, "`http_url` must be an http:// URL");
        }
        target.http_urls = vec![http_url.value.0.clone()];
    } else {
        target.http_urls = default_http_urls(&target.url);
    }
    if let Some(checks) = &layer.checks {
        let mut list: Vec<&'static CheckDef> = Vec::new();
        for c in checks {
            if list.iter().any(|d| d.id == c.value.0.id) {
                b.err(
                    &c.referenced,
                    format!("check {:?} is listed twice", c.value.0.id),
                );
            } else {
                list.push(c.value.0);
            }
        }
        // Registry order, so reports and metrics are stable.
        target.checks = checks::ALL
            .iter()
            .copied()
            .filter(|d| list.iter().any(|l| l.id == d.id))
            .collect();
    }
    // A plain-HTTP target has no certificate and no TLS versions: those checks would only fail
    // their probes (`not_https`) on every run and keep ProdprobeProbeFailing firing. hsts and
    // https_redirect report what matters (`https_unavailable`).
    if target.url.scheme() == "http" {
        let before: Vec<&str> = target.checks.iter().map(|c| c.id).collect();
        target.checks.retain(|c| !HTTPS_ONLY_CHECKS.contains(&c.id));
        if layer.checks.is_some() && target.checks.len() < before.len() {
            b.warnings.push(format!(
                "target {name:?} is plain HTTP: tls_cert and tls_version do not apply and are not run"
            ));
        }
    }
    if let Some(sev) = layer.fail_min_severity {
        target.fail_min_severity = sev.0;
    }
    if let Some(quiet) = &layer.disable_evidence_metrics {
        target.quiet_checks = quiet.iter().map(|c| c.value.0.id).collect();
    }

    // Credentials.
    if let Some(headers) = &layer.headers {
        for (hname, template) in headers {
            if let Some(value) = resolve_secret(b, template) {
                value.as_bytes().hash(&mut fp);
                target.credentials.push(Credential {
                    name: hname.header(),
                    value,
                });
            }
        }
    }
    if let Some(list) = &layer.credentials_for {
        for p in list {
            if !p.value.0.accepts_credentials() {
                b.err(
                    &p.referenced,
                    format!(
                        "probe {:?} never sends credentials (only fetch, health and cors may)",
                        p.value.0.name()
                    ),
                );
            } else if !target.credential_probes.contains(&p.value.0) {
                target.credential_probes.push(p.value.0);
            }
        }
        if target.credentials.is_empty() && !list.is_empty() {
            b.warnings.push(format!(
                "target {name:?}: credentials_for is set but no headers are configured"
            ));
        }
    }
    if !target.credentials.is_empty() && target.credential_probes.is_empty() {
        b.warnings.push(format!(
            "target {name:?}: headers are configured but no probe sends them: list the probes in credentials_for (fetch, health, cors)"
        ));
    }

    // Options.
    if let Some(r) = &layer.https_redirect
        && let Some(m) = &r.max_redirects
    {
        if m.value.0 > probes::fetch::MAX_REDIRECTS {
            b.err(
                &m.referenced,
                format!(
                    "https_redirect.max_redirects {} is above the {} redirects the fetch follows (CHECKS.md §0.1)",
                    m.value.0,
                    probes::fetch::MAX_REDIRECTS
                ),
            );
        }
        target.options.https_redirect.max_redirects = m.value.0;
    }
    if let Some(h) = &layer.hsts {
        if let Some(v) = h.min_max_age {
            target.options.hsts.min_max_age = v.0.as_secs();
        }
        if let Some(v) = h.recommended_max_age {
            target.options.hsts.recommended_max_age = v.0.as_secs();
        }
    }
    if let Some(h) = &layer.health {
        if let Some(u) = &h.url {
            target.options.health.url = Some(match u {
                HealthUrl::Absolute(u) => u.clone(),
                HealthUrl::Path(p) => target.url.join(p).unwrap_or_else(|_| target.url.clone()),
            });
        }
        if let Some(s) = &h.expected_status {
            target.options.health.expected_status = s.iter().map(|r| r.0.clone()).collect();
        }
        if let Some(d) = h.latency_budget {
            target.options.health.latency_budget = d.0;
        }
        if let Some(r) = &h.body_regex {
            target.options.health.body_regex = Some(r.0.clone());
        }
    }
    if let Some(c) = &layer.cookies {
        if let Some(names) = &c.extra_session_names {
            target.options.cookies.extra_session_names =
                names.iter().map(|n| n.0.clone()).collect();
        }
        if let Some(names) = &c.ignore_names {
            target.options.cookies.ignore_names = names.iter().map(|n| n.0.clone()).collect();
        }
        if let Some(p) = &c.paths {
            if p.value.len() > COOKIES_MAX_PATHS {
                b.err(
                    &p.referenced,
                    format!(
                        "cookies.paths lists {} paths; at most {COOKIES_MAX_PATHS} are allowed (request budget)",
                        p.value.len()
                    ),
                );
            }
            target.options.cookies.paths = p.value.iter().map(|p| p.0.clone()).collect();
        }
    }
    if let Some(p) = &layer.hsts_preload_list {
        target.options.preload = load_preload(b, p);
    }
    if let Some(t) = &layer.tls_cert {
        let o = &mut target.options.tls_cert;
        if let Some(v) = t.warn_days {
            o.warn_days = u32::try_from(v.0).unwrap_or(u32::MAX);
        }
        if let Some(v) = t.critical_days {
            o.critical_days = u32::try_from(v.0).unwrap_or(u32::MAX);
        }
        if let Some(v) = t.aia_fetch {
            o.aia_fetch = v;
        }
        o.platform_roots = platform;
        if o.critical_days > o.warn_days {
            b.warnings.push(format!(
                "target {name:?}: tls_cert.critical_days {} is above warn_days {}, so expires_soon never fires",
                o.critical_days, o.warn_days
            ));
        }
    }
    if let Some(v) = layer.tls_version.as_ref().and_then(|t| t.sslv2) {
        target.options.tls_version.sslv2 = v;
    }
    // CHECKS.md §16: a pinned target resolves its public name when it enables dns explicitly,
    // by listing it in its own `checks:` or with `dns.when_pinned: true`; `false` wins.
    target.options.dns.when_pinned = layer
        .dns
        .as_ref()
        .and_then(|d| d.when_pinned)
        .unwrap_or(lists_dns || target.options.dns.when_pinned);
    crate::plan_active::apply(b.path, &mut b.errors, &layer, &mut target.options);

    // Jobs.
    let mut jobs = Vec::new();
    for kind in target.probes() {
        let entry = layer.probes.as_ref().and_then(|p| p.get(kind));
        let interval = entry.and_then(|e| e.interval.as_ref());
        let timeout = entry.and_then(|e| e.timeout.as_ref());
        let iv = interval.map_or(kind.default_interval(), |i| i.value.0);
        // Without a timeout of its own, a short interval shortens the default to half of it
        // (`health: { interval: 10s }` is valid as written).
        let to = timeout.map_or(kind.default_timeout().min(iv / 2), |t| t.value.0);
        let floor = interval_floor(kind);
        if iv < floor {
            let loc = interval.map(|i| i.referenced).unwrap_or(Location::UNKNOWN);
            b.err(
                &loc,
                format!(
                    "{} interval {} is below the floor of {}",
                    kind.name(),
                    humanize(iv),
                    humanize(floor)
                ),
            );
        }
        if to.is_zero() {
            let loc = timeout.map(|t| t.referenced).unwrap_or(Location::UNKNOWN);
            b.err(
                &loc,
                format!("{} timeout must be greater than 0", kind.name()),
            );
        } else if to >= iv {
            // Point at whichever value the user wrote (the timeout if both).
            let loc = timeout
                .or(interval)
                .map(|s| s.referenced)
                .unwrap_or(Location::UNKNOWN);
            b.err(
                &loc,
                format!(
                    "{} timeout {} must be less than its interval {} (target {name:?})",
                    kind.name(),
                    humanize(to),
                    humanize(iv)
                ),
            );
        }
        jobs.push(JobSpec {
            kind,
            interval: iv,
            timeout: to,
        });
    }

    if let Some(health) = jobs.iter().find(|j| j.kind == ProbeKind::Health) {
        // A health request ends at its run timeout or at CHECKS.md §0.1's per-request limits,
        // whichever comes first; a budget at or past that end can never be exceeded.
        let one_request = probes::fetch::CONNECT_TIMEOUT
            + probes::fetch::TLS_TIMEOUT
            + probes::fetch::REQUEST_TIMEOUT;
        let end = health.timeout.min(one_request);
        let budget = target.options.health.latency_budget;
        if target.checks.iter().any(|c| c.id == "health") && budget >= end {
            b.warnings.push(format!(
                "target {name:?}: health.latency_budget {} is not below the {} a health request \
                 can take (run timeout {}, at most {} per request), so `slow` never fires",
                humanize(budget),
                humanize(end),
                humanize(health.timeout),
                humanize(one_request)
            ));
        }
    }

    if b.errors.len() > errors_before {
        return None;
    }
    target.labels.hash(&mut fp);
    target.resolve.hash(&mut fp);
    for u in &target.http_urls {
        u.as_str().hash(&mut fp);
    }
    target.credential_probes.hash(&mut fp);
    target.fail_min_severity.hash(&mut fp);
    for c in &target.checks {
        c.id.hash(&mut fp);
    }
    target.quiet_checks.hash(&mut fp);
    format!("{:?}", target.options.https_redirect).hash(&mut fp);
    format!("{:?}", target.options.hsts).hash(&mut fp);
    format!("{:?}", target.options.health).hash(&mut fp);
    target.options.tls_cert.hash(&mut fp);
    target.options.tls_version.hash(&mut fp);
    target.options.dns.hash(&mut fp);
    format!("{:?}", target.options.cors).hash(&mut fp);
    format!("{:?}", target.options.exposed_paths).hash(&mut fp);
    format!("{:?}", target.options.error_disclosure).hash(&mut fp);
    format!("{:?}", target.options.rate_limit).hash(&mut fp);
    format!("{:?}", target.options.cookies).hash(&mut fp);
    target
        .options
        .preload
        .as_ref()
        .map(|p| p.len())
        .hash(&mut fp);
    jobs.hash(&mut fp);
    Some(PlannedTarget {
        target: Arc::new(target),
        jobs,
        fingerprint: fp.finish(),
    })
}

fn load_ca(b: &mut Builder<'_>, ca: &Spanned<PathBuf>) -> Option<(Arc<TlsClient>, u64)> {
    let path = b.resolve_path(&ca.value);
    if let Some(hit) = b.tls_cache.get(&path) {
        return Some(hit.clone());
    }
    match read_ca(&path) {
        Ok(entry) => {
            b.tls_cache.insert(path, entry.clone());
            Some(entry)
        }
        Err(e) => {
            b.err(&ca.referenced, e);
            None
        }
    }
}

/// A TLS client trusting the public roots and the CA certificates of the PEM file at `path`,
/// with a hash of the file (a changed file is a changed target).
fn read_ca(path: &Path) -> Result<(Arc<TlsClient>, u64), String> {
    let bytes = config::read_bounded(path, config::MAX_REFERENCED_FILE_BYTES)
        .map_err(|e| format!("cannot read ca_file {}: {e}", path.display()))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("ca_file {} is not valid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "ca_file {} holds no PEM CERTIFICATE block",
            path.display()
        ));
    }
    let tls = TlsClient::new(&certs).map_err(|e| format!("ca_file {}: {e}", path.display()))?;
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    Ok((Arc::new(tls), h.finish()))
}

/// The target's client certificate (mutual TLS): `client_cert` and `client_key` together, a
/// PEM chain and its matching key, presented to the target's host only (ADR 0007). Returns the
/// client and a hash of both files (a changed certificate is a changed target); errors name
/// the files, never their contents.
fn load_client_cert(
    b: &mut Builder<'_>,
    layer: &Layer,
    url: &url::Url,
    tls: &TlsClient,
) -> Option<(TlsClient, u64)> {
    let (cert, key) = match (&layer.client_cert, &layer.client_key) {
        (None, None) => return None,
        (Some(c), Some(k)) => (c, k),
        (Some(c), None) => {
            b.err(
                &c.referenced,
                "client_cert needs client_key (the certificate's private key)".to_owned(),
            );
            return None;
        }
        (None, Some(k)) => {
            b.err(
                &k.referenced,
                "client_key needs client_cert (the certificate chain)".to_owned(),
            );
            return None;
        }
    };
    let read = |b: &mut Builder<'_>, f: &Spanned<PathBuf>, what: &str| {
        let path = b.resolve_path(&f.value);
        match config::read_bounded(&path, config::MAX_REFERENCED_FILE_BYTES) {
            Ok(bytes) => Some((path, bytes)),
            Err(e) => {
                b.err(
                    &f.referenced,
                    format!("cannot read {what} {}: {e}", path.display()),
                );
                None
            }
        }
    };
    let (cert_path, cert_bytes) = read(b, cert, "client_cert")?;
    let (key_path, key_bytes) = read(b, key, "client_key")?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_bytes)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        b.err(
            &cert.referenced,
            format!(
                "client_cert {} holds no PEM CERTIFICATE block",
                cert_path.display()
            ),
        );
        return None;
    }
    let Ok(private) = rustls_pki_types::PrivateKeyDer::from_pem_slice(&key_bytes) else {
        b.err(
            &key.referenced,
            format!(
                "client_key {} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)",
                key_path.display()
            ),
        );
        return None;
    };
    let host = match url.host() {
        Some(url::Host::Domain(d)) => rustls_pki_types::ServerName::try_from(d.to_owned()).ok(),
        Some(url::Host::Ipv4(ip)) => Some(rustls_pki_types::ServerName::IpAddress(
            std::net::IpAddr::V4(ip).into(),
        )),
        Some(url::Host::Ipv6(ip)) => Some(rustls_pki_types::ServerName::IpAddress(
            std::net::IpAddr::V6(ip).into(),
        )),
        None => None,
    }?;
    match tls.with_client_cert(chain, &private, host) {
        Ok(mtls) => {
            let mut h = DefaultHasher::new();
            cert_bytes.hash(&mut h);
            key_bytes.hash(&mut h);
            Some((mtls, h.finish()))
        }
        Err(e) => {
            b.err(
                &key.referenced,
                format!(
                    "client_cert {} / client_key {}: {e}",
                    cert_path.display(),
                    key_path.display()
                ),
            );
            None
        }
    }
}

/// The platform-roots client (plus the target's CA file), built once per CA file and plan.
fn load_platform(b: &mut Builder<'_>, ca: Option<&Spanned<PathBuf>>) -> Option<Arc<TlsClient>> {
    let path = ca.map(|c| b.resolve_path(&c.value));
    if let Some(hit) = b.platform_cache.get(&path) {
        return Some(Arc::clone(hit));
    }
    let extra: Vec<CertificateDer<'static>> = match &path {
        Some(p) => config::read_bounded(p, config::MAX_REFERENCED_FILE_BYTES)
            .ok()
            .map(|bytes| {
                CertificateDer::pem_slice_iter(&bytes)
                    .filter_map(Result::ok)
                    .collect()
            })
            .unwrap_or_default(),
        None => Vec::new(),
    };
    match TlsClient::with_platform_roots(&extra) {
        Ok(tls) => {
            let tls = Arc::new(tls);
            b.platform_cache.insert(path, Arc::clone(&tls));
            Some(tls)
        }
        Err(e) => {
            let loc = ca.map(|c| c.referenced).unwrap_or(Location::UNKNOWN);
            b.err(&loc, format!("tls_cert.platform_roots: {e}"));
            None
        }
    }
}

fn load_preload(b: &mut Builder<'_>, p: &Spanned<PathBuf>) -> Option<Arc<PreloadList>> {
    let path = b.resolve_path(&p.value);
    if let Some(hit) = b.preload_cache.get(&path) {
        return Some(Arc::clone(hit));
    }
    let text = match config::read_bounded_text(&path, config::MAX_REFERENCED_FILE_BYTES) {
        Ok(t) => t,
        Err(e) => {
            b.err(
                &p.referenced,
                format!("cannot read hsts_preload_list {}: {e}", path.display()),
            );
            return None;
        }
    };
    match PreloadList::parse(&text) {
        Ok(list) => {
            let list = Arc::new(list);
            b.preload_cache.insert(path, Arc::clone(&list));
            Some(list)
        }
        Err(e) => {
            b.err(
                &p.referenced,
                format!(
                    "hsts_preload_list {} is not Chromium's preload JSON: {e}",
                    path.display()
                ),
            );
            None
        }
    }
}

fn resolve_secret(b: &mut Builder<'_>, t: &Spanned<config::SecretTemplate>) -> Option<HeaderValue> {
    let mut out = String::new();
    for part in &t.value.0 {
        match part {
            SecretPart::Literal(s) => out.push_str(s),
            SecretPart::Env(var) => match std::env::var(var) {
                Ok(v) => out.push_str(&v),
                Err(std::env::VarError::NotPresent) => {
                    b.err(
                        &t.referenced,
                        format!("environment variable {var} is not set"),
                    );
                    return None;
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    b.err(
                        &t.referenced,
                        format!("environment variable {var} is not valid UTF-8"),
                    );
                    return None;
                }
            },
            SecretPart::File(p) => {
                let path = b.resolve_path(p);
                match config::read_bounded_text(&path, config::MAX_SECRET_FILE_BYTES) {
                    Ok(v) => out.push_str(v.trim_end_matches(['\r', '\n'])),
                    Err(e) => {
                        b.err(
                            &t.referenced,
                            format!("cannot read secret file {}: {e}", path.display()),
                        );
                        return None;
                    }
                }
            }
        }
    }
    match HeaderValue::from_str(&out) {
        Ok(mut v) => {
            v.set_sensitive(true);
            Some(v)
        }
        Err(_) => {
            // Never echo the value: it is a secret.
            b.err(&t.referenced, "header value contains characters not allowed in HTTP headers (control characters or line breaks)");
            None
        }
    }
}

/// A mistake under `defaults` or a profile is found once per target (or unused profile) that
/// inherits it: it is reported once, at its place, naming how many inherit it instead of the first.
fn once_per_place(errors: Vec<ConfigError>) -> Vec<ConfigError> {
    let base = |m: &str| -> String {
        match m.rfind(" (target \"").or_else(|| m.rfind(" (profile \"")) {
            Some(i) if m.ends_with("\")") => m[..i].to_owned(),
            _ => m.to_owned(),
        }
    };
    let mut out: Vec<(ConfigError, String, usize)> = Vec::new();
    for e in errors {
        let key = base(&e.message);
        match out
            .iter_mut()
            .find(|(o, k, _)| o.line == e.line && o.column == e.column && *k == key)
        {
            Some((_, _, n)) => *n += 1,
            None => out.push((e, key, 1)),
        }
    }
    out.into_iter()
        .map(|(mut e, key, n)| {
            if n > 1 {
                e.message = format!("{key} ({n} targets inherit it)");
            }
            e
        })
        .collect()
}

/// Checks a plain-HTTP target never runs: it has no certificate and no TLS versions.
pub const HTTPS_ONLY_CHECKS: [&str; 2] = ["tls_cert", "tls_version"];

/// What `check` applies to the URLs on its command line (a config file says it per target).
#[derive(Debug, Clone, Default)]
pub struct UrlOptions {
    /// A PEM file of CA certificates trusted besides the public roots (`ca_file`).
    pub ca_file: Option<PathBuf>,
    /// Hosts pinned to an address, Host and SNI kept (`resolve`).
    pub resolve: Vec<(String, IpAddr)>,
}

/// Parses `HOST:ADDRESS` (`shop.example:192.0.2.7`, `shop.example:2001:db8::7`).
///
/// # Errors
///
/// A value without a host, or whose address is not an IP address.
pub fn parse_pin(s: &str) -> Result<(String, IpAddr), String> {
    let expected = || format!("expected HOST:ADDRESS (e.g. shop.example:192.0.2.7), got {s:?}");
    let (host, addr) = s.split_once(':').ok_or_else(expected)?;
    if host.is_empty() {
        return Err(expected());
    }
    let ip = addr
        .parse::<crate::config::PinnedAddr>()
        .map_err(|e| format!("{e} (HOST:ADDRESS, e.g. shop.example:192.0.2.7)"))?;
    Ok((host.to_ascii_lowercase(), ip.0))
}

/// A plan for bare URLs (`prodprobe check https://…`): default checks, default intervals.
///
/// # Errors
///
/// A message for a URL that cannot be a target.
pub fn for_urls(urls: &[String], cx: &PlanContext, opts: &UrlOptions) -> Result<Plan, String> {
    let tls = match &opts.ca_file {
        Some(path) => read_ca(path)?.0,
        None => Arc::clone(&cx.public_tls),
    };
    let mut pinned = vec![false; opts.resolve.len()];
    let mut targets = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for raw in urls {
        // A bare host (`shop.example.com`, `localhost:8443`) means its HTTPS origin, as
        // testssl.sh and the Observatory read it.
        let raw = if raw.contains("://") || raw.starts_with('/') {
            raw.clone()
        } else {
            format!("https://{raw}")
        };
        let url = config::TargetUrl::try_from(raw)?.0;
        let base = url.host_str().unwrap_or("target").to_owned();
        let mut name = base.clone();
        let mut n = 2;
        while names.contains(&name) {
            name = format!("{base}#{n}");
            n += 1;
        }
        names.push(name.clone());
        let pin = opts.resolve.iter().position(|(host, _)| {
            url.host_str()
                .is_some_and(|h| h.eq_ignore_ascii_case(host.trim_end_matches('.')))
        });
        let mut target = Target::new(name, url, Arc::clone(&tls)).map_err(|e| e.to_string())?;
        if let Some(i) = pin {
            pinned[i] = true;
            target.resolve = Some(opts.resolve[i].1);
        }
        // As for config targets: a plain-HTTP URL has no certificate and no TLS versions.
        if target.url.scheme() == "http" {
            target
                .checks
                .retain(|c| !matches!(c.id, "tls_cert" | "tls_version"));
        }
        let jobs = target
            .probes()
            .into_iter()
            .map(|kind| JobSpec {
                kind,
                interval: kind.default_interval(),
                timeout: kind.default_timeout(),
            })
            .collect();
        targets.push(PlannedTarget {
            target: Arc::new(target),
            jobs,
            fingerprint: 0,
        });
    }
    if let Some(i) = pinned.iter().position(|used| !used) {
        return Err(format!(
            "--resolve pins {}, which none of the URLs names",
            opts.resolve[i].0
        ));
    }
    Ok(Plan {
        listen: config::DEFAULT_LISTEN
            .parse()
            .expect("valid default listen address"),
        check_timing_metrics: false,
        scheduler: SchedulerSettings::default(),
        resolver: ResolverSettings::default(),
        targets,
        warnings: Vec::new(),
        modules: Modules::default(),
    })
}

/// Loads, parses and plans a config file.
///
/// # Errors
///
/// Every error found, each with its location.
pub fn load(path: &Path, cx: &PlanContext) -> Result<Plan, Vec<ConfigError>> {
    let (file, _) = config::load(path).map_err(|e| vec![e])?;
    build(path, file, cx)
}

/// `check`'s rule for the opt-in rate_limit check: without `--rate-limit` it never runs; with
/// it, URL targets (`from_urls`) get it too. Jobs follow the checks (defaults for new probes).
pub fn opt_in_rate_limit(plan: &mut Plan, enabled: bool, from_urls: bool) {
    for t in &mut plan.targets {
        let target = Arc::make_mut(&mut t.target);
        if enabled && from_urls && !target.has_check("rate_limit") {
            let mut ids: Vec<&str> = target.checks.iter().map(|c| c.id).collect();
            ids.push("rate_limit");
            target.checks = checks::ALL
                .iter()
                .copied()
                .filter(|c| ids.contains(&c.id))
                .collect();
        }
        if !enabled {
            target.checks.retain(|c| c.id != "rate_limit");
        }
        let probes = target.probes();
        t.jobs.retain(|j| probes.contains(&j.kind));
        for kind in probes {
            if !t.jobs.iter().any(|j| j.kind == kind) {
                t.jobs.push(JobSpec {
                    kind,
                    interval: kind.default_interval(),
                    timeout: kind.default_timeout(),
                });
            }
        }
    }
}
