"""Invitations through a real SMTP server on loopback, and their pages."""
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.domain.accounts import invitations, users
from portal.domain.errors import Conflict, Invalid, NoFreeSeat
from portal.domain.seats import counters
from portal.extensions import db
from portal.models import Invitation, User
from portal.models.mixins import utcnow
from tests import mail_server
from tests.factories import (
    PASSWORD,
    AllocationFactory,
    ClientFactory,
    SiteFactory,
    UserFactory,
)


@pytest.fixture
def inbox(app, monkeypatch):
    controller, inbox = mail_server.start()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", controller.port)
    yield inbox
    controller.stop()


def link_in(message) -> str:
    return re.search(r"https?://\S+/invitations/\S+", message.get_content()).group(0)


# The world: the partner Northwind and its finance administrator, its client
# Acme Dental with its admin and the site Lyon (one free Essentials seat), and
# the admin of another client, Globex.


@pytest.fixture
def admin(acme):
    return UserFactory(organisation=acme, email="admin@acme.example", client_admin=True)


@pytest.fixture
def lyon(acme, essentials):
    """Lyon: 5 Essentials seats bought, 4 held: one free."""
    site = SiteFactory(client=acme, name="Lyon")
    AllocationFactory(site=site, subscription_type=essentials, allocated=5, consumed=4)
    return site


@pytest.fixture
def globex_admin(northwind):
    return UserFactory(organisation=ClientFactory(parent=northwind, name="Globex Clinic"),
                       email="admin@globex.example", client_admin=True)


@pytest.fixture
def invite(admin, lyon, essentials):
    """``invite(email, send)`` → a user of Lyon invited by Acme's admin."""

    def create(email="new@acme.example", send="now"):
        return users.create_user(admin, lyon, essentials, email, "New Person", send=send)

    return create


@pytest.fixture
def free_lyon(lyon, essentials):
    """``free_lyon()`` → the free Essentials seats at Lyon now."""
    return lambda: counters.free_seats(lyon.id, essentials.id)


def test_the_whole_life_cycle_through_smtp_and_the_pages(acme, admin, lyon, inbox, app):
    browser = app.test_client()
    browser.post("/login", data={"email": "admin@acme.example", "password": PASSWORD})
    response = browser.post(f"/clients/{acme.id}/users/new", data={
        "name": "Nina New", "email": "nina@acme.example", "site_id": lyon.id,
        "subscription_type": "essentials", "send_invitation": "now"})
    assert response.status_code == 302
    [message] = inbox.to("nina@acme.example")
    assert message["Subject"] == "Your invitation to Acme Dental"
    link = link_in(message)
    assert link.startswith("http://localhost/invitations/")  # the host the request came in on
    visitor = app.test_client()
    page = visitor.get(link)
    assert page.status_code == 200 and "nina@acme.example" in page.get_data(as_text=True)
    accepted = visitor.post(link, data={"name": "Nina N.", "password": "correct horse battery"})
    assert accepted.status_code == 303
    login = visitor.post("/login", data={"email": "nina@acme.example", "password": "correct horse battery"})
    assert login.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "nina@acme.example"))
    db.session.refresh(user)
    assert (user.status, user.name) == ("active", "Nina N.")
    used = app.test_client().get(link)
    assert used.status_code == 409 and "already used" in used.get_data(as_text=True)


def test_links_use_only_trusted_hosts(acme, admin, lyon, inbox, app, monkeypatch):
    monkeypatch.setitem(app.config, "TRUSTED_HOSTS", ["portal.example"])
    browser = app.test_client()
    forged = browser.get("/login", headers={"Host": "evil.example"})
    assert forged.status_code == 400 and "evil.example" not in forged.get_data(as_text=True)
    ok = browser.post("/login", data={"email": "admin@acme.example", "password": PASSWORD},
                      headers={"Host": "portal.example"})
    assert ok.status_code == 302
    browser.post(f"/clients/{acme.id}/users/new", headers={"Host": "portal.example"}, data={
        "name": "P", "email": "p@acme.example", "site_id": lyon.id, "subscription_type": "essentials"})
    assert link_in(inbox.to("p@acme.example")[0]).startswith("http://portal.example/invitations/")


def test_send_later_sends_nothing_until_asked(admin, invite, free_lyon, inbox):
    user = invite(send="later")
    assert inbox.messages == []
    invitation = db.session.scalar(select(Invitation).where(Invitation.user_id == user.id))
    assert (invitation.status, invitation.delivery, invitation.sent_at) == ("pending", "unsent", None)
    assert free_lyon() == 0  # a pending invitation holds its seat
    invitations.send_invitation(admin, user)
    assert len(inbox.to("new@acme.example")) == 1


