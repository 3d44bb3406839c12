"""The partner's cost (docs/rules.md section 8) and the margin report (rule 23), without HTTP.

The operator's discount per partner, the unit cost it gives, the cost copied on
every invoice line when it is issued (period invoices, prorations, the billing
run), and the margin report over the documents issued in a range.
"""
from datetime import date, timedelta

import pytest
from sqlalchemy import event, select

from portal.domain.billing import invoices as issuing
from portal.domain.billing import margins, prices, run
from portal.domain.billing.money import half_up
from portal.domain.demo import reset_demo
from portal.domain.errors import Forbidden, Invalid
from portal.domain.orgs import partners
from portal.domain.seats import allocations
from portal.extensions import db
from portal.models import AuditEvent, Invoice, InvoiceLine, Organisation
from portal.rbac.needs import identity_for
from tests.factories import (
    AllocationFactory,
    ClientFactory,
    PartnerFactory,
    SiteFactory,
    SubscriptionTypeFactory,
    UserFactory,
    start_billing,
)


def discounted(partner, discount_bp):
    partner.discount_bp = discount_bp
    db.session.commit()
    return partner


def billed_client(partner, subscription_type, seats, start, name=None):
    """A monthly client of ``partner`` with ``seats`` of ``subscription_type`` at one site, billed from ``start``."""
    client = ClientFactory(parent=partner, billed=False, **({"name": name} if name else {}))
    site = SiteFactory(client=client, name="Lyon")
    AllocationFactory(site=site, subscription_type=subscription_type, allocated=seats)
    start_billing(client, start)
    return client, site


def lines_of(client):
    rows = db.session.execute(
        select(Invoice.kind, InvoiceLine.quantity, InvoiceLine.unit_price, InvoiceLine.days, InvoiceLine.amount,
               InvoiceLine.unit_cost, InvoiceLine.cost)
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(Invoice.client_id == client.id).order_by(Invoice.sequence, InvoiceLine.id))
    return [tuple(row) for row in rows]


# ---------------------------------------------------------------- the unit cost


@pytest.mark.parametrize(("list_price", "discount_bp", "cost"), [
    (1500, 2000, 1200),  # Northwind's 20 % off Essentials
    (1500, 1500, 1275),  # Southwind's 15 %
    (2900, 1500, 2465),  # 435.0 off
    (15000, 2000, 12000),
    (999, 3333, 666),  # 332.9667 off, rounded to 333
    (3, 5000, 1),  # 1.5 off rounds half-up to 2
    (1, 5000, 0),  # 0.5 off rounds half-up to 1
    (1, 4999, 1),  # 0.4999 off rounds to 0
    (1500, 0, 1500),
    (1500, 10000, 0),
    (0, 2000, 0),  # a free type costs nothing
])
def test_the_unit_cost_is_the_list_price_less_the_discount_rounded_half_up(list_price, discount_bp, cost):
    assert prices.unit_cost(list_price, discount_bp) == cost


@pytest.mark.parametrize(("numerator", "denominator", "rounded"), [
    (5, 2, 3), (4, 2, 2), (1, 3, 0), (2, 3, 1), (0, 7, 0), (-5, 2, -3), (-1, 3, 0), (-2, 3, -1)])
def test_half_up_rounds_halves_away_from_zero_in_integers(numerator, denominator, rounded):
    assert half_up(numerator, denominator) == rounded


def test_half_up_needs_a_positive_denominator():
    with pytest.raises(ValueError):
        half_up(1, 0)


@pytest.mark.parametrize(("typed", "discount_bp"), [
    ("20", 2000), ("12.5", 1250), ("12,25", 1225), (" 0 ", 0), ("100", 10000), ("0.01", 1), ("15%", 1500)])
def test_a_discount_typed_as_a_percentage_is_read_in_basis_points(typed, discount_bp):
    assert prices.discount_from_percent(typed) == discount_bp
    assert prices.discount_from_percent(prices.percent_text(discount_bp)) == discount_bp


@pytest.mark.parametrize("typed", ["", "  ", "-1", "100.01", "101", "12.345", "1e3", "twenty", "٣", None, 20])
def test_a_discount_percentage_that_is_not_one_is_refused_on_its_field(typed):
    with pytest.raises(Invalid) as refused:
        prices.discount_from_percent(typed)
    assert refused.value.field == "discount_percent"


