"""Two-step verification without HTTP (docs/rules.md rule 38): enrolment, codes, recovery codes, the limit, who must."""
import base64
import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import func, select

from portal.domain.accounts import authentication, two_step
from portal.domain.errors import Conflict, Forbidden, Invalid
from portal.extensions import db
from portal.models import LoginSession, RecoveryCode, TwoStepAttempt
from portal.models.mixins import utcnow
from portal.models.tokens import hash_token
from tests.factories import PASSWORD, ClientFactory, PartnerFactory, UserFactory
from tests.helpers import audit_events as events
from tests.helpers import reloaded as reload


@pytest.fixture
def clock(monkeypatch):
    """The two-step service's clock, frozen (a test moves it with ``clock.move(seconds)``)."""

    class Clock:
        now = utcnow()

        def move(self, seconds):
            self.now += timedelta(seconds=seconds)

    frozen = Clock()
    monkeypatch.setattr(two_step, "utcnow", lambda: frozen.now)
    return frozen


def code(secret, offset=0):
    """The code of ``secret`` for the service's current step plus ``offset`` steps."""
    return pyotp.TOTP(secret).generate_otp(two_step.current_step() + offset)


def attempts(user) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(TwoStepAttempt.id)).where(TwoStepAttempt.user_id == user.id))


def enrolled(user, clock) -> tuple[str, list[str]]:
    """Enrol ``user``: (the secret, the recovery codes); the clock then moves two steps on (the enrolment's
    code is used: its step and those before it are spent)."""
    secret = two_step.enrolment_secret(user)
    codes = two_step.confirm_enrolment(user, code(secret))
    clock.move(2 * two_step.STEP_SECONDS)
    return secret, codes


def second_step(user, entered):
    return authentication.log_in_second_step(user.id, entered, "127.0.0.1")


@pytest.fixture
def user():
    return UserFactory(partner_admin=True, email="alice@northwind.example")


# --- enrolment ---------------------------------------------------------------------------


def test_the_secret_is_160_bits_of_base32_kept_until_confirmed_and_stored_encrypted(user):
    secret = two_step.enrolment_secret(user)

    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert len(base64.b32decode(secret)) * 8 == 160
    assert two_step.enrolment_secret(reload(user)) == secret  # a reload shows the same one
    stored = reload(user).two_step_secret
    assert stored and secret not in stored
    assert not two_step.enabled(reload(user))
    assert "otpauth://totp/" in two_step.provisioning_uri(user, secret) and secret in two_step.provisioning_uri(
        user, secret)


def test_a_right_code_turns_it_on_with_ten_single_use_recovery_codes_stored_as_hashes(user, clock):
    secret = two_step.enrolment_secret(user)

    codes = two_step.confirm_enrolment(user, code(secret))

    assert two_step.enabled(reload(user))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}", c) for c in codes)
    stored = db.session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).all()
    assert sorted(stored) == sorted(hash_token(c.replace("-", "").upper()) for c in codes)
    assert not any(c in s or c.replace("-", "") in s for c in codes for s in stored)
    assert events("two_step.enabled") == 1
    with pytest.raises(Conflict):
        two_step.enrolment_secret(reload(user))  # never shown again once on


@pytest.mark.parametrize("entered", ["12345", "1234567", "abcdef", "12 34 5", "", None, "١٢٣٤٥٦", "123456" * 20,
                                     "aaaa-bbbb-cccc-dddd"])
def test_a_code_that_is_not_6_digits_is_refused_before_anything_is_counted(user, entered):
    two_step.enrolment_secret(user)

    with pytest.raises(Invalid) as refused:
        two_step.confirm_enrolment(user, entered)

    assert refused.value.field == "code" and "6-digit" in refused.value.message
    assert not two_step.enabled(reload(user)) and attempts(user) == 0


def test_enrolment_confirmed_with_another_users_secret_is_refused(user, clock):
    mallory = UserFactory(partner_admin=True, organisation=user.organisation)
    two_step.enrolment_secret(user)
    mallorys_secret = two_step.enrolment_secret(mallory)

    with pytest.raises(two_step.WrongCode):
        two_step.confirm_enrolment(user, code(mallorys_secret))

    assert not two_step.enabled(reload(user)) and not two_step.enabled(reload(mallory))
    assert attempts(user) == 1 and events("two_step.failed") == 1
    assert db.session.scalar(select(func.count(RecoveryCode.id))) == 0


