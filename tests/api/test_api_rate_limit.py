"""A rate limit per token: generous by default, 429 with Retry-After beyond it."""
from api_helpers import assert_error

from portal.blueprints.api.ratelimit import DEFAULT_LIMIT


def test_the_default_allows_a_busy_integration():
    amount, _, period = DEFAULT_LIMIT.partition(" per ")
    assert period == "minute" and int(amount) >= 600


def test_beyond_the_limit_is_429_with_retry_after(app, api_as, demo, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "3 per minute")
    client = api_as("nw_support")
    for _ in range(3):
        assert client.get("/api/v1/summary").status_code == 200
    response = client.get("/api/v1/summary")
    assert_error(response, 429, "rate_limited")
    assert 1 <= int(response.headers["Retry-After"]) <= 61  # the window, rounded up
    # The limit is per token: another token of the same user is not affected.
    other = api_as("nw_finance")
    assert other.get("/api/v1/summary").status_code == 200


def test_the_limit_counts_every_operation_together(app, api_as, demo, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "2 per minute")
    client = api_as("acme_admin")
    assert client.get("/api/v1/summary").status_code == 200
    assert client.get("/api/v1/clients").status_code == 200
    assert_error(client.get(f"/api/v1/clients/{demo.acme.id}"), 429, "rate_limited")


def test_unauthenticated_calls_are_limited_by_address(app, anonymous, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "2 per minute")
    anonymous.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    for _ in range(2):
        assert_error(anonymous.get("/api/v1/clients"), 401, "unauthorized")
    assert_error(anonymous.get("/api/v1/clients"), 429, "rate_limited")