# ---------------------------------------------------------------- setting a discount


def test_the_operator_sets_a_partners_discount_with_an_audit_event_of_its_own(operator, northwind):
    changed = partners.set_discount(operator, northwind, 2000)

    assert changed.discount_bp == 2000
    db.session.rollback()
    assert db.session.get(Organisation, northwind.id).discount_bp == 2000
    [audit] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "partner.discount_changed")).all()
    assert (audit.target_type, audit.target_id, audit.before, audit.after) == (
        "partner", northwind.id, {"discount_bp": 0}, {"discount_bp": 2000})
    # In the operator's log, not the partner's: its administrators read their log without margins.view.
    assert audit.organisation_id == operator.organisation_id != northwind.id
    assert partners.set_discount(operator, northwind, "1500").discount_bp == 1500  # its decimal text too


def test_setting_the_discount_a_partner_has_writes_nothing(operator, northwind):
    partners.set_discount(operator, northwind, 0)
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "partner.discount_changed")).all() == []


@pytest.mark.parametrize("value", [-1, 10001, 12.5, "12.5", "abc", "", None, True, "1e3", 2**70])
def test_a_discount_out_of_range_or_not_a_whole_number_is_refused_and_nothing_written(operator, northwind, value):
    with pytest.raises(Invalid) as refused:
        partners.set_discount(operator, northwind, value)

    assert refused.value.field == "discount_bp" and refused.value.status == 422
    db.session.rollback()
    assert db.session.get(Organisation, northwind.id).discount_bp == 0
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "partner.discount_changed")).all() == []


def test_only_the_operator_sets_discounts(finance, acme_admin, northwind):
    for actor in (finance, acme_admin):
        with pytest.raises(Forbidden):
            partners.set_discount(actor, northwind, 2000)
    db.session.rollback()
    assert db.session.get(Organisation, northwind.id).discount_bp == 0


def test_a_discount_is_for_partners_only(operator, acme):
    with pytest.raises(Invalid) as refused:
        partners.set_discount(operator, acme, 2000)
    assert refused.value.field == "discount_bp"


def test_the_database_refuses_a_discount_out_of_range(northwind):
    from sqlalchemy.exc import IntegrityError

    northwind.discount_bp = 10001
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_the_operators_partner_list_names_each_discount(operator, northwind):
    southwind = discounted(PartnerFactory(name="Southwind Networks"), 1500)
    discounted(northwind, 2000)
    listed = db.session.scalars(partners.partners_query(operator)).all()
    assert [(p.name, p.discount_bp) for p in listed] == [("Northwind Telecom", 2000), ("Southwind Networks", 1500)]
    assert southwind in listed
    with pytest.raises(Forbidden):
        partners.partners_query(UserFactory(organisation=northwind, partner_admin=True, finance=True))


# ---------------------------------------------------------------- cost copied on every line


def test_a_period_invoice_copies_the_partners_cost_on_each_line(northwind, essentials):
    discounted(northwind, 2000)
    client, _site = billed_client(northwind, essentials, 3, date(2027, 1, 1))

    assert lines_of(client) == [("period", 3, 1500, 31, 4500, 1200, 3600)]


def test_a_prorated_invoice_costs_like_its_amount_half_up_once(northwind, finance, on):
    tenner = SubscriptionTypeFactory(code="tenner", monthly_price=1000, annual_price=10000)
    discounted(northwind, 1500)  # unit cost 8.50
    on(date(2027, 1, 1))
    _client, site = billed_client(northwind, tenner, 1, date(2027, 1, 1))
    on(date(2027, 1, 15))  # 17 of 31 days left

    change = allocations.set_allocation(finance, site, tenner, 4)

    [line] = change.invoice.lines
    # 3 × 10.00 × 17 / 31 = 16.4516 → 16.45; 3 × 8.50 × 17 / 31 = 13.9839 → 13.98
    assert (line.quantity, line.unit_price, line.days, line.period_days, line.amount) == (3, 1000, 17, 31, 1645)
    assert (line.unit_cost, line.cost) == (850, 1398)
    assert change.invoice.total == 1645  # the client's amounts are untouched


