"""Issue 11, defect 13 (the smaller ones): what people type stays out of URLs, pages work without JavaScript.

- the new-user and bulk-invite forms refresh with a POST (``refresh=y``), never a GET carrying the
  CSRF token and what was typed; without JavaScript a "Show its seats" button does the same;
- accepting an invitation logs the new user in (two-step verification set up first when required);
- withdrawing a billing-cycle change and revoking an invitation ask first on a page of their own;
- a client with no site says so, with the way to add one (the site page's refusals: tests/blueprints/test_sites.py).
"""
import re
from urllib.parse import urlsplit

import pytest
from babel.dates import format_date
from sqlalchemy import func, select, update

from portal.domain.accounts import invitations, users
from portal.domain.billing import cycles
from portal.extensions import db
from portal.models import AuditEvent, LoginSession, Organisation, User
from tests.factories import ClientFactory, UserFactory
from tests.helpers import parse_html
from tests.i18n.test_screens import _data_words, _untranslated, pseudo_language, readable_text  # noqa: F401


def text_of(response) -> str:
    return response.get_data(as_text=True)


def new_user_url(client):
    return f"/clients/{client.id}/users/new"


def bulk_url(client):
    return f"/clients/{client.id}/users/bulk"


def submit_buttons(form):
    return [b for b in form.find_all("button") if b.attrs.get("type", "submit") == "submit"]


def flashed(page, category):
    return [p.text for p in page.find_all("p", class_=f"flash flash-{category}")]


# --- the forms' refresh: no secret and no personal data in a URL ------------------------------------------

@pytest.mark.parametrize(("url", "form_id"), [(new_user_url, "new-user-form"), (bulk_url, "bulk-invite-form")])
def test_nothing_on_the_user_forms_refreshes_with_a_get(url, form_id, demo, login_as):
    page = parse_html(text_of(login_as("admin@acme.example").get(url(demo.acme))))
    form = page.by_id(form_id)
    refreshing = [node for node in form.iter() if node.attrs.get("data-hx-post")]
    assert {node.attrs.get("name") or node.attrs.get("id") for node in refreshing} >= {"site_id"}
    for node in form.iter():
        assert not {"hx-get", "data-hx-get", "hx-include", "data-hx-include"} & set(node.attrs), node.attrs
    for node in refreshing:
        assert node.attrs["data-hx-vals"] == '{"refresh": "y"}'


def test_a_get_takes_only_the_site_and_the_type_from_its_url(demo, login_as):
    """Only those two may come from a URL: a link carrying a name or an address fills in nothing."""
    response = login_as("admin@acme.example").get(new_user_url(demo.acme), query_string={
        "name": "Leaked Name", "email": "leaked@example.org", "site_id": demo.paris.id,
        "subscription_type": "support"})
    assert response.status_code == 200
    form = parse_html(text_of(response)).by_id("new-user-form")
    assert "Leaked" not in text_of(response) and "leaked@example.org" not in text_of(response)
    assert "selected" in form.find("option", value=str(demo.paris.id)).attrs
    assert "checked" in form.find("input", value="support").attrs

    bulk = login_as("admin@acme.example").get(bulk_url(demo.acme), query_string={
        "emails": "leaked@example.org", "site_id": demo.paris.id})
    assert "leaked@example.org" not in text_of(bulk)
    assert parse_html(text_of(bulk)).by_id("free-seats").text.startswith("Free at Paris:")


def test_without_javascript_show_its_seats_refreshes_the_page_and_keeps_what_was_typed(demo, login_as, snapshot):
    browser = login_as("admin@acme.example")
    form = parse_html(text_of(browser.get(new_user_url(demo.acme)))).by_id("new-user-form")
    button = form.find("button", name="refresh")
    assert button.attrs["value"] == "y" and button.text == "Show its seats"
    before = snapshot()

    # What the browser posts when the button is pressed: the form, with the button's name and value.
    response = browser.post(new_user_url(demo.acme), data={
        "name": "Typed Name", "email": "typed@example.org", "site_id": str(demo.paris.id),
        "subscription_type": "essentials", "send_invitation": "later", "refresh": "y"})

    assert response.status_code == 200 and "<html" in text_of(response)
    assert snapshot() == before, "a refresh creates nothing"
    form = parse_html(text_of(response)).by_id("new-user-form")
    assert form.find("input", name="name").attrs["value"] == "Typed Name"
    assert form.find("input", name="email").attrs["value"] == "typed@example.org"
    assert "checked" in form.find("input", name="send_invitation", value="later").attrs
    assert "Subscription type at Paris" in form.text
    assert form.find(class_="field-error") is None, "a refresh is not a submission"


