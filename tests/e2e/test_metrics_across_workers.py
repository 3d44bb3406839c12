"""Metrics add up every gunicorn worker, and each request's log line carries its id (docs/rules.md rule 43).

The live server runs 4 workers (tests/e2e/conftest.py): requests on new
connections land on different workers, and one scrape must count them all.
"""
import json
import tempfile
import urllib.error
import urllib.request

import pytest

from tests.ops.test_health_and_metrics import sample

TOKEN = "e2e-metrics-token-0123456789"
SERVER_ENV = {"PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="portal-metrics-"),
              "PORTAL_METRICS_TOKEN": TOKEN}

pytestmark = pytest.mark.slow  # a live gunicorn


def get(url, headers=None) -> tuple[int, str, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read().decode(), dict(response.headers)


def test_one_scrape_counts_the_requests_of_every_worker(live_server):
    labels = dict(endpoint="health.healthz", method="GET", status="200")
    _, before, _ = get(live_server.url + "/metrics", {"Authorization": f"Bearer {TOKEN}"})
    for n in range(40):
        status, _, headers = get(live_server.url + "/healthz", {"X-Request-ID": f"count-{n}"})
        assert status == 200 and headers["X-Request-ID"] == f"count-{n}"

    _, after, _ = get(live_server.url + "/metrics", {"Authorization": f"Bearer {TOKEN}"})

    assert sample(after, "portal_http_requests_total", **labels) - sample(
        before, "portal_http_requests_total", **labels) == 40
    access = [json.loads(line) for line in live_server.stderr().splitlines()
              if line.startswith("{") and '"portal.access"' in line]
    counted = [line for line in access if line["request_id"].startswith("count-")]
    assert sorted(line["request_id"] for line in counted) == sorted(f"count-{n}" for n in range(40))


def test_metrics_answer_401_without_the_token(live_server):
    request = urllib.request.Request(live_server.url + "/metrics")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    refused.value.close()
    assert refused.value.code == 401
