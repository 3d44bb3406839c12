"""Logging in and out, the no-access page, and the security baseline (docs/rules.md rules 16-20)."""
import re
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import select

from portal.domain.accounts import users
from portal.domain.demo import DEMO_PASSWORD
from portal.extensions import db
from portal.models import AuditEvent

WRONG = "Wrong e-mail or password."


def login(test_client, email, password=DEMO_PASSWORD, next_=None):
    url = "/login" if next_ is None else "/login?next=" + quote(next_, safe="")
    return test_client.post(url, data={"email": email, "password": password})


def is_logged_in(test_client) -> bool:
    response = test_client.get("/account")
    return response.status_code == 200


def test_login_with_the_right_password_opens_the_home_page(demo, client):
    response = login(client, "admin@acme.example")

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    account = client.get("/account").get_data(as_text=True)
    assert "admin@acme.example" in account and "Acme Dental" in account


def test_login_ignores_case_and_surrounding_spaces_in_the_email(demo, client):
    response = login(client, "  Admin@ACME.example ")

    assert response.status_code == 302
    assert is_logged_in(client)


@pytest.mark.parametrize(("email", "password"), [
    ("admin@acme.example", "not-the-password"),
    ("nobody@acme.example", DEMO_PASSWORD),
])
def test_a_failed_login_says_wrong_email_or_password_and_starts_no_session(email, password, demo, client):
    response = login(client, email, password)

    assert response.status_code == 422
    assert WRONG in response.get_data(as_text=True)
    assert not is_logged_in(client)


def test_unknown_email_and_wrong_password_are_indistinguishable(demo, client):
    wrong_password = login(client, "admin@acme.example", "nope").get_data(as_text=True)
    unknown_email = login(client, "ghost@acme.example", "nope").get_data(as_text=True)

    # The CSRF token is signed with the time: two requests a second apart differ there, and only there.
    assert _without_csrf(wrong_password.replace("admin@acme.example", "E")) == _without_csrf(
        unknown_email.replace("ghost@acme.example", "E"))


def _without_csrf(page: str) -> str:
    return re.sub(r'("X-CSRFToken": "|name="csrf_token"[^>]*value=")[^"]+', r"\1", page)


def test_login_needs_both_fields(demo, client):
    response = client.post("/login", data={"email": "", "password": ""})

    assert response.status_code == 422
    assert not is_logged_in(client)


def test_logins_and_failed_logins_are_audited(demo, client, fresh):
    login(client, "admin@acme.example", "nope")
    login(client, "admin@acme.example")

    fresh()
    events = db.session.execute(
        select(AuditEvent.action, AuditEvent.target_id)
        .where(AuditEvent.action.like("auth.%")).order_by(AuditEvent.id)).all()
    admin = demo.user("admin@acme.example").id
    assert [tuple(event) for event in events] == [("auth.login_failed", admin), ("auth.login", admin)]


def test_after_login_the_user_returns_to_the_page_they_asked_for(demo, client):
    target = f"/clients/{demo.acme.id}?q=user"
    asked = client.get(target)
    assert urlsplit(asked.headers["Location"]).path == "/login"

    response = client.post(asked.headers["Location"], data={"email": "admin@acme.example", "password": DEMO_PASSWORD})

    assert response.status_code == 302
    assert response.headers["Location"] == target


@pytest.mark.parametrize("next_", [
    "//evil.example",
    "///evil.example",
    "https://evil.example/",
    "http:evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "javascript:alert(1)",
    "evil.example/path",
])
def test_next_cannot_send_the_user_to_another_site(next_, demo, client):
    response = login(client, "admin@acme.example", next_=next_)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_logout_ends_the_session_even_for_a_copied_cookie(demo, client, app):
    login(client, "admin@acme.example")
    stolen = client.get_cookie("session").value

    response = client.post("/logout")

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert not is_logged_in(client)
    replay = type(client)(app, app.response_class, use_cookies=True)
    replay.set_cookie("session", stolen)
    replayed = replay.get("/account")
    assert replayed.status_code == 302
    assert urlsplit(replayed.headers["Location"]).path == "/login"


