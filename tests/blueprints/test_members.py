"""The members and roles screen (roles.manage): list, give and take roles in place."""
import re

import pytest
from sqlalchemy import func, select, update

from portal.domain.demo import DEMO_PASSWORD
from portal.extensions import db
from portal.models import AuditEvent, RoleAssignment, User


def held(email) -> dict:
    """{role: [site ids]} as committed now."""
    db.session.rollback()
    rows = db.session.scalars(select(RoleAssignment).join(User).where(User.email == email)).all()
    return {row.role: sorted(site.id for site in row.sites) for row in rows}


def role_state():
    db.session.rollback()
    assignments = sorted((a.user_id, a.role, tuple(sorted(s.id for s in a.sites)))
                         for a in db.session.scalars(select(RoleAssignment)))
    events = db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action.like("role.%")))
    return assignments, events


def grant_data(member, role, *sites):
    prefix = f"member-{member.id}-"
    return {prefix + "role": role, prefix + "site_ids": [str(site.id) for site in sites]}


def test_the_list_shows_own_members_with_roles_and_site_restrictions(demo, login_as, html):
    page = html(login_as("admin@acme.example").get("/members"))

    frontdesk = page.by_id(f"member-{demo.user('frontdesk@acme.example').id}")
    assert "Site manager (only Lyon)" in frontdesk.text
    assert "Client admin" in page.by_id(f"member-{demo.user('admin@acme.example').id}").text
    assert "No role" in page.by_id(f"member-{demo.user('user1@acme.example').id}").text
    assert "globex" not in page.text.lower() and "northwind.example" not in page.text
    assert "12 members" in page.text
    # The select offers only roles the caller may give: a client admin lacks billing.view (accountant).
    options = [o.attrs["value"] for o in frontdesk.find("select", id=f"member-{frontdesk.attrs['id'][7:]}-role")
               .find_all("option")]
    assert options == ["", "client_admin", "site_manager", "accountant", "member"]  # the empty option first (15e)
    # Sites are checkboxes (issue 11, defect 6), labelled with the site's name.
    boxes = frontdesk.find_all("input", type="checkbox")
    assert {frontdesk.find("label", **{"for": box.attrs["id"]}).text for box in boxes} == {"Lyon", "Paris"}


def test_the_list_is_searchable_and_paginated(demo, login_as, html, app, monkeypatch, assert_fragment):
    admin = login_as("admin@acme.example")
    fragment = assert_fragment(admin.hx_get("/members?q=FRONT"), "member-list")
    assert "1 member" in fragment.text and "Fanny Frontdesk" in fragment.text

    monkeypatch.setitem(app.config, "USERS_PER_PAGE", 5)
    first = html(admin.get("/members"))
    third = html(admin.get("/members?page=3"))
    assert "Page 1 of 3" in first.text and "Page 3 of 3" in third.text
    first_ids = {row.attrs["id"] for row in first.find_all("tr") if row.attrs.get("id", "").startswith("member-")}
    third_ids = {row.attrs["id"] for row in third.find_all("tr") if row.attrs.get("id", "").startswith("member-")}
    assert len(first_ids) == 5 and len(third_ids) == 2 and not first_ids & third_ids
    assert admin.get("/members?page=abc").status_code == 200


@pytest.mark.parametrize(("q", "found"), [("y_f", True), ("yf", False), ("%", False)])
def test_member_search_takes_wildcard_characters_literally(q, found, demo, login_as, assert_fragment):
    db.session.execute(update(User).where(User.email == "frontdesk@acme.example")
                       .values(name="Fanny_Frontdesk"))
    db.session.commit()

    fragment = assert_fragment(login_as("admin@acme.example").hx_get("/members", query_string={"q": q}),
                               "member-list")

    assert ("Fanny_Frontdesk" in fragment.text) is found


def test_granting_with_htmx_swaps_the_row_in_place(demo, login_as, assert_fragment):
    member = demo.user("user1@acme.example")
    paris = demo.paris

    response = login_as("admin@acme.example").hx_post(
        f"/members/{member.id}/roles", data=grant_data(member, "site_manager", paris))

    row = assert_fragment(response, f"member-{member.id}")
    assert "Site manager (only Paris)" in row.text and "now holds the Site manager role" in row.text
    assert held("user1@acme.example") == {"site_manager": [paris.id]}


