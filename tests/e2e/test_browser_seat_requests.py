"""A seat request end to end in a real browser (docs/rules.md rule 29; issue 12).

A client admin meets "no free seat" while creating a user, asks for 2 seats carrying that
user, a finance admin approves from the queue in one click (after the confirmation that says
what it costs), and the user exists, invited, with the e-mails delivered to a real SMTP
server on loopback: the invitation to the new user, the decision to the requester.
"""
import re

import pytest

from tests.e2e.test_browser import CLIENT_ADMIN, FINANCE, browser, expect, log_in, page  # noqa: F401 (fixtures)
# The invitation test's SMTP server on loopback, and the setting that points the portal at it.
from tests.e2e.test_browser_invitation import SERVER_ENV, inbox  # noqa: F401 (a setting, a fixture)

pytestmark = pytest.mark.browser


def test_a_blocked_creation_becomes_a_request_that_finance_approves(inbox, page, browser, server):  # noqa: F811
    ids = server.ids()
    log_in(page, CLIENT_ADMIN)
    page.goto(f"/clients/{ids.acme}/users/new")
    page.get_by_label("Name").fill("Nadia Noor")
    page.get_by_label("E-mail").fill("nadia@acme.example")
    page.get_by_label("Site").select_option(label="Paris")
    expect(page.locator("#seat-choice")).to_contain_text("Subscription type at Paris")
    page.get_by_role("radio", name=re.compile("Essentials")).check()
    expect(page.locator("#no-seat")).to_contain_text("No free Essentials seat at Paris")

    page.get_by_role("button", name="Request seats").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Request seats at Paris")
    expect(page.get_by_label("E-mail of the user to create (optional)")).to_have_value("nadia@acme.example")
    assert "nadia" not in page.url  # the carried user came in a POST, not in the URL
    page.get_by_label("Number of seats").fill("2")
    page.get_by_label("Note for finance (optional)").fill("Two nurses start on Monday.")
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator("#flash")).to_contain_text("Your request for 2 Essentials seats at Paris was sent to finance")
    assert server.scalar("SELECT count(*) FROM seat_requests WHERE status = 'pending'") == 1

    finance = browser.new_context(base_url=server.url).new_page()
    try:
        log_in(finance, FINANCE)
        requests_link = finance.get_by_role("link", name=re.compile(r"^Seat requests"))
        expect(requests_link).to_contain_text("1")  # the navigation's count
        requests_link.click()
        row = finance.locator("tr", has_text="Nadia Noor")
        expect(row).to_contain_text("2 Essentials seats")
        row.get_by_role("link", name=re.compile("^Approve")).click()
        expect(finance.get_by_role("heading", level=1)).to_have_text("Approve 2 Essentials seats at Paris?")
        finance.get_by_role("button", name="Approve").click()
        expect(finance.locator("#flash")).to_contain_text("Approved: 2 Essentials seats at Paris (Acme Dental).")
        expect(finance.locator("#flash")).to_contain_text("Nadia Noor was created on one of them.")
        expect(finance.get_by_role("link", name=re.compile(r"^Seat requests"))).not_to_contain_text("1")
    finally:
        finance.context.close()

    assert server.scalar("SELECT status FROM users WHERE email = 'nadia@acme.example'") == "invited"
    assert server.allocation(ids.paris, ids.essentials) == (5, 4)
    page.goto(f"/clients/{ids.acme}")
    expect(page.locator("#invitations")).to_contain_text("nadia@acme.example")
    [invitation] = inbox.to("nadia@acme.example")
    assert re.search(r"http://\S+/invitations/\S+", invitation.get_content())
    # The client admin also gets the invoices (Acme reads French: "Facture …"); one mail tells the decision.
    [decision] = [mail for mail in inbox.to(CLIENT_ADMIN) if "Paris" in mail["Subject"]]
    assert "Essentials" in decision["Subject"]
