//! What a probe run receives besides its target.

use tokio::time::Instant;

use crate::fetch::Engine;

/// Per-run context: the shared engine and the run's deadline (every phase is bounded by it).
#[derive(Debug, Clone, Copy)]
pub struct ProbeContext<'a> {
    /// Resolver and User-Agent, built once per process.
    pub engine: &'a Engine,
    /// The run must finish by then; the scheduler also cuts it there.
    pub deadline: Instant,
}
