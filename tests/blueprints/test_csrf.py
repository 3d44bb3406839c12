"""CSRF protection, switched on (docs/rules.md rule 18): forms carry a token, htmx sends it as a header."""
import re

import pytest

from portal.domain.demo import DEMO_PASSWORD


@pytest.fixture
def browser(csrf_app):
    return csrf_app.test_client()


def hx_headers_token(html: str) -> str:
    """The token htmx sends: the one in <body hx-headers='{"X-CSRFToken": "…"}'>."""
    match = re.search(r"""hx-headers='\{"X-CSRFToken": "([^"]+)"\}'""", html)
    assert match, "the page gives htmx no CSRF header"
    return match.group(1)


def log_in(browser, csrf_token_from, email="finance@northwind.example"):
    token = csrf_token_from(browser.get("/login").get_data(as_text=True))
    response = browser.post("/login", data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return browser


def allocation_url(site, code="essentials"):
    return f"/clients/{site.client_id}/sites/{site.id}/allocations/{code}"


def test_login_without_a_token_is_refused(demo, browser):
    response = browser.post("/login", data={"email": "finance@northwind.example", "password": DEMO_PASSWORD})

    assert response.status_code == 400
    assert browser.get("/account").status_code == 302  # not logged in


def test_login_with_a_forged_token_is_refused(demo, browser):
    browser.get("/login")

    response = browser.post("/login", data={"email": "finance@northwind.example", "password": DEMO_PASSWORD,
                                            "csrf_token": "forged"})

    assert response.status_code == 400


def test_login_with_the_forms_token_works(demo, browser, csrf_token_from):
    log_in(browser, csrf_token_from)

    assert browser.get("/account").status_code == 200


def test_htmx_post_with_the_header_from_hx_headers_works(demo, browser, csrf_token_from, seats):
    log_in(browser, csrf_token_from)
    page = browser.get(f"/clients/{demo.acme.id}/sites/{demo.lyon.id}").get_data(as_text=True)

    response = browser.post(allocation_url(demo.lyon), data={"allocated": "5", "step": "1"},
                            headers={"HX-Request": "true", "X-CSRFToken": hx_headers_token(page)})

    assert response.status_code == 200
    assert 'id="seat-panel"' in response.get_data(as_text=True)
    assert seats(demo.lyon, "essentials") == (6, 4)


def test_htmx_post_without_the_header_is_refused_and_changes_nothing(demo, browser, csrf_token_from, seats):
    log_in(browser, csrf_token_from)
    browser.get(f"/clients/{demo.acme.id}/sites/{demo.lyon.id}")

    response = browser.post(allocation_url(demo.lyon), data={"allocated": "5", "step": "1"},
                            headers={"HX-Request": "true"})

    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "<html" not in body and "Reload the page" in body  # an htmx-sized message
    assert seats(demo.lyon, "essentials") == (5, 4)


def test_a_token_from_another_session_is_refused(demo, csrf_app, browser, csrf_token_from, seats):
    other = log_in(csrf_app.test_client(), csrf_token_from, "operator@portal.example")
    foreign = hx_headers_token(other.get("/account").get_data(as_text=True))
    log_in(browser, csrf_token_from)

    response = browser.post(allocation_url(demo.lyon), data={"allocated": "9"},
                            headers={"HX-Request": "true", "X-CSRFToken": foreign})

    assert response.status_code == 400
    assert seats(demo.lyon, "essentials") == (5, 4)


@pytest.mark.parametrize("path", ["/logout", "/clients/{acme}/sync-seats", "/clients/{acme}/users/new"])
def test_every_form_post_needs_the_token(path, demo, browser, csrf_token_from, snapshot):
    log_in(browser, csrf_token_from, "admin@acme.example")
    before = snapshot()

    response = browser.post(path.format(acme=demo.acme.id), data={
        "name": "X", "email": "x@example.org", "site_id": demo.lyon.id, "subscription_type": "essentials"})

    assert response.status_code == 400
    assert "Reload the page" in response.get_data(as_text=True)  # the full error page, not a crash
    assert snapshot() == before
    assert browser.get("/account").status_code == 200  # logout without a token did not log out


def test_every_rendered_form_carries_the_token(demo, browser, csrf_token_from):
    log_in(browser, csrf_token_from, "finance@northwind.example")
    pages = [f"/clients/{demo.acme.id}", f"/clients/{demo.acme.id}/users/new",
             f"/clients/{demo.acme.id}/sites/{demo.lyon.id}",
             f"/clients/{demo.acme.id}/users/{demo.user('user1@acme.example').id}/deactivate"]
    for path in pages:
        html = browser.get(path).get_data(as_text=True)
        forms = re.findall(r"<form\b[^>]*>.*?</form>", html, re.S)
        posting = [form for form in forms if 'method="post"' in form]
        assert posting, path
        for form in posting:
            assert 'name="csrf_token"' in form, (path, form[:200])