def test_a_refresh_with_nothing_typed_shows_no_error(demo, login_as):
    response = login_as("admin@acme.example").post(new_user_url(demo.acme), data={
        "site_id": str(demo.lyon.id), "refresh": "y"})
    assert response.status_code == 200
    assert parse_html(text_of(response)).by_id("new-user-form").find(class_="field-error") is None


@pytest.mark.parametrize(("who", "site", "primary"), [
    ("admin@acme.example", "lyon", ("Create and invite", None)),
    ("finance@northwind.example", "paris", ("Add a seat and create", "add_seat")),  # no free Essentials at Paris
    ("admin@acme.example", "paris", ("Request seats", "carry")),
])
def test_enter_in_a_field_presses_the_primary_button_not_show_its_seats(who, site, primary, demo, login_as):
    """The first submit button of a form is the one Enter presses: a hidden copy of the primary one."""
    response = login_as(who).post(new_user_url(demo.acme), data={
        "site_id": str(getattr(demo, site).id), "subscription_type": "essentials", "refresh": "y"})
    form = parse_html(text_of(response)).by_id("new-user-form")
    first, *others = submit_buttons(form)
    visible = next(b for b in others if "primary" in b.attrs.get("class", "").split())
    assert (first.text, first.attrs.get("name")) == (visible.text, visible.attrs.get("name")) == primary
    assert first.attrs.get("formaction") == visible.attrs.get("formaction")
    assert first.attrs["class"] == "sr-only" and first.attrs["tabindex"] == "-1"
    assert others.index(form.find("button", name="refresh")) < others.index(visible)


def test_bulk_invite_refreshes_without_javascript_and_keeps_the_addresses(demo, login_as, snapshot):
    browser = login_as("admin@acme.example")
    form = parse_html(text_of(browser.get(bulk_url(demo.acme)))).by_id("bulk-invite-form")
    first = submit_buttons(form)[0]
    assert first.text == "Invite everyone" and first.attrs.get("name") is None
    assert form.find("button", name="refresh").attrs["value"] == "y"
    before = snapshot()

    response = browser.post(bulk_url(demo.acme), data={
        "emails": "anna@example.org\nbruno@example.org", "site_id": str(demo.paris.id),
        "subscription_type": "support", "send_invitation": "now", "refresh": "y"})

    assert response.status_code == 200
    assert snapshot() == before
    form = parse_html(text_of(response)).by_id("bulk-invite-form")
    assert form.find("textarea", name="emails").text == "anna@example.org bruno@example.org"
    assert form.by_id("free-seats").text.startswith("Free at Paris:")
    assert form.find(class_="field-error") is None


def test_the_htmx_refresh_works_with_csrf_on_and_sends_the_token_in_the_body(demo, csrf_app, csrf_token_from):
    from portal.domain.demo import DEMO_PASSWORD

    browser = csrf_app.test_client()
    token = csrf_token_from(text_of(browser.get("/login")))
    browser.post("/login", data={"email": "admin@acme.example", "password": DEMO_PASSWORD, "csrf_token": token})
    page = text_of(browser.get(new_user_url(demo.acme)))
    token = csrf_token_from(page)

    response = browser.post(new_user_url(demo.acme), headers={"HX-Request": "true"}, data={
        "csrf_token": token, "name": "Typed", "email": "typed@example.org", "site_id": str(demo.paris.id),
        "refresh": "y"})
    assert response.status_code == 200
    assert 'value="Typed"' in text_of(response)
    refused = browser.post(new_user_url(demo.acme), headers={"HX-Request": "true"}, data={
        "site_id": str(demo.paris.id), "refresh": "y"})
    assert refused.status_code == 400  # a refresh is a POST like any other: no token, no answer


# --- accepting an invitation logs in --------------------------------------------------------------------

def invite(demo, email="ines@acme.example"):
    admin = demo.user("admin@acme.example")
    user = users.create_user(admin, demo.lyon, demo.type("essentials"), email, "Ines Invitee", send="later")
    return user, invitations.send_invitation(admin, user)


