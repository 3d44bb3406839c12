"""The seat history's size at scale (issue 15, docs/rules.md rule 34): rows and bytes per site-year.

Run by bench/run.py after ``demo scale``, which writes a year of history for
its clients. Bytes are what the database holds for the table and its indexes:
SQLite's ``dbstat`` pages (the table is WITHOUT ROWID: the primary key is the
table), PostgreSQL's ``pg_total_relation_size``.
"""
from sqlalchemy import func, select, text

TABLE_AND_INDEXES = ("seat_history", "ix_seat_history_client_id_day", "ix_seat_history_partner_id_day")


def size(app, log=print) -> dict:
    from portal.extensions import db
    from portal.models import PartnerSeatChange, SeatChange

    with app.app_context():
        rows = db.session.scalar(select(func.count()).select_from(SeatChange))
        partner_rows = db.session.scalar(select(func.count()).select_from(PartnerSeatChange))
        sites = db.session.scalar(select(func.count(func.distinct(SeatChange.site_id))))
        first, last = db.session.execute(select(func.min(SeatChange.day), func.max(SeatChange.day))).one()
        years = ((last - first).days + 1) / 365 if first else 0
        total_bytes = _bytes(db)
        db.session.rollback()
    site_years = sites * years if years else 0
    figures = dict(rows=rows, partner_rows=partner_rows, sites=sites, years=round(years, 2), bytes=total_bytes,
                   rows_per_site_year=round(rows / site_years, 1) if site_years else None,
                   bytes_per_site_year=round(total_bytes / site_years) if site_years and total_bytes else None)
    log(f"  seat history: {rows} rows over {sites} sites and {years:.2f} years, {total_bytes} bytes")
    return figures


def _bytes(db) -> int | None:
    if db.engine.dialect.name == "postgresql":
        return db.session.scalar(text("SELECT pg_total_relation_size('seat_history')"))
    try:
        names = ", ".join(f"'{name}'" for name in TABLE_AND_INDEXES)
        return db.session.scalar(text(f"SELECT SUM(pgsize) FROM dbstat WHERE name IN ({names})"))
    except Exception:  # noqa: BLE001 - an SQLite built without dbstat: no figure rather than no bench
        return None


def lines(figures: dict) -> list[str]:
    return ["\nseat history after demo scale (change points, docs/rules.md rule 34):",
            f"  {figures['rows']} site rows ({figures['partner_rows']} partner rows), {figures['sites']} sites, "
            f"{figures['years']} years: {figures['rows_per_site_year']} rows and "
            f"{figures['bytes_per_site_year']} bytes per site-year ({figures['bytes']} bytes in all)"]
