//! The Prometheus metrics (`--metrics-listen ADDR`, `GET /metrics`, OpenMetrics text): what
//! the audit point saw of every request (by event source, action and outcome), the decisions
//! made on them, how long they took, the failed authentications, and the audit trail's
//! backlog. Counted at the one audit point, so every door is counted the same way.
//!
//! Labels stay bounded: an action is named only when it is one we serve (`other` otherwise),
//! an outcome is `OK` or one of our error codes.

use std::collections::HashSet;
use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Request {
    source: String,
    action: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Source {
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Decision {
    decision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Failure {
    code: String,
}

/// The actions named in labels: every IAM and STS action served, and the other doors'.
static KNOWN: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    crate::served_actions()
        .into_iter()
        .map(|(_, a)| a)
        .chain([
            "LookupEvents",
            "Authorize",
            "ForwardAuth",
            "GetInstanceCredentials",
        ])
        .collect()
});

const SOURCES: [&str; 4] = [
    "iam.amazonaws.com",
    "sts.amazonaws.com",
    "cloudtrail.amazonaws.com",
    crate::audit::PORTCULLIS_SOURCE,
];

/// The service's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<Request, Counter>,
    latency: Family<Source, Histogram>,
    decisions: Family<Decision, Counter>,
    authentication_failures: Family<Failure, Counter>,
    audit_backlog: Gauge,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 4 s.
    Histogram::new(exponential_buckets(0.00025, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("portcullis");
        let requests = Family::<Request, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by event source, action and outcome (OK or the error code)",
            requests.clone(),
        );
        let latency = Family::<Source, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "request_duration_seconds",
            "Time from reading a request's body to its answer, by event source",
            latency.clone(),
        );
        let decisions = Family::<Decision, Counter>::default();
        registry.register(
            "decisions",
            "Authorization decisions (Allow, ExplicitDeny, ImplicitDeny), every door's",
            decisions.clone(),
        );
        let authentication_failures = Family::<Failure, Counter>::default();
        registry.register(
            "authentication_failures",
            "Requests refused before a caller was known, by error code",
            authentication_failures.clone(),
        );
        let audit_backlog = Gauge::default();
        registry.register(
            "audit_backlog",
            "Audit events queued for the trail's writer, not yet committed",
            audit_backlog.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            decisions,
            authentication_failures,
            audit_backlog,
        }
    }
}

/// What the audit point knows of an answered request.
pub struct Observed<'a> {
    pub source: &'a str,
    pub action: &'a str,
    /// `None` for a success.
    pub error_code: Option<&'a str>,
    /// No caller was authenticated (and the request failed).
    pub unauthenticated: bool,
    pub decisions: &'a [portcullis_iam::audit::DecisionRecord],
    pub seconds: f64,
}

impl Metrics {
    /// Counts one answered request.
    pub fn observe(&self, o: &Observed<'_>) {
        let source = if SOURCES.contains(&o.source) {
            o.source
        } else {
            "other"
        };
        let action = if KNOWN.contains(o.action) {
            o.action
        } else {
            "other"
        };
        let outcome = o.error_code.map_or("OK", bounded_code);
        self.requests
            .get_or_create(&Request {
                source: source.to_owned(),
                action: action.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        self.latency
            .get_or_create(&Source {
                source: source.to_owned(),
            })
            .observe(o.seconds);
        for d in o.decisions {
            self.decisions
                .get_or_create(&Decision {
                    decision: d.decision.clone(),
                })
                .inc();
        }
        if o.unauthenticated
            && let Some(code) = o.error_code
        {
            self.authentication_failures
                .get_or_create(&Failure {
                    code: bounded_code(code).to_owned(),
                })
                .inc();
        }
    }

    /// The OpenMetrics text, with the audit backlog as it is now.
    pub fn render(&self, audit_backlog: u64) -> String {
        self.audit_backlog
            .set(i64::try_from(audit_backlog).unwrap_or(i64::MAX));
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

/// An error code as a label: ours are words of letters (AWS's codes); anything else, which
/// only a peer could have made up, is `other`.
fn bounded_code(code: &str) -> &str {
    if code.len() <= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') {
        code
    } else {
        "other"
    }
}
