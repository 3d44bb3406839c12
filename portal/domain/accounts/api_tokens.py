"""API tokens: created once (plain text shown once), stored as a hash, revocable.

A token acts with its user's permissions: authenticating returns the user
with roles loaded, and the API builds its identity with the same rbac code
as a browser login. A revoked or expired token, or one whose user may no
longer log in (deactivated, still invited), authenticates nothing. A
read-only token may only read (docs/rules.md rule 41; the API refuses its
writes in portal/blueprints/api/auth.py).
"""
import functools
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import joinedload

from portal.domain import audit, validation
from portal.domain.errors import Conflict, Invalid
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.i18n import _l
from portal.i18n import gettext as _
from portal.models import ApiToken, User
from portal.models.mixins import utcnow
from portal.models.tokens import hash_token
from portal.rbac.needs import assignments_in, needs_for, remember_identity, with_role_columns

# Tokens are ``secrets.token_urlsafe(32)`` (43 characters); anything much
# longer is refused before it costs a database query.
MAX_TOKEN_LENGTH = 200
# ``last_used_at`` is written at most this often per token, so reads stay reads.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# The longest lifetime one may ask for (ten years); no expiry at all is None.
MAX_EXPIRY_DAYS = 3650


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # the only time the plain token exists


def expiry_days(value, field: str = "expires_in_days") -> int | None:
    """A token lifetime in whole days (1 to MAX_EXPIRY_DAYS), or None (empty: never expires)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    days = validation.whole_number(value, field, label=_l("number of days until the token expires"),
                                   maximum=MAX_EXPIRY_DAYS)
    if days < 1:
        raise Invalid(_("A token expires at least one day after its creation."), field=field)
    return days


def create_token(actor, user: User, name: str | None = None, *, read_only: bool = False,
                 expires_in_days: int | str | None = None) -> IssuedToken:
    """Create a token for ``user``; the plain token is in the result only.

    ``actor`` is who asked (None from the CLI). ``read_only``: the token may
    only read; ``expires_in_days``: it stops working that many days from now
    (None: when revoked). Refuses users who may not log in. Commits, with an
    audit event.
    """
    if user.status != "active":
        raise Conflict(_("%(email)s is not an active user; their token would not work.", email=user.email),
                       field="email")
    name = validation.text(name or "API token", "name", label=_l("token name"), max_length=100)
    days = expiry_days(expires_in_days)
    expires_at = utcnow() + timedelta(days=days) if days else None
    secret = secrets.token_urlsafe(32)
    user_id, organisation_id = user.id, user.organisation_id
    with write_transaction():
        token = ApiToken(user_id=user_id, name=name, token_hash=hash_token(secret), read_only=bool(read_only),
                         expires_at=expires_at)
        db.session.add(token)
        db.session.flush()
        audit.record(actor, "api_token.created", "user", user_id, organisation_id,
                     after={"token_id": token.id, "name": name, "read_only": bool(read_only),
                            "expires_at": expires_at.isoformat() if expires_at else None})
    return IssuedToken(token, secret)


def revoke_token(actor, token: ApiToken) -> ApiToken:
    """Revoke ``token`` at once; revoking it again is a ``Conflict``. Commits, with an audit event."""
    token_id = token.id
    with write_transaction():
        changed = db.session.execute(
            update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow()).execution_options(synchronize_session=False)
        ).rowcount
        if not changed:
            raise Conflict(_("This token is already revoked."))
        token = db.session.get(ApiToken, token_id, populate_existing=True)
        audit.record(actor, "api_token.revoked", "user", token.user_id, token.user.organisation_id,
                     after={"token_id": token_id, "name": token.name})
    return token


def tokens_of(user: User) -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))


def find_token(token_id: int) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise Invalid(_("There is no API token %(id)s.", id=token_id), field="token_id")
    return token


@functools.cache
def _token_user_statement():
    """Built once: every API request runs it, and building it cost more than running it.

    The live token behind ``token_hash`` (at ``now``) and its user with organisation, one row per role and
    site of the user (``with_role_columns``), as the browser session loads its user.
    """
    return (
        with_role_columns(select(ApiToken, User).join(User, ApiToken.user_id == User.id))
        .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None),
               or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > bindparam("now")),
               User.status != "invited")
        .options(joinedload(User.organisation))
    )


def authenticate(secret: str) -> tuple[ApiToken, User] | None:
    """The live token and its user (with its identity) behind ``secret``, or None (unknown, revoked, expired).

    One statement; ``last_used_at`` is refreshed at most once a minute, in its own short write transaction.
    """
    if not secret or len(secret) > MAX_TOKEN_LENGTH:
        return None
    now = utcnow()
    rows = db.session.execute(_token_user_statement(), {"token_hash": hash_token(secret), "now": now}).all()
    if not rows:
        return None
    token, user = rows[0][:2]
    # The same test as a browser login: deactivated users lose access (at the
    # end of the trial when deactivated during one, docs/rules.md rule 5).
    if not user.is_active:
        return None
    remember_identity(user, needs_for(user, assignments_in(rows)))  # kept across the commit below
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
        token_id = token.id
        with write_transaction():
            db.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now)
                               .execution_options(synchronize_session=False))
    return token, user
