"""The factories of tests/factories.py leave the database as the services would."""
import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Allocation, Invoice, InvoiceSequence, Organisation, PartnerSeatTotal, Site, User
from portal.rbac.permissions import may, view_client
from tests.factories import (
    AllocationFactory,
    ClientFactory,
    OperatorFactory,
    PartnerFactory,
    SeatHolderFactory,
    SiteFactory,
    SubscriptionTypeFactory,
    UserFactory,
)


def partner_totals(partner):
    """{type id: allocated * 1000 + consumed} as the partner's totals say."""
    db.session.rollback()
    return dict(db.session.execute(
        select(PartnerSeatTotal.subscription_type_id, PartnerSeatTotal.allocated * 1000 + PartnerSeatTotal.consumed)
        .where(PartnerSeatTotal.partner_id == partner.id)).all())


def summed_allocations(partner):
    """The same, summed from the partner's clients' allocations."""
    return dict(db.session.execute(
        select(Allocation.subscription_type_id, func.sum(Allocation.allocated) * 1000 + func.sum(Allocation.consumed))
        .join(Site, Allocation.site_id == Site.id).join(Organisation, Site.client_id == Organisation.id)
        .where(Organisation.parent_id == partner.id)
        .group_by(Allocation.subscription_type_id)).all())


def test_one_operator_above_every_partner():
    first, second = PartnerFactory(), PartnerFactory()
    assert first.parent_id == second.parent_id == OperatorFactory().id
    assert db.session.scalar(select(func.count()).where(Organisation.kind == "operator")) == 1


def test_a_partner_has_its_invoice_sequence():
    partner = PartnerFactory(invoice_prefix="NW")
    assert db.session.get(InvoiceSequence, partner.id).prefix == "NW"
    other = PartnerFactory()
    assert db.session.get(InvoiceSequence, other.id).prefix == f"P{other.id}"


def test_a_client_is_billed_from_today_as_the_client_service_does_it():
    client = ClientFactory()
    [invoice] = db.session.scalars(select(Invoice).where(Invoice.client_id == client.id)).all()
    assert (invoice.kind, invoice.period_start) == ("period", client.period_start)
    assert client.billing_anchor_day == client.period_start.day and client.period_end > client.period_start
    unbilled = ClientFactory(billed=False)
    assert unbilled.period_start is None
    trial = ClientFactory(trial_days=14)
    assert trial.trial_ends_on == trial.period_start
    assert db.session.scalar(select(func.count()).where(Invoice.client_id == trial.id)) == 0


def test_allocations_keep_the_partner_totals_and_have_their_seat_holders():
    partner = PartnerFactory()
    essentials, support = SubscriptionTypeFactory(essentials=True), SubscriptionTypeFactory(support=True)
    lyon = SiteFactory(client=ClientFactory(parent=partner))
    AllocationFactory(site=lyon, subscription_type=essentials, allocated=5, consumed=4)
    AllocationFactory(site=SiteFactory(client=ClientFactory(parent=partner)), subscription_type=essentials,
                      allocated=3, consumed=1)
    AllocationFactory(site=lyon, subscription_type=support, allocated=2)
    SeatHolderFactory(site=lyon, subscription_type=essentials)

    assert partner_totals(partner) == summed_allocations(partner) == {essentials.id: 8006, support.id: 2000}
    holders = db.session.scalar(select(func.count(User.id)).where(
        User.site_id == lyon.id, User.subscription_type_id == essentials.id, User.status == "active"))
    assert holders == 5


def test_a_seat_holder_needs_a_free_seat():
    site = SiteFactory()
    essentials = SubscriptionTypeFactory(essentials=True)
    AllocationFactory(site=site, subscription_type=essentials, allocated=1, consumed=1)
    with pytest.raises(LookupError, match="no free seat"):
        SeatHolderFactory(site=site, subscription_type=essentials)


def test_roles_are_flags_and_pick_the_organisation():
    lyon = SiteFactory()
    frontdesk = UserFactory(site_manager=True, sites=[lyon])
    assert frontdesk.organisation_id == lyon.client_id
    assert [(a.role, [s.id for s in a.sites]) for a in frontdesk.role_assignments] == [("site_manager", [lyon.id])]
    finance = UserFactory(partner_admin=True, finance=True)
    assert finance.organisation.kind == "partner"
    assert sorted(a.role for a in finance.role_assignments) == ["finance", "partner_admin"]
    assert UserFactory(operator_admin=True).organisation.kind == "operator"
    member = UserFactory()
    assert (member.organisation.kind, member.role_assignments) == ("client", [])
    assert may(UserFactory(organisation=lyon.client, client_admin=True), view_client(lyon.client))


def test_factory_users_log_in_with_the_demo_password(login_as):
    login_as(UserFactory(partner_admin=True).email)
