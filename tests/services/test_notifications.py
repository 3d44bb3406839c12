"""E-mail notifications (docs/rules.md rule 33), through the outbox, the queue and a real SMTP server.

Acme Dental's admin and its accountant of Lyon hear of invoices (the accountant gets the
extract of Lyon); Northwind's finance hears of a site running out (once per crossing, even
when claims race) and of seats requested; the requester hears of the decision. Each of them
can turn any of it off, and then hears nothing of it.
"""
import io
import threading

import pytest
from pypdf import PdfReader
from sqlalchemy import delete, select

from portal.domain import events, notifications
from portal.domain.accounts import preferences, users
from portal.domain.errors import Invalid, NoFreeSeat
from portal.domain.seats import allocations
from portal.domain.seats import requests as seat_requests
from portal.extensions import db
from portal.models import AuditEvent, MailMessage, NotificationOptOut, OutboxEvent, RoleAssignment, User
from tests.factories import AllocationFactory, SiteFactory, UserFactory


@pytest.fixture
def lyon(acme, essentials):
    site = SiteFactory(client=acme, name="Lyon")
    AllocationFactory(site=site, subscription_type=essentials, allocated=20, consumed=16)
    return site


@pytest.fixture
def paris(acme, essentials):
    site = SiteFactory(client=acme, name="Paris")
    AllocationFactory(site=site, subscription_type=essentials, allocated=2, consumed=0)
    return site


@pytest.fixture
def lyon_accountant(acme, lyon):
    return UserFactory(organisation=acme, email="books@acme.example", accountant=True, sites=[lyon])


@pytest.fixture
def settled(outbox, run_jobs):
    """Start from a quiet inbox: what the fixtures' own changes sent is read and forgotten."""
    run_jobs()
    outbox._inbox.received.clear()
    return outbox


def subjects_to(outbox, address) -> list[str]:
    return [m["Subject"] for m in outbox._inbox.to(address)]


_numbers = iter(range(10**6))


def create(actor, site, essentials, n: int):
    """Create ``n`` seat holders at ``site`` as ``actor`` would, one request each."""
    for _ in range(n):
        number = next(_numbers)
        users.create_user(actor, site, essentials, f"user{number}@acme.example", f"User {number}")


def changes_of(user) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.notifications_changed",
                                                           AuditEvent.actor_id == user.id)
                                   .order_by(AuditEvent.id)))


# ---------------------------------------------------------------- a site running out


def test_finance_hears_once_when_free_seats_fall_to_a_tenth_and_once_when_none_is_left(
        acme_admin, finance, nw_admin, lyon, essentials, settled):
    create(acme_admin, lyon, essentials, 1)  # 3 of 20 free: still more than a tenth
    assert subjects_to(settled, finance.email) == []
    create(acme_admin, lyon, essentials, 1)  # 2 of 20: a tenth
    create(acme_admin, lyon, essentials, 1)  # 1 of 20: still low, not told again
    assert subjects_to(settled, finance.email) == ["Lyon (Acme Dental) is running out of Essentials seats"]
    create(acme_admin, lyon, essentials, 1)  # none left
    assert subjects_to(settled, finance.email)[1:] == ["Lyon (Acme Dental) has no Essentials seat left"]
    with pytest.raises(NoFreeSeat):
        create(acme_admin, lyon, essentials, 1)  # refused: nothing crossed, nobody told
    assert len(subjects_to(settled, finance.email)) == 2
    # The partner admin without finance is not concerned; the body says how to act.
    assert subjects_to(settled, nw_admin.email) == []
    body = settled._inbox.to(finance.email)[0].get_content()
    assert "2 of 20 Essentials seats at Lyon (Acme Dental) are free." in body
    assert f"/clients/{lyon.client_id}/sites/{lyon.id}" in body and "/account#notifications" in body


def test_a_freed_seat_taken_again_is_a_new_crossing(acme_admin, finance, paris, essentials, settled):
    create(acme_admin, paris, essentials, 2)  # 2 of 2 taken: none left
    holder = db.session.scalar(select(User).where(User.site_id == paris.id))
    users.deactivate_user(acme_admin, holder)
    create(acme_admin, paris, essentials, 1)
    assert subjects_to(settled, finance.email) == ["Paris (Acme Dental) has no Essentials seat left"] * 2


