"""The audit log screen (audit.view): scoping, filters, pages, and the streamed CSV."""
import csv
import io
import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import event as event_api
from sqlalchemy import select

from portal.domain.accounts import grants, users
from portal.i18n import format_money
from portal.domain.orgs import clients
from portal.domain.seats import allocations
from portal.extensions import db
from portal.models import AuditEvent, RoleAssignment, User
from tests.helpers import parse_html


def event(demo, action, organisation, *, at, actor=None, target_type="user", target_id=None, after=None):
    """Add an event at a fixed moment (UTC) straight into the log."""
    row = AuditEvent(action=action, organisation_id=organisation.id, at=at, actor_email=actor,
                     actor_id=demo.user(actor).id if actor else None, target_type=target_type,
                     target_id=target_id, after=after)
    db.session.add(row)
    db.session.commit()
    return row.id


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture
def log(demo):
    """A few events of Acme, Globex, Northwind and Initech, on known days."""
    acme, globex, initech = demo.acme, demo.org("Globex Clinic"), demo.org("Initech Vet")
    northwind = demo.org("Northwind Telecom")
    return dict(
        acme_old=event(demo, "role.granted", acme, at=utc(2001, 1, 10, 9), actor="admin@acme.example",
                       target_id=101, after={"role": "member", "sites": []}),
        acme_mid=event(demo, "user.created", acme, at=utc(2001, 1, 20, 23, 59), actor="admin@acme.example",
                       target_id=102),
        acme_new=event(demo, "role.revoked", acme, at=utc(2001, 2, 1, 0, 0), actor="frontdesk@acme.example",
                       target_id=101),
        globex=event(demo, "user.created", globex, at=utc(2001, 1, 15), actor="admin@globex.example",
                     target_id=201),
        northwind=event(demo, "client.created", northwind, at=utc(2001, 1, 16), actor="admin@northwind.example",
                        target_type="client", target_id=301),
        initech=event(demo, "user.created", initech, at=utc(2001, 1, 17), actor="admin@initech.example",
                      target_id=401),
    )


def event_ids(response) -> set[int]:
    body = response.get_data(as_text=True)
    assert response.status_code in (200, 422), body[:300]
    return {int(ident) for ident in re.findall(r'<tr id="event-([0-9]+)"', body)}


def test_a_partner_admin_sees_its_own_and_its_clients_events_only(demo, log, login_as):
    seen = event_ids(login_as("admin@northwind.example").get("/audit?to=2001-12-31&from=2001-01-01"))
    assert {log["acme_old"], log["acme_mid"], log["acme_new"], log["globex"], log["northwind"]} <= seen
    assert log["initech"] not in seen


def owners(ids) -> set[int]:
    db.session.rollback()
    return set(db.session.scalars(select(AuditEvent.organisation_id).where(AuditEvent.id.in_(ids))))


def test_a_client_admin_sees_only_its_clients_events(demo, log, login_as):
    seen = event_ids(login_as("admin@acme.example").get("/audit"))
    assert {log["acme_old"], log["acme_mid"], log["acme_new"]} <= seen
    assert owners(seen) == {demo.acme.id}


def test_a_real_change_shows_up_for_the_client_and_its_partner_not_for_others(demo, login_as):
    grants.grant_role(demo.user("admin@acme.example"), demo.user("user1@acme.example"), "member")
    granted = db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "role.granted"))
    assert granted in event_ids(login_as("admin@acme.example").get("/audit?action=role.granted"))
    assert granted in event_ids(login_as("admin@northwind.example").get("/audit?action=role.granted"))
    assert granted not in event_ids(login_as("admin@globex.example").get("/audit?action=role.granted"))
    assert granted not in event_ids(login_as("admin@southwind.example").get("/audit?action=role.granted"))


def finance_only(demo):
    """A Northwind user holding only the Finance role (no audit.view)."""
    user = User(organisation_id=demo.org("Northwind Telecom").id, email="fin2@northwind.example", name="Fin Two",
                status="active", password_hash=demo.user("admin@northwind.example").password_hash)
    db.session.add(user)
    db.session.flush()
    db.session.add(RoleAssignment(user_id=user.id, role="finance"))
    db.session.commit()
    return user.email


@pytest.mark.parametrize("email", ["support@northwind.example", "accountant@acme.example", "frontdesk@acme.example",
                                   finance_only])
def test_roles_without_audit_view_are_refused(demo, login_as, email):
    caller = login_as(email if isinstance(email, str) else email(demo))
    assert caller.get("/audit").status_code == 403
    assert caller.get("/audit/export.csv").status_code == 403


