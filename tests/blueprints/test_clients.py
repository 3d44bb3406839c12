"""The client screen: sites and users, seat synchronisation, new user, deactivation.

docs/rules.md rules 1, 2, 5, 7, 20 and section 5 (Client, New user).
"""
import pytest
from sqlalchemy import select, update

from portal.domain.accounts import grants
from portal.domain.seats import allocations
from portal.extensions import db
from portal.models import Allocation, SubscriptionType, User
from portal.rbac import permissions


def detail_url(client):
    return f"/clients/{client.id}"


def new_user_url(client):
    return f"/clients/{client.id}/users/new"


def deactivate_url(client, user):
    return f"/clients/{client.id}/users/{user.id}/deactivate"


def rows(page, container_id, prefix):
    container = page.by_id(container_id) if container_id else page
    return [row for row in container.find_all("tr") if row.attrs.get("id", "").startswith(prefix)]


def site_names(page):
    return [row.cells()[0] for row in rows(page, None, "site-")]


def user_emails(page):
    return [row.cells()[1] for row in rows(page, "user-list", "user-")]


def free_seats(page):
    """{code: "n free of m"} as the new-user form shows them."""
    return {span.attrs["id"].removeprefix("free-"): span.text
            for span in page.by_id("new-user-form").find_all("span") if span.attrs.get("id", "").startswith("free-")}


def create_form(site, code="essentials", email="new.person@example.org", name="New Person", **extra):
    return {"name": name, "email": email, "site_id": str(site.id), "subscription_type": code, **extra}


def holders(site):
    return db.session.scalars(select(User).where(User.site_id == site.id).order_by(User.id)).all()


# --- the client page -------------------------------------------------------------

def test_client_page_lists_sites_with_seats_and_users(demo, login_as, html):
    response = login_as("admin@acme.example").get(detail_url(demo.acme))

    assert response.status_code == 200
    page = html(response)
    assert site_names(page) == ["Lyon", "Paris"]
    lyon = page.by_id(f"site-{demo.lyon.id}").cells()
    assert lyon[1] == "Essentials 4/5, Unlimited 2/2"
    assert lyon[2:4] == ["7", "6"]
    emails = user_emails(page)
    assert len(emails) == 12 and "12 users" in page.by_id("user-list").text
    assert {"admin@acme.example", "frontdesk@acme.example", "user1@acme.example", "user9@acme.example"} <= set(emails)
    assert not any(email.endswith("@globex.example") for email in emails)
    assert page.find("a", href=new_user_url(demo.acme)) is not None


def test_site_manager_sees_only_their_site_and_its_users(demo, login_as, html):
    browser = login_as("frontdesk@acme.example")

    page = html(browser.get(detail_url(demo.acme)))

    assert site_names(page) == ["Lyon"]
    lyon_holders = {user.email for user in holders(demo.lyon)}
    assert set(user_emails(page)) == lyon_holders and len(lyon_holders) == 6
    assert page.by_id("sync-panel") is None  # no subscriptions.view
    paris_user = holders(demo.paris)[0]
    search = html(browser.get(detail_url(demo.acme), query_string={"q": paris_user.email}))
    assert user_emails(search) == []


def test_user_search_returns_the_list_fragment_to_htmx(demo, login_as, assert_fragment):
    response = login_as("admin@acme.example").hx_get(detail_url(demo.acme), query_string={"q": "FRONTDESK"})

    fragment = assert_fragment(response, "user-list")
    assert [row.cells()[1] for row in fragment.find_all("tr") if row.attrs.get("id", "").startswith("user-")] == [
        "frontdesk@acme.example"]


@pytest.mark.parametrize(("q", "found"), [
    ("t_d", True),  # an underscore is a character, not "any character"
    ("td", False),
    ("t%", False),  # nor is a percent sign "anything"
])
def test_user_search_takes_wildcard_characters_literally(q, found, demo, login_as, html):
    db.session.execute(update(User).where(User.email == "frontdesk@acme.example")
                       .values(email="front_desk@acme.example", name="Fanny Reception"))
    db.session.commit()

    page = html(login_as("admin@acme.example").get(detail_url(demo.acme), query_string={"q": q}))

    assert user_emails(page) == (["front_desk@acme.example"] if found else [])