def test_racing_claims_cross_each_line_once(acme_admin, finance, lyon, essentials, app, settled):
    # 4 seats free of 20, 8 creators racing for them: one claim reaches the tenth, one takes the last.
    outcomes = []

    def creator(n):
        with app.app_context():
            try:
                users.create_user(acme_admin, lyon, essentials, f"racer{n}@acme.example", f"Racer {n}")
                outcomes.append("created")
            except NoFreeSeat:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=creator, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created"] * 4 + ["refused"] * 4
    db.session.rollback()
    levels = [event.data["level"] for event in db.session.scalars(
        select(OutboxEvent).where(OutboxEvent.type == notifications.RUNNING_OUT).order_by(OutboxEvent.id))]
    assert levels == ["low", "none_left"]
    assert len(subjects_to(settled, finance.email)) == 2


def test_a_claim_rolled_back_tells_nobody(acme_admin, finance, paris, essentials, settled):
    create(acme_admin, paris, essentials, 1)  # 1 of 2 free: more than a tenth? 1*10 > 2, yes
    existing = "u-taken@acme.example"
    UserFactory(organisation=acme_admin.organisation, email=existing)
    with pytest.raises(Exception):  # the last seat is claimed, then the e-mail in use rolls it back
        users.create_user(acme_admin, paris, essentials, existing, "Taken")
    assert subjects_to(settled, finance.email) == []
    db.session.rollback()
    assert db.session.scalars(select(OutboxEvent).where(OutboxEvent.type == notifications.RUNNING_OUT)).all() == []


def test_buying_or_lowering_seats_is_finance_s_own_doing_and_tells_nobody(finance, lyon, essentials, settled):
    allocations.set_allocation(finance, lyon, essentials, 17)  # 1 of 17 free: low, but finance did it
    assert subjects_to(settled, finance.email) == []


# ---------------------------------------------------------------- invoices