def test_a_user_invited_now_commits_with_their_link_and_e_mail_or_not_at_all(invite, free_lyon, inbox,
                                                                              monkeypatch):
    from portal.domain import audit
    from portal.models import InvitationToken, MailMessage

    real_record = audit.record

    def failing_at_the_link(actor, action, *args, **kwargs):
        if action == "invitation.sent":
            raise RuntimeError("disk full")
        return real_record(actor, action, *args, **kwargs)

    monkeypatch.setattr(audit, "record", failing_at_the_link)
    with pytest.raises(RuntimeError):
        invite()
    db.session.rollback()
    # Nothing half-done: no user holding the seat without a link, no e-mail queued.
    assert db.session.scalar(select(User).where(User.email == "new@acme.example")) is None
    assert free_lyon() == 1 and db.session.scalars(select(MailMessage)).all() == []
    monkeypatch.setattr(audit, "record", real_record)

    user = invite()
    invitation = db.session.scalar(select(Invitation).where(Invitation.user_id == user.id))
    tokens = db.session.scalars(select(InvitationToken).where(InvitationToken.invitation_id == invitation.id)).all()
    assert len(tokens) == 1 and tokens[0].superseded_at is None  # one link, none retired
    assert invitation.sent_at is not None and invitation.delivery in ("queued", "sent")
    assert len(db.session.scalars(select(MailMessage).where(
        MailMessage.reference_id == invitation.id)).all()) == 1


def test_smtp_down_keeps_the_invitation_marked_not_sent_until_a_retry_sends_it(admin, invite, app, monkeypatch,
                                                                               run_jobs):
    port = mail_server.free_port()  # nobody listens there yet
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    user = invite()
    invitation = db.session.scalar(select(Invitation).where(Invitation.user_id == user.id))
    assert (invitation.status, invitation.delivery) == ("pending", "queued")  # the request only queued it
    run_jobs()  # the worker's attempt: connection refused
    db.session.rollback()  # the worker's commits, not this test's snapshot
    db.session.refresh(invitation)
    assert (invitation.status, invitation.delivery) == ("pending", "failed")
    controller, inbox = mail_server.start(port)  # the server is back
    try:
        run_jobs()  # the retry (PORTAL_MAIL_RETRY_SECONDS is 0,0,0 in tests)
    finally:
        controller.stop()
    db.session.rollback()
    db.session.refresh(invitation)
    assert invitation.delivery == "sent" and len(inbox.to("new@acme.example")) == 1


def test_resending_kills_the_old_link(admin, invite, inbox, app):
    user = invite()
    old = link_in(inbox.to("new@acme.example")[0])
    invitations.send_invitation(admin, user)
    new = link_in(inbox.to("new@acme.example")[1])
    visitor = app.test_client()
    stale = visitor.post(old, data={"name": "X", "password": "long enough password"})
    assert stale.status_code == 410 and "newer invitation" in stale.get_data(as_text=True)
    assert visitor.get(new).status_code == 200


def test_revoking_kills_the_link_and_frees_the_seat(admin, invite, free_lyon, inbox, app):
    user = invite()
    link = link_in(inbox.to("new@acme.example")[0])
    assert free_lyon() == 0
    invitations.revoke_invitation(admin, user)
    assert free_lyon() == 1
    refused = app.test_client().get(link)
    assert refused.status_code == 410 and "revoked" in refused.get_data(as_text=True)


def test_an_expired_link_is_refused_and_expiry_frees_the_seat(invite, free_lyon, inbox, app, monkeypatch):
    invite()
    link = link_in(inbox.to("new@acme.example")[0])
    later = utcnow() + timedelta(days=30, seconds=1)
    monkeypatch.setattr(invitations, "utcnow", lambda: later)
    refused = app.test_client().get(link)
    assert refused.status_code == 410 and "expired" in refused.get_data(as_text=True)
    assert invitations.expire_invitations() == 1
    assert free_lyon() == 1


def test_a_forged_token_changes_nothing(app):
    response = app.test_client().post("/invitations/" + "A" * 43, data={"name": "X", "password": "long enough pw"})
    assert response.status_code == 404 and "not valid" in response.get_data(as_text=True)