def test_client_admin_sees_the_per_type_totals(demo, login_as, html):
    page = html(login_as("admin@acme.example").get(detail_url(demo.acme)))

    totals = {row.attrs["id"]: row.cells()[1:4] for row in page.find_all("tr")
              if row.attrs.get("id", "").startswith("total-")}
    assert totals == {"total-essentials": ["8", "7", "1"], "total-unlimited": ["2", "2", "0"],
                      "total-support": ["2", "0", "2"]}


# --- synchronise consumed seats -------------------------------------------------

def sync_url(client):
    return f"/clients/{client.id}/sync-seats"


def test_sync_says_nothing_changed_when_counters_are_right(demo, login_as, html, seats):
    browser = login_as("admin@acme.example")
    assert "never" in html(browser.get(detail_url(demo.acme))).by_id("sync-panel").text

    response = browser.post(sync_url(demo.acme))

    assert response.status_code == 200
    panel = html(response).by_id("sync-panel")
    assert "nothing changed" in panel.text
    assert "never" not in panel.text and panel.find("time") is not None
    assert seats(demo.lyon, "essentials") == (5, 4)


def corrupt(site, code, consumed):
    """Make a counter drift, as a bug or a manual edit would."""
    type_id = db.session.scalar(select(SubscriptionType.id).where(SubscriptionType.code == code))
    db.session.execute(update(Allocation).where(Allocation.site_id == site.id, Allocation.subscription_type_id == type_id)
                       .values(consumed=consumed))
    db.session.commit()


def test_sync_fixes_a_drifted_counter_and_shows_the_change(demo, login_as, html, seats):
    corrupt(demo.lyon, "essentials", 1)
    browser = login_as("admin@acme.example")

    response = browser.post(sync_url(demo.acme))

    assert response.status_code == 200
    changes = [item.text for item in html(response).by_id("sync-panel").find_all("li")]
    assert changes == ["Lyon · essentials: consumed 1 → 4"]
    assert seats(demo.lyon, "essentials") == (5, 4)
    again = html(browser.post(sync_url(demo.acme))).by_id("sync-panel")
    assert "nothing changed" in again.text


def test_sync_over_htmx_returns_the_panel_with_the_changes(demo, login_as, assert_fragment, seats):
    corrupt(demo.paris, "essentials", 0)

    response = login_as("support@northwind.example").hx_post(sync_url(demo.acme))

    panel = assert_fragment(response, "sync-panel")
    assert [item.text for item in panel.find_all("li")] == ["Paris · essentials: consumed 0 → 3"]
    assert seats(demo.paris, "essentials") == (3, 3)


# --- the new user form ------------------------------------------------------------

def test_new_user_form_shows_the_free_seats_of_each_type_at_the_site(demo, login_as, html):
    page = html(login_as("admin@acme.example").get(new_user_url(demo.acme)))

    options = [option.text for option in page.find("select", name="site_id").find_all("option")]
    assert options == ["Lyon", "Paris"]
    # Support has nothing allocated at Lyon: not offered to a client admin, who cannot add seats (issue 11, defect 9).
    assert free_seats(page) == {"essentials": "1 free of 5", "unlimited": "0 free of 2"}


def refresh(browser, url, **form):
    """What htmx sends when the site or the type changes: the whole form, posted, flagged ``refresh=y``."""
    return browser.hx_post(url, data={"refresh": "y", **form})


def test_the_site_select_refreshes_the_form_over_htmx(demo, login_as, html):
    page = html(login_as("admin@acme.example").get(new_user_url(demo.acme)))

    select_ = page.find("select", name="site_id")
    attrs = {key.removeprefix("data-"): value for key, value in select_.attrs.items()}
    # A POST: the typed name and e-mail and the CSRF token stay out of the URL (issue 11, defect 13).
    assert attrs.get("hx-post") == new_user_url(demo.acme) and "hx-get" not in attrs
    assert attrs.get("hx-vals") == '{"refresh": "y"}'
    assert attrs.get("hx-trigger") == "change"
    assert attrs.get("hx-target") == "#new-user-form"


