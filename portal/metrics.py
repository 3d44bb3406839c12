"""Prometheus metrics (docs/rules.md rule 43): what an operator scrapes at /metrics.

Counters live in prometheus-client's process registry. Under gunicorn with
several workers, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory
shared by the workers (gunicorn.conf.py marks a dead worker's files): each
process then writes its values to files there and ``exposition()`` adds every
worker's up, so a scrape that reaches one worker sees them all.

Anything may count here (a service, a job, a hook); only the
/metrics view reads. Labels are bounded sets (endpoint names, statuses,
outcomes), never ids or addresses.
"""
import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

HTTP_REQUESTS = Counter("portal_http_requests_total", "HTTP requests answered, by endpoint, method and status.",
                        ["endpoint", "method", "status"])
HTTP_DURATION = Histogram("portal_http_request_duration_seconds", "Time to answer an HTTP request, by endpoint.",
                          ["endpoint"], buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
SEAT_CLAIMS_REFUSED = Counter("portal_seat_claims_refused_total",
                              "Seat claims refused because the site had no free seat of the type.")
JOBS_FAILED = Counter("portal_jobs_failed_total", "Attempts of queued work that failed (each attempt), by kind.",
                      ["kind"])
JOBS_RETRIED = Counter("portal_jobs_retried_total", "Failed attempts scheduled to be tried again, by kind.",
                       ["kind"])
WEBHOOK_DELIVERIES = Counter("portal_webhook_deliveries_total", "Webhook delivery attempts, by outcome.",
                             ["outcome"])

CONTENT_TYPE = CONTENT_TYPE_LATEST


def count_attempt(kind: str, status: str) -> None:
    """One attempt of queued work (``kind`` "mail" or "webhook") ended with ``status`` (its Outcome's)."""
    if status in ("failed", "retry"):
        JOBS_FAILED.labels(kind).inc()
    if status == "retry":
        JOBS_RETRIED.labels(kind).inc()
    if kind == "webhook":
        WEBHOOK_DELIVERIES.labels(status).inc()


def exposition(queued: int | None) -> bytes:
    """The text a scrape reads: every counter (every worker's, in multiprocess mode) and the queue depth.

    ``queued`` is the number of tasks waiting on the task queue, read at scrape time (None: the
    queue could not be read, and the gauge is left out rather than reported as 0).
    """
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        from prometheus_client import REGISTRY

        text = generate_latest(REGISTRY)
    if queued is not None:
        text += generate_latest(_Gauge("portal_jobs_queued", "Tasks waiting on the task queue.", queued))
    return text


class _Gauge:
    """A one-value collector, built per scrape: the queue's depth is read, not kept."""

    def __init__(self, name: str, documentation: str, value: float):
        self.family = GaugeMetricFamily(name, documentation, value=value)

    def collect(self):
        yield self.family