def test_anonymous_callers_are_sent_to_login(demo, client):
    assert client.get("/audit/export.csv").headers["Location"].startswith("/login")


@pytest.mark.parametrize(("query", "expected"), [
    ("action=role.", {"acme_old", "acme_new"}),
    ("action=role.granted", {"acme_old"}),
    ("action=user.created", {"acme_mid", "globex"}),
    ("actor=FRONTDESK@", {"acme_new"}),
    ("actor=acme.example", {"acme_old", "acme_mid", "acme_new"}),
    ("target_type=client", {"northwind"}),
    ("target_type=user&target_id=101", {"acme_old", "acme_new"}),
    ("target_id=102", {"acme_mid"}),
    ("from=2001-01-20&to=2001-01-20", {"acme_mid"}),            # the whole day, to 23:59 UTC
    ("from=2001-02-01", {"acme_new"}),
    ("to=2001-01-15", {"acme_old", "globex"}),
    ("from=2001-01-15&to=2001-01-16&action=client", {"northwind"}),
])
def test_filters(demo, log, login_as, query, expected):
    seen = event_ids(login_as("admin@northwind.example").get("/audit?" + query))
    assert seen & set(log.values()) == {log[name] for name in expected}


def test_an_underscore_in_the_action_filter_is_not_a_wildcard(demo, log, login_as):
    assert event_ids(login_as("admin@northwind.example").get("/audit?action=user_created")) == set()


@pytest.mark.parametrize(("query", "message"), [
    ("from=2001-13-01", "Enter the start date as YYYY-MM-DD"),
    ("to=01/02/2026", "Enter the end date as YYYY-MM-DD"),
    ("from=2001-02-30", "Enter the start date as YYYY-MM-DD"),
    ("from=２０２６-01-01", "Enter the start date as YYYY-MM-DD"),
    ("from=2001-02-01&to=2001-01-01", "The end date is before the start date."),
    ("target_id=abc", "Enter the target id as a whole number."),
    ("target_id=99999999999999999999", "Enter the target id as a whole number."),
    ("target_type=user%00", "Choose a target type from the list."),
    ("action=DROP TABLE", "Choose an action from the list."),
    ("actor=a%00b", "Enter an e-mail address, or part of one, to filter by actor."),
])
def test_malformed_filters_answer_422_with_a_clear_message(demo, log, login_as, assert_fragment, query, message):
    admin = login_as("admin@acme.example")

    page = admin.get("/audit?" + query)
    fragment = assert_fragment(admin.hx_get("/audit?" + query), "audit-table", status=422)
    export = admin.get("/audit/export.csv?" + query)

    assert page.status_code == 422 and message in page.get_data(as_text=True)
    assert message in fragment.text
    assert export.status_code == 422 and message in export.get_data(as_text=True)
    # The rest of the page still works: the other filters and the list are there.
    assert 'id="filter-action"' in page.get_data(as_text=True)
    assert owners(event_ids(page)) == {demo.acme.id}


def test_pages_are_newest_first(demo, log, login_as, app, monkeypatch):
    monkeypatch.setitem(app.config, "USERS_PER_PAGE", 2)
    admin = login_as("admin@acme.example")
    query = "/audit?from=2001-01-01&to=2001-03-01"

    first = admin.get(query).get_data(as_text=True)
    second = admin.get(query + "&page=2").get_data(as_text=True)

    assert first.index(f'id="event-{log["acme_new"]}"') < first.index(f'id="event-{log["acme_mid"]}"')
    assert f'id="event-{log["acme_old"]}"' in second and "Page 2 of 2" in second
    assert "from=2001-01-01" in second and "to=2001-03-01" in second  # the pager keeps the filters


def test_the_csv_export_is_scoped_filtered_and_newest_first(demo, log, login_as):
    response = login_as("admin@acme.example").get("/audit/export.csv?from=2001-01-01&to=2001-06-30")

    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["action"] for row in rows] == ["role.revoked", "user.created", "role.granted"]
    assert {row["organisation"] for row in rows} == {"Acme Dental"}
    oldest = rows[-1]
    assert (oldest["at"], oldest["actor_email"], oldest["target_type"], oldest["target_id"]) == (
        "2001-01-10 09:00:00 UTC", "admin@acme.example", "user", "101")
    assert oldest["after"] == '{"role": "member", "sites": []}' and oldest["before"] == ""


def test_the_csv_export_streams_rows(demo, login_as):
    response = login_as("admin@northwind.example").get("/audit/export.csv")
    assert response.is_streamed
    chunks = list(response.response)
    assert chunks and chunks[0].startswith(b"at,organisation,actor_email,action")


