"""Login sessions: expiry (docs/rules.md rule 41b), the list of one's sessions and ending them (rule 40)."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from portal.domain.accounts import authentication
from portal.domain.accounts import sessions as account_sessions
from portal.domain.errors import Forbidden, NotFound
from portal.extensions import db
from portal.models import AuditEvent, LoginSession
from portal.models.mixins import utcnow
from portal.rbac.sessions import load_session_user
from tests.factories import PASSWORD, SiteFactory, UserFactory

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")


def log_in(user, ip="198.51.100.10", user_agent=FIREFOX) -> str:
    """A new session of ``user`` through the real login service; its token."""
    return authentication.log_in(user.email, PASSWORD, ip, user_agent).session_token


def age(token_holder_id=None, **columns):
    """Move the timestamps of sessions (all, or one user's) back in time."""
    query = update(LoginSession).values(**{name: utcnow() - delta for name, delta in columns.items()})
    if token_holder_id is not None:
        query = query.where(LoginSession.user_id == token_holder_id)
    db.session.execute(query)
    db.session.commit()


def count_sessions(user) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(LoginSession.id)).where(LoginSession.user_id == user.id))


def events(action) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --- expiry: rule 41b.8 ------------------------------------------------------------------------


def test_a_session_started_eight_days_ago_no_longer_loads_its_user_even_if_used_a_minute_ago(acme_admin):
    """The attack: a stolen session row kept alive by use lived forever."""
    token = log_in(acme_admin)
    age(created_at=timedelta(days=8), last_seen_at=timedelta(minutes=1))

    assert load_session_user(token) is None


def test_a_session_idle_for_more_than_twelve_hours_ends(acme_admin):
    token = log_in(acme_admin)
    age(last_seen_at=timedelta(hours=12, minutes=1))

    assert load_session_user(token) is None


def test_a_session_six_days_old_used_within_twelve_hours_still_works(acme_admin):
    token = log_in(acme_admin)
    age(created_at=timedelta(days=6, hours=23), last_seen_at=timedelta(hours=11, minutes=59))

    assert load_session_user(token).id == acme_admin.id


def test_both_limits_come_from_the_settings(acme_admin, app, monkeypatch):
    token = log_in(acme_admin)
    age(created_at=timedelta(minutes=10), last_seen_at=timedelta(minutes=2))
    monkeypatch.setitem(app.config, "SESSION_IDLE_SECONDS", 60)
    assert load_session_user(token) is None
    monkeypatch.setitem(app.config, "SESSION_IDLE_SECONDS", 3600)
    monkeypatch.setitem(app.config, "SESSION_MAX_SECONDS", 300)
    assert load_session_user(token) is None
    monkeypatch.setitem(app.config, "SESSION_MAX_SECONDS", 3600)
    assert load_session_user(token).id == acme_admin.id


def last_seen(token_user):
    db.session.rollback()
    return db.session.scalar(select(LoginSession.last_seen_at).where(LoginSession.user_id == token_user.id))


def test_last_seen_is_written_at_most_once_a_minute(acme_admin):
    """Reads stay reads: a session used within the minute is not written again."""
    token = log_in(acme_admin)
    first = last_seen(acme_admin)
    assert load_session_user(token) is not None
    assert last_seen(acme_admin) == first

    age(last_seen_at=timedelta(minutes=2))
    before = last_seen(acme_admin)
    user = load_session_user(token)
    assert user is not None and user.organisation.name  # the loaded user is still usable after the write
    assert last_seen(acme_admin) > before + timedelta(seconds=100)


def test_logging_in_deletes_the_users_expired_sessions(acme_admin):
    log_in(acme_admin)
    age(created_at=timedelta(days=8))
    log_in(acme_admin)
    assert count_sessions(acme_admin) == 1


# --- the list: rule 40 ---------------------------------------------------------------------------


def test_the_list_shows_live_sessions_with_device_address_and_the_current_one_marked(acme_admin):
    log_in(acme_admin, "198.51.100.10", FIREFOX)
    current = log_in(acme_admin, "203.0.113.5", SAFARI)
    other_user = UserFactory(organisation=acme_admin.organisation, client_admin=True)
    log_in(other_user)

    rows = account_sessions.list_sessions(acme_admin, current)

    assert [(row.device, row.ip, row.current) for row in rows] == [
        ("Safari on iOS", "203.0.113.5", True), ("Firefox on Windows", "198.51.100.10", False)]


def test_expired_sessions_are_not_listed(acme_admin):
    log_in(acme_admin)
    age(created_at=timedelta(days=8))
    current = log_in(acme_admin)
    assert [row.current for row in account_sessions.list_sessions(acme_admin, current)] == [True]


@pytest.mark.parametrize(("user_agent", "device"), [
    (FIREFOX, "Firefox on Windows"),
    (SAFARI, "Safari on iOS"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
     "Chrome on Linux"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 "
     "Safari/537.36 Edg/126.0", "Edge on macOS"),
    ("curl/8.5.0", "curl"),
    ("", "Unknown device"),
    (None, "Unknown device"),
])
def test_device_labels(user_agent, device):
    assert account_sessions.device_label(user_agent) == device


