"""E-mails in the reader's language (docs/rules.md rule 37), through a real SMTP server on loopback.

An invitation is written in the inviting organisation's language (the invited user's own
organisation: a client's for its users, the partner's for its staff), whatever the inviter's or
the request's; a password reset e-mail in the user's language, else their organisation's, else
English. ``portal.domain.mail`` states the language a message was built in (its locale) in the
``Content-Language`` header; two tests also read the French words.
"""
import pytest
from flask_babel import get_locale, refresh
from flask_login import login_user

from portal.domain.accounts import password_reset, staff, users
from portal.extensions import db
from tests.factories import AllocationFactory, SiteFactory, UserFactory



@pytest.fixture
def inbox(outbox, smtp_server):
    """The messages themselves (headers included) that the SMTP server received in this test."""
    _controller, received = smtp_server
    return received


@pytest.fixture
def lyon(acme, essentials):
    site = SiteFactory(client=acme, name="Lyon")
    AllocationFactory(site=site, subscription_type=essentials, allocated=5, consumed=0)
    return site


@pytest.fixture
def polish_inviter(acme):
    """Acme's administrator, who reads the portal in Polish."""
    return UserFactory(organisation=acme, email="admin@acme.example", client_admin=True, language="pl")


def speaking(organisation, language):
    organisation.language = language
    db.session.commit()


def invite_from_the_pages(app, inviter, lyon, essentials, email="new@acme.example"):
    """Invite as ``inviter`` inside a request answered in the inviter's own language (checked first)."""
    with app.test_request_context("/clients/users/new", headers={"Accept-Language": "fr"}):
        login_user(inviter)
        refresh()  # the test's app context may have cached another request's language
        assert str(get_locale()) == inviter.language  # the pages speak the inviter's language
        users.create_user(inviter, lyon, essentials, email, "New Person", send="now")


def test_an_invitation_is_written_in_the_clients_language_not_the_inviters(app, acme, lyon, essentials,
                                                                          polish_inviter, inbox):
    speaking(acme, "fr")
    invite_from_the_pages(app, polish_inviter, lyon, essentials)

    [message] = inbox.to("new@acme.example")
    assert message["Content-Language"] == "fr"
    assert "Acme Dental" in message["Subject"] and "/invitations/" in message.get_content()


def test_an_english_client_invites_in_english_whatever_the_inviters_language(app, acme, lyon, essentials,
                                                                             polish_inviter, inbox):
    speaking(acme, None)  # no language chosen: English
    invite_from_the_pages(app, polish_inviter, lyon, essentials)

    [message] = inbox.to("new@acme.example")
    assert message["Content-Language"] == "en"
    assert message["Subject"] == "Your invitation to Acme Dental"
    assert "You are invited to join Acme Dental on Partner Portal." in message.get_content()
    assert "Open this link within 30 days to choose your password:" in message.get_content()


def test_an_invitation_sent_through_the_api_follows_the_client_not_the_apis_english(app, acme, lyon, essentials,
                                                                                    polish_inviter, inbox):
    speaking(acme, "pl")
    with app.test_request_context("/api/v1/users", headers={"Accept-Language": "fr"}):
        refresh()
        assert str(get_locale()) == "en"  # the API answers in English
        users.create_user(polish_inviter, lyon, essentials, "api@acme.example", "Api Person", send="now")

    [message] = inbox.to("api@acme.example")
    assert message["Content-Language"] == "pl"


def test_partner_staff_are_invited_in_the_partners_language(northwind, nw_admin, inbox):
    speaking(northwind, "fr")
    staff.invite_staff(nw_admin, northwind, "support@northwind.example", "Sam Support", "partner_support")

    [message] = inbox.to("support@northwind.example")
    assert message["Content-Language"] == "fr"


def test_a_french_clients_invitation_reads_in_french(app, acme, lyon, essentials, polish_inviter, inbox):
    speaking(acme, "fr")
    invite_from_the_pages(app, polish_inviter, lyon, essentials)

    [message] = inbox.to("new@acme.example")
    assert "Acme Dental" in message["Subject"] and message["Subject"] != "Your invitation to Acme Dental"
    assert "You are invited to join" not in message.get_content()
    assert "/invitations/" in message.get_content()  # the link is kept whatever the language


# --- password reset: the user's language, else their organisation's, else English -------------------------


@pytest.mark.parametrize(("own", "organisation", "expected"), [
    ("pl", "fr", "pl"),  # the user's choice first
    (None, "fr", "fr"),  # else the organisation's
    (None, None, "en"),  # else English, whatever the browser asking
])
def test_a_password_reset_is_written_in_the_users_language(app, northwind, inbox, own, organisation, expected):
    speaking(northwind, organisation)
    user = UserFactory(organisation=northwind, email="bob@northwind.example", partner_admin=True, language=own)
    with app.test_request_context("/password/forgot", headers={"Accept-Language": "fr"}):
        refresh()
        password_reset.request_reset(user.email)

    [message] = inbox.to("bob@northwind.example")
    assert message["Content-Language"] == expected
    assert "/password/reset/" in message.get_content()


def test_an_english_password_reset_reads_as_before(northwind, inbox):
    UserFactory(organisation=northwind, email="bob@northwind.example", partner_admin=True)
    password_reset.request_reset("bob@northwind.example")

    [message] = inbox.to("bob@northwind.example")
    assert message["Subject"] == "Reset your Partner Portal password"
    body = message.get_content()
    assert body.startswith("Hello ") and "Open this link within one hour to choose a new password:" in body
    assert "If you did not ask for this, ignore this e-mail: your password stays as it is." in body


def test_a_french_users_password_reset_reads_in_french(northwind, inbox):
    UserFactory(organisation=northwind, email="bob@northwind.example", partner_admin=True, language="fr")
    password_reset.request_reset("bob@northwind.example")

    [message] = inbox.to("bob@northwind.example")
    assert message["Subject"] != "Reset your Partner Portal password"
    assert "/password/reset/" in message.get_content()
