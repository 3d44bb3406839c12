"""The operator's view of the task queue (issue 14, rules 30-32): what waits and what failed."""
import pytest

from portal import create_app
from portal.domain.accounts import password_reset, users
from portal.domain.demo import DEMO_PASSWORD
from portal.domain.webhooks import delivery, endpoints
from portal.extensions import db
from tests import mail_server


@pytest.fixture
def operator(demo, login_as):
    return login_as("operator@portal.example")


@pytest.fixture
def nothing_listens(app, monkeypatch):
    """The portal's e-mail goes to a port where nothing listens; webhooks may reach loopback."""
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", mail_server.free_port())
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", True)


def figure(page, name) -> str:
    return page.by_id(f"queue-{name}").text


def test_a_quiet_queue_says_nothing_failed(operator, html, run_jobs):
    run_jobs()
    page = html(operator.get("/operator/jobs"))

    assert figure(page, "tasks") == "0"
    assert figure(page, "mails-failed") == "0" and figure(page, "deliveries-failed") == "0"
    assert "No e-mail or webhook delivery failed in the last 24 hours." in page.text
    assert "Nothing has failed." in page.text


def test_waiting_work_is_counted(demo, operator, html):
    admin = demo.user("admin@acme.example")
    users.create_user(admin, demo.lyon, demo.type("essentials"), "new@acme.example", "New Person")

    page = html(operator.get("/operator/jobs"))

    assert int(figure(page, "events").split()[0]) >= 1  # user.created, not relayed yet
    assert figure(page, "mails").startswith("1")  # the invitation
    assert int(figure(page, "tasks")) >= 1


def test_failed_mails_and_webhook_attempts_are_listed_with_their_errors(demo, operator, html, run_jobs,
                                                                      nothing_listens):
    password_reset.request_reset("admin@acme.example")
    northwind = demo.org("Northwind Telecom")
    created = endpoints.create(demo.user("admin@northwind.example"), northwind,
                               f"http://127.0.0.1:{mail_server.free_port()}/hook", ["client.created"])
    delivery.ping(demo.user("admin@northwind.example"), created.endpoint)
    for _ in range(4):  # the first attempt and the three retries of PORTAL_MAIL_RETRY_SECONDS=0,0,0
        run_jobs()

    page = html(operator.get("/operator/jobs"))

    assert figure(page, "mails-failed") == "1"
    assert int(figure(page, "deliveries-failed")) >= 1
    assert "Some e-mails or webhook deliveries failed" in page.text
    rows = [row.cells() for row in page.find("table", class_="failures").find_all("tr")[1:]]
    mail_row = next(cells for cells in rows if "password_reset" in cells[1])
    assert mail_row[2] == "admin@acme.example" and mail_row[3] != "—"
    hook_row = next(cells for cells in rows if "ping" in cells[1])
    assert "/hook" in hook_row[2] and "Northwind Telecom" in hook_row[2]


def test_only_the_operator_sees_the_queue(demo, login_as):
    for email in ("admin@northwind.example", "finance@northwind.example", "admin@acme.example"):
        assert login_as(email).get("/operator/jobs").status_code == 403


def test_a_queue_that_cannot_be_reached_is_said_so(demo, testing_settings):
    # The rate limits stay in memory: the suite's limiter is shared by every app it builds.
    down = create_app({**testing_settings, "REDIS_URL": f"redis://127.0.0.1:{mail_server.free_port()}/0",
                       "RATELIMIT_STORAGE_URI": "memory://"})
    client = down.test_client()
    assert client.post("/login", data={"email": "operator@portal.example", "password": DEMO_PASSWORD}).status_code == 302

    response = client.get("/operator/jobs")

    assert response.status_code == 200
    assert "unreachable" in response.get_data(as_text=True)
    db.session.rollback()
    with down.app_context():
        db.engine.dispose()  # this app's own pool: closed now, not by the garbage collector in a later test
