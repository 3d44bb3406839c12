"""Issue 15's story in a real browser: a finance admin sees a client's 90-day seat curve, opens insight,
finds the idle seats and the site about to run out, and is one click from acting on each.

The demo's history (portal/domain/demo_history.py) makes Acme Dental's Lyon the site running out and
Globex Clinic's Main Unlimited idle (Northwind's; Initech Vet's idle Berlin is Southwind's); the same chromium and live server as test_browser.py.
"""
import re

import pytest

from tests.e2e import test_browser as shared
from tests.e2e.test_browser import expect, log_in

browser = shared.browser
page = shared.page

pytestmark = pytest.mark.browser

FINANCE = "finance@northwind.example"


def test_the_client_page_shows_its_90_day_curve_with_the_numbers_behind_it(page, server):
    log_in(page, FINANCE)
    page.goto(f"/clients/{server.ids().acme}")
    usage = page.locator("#usage")
    chart = usage.get_by_role("img", name=re.compile("Acme Dental"))
    expect(chart).to_be_visible()
    expect(usage.get_by_role("link", name="90 days")).to_have_attribute("aria-current", "true")
    # The table behind the chart: one row a day, the last one today's counts.
    usage.get_by_text("Numbers behind the chart").click()
    rows = usage.locator("table.usage-numbers tbody tr")
    expect(rows).to_have_count(90)
    allocated, consumed = server.one(
        "SELECT sum(a.allocated), sum(a.consumed) FROM allocations a JOIN sites s ON s.id = a.site_id "
        "WHERE s.client_id = :c", c=server.ids().acme)
    expect(rows.last.locator("td")).to_have_text([str(allocated), str(consumed)])


def test_insight_leads_to_the_site_running_out_and_to_the_idle_seats(page, server):
    log_in(page, FINANCE)
    page.get_by_role("link", name="Insight").first.click()
    expect(page.get_by_role("heading", level=1, name="Insight")).to_be_visible()

    running_out = page.locator("#running-out")
    lyon = running_out.get_by_role("row").filter(has=page.get_by_role("link", name="Lyon")).first
    expect(lyon).to_contain_text("Acme Dental")
    lyon.get_by_role("link", name="Lyon").click()
    expect(page).to_have_url(re.compile(rf"/clients/{server.ids().acme}/sites/{server.ids().lyon}#seat-"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Lyon")
    # Where a seat can be added: the row of the type that runs out, in the seat panel.
    target = page.url.rsplit("#", 1)[1]
    expect(page.locator(f"#{target}")).to_be_visible()

    page.go_back()
    idle = page.locator("#idle-seats")
    main = idle.get_by_role("row").filter(has=page.get_by_role("link", name="Main")).first
    expect(main).to_contain_text("Globex Clinic")
    # Another partner's idle seats are not this finance admin's to see.
    expect(idle.get_by_role("link", name="Berlin")).to_have_count(0)
    main.get_by_role("link", name="Main").click()
    globex = server.scalar("SELECT id FROM organisations WHERE name = 'Globex Clinic'")
    expect(page).to_have_url(re.compile(rf"/clients/{globex}/sites/\d+#seat-"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Main")
