"""Creating and deactivating users of a client, with their seats."""
from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Site, SubscriptionType, User
from ..models.mixins import utcnow
from ..rbac.permissions import allows
from ..rbac.sessions import end_all_sessions
from . import audit, billing, clock, seats, validation
from .errors import Conflict, Forbidden, NoFreeSeat
from .transactions import write_transaction


def email_taken(email: str) -> bool:
    return db.session.scalar(select(exists().where(User.email == email)))


def create_user(actor, site: Site, subscription_type: SubscriptionType, email, name, *, add_seat=False) -> User:
    """Create an invited user of ``site``'s client holding one seat there.

    Raises ``NoFreeSeat`` (with ``free``) when the site has no free seat of
    that type, unless ``add_seat`` is set: then, for an actor holding
    ``subscriptions.manage``, one seat is bought and taken in the same
    transaction. Commits the user, the seat and their audit events together.
    """
    email = validation.email(email)
    name = validation.text(name, "name", label="name")
    if add_seat and not allows(actor, "subscriptions.manage", site):
        raise Forbidden("Adding a seat needs the subscription management role.", field="add_seat")
    site_id, type_id, client_id = site.id, subscription_type.id, site.client_id
    with write_transaction():
        if email_taken(email):
            raise Conflict("A user with this e-mail address already exists.", field="email")
        if not seats.claim_seat(site_id, type_id):
            if not add_seat:
                raise _no_free_seat(actor, site, subscription_type)
            seats.add_and_claim_seat(site_id, type_id)
            audit.record(actor, "allocation.seat_added", "site", site_id, client_id,
                         after={"subscription_type": subscription_type.code, "added": 1})
            billing.invoice_increase(actor, site, subscription_type, 1)
        user = User(organisation_id=client_id, email=email, name=name, status="invited",
                    site_id=site_id, subscription_type_id=type_id)
        db.session.add(user)
        try:
            db.session.flush()
        except IntegrityError:
            # Another request took the e-mail between our check and our insert.
            raise Conflict("A user with this e-mail address already exists.", field="email") from None
        audit.record(actor, "user.created", "user", user.id, client_id,
                     after={"email": email, "site_id": site_id, "subscription_type": subscription_type.code})
    return user


def _no_free_seat(actor, site, subscription_type) -> NoFreeSeat:
    free = seats.free_seats(site.id, subscription_type.id)
    if allows(actor, "subscriptions.manage", site):
        hint = "Add a seat and create the user, or raise the allocation on the site page."
    else:
        hint = "Ask a finance administrator to add seats for this site."
    return NoFreeSeat(
        f"No free {subscription_type.name} seat at {site.name} ({free} free). {hint}",
        field="subscription_type", free=free,
    )


def deactivate_user(actor, user: User) -> User:
    """Deactivate ``user``: their seat is released and their sessions end now.

    While the client is in its trial the user keeps access and the seat until
    the trial ends (``access_until``); the billing run releases it then. One's
    own account cannot be deactivated (``Conflict``), nor a user twice.
    """
    if actor is not None and user.id == actor.id:
        raise Conflict("You cannot deactivate your own account.")
    user_id, client = user.id, user.organisation
    access_until = client.trial_ends_on if client.is_client and billing.in_trial(client, clock.today()) else None
    with write_transaction():
        changed = db.session.execute(
            update(User)
            .where(User.id == user_id, User.status != "deactivated")
            .values(status="deactivated", deactivated_at=utcnow(), access_until=access_until)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not changed:
            raise Conflict("This user is already deactivated.")
        user = db.session.get(User, user_id, populate_existing=True)
        if access_until is None:
            if user.site_id is not None:
                seats.release_seat(user.site_id, user.subscription_type_id)
            end_all_sessions(user)
        audit.record(actor, "user.deactivated", "user", user_id, user.organisation_id,
                     before={"status": "active"},
                     after={"status": "deactivated", "access_until": access_until and access_until.isoformat()})
    return user