def test_changing_the_site_shows_that_sites_free_seats(demo, login_as, assert_fragment, snapshot):
    before = snapshot()
    response = refresh(login_as("admin@acme.example"), new_user_url(demo.acme), name="Typed Name",
                       email="typed@example.org", site_id=demo.paris.id, subscription_type="support")

    assert snapshot() == before, "a refresh creates nothing"
    form = assert_fragment(response, "new-user-form")
    assert free_seats(form.parent) == {"essentials": "0 free of 3", "support": "2 free of 2"}
    assert "Subscription type at Paris" in form.text
    assert form.find("input", name="name").attrs["value"] == "Typed Name"
    assert "selected" in form.find("option", value=str(demo.paris.id)).attrs
    assert "checked" in form.find("input", value="support").attrs
    assert form.find(class_="field-error") is None, "a refresh is not a submission"


def test_site_manager_can_only_pick_their_site(demo, login_as, html, assert_fragment):
    browser = login_as("frontdesk@acme.example")

    page = html(browser.get(new_user_url(demo.acme)))
    assert [o.text for o in page.find("select", name="site_id").find_all("option")] == ["Lyon"]

    refreshed = assert_fragment(refresh(browser, new_user_url(demo.acme), site_id=demo.paris.id), "new-user-form")
    assert free_seats(refreshed.parent)["essentials"] == "1 free of 5"  # Lyon's, not Paris's 0 of 3
    assert "Paris" not in refreshed.text


def test_creating_a_user_with_a_free_seat_invites_them_and_takes_the_seat(demo, login_as, seats, fresh):
    browser = login_as("admin@acme.example")

    response = browser.post(new_user_url(demo.acme), data=create_form(demo.lyon, email="New.Person@Example.org"))

    assert response.status_code == 302
    assert response.headers["Location"] == detail_url(demo.acme)
    fresh()
    user = demo.user("new.person@example.org")
    assert (user.status, user.organisation_id, user.site_id, user.subscription_type.code) == (
        "invited", demo.acme.id, demo.lyon.id, "essentials")
    assert seats(demo.lyon, "essentials") == (5, 5)
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "New Person was created and invited" in page


def test_no_free_seat_refuses_and_says_how_many_are_free(demo, login_as, html, snapshot):
    before = snapshot()

    response = login_as("admin@acme.example").post(new_user_url(demo.acme), data=create_form(demo.paris))

    assert response.status_code == 409
    page = html(response)
    # Said once, in the notice (issue 11, defect 9), not again under the field.
    assert "No free Essentials seat at Paris (0 free)." in page.by_id("no-seat").text
    assert "0 free of 3" in page.by_id("seat-choice").text
    assert page.by_id("new-user-form").text.count("Ask a finance administrator") == 1
    assert page.find("button", name="add_seat") is None
    assert snapshot() == before


def test_partner_admin_without_seat_management_is_told_to_ask_finance(demo, login_as, html, snapshot):
    before = snapshot()

    response = login_as("admin@northwind.example").post(new_user_url(demo.acme), data=create_form(demo.paris))

    assert response.status_code == 409
    page = html(response)
    assert "0 free" in page.by_id("new-user-form").text
    assert "Ask a finance administrator" in page.by_id("new-user-form").text
    assert page.find("button", name="add_seat") is None
    assert snapshot() == before


