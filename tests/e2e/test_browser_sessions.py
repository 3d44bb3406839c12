"""The account page's list of sessions in a real browser (docs/rules.md rule 40).

One user logs in from two browser contexts (two devices), sees both sessions
on the account page, this one marked, and ends the other one: the other
device is logged out.
"""
import re

import pytest

from tests.e2e.test_browser import CLIENT_ADMIN, browser, expect, log_in, page  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def test_two_logins_two_sessions_and_ending_the_other_one(page, browser, server):  # noqa: F811
    log_in(page, CLIENT_ADMIN)
    other = browser.new_context(base_url=server.url).new_page()
    try:
        log_in(other, CLIENT_ADMIN)

        page.goto("/account")
        rows = page.locator("table.sessions tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.filter(has_text="this session")).to_have_count(1)
        expect(page.get_by_role("button", name="End all other sessions")).to_be_visible()

        page.once("dialog", lambda dialog: dialog.accept())  # "End this session? That device will be logged out."
        rows.filter(has_not_text="this session").get_by_role("button", name="End session").click()

        expect(page.locator("#flash")).to_contain_text("The session has ended")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("this session")

        other.goto("/account")
        expect(other).to_have_url(re.compile(r"/login"))
        page.goto("/account")
        expect(page).to_have_url(re.compile(r"/account$"))  # this device is still logged in
    finally:
        other.context.close()
    assert server.scalar("SELECT count(*) FROM login_sessions") == 1