def test_the_user_agent_is_kept_truncated(acme_admin):
    log_in(acme_admin, user_agent="x" * 5000)
    db.session.rollback()
    assert db.session.scalar(select(func.length(LoginSession.user_agent))) == 200


# --- ending sessions ------------------------------------------------------------------------------


def test_ending_one_of_ones_sessions_logs_that_device_out(acme_admin):
    current, other = log_in(acme_admin), log_in(acme_admin)
    other_id = next(row.id for row in account_sessions.list_sessions(acme_admin, current) if not row.current)

    assert account_sessions.end_session_of(acme_admin, other_id, current) is False

    assert load_session_user(other) is None and load_session_user(current) is not None
    assert [event.after for event in events("auth.session_ended")] == [{"session_id": other_id}]


def test_ending_the_current_session_says_so(acme_admin):
    current = log_in(acme_admin)
    (row,) = account_sessions.list_sessions(acme_admin, current)
    assert account_sessions.end_session_of(acme_admin, row.id, current) is True
    assert load_session_user(current) is None


def test_another_users_session_is_not_found_and_survives(acme_admin):
    stranger = UserFactory(organisation=acme_admin.organisation, client_admin=True)
    theirs = log_in(stranger)
    (row,) = account_sessions.list_sessions(stranger, theirs)

    with pytest.raises(NotFound):
        account_sessions.end_session_of(acme_admin, row.id)

    assert load_session_user(theirs) is not None and events("auth.session_ended") == []


def test_ending_all_other_sessions_keeps_the_current_one(acme_admin):
    current, *others = [log_in(acme_admin) for _ in range(3)]

    assert account_sessions.end_other_sessions(acme_admin, current) == 2

    assert load_session_user(current) is not None
    assert all(load_session_user(token) is None for token in others)
    assert [event.after for event in events("auth.other_sessions_ended")] == [{"ended": 2}]


def test_a_client_admin_ends_a_members_sessions(acme_admin):
    member = UserFactory(organisation=acme_admin.organisation, member=True)
    tokens = [log_in(member), log_in(member)]

    assert account_sessions.end_member_sessions(acme_admin, member) == 2

    assert all(load_session_user(token) is None for token in tokens)
    (event,) = events("auth.member_sessions_ended")
    assert (event.actor_id, event.target_id, event.after) == (acme_admin.id, member.id, {"ended": 2})


def test_a_site_manager_cannot_end_the_sessions_of_a_client_admin_at_their_site(acme_admin):
    """Nobody manages up (docs/rules.md rule 41b): ending sessions needs every permission the member holds."""
    lyon = SiteFactory(client=acme_admin.organisation, name="Lyon")
    frontdesk = UserFactory(site_manager=True, sites=[lyon])
    token = log_in(acme_admin)

    with pytest.raises(Forbidden):
        account_sessions.end_member_sessions(frontdesk, acme_admin)

    assert load_session_user(token) is not None and events("auth.member_sessions_ended") == []


def test_a_partner_admin_cannot_end_the_sessions_of_finance(nw_admin, finance):
    token = log_in(finance)
    with pytest.raises(Forbidden):
        account_sessions.end_member_sessions(nw_admin, finance)
    assert load_session_user(token) is not None


def test_a_member_cannot_end_anyones_sessions(acme_admin):
    member = UserFactory(organisation=acme_admin.organisation, member=True)
    with pytest.raises(Forbidden):
        account_sessions.end_member_sessions(member, acme_admin)


# --- the identity read with the session (rbac.sessions) ---------------------------------------


@pytest.mark.parametrize("roles", [
    dict(site_manager=True, accountant=True),  # two roles restricted to the same two sites
    dict(client_admin=True),  # one role over the whole client
    dict(member=True),
])
def test_the_session_query_reads_the_same_needs_as_the_role_objects(acme_admin, roles):
    from portal.rbac.needs import needs_for

    lyon = SiteFactory(name="Lyon-2")
    paris = SiteFactory(client=lyon.client, name="Paris-2")
    user = UserFactory(sites=[lyon, paris] if "client_admin" not in roles else None,
                       organisation=lyon.client, **roles)
    token = log_in(user)
    lyon_id, paris_id, client_id = lyon.id, paris.id, lyon.client_id
    db.session.expunge_all()

    loaded = load_session_user(token)

    assert loaded._rbac_identity.provides == needs_for(loaded, None)  # from the role objects, read apart
    if "site_manager" in roles:
        assert ("users.manage", "site", paris_id) in loaded._rbac_identity.provides
        assert ("billing.view", "site", lyon_id) in loaded._rbac_identity.provides
        assert ("users.manage", "client", client_id) not in loaded._rbac_identity.provides
