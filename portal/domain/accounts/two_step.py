"""Two-step verification (docs/rules.md rule 38): TOTP codes (RFC 6238, pyotp), recovery codes, the attempt limit.

- The secret is 160 random bits (32 base32 characters). It is stored
  encrypted (Fernet, with a key derived from ``TWO_STEP_KEY`` or else
  ``SECRET_KEY``), so a copy of the database alone gives no working codes; it
  is shown only while enrolling, never once enrolment is confirmed.
- A code of the previous, current or next 30-second step is accepted, but only
  for a step after the last accepted one (``two_step_last_used_step``): a code
  cannot be used twice, nor an older one after a newer one.
- Ten recovery codes are made when enrolment is confirmed and shown once. Each
  is 80 random bits, stored as its SHA-256 (``hash_token``): with that much
  entropy a leaked hash cannot be reversed by guessing, which is what a slow
  hash (Argon2) buys for low-entropy passwords; a fast hash keeps the login's
  check of a code cheap. Each works once.
- At most 10 wrong attempts per user in 15 minutes (codes, and passwords typed
  to turn it off): they are rows of ``two_step_attempts``, so every app server
  counts the same ones; beyond, ``TooManyAttempts`` (429 with Retry-After).
  Only wrong attempts count (a right code is no guess), like the login
  lockout of rule 20; text that cannot be a code is refused before it counts.
  Every wrong and every throttled attempt is audited.
- Each attempt is one write transaction holding the user's row lock, so
  concurrent guesses are counted one after the other and a code accepted by
  one request is a replay for the next.
- Who must use it: an organisation's ``require_two_step`` covers all its
  users; the operator's also covers every partner's users (clients decide for
  themselves).
"""
import base64
import hmac
import re
import secrets
from datetime import timedelta

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, func, select, update

from portal.domain import audit, sealing
from portal.domain.accounts.passwords import check_password
from portal.domain.errors import Conflict, DomainError, Forbidden, Invalid
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.i18n import _l, ngettext
from portal.i18n import gettext as _
from portal.models import Organisation, RecoveryCode, TwoStepAttempt, User
from portal.models.mixins import utcnow
from portal.models.tokens import hash_token
from portal.rbac import permissions

ISSUER = "Partner Portal"
STEP_SECONDS = 30
SECRET_LENGTH = 32  # base32 characters: 160 bits
MAX_ATTEMPTS = 10
WINDOW = timedelta(minutes=15)
RECOVERY_CODE_COUNT = 10
MAX_INPUT = 64

_TOTP_CODE = re.compile(r"[0-9]{6}")
_RECOVERY_CODE = re.compile(r"[A-Z2-7]{16}")
CODE_SHAPE = _l("Enter the 6-digit code your authenticator app shows.")
CODE_OR_RECOVERY_SHAPE = _l("Enter the 6-digit code your authenticator app shows, or one of your recovery codes.")
WRONG_CODE = _l("That code is not correct, or it was already used. Try the next code your app shows.")
WRONG_PASSWORD = _l("That password is not correct.")


class WrongCode(DomainError):
    code, status = "wrong_code", 422