def test_confirming_without_a_pending_secret_or_twice_is_a_conflict(user, clock):
    with pytest.raises(Conflict):
        two_step.confirm_enrolment(user, "123456")
    enrolled(user, clock)
    with pytest.raises(Conflict):
        two_step.confirm_enrolment(reload(user), "123456")


# --- codes at login --------------------------------------------------------------------------


def test_a_password_alone_starts_no_session_for_an_enrolled_user(user, clock):
    enrolled(user, clock)

    logged = authentication.log_in(user.email, PASSWORD, "127.0.0.1")

    assert logged.session_token is None
    assert db.session.scalar(select(func.count(LoginSession.id))) == 0
    assert events("auth.password_accepted") == 1 and events("auth.login") == 0


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_codes_of_the_previous_current_and_next_step_are_accepted(user, clock, offset):
    secret, _ = enrolled(user, clock)

    logged = second_step(user, code(secret, offset))

    assert logged.session_token
    assert db.session.scalar(select(func.count(LoginSession.id)).where(LoginSession.user_id == user.id)) == 1


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_codes_further_away_are_refused(user, clock, offset):
    secret, _ = enrolled(user, clock)
    clock.move(two_step.STEP_SECONDS * 3)  # so that -3 is after the enrolment's step

    with pytest.raises(two_step.WrongCode):
        second_step(user, code(secret, offset))

    assert db.session.scalar(select(func.count(LoginSession.id))) == 0


def test_a_code_used_once_is_refused_inside_its_window(user, clock):
    secret, _ = enrolled(user, clock)
    used = code(secret)
    second_step(user, used)
    last_step = reload(user).two_step_last_used_step

    with pytest.raises(two_step.WrongCode):
        second_step(user, used)
    clock.move(two_step.STEP_SECONDS)  # the same code is still inside the window (previous step)
    with pytest.raises(two_step.WrongCode):
        second_step(user, used)

    assert reload(user).two_step_last_used_step == last_step
    assert db.session.scalar(select(func.count(LoginSession.id))) == 1


def test_the_enrolment_code_cannot_log_in(user, clock):
    secret = two_step.enrolment_secret(user)
    first = code(secret)
    two_step.confirm_enrolment(user, first)

    with pytest.raises(two_step.WrongCode):
        second_step(user, first)


def test_an_older_code_after_a_newer_one_is_refused(user, clock):
    secret, _ = enrolled(user, clock)
    second_step(user, code(secret, 1))

    with pytest.raises(two_step.WrongCode):
        second_step(user, code(secret, 0))


def test_a_recovery_code_logs_in_once(user, clock):
    _, codes = enrolled(user, clock)

    assert second_step(user, codes[0].upper().replace("-", " ")).session_token  # case, spaces and dashes: no matter
    with pytest.raises(two_step.WrongCode):
        second_step(user, codes[0])

    assert two_step.recovery_codes_left(user) == 9
    assert db.session.scalar(select(func.count(LoginSession.id))) == 1


def test_another_users_recovery_code_is_refused(user, clock):
    other = UserFactory(partner_admin=True, organisation=user.organisation)
    enrolled(user, clock)
    _, others = enrolled(other, clock)

    with pytest.raises(two_step.WrongCode):
        second_step(user, others[0])
    assert two_step.recovery_codes_left(other) == 10


def test_thirty_guesses_in_a_minute_are_throttled_audited_and_change_nothing(user, clock):
    secret, _ = enrolled(user, clock)
    before = reload(user).two_step_last_used_step
    outcomes = []
    for guess in range(30):
        try:
            second_step(user, f"{guess:06d}" if f"{guess:06d}" != code(secret) else "999999")
        except (two_step.WrongCode, two_step.TooManyAttempts) as error:
            outcomes.append(error)
        clock.move(2)

    assert [type(e) for e in outcomes] == [two_step.WrongCode] * 10 + [two_step.TooManyAttempts] * 20
    assert all(0 < e.extra["retry_after"] <= 15 * 60 for e in outcomes[10:])
    with pytest.raises(two_step.TooManyAttempts):  # even the right code, while throttled
        second_step(user, code(secret))
    assert events("two_step.failed") == 10 and events("two_step.throttled") == 21
    assert reload(user).two_step_last_used_step == before
    assert db.session.scalar(select(func.count(LoginSession.id))) == 0 and attempts(user) == 10