def test_finance_can_add_a_seat_and_create_in_one_step(demo, login_as, html, seats, snapshot, fresh):
    browser = login_as("finance@northwind.example")
    before = snapshot()

    refused = browser.post(new_user_url(demo.acme), data=create_form(demo.paris))

    assert refused.status_code == 409
    button = html(refused).find("button", name="add_seat")
    assert button is not None and button.text == "Add a seat and create"
    assert snapshot() == before

    response = browser.post(new_user_url(demo.acme), data=create_form(demo.paris, add_seat=button.attrs["value"]))

    assert response.status_code == 302
    assert seats(demo.paris, "essentials") == (4, 4)
    fresh()
    assert demo.user("new.person@example.org").site_id == demo.paris.id


def test_add_seat_without_seat_management_is_refused(demo, login_as, snapshot):
    """A client admin who forges add_seat=y gets no seat bought."""
    before = snapshot()

    response = login_as("admin@acme.example").post(new_user_url(demo.acme), data=create_form(demo.paris, add_seat="y"))

    assert response.status_code == 403
    assert snapshot() == before


BAD_INPUT = [
    ("unknown-type", "admin@acme.example", lambda d: create_form(d.lyon, code="platinum"), 422),
    ("no-type", "admin@acme.example", lambda d: {k: v for k, v in create_form(d.lyon).items() if k != "subscription_type"}, 422),
    ("site-of-another-client", "admin@acme.example", lambda d: create_form(d.site("Globex Clinic", "Main"), code="unlimited"), 422),
    ("site-of-another-partner", "finance@northwind.example", lambda d: create_form(d.site("Initech Vet", "Berlin")), 422),
    ("site-outside-a-managers-reach", "frontdesk@acme.example", lambda d: create_form(d.paris, code="support"), 422),
    ("site-not-a-number", "admin@acme.example", lambda d: {**create_form(d.lyon), "site_id": "lyon"}, 422),
    ("duplicate-email", "admin@acme.example", lambda d: create_form(d.lyon, email="user1@acme.example"), 409),
    ("duplicate-email-other-case", "admin@acme.example", lambda d: create_form(d.lyon, email=" USER1@Acme.Example "), 409),
    ("duplicate-email-of-another-tenant", "admin@acme.example", lambda d: create_form(d.lyon, email="admin@initech.example"), 409),
    ("malformed-email", "admin@acme.example", lambda d: create_form(d.lyon, email="not-an-email"), 422),
    ("email-without-domain-dot", "admin@acme.example", lambda d: create_form(d.lyon, email="x@localhost"), 422),
    ("two-emails", "admin@acme.example", lambda d: create_form(d.lyon, email="a@example.org, b@example.org"), 422),
    ("email-header-injection", "admin@acme.example", lambda d: create_form(d.lyon, email="a@example.org\nBcc: b@example.org"), 422),
    ("name-with-newline", "admin@acme.example", lambda d: create_form(d.lyon, name="Eve\nAdmin"), 422),
    ("name-with-control-character", "admin@acme.example", lambda d: create_form(d.lyon, name="Eve\x00"), 422),
    ("blank-name", "admin@acme.example", lambda d: create_form(d.lyon, name="   "), 422),
    ("name-too-long", "admin@acme.example", lambda d: create_form(d.lyon, name="x" * 201), 422),
]


@pytest.mark.parametrize(("case", "email", "form", "status"), BAD_INPUT, ids=[case[0] for case in BAD_INPUT])
def test_bad_new_user_input_is_refused_and_writes_nothing(case, email, form, status, demo, login_as, html, snapshot):
    before = snapshot()

    response = login_as(email).post(new_user_url(demo.acme), data=form(demo))

    assert response.status_code == status
    page = html(response)
    assert page.by_id("new-user-form") is not None, "the form comes back to be corrected"
    assert page.find(class_="field-error") is not None, "with a message next to the field"
    assert snapshot() == before


def test_names_are_shown_as_text_not_markup(demo, login_as):
    browser = login_as("admin@acme.example")
    browser.post(new_user_url(demo.acme), data=create_form(demo.lyon, name="<script>alert(1)</script>"))

    body = browser.get(detail_url(demo.acme)).get_data(as_text=True)

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<script>alert(1)" not in body


# --- deactivation ------------------------------------------------------------------

