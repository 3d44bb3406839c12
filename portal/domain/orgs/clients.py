"""Clients, their sites and their administrators: creating, renaming, inviting."""
from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError

from portal import clock
from portal.domain import audit, validation
from portal.domain.accounts import grants, staff
from portal.domain.billing import invoices
from portal.domain.errors import Conflict, Forbidden, Invalid
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.i18n import LANGUAGES, _l
from portal.i18n import gettext as _
from portal.models import BILLING_CYCLES, Organisation, Site, User
from portal.rbac.permissions import manage_client, may


def create_client(actor, partner: Organisation, name, billing_cycle, *, trial_days=None,
                  language="en") -> Organisation:
    """Create a client of ``partner`` with its billing cycle, an optional trial and its language.

    Its first period starts today, invoiced at once, or when the trial ends.
    ``language`` is the one its invitations are written in (docs/rules.md rule 37).
    """
    name = validation.text(name, "name", label=_l("client name"))
    if billing_cycle not in BILLING_CYCLES:
        raise Invalid(_("Choose a billing cycle: monthly or annual."), field="billing_cycle")
    language = invitation_language(language)
    if trial_days is not None:
        trial_days = validation.whole_number(trial_days, "trial_days", label=_l("trial length in days"),
                                             maximum=invoices.MAX_TRIAL_DAYS)
    partner_id = partner.id
    with write_transaction():
        # First: the partner's row stays locked to the commit, so its creators take turns.
        add_clients(partner_id, 1)
        if db.session.scalar(select(exists().where(
                Organisation.parent_id == partner_id, Organisation.name == name))):
            raise Conflict(_client_taken(name), field="name")
        client = Organisation(kind="client", name=name, parent_id=partner_id, billing_cycle=billing_cycle,
                              language=language)
        db.session.add(client)
        _flush_unique(_client_taken(name))
        audit.record(actor, "client.created", "client", client.id, client.id,
                     after={"name": name, "billing_cycle": billing_cycle, "trial_days": trial_days,
                            "language": language})
        invoices.start_billing(actor, client, clock.today(), trial_days=trial_days)
    return client


def add_clients(partner_id: int, number: int) -> None:
    """Count ``number`` clients just created under the partner, inside the caller's transaction.

    The one writer of ``Organisation.client_count`` (the client list's total): every path
    that creates clients calls it in the transaction that inserts them.
    """
    db.session.execute(update(Organisation).where(Organisation.id == partner_id)
                       .values(client_count=Organisation.client_count + number))


def create_site(actor, client: Organisation, name) -> Site:
    name = validation.text(name, "name", label=_l("site name"))
    client_id = client.id
    with write_transaction():
        if db.session.scalar(select(exists().where(Site.client_id == client_id, Site.name == name))):
            raise Conflict(_site_taken(name), field="name")
        site = Site(client_id=client_id, name=name)
        db.session.add(site)
        _flush_unique(_site_taken(name))
        audit.record(actor, "site.created", "site", site.id, client_id, after={"name": name})
    return site


def rename_client(actor, client: Organisation, name) -> Organisation:
    """Rename ``client``; the name stays unique among its partner's clients.

    Needs ``clients.manage`` on the client (``Forbidden``). Commits with an
    audit event when the name changed.
    """
    if not may(actor, manage_client(client)):
        raise Forbidden(_("Renaming a client needs the clients.manage permission."), field="name")
    name = validation.text(name, "name", label=_l("client name"))
    client_id, partner_id = client.id, client.parent_id
    with write_transaction():
        before = db.session.scalar(select(Organisation.name).where(Organisation.id == client_id).with_for_update())
        if name != before:
            if db.session.scalar(select(exists().where(
                    Organisation.parent_id == partner_id, Organisation.name == name, Organisation.id != client_id))):
                raise Conflict(_client_taken(name), field="name")
            try:
                db.session.execute(update(Organisation).where(Organisation.id == client_id).values(name=name)
                                   .execution_options(synchronize_session=False))
            except IntegrityError:  # a concurrent rename or creation took the name
                raise Conflict(_client_taken(name), field="name") from None
            audit.record(actor, "client.renamed", "client", client_id, client_id,
                         before={"name": before}, after={"name": name})
    return db.session.get(Organisation, client_id, populate_existing=True)


def invite_client_administrator(actor, client: Organisation, email, name, *, send: str = "now") -> User:
    """Invite an administrator of ``client``: the first one, or another (docs/rules.md rule 27b).

    So a client created in the portal can run itself. Client staff hold no
    seat. The caller has checked ``manage_client``. Commits with a
    ``user.invited`` audit event; the invitation is e-mailed after the commit
    (``send="later"`` leaves it unsent).
    """
    if client.kind != "client":
        raise Invalid(_("Client administrators are invited to clients only."))
    if send not in ("now", "later"):
        raise Invalid(_("Choose when to send the invitation: now or later."), field="send_invitation")
    return staff.invite_staff(actor, client, email, name, grants.ADMIN_ROLES["client"], send=send)


def invitation_language(value) -> str:
    """The language an organisation's invitations are written in (docs/rules.md rule 37), else ``Invalid``."""
    if value not in LANGUAGES:
        raise Invalid(_("Choose the language of invitations: English, French or Polish."), field="language")
    return value


def _client_taken(name: str) -> str:
    return _("A client named “%(name)s” already exists.", name=name)


def _site_taken(name: str) -> str:
    return _("This client already has a site named “%(name)s”.", name=name)


def _flush_unique(message: str) -> None:
    """Flush; a concurrent request that took the same name first becomes a Conflict."""
    try:
        db.session.flush()
    except IntegrityError:
        raise Conflict(message, field="name") from None
