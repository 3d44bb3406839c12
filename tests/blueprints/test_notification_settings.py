"""The account page's e-mail notifications (docs/rules.md rule 33): one checkbox per topic of one's roles.

Fixed names: checkboxes ``notifications`` (values invoice_issued, site_running_out,
seat_request_created, seat_request_decided) posted to ``POST /account/notifications``;
a topic left unticked is turned off.
"""
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, NotificationOptOut

FELIX = "finance@northwind.example"  # partner admin and finance
ARTHUR = "accountant@acme.example"
NORA = "admin@northwind.example"  # partner admin only


def topics(page, html) -> list[tuple[str, str, bool]]:
    """(value, label, ticked) of each notification checkbox."""
    document = html(page)
    boxes = document.find_all("input", name="notifications")
    return [(box.attrs["value"], document.find("label", **{"for": box.attrs["id"]}).text.strip(),
             "checked" in box.attrs) for box in boxes]


def turned_off(user) -> set[str]:
    db.session.rollback()
    return set(db.session.scalars(select(NotificationOptOut.topic).where(NotificationOptOut.user_id == user.id)))


def test_finance_sees_the_topics_of_their_role_all_ticked(demo, login_as, html):
    page = login_as(FELIX).get("/account")
    assert topics(page, html) == [("site_running_out", "A site is running out of seats", True),
                                  ("seat_request_created", "Seats are requested", True)]
    form = html(page).find("form", action="/account/notifications")
    assert form.attrs["method"] == "post"


def test_an_accountant_is_offered_invoices_only(demo, login_as, html):
    assert [value for value, _label, _ticked in topics(login_as(ARTHUR).get("/account"), html)] == [
        "invoice_issued"]


def test_a_role_without_notifications_is_told_so(demo, login_as, html):
    page = login_as(NORA).get("/account")
    assert topics(page, html) == []
    assert "None of your roles receives e-mail notifications." in page.get_data(as_text=True)


def test_unticking_turns_a_topic_off_and_the_page_shows_it(demo, login_as, html):
    felix = login_as(FELIX)
    response = felix.post("/account/notifications", data={"notifications": ["seat_request_created"]})
    assert response.status_code == 303 and response.headers["Location"].endswith("/account#notifications")
    assert turned_off(demo.user(FELIX)) == {"site_running_out"}
    page = felix.get("/account")
    assert "E-mail notifications saved." in page.get_data(as_text=True)
    assert [ticked for _value, _label, ticked in topics(page, html)] == [False, True]
    # Nothing ticked: everything off; both ticked again: everything on.
    felix.post("/account/notifications", data={})
    assert turned_off(demo.user(FELIX)) == {"site_running_out", "seat_request_created"}
    felix.post("/account/notifications", data={"notifications": ["site_running_out", "seat_request_created"]})
    assert turned_off(demo.user(FELIX)) == set()
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == demo.user(FELIX).id,
                                                                 AuditEvent.action.like("user.notif%"))).all()
    assert len(actions) == 3


def test_an_unknown_topic_is_refused_on_the_field_and_changes_nothing(demo, login_as, html):
    felix = login_as(FELIX)
    response = felix.post("/account/notifications", data={"notifications": ["site_running_out", "weather"]})
    assert response.status_code == 422
    assert "There is no notification called weather." in html(response).find(
        "form", action="/account/notifications").text
    assert turned_off(demo.user(FELIX)) == set()


def test_the_audit_log_says_what_was_turned_off(demo, login_as):
    login_as(FELIX).post("/account/notifications", data={"notifications": ["seat_request_created"]})
    page = login_as(FELIX).get("/audit?action=user.notifications_changed")
    assert "Felix Finance turned off the e-mails: A site is running out of seats" in page.get_data(as_text=True)


def test_logged_out_is_sent_to_the_login_page(client):
    response = client.post("/account/notifications", data={"notifications": []})
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]
