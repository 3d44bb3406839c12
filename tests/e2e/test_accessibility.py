"""No serious or critical accessibility violation on the main pages (DESIGN section 15; issue 11).

axe-core (npm, pinned by package-lock.json; `make assets` installs it) runs inside
Debian chromium on every main page of a partner's finance admin and a client admin,
on a desk and at 360 px, in English and in French, against the WCAG 2.1 A and AA
rules. A violation names the rule, the elements and axe's help page.
"""
from pathlib import Path

import pytest

from tests.e2e import test_browser as shared
from tests.e2e.test_browser import log_in
from tests.e2e.test_browser_screens import DESK, PHONE, main_pages

browser = shared.browser
pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FINANCE = "finance@northwind.example"
CLIENT_ADMIN = "admin@acme.example"


@pytest.fixture
def axe_page(browser, server):
    """A page whose context lets the test add axe's script (the portal's CSP forbids inline scripts)."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make assets` (npm ci)")
    context = browser.new_context(base_url=server.url, bypass_csp=True)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def serious_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_AA)
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:4]} {v['helpUrl']}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def client_admin_pages(server) -> list[tuple[str, str]]:
    ids = server.ids()
    return [("client", f"/clients/{ids.acme}"), ("new user", f"/clients/{ids.acme}/users/new"),
            ("bulk invite", f"/clients/{ids.acme}/users/bulk"), ("members", "/members"), ("account", "/account")]


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("size", [DESK, PHONE], ids=["desk", "phone"])
def test_finance_pages_have_no_serious_violation(axe_page, server, size, language):
    axe_page.set_viewport_size(size)
    log_in(axe_page, FINANCE)  # the login form in English (log_in reads its English labels)
    axe_page.set_extra_http_headers({"Accept-Language": language})
    found = {}
    for name, path in main_pages(server):
        axe_page.goto(path)
        found[name] = serious_violations(axe_page)
    assert not any(found.values()), {name: v for name, v in found.items() if v}


@pytest.mark.parametrize("size", [DESK, PHONE], ids=["desk", "phone"])
def test_client_admin_pages_have_no_serious_violation(axe_page, server, size):
    axe_page.set_viewport_size(size)
    log_in(axe_page, CLIENT_ADMIN)
    found = {}
    for name, path in client_admin_pages(server):
        axe_page.goto(path)
        found[name] = serious_violations(axe_page)
    assert not any(found.values()), {name: v for name, v in found.items() if v}


def test_the_login_page_has_no_serious_violation(axe_page, server):
    axe_page.goto("/login")
    assert serious_violations(axe_page) == []


def test_the_checker_finds_a_violation_when_there_is_one(axe_page, server):
    """The check can fail: an image without a text alternative is a critical violation."""
    axe_page.goto("/login")
    axe_page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=\"/x.png\">')")
    assert any(v.startswith("image-alt") for v in serious_violations(axe_page))
