"""French and Polish in a real browser (docs/rules.md rule 37; issue 11).

Longer words must still fit a phone: every main page at 360 px in French and in Polish,
for finance and for a client admin. And the language chosen on the account page is the
one every later page is written in, whatever the browser asks.
"""
import pytest

from tests.e2e import test_browser as shared
from tests.e2e.test_browser import expect, log_in
from tests.e2e.test_browser_screens import PHONE, main_pages, scroll_width, sticking_out

browser = shared.browser
page = shared.page

pytestmark = pytest.mark.browser

FINANCE = "finance@northwind.example"
CLIENT_ADMIN = "admin@acme.example"


def client_admin_pages(server):
    ids = server.ids()
    user = server.scalar("SELECT min(id) FROM users WHERE site_id = :s AND status = 'active'", s=ids.lyon)
    return [("client", f"/clients/{ids.acme}"), ("site", f"/clients/{ids.acme}/sites/{ids.paris}"),
            ("new user", f"/clients/{ids.acme}/users/new"), ("move", f"/clients/{ids.acme}/users/{user}/move"),
            ("request seats", f"/clients/{ids.acme}/sites/{ids.paris}/seat-requests/new"),
            ("members", "/members"), ("invite a member", "/members/invite"), ("account", "/account"),
            ("seat requests", "/seat-requests")]


@pytest.mark.parametrize("language", ["fr", "pl"])
@pytest.mark.parametrize("who", [FINANCE, CLIENT_ADMIN])
def test_every_main_page_fits_a_phone_in_french_and_polish(who, language, page, server):
    page.set_viewport_size(PHONE)
    log_in(page, who)  # in English: the browser asks for nothing yet
    page.set_extra_http_headers({"Accept-Language": language})
    pages = main_pages(server) if who == FINANCE else client_admin_pages(server)
    too_wide = {}
    for name, path in pages:
        page.goto(path)
        expect(page.locator("html")).to_have_attribute("lang", language)
        width = scroll_width(page)
        if width > PHONE["width"]:
            too_wide[name] = (width, sticking_out(page, PHONE["width"]))
    assert too_wide == {}, f"{language}: pages wider than {PHONE['width']} px: {too_wide}"


def test_the_language_chosen_on_the_account_page_is_the_portals(page, server):
    log_in(page, FINANCE)
    page.goto("/account")
    page.get_by_label("Language").select_option("fr")
    page.locator("form", has=page.locator("select[name=language]")).get_by_role("button").click()

    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.set_extra_http_headers({"Accept-Language": "pl"})  # the account's choice wins over the browser
    page.goto("/overview")
    expect(page.get_by_role("navigation", name="Principal")).to_contain_text("Souscriptions")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Souscriptions")
