"""Two-step verification screens (docs/rules.md rule 38 and the fixed names of section 13).

The account page links to ``/account/two-step`` (the secret inside ``<code>``, a QR code, field ``code``);
after a correct password an enrolled user gets ``/login/two-step`` (field ``code``, a recovery code too);
an organisation may require it (members page checkbox ``require_two_step``; the operator's covers partners).
"""
import re
import time
from urllib.parse import urlsplit

import pyotp
import pytest
from flask import Flask
from sqlalchemy import func, select

from portal.blueprints.auth import two_step as screens
from portal.domain.accounts import api_tokens, two_step
from portal.extensions import db
from portal.models import AuditEvent, LoginSession, Organisation, User
from tests.factories import PASSWORD, ClientFactory, UserFactory
from tests.helpers import HX, portal_client


def path_of(response) -> str:
    return urlsplit(response.headers.get("Location", "")).path


def reload(user) -> User:
    db.session.rollback()
    return db.session.get(User, user.id)


def count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(model.id)).where(*where))


def events(action) -> int:
    return count(AuditEvent, AuditEvent.action == action)


def secret_on(page: str) -> str:
    return re.search(r'<code id="two-step-secret">([A-Z2-7]+)</code>', page).group(1)


def next_code(secret: str) -> str:
    """The next step's code: accepted, and never the one just used."""
    return pyotp.TOTP(secret).generate_otp(two_step.current_step() + 1)


