"""Health, readiness, metrics, request ids and JSON logs (docs/rules.md rule 43)."""
import io
import json
import logging
import re

import pytest
from flask_migrate import downgrade, upgrade

from portal import create_app
from portal.domain.accounts import users
from portal.domain.errors import NoFreeSeat
from portal.extensions import db
from portal.web.request_log import _PortalJsonHandler, configure_logging
from tests.test_migrations import empty_database_url  # noqa: F401 - the fixture

TOKEN = "metrics-secret-0123456789"


@pytest.fixture
def scraper(app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    client = app.test_client()

    def scrape() -> str:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        assert response.mimetype == "text/plain"
        return response.get_data(as_text=True)

    return scrape


def sample(text: str, name: str, **labels) -> float:
    """The value of one sample of the exposition text (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
        if match and ",".join(sorted((match.group(1) or "").split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def test_healthz_answers_while_the_process_lives(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_every_response_carries_a_request_id(client):
    given = client.get("/healthz", headers={"X-Request-ID": "lb-4f2a.7"})
    made = client.get("/login")
    forged = client.get("/healthz", headers={"X-Request-ID": 'two words "quoted"'})

    assert given.headers["X-Request-ID"] == "lb-4f2a.7"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["X-Request-ID"])  # not echoed: a new one


def test_readyz_needs_the_database_at_the_head_revision(empty_database_url):  # noqa: F811
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    client = app.test_client()
    with app.app_context():
        before = client.get("/readyz")
        upgrade()
        ready = client.get("/readyz")
        downgrade(revision="-1")
        behind = client.get("/readyz")
        db.engine.dispose()

    assert before.status_code == 503 and before.get_json()["status"] == "unavailable"
    assert ready.status_code == 200 and ready.get_json() == {"status": "ok"}
    assert behind.status_code == 503
    assert "behind" in behind.get_json()["problems"][0] and "flask db upgrade" in behind.get_json()["problems"][0]
    assert behind.headers["Retry-After"]


def test_readyz_says_unavailable_when_the_database_is_down(tmp_path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing/dir/portal.sqlite"})
    with app.app_context():
        response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"
    assert app.test_client().get("/healthz").status_code == 200  # alive, not ready


def test_a_balancer_probing_by_address_is_answered_while_other_paths_keep_the_host_check(testing_settings):
    app = create_app({**testing_settings, "TRUSTED_HOSTS": [".portal.example"]})
    client = app.test_client()
    by_address = {"Host": "10.0.3.7:8000"}
    try:
        with app.app_context():
            live = client.get("/healthz", headers=by_address)
            ready = client.get("/readyz", headers=by_address)
            page = client.get("/login", headers=by_address)
            named = client.get("/login", headers={"Host": "eu.portal.example"})
            posted = client.post("/healthz", headers=by_address)
    finally:
        with app.app_context():
            db.engine.dispose()

    assert live.status_code == 200 and live.get_json() == {"status": "ok"}
    # Reached and checked (the test tables are made without migrations, so it is not ready), not refused.
    assert ready.status_code == 503 and ready.get_json()["status"] == "unavailable"
    assert page.status_code == 400  # a page still refuses a Host it does not trust
    assert named.status_code == 200
    assert posted.status_code == 400  # only a probe's GET or HEAD is let in


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer"])
def test_metrics_need_the_bearer_token(app, monkeypatch, authorization):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    headers = {"Authorization": authorization} if authorization else {}

    response = app.test_client().get("/metrics", headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "portal_http_requests_total" not in response.get_data(as_text=True)


def test_without_a_token_set_nobody_reads_the_metrics(app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", None)
    assert app.test_client().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401


def test_requests_are_counted_by_endpoint_method_and_status(client, scraper):
    before = scraper()
    for _ in range(3):
        client.get("/healthz")
    client.get("/no/such/page")

    after = scraper()

    labels = dict(endpoint="health.healthz", method="GET", status="200")
    assert sample(after, "portal_http_requests_total", **labels) - sample(
        before, "portal_http_requests_total", **labels) == 3
    missing = dict(endpoint="none", method="GET", status="404")
    assert sample(after, "portal_http_requests_total", **missing) - sample(
        before, "portal_http_requests_total", **missing) == 1
    assert sample(after, "portal_http_request_duration_seconds_count", endpoint="health.healthz") >= 3
    assert "portal_jobs_queued " in after


def test_a_refused_seat_claim_is_counted(demo, scraper):
    admin = demo.user("admin@acme.example")
    paris = demo.site("Acme Dental", "Paris")  # essentials 3 bought, 3 held
    before = sample(scraper(), "portal_seat_claims_refused_total")

    with pytest.raises(NoFreeSeat):
        users.create_user(admin, paris, demo.type("essentials"), "nobody@acme.example", "Nobody")

    assert sample(scraper(), "portal_seat_claims_refused_total") == before + 1


def test_failed_mail_attempts_are_counted(app, demo, scraper, run_jobs, monkeypatch):
    from tests import mail_server

    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", mail_server.free_port())  # nothing listens
    before = scraper()
    users.create_user(demo.user("admin@acme.example"), demo.site("Acme Dental", "Lyon"), demo.type("essentials"),
                      "new@acme.example", "New Person")

    run_jobs()

    after = scraper()
    assert sample(after, "portal_jobs_failed_total", kind="mail") > sample(before, "portal_jobs_failed_total",
                                                                             kind="mail")
    assert sample(after, "portal_jobs_retried_total", kind="mail") > sample(before, "portal_jobs_retried_total",
                                                                              kind="mail")


def test_log_lines_are_json_and_carry_the_request_id(testing_settings):
    app = create_app(testing_settings)

    @app.route("/_test/log")
    def log_something():
        logging.getLogger("some.library").warning("inside the request")
        return "ok"

    [handler] = [h for h in logging.getLogger().handlers if isinstance(h, _PortalJsonHandler)]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        app.test_client().get("/_test/log", headers={"X-Request-ID": "trace-me-42"})
    finally:
        handler.setStream(previous)
        with app.app_context():
            db.engine.dispose()  # this app's own pool: closed now, not by the garbage collector in a later test

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    inside = next(line for line in lines if line["message"] == "inside the request")
    access = next(line for line in lines if line["logger"] == "portal.access")
    assert inside["request_id"] == "trace-me-42" and inside["level"] == "WARNING"
    assert access["request_id"] == "trace-me-42"
    assert access["method"] == "GET" and access["path"] == "/_test/log" and access["status"] == 200
    assert access["duration_ms"] >= 0 and access["user_id"] is None
    assert "time" in access


def test_readyz_stays_ready_on_a_database_newer_than_the_code(empty_database_url):  # noqa: F811
    """A rolling upgrade migrates first: the servers still on the old code keep serving."""
    from sqlalchemy import text

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade()
        db.session.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed0042'"))  # a later release's
        db.session.commit()
        response = app.test_client().get("/readyz")
        db.engine.dispose()

    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_the_access_line_names_the_api_tokens_user(app, demo, token_for):
    secret = token_for("finance@northwind.example")
    configure_logging(app)  # again: an earlier test's alembic upgrade reconfigured the root logger (alembic.ini)
    [handler] = [h for h in logging.getLogger().handlers if isinstance(h, _PortalJsonHandler)]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        response = app.test_client().get("/api/v1/summary", headers={"Authorization": f"Bearer {secret}"})
    finally:
        handler.setStream(previous)

    assert response.status_code == 200
    [access] = [json.loads(line) for line in stream.getvalue().splitlines() if '"portal.access"' in line]
    assert access["user_id"] == demo.user("finance@northwind.example").id
    assert access["path"] == "/api/v1/summary" and access["request_id"] == response.headers["X-Request-ID"]