def test_two_tabs_accepting_at_once_create_one_account(invite, inbox, app):
    invite()
    token = link_in(inbox.to("new@acme.example")[0]).rsplit("/", 1)[1]
    barrier, outcomes = threading.Barrier(2), []

    def accept(password):
        with app.app_context():
            barrier.wait()
            try:
                invitations.accept_invitation(token, "Tab", password)
                outcomes.append(password)
            except invitations.InvitationRefused:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=accept, args=(f"password number {n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes)[1] == "refused" and outcomes.count("refused") == 1


def test_an_email_of_another_organisation_is_refused(invite, globex_admin):
    # Neutral (docs/rules.md rule 41b): the sentence does not say the address is another organisation's.
    with pytest.raises(Conflict, match="^This e-mail address cannot be used for a new account.$"):
        invite(email="admin@globex.example")


def test_a_visitor_logged_in_as_someone_else_must_log_out_first(invite, globex_admin, inbox, app):
    invite()
    link = link_in(inbox.to("new@acme.example")[0])
    other = app.test_client()
    assert other.post("/login", data={"email": "admin@globex.example", "password": PASSWORD}).status_code == 302
    refused = other.post(link, data={"name": "X", "password": "long enough password"})
    assert refused.status_code == 409 and "Log out" in refused.get_data(as_text=True)
    assert db.session.scalar(select(User.status).where(User.email == "new@acme.example")) == "invited"


def test_a_short_password_is_explained(invite, inbox, app):
    invite()
    link = link_in(inbox.to("new@acme.example")[0])
    response = app.test_client().post(link, data={"name": "X", "password": "short"})
    assert response.status_code == 422 and "at least 12 characters" in response.get_data(as_text=True)


def test_bulk_invite_is_all_or_nothing(admin, lyon, essentials, free_lyon, inbox):
    with pytest.raises(NoFreeSeat) as refused:
        users.bulk_invite(admin, lyon, essentials, "a@acme.example\nb@acme.example")
    assert "only 1 free" in refused.value.message and "nobody was invited" in refused.value.message
    assert db.session.scalar(select(User.id).where(User.email == "a@acme.example")) is None
    assert inbox.messages == [] and free_lyon() == 1


def test_finance_adds_the_missing_seats_in_the_same_step(finance, lyon, essentials, free_lyon, inbox):
    created = users.bulk_invite(finance, lyon, essentials,
                                ["a@acme.example", "b@acme.example", "c@acme.example"], add_seats=True)
    assert [u.email for u in created] == ["a@acme.example", "b@acme.example", "c@acme.example"]
    assert free_lyon() == 0 and sorted(m["To"] for m in inbox.messages if "/invitations/" in m.get_body(
        ("plain",)).get_content()) == ["a@acme.example", "b@acme.example", "c@acme.example"]
    # The free seat taken first ran Lyon out: finance is told (rule 33), once.
    assert [m["Subject"] for m in inbox.messages if "/invitations/" not in m.get_body(
        ("plain",)).get_content()] == ["Lyon (Acme Dental) has no Essentials seat left"]


@pytest.mark.parametrize("emails", ["not-an-email", "ok@acme.example\nbad@", "", [f"u{n}@acme.example" for n in range(101)],
                                    "x@acme.example\r\nBcc: y@evil.example"])
def test_bulk_invite_refuses_malformed_lists(finance, lyon, essentials, free_lyon, emails):
    with pytest.raises(Invalid):
        users.bulk_invite(finance, lyon, essentials, emails, add_seats=True)
    assert free_lyon() == 1


def test_ten_failures_lock_the_email_with_retry_after(admin, globex_admin, app):
    client = app.test_client()
    for _ in range(10):
        assert client.post("/login", data={"email": "admin@acme.example", "password": "wrong"}).status_code == 422
    locked = client.post("/login", data={"email": "admin@acme.example", "password": PASSWORD})
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert "Try again in 15 minutes" in locked.get_data(as_text=True)
    other = client.post("/login", data={"email": "admin@globex.example", "password": PASSWORD})
    assert other.status_code == 302


def test_changing_the_password_ends_the_other_sessions(admin, app):
    first, second = app.test_client(), app.test_client()
    for browser in (first, second):
        assert browser.post("/login", data={"email": "admin@acme.example", "password": PASSWORD}).status_code == 302
    changed = first.post("/account", data={"current_password": PASSWORD,
                                           "new_password": "a brand new password"})
    assert changed.status_code == 303
    assert first.get("/account").status_code == 200
    assert second.get("/account").status_code == 302  # logged out


def test_guessing_invitation_tokens_is_throttled_per_address(app, monkeypatch):
    from portal.extensions import limiter

    monkeypatch.setitem(app.config, "INVITATION_RATE_LIMIT", "3 per minute")
    limiter.reset()
    guesser = app.test_client()
    statuses = [guesser.get(f"/invitations/guess{n}").status_code for n in range(4)]
    assert statuses == [404, 404, 404, 429]
    assert int(guesser.get("/invitations/guess9").headers["Retry-After"]) > 0
    limiter.reset()
