"""The client and site pages follow the browser's language (docs/rules.md rule 37).

Money and days are written as CLDR writes them for the language ("178,00 €" with a
non-breaking space, "1 déc. 2026"); without ``Accept-Language`` the pages stay English
("€178.00", "Dec 1, 2026"). The catalogues may still be empty, so the French checks are
on formats, not on words.
"""
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from babel.dates import format_date
from babel.numbers import format_currency
from sqlalchemy import select

from portal.extensions import db
from portal.models import Invitation

FRENCH = {"Accept-Language": "fr"}


def money(amount: str, language: str, parsed: bool = True) -> str:
    """The amount as Babel writes it; ``parsed``: as the tests' HTML parser reads it (every run of
    spaces, the non-breaking one too, becomes one space)."""
    written = format_currency(Decimal(amount), "EUR", locale=language)
    return " ".join(written.split()) if parsed else written


def day(value, language: str) -> str:
    """A day as Babel writes it for the language ("1 déc. 2026"), as the tests' parser reads it."""
    return " ".join(format_date(value, "medium", locale=language).split())


def client_url(demo):
    return f"/clients/{demo.acme.id}"


def site_url(demo):
    return f"/clients/{demo.acme.id}/sites/{demo.lyon.id}"


@pytest.mark.parametrize(("headers", "language"), [(FRENCH, "fr"), ({}, "en")])
def test_the_client_page_writes_money_and_days_in_the_browsers_language(headers, language, demo, login_as, html):
    page = html(login_as("finance@northwind.example").get(client_url(demo), headers=headers))

    total = page.by_id("next-invoice-total").text
    assert total == money("178.00", language)  # the next period's invoice of the demo
    billing = page.by_id("billing-cycle").text
    # The current period, shown with its last day (the stored end is excluded).
    first, last = demo.acme.period_start, demo.acme.period_end - timedelta(days=1)
    assert day(first, language) in billing and day(last, language) in billing
    assert first.isoformat() not in billing


def test_french_money_has_the_symbol_after_a_non_breaking_space(demo, login_as):
    finance = login_as("finance@northwind.example")
    french = finance.get(client_url(demo), headers=FRENCH).get_data(as_text=True)
    english = finance.get(client_url(demo)).get_data(as_text=True)

    assert '<strong id="next-invoice-total">178,00\u00a0€</strong>' in french
    assert money("178.00", "fr", parsed=False) == "178,00\u00a0€"
    assert '<strong id="next-invoice-total">€178.00</strong>' in english

    site_page = finance.get(site_url(demo), headers=FRENCH).get_data(as_text=True)
    assert re.search('<span class="cost" id="cost-essentials">[^<]*15,00\u00a0€', site_page)


@pytest.mark.parametrize(("headers", "language"), [(FRENCH, "fr"), ({}, "en")])
def test_the_site_page_writes_the_price_of_one_more_seat_in_the_browsers_language(headers, language, demo, login_as,
                                                                                  html):
    page = html(login_as("finance@northwind.example").get(site_url(demo), headers=headers))

    cost = page.by_id("cost-essentials").text
    assert money("15.00", language) in cost and "EUR" not in cost


@pytest.mark.parametrize(("headers", "language"), [(FRENCH, "fr"), ({}, "en")])
def test_an_invitation_shows_its_days_in_the_browsers_language(headers, language, demo, login_as, html, run_jobs):
    admin = login_as("admin@acme.example")
    created = admin.post(f"{client_url(demo)}/users/new", data={
        "name": "Paula Lyon", "email": "paula@acme.example", "site_id": str(demo.lyon.id),
        "subscription_type": "essentials", "send_invitation": "now"})
    assert created.status_code == 302
    run_jobs()  # the worker sends it (to the log: no mail server in this test)
    db.session.rollback()
    invited = demo.user("paula@acme.example")
    invitation = db.session.scalar(select(Invitation).where(Invitation.user_id == invited.id))
    assert invitation.delivery == "sent"

    row = html(admin.get(client_url(demo), headers=headers)).by_id(f"invitation-{invited.id}").cells()[2]

    assert day(invitation.sent_at, language) in row and day(invitation.expires_at, language) in row
    if language == "en":
        assert row == f"Sent {day(invitation.sent_at, 'en')}, valid until {day(invitation.expires_at, 'en')}"
    assert invitation.sent_at.date().isoformat() not in row


def test_codes_are_shown_as_words_not_as_stored(demo, login_as, html):
    page = html(login_as("finance@northwind.example").get(client_url(demo)))

    assert "Billing cycle: Monthly" in page.text and "monthly" not in page.by_id("billing-cycle").text
    statuses = {cell.text for cell in page.find_all("span") if "status" in cell.attrs.get("class", "").split()}
    assert statuses and statuses <= {"Invited", "Active", "Deactivated"}
