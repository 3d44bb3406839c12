"""Screens on a phone and by keyboard, issue 11 second part, in a real browser (docs/rules.md section 15).

The shared chromium, live server and console-error-failing ``page`` of test_browser.py.
"""
import re

import pytest

from tests.e2e import test_browser as shared
from tests.e2e.test_browser import expect, log_in
from tests.e2e.test_browser_screens import CLIENT_ADMIN, FINANCE, PHONE, scroll_width, sticking_out

browser = shared.browser
page = shared.page

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("email", [FINANCE, "admin@northwind.example", CLIENT_ADMIN])
def test_members_and_account_fit_at_360_px(email, page, server):
    """docs/rules.md screen 15a on the two pages the first part left out (their tables and row forms)."""
    page.set_viewport_size(PHONE)
    log_in(page, email)
    too_wide = {}
    for path in ("/members", "/account"):
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        width = scroll_width(page)
        if width > PHONE["width"]:
            too_wide[path] = (width, sticking_out(page, PHONE["width"]))
    assert too_wide == {}, f"pages wider than {PHONE['width']} px: {too_wide}"


def test_after_creating_a_token_the_page_is_account_and_the_password_form_changes_the_password(page, server):
    """Issue 11, defect 2: the password form of the token's answer posted to /account/tokens.

    Globex's admin, whom no other test of this module uses: the new password stays for the module's server.
    """
    log_in(page, "admin@globex.example")
    page.goto("/account")
    page.get_by_label("Token name").fill("Provisioning")
    page.get_by_role("button", name="Create a token").click()
    expect(page.locator("#new-token")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/account$"))

    page.get_by_label("Current password").fill("demo-password")
    page.get_by_label(re.compile("^New password")).fill("correct horse battery staple 42")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Password changed.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/account$"))
    # A reload of the answer would not have created a second token: the page is a GET of /account now.
    page.reload()
    expect(page.locator("#new-token")).to_have_count(0)
    expect(page.locator("table.tokens tbody tr")).to_have_count(1)


def test_bulk_invite_refreshes_the_free_seats_when_the_site_changes(page, server):
    """Issue 11, defect 8: "Free at Lyon" stayed with Paris chosen. Defect 13: the refresh is a POST, so
    neither the addresses typed nor the CSRF token end up in a URL."""
    ids = server.ids()
    log_in(page, CLIENT_ADMIN)
    page.goto(f"/clients/{ids.acme}/users/bulk")
    page.get_by_label("E-mail addresses (one per line)").fill("someone@example.org")
    expect(page.locator("#free-seats")).to_contain_text("Free at Lyon")
    with page.expect_request(lambda r: "/users/bulk" in r.url and r.headers.get("hx-request") == "true") as sent:
        page.get_by_label("Site").select_option(label="Paris")
    expect(page.locator("#free-seats")).to_contain_text("Free at Paris")
    assert sent.value.method == "POST" and "?" not in sent.value.url, sent.value.url
    assert "refresh=y" in (sent.value.post_data or ""), sent.value.post_data
    expect(page.get_by_label("E-mail addresses (one per line)")).to_have_value("someone@example.org")