def test_a_prorated_cost_rounds_half_up(northwind, finance, on):
    # 14 seats at 0.02 (cost 0.01) for the last day of 28: the cost is exactly half a cent.
    odd = SubscriptionTypeFactory(code="odd", monthly_price=2, annual_price=20)
    discounted(northwind, 5000)  # unit cost 1
    on(date(2027, 2, 1))
    _client, site = billed_client(northwind, odd, 1, date(2027, 2, 1))
    on(date(2027, 2, 28))  # the last day of 28: 1 day left

    [line] = allocations.set_allocation(finance, site, odd, 15).invoice.lines

    # 14 × 2 × 1 / 28 = 1.0 → 1; 14 × 1 × 1 / 28 = 0.5 → 1 (half-up)
    assert (line.amount, line.unit_cost, line.cost) == (1, 1, 1)


def test_issued_lines_keep_their_cost_and_the_next_documents_take_the_new_discount(
        northwind, operator, finance, essentials, on):
    discounted(northwind, 2000)
    on(date(2027, 1, 1))
    client, site = billed_client(northwind, essentials, 2, date(2027, 1, 1))
    on(date(2027, 1, 20))
    partners.set_discount(operator, northwind, 1000)  # 10 %: essentials now cost 13.50
    allocations.set_allocation(finance, site, essentials, 3)  # 12 of 31 days left

    run.run_billing(date(2027, 2, 1))

    assert lines_of(client) == [
        ("period", 2, 1500, 31, 3000, 1200, 2400),  # issued at 20 %: kept
        ("proration", 1, 1500, 12, 581, 1350, 523),  # 15.00 × 12 / 31 = 5.806; 13.50 × 12 / 31 = 5.226
        ("period", 3, 1500, 28, 4500, 1350, 4050),  # the billing run's February, at 10 %
    ]


def test_the_next_period_preview_shown_to_the_client_carries_no_cost(northwind, essentials):
    discounted(northwind, 2000)
    client, _site = billed_client(northwind, essentials, 3, date(2027, 1, 1))

    preview = issuing.next_period_preview(client)

    assert preview["lines"] and all(not set(line) & {"unit_cost", "cost"} for line in preview["lines"])


def test_the_demo_partners_have_their_discounts_and_their_invoices_the_cost(demo):
    assert (demo.org("Northwind Telecom").discount_bp, demo.org("Southwind Networks").discount_bp) == (2000, 1500)
    assert {(code, unit_cost, cost) for code, unit_cost, cost in db.session.execute(
        select(InvoiceLine.subscription_type_code, InvoiceLine.unit_cost, InvoiceLine.cost)
        .join(Invoice, InvoiceLine.invoice_id == Invoice.id).where(Invoice.client_id == demo.acme.id))} == {
        ("essentials", 1200, 6000), ("unlimited", 2320, 4640), ("essentials", 1200, 3600), ("support", 0, 0)}
    [initech] = db.session.scalars(select(InvoiceLine).join(Invoice).where(
        Invoice.client_id == demo.org("Initech Vet").id)).all()
    assert (initech.amount, initech.unit_cost, initech.cost) == (6000, 1275, 5100)
    # The client's invoices keep the list prices: their totals are as before discounts existed.
    assert db.session.scalar(select(Invoice.total).where(Invoice.client_id == demo.acme.id)) == 17800


def test_a_demo_reset_brings_the_discounts_back(demo):
    northwind = demo.org("Northwind Telecom")
    partners.set_discount(demo.user("operator@portal.example"), northwind, 3000)
    reset_demo()
    assert demo.org("Northwind Telecom").discount_bp == 2000


# ---------------------------------------------------------------- the margin report


@pytest.fixture
def january(northwind, finance, essentials, on):
    """Northwind (20 %) and Southwind (15 %), each with a client billed in January 2027.

    Acme Dental: 3 Essentials for January (45.00, cost 36.00) and 2 more on Jan 15 (16.45, cost 13.16),
    then February's invoice issued on Feb 1. Initech Vet (Southwind): 4 Essentials (60.00, cost 51.00).
    """
    discounted(northwind, 2000)
    southwind = discounted(PartnerFactory(name="Southwind Networks"), 1500)
    on(date(2027, 1, 1))
    acme, lyon = billed_client(northwind, essentials, 3, date(2027, 1, 1), name="Acme Dental")
    initech, _berlin = billed_client(southwind, essentials, 4, date(2027, 1, 1), name="Initech Vet")
    on(date(2027, 1, 15))
    allocations.set_allocation(finance, lyon, essentials, 5)
    run.run_billing(date(2027, 2, 1))
    return acme, initech


