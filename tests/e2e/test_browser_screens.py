"""Screens on a phone and by keyboard, in a real browser (docs/rules.md section 15: 15a, 15c).

The same chromium and live server as test_browser.py; console errors (a CSP
violation included: htmx settling a `style` attribute after a keyboard-triggered
swap was one) fail the test through its ``page`` fixture.
"""
import re

import pytest

from tests.e2e import test_browser as shared
from tests.e2e.test_browser import NoReload, expect, log_in

# test_browser.py's fixtures: chromium for the module, and a page that fails on console errors.
browser = shared.browser
page = shared.page

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
DESK = {"width": 1280, "height": 900}
FINANCE = "finance@northwind.example"  # partner admin + finance: every main page, audit log included
CLIENT_ADMIN = "admin@acme.example"


def scroll_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


# The elements that stick out on the right, outside any scrolling box: what to fix when a page is too wide.
_STICKING_OUT = """limit => {
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('.table-scroll') && !el.classList.contains('table-scroll')) continue;
    const r = el.getBoundingClientRect();
    if (r.width && r.right > limit + 0.5) {
      out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className} → ${Math.round(r.right)} px`);
    }
  }
  return out.slice(-8);
}"""


def sticking_out(page, limit: int) -> list[str]:
    return page.evaluate(_STICKING_OUT, limit)


def main_pages(server) -> list[tuple[str, str]]:
    ids = server.ids()
    invoice = server.scalar("SELECT min(id) FROM invoices WHERE client_id = :c", c=ids.acme)
    return [
        ("overview, totals", "/overview"),
        ("overview, per client", "/overview?tab=clients"),
        ("client", f"/clients/{ids.acme}"),
        ("site", f"/clients/{ids.acme}/sites/{ids.lyon}"),
        ("invoices", "/invoices"),
        ("invoice", f"/invoices/{invoice}"),
        ("audit log", "/audit?include_logins=1"),
        ("insight", "/insights"),
    ]


def test_no_main_page_scrolls_sideways_at_360_px(page, server):
    page.set_viewport_size(PHONE)
    log_in(page, FINANCE)
    too_wide = {}
    for name, path in main_pages(server):
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        width = scroll_width(page)
        if width > PHONE["width"]:
            too_wide[name] = (width, sticking_out(page, PHONE["width"]))
    assert too_wide == {}, f"pages wider than {PHONE['width']} px: {too_wide}"


def test_a_client_admins_pages_fit_at_360_px_too(page, server):
    ids = server.ids()
    page.set_viewport_size(PHONE)
    log_in(page, CLIENT_ADMIN)
    for path in (f"/clients/{ids.acme}", f"/clients/{ids.acme}/sites/{ids.paris}", "/audit"):
        page.goto(path)
        assert scroll_width(page) <= PHONE["width"], path


def test_a_wide_table_scrolls_inside_its_own_box(page, server):
    page.set_viewport_size(PHONE)
    log_in(page, FINANCE)
    page.goto("/audit?include_logins=1")
    box = page.locator("#audit-table .table-scroll")

    sizes = box.evaluate("b => [b.scrollWidth, b.clientWidth]")
    assert sizes[1] <= PHONE["width"]
    assert box.get_attribute("tabindex") == "0" and box.get_attribute("role") == "region"
    box.focus()
    page.keyboard.press("ArrowRight")  # keyboard users can scroll it
    if sizes[0] > sizes[1]:
        expect(box).not_to_have_js_property("scrollLeft", 0)
    assert scroll_width(page) <= PHONE["width"]


def test_on_a_phone_the_menu_folds_behind_one_button(page, server):
    page.set_viewport_size(PHONE)
    log_in(page, FINANCE)
    page.goto("/overview")
    button = page.get_by_role("button", name="Menu")
    log_out = page.get_by_role("button", name="Log out")

    expect(button).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_role("link", name="Invoices")).to_be_hidden()
    expect(log_out).to_be_hidden()

    button.focus()
    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("link", name="Invoices")).to_be_visible()
    expect(log_out).to_be_visible()
    assert scroll_width(page) <= PHONE["width"]

    page.keyboard.press("Escape")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_be_focused()

    button.click()
    log_out.click()
    expect(page).to_have_url(re.compile(r"/login"))


def test_on_a_desk_the_menu_is_open_and_has_no_button(page, server):
    page.set_viewport_size(DESK)
    log_in(page, FINANCE)
    page.goto("/overview")
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(page.get_by_role("link", name="Audit log")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_without_javascript_the_menu_stays_open_and_fits(browser, server):
    context = browser.new_context(base_url=server.url, java_script_enabled=False, viewport=PHONE)
    try:
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("E-mail").fill(FINANCE)
        page.get_by_label("Password").fill("demo-password")
        page.get_by_role("button", name="Log in").click()
        expect(page).not_to_have_url(re.compile(r"/login"))
        expect(page.get_by_role("button", name="Menu")).to_be_hidden()
        expect(page.get_by_role("link", name="Invoices")).to_be_visible()
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
        assert scroll_width(page) <= PHONE["width"]
    finally:
        context.close()


def test_plus_and_minus_by_keyboard_keep_the_focus_and_announce_the_value(page, server):
    ids = server.ids()
    log_in(page, FINANCE)
    page.goto(f"/clients/{ids.acme}/sites/{ids.lyon}")
    field = page.get_by_label("Essentials seats allocated")
    status = page.locator("#live-status")
    expect(field).to_have_value("5")

    with NoReload(page):  # every change in place: a reload would also lose the focus
        page.locator("#plus-essentials").focus()
        with page.expect_response(lambda r: r.request.method == "POST" and "/allocations/essentials" in r.url):
            page.keyboard.press("Enter")
        expect(field).to_have_value("6")
        # The new value, then what the increase invoiced and how to undo it (rule 24).
        expect(status).to_have_text(re.compile(r"^Essentials at Lyon: 6 seats .*Undo within 7 days for a full credit\.$"))
        assert page.evaluate("document.activeElement.id") == "plus-essentials"

        # Enter again on the same control: it still has the focus, so it acts again.
        with page.expect_response(lambda r: r.request.method == "POST" and "/allocations/essentials" in r.url):
            page.keyboard.press("Enter")
        expect(field).to_have_value("7")
        expect(status).to_have_text(re.compile(r"^Essentials at Lyon: 7 seats "))

        # − down to the 4 seats in use: the last press disables −, focus falls back on the number.
        page.locator("#minus-essentials").focus()
        for expected in ("6", "5", "4"):
            with page.expect_response(lambda r: r.request.method == "POST" and "/allocations/essentials" in r.url):
                page.keyboard.press("Enter")
            expect(field).to_have_value(expected)
            if expected == "5":  # the two seats bought a moment ago are credited (rule 24)…
                expect(status).to_have_text(re.compile(r"^Essentials at Lyon: 5 seats Credit note \S+ issued"))
        expect(page.locator("#minus-essentials")).to_be_disabled()
        expect(status).to_have_text("Essentials at Lyon: 4 seats")  # …the fifth was not bought in the window
        assert page.evaluate("document.activeElement.id") == "allocated-essentials"

        # A number typed and Enter: the field keeps the focus.
        field.fill("8")
        with page.expect_response(lambda r: r.request.method == "POST" and "/allocations/essentials" in r.url):
            page.keyboard.press("Enter")
        expect(status).to_have_text(re.compile(r"^Essentials at Lyon: 8 seats Invoice "))
        assert page.evaluate("document.activeElement.id") == "allocated-essentials"
    assert server.allocation(ids.lyon, ids.essentials) == (8, 4)
