"""Smart lockout (docs/rules.md rule 41b): a stranger's failures do not lock the owner out of their usual places."""
import pytest
from sqlalchemy import select

from portal.domain.accounts import authentication, lockout
from portal.domain.accounts.authentication import BadCredentials, LockedOut
from portal.extensions import db
from portal.models import KnownAddress, LoginFailure
from tests.factories import PASSWORD

OFFICE = "198.51.100.10"
STRANGER = "203.0.113.66"


def fail(email, ip, times=10):
    for _ in range(times):
        with pytest.raises(BadCredentials):
            authentication.log_in(email, "not the password", ip)


def test_a_strangers_ten_bad_passwords_do_not_lock_the_owner_out_of_a_known_address(acme_admin):
    """The attack: anyone could lock any account for 15 minutes with 10 bad passwords."""
    authentication.log_in(acme_admin.email, PASSWORD, OFFICE)
    fail(acme_admin.email, STRANGER)

    with pytest.raises(LockedOut):  # the stranger is locked out…
        authentication.log_in(acme_admin.email, PASSWORD, STRANGER)
    # …the owner, from where they signed in before, is not.
    assert authentication.log_in(acme_admin.email, PASSWORD, OFFICE).id == acme_admin.id


def test_an_unknown_address_of_the_owner_is_locked_with_the_strangers(acme_admin):
    authentication.log_in(acme_admin.email, PASSWORD, OFFICE)
    fail(acme_admin.email, STRANGER)
    with pytest.raises(LockedOut):
        authentication.log_in(acme_admin.email, PASSWORD, "192.0.2.200")  # a hotel: never signed in from there


def test_failures_from_a_known_address_lock_the_known_addresses(acme_admin):
    authentication.log_in(acme_admin.email, PASSWORD, OFFICE)
    fail(acme_admin.email, OFFICE)
    with pytest.raises(LockedOut) as locked:
        authentication.log_in(acme_admin.email, PASSWORD, OFFICE)
    assert locked.value.extra["retry_after"] > 0


def test_an_address_becomes_known_by_a_successful_login_only(acme_admin):
    fail(acme_admin.email, STRANGER, times=3)
    assert not db.session.scalars(select(KnownAddress)).all()
    authentication.log_in(acme_admin.email, PASSWORD, OFFICE)
    authentication.log_in(acme_admin.email, PASSWORD, OFFICE)  # twice: still one row
    db.session.rollback()
    assert [(row.user_id, row.ip) for row in db.session.scalars(select(KnownAddress))] == [(acme_admin.id, OFFICE)]
    assert [failure.known for failure in db.session.scalars(select(LoginFailure))] == [False] * 3


def test_an_address_known_for_one_account_is_not_known_for_another(acme_admin, nw_admin):
    authentication.log_in(acme_admin.email, PASSWORD, OFFICE)
    assert lockout.account_and_address(acme_admin.email, OFFICE) == (acme_admin, True)
    user, known = lockout.account_and_address(nw_admin.email, OFFICE)
    assert user.id == nw_admin.id and known is False
    assert lockout.account_and_address("ghost@example.org", OFFICE) == (None, False)
    assert lockout.account_and_address(acme_admin.email, None) == (acme_admin, False)


def test_unknown_emails_are_locked_like_known_ones(acme_admin):
    fail("ghost@example.org", STRANGER)
    with pytest.raises(LockedOut):
        authentication.log_in("ghost@example.org", "anything", STRANGER)