def logins_of(user_id) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "auth.login", AuditEvent.target_id == user_id))


def test_accepting_an_invitation_logs_the_new_user_in(demo, client):
    user, token = invite(demo)

    response = client.post(f"/invitations/{token}", data={"name": "Ines I.", "password": "a long enough password"})

    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/"
    home = client.get("/")
    assert home.status_code == 302 and urlsplit(home.headers["Location"]).path != "/login"
    account = client.get("/account")
    assert account.status_code == 200 and "Ines I." in text_of(account)
    assert flashed(parse_html(text_of(account)), "success") == ["Welcome! Your account is ready."]
    # The login session of the login form, listed on the account page, audited as a login.
    db.session.rollback()
    assert db.session.scalar(select(func.count(LoginSession.id)).where(LoginSession.user_id == user.id)) == 1
    assert logins_of(user.id) == 1
    assert client.get(f"/invitations/{token}").status_code == 409  # the link is single-use


def test_an_organisation_requiring_two_step_verification_sends_the_new_user_to_set_it_up(demo, client):
    db.session.execute(update(Organisation).where(Organisation.id == demo.acme.id).values(require_two_step=True))
    db.session.commit()
    _, token = invite(demo)

    response = client.post(f"/invitations/{token}", data={"name": "Ines I.", "password": "a long enough password"})

    assert response.status_code == 303 and urlsplit(response.headers["Location"]).path == "/account/two-step"
    page = client.get("/account/two-step")
    assert page.status_code == 200 and parse_html(text_of(page)).by_id("two-step-secret") is not None
    # As after a login: every other page sends them back there until they are enrolled.
    assert urlsplit(client.get("/account").headers["Location"]).path == "/account/two-step"


