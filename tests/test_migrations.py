"""The Alembic history builds exactly the schema the models describe."""
import os
import uuid
from datetime import date, datetime, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from portal import create_app
from portal.extensions import db


def _inserter(connection):
    """``insert(table, **row)``: one row, written as the database stood at that revision (plain SQL)."""
    def insert(table, **row):
        connection.execute(text(f"INSERT INTO {table} ({', '.join(row)}) VALUES "
                                f"({', '.join(':' + name for name in row)})"), row)

    return insert


def _operator_partner_client(insert, now) -> None:
    """Organisations 1 (the operator), 2 (a partner) and 3 (its monthly client)."""
    insert("organisations", id=1, kind="operator", name="Operator", require_two_step=False, created_at=now)
    insert("organisations", id=2, kind="partner", name="Partner", parent_id=1, require_two_step=False,
           created_at=now)
    insert("organisations", id=3, kind="client", name="Client", parent_id=2, billing_cycle="monthly",
           require_two_step=False, created_at=now)


NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _upgraded_over(database_url, revision: str, fill, read):
    """Upgrade an empty database to ``revision``, ``fill(insert)`` it as the schema stood then (plain SQL,
    ``_inserter``), upgrade it to the head, and return ``read(connection)`` (in the app's context)."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        upgrade(revision=revision)
        with db.engine.begin() as connection:
            fill(_inserter(connection))
        upgrade()
        try:
            with db.engine.connect() as connection:
                return read(connection)
        finally:
            db.session.remove()
            db.engine.dispose()


# Indexes with a DESC column (portal/models/insight.py): Alembic cannot compare them (SQLite reflects their
# columns without the order), so they are checked by name and columns here rather than by compare_metadata.
ORDERED_INDEXES = {"ix_insight_seat_baselines_idle", "ix_insight_revenue_baselines_mrr"}


def schema_differences() -> list:
    """What the migrated database lacks or has beyond the models (``compare_metadata``), [] when they agree."""
    def compared(obj, name, type_, reflected, compare_to):
        return not (type_ == "index" and name in ORDERED_INDEXES)

    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                               "include_object": compared})
        differences = compare_metadata(context, db.metadata)
        inspector = inspect(connection)
        for table in db.metadata.tables.values():
            for index in (each for each in table.indexes if each.name in ORDERED_INDEXES):
                found = {each["name"]: each for each in inspector.get_indexes(table.name)}.get(index.name)
                wanted = [getattr(each, "name", None) or str(each).split()[0] for each in index.expressions]
                if found is None or _leading_words(found) != wanted:
                    differences.append(("ordered index", index.name, found))
    return differences


def _leading_words(reflected: dict) -> list[str]:
    """A reflected index's columns, each by its first word ("saving_per_period DESC" → saving_per_period)."""
    expressions = reflected.get("expressions") or reflected["column_names"]
    return [(name or expression).split()[0] for name, expression in zip(reflected["column_names"], expressions)]


@pytest.fixture
def empty_database_url(tmp_path):
    url = os.environ.get("TEST_DATABASE_URL")
    if not url or not url.startswith("postgresql"):
        yield "sqlite:///" + str(tmp_path / "migrated.sqlite")
        return
    name = f"migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_from_empty_matches_the_models(empty_database_url):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade()
        differences = schema_differences()
        db.engine.dispose()
    assert differences == []


def test_0011_back_fills_the_lines_issued_before_it_on_a_database_holding_data(empty_database_url):
    """Discounts did not exist before migration 0011: each line issued until then cost what it charged
    (docs/rules.md rule 23), and every partner starts at a discount of 0. The upgrade runs on a database
    holding rows that point at the organisations it rebuilds (SQLite's batch mode)."""
    def fill(insert):
        _operator_partner_client(insert, NOW)
        insert("sites", id=1, client_id=3, name="Lyon", created_at=NOW)
        insert("subscription_types", id=1, code="essentials", name="Essentials", monthly_price=1500,
               annual_price=15000, currency="EUR", created_at=NOW)
        insert("invoices", id=1, partner_id=2, client_id=3, number="P-000001", sequence=1, kind="proration",
               billing_cycle="monthly", period_start=date(2026, 11, 1), period_end=date(2026, 12, 1),
               issued_on=date(2026, 11, 15), currency="EUR", total=800, created_at=NOW)
        insert("invoice_lines", invoice_id=1, site_id=1, subscription_type_id=1, site_name="Lyon",
               subscription_type_code="essentials", subscription_type_name="Essentials", quantity=1,
               unit_price=1500, days=16, period_days=30, amount=800)

    def read(connection):
        return (connection.execute(text("SELECT unit_price, amount, unit_cost, cost FROM invoice_lines")).all(),
                connection.execute(text("SELECT discount_bp FROM organisations ORDER BY id")).scalars().all())

    lines, discounts = _upgraded_over(empty_database_url, "0010", fill, read)
    assert [tuple(line) for line in lines] == [(1500, 800, 1500, 800)]
    assert discounts == [0, 0, 0]


