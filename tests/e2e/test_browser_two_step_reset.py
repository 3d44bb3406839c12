"""Two-step verification and password reset in a real browser, through a real SMTP server (docs/rules.md rules 38-39).

Enrol from the account page (the secret read off the page, codes computed as an
authenticator app would) and log in with a code; ask for a reset link, read it
from the e-mail the aiosmtpd server received, and set a new password.
"""
import re
import time

import pyotp
import pytest

from tests import mail_server
from tests.e2e.test_browser import browser, expect, page  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

SMTP_PORT = mail_server.free_port()
SERVER_ENV = {"PORTAL_MAIL_SERVER": "127.0.0.1", "PORTAL_MAIL_PORT": str(SMTP_PORT),
              "PORTAL_MAIL_DEFAULT_SENDER": "Partner Portal <portal@e2e.example>"}
DEMO_PASSWORD = "demo-password"


@pytest.fixture(scope="module")
def inbox():
    controller, inbox = mail_server.start(SMTP_PORT)
    yield inbox
    controller.stop()


def password_step(tab, email, password):
    tab.goto("/login")
    tab.get_by_label("E-mail").fill(email)
    tab.get_by_label("Password").fill(password)
    tab.get_by_role("button", name="Log in").click()


def test_enrol_in_two_step_verification_and_log_in_with_a_code(page, server):  # noqa: F811
    email = "finance@northwind.example"
    password_step(page, email, DEMO_PASSWORD)
    expect(page).to_have_url(re.compile(r"/overview"))
    page.goto("/account")
    page.get_by_role("link", name="Set up two-step verification").click()
    expect(page).to_have_url(re.compile(r"/account/two-step$"))
    expect(page.locator("#two-step-qr svg")).to_be_visible()
    secret = page.locator("code#two-step-secret").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    totp = pyotp.TOTP(secret)

    enrolment_code = totp.now()
    page.get_by_label("Code").fill(enrolment_code)
    page.get_by_role("button", name="Turn on two-step verification").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("button", name="Log out").click()

    password_step(page, email, DEMO_PASSWORD)
    expect(page).to_have_url(re.compile(r"/login/two-step$"))
    # The enrolment's code again, a replay (not totp.now(): a new 30-s step may have begun meanwhile).
    page.get_by_label("Code").fill(enrolment_code)
    page.get_by_role("button", name="Verify and log in").click()
    expect(page.locator("main")).to_contain_text("not correct, or it was already used")
    page.get_by_label("Code").fill(totp.at(time.time() + 30))  # the next step's code is accepted
    page.get_by_role("button", name="Verify and log in").click()
    expect(page).to_have_url(re.compile(r"/overview"))
    assert server.scalar("SELECT two_step_enabled_at IS NOT NULL FROM users WHERE email = :e", e=email)


def test_reset_a_forgotten_password_from_the_e_mail(page, inbox, server):  # noqa: F811
    email, new_password = "support@northwind.example", "violet kettle harbour 93"
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("E-mail").fill(email)
    page.get_by_role("button", name="Send me a link").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("#flash")).to_contain_text("If an account uses this e-mail address")

    [message] = inbox.to(email)
    assert message["From"] == "Partner Portal <portal@e2e.example>"
    link = re.search(r"http://\S+/password/reset/\S+", message.get_content()).group(0)
    assert link.startswith(server.url)

    page.goto(link)
    page.get_by_label("New password").fill(new_password)
    page.get_by_role("button", name="Set my new password").click()
    expect(page.locator("#flash")).to_contain_text("Your password was changed")

    password_step(page, email, new_password)
    expect(page).to_have_url(re.compile(r"/overview"))
    page.goto(link)  # single-use
    expect(page.locator("main")).to_contain_text("already used")
