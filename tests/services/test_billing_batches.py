"""The billing run rolls its clients forward in batches (issue 17): a batch invoices each client exactly as the
client alone is invoiced, and a batch that fails holds back no client but the one that failed."""
from datetime import date

import pytest
from sqlalchemy import select

from portal.domain.billing import invoices as issuing
from portal.domain.billing import price_book, run
from portal.extensions import db
from portal.models import Invoice, Organisation
from tests.factories import AllocationFactory, ClientFactory, PartnerFactory, SiteFactory, start_billing

FIRST_DAY, NEXT_PERIOD = date(2027, 1, 10), date(2027, 2, 10)


@pytest.fixture
def billed_clients(finance, northwind, tenner, essentials, on):
    """Seven clients of two partners, each with its first period invoiced alone (as creating a client does):
    different seats, Northwind's price book, a client's own price, a client with two types, an empty one."""
    on(FIRST_DAY)
    southwind = PartnerFactory(name="Southwind Networks", invoice_prefix="SW")
    price_book.set_book_price(finance, northwind, "tenner", 1200, 12000)
    made = []
    for n in range(7):
        client = ClientFactory(parent=northwind if n % 2 == 0 else southwind, name=f"Batch client {n}",
                               billed=False)
        for site_number in range(n % 3):
            site = SiteFactory(client=client, name=f"Site {site_number}")
            AllocationFactory(site=site, subscription_type=tenner, allocated=n + site_number + 1)
            if n == 4:
                AllocationFactory(site=site, subscription_type=essentials, allocated=2)
        made.append(client)
    price_book.set_client_price(finance, made[2], "tenner", 900, 9000)
    for client in made:
        start_billing(client, FIRST_DAY)
    return made


def _lines(invoice: Invoice) -> list[tuple]:
    return [(line.site_id, line.subscription_type_id, line.quantity, line.unit_price, line.amount, line.unit_cost,
             line.cost) for line in invoice.lines]


def _period_invoices(client: Organisation) -> list[Invoice]:
    return db.session.scalars(select(Invoice).where(Invoice.client_id == client.id, Invoice.kind == "period")
                              .order_by(Invoice.period_start, Invoice.currency)).all()


@pytest.mark.parametrize("batch", [1, 3, run.BATCH])
def test_a_batch_invoices_each_client_as_that_client_alone_was(billed_clients, monkeypatch, batch):
    monkeypatch.setattr(run, "BATCH", batch)
    report = run.run_billing(NEXT_PERIOD)
    db.session.expire_all()
    issued = []
    for client in billed_clients:
        first, second = _period_invoices(client)
        assert (first.period_start, second.period_start) == (FIRST_DAY, NEXT_PERIOD)
        # Whole periods: the same seats at the same prices give the same lines, costs, tax and total.
        assert _lines(second) == _lines(first)
        assert (second.total, second.tax, second.total_with_tax, second.currency, second.seller, second.buyer) == (
            first.total, first.tax, first.total_with_tax, first.currency, first.seller, first.buyer)
        issued.append(second)
    assert report.clients == len(billed_clients)
    assert report.invoices == [invoice.number for invoice in issued]  # in the clients' order, whatever the batches
    for partner_id in {client.parent_id for client in billed_clients}:
        theirs = [invoice.sequence for invoice in issued if invoice.partner_id == partner_id]
        # Each partner's numbers follow its first invoices without a gap, in the clients' order.
        assert theirs == list(range(len(theirs) + 1, 2 * len(theirs) + 1))
    assert [line[3] for line in _lines(_period_invoices(billed_clients[2])[1])] == [900, 900]  # its own price
    assert {line[3] for line in _lines(_period_invoices(billed_clients[0])[1])} == set()  # no site, no line


def test_a_client_another_run_invoiced_first_holds_back_no_one_in_its_batch(billed_clients, monkeypatch):
    late = billed_clients[3]
    real = issuing.invoiced_periods

    def as_read_before_the_other_run_committed(client_ids, since):
        return {(client_id, start) for client_id, start in real(client_ids, since) if client_id != late.id}

    # The run believes the late client's first period is still to invoice: its invoice is refused.
    monkeypatch.setattr(issuing, "invoiced_periods", as_read_before_the_other_run_committed)
    report = run.run_billing(NEXT_PERIOD)
    db.session.expire_all()
    assert len(_period_invoices(late)) == 1 and late.period_start == FIRST_DAY  # untouched
    others = [client for client in billed_clients if client is not late]
    assert all(len(_period_invoices(client)) == 2 for client in others)
    assert report.clients == len(others)
    assert report.invoices == [_period_invoices(client)[1].number for client in others]

    monkeypatch.setattr(issuing, "invoiced_periods", real)
    again = run.run_billing(NEXT_PERIOD)
    db.session.expire_all()
    assert again.invoices == [_period_invoices(late)[1].number]
    numbers = db.session.scalars(select(Invoice.sequence).where(Invoice.partner_id == late.parent_id)
                                 .order_by(Invoice.sequence)).all()
    assert numbers == list(range(1, len(numbers) + 1))  # the refused invoice gave its number back