def test_the_margin_report_gives_revenue_cost_and_margin_per_client_and_type(january, finance):
    acme, _initech = january

    report = margins.margin_report(finance, date(2027, 1, 1), date(2027, 2, 1))

    [row] = report.rows  # Southwind's client is not Northwind's business; February's invoice is left out
    assert (row.client_id, row.client_name, row.subscription_type, row.currency) == (
        acme.id, "Acme Dental", "essentials", "EUR")
    assert (row.revenue, row.cost, row.margin, row.margin_bp) == (4500 + 1645, 3600 + 1316, 1229, 2000)
    [total] = report.totals
    assert (total.currency, total.revenue, total.cost, total.margin) == ("EUR", 6145, 4916, 1229)


def test_the_range_counts_the_first_day_and_leaves_the_last_out(january, finance):
    assert [r.revenue for r in margins.margin_report(finance, date(2027, 1, 15), date(2027, 2, 2)).rows] == [
        1645 + 7500]  # the proration of Jan 15 and February's invoice of Feb 1
    assert margins.margin_report(finance, date(2027, 1, 2), date(2027, 1, 15)).rows == []
    assert margins.margin_report(finance, date(2027, 1, 2), date(2027, 1, 2)).totals == []


def test_the_operator_reads_every_partners_margins(january, operator):
    report = margins.margin_report(operator, date(2027, 1, 1), date(2027, 2, 1))
    assert [(r.client_name, r.revenue, r.cost) for r in report.rows] == [
        ("Acme Dental", 6145, 4916), ("Initech Vet", 6000, 5100)]
    assert [(t.revenue, t.cost, t.margin) for t in report.totals] == [(12145, 10016, 2129)]


def test_the_report_is_one_statement_whatever_the_number_of_invoices(january, finance, app):
    statements = []

    def count(_connection, _cursor, statement, *_args):
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    identity_for(finance)  # who the actor is (their roles) is read once per actor, not per report
    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        margins.margin_report(finance, date(2027, 1, 1), date(2027, 3, 1))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1, statements
    assert "GROUP BY" in statements[0].upper()


def test_only_margins_view_reads_the_report(january, nw_admin):
    acme, _initech = january
    client_admin = UserFactory(organisation=acme, client_admin=True)
    accountant = UserFactory(organisation=acme, accountant=True)
    support = UserFactory(organisation=acme.parent, partner_support=True)
    for actor in (nw_admin, client_admin, accountant, support):
        with pytest.raises(Forbidden):
            margins.margin_report(actor, date(2027, 1, 1), date(2027, 2, 1))
        with pytest.raises(Forbidden):
            margins.margins_query(actor, date(2027, 1, 1), date(2027, 2, 1))


@pytest.mark.parametrize(("since", "until"), [
    (date(2027, 1, 2), date(2027, 1, 1)),  # ends before it starts
    (date(2027, 1, 1), date(2028, 2, 6)),  # 401 days
])
def test_a_range_ending_before_it_starts_or_too_long_is_refused(finance, since, until):
    with pytest.raises(Invalid) as refused:
        margins.margin_report(finance, since, until)
    assert refused.value.field == "to"


def test_a_range_of_400_days_is_the_longest():
    start = date(2027, 1, 1)
    margins.check_range(start, start + timedelta(days=400))
    with pytest.raises(Invalid):
        margins.check_range(start, start + timedelta(days=401))


@pytest.mark.parametrize(("revenue", "cost", "share"), [
    (6145, 4916, 2000), (3, 2, 3333), (2, 1, 5000), (100, 150, -5000), (0, 0, None), (0, 10, None),
    (-1645, -1316, 2000),  # credits only: the margin keeps its sign against the revenue
])
def test_the_margin_share_is_in_basis_points_half_up(revenue, cost, share):
    assert margins.margin_bp(revenue, cost) == share
