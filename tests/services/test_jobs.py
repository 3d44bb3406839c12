"""E-mail through the task queue (docs/rules.md rule 31), with a real SMTP server that hangs, stops and comes back.

A request only queues its e-mail: it answers at once whatever SMTP does. A worker sends
it, retries on PORTAL_MAIL_RETRY_SECONDS, then gives up; a worker killed mid-job or a
task lost leaves the row due, and it is sent later (at-least-once); two workers on one
queue send each message once (SQLite storage, and Redis when TEST_REDIS_URL is set).
"""
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from portal import create_app, jobs
from portal.domain import mail
from portal.domain.accounts import invitations, password_reset, users
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.models import Invitation, MailMessage, User
from portal.models.mixins import utcnow
from tests import mail_server
from tests.factories import PASSWORD, AllocationFactory, SiteFactory
from tests.helpers import audit_events

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lyon(acme, essentials):
    site = SiteFactory(client=acme, name="Lyon")
    AllocationFactory(site=site, subscription_type=essentials, allocated=10, consumed=0)
    return site


@pytest.fixture
def smtp_at(app, monkeypatch):
    """``smtp_at(port)``: the portal's e-mail goes to 127.0.0.1:port, whatever listens there (or nothing)."""

    def point(port: int) -> int:
        monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
        monkeypatch.setitem(app.config, "MAIL_PORT", port)
        return port

    return point


class HangingServer:
    """A mail server that accepts connections and never says a word (the kernel completes the handshake)."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.port = self.socket.getsockname()[1]

    def close(self):
        self.socket.close()


@pytest.fixture
def hanging():
    server = HangingServer()
    yield server
    server.close()


def messages(**where) -> list[MailMessage]:
    db.session.rollback()
    query = select(MailMessage).order_by(MailMessage.id)
    for name, value in where.items():
        query = query.where(getattr(MailMessage, name) == value)
    return list(db.session.scalars(query))


def invitation_of(email: str) -> Invitation:
    db.session.rollback()
    return db.session.scalar(select(Invitation).join(User, Invitation.user_id == User.id).where(User.email == email))


def create_and_invite(browser, acme, lyon, email):
    started = time.perf_counter()
    response = browser.post(f"/clients/{acme.id}/users/new", data={
        "name": "New Person", "email": email, "site_id": str(lyon.id), "subscription_type": "essentials",
        "send_invitation": "now"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return time.perf_counter() - started


# ---------------------------------------------------------------- the request only queues


def test_an_invitation_answers_at_once_while_the_mail_server_hangs(acme, acme_admin, lyon, login_as, hanging,
                                                                   smtp_at, app, monkeypatch, run_jobs):
    smtp_at(hanging.port)
    browser = login_as(acme_admin.email, PASSWORD)

    took = [create_and_invite(browser, acme, lyon, f"user{number}@acme.example") for number in range(4)]

    assert max(took) < 1.0 and sum(took) < 2.0, took  # was 10 s each, 40 s for four (issue 14)
    assert [m.status for m in messages()] == ["pending"] * 4
    assert invitation_of("user0@acme.example").delivery == "queued"
    page = browser.get(f"/clients/{acme.id}").get_data(as_text=True)
    assert "Being sent, valid until" in page

    monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 0.3)
    report = run_jobs()  # the worker waits for the silent server, then gives up this attempt
    assert (report.sent, report.retrying) == (0, 4)
    assert invitation_of("user0@acme.example").delivery == "failed"
    assert "timed out" in messages()[0].last_error

    hanging.close()
    controller, inbox = mail_server.start(hanging.port)  # a working server is back on that port
    try:
        assert run_jobs().sent == 4
        assert sorted(m["To"] for m in inbox.received) == [f"user{number}@acme.example" for number in range(4)]
    finally:
        controller.stop()
    assert invitation_of("user3@acme.example").delivery == "sent"
    assert all(m.status == "sent" and m.body is None and m.attempts == 2 for m in messages())


def test_mail_waits_while_the_server_is_down_and_arrives_once_it_is_back(acme, acme_admin, lyon, login_as,
                                                                        smtp_at, run_jobs):
    port = smtp_at(mail_server.free_port())  # nothing listens
    browser = login_as(acme_admin.email, PASSWORD)
    assert create_and_invite(browser, acme, lyon, "new@acme.example") < 1.0

    assert run_jobs().retrying == 1
    [waiting] = messages()
    assert (waiting.status, waiting.attempts) == ("pending", 1) and "refused" in waiting.last_error

    controller, inbox = mail_server.start(port)
    try:
        run_jobs()
        run_jobs()  # nothing more to do: sent once
        [received] = inbox.received
    finally:
        controller.stop()
    assert received["To"] == "new@acme.example" and "/invitations/" in received.get_content()
    assert invitation_of("new@acme.example").delivery == "sent"


def test_a_resend_replaces_the_message_still_waiting(acme_admin, lyon, essentials, smtp_at, run_jobs):
    port = smtp_at(mail_server.free_port())
    user = users.create_user(acme_admin, lyon, essentials, "new@acme.example", "New Person")
    run_jobs()  # refused: waiting for its retry
    token = invitations.send_invitation(acme_admin, user)
    controller, inbox = mail_server.start(port)
    try:
        run_jobs()
        [received] = inbox.received  # the new link only: the old message was cancelled
    finally:
        controller.stop()
    assert token in received.get_content()
    assert [m.status for m in messages()] == ["cancelled", "sent"]


# ---------------------------------------------------------------- retries


class Clock:
    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    """The queue's clock (portal.domain.mail and portal.jobs), moved by the test."""
    moving = Clock()
    monkeypatch.setattr(mail, "utcnow", moving)
    monkeypatch.setattr(jobs, "utcnow", moving)
    return moving