def test_0012_goes_down_and_up_again(empty_database_url):
    """Credit notes (rule 24): 0012 can be undone, and redone to exactly the models' schema."""
    from flask_migrate import downgrade

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade()
        downgrade(revision="0011")
        upgrade()
        differences = schema_differences()
        db.engine.dispose()
    assert differences == []


def test_0014_back_fills_untaxed_invoices_with_the_parties_names(empty_database_url):
    """Nothing was taxed before 0014: tax 0, total with tax = total, snapshots of the names; partners at 0 %."""
    from portal.models import Invoice

    def fill(insert):
        _operator_partner_client(insert, NOW)
        insert("invoices", id=1, partner_id=2, client_id=3, number="P-000001", sequence=1, kind="period",
               billing_cycle="monthly", period_start=date(2026, 11, 1), period_end=date(2026, 12, 1),
               issued_on=date(2026, 11, 1), currency="EUR", total=1500, created_at=NOW)

    def read(connection):
        invoice = db.session.get(Invoice, 1)
        return (connection.execute(text("SELECT tax_rate_bp, tax, total_with_tax, tax_note FROM invoices")).one(),
                (invoice.seller, invoice.buyer),
                connection.execute(text("SELECT tax_rate_bp FROM organisations ORDER BY id")).scalars().all())

    row, parties, rates = _upgraded_over(empty_database_url, "0013", fill, read)
    assert tuple(row) == (0, 0, 1500, None)
    assert parties == ({"legal_name": "Partner", "address": "", "vat_number": ""},
                       {"legal_name": "Client", "address": "", "vat_number": ""})
    assert rates == [None, 0, None]


def test_0022_counts_each_partners_pending_seat_requests(empty_database_url):
    """The navigation's kept count starts at what is pending: decided requests and other partners' left out."""
    def fill(insert):
        insert("organisations", id=1, kind="operator", name="Operator", require_two_step=False, created_at=NOW)
        for partner_id, client_id in ((2, 3), (4, 5)):
            insert("organisations", id=partner_id, kind="partner", name=f"Partner {partner_id}", parent_id=1,
                   require_two_step=False, tax_rate_bp=0, created_at=NOW)
            insert("organisations", id=client_id, kind="client", name=f"Client {client_id}",
                   parent_id=partner_id, billing_cycle="monthly", require_two_step=False, created_at=NOW)
        insert("subscription_types", id=1, code="essentials", name="Essentials", monthly_price=1000,
               annual_price=10000, currency="EUR", created_at=NOW)
        insert("sites", id=1, client_id=3, name="Lyon", created_at=NOW)
        insert("sites", id=2, client_id=5, name="Berlin", created_at=NOW)
        insert("users", id=1, organisation_id=3, email="admin@client.example", name="Admin", status="active",
               two_step_last_used_step=0, created_at=NOW)
        for request_id, site_id, client_id, status in ((1, 1, 3, "pending"), (2, 1, 3, "pending"),
                                                       (3, 1, 3, "declined"), (4, 2, 5, "pending")):
            insert("seat_requests", id=request_id, client_id=client_id, site_id=site_id, subscription_type_id=1,
                   quantity=1, status=status, requested_by_id=1, requested_at=NOW,
                   decided_at=None if status == "pending" else NOW, reason=None if status == "pending" else "No")

    counts = _upgraded_over(empty_database_url, "0021", fill, lambda connection: connection.execute(
        text("SELECT id, pending_seat_requests FROM organisations ORDER BY id")).all())
    assert [tuple(row) for row in counts] == [(1, 0), (2, 2), (3, 0), (4, 1), (5, 0)]
