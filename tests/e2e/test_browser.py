"""The htmx screens in a real browser (Debian chromium driven by Playwright).

Each flow checks that the change happens in place: a marker set on ``window``
before the action survives it (a reload would wipe it) and the main frame does
not navigate. Console errors (CSP violations included), uncaught page errors
and 5xx answers fail the test.
"""
import os
import re

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
FINANCE = "finance@northwind.example"
CLIENT_ADMIN = "admin@acme.example"
# The app answers refused forms with 409/422 on purpose (htmx swaps them); chromium
# logs every 4xx as "Failed to load resource", which is not an error of the page.
EXPECTED_CONSOLE = re.compile(r"Failed to load resource: the server responded with a status of (409|422)\b")


def _expected_console(message) -> bool:
    # The app has no favicon: chromium's automatic /favicon.ico request gets a 404.
    return bool(EXPECTED_CONSOLE.search(message.text)) or (
        message.location.get("url", "").endswith("/favicon.ico") and "status of 404" in message.text)


def _unavailable(reason):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    """A fresh browser context; fails the test on console errors, page errors and 5xx answers."""
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems = []
    page.on("console", lambda message: message.type == "error" and not _expected_console(message)
            and problems.append(f"console: {message.text} ({message.location.get('url')})"))
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("response", lambda response: response.status >= 500
            and problems.append(f"{response.status} {response.request.method} {response.url}"))
    yield page
    context.close()
    assert not problems, "the browser reported:\n" + "\n".join(problems)


def expect(locator_or_page):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator_or_page)


def log_in(page, email, password="demo-password"):
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


class NoReload:
    """Asserts that what runs inside the block neither reloads nor navigates the page."""

    def __init__(self, page):
        self.page = page
        self.navigations = []

    def __enter__(self):
        self.page.evaluate("window.__noReload = 1")
        self.page.on("framenavigated", self._navigated)
        self.url = self.page.url
        return self

    def _navigated(self, frame):
        if frame == self.page.main_frame:
            self.navigations.append(frame.url)

    def __exit__(self, *exc):
        self.page.remove_listener("framenavigated", self._navigated)
        if exc[0] is None:
            assert self.page.evaluate("window.__noReload") == 1, "the page was reloaded"
            assert self.navigations == [], f"the page navigated: {self.navigations}"
            assert self.page.url == self.url


def open_acme_from_overview(page):
    """Partner staff: overview → "Detail per client" tab → Acme Dental."""
    page.get_by_role("link", name="Detail per client").click()
    expect(page).to_have_url(re.compile(r"/overview\?tab=clients"))
    page.locator("#client-table").get_by_role("link", name="Acme Dental").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Dental")


def test_plus_adds_a_seat_in_place(page, server):
    ids = server.ids()
    log_in(page, FINANCE)
    open_acme_from_overview(page)
    page.get_by_role("link", name="Lyon", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lyon")
    field = page.get_by_label("Essentials seats allocated")
    expect(field).to_have_value("5")

    with NoReload(page):
        with page.expect_response(lambda r: r.request.method == "POST" and "/allocations/essentials" in r.url) as posted:
            page.get_by_role("button", name="Add one Essentials seat").click()
        assert posted.value.status == 200
        assert posted.value.request.headers.get("hx-request") == "true"
        expect(field).to_have_value("6")
        expect(page.locator("#seat-essentials td").nth(2)).to_have_text("2")  # free: 6 − 4

    assert server.allocation(ids.lyon, ids.essentials) == (6, 4)
    page.reload()
    expect(page.get_by_label("Essentials seats allocated")).to_have_value("6")


def test_new_user_form_follows_the_site_and_offers_to_add_a_seat(page, server):
    ids = server.ids()
    log_in(page, FINANCE)
    page.goto(f"/clients/{ids.acme}")
    page.get_by_role("link", name="New user").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New user")
    expect(page.locator("#seat-choice legend")).to_have_text("Subscription type at Lyon")

    with NoReload(page):
        page.get_by_label("Site").select_option(label="Paris")
        expect(page.locator("#seat-choice legend")).to_have_text("Subscription type at Paris")
        expect(page.locator("#free-essentials")).to_have_text("0 free of 3")
        expect(page.locator("#free-support")).to_have_text("2 free of 2")
    expect(page.get_by_label("Site")).to_have_value(str(ids.paris))

    page.get_by_label("Name").fill("Paula Paris")
    page.get_by_label("E-mail").fill("paula@acme.example")
    with NoReload(page):  # choosing a type with 0 free shows the offer at once (issue 11, defect 9)
        page.get_by_role("radio", name=re.compile("Essentials")).check()
        expect(page.locator("#no-seat")).to_contain_text("No free Essentials seat at Paris (0 free)")
    expect(page.get_by_role("button", name="Create and invite")).to_have_count(0)  # one primary button
    expect(page.get_by_label("Name")).to_have_value("Paula Paris")  # nothing typed is lost
    expect(page.get_by_label("Site")).to_have_value(str(ids.paris))
    assert server.scalar("SELECT count(*) FROM users WHERE email = 'paula@acme.example'") == 0

    page.get_by_role("button", name="Add a seat and create").click()
    expect(page).to_have_url(re.compile(rf"/clients/{ids.acme}$"))
    expect(page.locator("#flash")).to_contain_text("Paula Paris was created and invited (Essentials at Paris)")
    expect(page.locator("#user-list")).to_contain_text("paula@acme.example")
    assert server.allocation(ids.paris, ids.essentials) == (4, 4)
    row = server.one("SELECT status, site_id, subscription_type_id FROM users WHERE email = 'paula@acme.example'")
    assert tuple(row) == ("invited", ids.paris, ids.essentials)


def test_deactivate_a_user_in_place(page, server):
    ids = server.ids()
    log_in(page, CLIENT_ADMIN)  # a client admin lands on their client's page
    expect(page).to_have_url(re.compile(rf"/clients/{ids.acme}$"))
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    row = page.locator("#user-list tbody tr").filter(has_text="Unlimited · Lyon").first
    email = row.locator("td").nth(1).inner_text()
    _, consumed_before = server.allocation(ids.lyon, ids.unlimited)

    with NoReload(page):
        row_id = row.get_attribute("id")
        row.get_by_role("link", name="Deactivate").click()
        row = page.locator(f"#{row_id}")
        expect(row.locator(".status")).to_have_text("Deactivated")
        expect(row.get_by_role("link", name="Deactivate")).to_have_count(0)

    assert len(dialogs) == 1 and dialogs[0].startswith("Deactivate ")
    assert server.scalar("SELECT status FROM users WHERE email = :e", e=email) == "deactivated"
    assert server.allocation(ids.lyon, ids.unlimited)[1] == consumed_before - 1  # the seat is free at once