def test_granting_without_javascript_redirects_back_to_the_list(demo, login_as):
    member = demo.user("user2@acme.example")
    admin = login_as("admin@acme.example")

    response = admin.post(f"/members/{member.id}/roles?q=user", data=grant_data(member, "member"))

    assert response.status_code == 303 and response.headers["Location"].endswith("/members?q=user")
    assert "now holds the Member role" in admin.get("/members?q=user").get_data(as_text=True)
    assert held("user2@acme.example") == {"member": []}


def test_members_of_another_client_are_not_found(demo, login_as):
    globex_user = demo.user("user1@globex.example")
    globex_admin = demo.user("admin@globex.example")
    admin = login_as("admin@acme.example")
    before = role_state()

    assert admin.post(f"/members/{globex_user.id}/roles", data=grant_data(globex_user, "member")).status_code == 404
    assert admin.hx_post(f"/members/{globex_user.id}/roles",
                         data=grant_data(globex_user, "member")).status_code == 404
    assert admin.get(f"/members/{globex_admin.id}/roles/client_admin/revoke").status_code == 404
    assert admin.post(f"/members/{globex_admin.id}/roles/client_admin/revoke").status_code == 404
    assert admin.post("/members/999999/roles", data={}).status_code == 404
    assert role_state() == before


@pytest.mark.parametrize("email", ["frontdesk@acme.example", "accountant@acme.example", "support@northwind.example"])
def test_callers_without_roles_manage_are_refused(demo, login_as, email):
    member = demo.user("user1@acme.example")
    caller = login_as(email)
    before = role_state()

    assert caller.get("/members").status_code == 403
    assert caller.post(f"/members/{member.id}/roles", data=grant_data(member, "member")).status_code == 403
    assert caller.post(f"/members/{demo.user('frontdesk@acme.example').id}/roles/site_manager/revoke"
                       ).status_code == 403
    assert role_state() == before


def test_anonymous_callers_are_sent_to_login(demo, client):
    assert client.get("/members").headers["Location"].startswith("/login")
    assert client.hx_get("/members").headers["HX-Redirect"].startswith("/login")


@pytest.mark.parametrize(("role", "sites", "status", "message"), [
    ("no_such_role", (), 422, "Choose one of the roles of your organisation."),
    ("partner_admin", (), 422, "Choose one of the roles of your organisation."),
    ("client_admin", ("lyon",), 422, "cannot be limited to sites"),
    ("site_manager", ("globex",), 422, "Choose sites of Acme Dental only."),
])
def test_refused_grants_write_nothing_and_say_why(demo, login_as, role, sites, status, message):
    member = demo.user("user1@acme.example")
    chosen = {"lyon": demo.lyon, "globex": demo.site("Globex Clinic", "Main")}
    data = grant_data(member, role, *(chosen[name] for name in sites))
    admin = login_as("admin@acme.example")
    before = role_state()

    fragment = admin.hx_post(f"/members/{member.id}/roles", data=data)
    page = admin.post(f"/members/{member.id}/roles", data=data)

    assert fragment.status_code == status and message in fragment.get_data(as_text=True)
    assert page.status_code == status and message in page.get_data(as_text=True)
    assert "<html" in page.get_data(as_text=True)  # without JavaScript: the whole list again, with the error
    assert role_state() == before


def test_malformed_site_ids_are_a_422(demo, login_as):
    member = demo.user("user1@acme.example")
    data = {f"member-{member.id}-role": "site_manager", f"member-{member.id}-site_ids": ["x"]}
    before = role_state()
    assert login_as("admin@acme.example").hx_post(f"/members/{member.id}/roles", data=data).status_code == 422
    assert role_state() == before


def test_the_last_client_admin_cannot_be_removed_and_the_row_says_so(demo, login_as, assert_fragment):
    admin_user = demo.user("admin@acme.example")
    before = role_state()

    response = login_as("admin@acme.example").hx_post(f"/members/{admin_user.id}/roles/client_admin/revoke")

    row = assert_fragment(response, f"member-{admin_user.id}", status=409)
    assert "last active Client admin of Acme Dental" in row.text
    assert role_state() == before


