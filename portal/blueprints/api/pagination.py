"""``?page=&per_page=`` → ``{"items", "page", "per_page", "total"}``.

A page past the end is empty (never the last page again), so a client that
pages until it gets no items stops.
"""
from sqlalchemy import func, select

from portal.extensions import db


def page_of(query, params, *, options=()):
    """One page of a select (ordered by the caller) and the total count: two statements."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = []
    if (params.page - 1) * params.per_page < total:
        rows = list(db.session.scalars(query.options(*options).limit(params.per_page)
                                       .offset((params.page - 1) * params.per_page)))
    return rows, total


def page_body(items, params, total) -> dict:
    return {"items": items, "page": params.page, "per_page": params.per_page, "total": total}


def slice_page(items: list, params) -> dict:
    """Paginate a short list held in memory (the catalogue)."""
    start = (params.page - 1) * params.per_page
    return page_body(items[start:start + params.per_page], params, len(items))
