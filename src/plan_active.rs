//! Plan rules of the active checks (cors, exposed_paths, error_disclosure, rate_limit): the
//! config knobs that drive request counts are checked against the library's compile-time
//! ceilings (`probes::safety`). Config may lower them, never raise them.

use std::path::Path;

use probes::checks::exposed_paths::ExtraPath;
use probes::checks::rate_limit::RateLimitMethod;
use probes::safety::{
    CORS_MAX_ALLOWED_ORIGINS, CORS_MAX_PATHS, PATHS_MAX_EXTRA, RATE_LIMIT_CAP_CEILING,
    RATE_LIMIT_MAX_BODY, RATE_LIMIT_MAX_RPS,
};
use probes::target::CheckOptions;
use probes::verdict::Severity;

use crate::config::{ConfigError, Layer};

/// Maps the active checks' options into `options`, pushing an error for each value at fault.
pub(crate) fn apply(
    path: &Path,
    errors: &mut Vec<ConfigError>,
    layer: &Layer,
    options: &mut CheckOptions,
) {
    let mut err = |loc: &serde_saphyr::Location, msg: String| {
        errors.push(ConfigError::at(path, loc, msg));
    };
    if let Some(c) = &layer.cors {
        if let Some(o) = &c.allowed_origins {
            if o.value.len() > CORS_MAX_ALLOWED_ORIGINS {
                err(
                    &o.referenced,
                    format!(
                        "cors.allowed_origins lists {} origins; at most {CORS_MAX_ALLOWED_ORIGINS} are allowed (request budget, CHECKS.md §8)",
                        o.value.len()
                    ),
                );
            }
            options.cors.allowed_origins = o.value.iter().map(|a| a.0.clone()).collect();
        }
        if let Some(p) = &c.paths {
            if p.value.len() > CORS_MAX_PATHS {
                err(
                    &p.referenced,
                    format!(
                        "cors.paths lists {} paths; at most {CORS_MAX_PATHS} are allowed (request budget, CHECKS.md §8)",
                        p.value.len()
                    ),
                );
            }
            options.cors.paths = p.value.iter().map(|p| p.0.clone()).collect();
        }
    }
    if let Some(e) = &layer.exposed_paths {
        if let Some(x) = &e.extra_paths {
            if x.value.len() > PATHS_MAX_EXTRA {
                err(
                    &x.referenced,
                    format!(
                        "exposed_paths.extra_paths lists {} paths; at most {PATHS_MAX_EXTRA} are allowed (request budget)",
                        x.value.len()
                    ),
                );
            }
            let mut ids: Vec<&str> = Vec::new();
            for entry in &x.value {
                if ids.contains(&entry.id.0.as_str()) {
                    err(
                        &x.referenced,
                        format!(
                            "exposed_paths.extra_paths: id {:?} is listed twice",
                            entry.id.0
                        ),
                    );
                }
                ids.push(&entry.id.0);
            }
            options.exposed_paths.extra_paths = x
                .value
                .iter()
                .map(|e| ExtraPath {
                    id: e.id.0.clone(),
                    path: e.path.0.clone(),
                    signature: e.signature.0.clone(),
                    severity: e.severity.map_or(Severity::Medium, |s| s.0),
                })
                .collect();
        }
        if let Some(v) = e.under_base_path {
            options.exposed_paths.under_base_path = v;
        }
        if let Some(v) = e.public_api_docs {
            options.exposed_paths.public_api_docs = v;
        }
    }
    if let Some(d) = &layer.error_disclosure
        && let Some(s) = &d.suppress
    {
        options.error_disclosure.suppress = s.iter().map(|f| f.0.clone()).collect();
    }
    if let Some(r) = &layer.rate_limit {
        let o = &mut options.rate_limit;
        if let Some(p) = &r.path {
            o.path = Some(p.0.clone());
        }
        if let Some(m) = &r.method {
            o.method = m.value.0;
        }
        if let Some(c) = &r.cap {
            if c.value.0 > RATE_LIMIT_CAP_CEILING {
                err(
                    &c.referenced,
                    format!(
                        "rate_limit.cap {} is above the ceiling of {RATE_LIMIT_CAP_CEILING} (CHECKS.md §12)",
                        c.value.0
                    ),
                );
            }
            o.cap = c.value.0.min(RATE_LIMIT_CAP_CEILING);
        }
        if let Some(bu) = &r.burst {
            o.burst = bu.value.0;
            if o.burst > o.cap {
                err(
                    &bu.referenced,
                    format!(
                        "rate_limit.burst {} is above rate_limit.cap {}",
                        o.burst, o.cap
                    ),
                );
            }
        } else {
            o.burst = o.burst.min(o.cap);
        }
        if let Some(rps) = &r.rps {
            if rps.value.0 > RATE_LIMIT_MAX_RPS as usize {
                err(
                    &rps.referenced,
                    format!(
                        "rate_limit.rps {} is above the ceiling of {RATE_LIMIT_MAX_RPS} (CHECKS.md §12)",
                        rps.value.0
                    ),
                );
            }
            o.rps = u32::try_from(rps.value.0)
                .unwrap_or(RATE_LIMIT_MAX_RPS)
                .min(RATE_LIMIT_MAX_RPS);
        }
        if let Some(body) = &r.body {
            if o.method != RateLimitMethod::Post {
                err(
                    &body.referenced,
                    "rate_limit.body needs `method: POST` (GET and HEAD send no body)".into(),
                );
            }
            if body.value.len() > RATE_LIMIT_MAX_BODY {
                err(
                    &body.referenced,
                    format!(
                        "rate_limit.body is {} bytes; at most {RATE_LIMIT_MAX_BODY} are allowed (CHECKS.md §12)",
                        body.value.len()
                    ),
                );
            }
            o.body = body.value.clone();
        }
        if let Some(ct) = &r.content_type {
            if http::HeaderValue::from_str(&ct.value).is_err() {
                err(
                    &ct.referenced,
                    format!(
                        "rate_limit.content_type {:?} is not a valid header value",
                        ct.value
                    ),
                );
            }
            o.content_type = ct.value.clone();
        }
    }
}