def test_a_user_whose_two_step_verification_is_on_gives_a_code_first(demo, client):
    """A user invited again who had turned it on: the password just chosen is the first step only."""
    user, token = invite(demo)
    db.session.execute(update(User).where(User.id == user.id).values(
        two_step_enabled_at=func.now(), two_step_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"))
    db.session.commit()

    response = client.post(f"/invitations/{token}", data={"name": "Ines I.", "password": "a long enough password"})

    assert response.status_code == 303 and urlsplit(response.headers["Location"]).path == "/login/two-step"
    assert urlsplit(client.get("/account").headers["Location"]).path == "/login"  # not logged in yet
    assert logins_of(user.id) == 0


def test_a_refused_password_logs_nobody_in(demo, client):
    user, token = invite(demo)
    response = client.post(f"/invitations/{token}", data={"name": "Ines I.", "password": "short"})
    assert response.status_code == 422
    assert urlsplit(client.get("/account").headers["Location"]).path == "/login"
    assert logins_of(user.id) == 0


# --- withdrawing a cycle change and revoking an invitation ask first, without JavaScript -----------------

def withdraw_url(client):
    return f"/clients/{client.id}/billing-cycle/withdraw"


def test_withdrawing_a_cycle_change_asks_first_without_javascript(demo, login_as):
    cycles.change_billing_cycle(demo.user("finance@northwind.example"), demo.acme, "annual")
    browser = login_as("finance@northwind.example")
    panel = parse_html(text_of(browser.get(f"/clients/{demo.acme.id}"))).by_id("billing-panel")

    control = panel.by_id("withdraw-cycle")
    assert control.tag == "a" and control.attrs["href"] == withdraw_url(demo.acme)  # no JavaScript: the page
    assert control.attrs["hx-post"] == f"/clients/{demo.acme.id}/billing-cycle"     # htmx: asks, then posts
    assert control.attrs["hx-vals"] == '{"billing_cycle": ""}' and control.attrs["hx-confirm"]
    assert not [form for form in panel.find_all("form") if form.find("input", name="billing_cycle", value="")]

    page = browser.get(withdraw_url(demo.acme))
    assert page.status_code == 200
    main = parse_html(text_of(page)).find("main")
    assert main.find("h1").text == "Withdraw the billing cycle change?"
    assert re.search(r"Acme Dental stays on monthly billing instead of changing to annual billing from \w+ \d+, \d{4}\.",
                     main.text), main.text
    form = main.find("form")
    assert form.attrs["method"] == "post" and form.attrs["action"] == f"/clients/{demo.acme.id}/billing-cycle"
    assert form.find("input", name="billing_cycle").attrs["value"] == ""
    db.session.rollback()
    assert db.session.get(Organisation, demo.acme.id).pending_billing_cycle == "annual", "asking changes nothing"

    done = browser.post(form.attrs["action"], data={"billing_cycle": ""})
    assert done.status_code == 303
    db.session.rollback()
    assert db.session.get(Organisation, demo.acme.id).pending_billing_cycle is None
    assert "Pending billing cycle change withdrawn." in text_of(browser.get(done.headers["Location"]))


def test_the_withdrawal_page_writes_its_date_as_the_language_does(demo, login_as):
    cycles.change_billing_cycle(demo.user("finance@northwind.example"), demo.acme, "annual")
    page = login_as("finance@northwind.example").get(withdraw_url(demo.acme), headers={"Accept-Language": "fr"})
    assert '<html lang="fr"' in text_of(page)
    db.session.rollback()
    day = db.session.get(Organisation, demo.acme.id).pending_effective_on
    assert day is not None
    assert format_date(day, "medium", locale="fr") in text_of(page)  # "1 déc. 2026", not "Dec 1, 2026"


def test_the_withdrawal_page_without_a_pending_change_goes_back_to_the_client(demo, login_as):
    browser = login_as("finance@northwind.example")
    response = browser.get(withdraw_url(demo.acme))
    assert response.status_code == 303 and response.headers["Location"] == f"/clients/{demo.acme.id}"
    assert flashed(parse_html(text_of(browser.get(response.headers["Location"]))), "error") == [
        "No billing cycle change is pending."]


@pytest.mark.parametrize(("who", "status"), [("admin@acme.example", 403), ("support@northwind.example", 403),
                                             ("admin@southwind.example", 404)])
def test_only_whom_may_change_the_cycle_gets_the_withdrawal_page(who, status, demo, login_as):
    cycles.change_billing_cycle(demo.user("finance@northwind.example"), demo.acme, "annual")
    assert login_as(who).get(withdraw_url(demo.acme)).status_code == status


def revoke_url(client, user):
    return f"/clients/{client.id}/invitations/{user.id}/revoke"


def test_revoking_an_invitation_asks_first_without_javascript(demo, login_as, seats):
    user, _ = invite(demo)
    browser = login_as("admin@acme.example")
    row = parse_html(text_of(browser.get(f"/clients/{demo.acme.id}"))).by_id(f"invitation-{user.id}")

    control = next(a for a in row.find_all("a") if a.attrs.get("hx-post") == revoke_url(demo.acme, user))
    assert control.attrs["href"] == revoke_url(demo.acme, user) and control.attrs["hx-confirm"]
    assert not [form for form in row.find_all("form") if form.attrs.get("action") == revoke_url(demo.acme, user)]

    page = browser.get(revoke_url(demo.acme, user))
    assert page.status_code == 200
    main = parse_html(text_of(page)).find("main")
    assert "Revoke the invitation of Ines Invitee?" in main.text
    assert "the Essentials seat at Lyon becomes free" in main.text
    form = main.find("form")
    assert form.attrs["method"] == "post" and form.attrs["action"] == revoke_url(demo.acme, user)
    assert seats(demo.lyon, "essentials") == (5, 5), "asking changes nothing"

    done = browser.post(form.attrs["action"])
    assert done.status_code == 303
    assert seats(demo.lyon, "essentials") == (5, 4)
    assert "was revoked" in text_of(browser.get(done.headers["Location"]))
    again = browser.get(revoke_url(demo.acme, user))
    assert again.status_code == 303
    assert flashed(parse_html(text_of(browser.get(again.headers["Location"]))), "error") == [
        "This invitation is no longer pending."]


@pytest.mark.parametrize(("who", "status"), [("accountant@acme.example", 403), ("admin@globex.example", 404),
                                             ("support@northwind.example", 403)])
def test_only_whom_may_revoke_gets_the_revocation_page(who, status, demo, login_as):
    user, _ = invite(demo)
    assert login_as(who).get(revoke_url(demo.acme, user)).status_code == status


def test_a_site_manager_gets_the_revocation_page_of_their_site_only(demo, login_as):
    """The page is refused as the revocation is: a user of another site is out of reach (rule 41b)."""
    lyon_invitee, _ = invite(demo)
    paris_invitee = users.create_user(demo.user("admin@acme.example"), demo.paris, demo.type("support"),
                                      "paris.person@acme.example", "Paris Person", send="later")
    frontdesk = login_as("frontdesk@acme.example")
    assert frontdesk.get(revoke_url(demo.acme, lyon_invitee)).status_code == 200
    assert frontdesk.get(revoke_url(demo.acme, paris_invitee)).status_code == 404
    assert frontdesk.post(revoke_url(demo.acme, paris_invitee)).status_code == 404


# --- a client without sites ---------------------------------------------------------------------------------

@pytest.fixture
def empty_co(demo):
    return ClientFactory(parent=demo.org("Northwind Telecom"), name="Empty Co")


@pytest.mark.parametrize(("url", "form_id"), [(new_user_url, "new-user-form"), (bulk_url, "bulk-invite-form")])
def test_a_client_without_sites_says_so_with_a_new_site_link_for_who_may_add_one(url, form_id, empty_co, login_as):
    form = parse_html(text_of(login_as("admin@northwind.example").get(url(empty_co)))).by_id(form_id)

    assert "Empty Co has no site yet" in form.text
    assert "You cannot" not in form.text
    link = form.by_id("no-site").find("a")
    assert (link.text, link.attrs["href"]) == ("New site", f"/clients/{empty_co.id}/sites/new")


@pytest.mark.parametrize(("url", "form_id"), [(new_user_url, "new-user-form"), (bulk_url, "bulk-invite-form")])
def test_a_client_admin_without_sites_is_told_whom_to_ask(url, form_id, demo, empty_co, login_as):
    UserFactory(organisation=empty_co, client_admin=True, email="admin@empty.example")

    form = parse_html(text_of(login_as("admin@empty.example").get(url(empty_co)))).by_id(form_id)

    notice = form.by_id("no-site")
    assert "Empty Co has no site yet" in notice.text
    assert f"/clients/{empty_co.id}/sites/new" not in str([a.attrs for a in notice.find_all("a")])
    # The partner's members who may add a site (partner admins): Nora Admin and Felix Finance.
    assert "Ask a partner administrator of Northwind Telecom" in notice.text
    assert re.search(r"Felix Finance \(finance@northwind\.example\) or Nora Admin \(admin@northwind\.example\)",
                     notice.text), notice.text


# --- every word of these new states goes through the catalogue (rule 37) -----------------------------------

def _states(demo, login_as, client):
    """(name, response) for each state of this file that tests/i18n/test_screens.py does not open."""
    empty = ClientFactory(parent=demo.org("Northwind Telecom"), name="Empty Co")
    UserFactory(organisation=empty, client_admin=True, email="admin@empty.example", name="Emma Empty")
    finance = login_as("finance@northwind.example")
    refused = finance.post(f"/clients/{demo.acme.id}/sites/{demo.lyon.id}/allocations/essentials",
                           data={"allocated": "1"})
    _, token = invite(demo)
    client.post(f"/invitations/{token}", data={"name": "Ines I.", "password": "a long enough password"})
    yield "refresh", login_as("admin@acme.example").post(new_user_url(demo.acme), data={
        "site_id": str(demo.paris.id), "subscription_type": "essentials", "refresh": "y"})
    yield "bulk refresh", login_as("admin@acme.example").post(bulk_url(demo.acme), data={
        "site_id": str(demo.paris.id), "subscription_type": "essentials", "refresh": "y"})
    yield "no site, partner admin", login_as("admin@northwind.example").get(new_user_url(empty))
    yield "no site, client admin", login_as("admin@empty.example").get(bulk_url(empty))
    yield "refused allocation", finance.get(refused.headers["Location"])
    yield "after accepting", client.get("/account")


@pytest.mark.usefixtures("pseudo_language")
def test_every_word_of_the_new_states_goes_through_the_catalogue(demo, login_as, client):
    for name, response in _states(demo, login_as, client):
        assert response.status_code == 200, name
        # "A (a@x) or B (b@x)": the "or" of a list is Babel's (CLDR), in the page's language, not the catalogue's.
        chunks = [re.sub(r"\) or ", ") ", chunk) for chunk in readable_text(text_of(response))]
        left = _untranslated(chunks, _data_words() + ["Emma Empty", "Ines I."])
        assert not left, f"{name}: not translatable: {left[:10]}"
