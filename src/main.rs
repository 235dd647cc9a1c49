//! prodprobe: continuous, outside-in production-readiness checks.
//!
//! `serve` runs the scheduler and exposes `/metrics`; `check` runs every job once and prints a
//! report with a CI exit code; `validate` checks a config file.

use std::future::IntoFuture;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use probes::checks;
use probes::fetch::Engine;
use probes::resolve::Resolver;
use probes::tls::TlsClient;
use probes::verdict::Severity;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use prodprobe::exporter::Exporter;
use prodprobe::formats;
use prodprobe::plan::{self, Plan, PlanContext};
use prodprobe::reload::{self, Reloader};
use prodprobe::report::Report;
use prodprobe::scheduler::{self, EngineRunner, Runner, Scheduler};
use prodprobe::server;
use prodprobe::shard::Shard;

/// Exit code for usage and configuration errors.
const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "prodprobe",
    version,
    about = "Continuous, outside-in production-readiness checks for web services"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format (logs go to stderr).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    /// Log filter, e.g. `info` or `prodprobe=debug` (also PRODPROBE_LOG).
    #[arg(long, global = true, env = "PRODPROBE_LOG", default_value = "info")]
    log_level: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ReportFormat {
    /// For people (colours on a terminal).
    Text,
    /// The documented schema (docs/report.md).
    Json,
    /// JUnit XML: a test case per target × check.
    Junit,
    /// SARIF 2.1.0: findings as results.
    Sarif,
    /// Markdown for pull-request comments.
    Markdown,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the scheduler and serve /metrics until SIGTERM or SIGINT.
    Serve {
        /// Config file.
        #[arg(long, short)]
        config: PathBuf,
        /// Listen address, overriding `server.listen`: IP:port, [IPv6]:port, :port or
        /// localhost:port (port 0 picks a free port).
        #[arg(long)]
        listen: Option<prodprobe::config::ListenAddr>,
        /// Probe only shard INDEX of COUNT (e.g. `2/4`, numbered from 0 like StatefulSet
        /// ordinals): the targets rendezvous hashing on their names gives to it.
        #[arg(long, env = "PRODPROBE_SHARD", value_name = "INDEX/COUNT")]
        shard: Option<Shard>,
    },
    /// Run every job once and print a readiness report; exit 1 when a check fails.
    Check {
        /// Config file (or give URLs instead).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// URLs to check with default settings, without a config file (a bare host such as `shop.example.com` means `https://shop.example.com/`).
        urls: Vec<String>,
        /// Report format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
        /// Write the report to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Exit 1 when a check fails with a finding at or above this severity (info findings
        /// never fail a check: `info` gates like `low`).
        #[arg(long, default_value = "low", value_parser = parse_severity)]
        fail_on: Severity,
        /// Do not exit 1 when a check could not be evaluated (status error, or skipped because
        /// the certificate failed verification, the target was in backoff or its health gate
        /// failed).
        #[arg(long)]
        allow_errors: bool,
        /// For the URLs given: a PEM file of CA certificates trusted besides the public roots
        /// (a private CA; a config file sets `ca_file` per target).
        #[arg(long, value_name = "PEM")]
        ca_file: Option<PathBuf>,
        /// For the URLs given: connect to ADDRESS for HOST, keeping Host and SNI, like a
        /// config target's `resolve` (repeatable; e.g. `shop.example:192.0.2.7`).
        #[arg(long, value_name = "HOST:ADDRESS", value_parser = plan::parse_pin)]
        resolve: Vec<(String, std::net::IpAddr)>,
        /// Only these checks (comma-separated).
        #[arg(long, value_delimiter = ',')]
        checks: Vec<String>,
        /// Only these targets (by name, repeatable).
        #[arg(long = "target")]
        targets: Vec<String>,
        /// Also run the opt-in rate_limit check (a bounded burst): for config targets that
        /// enable it, and for every URL given on the command line.
        #[arg(long)]
        rate_limit: bool,
        /// Only the targets of shard INDEX of COUNT (e.g. `0/3`), as `serve --shard` splits
        /// them: parallel CI jobs each check one shard.
        #[arg(long, value_name = "INDEX/COUNT")]
        shard: Option<Shard>,
    },
    /// Say what a finding means and what to do: `explain hsts/missing`, `explain hsts`, or
    /// `explain missing` (every check that has it); without an argument, list every finding.
    Explain {
        /// `CHECK/FINDING`, `CHECK` or `FINDING`.
        query: Option<String>,
    },
    /// Validate a config file; exit 2 and print every problem when it is invalid (a YAML
    /// syntax or type error ends the reading and is reported alone).
    Validate {
        /// Config file.
        #[arg(long, short)]
        config: PathBuf,
    },
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::from_name(s).ok_or_else(|| {
        format!("unknown severity {s:?}: expected info, low, medium, high or critical")
    })
}