def test_deactivate_asks_for_confirmation_first(demo, login_as, html, seats, fresh):
    user = holders(demo.lyon)[0]

    response = login_as("admin@acme.example").get(deactivate_url(demo.acme, user))

    assert response.status_code == 200
    page = html(response)
    assert page.find("h1").text == f"Deactivate {user.name}?"
    assert "seat at Lyon becomes free" in page.text
    form = page.find("main").find("form", method="post")
    assert form is not None and form.find("button").text == "Deactivate"
    assert form.attrs.get("action", deactivate_url(demo.acme, user)) == deactivate_url(demo.acme, user)
    fresh()
    assert demo.user(user.email).status == "active"
    assert seats(demo.lyon, "essentials") == (5, 4)


def test_deactivating_frees_the_seat_at_once(demo, login_as, seats, fresh):
    user = holders(demo.lyon)[0]
    browser = login_as("admin@acme.example")

    response = browser.post(deactivate_url(demo.acme, user))

    assert response.status_code == 303
    assert response.headers["Location"] == detail_url(demo.acme)
    fresh()
    assert demo.user(user.email).status == "deactivated"
    assert seats(demo.lyon, "essentials") == (5, 3)
    assert f"{user.name} was deactivated" in browser.get(detail_url(demo.acme)).get_data(as_text=True)


def test_deactivating_twice_frees_the_seat_only_once(demo, login_as, seats):
    user = holders(demo.lyon)[0]
    browser = login_as("admin@acme.example")
    browser.post(deactivate_url(demo.acme, user))

    again = browser.post(deactivate_url(demo.acme, user))

    assert again.status_code == 409
    assert "already deactivated" in again.get_data(as_text=True)
    assert seats(demo.lyon, "essentials") == (5, 3)


def test_nobody_can_deactivate_their_own_account(demo, login_as, html, fresh):
    admin = demo.user("admin@acme.example")
    browser = login_as("admin@acme.example")

    row = html(browser.get(detail_url(demo.acme))).by_id(f"user-{admin.id}")
    assert "Deactivate" not in row.text, "no button on one's own row"

    response = browser.post(deactivate_url(demo.acme, admin))

    assert response.status_code == 409
    assert "You cannot deactivate your own account." in response.get_data(as_text=True)
    fresh()
    assert demo.user("admin@acme.example").status == "active"
    assert browser.get("/account").status_code == 200


def test_htmx_deactivation_returns_the_updated_row(demo, login_as, assert_fragment, seats):
    user = holders(demo.lyon)[0]

    response = login_as("frontdesk@acme.example").hx_post(deactivate_url(demo.acme, user))

    row = assert_fragment(response, f"user-{user.id}")
    assert "Deactivated" in row.text
    assert row.find("a", class_="button danger") is None
    assert seats(demo.lyon, "essentials") == (5, 3)


def test_htmx_self_deactivation_returns_the_row_with_the_refusal(demo, login_as, assert_fragment, fresh):
    admin = demo.user("admin@acme.example")

    response = login_as("admin@acme.example").hx_post(deactivate_url(demo.acme, admin))

    row = assert_fragment(response, f"user-{admin.id}", status=409)
    assert "You cannot deactivate your own account." in row.text
    fresh()
    assert demo.user("admin@acme.example").status == "active"


# --- what the page reads -------------------------------------------------------

def test_the_page_reads_the_allocations_once_for_sites_totals_and_next_invoice(demo, login_as, html, statements):
    """Issue 17: at most eight statements. The partner's finance sees the sites, the totals per type and the next
    invoice, all from one read of the client's allocations; the totals are those the client's admin is shown."""
    browser, url = login_as("finance@northwind.example"), detail_url(demo.acme)
    browser.get(url)  # the first visit of a login touches its session: not the page's cost
    statements.clear()

    page = html(browser.get(url))

    assert page.by_id("next-invoice-total") is not None and site_names(page) == ["Lyon", "Paris"]
    totals = {row.attrs["id"]: row.cells()[1:4] for row in page.find_all("tr")
              if row.attrs.get("id", "").startswith("total-")}
    assert totals == {"total-essentials": ["8", "7", "1"], "total-unlimited": ["2", "2", "0"],
                      "total-support": ["2", "0", "2"]}
    assert len([s for s in statements if "allocations" in s]) == 1, statements
    assert len(statements) <= 8, "\n".join(s[:150] for s in statements)


