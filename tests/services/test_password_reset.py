"""Password reset without HTTP (docs/rules.md rule 39): the same for every address, single-use, one hour, hashed."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.domain.accounts import authentication, password_reset, two_step
from portal.domain.errors import Invalid
from portal.extensions import db
from portal.models import LoginSession, PasswordResetToken
from portal.models.mixins import utcnow
from portal.models.tokens import hash_token
from tests import mail_server
from tests.factories import PASSWORD, UserFactory
from tests.helpers import audit_events as events
from tests.helpers import reloaded as reload

NEW_PASSWORD = "violet kettle harbour 93"


@pytest.fixture
def user():
    return UserFactory(partner_admin=True, email="bob@northwind.example")


def later(monkeypatch, seconds):
    moved = utcnow() + timedelta(seconds=seconds)
    monkeypatch.setattr(password_reset, "utcnow", lambda: moved)


def test_a_known_address_gets_a_link_stored_only_as_a_hash(user, outbox):
    token = password_reset.request_reset("  Bob@Northwind.example ")

    [(to, subject, body)] = outbox
    assert to == "bob@northwind.example" and "password" in subject.lower()
    assert re.search(rf"http://[^/\s]+/password/reset/{re.escape(token)}\s", body)
    assert "within one hour" in body
    row = db.session.scalar(select(PasswordResetToken))
    assert row.token_hash == hash_token(token) and token not in row.token_hash
    assert row.expires_at - row.created_at == timedelta(hours=1)
    assert events("auth.password_reset_requested") == 1


@pytest.mark.parametrize("status", ["invited", "deactivated"])
def test_unknown_invited_and_deactivated_addresses_get_nothing(outbox, status):
    UserFactory(email="carol@example.org", status=status, partner_admin=True)

    assert password_reset.request_reset("nobody@example.org") is None
    assert password_reset.request_reset("carol@example.org") is None
    assert password_reset.request_reset("") is None and password_reset.request_reset(None) is None
    assert outbox == [] and db.session.scalar(select(func.count(PasswordResetToken.id))) == 0


def test_a_failed_delivery_is_audited_not_shown(user, app, monkeypatch, run_jobs):
    # A real connection refused: nothing listens on this port.
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", mail_server.free_port())
    assert password_reset.request_reset(user.email)  # no exception: the answer stays the same
    for _attempt in range(3):  # the first attempt and two of the three retries (0,0,0 in tests)
        run_jobs()
    assert events("auth.password_reset_not_sent") == 0  # not given up yet
    run_jobs()  # the last retry
    assert events("auth.password_reset_not_sent") == 1


def test_the_link_sets_a_new_password_once_and_ends_every_session(user, outbox):
    for _ in range(2):
        authentication.log_in(user.email, PASSWORD, "127.0.0.1")
    token = password_reset.request_reset(user.email)

    password_reset.reset_password(token, NEW_PASSWORD)

    assert db.session.scalar(select(func.count(LoginSession.id)).where(LoginSession.user_id == user.id)) == 0
    assert authentication.log_in(user.email, NEW_PASSWORD, "127.0.0.1").session_token
    with pytest.raises(authentication.BadCredentials):
        authentication.log_in(user.email, PASSWORD, "127.0.0.1")
    assert events("auth.password_reset") == 1
    with pytest.raises(password_reset.ResetRefused) as used:
        password_reset.reset_password(token, "another fine passphrase 7")
    assert used.value.status == 409 and "already used" in used.value.message
    assert authentication.log_in(user.email, NEW_PASSWORD, "127.0.0.1")


def test_a_reset_kills_the_users_other_links(user, outbox):
    first = password_reset.request_reset(user.email)
    second = password_reset.request_reset(user.email)

    password_reset.reset_password(second, NEW_PASSWORD)

    with pytest.raises(password_reset.ResetRefused):
        password_reset.check_token(first)


def test_an_expired_link_is_refused_and_changes_nothing(user, outbox, monkeypatch):
    token = password_reset.request_reset(user.email)
    hash_before = reload(user).password_hash
    later(monkeypatch, 3600 + 1)

    with pytest.raises(password_reset.ResetRefused) as expired:
        password_reset.reset_password(token, NEW_PASSWORD)

    assert expired.value.status == 410 and "expired" in expired.value.message
    assert reload(user).password_hash == hash_before and events("auth.password_reset") == 0


def test_the_max_age_is_a_setting(user, outbox, app, monkeypatch):
    monkeypatch.setitem(app.config, "PASSWORD_RESET_MAX_AGE", 60)
    token = password_reset.request_reset(user.email)
    assert "within one minute" in outbox[0][2]
    later(monkeypatch, 61)
    with pytest.raises(password_reset.ResetRefused):
        password_reset.check_token(token)


@pytest.mark.parametrize("forged", ["", "x", "A" * 43, "A" * 5000, None])
def test_a_forged_link_is_refused(user, outbox, forged):
    password_reset.request_reset(user.email)
    with pytest.raises(password_reset.ResetRefused) as refused:
        password_reset.reset_password(forged, NEW_PASSWORD)
    assert refused.value.status == 404


@pytest.mark.parametrize("weak", ["short", "aaaaaaaaaaaaaaaa", "bob@northwind.example1"])
def test_a_weak_password_is_refused_and_the_link_still_works(user, outbox, weak):
    token = password_reset.request_reset(user.email)

    with pytest.raises(Invalid) as refused:
        password_reset.reset_password(token, weak)

    assert refused.value.field == "password"
    assert password_reset.check_token(token).used_at is None


def test_a_user_deactivated_since_the_e_mail_cannot_use_it(user, outbox):
    token = password_reset.request_reset(user.email)
    reload(user).status = "deactivated"
    db.session.commit()
    with pytest.raises(password_reset.ResetRefused):
        password_reset.reset_password(token, NEW_PASSWORD)


def test_two_step_verification_stays_on_after_a_reset(user, outbox):
    import pyotp

    secret = two_step.enrolment_secret(user)
    two_step.confirm_enrolment(user, pyotp.TOTP(secret).now())
    token = password_reset.request_reset(user.email)

    password_reset.reset_password(token, NEW_PASSWORD)

    assert two_step.enabled(reload(user))
    assert authentication.log_in(user.email, NEW_PASSWORD, "127.0.0.1").session_token is None  # a code comes next


def test_a_link_used_from_two_tabs_at_once_sets_one_password(user, outbox, app):
    import threading

    token = password_reset.request_reset(user.email)
    barrier, outcomes = threading.Barrier(2), []

    def reset(password):
        with app.app_context():
            barrier.wait()
            try:
                password_reset.reset_password(token, password)
                outcomes.append(password)
            except password_reset.ResetRefused:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=reset, args=(p,)) for p in (NEW_PASSWORD, "another fine passphrase 7")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("refused") == 1
    winner = next(p for p in outcomes if p != "refused")
    assert authentication.log_in(user.email, winner, "127.0.0.1").session_token
