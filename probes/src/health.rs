//! The `health` probe (CHECKS.md §11): one `GET` of the health URL, no redirects, the body
//! read up to 64 KiB; latency from request start until the body is read.

use http::header;
use tokio::time::Instant;

use crate::context::ProbeContext;
use crate::evidence::{Evidence, HealthEvidence};
use crate::fetch::{OTHER_BODY_CAP, RequestSpec};
use crate::probe::{Outcome, ProbeKind};
use crate::target::Target;

/// Runs the probe.
pub(crate) async fn run(target: &Target, cx: &ProbeContext<'_>) -> Outcome {
    let url = target
        .options
        .health
        .url
        .clone()
        .unwrap_or_else(|| target.url.clone());
    let spec = RequestSpec {
        credentials: target.credentials_for(ProbeKind::Health, &url),
        ..RequestSpec::get(&url, OTHER_BODY_CAP)
            .header(header::CACHE_CONTROL, "no-cache")
            .header(
                header::ACCEPT,
                "application/health+json, application/json;q=0.9, */*;q=0.8",
            )
    };
    let t0 = Instant::now();
    let outcome = cx
        .engine
        .exchange(&spec, &target.tls, target.pin_for(&url), cx.deadline)
        .await;
    let latency = t0.elapsed();
    let (success, reason) = match &outcome {
        Ok(e) => match e.tls.as_ref().and_then(|t| t.verification.failure_reason()) {
            Some(reason) => (false, Some(reason)),
            None => (true, None),
        },
        Err(f) => (false, Some(f.reason)),
    };
    Outcome {
        evidence: Evidence::Health(HealthEvidence {
            url,
            outcome,
            latency,
        }),
        success,
        reason,
        measurements: Vec::new(),
    }
}