def test_the_limit_is_per_user_and_passes_with_its_window(user, clock):
    other = UserFactory(partner_admin=True, organisation=user.organisation)
    secret, _ = enrolled(user, clock)
    others_secret, _ = enrolled(other, clock)
    for _ in range(10):
        with pytest.raises(two_step.WrongCode):
            second_step(user, "000000" if code(secret) != "000000" else "111111")

    assert second_step(other, code(others_secret)).session_token  # someone else is not slowed down
    clock.move(15 * 60 + 1)
    assert second_step(user, code(secret)).session_token


def test_a_deactivated_user_cannot_finish_a_login(user, clock):
    secret, _ = enrolled(user, clock)
    reload(user).status = "deactivated"
    db.session.commit()

    with pytest.raises(two_step.WrongCode):
        second_step(user, code(secret))


# --- turning it off ----------------------------------------------------------------------------


def test_turning_it_off_needs_a_current_code_or_the_password(user, clock):
    secret, _ = enrolled(user, clock)

    with pytest.raises(Invalid):
        two_step.disable(reload(user))
    with pytest.raises(two_step.WrongCode) as wrong:
        two_step.disable(reload(user), password="not the password")
    assert wrong.value.field == "password"
    with pytest.raises(two_step.WrongCode):
        two_step.disable(reload(user), code="000000" if code(secret) != "000000" else "111111")
    assert two_step.enabled(reload(user)) and attempts(user) == 2

    two_step.disable(reload(user), code=code(secret))

    off = reload(user)
    assert not two_step.enabled(off) and off.two_step_secret is None
    assert db.session.scalar(select(func.count(RecoveryCode.id))) == 0
    assert events("two_step.disabled") == 1
    with pytest.raises(Conflict):
        two_step.disable(off, password=PASSWORD)


def test_the_password_turns_it_off_too(user, clock):
    enrolled(user, clock)
    two_step.disable(reload(user), password=PASSWORD)
    assert not two_step.enabled(reload(user))
    assert authentication.log_in(user.email, PASSWORD, "127.0.0.1").session_token  # one step again


# --- who must use it ---------------------------------------------------------------------------


def test_an_organisation_requires_it_of_its_users_and_the_operator_of_every_partner():
    operator = UserFactory(operator_admin=True)
    northwind = PartnerFactory()
    partner_admin = UserFactory(organisation=northwind, partner_admin=True)
    client = ClientFactory(parent=northwind)
    client_admin = UserFactory(organisation=client, client_admin=True)
    assert not any(two_step.must_enrol(u) for u in (operator, partner_admin, client_admin))

    two_step.set_requirement(partner_admin, northwind, True)
    assert two_step.must_enrol(reload(partner_admin)) and not two_step.must_enrol(reload(client_admin))

    two_step.set_requirement(partner_admin, reload(partner_admin).organisation, False)
    two_step.set_requirement(operator, operator.organisation, True)
    assert two_step.must_enrol(reload(operator)) and two_step.must_enrol(reload(partner_admin))
    assert not two_step.must_enrol(reload(client_admin))  # clients decide for themselves
    assert two_step.operator_requires_it_for_partners(reload(partner_admin).organisation)
    assert events("organisation.two_step_required") == 3


def test_an_enrolled_user_of_a_requiring_organisation_is_not_sent_to_enrol(user, clock):
    two_step.set_requirement(user, user.organisation, True)
    enrolled(reload(user), clock)
    assert not two_step.must_enrol(reload(user))


def test_only_those_holding_roles_manage_there_may_require_it():
    northwind = PartnerFactory()
    support = UserFactory(organisation=northwind, partner_support=True)
    other_admin = UserFactory(partner_admin=True)

    for actor in (support, other_admin):
        with pytest.raises(Forbidden):
            two_step.set_requirement(actor, northwind, True)

    db.session.rollback()
    assert not db.session.get(type(northwind), northwind.id).require_two_step
    assert events("organisation.two_step_required") == 0


def test_the_same_code_sent_twice_at_once_logs_in_once(user, app):
    import threading

    secret = two_step.enrolment_secret(user)
    two_step.confirm_enrolment(user, code(secret, -1))
    user_id, entered = user.id, code(secret, 1)
    barrier, outcomes = threading.Barrier(4), []

    def log_in():
        with app.app_context():
            barrier.wait()
            try:
                authentication.log_in_second_step(user_id, entered, "127.0.0.1")
                outcomes.append("in")
            except two_step.WrongCode:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=log_in) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["in", "refused", "refused", "refused"]
    db.session.rollback()
    assert db.session.scalar(select(func.count(LoginSession.id))) == 1