def test_csv_cells_cannot_become_spreadsheet_formulas(demo, login_as):
    clients.create_client(demo.user("admin@northwind.example"), demo.org("Northwind Telecom"), "=1+1 Clinic",
                          "monthly")
    rows = list(csv.DictReader(io.StringIO(
        login_as("admin@northwind.example").get("/audit/export.csv?action=client.created").get_data(as_text=True))))
    assert rows and rows[0]["organisation"] == "'=1+1 Clinic"


# --- a log a person can read (docs/rules.md screen 15d) -------------------------------------

def sentences(response) -> dict[int, str]:
    """{event id: its sentence} as the page shows them."""
    page = parse_html(response.get_data(as_text=True))
    return {int(row.attrs["id"].removeprefix("event-")): row.find("span", class_="sentence").text
            for row in page.find_all("tr") if row.attrs.get("id", "").startswith("event-")}


def last_event(action) -> AuditEvent:
    db.session.rollback()
    return db.session.scalar(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id.desc()))


def all_events(action) -> list[AuditEvent]:
    db.session.rollback()
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


def test_a_seat_change_reads_as_a_sentence_with_names_and_money(demo, login_as):
    finance = demo.user("finance@northwind.example")
    allocations.set_allocation(finance, demo.lyon, demo.type("essentials"), 7)
    changed, invoice = last_event("allocation.changed"), last_event("invoice.issued")

    shown = sentences(login_as("admin@acme.example").get("/audit"))

    assert shown[changed.id] == "Felix Finance raised Essentials at Lyon from 5 to 7 seats"
    number = invoice.after["number"]
    amount = format_money(invoice.after["total"], "EUR")
    assert shown[invoice.id] == f"Felix Finance issued prorated invoice {number} to Acme Dental: {amount}"
    assert amount.startswith("€") and "." in amount  # money, not cents


def test_roles_users_and_clients_are_named_not_numbered(demo, login_as):
    alice = demo.user("admin@acme.example")
    grants.grant_role(alice, demo.user("user1@acme.example"), "site_manager", [demo.lyon.id])
    grants.revoke_role(alice, demo.user("user1@acme.example"), "site_manager")
    users.deactivate_user(alice, demo.user("user2@acme.example"))
    clients.rename_client(demo.user("admin@northwind.example"), demo.acme, "Acme Dental Care")

    shown = sentences(login_as("admin@northwind.example").get("/audit"))

    assert shown[last_event("role.granted").id] == "Alice Acme gave User 1 the Site manager role at Lyon"
    assert shown[last_event("role.revoked").id] == "Alice Acme took the Site manager role at Lyon away from User 1"
    assert shown[last_event("user.deactivated").id] == "Alice Acme deactivated User 2"
    assert shown[last_event("client.renamed").id] == "Nora Admin renamed the client Acme Dental to Acme Dental Care"
    assert not any("#" in text for text in shown.values())


def test_the_raw_before_and_after_are_one_click_away(demo, login_as):
    allocations.set_allocation(demo.user("finance@northwind.example"), demo.lyon, demo.type("essentials"), 4)
    changed = last_event("allocation.changed")

    page = parse_html(login_as("admin@acme.example").get("/audit").get_data(as_text=True))

    details = page.by_id(f"event-{changed.id}").find("details")
    assert details.find("summary") is not None
    assert '"allocated": 5' in details.text and '"allocated": 4' in details.text
    assert "allocation.changed" in details.text


def test_an_object_that_is_gone_still_reads_from_the_copied_details(demo, log, login_as):
    """Event 102 names a user id that does not exist: the sentence still says who, from its details."""
    gone = event(demo, "user.invited", demo.acme, at=utc(2001, 1, 21), actor="admin@acme.example",
                 target_id=999_999, after={"email": "gone@acme.example", "role": "accountant"})

    shown = sentences(login_as("admin@acme.example").get("/audit?from=2001-01-01&to=2001-12-31"))

    assert shown[gone] == "Alice Acme invited gone@acme.example as Accountant (read-only)"
    assert shown[log["acme_mid"]] == "Alice Acme created user #102 and invited them"


def test_an_unknown_action_still_gives_a_sentence(demo, login_as):
    unknown = event(demo, "gadget.delivered", demo.acme, at=utc(2001, 1, 1), actor="admin@acme.example",
                    target_type="gadget", target_id=5)

    shown = sentences(login_as("admin@acme.example").get("/audit?from=2001-01-01&to=2001-01-01"))

    assert shown[unknown] == "Alice Acme: gadget delivered (gadget #5)"


