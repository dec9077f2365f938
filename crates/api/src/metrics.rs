//! Prometheus metrics: one registry per app instance (no globals, so tests can run many apps
//! in one process).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub pool_in_use: IntGauge,
    pub pool_idle: IntGauge,
    pub pool_max: IntGauge,
    pub customers_created: IntCounter,
    pub customers_archived: IntCounter,
    pub interactions_created: IntCounter,
    /// Points moved, by ledger entry kind and direction (`issued` or `taken`).
    pub loyalty_points: IntCounterVec,
    pub tickets_created: IntCounter,
    /// Status changes, by the status moved to.
    pub ticket_status_changes: IntCounterVec,
    /// CSAT ratings recorded, by rating.
    pub ticket_ratings: IntCounterVec,
    /// Open tickets whose SLA clock is breached now, by clock; set when `/metrics` is read.
    pub tickets_sla_breached: IntGaugeVec,
    pub tokens_issued: IntCounter,
    pub auth_failures: IntCounter,
}

impl Metrics {
    pub fn new(backend: &str) -> anyhow::Result<Self> {
        let registry = Registry::new_custom(Some("rapport".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route template, method and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route template, method and status",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route", "status"],
        )?;
        let pool_in_use = IntGauge::new(
            "db_pool_connections_in_use",
            "Database connections checked out",
        )?;
        let pool_idle = IntGauge::new("db_pool_connections_idle", "Idle database connections")?;
        let pool_max = IntGauge::new("db_pool_connections_max", "Pool size limit")?;
        let build = IntGaugeVec::new(
            Opts::new("build_info", "Build information"),
            &["version", "backend"],
        )?;
        let customers_created = IntCounter::new("customers_created_total", "Customers created")?;
        let customers_archived = IntCounter::new("customers_archived_total", "Customers archived")?;
        let interactions_created =
            IntCounter::new("interactions_created_total", "Interactions recorded")?;
        let loyalty_points = IntCounterVec::new(
            Opts::new(
                "loyalty_points_total",
                "Loyalty points moved, by ledger entry kind and direction (issued or taken)",
            ),
            &["kind", "direction"],
        )?;
        let tickets_created = IntCounter::new("tickets_created_total", "Support tickets opened")?;
        let ticket_status_changes = IntCounterVec::new(
            Opts::new(
                "ticket_status_changes_total",
                "Ticket status changes, by the status moved to",
            ),
            &["to"],
        )?;
        let ticket_ratings = IntCounterVec::new(
            Opts::new("ticket_ratings_total", "CSAT ratings recorded, by rating"),
            &["rating"],
        )?;
        let tickets_sla_breached = IntGaugeVec::new(
            Opts::new(
                "tickets_sla_breached",
                "Unsolved tickets whose SLA clock is breached, by clock (first_response, resolution)",
            ),
            &["clock"],
        )?;
        let tokens_issued = IntCounter::new("auth_tokens_issued_total", "Access tokens issued")?;
        let auth_failures = IntCounter::new(
            "auth_failures_total",
            "Requests refused for bad or missing credentials",
        )?;
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(pool_in_use.clone()),
            Box::new(pool_idle.clone()),
            Box::new(pool_max.clone()),
            Box::new(build.clone()),
            Box::new(customers_created.clone()),
            Box::new(customers_archived.clone()),
            Box::new(interactions_created.clone()),
            Box::new(loyalty_points.clone()),
            Box::new(tickets_created.clone()),
            Box::new(ticket_status_changes.clone()),
            Box::new(ticket_ratings.clone()),
            Box::new(tickets_sla_breached.clone()),
            Box::new(tokens_issued.clone()),
            Box::new(auth_failures.clone()),
        ] {
            registry.register(c)?;
        }
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION"), backend])
            .set(1);
        Ok(Self {
            registry,
            requests,
            latency,
            pool_in_use,
            pool_idle,
            pool_max,
            customers_created,
            customers_archived,
            interactions_created,
            loyalty_points,
            tickets_created,
            ticket_status_changes,
            ticket_ratings,
            tickets_sla_breached,
            tokens_issued,
            auth_failures,
        })
    }

    /// Counts the points a ledger entry moved.
    pub fn loyalty_entry(&self, e: &rapport_domain::loyalty::Entry) {
        let direction = if e.points > 0 { "issued" } else { "taken" };
        self.loyalty_points
            .with_label_values(&[e.kind.as_str(), direction])
            .inc_by(e.points.unsigned_abs());
    }

    /// Text exposition format.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}
