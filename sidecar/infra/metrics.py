"""Prometheus metrics of the sidecar, on a registry of their own so that each app instance is isolated."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class SidecarMetrics:
    """All metric objects; the app, the model runner and the Redis bus each update their own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "osiris_http_requests_total", "HTTP requests by route, method and status.",
            ["route", "method", "status"], registry=r,
        )
        self.request_latency = Histogram(
            "osiris_http_request_duration_seconds", "HTTP request latency by route and method.",
            ["route", "method"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.inference_latency = Histogram(
            "osiris_model_inference_duration_seconds", "Time of one batched generate call.",
            ["model_id"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.batch_size = Histogram(
            "osiris_model_batch_size", "Requests per batched generate call.",
            ["model_id"], buckets=BATCH_BUCKETS, registry=r,
        )
        self.tokens_generated = Counter(
            "osiris_model_generated_tokens_total", "New tokens generated.", ["model_id"], registry=r,
        )
        self.queue_depth = Gauge(
            "osiris_model_queue_depth", "Requests waiting for a batch.", ["model_id"], registry=r,
        )
        self.rejected = Counter(
            "osiris_model_rejected_total", "Requests refused with 503 because the queue was full.",
            ["model_id"], registry=r,
        )
        self.redis_errors = Counter(
            "osiris_redis_errors_total", "Redis operations that failed.", ["operation"], registry=r,
        )
        self.proposals = Counter(
            "osiris_proposals_total", "Trade proposals stored and published.", registry=r,
        )