def test_the_action_filter_is_a_list_of_actions_in_words(demo, login_as):
    page = parse_html(login_as("admin@acme.example").get("/audit?action=role.granted").get_data(as_text=True))

    field = page.by_id("filter-action")
    assert field.tag == "select"
    options = field.find_all("option")
    assert options[0].attrs["value"] == "" and options[0].text == "Any action"
    labels = {option.attrs["value"]: option.text for option in options}
    assert labels["role.granted"] == "Role given" and labels["allocation.changed"] == "Seats set"
    assert all("." not in text and "_" not in text for text in labels.values())  # words, not codes
    assert [option.attrs["value"] for option in options if "selected" in option.attrs] == ["role.granted"]


def test_an_action_of_the_list_is_matched_exactly(demo, log, login_as):
    failed = event(demo, "auth.login_failed", demo.acme, at=utc(2001, 1, 5), after={"email": "x@acme.example"})
    login = event(demo, "auth.login", demo.acme, at=utc(2001, 1, 5), actor="admin@acme.example")

    seen = event_ids(login_as("admin@acme.example").get("/audit?action=auth.login&from=2001-01-01&to=2001-12-31"))

    assert seen == {login} and failed not in seen


def test_logins_are_left_out_unless_included(demo, log, login_as):
    login = event(demo, "auth.login", demo.acme, at=utc(2001, 1, 5), actor="admin@acme.example")
    failed = event(demo, "auth.login_failed", demo.acme, at=utc(2001, 1, 6), after={"email": "x@acme.example"})
    admin = login_as("admin@acme.example")
    days = "from=2001-01-01&to=2001-12-31"

    default = admin.get(f"/audit?{days}")
    included = admin.get(f"/audit?{days}&include_logins=1")

    assert login not in event_ids(default) and failed in event_ids(default)
    assert login in event_ids(included)
    checkbox = parse_html(default.get_data(as_text=True)).find("input", name="include_logins")
    assert checkbox.attrs["type"] == "checkbox" and "checked" not in checkbox.attrs
    assert sentences(included)[login] == "Alice Acme logged in"
    assert sentences(default)[failed] == "A login as x@acme.example failed"


def test_a_page_costs_the_same_statements_whatever_its_length(demo, login_as, app):
    finance = demo.user("finance@northwind.example")
    alice = demo.user("admin@acme.example")
    admin = login_as("admin@northwind.example")

    def statements_of_one_page():
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731 - (conn, cursor, statement, …)
        with app.app_context():
            engine = db.engine
        event_api.listen(engine, "before_cursor_execute", listener)
        try:
            response = admin.get("/audit")
        finally:
            event_api.remove(engine, "before_cursor_execute", listener)
        assert response.status_code == 200
        return len(seen), len(sentences(response))

    allocations.set_allocation(finance, demo.lyon, demo.type("essentials"), 6)
    grants.grant_role(alice, demo.user("user1@acme.example"), "site_manager", [demo.lyon.id])
    few, shown_few = statements_of_one_page()
    for allocated in range(7, 20):
        allocations.set_allocation(finance, demo.lyon, demo.type("essentials"), allocated)
    for number in range(2, 8):
        grants.grant_role(alice, demo.user(f"user{number}@acme.example"), "site_manager", [demo.paris.id])
    many, shown_many = statements_of_one_page()

    assert shown_many >= shown_few + 30
    assert many == few, (few, many)


def test_seat_requests_read_as_sentences(demo, login_as):
    from portal.domain.seats import requests as seat_requests

    alice, finance = demo.user("admin@acme.example"), demo.user("finance@northwind.example")
    asked = seat_requests.request_seats(alice, demo.paris, "essentials", 2,
                                        user={"email": "nadia@acme.example", "name": "Nadia Noor"})
    seat_requests.approve(finance, asked.id)
    other = seat_requests.request_seats(alice, demo.lyon, "unlimited", 1)
    seat_requests.decline(finance, other.id, "Not this month")

    shown = sentences(login_as("admin@northwind.example").get("/audit"))

    created = [shown[e.id] for e in all_events("seat_request.created")]
    assert created == ["Alice Acme asked for 2 Essentials seats at Paris, one for nadia@acme.example",
                       "Alice Acme asked for 1 Unlimited seat at Lyon"]
    assert shown[last_event("seat_request.approved").id] == "Felix Finance approved a request for 2 seats"
    assert shown[last_event("seat_request.declined").id] == "Felix Finance declined a seat request: Not this month"
