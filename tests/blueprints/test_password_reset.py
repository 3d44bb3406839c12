"""Password reset screens (docs/rules.md rule 39 and the fixed names of section 13).

``/password/forgot`` (field ``email``) answers every address alike: 303 to ``/login``, one message.
The e-mailed ``/password/reset/<token>`` (field ``password``) works once, for an hour, and ends
every session of the user; used, expired and forged links get a page saying so and change nothing.
"""
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from portal.domain.accounts import password_reset
from portal.extensions import db
from portal.models import AuditEvent, LoginSession, PasswordResetToken, User
from portal.models.mixins import utcnow
from tests.factories import PASSWORD, UserFactory
from tests.helpers import portal_client

NEW_PASSWORD = "violet kettle harbour 93"


@pytest.fixture
def bob(northwind):
    return UserFactory(organisation=northwind, partner_admin=True, email="bob@northwind.example")


def link_in(outbox) -> str:
    (_to, _subject, body), = outbox
    return urlsplit(re.search(r"http://\S+/password/reset/\S+", body).group(0)).path


def without_csrf_tokens(page: str) -> str:
    """A page with its CSRF tokens (one per browser session) blanked."""
    page = re.sub(r'("X-CSRFToken": )"[^"]+"', r'\1""', page)
    return re.sub(r'(name="csrf_token"[^>]*value=)"[^"]+"', r'\1""', page)


def password_hash(user) -> str:
    db.session.rollback()
    return db.session.get(User, user.id).password_hash


def sessions_of(user) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(LoginSession.id)).where(LoginSession.user_id == user.id))


def test_the_login_page_links_to_forgot_your_password(client, html):
    link = html(client.get("/login")).find("a", href="/password/forgot")
    assert link is not None and link.text == "Forgot your password?"


def test_the_forgot_form_has_the_field_email(client, html):
    form = html(client.get("/password/forgot")).find("form", action="/password/forgot")
    assert form.find("input", name="email") is not None


def test_known_and_unknown_addresses_get_the_same_answer(bob, app, outbox):
    answers = []
    for email in ("bob@northwind.example", "nobody@northwind.example"):
        browser = portal_client(app)
        response = browser.post("/password/forgot", data={"email": email})
        page = browser.get("/login").get_data(as_text=True)
        answers.append((response.status_code, response.headers["Location"], without_csrf_tokens(page)))

    assert answers[0] == answers[1]
    assert answers[0][:2] == (303, "/login")
    assert "If an account uses this e-mail address" in answers[0][2]
    assert [to for to, _, _ in outbox] == ["bob@northwind.example"]


def test_the_link_sets_a_new_password_once_and_ends_every_session(bob, app, client, login_as, outbox, html):
    elsewhere = login_as(bob.email)
    client.post("/password/forgot", data={"email": bob.email})
    link = link_in(outbox)

    form = html(client.get(link)).find("form")
    assert form.find("input", name="password") is not None
    response = client.post(link, data={"password": NEW_PASSWORD})

    assert response.status_code == 303 and urlsplit(response.headers["Location"]).path == "/login"
    assert sessions_of(bob) == 0 and elsewhere.get("/account").status_code == 302
    assert portal_client(app).post("/login", data={"email": bob.email, "password": NEW_PASSWORD}).status_code == 302
    assert portal_client(app).post("/login", data={"email": bob.email, "password": PASSWORD}).status_code == 422
    db.session.rollback()
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "auth.password_reset")) == 1


def test_a_link_used_twice_is_refused_and_changes_nothing(bob, client, outbox):
    client.post("/password/forgot", data={"email": bob.email})
    link = link_in(outbox)
    client.post(link, data={"password": NEW_PASSWORD})
    after_first = password_hash(bob)

    again = client.post(link, data={"password": "another fine passphrase 7"})

    assert again.status_code == 409 and "already used" in again.get_data(as_text=True)
    assert client.get(link).status_code == 409
    assert password_hash(bob) == after_first


def test_an_expired_link_is_refused_and_changes_nothing(bob, client, outbox, monkeypatch):
    client.post("/password/forgot", data={"email": bob.email})
    link = link_in(outbox)
    before = password_hash(bob)
    later = utcnow() + timedelta(hours=1, seconds=1)
    monkeypatch.setattr(password_reset, "utcnow", lambda: later)

    response = client.post(link, data={"password": NEW_PASSWORD})

    assert response.status_code == 410 and "expired" in response.get_data(as_text=True)
    assert password_hash(bob) == before


@pytest.mark.parametrize("token", ["forged", "A" * 43, "x" * 300])
def test_a_forged_link_is_a_clear_404(bob, client, outbox, token):
    client.post("/password/forgot", data={"email": bob.email})
    before = password_hash(bob)

    for response in (client.get(f"/password/reset/{token}"),
                     client.post(f"/password/reset/{token}", data={"password": NEW_PASSWORD})):
        assert response.status_code == 404
        assert "not valid" in response.get_data(as_text=True)
    assert password_hash(bob) == before


def test_a_weak_password_is_a_422_and_the_link_keeps_working(bob, client, outbox):
    client.post("/password/forgot", data={"email": bob.email})
    link = link_in(outbox)

    weak = client.post(link, data={"password": "password1234"})

    assert weak.status_code == 422 and 'name="password"' in weak.get_data(as_text=True)
    assert client.post(link, data={"password": NEW_PASSWORD}).status_code == 303


def test_the_reset_link_is_stored_as_a_hash(bob, client, outbox):
    client.post("/password/forgot", data={"email": bob.email})
    token = link_in(outbox).rsplit("/", 1)[1]
    db.session.rollback()
    stored = db.session.scalar(select(PasswordResetToken.token_hash))
    assert token not in stored and len(stored) == 64


def test_the_forgot_form_is_limited_per_e_mail_address_known_or_not(bob, app, outbox):
    for email in (bob.email, "nobody@northwind.example"):
        statuses = [portal_client(app).post("/password/forgot", data={"email": email}).status_code
                    for _ in range(6)]
        assert statuses == [303] * 5 + [429], email
    assert len(outbox) == 5
    assert portal_client(app).post("/password/forgot", data={"email": "carol@example.org"}).status_code == 303


def test_the_forgot_form_is_limited_per_client_address(bob, app, outbox, monkeypatch):
    monkeypatch.setitem(app.config, "PASSWORD_FORGOT_RATE_LIMIT", "3 per minute")
    statuses = [portal_client(app).post("/password/forgot", data={"email": f"p{n}@example.org"}).status_code
                for n in range(4)]
    assert statuses == [303, 303, 303, 429]


def test_an_empty_address_is_a_422(client, outbox):
    assert client.post("/password/forgot", data={"email": ""}).status_code == 422
    assert outbox == []