def test_a_failed_e_mail_is_retried_on_the_schedule_then_marked_failed(acme_admin, lyon, essentials, smtp_at, app,
                                                                       monkeypatch, clock, run_jobs):
    monkeypatch.setitem(app.config, "MAIL_RETRY_SECONDS", "60,300")
    smtp_at(mail_server.free_port())
    users.create_user(acme_admin, lyon, essentials, "new@acme.example", "New Person")

    def attempts():
        [message] = messages()
        return message.attempts, message.status

    run_jobs()
    assert attempts() == (1, "pending")
    clock.advance(59)
    assert run_jobs().retrying == 0 and attempts() == (1, "pending")  # not due yet
    clock.advance(2)
    run_jobs()
    assert attempts() == (2, "pending")
    clock.advance(299)
    run_jobs()
    assert attempts() == (2, "pending")
    clock.advance(2)
    assert run_jobs().failed == 1
    [given_up] = messages()
    assert (given_up.attempts, given_up.status, given_up.body) == (3, "failed", None)  # its live link erased
    clock.advance(86400)
    assert run_jobs().tasks == 0 and attempts() == (3, "failed")
    assert invitation_of("new@acme.example").delivery == "failed"  # "Not sent — retry"


def test_a_run_until_empty_tries_each_message_once_even_with_no_delay(acme_admin, lyon, essentials, smtp_at,
                                                                      run_jobs):
    smtp_at(mail_server.free_port())  # PORTAL_MAIL_RETRY_SECONDS is 0,0,0 in tests
    users.create_user(acme_admin, lyon, essentials, "new@acme.example", "New Person")
    assert run_jobs().retrying == 1
    [message] = messages()
    assert message.attempts == 1


def test_a_password_reset_link_is_not_sent_once_it_expired(user_with_password, smtp_at, clock, run_jobs):
    smtp_at(mail_server.free_port())
    password_reset.request_reset(user_with_password.email)
    run_jobs()  # refused
    clock.advance(3601)  # the link lived one hour
    controller, inbox = mail_server.start()
    try:
        smtp_at(controller.port)
        assert run_jobs().failed == 1
        assert inbox.received == []
    finally:
        controller.stop()
    [dead] = messages()
    assert dead.status == "failed" and "expired" in dead.last_error
    assert audit_events("auth.password_reset_not_sent") == 1


@pytest.fixture
def user_with_password(northwind):
    from tests.factories import UserFactory

    return UserFactory(organisation=northwind, email="bob@northwind.example", partner_admin=True)


# ---------------------------------------------------------------- nothing lost, nothing sent twice