/// Sets up logging.
///
/// # Errors
///
/// A level or filter the subscriber cannot parse (a typo must not silently become `info`).
fn init_logging(format: LogFormat, filter: &str) -> Result<(), String> {
    let mut env_filter = tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| {
        format!("invalid log level {filter:?}: {e} (expected error, warn, info, debug, trace or a tracing filter)")
    })?;
    // The HTML parser logs its tokenizer's every step at debug and trace (thousands of lines
    // per page), which would bury prodprobe's own lines; it speaks only when named.
    for noisy in ["html5ever", "markup5ever"] {
        if !filter.contains(noisy) {
            env_filter = env_filter.add_directive(
                format!("{noisy}=warn")
                    .parse()
                    .expect("a constant directive parses"),
            );
        }
    }
    let filter = env_filter;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = init_logging(cli.log_format, &cli.log_level) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("prodprobe: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let log_format = cli.log_format;
    runtime.block_on(async move {
        match cli.command {
            Command::Validate { config } => validate(&config),
            Command::Explain { query } => match prodprobe::about::explain(query.as_deref()) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("prodprobe explain: {e}");
                    ExitCode::from(EXIT_USAGE)
                }
            },
            Command::Check {
                config,
                urls,
                format,
                output,
                fail_on,
                allow_errors,
                checks,
                targets,
                rate_limit,
                shard,
                ca_file,
                resolve,
            } => {
                let opts = CheckOptions {
                    format,
                    output,
                    fail_on,
                    allow_errors,
                    rate_limit,
                    shard: shard.unwrap_or_default(),
                    urls: plan::UrlOptions { ca_file, resolve },
                };
                check(config, urls, &opts, &checks, &targets).await
            }
            Command::Serve {
                config,
                listen,
                shard,
            } => match serve(config, listen.map(|l| l.0), shard.unwrap_or_default()).await {
                Ok(code) => code,
                Err(e) => {
                    // One line on stderr: a JSON log line for log shippers, plain text otherwise
                    // (the human log format would print the same message twice).
                    match log_format {
                        LogFormat::Json if tracing::enabled!(tracing::Level::ERROR) => {
                            tracing::error!("{e:#}");
                        }
                        _ => eprintln!("prodprobe: {e:#}"),
                    }
                    ExitCode::FAILURE
                }
            },
        }
    })
}

fn plan_context() -> anyhow::Result<PlanContext> {
    let tls = TlsClient::new(&[]).context("building the public-roots TLS client")?;
    Ok(PlanContext {
        public_tls: Arc::new(tls),
    })
}

fn load_plan(path: &std::path::Path, cx: &PlanContext) -> Result<Plan, ExitCode> {
    plan::load(path, cx).map_err(|errors| {
        for e in &errors {
            eprintln!("{e}");
        }
        eprintln!("prodprobe: {} error(s) in {}", errors.len(), path.display());
        ExitCode::from(EXIT_USAGE)
    })
}