def test_logout_is_not_reachable_by_a_plain_link(demo, login_as):
    """A GET (an <img> or a link on another site) must not log the user out."""
    browser = login_as("admin@acme.example")

    assert browser.get("/logout").status_code == 405
    assert is_logged_in(browser)


def test_a_user_without_a_role_sees_only_no_access_yet(demo, login_as):
    browser = login_as("user1@acme.example")  # a demo seat holder with no role

    home = browser.get("/", follow_redirects=True)
    assert home.status_code == 200
    assert "no access yet" in home.get_data(as_text=True)
    for path in ("/overview", f"/clients/{demo.acme.id}", f"/clients/{demo.acme.id}/sites/{demo.lyon.id}",
                 "/account"):
        response = browser.get(path)
        assert response.status_code == 302, path
        assert urlsplit(response.headers["Location"]).path == "/no-access", path


def test_a_deactivated_user_cannot_log_in(demo, client):
    users.deactivate_user(demo.user("admin@acme.example"), demo.user("user1@acme.example"))

    response = login(client, "user1@acme.example")

    assert response.status_code == 422
    assert WRONG in response.get_data(as_text=True)
    assert not is_logged_in(client)


def test_deactivation_ends_the_users_open_sessions(demo, login_as):
    member = login_as("user1@acme.example")
    admin = login_as("admin@acme.example")

    admin.post(f"/clients/{demo.acme.id}/users/{demo.user('user1@acme.example').id}/deactivate")

    response = member.get("/no-access")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_an_invited_user_cannot_log_in_before_accepting(demo, client):
    users.create_user(demo.user("admin@acme.example"), demo.lyon, demo.type("essentials"),
                      "invited@acme.example", "Invited Person")

    for password in ("", DEMO_PASSWORD, "anything"):
        response = login(client, "invited@acme.example", password)
        assert response.status_code == 422
    assert not is_logged_in(client)


SECURED_PAGES = [
    ("anonymous", "/login", {}),
    ("admin@acme.example", "/account", {}),
    ("admin@acme.example", "/clients/{acme}", {"HX-Request": "true"}),
    ("admin@acme.example", "/clients/999999", {}),
]


@pytest.mark.parametrize(("who", "path", "headers"), SECURED_PAGES)
def test_responses_carry_security_headers(who, path, headers, demo, client, login_as):
    browser = client if who == "anonymous" else login_as(who)

    response = browser.get(path.format(acme=demo.acme.id), headers=headers)

    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_the_session_cookie_is_httponly_and_samesite_lax(demo, client):
    response = login(client, "admin@acme.example")

    cookies = [value for value in response.headers.getlist("Set-Cookie") if value.startswith("session=")]
    assert cookies, "login sets the session cookie"
    attributes = [part.strip().lower() for part in cookies[-1].split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes


def test_the_remember_cookie_would_be_httponly_and_samesite_lax(app):
    assert app.config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"


def test_ten_failed_logins_for_one_email_lock_it_with_429(demo, client):
    for _ in range(10):
        assert login(client, "admin@acme.example", "guess").status_code == 422

    locked = login(client, "admin@acme.example", DEMO_PASSWORD)

    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert not is_logged_in(client)


def test_api_tokens_are_created_shown_once_listed_and_revoked_from_the_account_page(demo, login_as):
    import re

    from portal.models import ApiToken

    account = login_as("admin@acme.example")
    created = account.post("/account/tokens", data={"name": "Provisioning"})
    page = created.get_data(as_text=True)
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    secret = re.search(r'<code id="new-token">([^<]+)</code>', page).group(1)
    token = db.session.scalar(select(ApiToken).where(ApiToken.name == "Provisioning"))
    assert token.token_hash != secret and secret not in account.get("/account").get_data(as_text=True)
    assert "Provisioning" in account.get("/account").get_data(as_text=True)
    other = login_as("admin@globex.example")
    assert other.post(f"/account/tokens/{token.id}/revoke").status_code == 404
    assert account.post(f"/account/tokens/{token.id}/revoke").status_code == 303
    db.session.refresh(token)
    assert token.revoked_at is not None
    assert account.post("/account/tokens", data={"name": ""}).status_code == 422
