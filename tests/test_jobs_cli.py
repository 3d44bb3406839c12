"""``flask --app wsgi jobs run --until-empty`` (docs/rules.md rule 31), through Flask's runner.

It does every job and retry due now and exits 0 once each was tried, failed ones
rescheduled. The worker (``jobs run`` without the flag) runs as a real process in
tests/services/test_jobs.py (two workers on one queue).
"""
import pytest
from huey import RedisHuey, SqliteHuey
from sqlalchemy import select

from portal import jobs
from portal.domain import mail
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.models import MailMessage
from tests import mail_server


def queue_one(address="someone@example.org"):
    with write_transaction():
        mail.queue(address, "Hello", "A message.", kind="test")


def statuses():
    db.session.rollback()
    return db.session.scalars(select(MailMessage.status).order_by(MailMessage.id)).all()


def test_until_empty_sends_what_is_due_and_exits_0(runner, outbox):
    queue_one()
    result = runner.invoke(args=["jobs", "run", "--until-empty"])
    assert result.exit_code == 0, result.output
    assert "e-mails: 1 sent, 0 to retry later, 0 failed" in result.output
    assert [to for to, _subject, _body in outbox] == ["someone@example.org"]
    assert statuses() == ["sent"]


def test_until_empty_exits_0_when_the_mail_server_is_down_and_the_message_waits(runner, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", mail_server.free_port())
    queue_one()
    result = runner.invoke(args=["jobs", "run", "--until-empty"])
    assert result.exit_code == 0, result.output
    assert "e-mails: 0 sent, 1 to retry later, 0 failed" in result.output
    assert statuses() == ["pending"]


def test_until_empty_with_nothing_to_do(runner):
    result = runner.invoke(args=["jobs", "run", "--until-empty"])
    assert result.exit_code == 0 and "e-mails: 0 sent" in result.output


def test_the_worker_command_is_documented(runner):
    result = runner.invoke(args=["jobs", "run", "--help"])
    assert result.exit_code == 0 and "--until-empty" in result.output and "--workers" in result.output


def test_the_queue_is_a_sqlite_file_in_the_instance_folder_by_default(tmp_path):
    huey = jobs.build_huey({}, str(tmp_path / "instance"))
    assert isinstance(huey, SqliteHuey) and huey.storage.filename == str(tmp_path / "instance" / "jobs.sqlite")


def test_a_redis_url_puts_the_queue_on_redis(tmp_path):
    huey = jobs.build_huey({"REDIS_URL": "redis://127.0.0.1:6379/3", "JOBS_QUEUE_NAME": "other"}, str(tmp_path))
    assert isinstance(huey, RedisHuey) and huey.name == "other"
    assert huey.storage.pool.connection_kwargs["db"] == 3


@pytest.mark.parametrize(("setting", "delays"), [
    ("60,300,1800", (60, 300, 1800)), ("0, 0, 0", (0, 0, 0)), (60, (60,)), ([5, 10], (5, 10)), ("", ())])
def test_the_retry_delays_are_read_from_the_setting(app, monkeypatch, setting, delays):
    monkeypatch.setitem(app.config, "MAIL_RETRY_SECONDS", setting)
    assert mail.retry_seconds() == delays


@pytest.mark.parametrize("setting", ["soon", "60,-1", "1h"])
def test_bad_retry_delays_are_refused(app, monkeypatch, setting):
    monkeypatch.setitem(app.config, "MAIL_RETRY_SECONDS", setting)
    with pytest.raises(RuntimeError, match="PORTAL_MAIL_RETRY_SECONDS"):
        mail.retry_seconds()