def test_revoking_asks_for_confirmation_without_javascript(demo, login_as, html):
    frontdesk = demo.user("frontdesk@acme.example")
    admin = login_as("admin@acme.example")
    url = f"/members/{frontdesk.id}/roles/site_manager/revoke"

    confirm = admin.get(url)
    assert confirm.status_code == 200
    assert "Take the Site manager role away from Fanny Frontdesk?" in confirm.get_data(as_text=True)
    assert "they will see only “no access yet”" in confirm.get_data(as_text=True)
    link = html(admin.get("/members")).by_id(f"member-{frontdesk.id}").find("a", href=url)
    assert link.attrs["hx-post"] == url and "hx-confirm" in link.attrs

    response = admin.post(url)
    assert response.status_code == 303
    assert held("frontdesk@acme.example") == {}
    assert admin.get(url).status_code == 404  # no longer held


def test_a_user_whose_roles_are_all_taken_sees_only_the_no_access_page(demo, login_as, assert_fragment):
    frontdesk = demo.user("frontdesk@acme.example")
    assert login_as("frontdesk@acme.example").get("/").headers["Location"] != "/no-access"

    row = assert_fragment(login_as("admin@acme.example").hx_post(
        f"/members/{frontdesk.id}/roles/site_manager/revoke"), f"member-{frontdesk.id}")
    assert "no access yet" in row.text

    roleless = login_as("frontdesk@acme.example")
    assert roleless.get("/").headers["Location"].endswith("/no-access")
    assert "You have no access yet" in roleless.get("/no-access").get_data(as_text=True)
    for path in ("/members", "/audit", f"/clients/{demo.acme.id}", "/invoices", "/operator/catalogue"):
        assert roleless.get(path).headers["Location"].endswith("/no-access"), path


def test_a_partner_admin_manages_only_its_own_staff(demo, login_as, html):
    page = html(login_as("finance@northwind.example").get("/members"))
    assert "3 members" in page.text and "acme.example" not in page.text
    support = demo.user("support@northwind.example")
    row = page.by_id(f"member-{support.id}")
    assert [o.attrs["value"] for o in row.find_all("option")] == ["", "partner_admin", "finance", "partner_support"]
    assert row.find("select", multiple=True) is None  # partners have no sites
    # admin@northwind lacks billing rights: it cannot take finance away from its colleague.
    nw_admin_page = html(login_as("admin@northwind.example").get("/members"))
    finance_row = nw_admin_page.by_id(f"member-{demo.user('finance@northwind.example').id}")
    assert "Remove Finance" not in finance_row.text and "Remove Partner admin" in finance_row.text


def test_nav_links_follow_permissions(demo, login_as):
    def nav(email):
        body = login_as(email).get("/account").get_data(as_text=True)
        return re.search(r'<nav aria-label="Main">(.*?)</nav>', body, re.S).group(1)

    assert "Members" in nav("admin@acme.example") and "Audit log" in nav("admin@acme.example")
    assert "Operator" not in nav("admin@acme.example")
    assert "Members" not in nav("frontdesk@acme.example") and "Audit log" not in nav("accountant@acme.example")
    assert all(link in nav("operator@portal.example") for link in ("Members", "Audit log", "Operator"))


# --- CSRF on: the grant form carries its token, htmx sends the header ------------------

def test_grants_need_the_csrf_token_from_the_form_or_the_htmx_header(demo, csrf_app, csrf_token_from):
    browser = csrf_app.test_client()
    token = csrf_token_from(browser.get("/login").get_data(as_text=True))
    browser.post("/login", data={"email": "admin@acme.example", "password": DEMO_PASSWORD, "csrf_token": token})
    member = demo.user("user1@acme.example")
    page = browser.get("/members").get_data(as_text=True)
    data = grant_data(member, "member")

    assert browser.post(f"/members/{member.id}/roles", data=data).status_code == 400
    assert held("user1@acme.example") == {}

    form_token = re.search(rf'name="member-{member.id}-csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert browser.post(f"/members/{member.id}/roles",
                        data={**data, f"member-{member.id}-csrf_token": form_token}).status_code == 303
    header = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    assert browser.post(f"/members/{member.id}/roles/member/revoke",
                        headers={"HX-Request": "true", "X-CSRFToken": header}).status_code == 200
    assert held("user1@acme.example") == {}
