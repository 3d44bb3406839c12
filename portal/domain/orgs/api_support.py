"""Small service pieces the API needs that the screens have not needed yet.

Renaming a client is a business action (one transaction, audited, the same
duplicate-name rule as creation); ``allocation_rows`` is a read model that
batches ``seats.seat_rows`` over a page of sites.
"""
from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError

from portal.domain import audit, validation
from portal.domain.errors import Conflict, Forbidden
from portal.domain.seats import counters as seats
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.models import Allocation, Organisation
from portal.rbac.permissions import allows


def rename_client(actor, client: Organisation, name) -> Organisation:
    """Rename ``client``; the name stays unique among its partner's clients.

    Needs ``clients.manage`` on the client (``Forbidden``). Commits with an
    audit event when the name changed.
    """
    if not allows(actor, "clients.manage", client):
        raise Forbidden("Renaming a client needs the clients.manage permission.", field="name")
    name = validation.text(name, "name", label="client name")
    client_id, partner_id = client.id, client.parent_id
    with write_transaction():
        before = db.session.scalar(select(Organisation.name).where(Organisation.id == client_id).with_for_update())
        if name != before:
            if db.session.scalar(select(exists().where(
                    Organisation.parent_id == partner_id, Organisation.name == name, Organisation.id != client_id))):
                raise Conflict(f"A client named {name!r} already exists.", field="name")
            try:
                db.session.execute(update(Organisation).where(Organisation.id == client_id).values(name=name)
                                   .execution_options(synchronize_session=False))
            except IntegrityError:  # a concurrent rename or creation took the name
                raise Conflict(f"A client named {name!r} already exists.", field="name") from None
            audit.record(actor, "client.renamed", "client", client_id, client_id,
                         before={"name": before}, after={"name": name})
    return db.session.get(Organisation, client_id, populate_existing=True)


def allocation_rows(site_ids: list[int]) -> dict[int, list[seats.SeatRow]]:
    """For each site, one row per catalogue type (never allocated: 0 / 0), in two statements."""
    types = seats.catalogue()
    counters = {
        (a.site_id, a.subscription_type_id): a
        for a in db.session.scalars(select(Allocation).where(Allocation.site_id.in_(site_ids)))
    } if site_ids else {}
    rows = {}
    for site_id in site_ids:
        rows[site_id] = []
        for subscription_type in types:
            allocation = counters.get((site_id, subscription_type.id))
            rows[site_id].append(seats.SeatRow(subscription_type, allocation.allocated if allocation else 0,
                                               allocation.consumed if allocation else 0))
    return rows
