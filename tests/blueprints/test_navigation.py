"""The main navigation offers exactly the sections its user may open (portal.rbac.navigation), for every demo
account, and follows a change of role on the next page."""
import re

import pytest
from flask import url_for

from portal.domain.accounts import grants
from tests.helpers import LOGINS

SECTIONS = ("invoices.index", "insights.index", "reports.margins", "prices.book", "seat_requests.index",
            "members.index", "integrations.webhooks", "audit.index", "operator.index")


def _links(page: str) -> set[str]:
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', page, re.S).group(1)
    return set(re.findall(r'href="([^"#?]+)', nav))


@pytest.mark.parametrize("email", LOGINS.values())
def test_a_link_is_shown_exactly_when_its_page_opens(app, demo, login_as, email):
    browser = login_as(email)
    shown = _links(browser.get("/account").get_data(as_text=True))
    with app.test_request_context():
        urls = [url_for(endpoint) for endpoint in SECTIONS]

    opens = {url for url in urls if browser.get(url, follow_redirects=True).status_code == 200}

    assert shown & set(urls) == opens, email
    assert browser.get("/account").status_code == 200  # the pages visited did not end the session


def test_a_new_role_shows_its_section_on_the_next_page(app, demo, login_as):
    frontdesk = login_as("frontdesk@acme.example")
    with app.test_request_context():
        members = url_for("members.index")
    assert members not in _links(frontdesk.get("/account").get_data(as_text=True))

    grants.grant_role(demo.user("admin@acme.example"), demo.user("frontdesk@acme.example"), "client_admin")

    assert members in _links(frontdesk.get("/account").get_data(as_text=True))
