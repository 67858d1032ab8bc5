//! The host's Prometheus metrics: requests per route and component version,
//! capability calls per backend, cache hits, instance use and swaps. One
//! process-wide set, rendered by `GET /metrics`.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of the text `render` returns.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: Arc<str>,
    component: Arc<str>,
    version: Arc<str>,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: Arc<str>,
    component: Arc<str>,
    version: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    capability: &'static str,
    backend: Arc<str>,
    operation: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendLabels {
    capability: &'static str,
    backend: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LookupLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ComponentLabels {
    component: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SwapLabels {
    component: Arc<str>,
    trigger: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Request latencies: 100 µs to about 27 s.
fn request_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_1, 2.0, 19))
}

/// Capability call latencies: 50 µs to about 13 s.
fn call_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 19))
}

/// Every metric the host keeps.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: HistogramFamily<RouteLabels>,
    calls: Family<CallLabels, Counter>,
    call_seconds: HistogramFamily<BackendLabels>,
    cache_lookups: Family<LookupLabels, Counter>,
    cache_hit_ratio: Gauge<f64, std::sync::atomic::AtomicU64>,
    instances_active: Family<ComponentLabels, Gauge>,
    instance_slots: Gauge,
    swaps: Family<SwapLabels, Counter>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub(crate) fn metrics() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    fn new() -> Self {
        let mut metrics = Self {
            registry: Registry::with_prefix("summer"),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(request_histogram),
            calls: Family::default(),
            call_seconds: Family::new_with_constructor(call_histogram),
            cache_lookups: Family::default(),
            cache_hit_ratio: Gauge::default(),
            instances_active: Family::default(),
            instance_slots: Gauge::default(),
            swaps: Family::default(),
        };
        metrics.register();
        metrics
    }

    fn register(&mut self) {
        let r = &mut self.registry;
        r.register(
            "requests",
            "Requests served by components, by route, component version and status",
            self.requests.clone(),
        );
        r.register(
            "request_duration_seconds",
            "Time from a request's arrival to its response head, by route and component version",
            self.request_seconds.clone(),
        );
        r.register(
            "capability_calls",
            "Capability calls made by components, by backend, operation and outcome",
            self.calls.clone(),
        );
        r.register(
            "capability_call_duration_seconds",
            "Time capability calls take, by backend",
            self.call_seconds.clone(),
        );
        r.register(
            "cache_lookups",
            "Cache reads by result (hit or miss)",
            self.cache_lookups.clone(),
        );
        r.register(
            "cache_hit_ratio",
            "Hits over all cache reads since the host started",
            self.cache_hit_ratio.clone(),
        );
        r.register(
            "instances_active",
            "Component instances serving a request right now, by component",
            self.instances_active.clone(),
        );
        r.register(
            "instance_slots",
            "Instances the pooling allocator can hold at once",
            self.instance_slots.clone(),
        );
        r.register(
            "component_swaps",
            "Component versions put in service, by component and trigger",
            self.swaps.clone(),
        );
    }

    /// Counts one request answered with `status` after `took`.
    pub(crate) fn request(&self, served: &Served, status: u16, took: Duration) {
        let route = RouteLabels {
            route: served.route.clone(),
            component: served.component.clone(),
            version: served.version.clone(),
        };
        self.request_seconds
            .get_or_create(&route)
            .observe(took.as_secs_f64());
        let RouteLabels {
            route,
            component,
            version,
        } = route;
        self.requests
            .get_or_create(&RequestLabels {
                route,
                component,
                version,
                status,
            })
            .inc();
    }

    /// Counts one call to `capability`'s `backend` and its outcome (`ok`
    /// or the error kind), and how long it took.
    pub(crate) fn call(&self, call: &Call, took: Duration) {
        self.calls
            .get_or_create(&CallLabels {
                capability: call.capability,
                backend: call.backend.clone(),
                operation: call.operation,
                outcome: call.outcome,
            })
            .inc();
        self.call_seconds
            .get_or_create(&BackendLabels {
                capability: call.capability,
                backend: call.backend.clone(),
            })
            .observe(took.as_secs_f64());
    }

    /// Counts cache reads that found (`hits`) or missed (`misses`) their key.
    pub(crate) fn cache_lookups(&self, hits: u64, misses: u64) {
        if hits > 0 {
            self.cache_lookups
                .get_or_create(&LookupLabels { result: "hit" })
                .inc_by(hits);
        }
        if misses > 0 {
            self.cache_lookups
                .get_or_create(&LookupLabels { result: "miss" })
                .inc_by(misses);
        }
    }

    /// Counts an instance of `component` as in use until the guard drops.
    pub(crate) fn instance_in_use(&self, component: &Arc<str>) -> InUse {
        let gauge = self.instances_active.get_or_create_owned(&ComponentLabels {
            component: component.clone(),
        });
        gauge.inc();
        InUse(gauge)
    }

    /// Records the size of the instance pool.
    pub(crate) fn set_instance_slots(&self, slots: u32) {
        self.instance_slots.set(i64::from(slots));
    }

    /// Counts a version of `component` put in service.
    pub(crate) fn swap(&self, component: &str, trigger: &'static str) {
        self.swaps
            .get_or_create(&SwapLabels {
                component: component.into(),
                trigger,
            })
            .inc();
    }

    /// Every metric in the OpenMetrics text format.
    pub(crate) fn render(&self) -> String {
        self.cache_hit_ratio.set(self.hit_ratio());
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }

    fn hit_ratio(&self) -> f64 {
        let count = |result| {
            self.cache_lookups
                .get(&LookupLabels { result })
                .map_or(0, |c| c.get())
        };
        let (hits, misses) = (count("hit"), count("miss"));
        if hits + misses == 0 {
            return 0.0;
        }
        hits as f64 / (hits + misses) as f64
    }
}

