"""Reseller billing figures for bench/run.py (issue 13): price books at scale, the margin report, PDF rendering.

Each function prints what it measured through ``log`` and returns the figures
for the report; none asserts a target (timing stays out of the tests).
"""
from __future__ import annotations

import datetime as dt
import statistics
import time

FINANCE = "finance@northwind.example"
PASSWORD = "demo-password"
# Scaled clients given a price of their own, beside Northwind's price book (rule 22).
OWN_PRICE_CLIENTS = 500


def set_prices(app, own_price_clients: int = OWN_PRICE_CLIENTS) -> dict:
    """Northwind's price book for Essentials and Unlimited, and a price of its own for some clients.

    Run after ``demo scale`` and before the billing run, so that every period
    invoice the run issues resolves client price → price book → list price.
    """
    from sqlalchemy import insert, select

    from portal.domain.billing import price_book
    from portal.domain.transactions import write_transaction
    from portal.extensions import db
    from portal.models import ClientPrice, Organisation, SubscriptionType, User
    from portal.models.mixins import utcnow

    with app.app_context():
        finance = db.session.scalar(select(User).where(User.email == FINANCE))
        northwind = finance.organisation
        price_book.set_book_price(finance, northwind, "essentials", 1800, 18000)
        price_book.set_book_price(finance, northwind, "unlimited", 3200, 32000)
        essentials = db.session.scalar(select(SubscriptionType.id).where(SubscriptionType.code == "essentials"))
        client_ids = db.session.scalars(
            select(Organisation.id).where(Organisation.parent_id == northwind.id,
                                          Organisation.name.like("Scale client %"))
            .order_by(Organisation.id).limit(own_price_clients)).all()
        with write_transaction():
            now = utcnow()
            db.session.execute(insert(ClientPrice), [
                dict(client_id=client_id, subscription_type_id=essentials, monthly_price=1700, annual_price=17000,
                     created_at=now, updated_at=now) for client_id in client_ids])
        db.session.remove()
    return dict(price_book_entries=2, client_prices=len(client_ids))


def margin_report(app, counter, log, rounds: int = 5) -> dict:
    """The margin report (API and screen) over 12 months, after the billing run caught up months of invoices."""
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.models import Invoice

    today = dt.date.today()
    since, until = today - dt.timedelta(days=30), today + dt.timedelta(days=335)
    with app.app_context():
        documents = db.session.scalar(select(func.count(Invoice.id)).where(
            Invoice.issued_on >= since, Invoice.issued_on < until))
        db.session.remove()
    client = app.test_client()
    client.post("/login", data={"email": FINANCE, "password": PASSWORD})
    runner = app.test_cli_runner()
    token = runner.invoke(args=["api-token", "create", FINANCE]).output.split()[-1]
    figures = {}
    last_included = until - dt.timedelta(days=1)
    for label, url, headers in (
            ("api", f"/api/v1/reports/margins?from={since}&to={until}", {"Authorization": f"Bearer {token}"}),
            ("screen", f"/reports/margins?from={since}&to={last_included}", {}),
            ("csv", f"/reports/margins.csv?from={since}&to={last_included}", {})):
        times, statements, status = [], set(), None
        for _ in range(rounds + 1):  # the first one warms up
            counter.reset()
            started = time.perf_counter()
            response = client.get(url, headers=headers)
            response.get_data()
            times.append((time.perf_counter() - started) * 1000)
            statements.add(len(counter.statements))
            status = response.status_code
        median = statistics.median(times[1:])
        figures[label] = dict(status=status, statements=sorted(statements), median_ms=round(median, 1))
        log(f"  margin report ({label}) over {documents} documents of 12 months: HTTP {status}, "
            f"{'/'.join(map(str, sorted(statements)))} statements, median {median:.1f} ms")
    figures["documents"] = documents
    return figures


def pdf_rendering(app, log, rounds: int = 20) -> dict:
    """Time ``/invoices/<id>.pdf`` for the demo invoice with the most lines (Acme Dental's), as finance."""
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.models import InvoiceLine

    with app.app_context():
        invoice_id, lines = db.session.execute(
            select(InvoiceLine.invoice_id, func.count(InvoiceLine.id)).group_by(InvoiceLine.invoice_id)
            .order_by(func.count(InvoiceLine.id).desc(), InvoiceLine.invoice_id).limit(1)).one()
        db.session.remove()
    client = app.test_client()
    client.post("/login", data={"email": FINANCE, "password": PASSWORD})
    times, size, status = [], 0, None
    for _ in range(rounds + 1):
        started = time.perf_counter()
        response = client.get(f"/invoices/{invoice_id}.pdf")
        body = response.get_data()
        times.append((time.perf_counter() - started) * 1000)
        size, status = len(body), response.status_code
    median = statistics.median(times[1:])
    log(f"  PDF of an invoice of {lines} lines: HTTP {status}, {size} bytes, median {median:.0f} ms, "
        f"max {max(times[1:]):.0f} ms over {rounds}")
    return dict(status=status, lines=lines, bytes=size, median_ms=round(median, 1), max_ms=round(max(times[1:]), 1))
