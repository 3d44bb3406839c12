"""Invite a user and accept the invitation in a real browser, through a real SMTP server.

The portal under test e-mails over SMTP to an aiosmtpd server on loopback;
the test reads the link from the received message and opens it in a second
browser context, as the invitee would.
"""
import re

import pytest

from tests import mail_server
from tests.e2e.test_browser import CLIENT_ADMIN, browser, expect, log_in, page  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

SMTP_PORT = mail_server.free_port()
SERVER_ENV = {"PORTAL_MAIL_SERVER": "127.0.0.1", "PORTAL_MAIL_PORT": str(SMTP_PORT),
              "PORTAL_MAIL_DEFAULT_SENDER": "Partner Portal <portal@e2e.example>"}


@pytest.fixture(scope="module")
def inbox():
    controller, inbox = mail_server.start(SMTP_PORT)
    yield inbox
    controller.stop()


def test_an_invited_user_accepts_in_the_browser_and_is_logged_in(inbox, page, browser, server):  # noqa: F811
    ids = server.ids()
    log_in(page, CLIENT_ADMIN)
    page.goto(f"/clients/{ids.acme}/users/new")
    page.get_by_label("Name").fill("Ines Invitee")
    page.get_by_label("E-mail").fill("ines@acme.example")
    page.get_by_role("radio", name=re.compile("Essentials")).check()
    page.get_by_role("radio", name="Send it now").check()
    page.get_by_role("button", name="Create and invite").click()
    expect(page.locator("#flash")).to_contain_text("Ines Invitee was created and invited")
    expect(page.locator("#invitations")).to_contain_text("ines@acme.example")

    [message] = inbox.to("ines@acme.example")
    assert message["From"] == "Partner Portal <portal@e2e.example>"
    link = re.search(r"http://\S+/invitations/\S+", message.get_content()).group(0)
    assert link.startswith(server.url)  # the host the admin's request came in on

    invitee = browser.new_context(base_url=server.url).new_page()
    try:
        invitee.goto(link)
        expect(invitee.get_by_role("heading", level=1)).to_have_text("Join Acme Dental")
        invitee.get_by_label("Your name").fill("Ines I.")
        invitee.get_by_label(re.compile("Choose a password")).fill("a long enough password")
        invitee.get_by_role("button", name="Accept and set my password").click()
        # Logged in at once (issue 11, defect 13): no second typing of the password just chosen.
        expect(invitee).to_have_url(re.compile(r"/account$"))  # a member sees their own profile
        expect(invitee.locator("#flash")).to_contain_text("Your account is ready")
        expect(invitee.locator("main")).to_contain_text("Ines I.")
        invitee.goto(link)  # the link is single-use
        expect(invitee.locator("main")).to_contain_text("already used")
    finally:
        invitee.context.close()
    assert server.scalar("SELECT status FROM users WHERE email = 'ines@acme.example'") == "active"