/// An instance counted as in use; dropping it counts it out.
pub(crate) struct InUse(Gauge);

impl Drop for InUse {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// What a request's metrics are labelled with.
#[derive(Clone, Debug)]
pub(crate) struct Served {
    pub(crate) route: Arc<str>,
    pub(crate) component: Arc<str>,
    pub(crate) version: Arc<str>,
}

/// What a capability call's metrics are labelled with.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    /// `sql`, `cache`, ...
    pub(crate) capability: &'static str,
    /// `postgres`, `sqlite`, `redis`, ...
    pub(crate) backend: Arc<str>,
    pub(crate) operation: &'static str,
    /// `ok`, or the error kind.
    pub(crate) outcome: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served() -> Served {
        Served {
            route: "/users/{id}".into(),
            component: "users".into(),
            version: "abc".into(),
        }
    }

    #[test]
    fn a_request_shows_in_its_route_count_and_histogram() {
        let metrics = Metrics::new();
        metrics.request(&served(), 200, Duration::from_millis(3));
        metrics.request(&served(), 200, Duration::from_millis(5));
        let text = metrics.render();
        assert!(
            text.contains(
                r#"summer_requests_total{route="/users/{id}",component="users",version="abc",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"summer_request_duration_seconds_count{route="/users/{id}",component="users",version="abc"} 2"#
            ),
            "{text}"
        );
    }

    #[test]
    fn the_hit_ratio_is_hits_over_lookups() {
        let metrics = Metrics::new();
        assert!(metrics.render().contains("summer_cache_hit_ratio 0.0"));
        metrics.cache_lookups(3, 1);
        let text = metrics.render();
        assert!(text.contains("summer_cache_hit_ratio 0.75"), "{text}");
        assert!(text.contains(r#"summer_cache_lookups_total{result="hit"} 3"#));
    }

    #[test]
    fn calls_are_labelled_with_their_backend() {
        let metrics = Metrics::new();
        let call = Call {
            capability: "sql",
            backend: "postgres".into(),
            operation: "query",
            outcome: "ok",
        };
        metrics.call(&call, Duration::from_micros(200));
        let text = metrics.render();
        assert!(
            text.contains(
                r#"summer_capability_calls_total{capability="sql",backend="postgres",operation="query",outcome="ok"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(
            r#"summer_capability_call_duration_seconds_count{capability="sql",backend="postgres"} 1"#
        ));
    }
}