def test_client_admins_and_accountants_get_the_invoice_with_its_pdf(acme, acme_admin, lyon_accountant, finance,
                                                                    lyon, paris, essentials, settled):
    allocations.set_allocation(finance, paris, essentials, 5)  # Paris only: prorated invoice of 3 seats
    allocations.set_allocation(finance, lyon, essentials, 22)  # Lyon: another one
    admin_mail = settled._inbox.to(acme_admin.email)
    assert len(admin_mail) == 2 and all(m["Subject"].startswith("Invoice NW-") for m in admin_mail)
    (attachment,) = list(admin_mail[0].iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == admin_mail[0]["Subject"].split()[1] + ".pdf"
    text = " ".join(PdfReader(io.BytesIO(attachment.get_content())).pages[0].extract_text().split())
    assert "Paris" in text and "Acme Dental" in text
    # The accountant of Lyon is told of Lyon's invoice only, with Lyon's lines.
    accountant_mail = settled._inbox.to(lyon_accountant.email)
    assert [m["Subject"] for m in accountant_mail] == [admin_mail[1]["Subject"]]
    # Finance issued them: not a reader of client mail.
    assert all(not s.startswith("Invoice") for s in subjects_to(settled, finance.email))


def test_an_invoice_mail_is_written_in_the_reader_s_language(acme, acme_admin, finance, paris, essentials, settled):
    preferences.set_language(acme_admin, "fr")
    allocations.set_allocation(finance, paris, essentials, 3)
    (message,) = settled._inbox.to(acme_admin.email)
    assert message["Subject"].startswith("Facture NW-") and message["Content-Language"] == "fr"


def test_a_credit_note_sends_no_invoice_mail(acme_admin, finance, paris, essentials, settled):
    allocations.set_allocation(finance, paris, essentials, 4)
    allocations.set_allocation(finance, paris, essentials, 2)  # within the window: a credit note
    assert len(subjects_to(settled, acme_admin.email)) == 1


def test_a_reader_who_lost_the_invoices_before_the_mail_went_gets_no_pdf(acme_admin, finance, paris, essentials,
                                                                        outbox, run_jobs):
    allocations.set_allocation(finance, paris, essentials, 3)
    events.relay()  # the message is written, not sent yet; then the admin's roles are taken away
    db.session.execute(delete(RoleAssignment).where(RoleAssignment.user_id == acme_admin.id))
    db.session.commit()
    run_jobs()
    assert outbox._inbox.to(acme_admin.email) == []
    db.session.rollback()
    message = db.session.scalar(select(MailMessage).where(MailMessage.recipient == acme_admin.email))
    assert message.status == "failed" and "not for user" in message.last_error


# ---------------------------------------------------------------- seat requests


@pytest.fixture
def full(acme, essentials):
    site = SiteFactory(client=acme, name="Full")
    AllocationFactory(site=site, subscription_type=essentials, allocated=1, consumed=1)
    return site


def test_finance_hears_of_a_request_and_the_requester_of_the_decision(acme_admin, finance, nw_admin, full,
                                                                      essentials, settled):
    asked = seat_requests.request_seats(acme_admin, full, "essentials", 2, note="Two new dentists")
    (told,) = settled._inbox.to(finance.email)
    assert told["Subject"] == "Acme Dental asks for 2 Essentials seats"
    assert "Two new dentists" in told.get_content() and "/seat-requests" in told.get_content()
    assert subjects_to(settled, nw_admin.email) == []
    seat_requests.decline(finance, asked.id, "Budget")
    assert len(subjects_to(settled, acme_admin.email)) == 1


def test_a_request_decided_before_the_relay_came_by_asks_nobody(acme_admin, finance, full, essentials, outbox,
                                                                run_jobs):
    asked = seat_requests.request_seats(acme_admin, full, "essentials", 1)
    seat_requests.decline(finance, asked.id, "No")
    run_jobs()
    assert outbox._inbox.to(finance.email) == []


# ---------------------------------------------------------------- turning them off


def test_each_user_is_offered_the_notifications_of_their_roles(acme_admin, lyon_accountant, finance, nw_admin):
    codes = {user.email: [topic.code for topic in notifications.topics_for(user)]
             for user in (acme_admin, lyon_accountant, finance, nw_admin)}
    assert codes == {acme_admin.email: ["invoice_issued", "seat_request_decided"],
                     lyon_accountant.email: ["invoice_issued"],
                     finance.email: ["site_running_out", "seat_request_created"],
                     nw_admin.email: []}


def test_what_is_turned_off_is_not_sent_and_is_audited(acme_admin, finance, paris, full, essentials, settled):
    assert preferences.set_notifications(finance, ["seat_request_created"]) == {"site_running_out"}
    assert preferences.set_notifications(acme_admin, []) == {"invoice_issued", "seat_request_decided"}
    create(acme_admin, paris, essentials, 2)  # Paris runs out: finance turned that off
    asked = seat_requests.request_seats(acme_admin, full, "essentials", 1)
    assert subjects_to(settled, finance.email) == ["Acme Dental asks for 1 Essentials seat"]
    allocations.set_allocation(finance, paris, essentials, 3)  # an invoice: the admin turned that off
    seat_requests.decline(finance, asked.id, "No")
    assert subjects_to(settled, acme_admin.email) == []
    (event,) = changes_of(finance)
    assert (event.before, event.after) == ({"turned_off": []}, {"turned_off": ["site_running_out"]})


def test_turning_back_on_and_saving_the_same_choice_twice(finance):
    preferences.set_notifications(finance, [])
    assert preferences.set_notifications(finance, ["site_running_out", "seat_request_created"]) == set()
    preferences.set_notifications(finance, ["site_running_out", "seat_request_created"])
    assert len(changes_of(finance)) == 2  # the same choice saved again records nothing
    assert db.session.scalars(select(NotificationOptOut)).all() == []


@pytest.mark.parametrize("choice", [["site_running_out", "holidays"], [3], ["invoice_issued; DROP"]])
def test_an_unknown_notification_is_refused_and_changes_nothing(finance, choice):
    with pytest.raises(Invalid) as refusal:
        preferences.set_notifications(finance, choice)
    assert refusal.value.field == "notifications" and "no notification called" in refusal.value.message
    db.session.rollback()
    assert db.session.scalars(select(NotificationOptOut)).all() == []


def test_a_topic_of_a_role_not_held_keeps_its_state(acme_admin):
    # The client admin turns "decided" off; a choice that does not list a topic outside their roles leaves it be.
    preferences.set_notifications(acme_admin, ["invoice_issued"])
    db.session.add(NotificationOptOut(user_id=acme_admin.id, topic="site_running_out"))
    db.session.commit()
    assert preferences.set_notifications(acme_admin, ["invoice_issued", "seat_request_decided"]) == {
        "site_running_out"}


def test_messages_name_their_topic_and_invoice_for_the_attachment(acme_admin, finance, paris, essentials, outbox,
                                                                 run_jobs):
    allocations.set_allocation(finance, paris, essentials, 3)
    run_jobs()
    db.session.rollback()
    message = db.session.scalar(select(MailMessage).where(MailMessage.recipient == acme_admin.email))
    assert message.kind == "invoice_issued" and message.status == "sent"
    assert message.attachment == f"invoice:{message.reference_id}:{acme_admin.id}"
