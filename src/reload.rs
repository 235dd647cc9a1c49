//! Reload: SIGHUP and `POST /-/reload` both end here. The new config is validated first; on
//! error the running configuration stays and `prodprobe_config_last_reload_successful` drops
//! to 0.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::exporter::Exporter;
use crate::plan::{self, Plan, PlanContext};
use crate::scheduler::Scheduler;
use crate::server::ReloadRequest;

/// Owns the scheduler while the daemon runs and applies reloads one at a time.
pub struct Reloader {
    /// Config path.
    pub path: PathBuf,
    /// Shared plan inputs.
    pub cx: PlanContext,
    /// The shard whose targets this instance probes.
    pub shard: crate::shard::Shard,
    /// The scheduler.
    pub scheduler: Scheduler,
    /// Metrics.
    pub exporter: Arc<Exporter>,
    /// The plan running now, shared with the `/probe` endpoint.
    pub current: SharedPlan,
}

/// The running plan, replaced on every successful reload.
pub type SharedPlan = Arc<RwLock<Arc<Plan>>>;

/// Wraps a plan for sharing.
pub fn shared(plan: Plan) -> SharedPlan {
    Arc::new(RwLock::new(Arc::new(plan)))
}

impl Reloader {
    /// Validates the file and, if it is good, applies it.
    ///
    /// # Errors
    ///
    /// The config errors, one per line; the running configuration is kept.
    pub fn reload(&mut self) -> Result<String, String> {
        match plan::load(&self.path, &self.cx) {
            Ok(mut plan) => {
                plan.shard(self.shard);
                let current = Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()));
                if plan.listen != current.listen {
                    tracing::warn!(old = %current.listen, new = %plan.listen, "server.listen changed: restart prodprobe to apply it");
                }
                if plan.resolver != current.resolver {
                    tracing::warn!("resolver settings changed: restart prodprobe to apply them");
                }
                for w in &plan.warnings {
                    tracing::warn!("{w}");
                }
                self.scheduler.apply(&plan);
                self.exporter.reloaded(true);
                let msg = format!("configuration reloaded: {} targets", plan.targets.len());
                tracing::info!(path = %self.path.display(), targets = plan.targets.len(), "configuration reloaded");
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(plan);
                Ok(msg)
            }
            Err(errors) => {
                self.exporter.reloaded(false);
                let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
                for e in &errors {
                    tracing::error!(error = %e, "reload failed; keeping the running configuration");
                }
                Err(format!(
                    "reload failed; keeping the running configuration:\n{}",
                    text.join("\n")
                ))
            }
        }
    }

    /// Serves reload requests (HTTP and SIGHUP) until shutdown; returns the scheduler so the
    /// caller can drain it.
    pub async fn run(
        mut self,
        mut requests: mpsc::Receiver<ReloadRequest>,
        shutdown: CancellationToken,
    ) -> Scheduler {
        #[cfg(unix)]
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        loop {
            #[cfg(unix)]
            let sighup = async {
                match hup.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let sighup = std::future::pending::<()>();
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = sighup => {
                    tracing::info!("SIGHUP: reloading configuration");
                    let _ = self.reload();
                }
                req = requests.recv() => match req {
                    Some(reply) => {
                        let outcome = self.reload();
                        let _ = reply.send(outcome);
                    }
                    None => break,
                },
            }
        }
        self.scheduler
    }
}