fn validate(path: &std::path::Path) -> ExitCode {
    let cx = match plan_context() {
        Ok(cx) => cx,
        Err(e) => {
            eprintln!("prodprobe: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    match load_plan(path, &cx) {
        Ok(plan) => {
            for w in &plan.warnings {
                eprintln!("warning: {w}");
            }
            let jobs: usize = plan.targets.iter().map(|t| t.jobs.len()).sum();
            eprintln!(
                "{}: valid ({} targets, {jobs} jobs)",
                path.display(),
                plan.targets.len()
            );
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

fn engine(plan: &Plan) -> Engine {
    let resolver = Resolver::new(&plan.resolver).unwrap_or_else(|e| {
        tracing::warn!("{e}; only /etc/hosts, IP literals and pinned addresses will resolve");
        Resolver::hosts_only()
    });
    Engine::new(resolver, probes::USER_AGENT)
}

/// How `check` reports.
struct CheckOptions {
    format: ReportFormat,
    output: Option<PathBuf>,
    fail_on: Severity,
    allow_errors: bool,
    /// Also run the opt-in rate_limit burst.
    rate_limit: bool,
    /// The shard whose targets run.
    shard: Shard,
    /// What applies to URLs given on the command line.
    urls: plan::UrlOptions,
}

async fn check(
    config: Option<PathBuf>,
    urls: Vec<String>,
    opts: &CheckOptions,
    only_checks: &[String],
    only_targets: &[String],
) -> ExitCode {
    let rate_limit = opts.rate_limit;
    let usage = |msg: String| {
        eprintln!("prodprobe check: {msg}");
        ExitCode::from(EXIT_USAGE)
    };
    let cx = match plan_context() {
        Ok(cx) => cx,
        Err(e) => return usage(format!("{e:#}")),
    };
    let from_urls = config.is_none();
    if !rate_limit && only_checks.iter().any(|c| c == "rate_limit") {
        return usage("rate_limit is opt-in: add --rate-limit to run its burst".into());
    }
    let mut plan = match (config, urls.is_empty()) {
        (Some(_), false) => return usage("give either --config or URLs, not both".into()),
        (Some(_), true) if opts.urls.ca_file.is_some() || !opts.urls.resolve.is_empty() => {
            return usage(
                "--ca-file and --resolve apply to URLs; in a config file, set ca_file and resolve per target"
                    .into(),
            );
        }
        (None, true) => return usage("give --config FILE or at least one URL".into()),
        (Some(path), true) => match load_plan(&path, &cx) {
            Ok(p) => p,
            Err(code) => return code,
        },
        (None, false) => match plan::for_urls(&urls, &cx, &opts.urls) {
            Ok(p) => p,
            Err(e) => return usage(e),
        },
    };
    plan.shard(opts.shard);
    for w in plan.warnings.iter().filter(|w| w.starts_with("shard ")) {
        eprintln!("warning: {w}");
    }
    if !only_targets.is_empty() {
        if let Some(unknown) = only_targets
            .iter()
            .find(|n| !plan.targets.iter().any(|t| &t.target.name == *n))
        {
            let elsewhere = plan
                .modules
                .other_shards
                .iter()
                .any(|t| &t.target.name == unknown);
            return usage(if elsewhere {
                format!(
                    "target {unknown:?} belongs to another shard than {}",
                    opts.shard
                )
            } else {
                format!("no target named {unknown:?}")
            });
        }
        plan.targets
            .retain(|t| only_targets.contains(&t.target.name));
    }
    let mut not_applicable = Vec::new();
    if !only_checks.is_empty() {
        let mut wanted = Vec::new();
        for id in only_checks {
            match checks::by_id(id) {
                Some(def) => wanted.push(def.id),
                None => {
                    let known: Vec<&str> = checks::ALL.iter().map(|c| c.id).collect();
                    return usage(format!(
                        "unknown check {id:?}, expected one of {}",
                        known.join(", ")
                    ));
                }
            }
        }
        for t in &mut plan.targets {
            // Asked for by name, a TLS check an http:// target cannot run is said so, not
            // silently left out of the report.
            if t.target.url.scheme() == "http" {
                for id in wanted
                    .iter()
                    .filter(|id| plan::HTTPS_ONLY_CHECKS.contains(id))
                {
                    not_applicable.push(format!(
                        "prodprobe check: {id} does not apply to plain-HTTP target {:?} ({}): not run",
                        t.target.name, t.target.url
                    ));
                }
            }
            let target = Arc::make_mut(&mut t.target);
            target.checks.retain(|c| wanted.contains(&c.id));
            let probes = target.probes();
            t.jobs.retain(|j| probes.contains(&j.kind));
        }
    }
    // URL targets get the burst unless --checks leaves rate_limit out.
    let add_to_urls =
        from_urls && (only_checks.is_empty() || only_checks.iter().any(|c| c == "rate_limit"));
    plan::opt_in_rate_limit(&mut plan, rate_limit, add_to_urls);
    // A CI gate that ran nothing must not pass: --checks naming only checks that no selected
    // target enables would otherwise report an empty, green run.
    if !only_checks.is_empty() && plan.targets.iter().all(|t| t.target.checks.is_empty()) {
        let all_http = plan.targets.iter().all(|t| t.target.url.scheme() == "http");
        return usage(if all_http {
            format!(
                "{} cannot run on plain-HTTP targets: give an https:// URL",
                only_checks.join(", ")
            )
        } else {
            format!(
                "no selected target enables {}: enable it in the config's checks, or leave out --checks",
                only_checks.join(", ")
            )
        });
    }
    for line in &not_applicable {
        eprintln!("{line}");
    }
    let runner: Arc<dyn Runner> = Arc::new(EngineRunner {
        engine: Arc::new(engine(&plan)),
    });
    let runtimes = scheduler::run_once(&plan, runner).await;
    let report = Report::from_runtimes(&runtimes);
    let out = match opts.format {
        ReportFormat::Text => {
            let color = opts.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none();
            report.to_text(color)
        }
        ReportFormat::Json => report.to_json(),
        ReportFormat::Junit => formats::junit(&report),
        ReportFormat::Sarif => formats::sarif(&report),
        ReportFormat::Markdown => formats::markdown(&report),
    };
    match &opts.output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, format!("{}\n", out.trim_end())) {
                eprintln!("prodprobe check: cannot write {}: {e}", path.display());
                return ExitCode::from(EXIT_USAGE);
            }
        }
        None => println!("{}", out.trim_end()),
    }
    ExitCode::from(report.exit_code(opts.fail_on, opts.allow_errors) as u8)
}

/// SIGTERM and SIGINT, listened to from start-up on: a signal that arrives while the daemon is
/// between two waits (the first signal's drain starting) is not lost.
struct StopSignals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            // SIGHUP's default action ends the process: install tokio's handler now, so a
            // SIGHUP sent while the daemon starts (before the reload task listens) is harmless.
            drop(signal(SignalKind::hangup()));
            StopSignals {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// The next SIGTERM or SIGINT.
    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                () = next(&mut self.term) => {},
                () = next(&mut self.int) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn serve(
    path: PathBuf,
    listen: Option<SocketAddr>,
    shard: Shard,
) -> anyhow::Result<ExitCode> {
    let mut signals = StopSignals::new();
    let cx = plan_context()?;
    let mut plan = match load_plan(&path, &cx) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    plan.shard(shard);
    for w in &plan.warnings {
        tracing::warn!("{w}");
    }
    let exporter = Arc::new(Exporter::new());
    exporter.reloaded(true);
    exporter.set_shard(shard);
    let runner: Arc<dyn Runner> = Arc::new(EngineRunner {
        engine: Arc::new(engine(&plan)),
    });
    // Bind first: a taken port ends the process before any probe is sent.
    let addr = listen.unwrap_or(plan.listen);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let mut scheduler = Scheduler::new(
        Arc::clone(&runner),
        Arc::clone(&exporter),
        plan.scheduler.clone(),
    );
    scheduler.apply(&plan);
    let bound = listener.local_addr().context("reading the bound address")?;
    let jobs: usize = plan.targets.iter().map(|t| t.jobs.len()).sum();
    tracing::info!(addr = %bound, config = %path.display(), targets = plan.targets.len(), jobs, %shard, "prodprobe listening");

    let shutdown = CancellationToken::new();
    let (reload_tx, reload_rx) = mpsc::channel(4);
    let current = reload::shared(plan);
    let state = server::AppState {
        exporter: Arc::clone(&exporter),
        readiness: scheduler.readiness(),
        live: scheduler.live(),
        reload: reload_tx,
        probe: server::ProbeState {
            plan: Arc::clone(&current),
            cx: cx.clone(),
            runner,
            permits: Arc::new(tokio::sync::Semaphore::new(server::PROBE_CONCURRENCY)),
            limits: scheduler.limits(),
            recent: Arc::default(),
            host_runs: Arc::default(),
            backoffs: Arc::default(),
        },
    };
    let reloader = Reloader {
        path,
        cx,
        shard,
        scheduler,
        exporter,
        current,
    };
    let reload_task = tokio::spawn(reloader.run(reload_rx, shutdown.clone()));

    let stop = shutdown.clone();
    let mut http = tokio::spawn(
        axum::serve(listener, server::router(state))
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .into_future(),
    );
    tokio::select! {
        () = signals.recv() => {}
        ended = &mut http => {
            shutdown.cancel();
            ended.context("HTTP server task failed")?.context("HTTP server failed")?;
            anyhow::bail!("the HTTP server stopped unexpectedly");
        }
    }
    tracing::info!("shutting down: waiting for in-flight probes");
    shutdown.cancel();
    let scheduler = reload_task.await.context("reload task panicked")?;
    // In-flight probe runs and HTTP answers (an on-demand /probe) finish or are cut at the
    // shutdown grace; a second SIGTERM or SIGINT ends the wait at once.
    let drain = async {
        let (_, answered) = tokio::join!(
            scheduler.shutdown(),
            tokio::time::timeout(scheduler::SHUTDOWN_GRACE, &mut http)
        );
        if answered.is_err() {
            tracing::warn!(
                "HTTP requests in flight did not finish within {:?}",
                scheduler::SHUTDOWN_GRACE
            );
        }
    };
    tokio::select! {
        () = drain => {}
        () = signals.recv() => tracing::warn!("second signal: not waiting for in-flight probes"),
    }
    http.abort();
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