def test_a_worker_killed_while_sending_leaves_the_message_to_send_again(acme_admin, lyon, essentials, outbox,
                                                                          smtp_server, run_jobs):
    users.create_user(acme_admin, lyon, essentials, "new@acme.example", "New Person")
    assert len(messages()) == 1
    db.session.execute(update(MailMessage).values(status="sending", attempts=1, claimed_at=utcnow()))
    db.session.commit()  # claimed a moment ago by a worker that is still at it: left alone
    run_jobs()
    assert messages()[0].status == "sending" and smtp_server[1].received == []

    stale = utcnow() - mail.CLAIM_LEASE - timedelta(seconds=1)
    db.session.execute(update(MailMessage).values(claimed_at=stale))
    db.session.commit()  # that worker died mid-job
    assert run_jobs().sent == 1
    assert [to for to, _subject, _body in outbox] == ["new@acme.example"]
    assert messages()[0].attempts == 2


def test_a_queue_down_at_commit_loses_nothing(acme, acme_admin, lyon, login_as, monkeypatch, outbox, app):
    def down(self, task, *args):
        raise ConnectionError("queue down")

    waiting = jobs.jobs_of(app).huey.pending_count()
    browser = login_as(acme_admin.email, PASSWORD)
    with monkeypatch.context() as patch:
        patch.setattr(jobs.Jobs, "enqueue", down)
        assert create_and_invite(browser, acme, lyon, "new@acme.example") < 1.0  # the request does not fail
    assert jobs.jobs_of(app).huey.pending_count() == waiting
    # A worker's relay finds it once it has waited LOST_AFTER; a run until empty sends what is due at once.
    assert mail.recover() == []
    assert mail.recover(utcnow() + mail.LOST_AFTER + timedelta(seconds=1)) == [messages()[0].id]
    assert [to for to, _subject, _body in outbox] == ["new@acme.example"]


def test_a_message_claimed_twice_is_sent_once(acme_admin, lyon, essentials, outbox, app):
    users.create_user(acme_admin, lyon, essentials, "new@acme.example", "New Person")
    [message] = messages()
    send_mail, huey = jobs.jobs_of(app).tasks["send_mail"], jobs.jobs_of(app).huey
    waiting = huey.pending_count()
    send_mail(message.id)  # the relay queued it again while its first task was waiting
    assert huey.pending_count() == waiting + 1
    assert len(outbox) == 1


def test_a_rolled_back_change_sends_nothing(acme_admin, outbox, app):
    waiting = jobs.jobs_of(app).huey.pending_count()
    with pytest.raises(RuntimeError), write_transaction():
        mail.queue("someone@example.org", "Hello", "Body", kind="test")
        raise RuntimeError("refused")
    assert jobs.jobs_of(app).huey.pending_count() == waiting and len(outbox) == 0
    assert db.session.scalar(select(func.count(MailMessage.id))) == 0


def test_a_savepoint_rolled_back_keeps_the_rest_of_the_transactions_mail(app, outbox):
    huey = jobs.jobs_of(app).huey
    waiting = huey.pending_count()
    with write_transaction():
        mail.queue("kept@example.org", "Hello", "Body", kind="test")
        with pytest.raises(RuntimeError), db.session.begin_nested():  # a refusal inside the unit of work
            raise RuntimeError("one step refused")
    assert huey.pending_count() == waiting + 1
    assert [to for to, _subject, _body in outbox] == ["kept@example.org"]


def test_a_message_queued_in_a_rolled_back_savepoint_is_not_handed_over(app, outbox):
    huey = jobs.jobs_of(app).huey
    waiting = huey.pending_count()
    with write_transaction():
        mail.queue("kept@example.org", "Hello", "Body", kind="test")
        with pytest.raises(RuntimeError), db.session.begin_nested():
            mail.queue("dropped@example.org", "Hello", "Body", kind="test")  # not written yet
            raise RuntimeError("one step refused")
    assert huey.pending_count() == waiting + 1
    assert [to for to, _subject, _body in outbox] == ["kept@example.org"]
    assert db.session.scalars(select(MailMessage.recipient)).all() == ["kept@example.org"]