def enrol(browser) -> tuple[str, list[str]]:
    """Enrol the browser's user through the screens: (secret, recovery codes)."""
    secret = secret_on(browser.get("/account/two-step").get_data(as_text=True))
    done = browser.post("/account/two-step", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200, done.get_data(as_text=True)[:500]
    codes = re.findall(r"<li><code>([a-z2-7-]{19})</code></li>", done.get_data(as_text=True))
    return secret, codes


def password_step(app, email, next_=None):
    browser = portal_client(app)
    url = "/login" if next_ is None else f"/login?next={next_}"
    return browser, browser.post(url, data={"email": email, "password": PASSWORD})


def is_logged_in(browser) -> bool:
    return browser.get("/account").status_code == 200


@pytest.fixture
def alice(northwind):
    return UserFactory(organisation=northwind, partner_admin=True, email="alice@northwind.example")


@pytest.fixture
def enrolled_alice(alice, app, login_as):
    """Alice enrolled (secret, recovery codes); her enrolment's session is logged out."""
    browser = login_as(alice.email)
    secret, codes = enrol(browser)
    browser.post("/logout")
    return secret, codes


# --- enrolment --------------------------------------------------------------------------------


def test_the_account_page_links_to_two_step_enrolment(alice, login_as, html):
    page = html(login_as(alice.email).get("/account"))
    assert page.find("a", href="/account/two-step") is not None


def test_the_enrolment_page_shows_the_secret_in_code_a_qr_svg_and_a_code_field(alice, login_as, html):
    browser = login_as(alice.email)
    response = browser.get("/account/two-step")

    body = response.get_data(as_text=True)
    page = html(body)
    secret = page.by_id("two-step-secret")
    assert secret.tag == "code" and re.fullmatch(r"[A-Z2-7]{32}", secret.text)
    svg = page.by_id("two-step-qr").find("svg")
    assert svg is not None and svg.find("path") is not None
    assert "style=" not in body.split('id="two-step-qr"')[1].split("</svg>")[0] and "<script" not in body.split(
        "</head>")[1]
    form = page.find("form", action="/account/two-step")
    assert form.find("input", name="code") is not None
    assert response.headers["Cache-Control"] == "no-store"
    assert "img-src 'self' data:" in response.headers["Content-Security-Policy"]
    assert secret_on(browser.get("/account/two-step").get_data(as_text=True)) == secret.text  # same on reload


def test_a_right_code_turns_it_on_and_shows_ten_recovery_codes_once(alice, login_as, html):
    browser = login_as(alice.email)
    secret, codes = enrol(browser)

    assert len(set(codes)) == 10
    assert two_step.enabled(reload(alice))
    status = browser.get("/account/two-step").get_data(as_text=True)
    assert secret not in status and not any(c in status for c in codes)
    assert "10 unused recovery codes" in status
    assert html(status).find("form", action="/account/two-step/disable").find("input", name="code") is not None
    assert "On since" in browser.get("/account").get_data(as_text=True)


@pytest.mark.parametrize("entered", ["12345", "1234567", "12a456", "١٢٣٤٥٦", "x" * 65])
def test_a_code_that_is_not_6_digits_is_a_422_that_changes_nothing(alice, login_as, entered):
    browser = login_as(alice.email)
    browser.get("/account/two-step")

    response = browser.post("/account/two-step", data={"code": entered})

    assert response.status_code == 422
    assert "6-digit code" in response.get_data(as_text=True) or "Field cannot be longer" in response.get_data(
        as_text=True)
    assert not two_step.enabled(reload(alice)) and events("two_step.failed") == 0


def test_enrolment_confirmed_with_another_users_secret_is_refused(alice, northwind, app, login_as):
    mallory = UserFactory(organisation=northwind, partner_admin=True)
    alices_browser, mallorys_browser = login_as(alice.email), login_as(mallory.email)
    alices_browser.get("/account/two-step")
    mallorys_secret = secret_on(mallorys_browser.get("/account/two-step").get_data(as_text=True))

    response = alices_browser.post("/account/two-step", data={"code": pyotp.TOTP(mallorys_secret).now()})

    assert response.status_code == 422 and "not correct" in response.get_data(as_text=True)
    assert not two_step.enabled(reload(alice)) and not two_step.enabled(reload(mallory))
    assert events("two_step.failed") == 1 and events("two_step.enabled") == 0


def test_posting_to_enrolment_when_already_on_is_a_409(alice, login_as):
    browser = login_as(alice.email)
    enrol(browser)
    assert browser.post("/account/two-step", data={"code": "123456"}).status_code == 409


# --- the login's second step ----------------------------------------------------------------


def test_after_the_password_an_enrolled_user_gets_a_code_form_and_no_session_yet(enrolled_alice, alice, app, html):
    browser, response = password_step(app, alice.email)

    assert response.status_code == 303 and path_of(response) == "/login/two-step"
    assert count(LoginSession, LoginSession.user_id == alice.id) == 0
    assert browser.get("/clients").status_code in (302, 404) and not is_logged_in(browser)
    form = html(browser.get("/login/two-step")).find("form", action="/login/two-step")
    assert form.find("input", name="code") is not None and form.find("input", name="password") is None


def test_the_login_form_keeps_its_fields(enrolled_alice, client, html):
    form = html(client.get("/login")).find("form")
    assert {i.attrs.get("name") for i in form.find_all("input")} >= {"email", "password"}


def test_a_right_code_logs_in_and_goes_where_the_user_asked(enrolled_alice, alice, app):
    secret, _ = enrolled_alice
    browser, _ = password_step(app, alice.email, next_="/account")

    response = browser.post("/login/two-step", data={"code": next_code(secret)})

    assert response.status_code == 302 and path_of(response) == "/account"
    assert is_logged_in(browser)
    assert count(LoginSession, LoginSession.user_id == alice.id) == 1


def test_a_wrong_code_is_a_422_and_keeps_asking(enrolled_alice, alice, app):
    secret, _ = enrolled_alice
    browser, _ = password_step(app, alice.email)
    wrong = "000000" if next_code(secret) != "000000" else "111111"

    response = browser.post("/login/two-step", data={"code": wrong})

    assert response.status_code == 422 and "not correct" in response.get_data(as_text=True)
    assert not is_logged_in(browser)
    assert browser.post("/login/two-step", data={"code": next_code(secret)}).status_code == 302


@pytest.mark.parametrize("entered", ["12345", "abcdef", "1234567", ""])
def test_a_malformed_code_at_login_is_a_422(enrolled_alice, alice, app, entered):
    browser, _ = password_step(app, alice.email)
    response = browser.post("/login/two-step", data={"code": entered})
    assert response.status_code == 422
    assert not is_logged_in(browser)


def test_a_replayed_code_is_refused(enrolled_alice, alice, app):
    secret, _ = enrolled_alice
    code = next_code(secret)
    first, _ = password_step(app, alice.email)
    assert first.post("/login/two-step", data={"code": code}).status_code == 302

    thief, _ = password_step(app, alice.email)
    replay = thief.post("/login/two-step", data={"code": code})

    assert replay.status_code == 422 and not is_logged_in(thief)
    assert count(LoginSession, LoginSession.user_id == alice.id) == 1


def test_a_recovery_code_logs_in_once(enrolled_alice, alice, app):
    _, codes = enrolled_alice
    first, _ = password_step(app, alice.email)
    assert first.post("/login/two-step", data={"code": codes[3]}).status_code == 302

    second, _ = password_step(app, alice.email)
    again = second.post("/login/two-step", data={"code": codes[3]})

    assert again.status_code == 422 and not is_logged_in(second)
    assert two_step.recovery_codes_left(alice) == 9


def test_thirty_code_guesses_in_a_minute_are_throttled_with_retry_after_and_audited(enrolled_alice, alice, app):
    secret, _ = enrolled_alice
    browser, _ = password_step(app, alice.email)
    right = {pyotp.TOTP(secret).generate_otp(two_step.current_step() + offset) for offset in (-1, 0, 1, 2)}
    guesses = [f"{n:06d}" for n in range(40) if f"{n:06d}" not in right][:30]

    statuses = [browser.post("/login/two-step", data={"code": guess}) for guess in guesses]

    assert [r.status_code for r in statuses] == [422] * 10 + [429] * 20
    assert all(0 < int(r.headers["Retry-After"]) <= 900 for r in statuses[10:])
    assert "Too many wrong codes" in statuses[-1].get_data(as_text=True)
    assert browser.post("/login/two-step", data={"code": next_code(secret)}).status_code == 429
    assert not is_logged_in(browser) and count(LoginSession, LoginSession.user_id == alice.id) == 0
    assert events("two_step.failed") == 10 and events("two_step.throttled") == 21


def test_the_code_form_needs_the_password_step_first(enrolled_alice, client):
    assert path_of(client.get("/login/two-step")) == "/login"
    assert path_of(client.post("/login/two-step", data={"code": "123456"})) == "/login"
    assert events("two_step.failed") == 0


def test_the_password_step_expires_after_five_minutes(enrolled_alice, alice, app, monkeypatch):
    secret, _ = enrolled_alice
    browser, _ = password_step(app, alice.email)
    later = time.time() + 301
    monkeypatch.setattr(screens, "time", type("Clock", (), {"time": staticmethod(lambda: later)}))

    response = browser.post("/login/two-step", data={"code": next_code(secret)})

    assert response.status_code == 302 and path_of(response) == "/login"
    assert not is_logged_in(browser)


def test_a_forged_pending_login_marker_is_ignored(enrolled_alice, alice, app):
    secret, _ = enrolled_alice
    forger = Flask("forger")
    forger.secret_key = "not the portal's key"
    cookie = forger.session_interface.get_signing_serializer(forger).dumps(
        {screens.PENDING: {"user_id": alice.id, "until": int(time.time()) + 300, "next": None}})
    browser = portal_client(app)
    browser.set_cookie("session", cookie)

    response = browser.post("/login/two-step", data={"code": next_code(secret)})

    assert path_of(response) == "/login" and not is_logged_in(browser)


# --- turning it off -----------------------------------------------------------------------------


def test_turning_it_off_needs_a_current_code_or_the_password(alice, login_as):
    browser = login_as(alice.email)
    secret, _ = enrol(browser)

    nothing = browser.post("/account/two-step/disable", data={})
    wrong_password = browser.post("/account/two-step/disable", data={"password": "not my password"})
    assert (nothing.status_code, wrong_password.status_code) == (422, 422)
    assert "That password is not correct." in wrong_password.get_data(as_text=True)
    assert two_step.enabled(reload(alice))

    done = browser.post("/account/two-step/disable", data={"code": next_code(secret)})

    assert done.status_code == 303 and not two_step.enabled(reload(alice))
    assert browser.post("/account/two-step/disable", data={"password": PASSWORD}).status_code == 409


# --- the requirement -------------------------------------------------------------------------------


def test_a_partner_admin_requires_it_with_the_members_checkbox(alice, northwind, login_as, html):
    browser = login_as(alice.email)
    form = html(browser.get("/members")).find("form", action="/members/two-step")
    assert form.find("input", type="checkbox", name="require_two_step") is not None

    response = browser.post("/members/two-step", data={"require_two_step": "y"})

    assert response.status_code == 303
    assert db.session.get(Organisation, northwind.id).require_two_step
    assert events("organisation.two_step_required") == 1
    assert path_of(browser.get("/overview")) == "/account/two-step"  # the admin too, at once
    assert browser.post("/members/two-step", data={}).status_code == 302  # enrol first
    enrol(browser)
    assert browser.post("/members/two-step", data={}).status_code == 303
    assert not reload(alice).organisation.require_two_step


def test_only_roles_manage_holders_can_change_the_requirement(northwind, login_as):
    support = UserFactory(organisation=northwind, partner_support=True)
    browser = login_as(support.email)
    assert browser.post("/members/two-step", data={"require_two_step": "y"}).status_code == 403
    assert not db.session.get(Organisation, northwind.id).require_two_step


def test_a_user_of_a_requiring_organisation_is_sent_to_enrolment_before_anything_else(finance, northwind, app,
                                                                                          login_as, acme):
    northwind.require_two_step = True
    db.session.commit()
    browser = login_as(finance.email)

    for path in ("/", "/overview", f"/clients/{acme.id}", "/account", "/members", "/no-access", "/nowhere"):
        response = browser.get(path)
        assert response.status_code == 302 and path_of(response) == "/account/two-step", path
    assert browser.get("/overview", headers=HX).headers["HX-Redirect"] == "/account/two-step"
    assert browser.get("/account/two-step").status_code == 200
    token = api_tokens.create_token(None, finance).secret
    assert portal_client(app, token).get("/api/v1/clients").status_code == 200  # the API is not concerned

    enrol(browser)

    assert browser.get("/overview").status_code == 200


def test_the_operators_requirement_covers_every_partners_staff_but_not_clients(operator, finance, acme, acme_admin,
                                                                                login_as, html):
    browser = login_as(operator.email)
    label = html(browser.get("/members")).find("form", action="/members/two-step").text
    assert "every partner's staff" in label
    assert browser.post("/members/two-step", data={"require_two_step": "y"}).status_code == 303

    assert path_of(login_as(finance.email).get("/overview")) == "/account/two-step"
    assert login_as(acme_admin.email).get(f"/clients/{acme.id}").status_code == 200
    partner_members = html(login_as(finance.email).get("/account/two-step")).text
    assert "Your organisation requires two-step verification" in partner_members


def test_a_client_may_require_it_of_its_own_users(acme, acme_admin, login_as):
    member = UserFactory(organisation=acme, member=True)
    other_client_admin = UserFactory(organisation=ClientFactory(parent=acme.parent), client_admin=True)
    browser = login_as(acme_admin.email)
    browser.post("/members/two-step", data={"require_two_step": "y"})

    assert path_of(login_as(member.email).get("/account")) == "/account/two-step"
    assert login_as(other_client_admin.email).get("/account").status_code == 200


# --- CSRF on, as in production (docs/rules.md rule 18) -------------------------------------------


def test_the_code_form_and_the_checkbox_need_their_csrf_tokens(enrolled_alice, alice, csrf_app, csrf_token_from):
    secret, _ = enrolled_alice
    browser = csrf_app.test_client()
    token = csrf_token_from(browser.get("/login").get_data(as_text=True))
    assert browser.post("/login", data={"email": alice.email, "password": PASSWORD,
                                        "csrf_token": token}).status_code == 303

    assert browser.post("/login/two-step", data={"code": next_code(secret)}).status_code == 400
    token = csrf_token_from(browser.get("/login/two-step").get_data(as_text=True))
    assert browser.post("/login/two-step", data={"code": next_code(secret), "csrf_token": token}).status_code == 302

    assert browser.post("/members/two-step", data={"require_two_step": "y"}).status_code == 400
    page = browser.get("/members").get_data(as_text=True)
    form = page.split('id="two-step-requirement"')[1]
    assert browser.post("/members/two-step", data={"require_two_step": "y",
                                                   "csrf_token": csrf_token_from(form)}).status_code == 303
    db.session.rollback()
    assert db.session.get(Organisation, alice.organisation_id).require_two_step