class TooManyAttempts(DomainError):
    code, status = "too_many_attempts", 429

    def __init__(self, retry_after: int):
        minutes = -(-retry_after // 60)
        super().__init__(ngettext("Too many wrong codes. Try again in %(num)d minute.",
                                  "Too many wrong codes. Try again in %(num)d minutes.", minutes),
                         field="code", retry_after=retry_after)


# --- who -------------------------------------------------------------------------------


def enabled(user: User) -> bool:
    return user.two_step_enabled_at is not None


def required_for(user: User) -> bool:
    """Whether ``user``'s organisation (or, for a partner, the operator) requires two-step verification."""
    organisation = user.organisation
    if organisation.require_two_step:
        return True
    if organisation.kind == "partner" and organisation.parent is not None:
        return bool(organisation.parent.require_two_step)  # the operator
    return False


def must_enrol(user: User) -> bool:
    """Required but not on yet: the user is sent to enrolment before anything else."""
    return not enabled(user) and required_for(user)


def operator_requires_it_for_partners(organisation: Organisation) -> bool:
    """For a partner's members page: the operator's flag already covers this partner."""
    if organisation.kind != "partner" or organisation.parent_id is None:
        return False
    operator = db.session.get(Organisation, organisation.parent_id)
    return bool(operator and operator.require_two_step)


def set_requirement(actor: User, organisation: Organisation, required: bool) -> None:
    """Require (or stop requiring) two-step verification of the organisation's users (roles.manage there)."""
    if actor.organisation_id != organisation.id or not permissions.may(actor, permissions.manage_roles(organisation)):
        raise Forbidden(_("Only an administrator of this organisation can change this."))
    required = bool(required)
    organisation_id = organisation.id
    with write_transaction():
        before = db.session.scalar(select(Organisation.require_two_step).where(Organisation.id == organisation_id)
                                   .with_for_update())
        if before == required:
            return
        db.session.execute(update(Organisation).where(Organisation.id == organisation_id)
                           .values(require_two_step=required))
        audit.record(actor, "organisation.two_step_required", "organisation", organisation_id, organisation_id,
                     before={"require_two_step": before}, after={"require_two_step": required})


# --- the secret ----------------------------------------------------------------------


def _fernet() -> Fernet:
    return sealing.fernet(b"two-step secret", "TWO_STEP_KEY")


def _encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def _decrypt(stored: str | None) -> str | None:
    """The secret, or None when there is none or it was encrypted with another key."""
    if not stored:
        return None
    try:
        return _fernet().decrypt(stored.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def enrolment_secret(user: User) -> str:
    """The secret being enrolled, made on the first call: shown (text and QR code) until confirmed."""
    if enabled(user):
        raise Conflict(_("Two-step verification is already on."))
    user_id = user.id
    with write_transaction():
        stored = db.session.scalar(select(User.two_step_secret).where(User.id == user_id).with_for_update())
        secret = _decrypt(stored)
        if secret is None:  # none yet, or unreadable since the key changed: a new one
            secret = pyotp.random_base32(SECRET_LENGTH)
            db.session.execute(update(User).where(User.id == user_id, User.two_step_enabled_at.is_(None))
                               .values(two_step_secret=_encrypt(secret), two_step_last_used_step=None))
            audit.record(user, "two_step.enrolment_started", "user", user_id, user.organisation_id)
    return secret


def provisioning_uri(user: User, secret: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(name=user.email, issuer_name=ISSUER)


def current_step() -> int:
    return int(utcnow().timestamp()) // STEP_SECONDS


def _matching_step(secret: str | None, code: str, last_used: int | None) -> int | None:
    """The step (previous, current or next) whose code is ``code`` and comes after ``last_used``."""
    if secret is None:
        return None
    totp, now = pyotp.TOTP(secret, interval=STEP_SECONDS), current_step()
    for step in (now - 1, now, now + 1):
        if (last_used is None or step > last_used) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


# --- codes -----------------------------------------------------------------------------


def _parse(code, *, recovery: bool) -> tuple[str, str]:
    """("totp", "123456") or ("recovery", "ABCD…"): the shape of a code, or ``Invalid`` (nothing is counted)."""
    text = "".join(code.split()) if isinstance(code, str) else ""  # apps show "123 456"
    if len(text) <= MAX_INPUT:
        if _TOTP_CODE.fullmatch(text):
            return "totp", text
        candidate = text.replace("-", "").upper()
        if recovery and _RECOVERY_CODE.fullmatch(candidate):
            return "recovery", candidate
    raise Invalid(CODE_OR_RECOVERY_SHAPE if recovery else CODE_SHAPE, field="code")


def _new_recovery_codes() -> list[str]:
    """Ten codes of 80 random bits, written ``abcd-efgh-ijkl-mnop`` (base32: no 0/O, 1/l mix-ups)."""
    codes = []
    for _number in range(RECOVERY_CODE_COUNT):
        raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()
        codes.append("-".join(raw[i:i + 4] for i in range(0, 16, 4)))
    return codes


def _check_code(kind: str, text: str):
    """The check of one code against the locked user: what it was ("code", "recovery code"), or None."""

    def check(user: User) -> str | None:
        if kind == "totp":
            step = _matching_step(_decrypt(user.two_step_secret), text, user.two_step_last_used_step)
            if step is None:
                return None
            user.two_step_last_used_step = step
            return "code"
        row = db.session.scalar(select(RecoveryCode).where(
            RecoveryCode.user_id == user.id, RecoveryCode.code_hash == hash_token(text),
            RecoveryCode.used_at.is_(None)))
        if row is None:
            return None
        row.used_at = utcnow()
        return "recovery code"

    return check


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(select(func.count(RecoveryCode.id)).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)))


# --- attempts --------------------------------------------------------------------------


def _retry_after(user_id: int) -> int | None:
    """Seconds until ``user_id`` may try a code again, or None when under the limit."""
    count, oldest = db.session.execute(
        select(func.count(TwoStepAttempt.id), func.min(TwoStepAttempt.at))
        .where(TwoStepAttempt.user_id == user_id, TwoStepAttempt.at > utcnow() - WINDOW)).one()
    if count < MAX_ATTEMPTS:
        return None
    return max(1, int((oldest + WINDOW - utcnow()).total_seconds()) + 1)


def _attempt(user_id: int, action: str, check, on_success, *, wrong: str = WRONG_CODE, field: str = "code"):
    """Try ``check`` for the user in one write transaction under the user's row lock.

    Throttled: audited, ``TooManyAttempts``. ``check(user)`` None: the attempt
    is stored and audited, ``WrongCode``. Otherwise ``on_success(user, how)``
    runs in the same transaction and its result is returned.
    """
    refusal, result = None, None
    with write_transaction():
        user = db.session.scalar(select(User).where(User.id == user_id).with_for_update()
                                 .execution_options(populate_existing=True))
        wait = _retry_after(user_id)
        if wait is not None:
            audit.record(user, "two_step.throttled", "user", user_id, user.organisation_id, after={"action": action})
            refusal = TooManyAttempts(wait)
        elif (how := check(user)) is None:
            db.session.execute(delete(TwoStepAttempt).where(TwoStepAttempt.at < utcnow() - WINDOW))
            db.session.add(TwoStepAttempt(user_id=user_id))
            audit.record(user, "two_step.failed", "user", user_id, user.organisation_id, after={"action": action})
            refusal = WrongCode(wrong, field=field)
        else:
            result = on_success(user, how)
    if refusal is not None:
        raise refusal
    return result


def confirm_enrolment(user: User, code) -> list[str]:
    """Turn two-step verification on with a code of the secret being enrolled; the ten recovery codes (shown once)."""
    kind, text = _parse(code, recovery=False)
    if enabled(user):
        raise Conflict(_("Two-step verification is already on."))
    codes = _new_recovery_codes()
    check = _check_code(kind, text)

    def check_pending(locked: User) -> str | None:
        if locked.two_step_enabled_at is not None or locked.two_step_secret is None:
            raise Conflict(_("Two-step verification changed meanwhile. Reload the page."))
        return check(locked)  # the secret stored for this user: another user's code cannot match

    def turn_on(locked: User, _how) -> list[str]:
        locked.two_step_enabled_at = utcnow()
        db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == locked.id))
        db.session.add_all(RecoveryCode(user_id=locked.id, code_hash=hash_token(c.replace("-", "").upper()))
                           for c in codes)
        audit.record(locked, "two_step.enabled", "user", locked.id, locked.organisation_id)
        return codes

    return _attempt(user.id, "enrol", check_pending, turn_on)