# ---------------------------------------------------------------- two workers, one queue


def _queue_messages(app, count: int) -> list[str]:
    """``count`` messages, each with its task queued twice (as if the relay had queued it again)."""
    addresses = [f"person{number}@example.org" for number in range(count)]
    with write_transaction():
        messages = [mail.queue(address, f"Hello {address}", "Body", kind="test") for address in addresses]
        db.session.flush()
        ids = [message.id for message in messages]
    send_mail = jobs.jobs_of(app).tasks["send_mail"]
    for message_id in ids:
        send_mail(message_id)
    return addresses


def _start_worker(env: dict, log: Path):
    flask = ROOT / ".venv" / "bin" / "flask"
    command = [str(flask)] if flask.exists() else [sys.executable, "-m", "flask"]
    with log.open("ab") as out:
        return subprocess.Popen([*command, "--app", "wsgi", "jobs", "run", "--workers", "2"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def _two_workers_send_each_once(app, settings: dict, smtp_server, tmp_path, extra_env: dict):
    controller, inbox = smtp_server
    inbox.received.clear()
    addresses = _queue_messages(app, 20)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PORTAL_", "FLASK_"))}
    env.update(DATABASE_URL=settings["SQLALCHEMY_DATABASE_URI"], PORTAL_MAIL_SERVER="127.0.0.1",
               PORTAL_MAIL_PORT=str(controller.port), PYTHONUNBUFFERED="1", **extra_env)
    env.pop("SECRET_KEY", None)
    logs = [tmp_path / f"worker{number}.log" for number in range(2)]
    workers = [_start_worker(env, log) for log in logs]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(m.status == "sent" for m in messages()):
                break
            assert all(worker.poll() is None for worker in workers), [log.read_text() for log in logs]
            time.sleep(0.2)
        else:
            pytest.fail("the workers did not send every message in 60 s:\n" + "\n".join(l.read_text() for l in logs))
        time.sleep(1.5)  # time for a duplicate task to (not) send again
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            assert worker.wait(timeout=30) == 0
    received = sorted(m["To"] for m in inbox.received)
    assert received == sorted(addresses)  # each once, though each task was queued twice
    for log in logs:
        assert "Traceback" not in log.read_text(), log.read_text()
    assert jobs.jobs_of(app).huey.pending_count() == 0


@pytest.mark.slow
def test_two_workers_on_the_sqlite_queue_send_each_message_once(app, testing_settings, smtp_server, tmp_path):
    _two_workers_send_each_once(app, testing_settings, smtp_server, tmp_path,
                                {"PORTAL_JOBS_SQLITE_PATH": testing_settings["JOBS_SQLITE_PATH"]})


@pytest.fixture
def redis_app(testing_settings):
    """An app whose queue is on Redis (TEST_REDIS_URL), under a name of its own."""
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set (.ci/run starts Debian's redis-server and sets it)")
    name = f"portal-test-{uuid.uuid4().hex[:8]}"
    redis_app = create_app({**testing_settings, "REDIS_URL": url, "JOBS_QUEUE_NAME": name})
    huey = jobs.jobs_of(redis_app).huey
    huey.flush()
    yield redis_app
    huey.flush()
    huey.storage.pool.disconnect()
    with redis_app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.slow
def test_two_workers_on_the_redis_queue_send_each_message_once(redis_app, testing_settings, smtp_server, tmp_path):
    with redis_app.app_context():
        settings = {**testing_settings}
        _two_workers_send_each_once(redis_app, settings, smtp_server, tmp_path, {
            "PORTAL_REDIS_URL": redis_app.config["REDIS_URL"],
            "PORTAL_JOBS_QUEUE_NAME": redis_app.config["JOBS_QUEUE_NAME"]})


def test_the_redis_queue_runs_until_empty(redis_app, smtp_server):
    controller, inbox = smtp_server
    inbox.received.clear()
    with redis_app.app_context():
        redis_app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port)
        addresses = _queue_messages(redis_app, 3)
        assert jobs.jobs_of(redis_app).huey.pending_count() == 6
        report = jobs.run_until_empty(redis_app)
    assert report.sent == 3 and sorted(m["To"] for m in inbox.received) == addresses