def test_a_site_manager_sees_the_pending_invitations_of_their_site_only(demo, login_as, html):
    """The invitations list narrows to the sites a site-limited role manages (rule 41b); the client's admin sees all."""
    finance, essentials = demo.user("finance@northwind.example"), demo.type("essentials")
    for site in (demo.lyon, demo.paris):
        allocated = db.session.scalar(select(Allocation.allocated).where(
            Allocation.site_id == site.id, Allocation.subscription_type_id == essentials.id)) or 0
        allocations.set_allocation(finance, site, essentials, allocated + 1)
    admin = login_as("admin@acme.example")
    for site, email in ((demo.lyon, "lea.lyon@acme.example"), (demo.paris, "paul.paris@acme.example")):
        assert admin.post(new_user_url(demo.acme), data=create_form(site, email=email)).status_code == 302
    invited = {demo.user(email).id: email for email in ("lea.lyon@acme.example", "paul.paris@acme.example")}

    def shown(browser):
        section = html(browser.get(detail_url(demo.acme))).by_id("invitations")
        return {invited[int(row.attrs["id"].removeprefix("invitation-"))] for row in section.find_all("tr")
                if row.attrs.get("id", "").startswith("invitation-") and
                int(row.attrs["id"].removeprefix("invitation-")) in invited}

    assert shown(admin) == {"lea.lyon@acme.example", "paul.paris@acme.example"}
    assert shown(login_as("frontdesk@acme.example")) == {"lea.lyon@acme.example"}


@pytest.mark.parametrize("viewer", ["finance@northwind.example", "admin@northwind.example", "admin@acme.example",
                                    "frontdesk@acme.example"])
def test_the_buttons_of_each_user_and_invitation_follow_who_may_manage_them(viewer, demo, login_as, html):
    """Nobody manages up (rule 41b), row by row, whether the page read each user's roles or knew the caller
    outranks every client role (finance and the client admin: ``manage_every_user_of``; the partner admin
    alone lacks billing.view and subscriptions.view, the site manager holds Lyon only)."""
    finance, essentials = demo.user("finance@northwind.example"), demo.type("essentials")
    allocations.set_allocation(finance, demo.lyon, essentials, 6)
    admin = login_as("admin@acme.example")
    assert admin.post(new_user_url(demo.acme), data=create_form(demo.lyon, email="ann.lyon@acme.example")).status_code == 302
    grants.grant_role(demo.user("admin@acme.example"), demo.user("ann.lyon@acme.example"), "accountant")
    actor = demo.user(viewer)
    page = html(login_as(viewer).get(detail_url(demo.acme)))

    def with_button(container_id, prefix, label):
        return {int(row.attrs["id"].removeprefix(prefix)) for row in rows(page, container_id, prefix)
                if any(label in link.text for link in row.find_all("a"))}

    users = list(db.session.scalars(select(User).where(User.organisation_id == demo.acme.id)))
    listed = {int(row.attrs["id"].removeprefix("user-")) for row in rows(page, "user-list", "user-")}
    managed = {user.id for user in users if user.id in listed and user.id != actor.id
               and permissions.may_manage_user(actor, user)}
    assert with_button("user-list", "user-", "Deactivate") == managed
    assert managed and (managed != listed - {actor.id}) == (viewer in ("admin@northwind.example",
                                                                        "frontdesk@acme.example"))
    invited = demo.user("ann.lyon@acme.example")
    revocable = {invited.id} if permissions.may_manage_user(actor, invited) else set()
    assert with_button("invitations", "invitation-", "Revoke") == revocable
    assert bool(revocable) == (viewer in ("finance@northwind.example", "admin@acme.example"))