def disable(user: User, *, code=None, password=None) -> None:
    """Turn two-step verification off, confirmed by a current (or recovery) code or by the password."""
    if not enabled(user):
        raise Conflict(_("Two-step verification is not on."))
    code = code.strip() if isinstance(code, str) else ""
    if code:
        check, wrong, field = _check_code(*_parse(code, recovery=True)), WRONG_CODE, "code"
    elif isinstance(password, str) and password:
        # Argon2 is slow on purpose: verified before the row lock is taken.
        valid = check_password(user.password_hash, password[:1000])
        check, wrong, field = (lambda _user: "password" if valid else None), WRONG_PASSWORD, "password"
    else:
        raise Invalid(_("Enter a code from your authenticator app, or your password."), field="code")

    def check_on(locked: User) -> str | None:
        if locked.two_step_enabled_at is None:
            raise Conflict(_("Two-step verification is not on."))
        return check(locked)

    def turn_off(locked: User, how: str) -> None:
        locked.two_step_secret = locked.two_step_enabled_at = locked.two_step_last_used_step = None
        db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == locked.id))
        audit.record(locked, "two_step.disabled", "user", locked.id, locked.organisation_id,
                     after={"confirmed_with": how})

    _attempt(user.id, "disable", check_on, turn_off, wrong=wrong, field=field)


def check_login_code(user_id: int, code, on_success):
    """The second step of a login: a current code or a recovery code, then ``on_success(user, how)``.

    ``portal.domain.accounts.authentication`` passes the function that opens
    the login session, so the code is used up and the session starts in one
    transaction.
    """
    kind, text = _parse(code, recovery=True)
    check = _check_code(kind, text)

    def check_enabled(locked: User) -> str | None:
        return check(locked) if locked.two_step_enabled_at is not None and locked.is_active else None

    return _attempt(user_id, "login", check_enabled, on_success)
