"""One page of a long list: the rows shown and where they sit in the whole.

Every list of the screens and the API pages the same way. A page past the
end is clamped to the last page for people (``clamp=True``, the screens), or
left empty for programs (the API), so a client that pages until it gets no
items stops.
"""
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy import func, select

from portal.extensions import db

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    rows: list[T]
    total: int
    page: int
    per_page: int
    # What the list was asked for (search, sort…), for the pager's links.
    query: dict = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return page_count(self.total, self.per_page)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def page_count(total: int, per_page: int) -> int:
    """Pages needed for ``total`` rows, at least 1 (an empty list still shows its page)."""
    return max(1, -(-total // per_page))


def clamp(page: int, total: int, per_page: int) -> int:
    """``page`` moved back onto the last page when it is past the end."""
    return max(1, min(page, page_count(total, per_page)))


def paginate(statement, page: int, per_page: int, *, clamp_to_last: bool = True, options=(), scalars=True,
             counted_beside: bool = False) -> Page:
    """Count the rows of ``statement`` (ordered by the caller) and fetch one page: two statements.

    ``counted_beside`` (entities only, ``scalars``): the count comes beside the page's rows
    (``count(*) OVER ()``), one statement; a page past the end reads the count alone, then the last page.
    For a list bounded by one client (its users): the window reads every row of the list, which a list of
    every client should not do to save a statement.
    """
    if counted_beside and scalars:
        # unique(): an option may load a collection by a join (one row per item of it).
        rows = db.session.execute(
            _page_of(statement.add_columns(func.count().over()), page, per_page, options)).unique().all()
        if rows:
            return Page([row[0] for row in rows], rows[0][-1], page, per_page)
        if page == 1 or not clamp_to_last:
            return Page([], _count(statement) if page > 1 else 0, page, per_page)
    total = _count(statement)
    if clamp_to_last:
        page = clamp(page, total, per_page)
    rows = []
    if (page - 1) * per_page < total:
        paged = _page_of(statement, page, per_page, options)
        rows = list(db.session.scalars(paged).unique() if scalars else db.session.execute(paged))
    return Page(rows, total, page, per_page)


def _count(statement) -> int:
    return db.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))


def _page_of(statement, page: int, per_page: int, options):
    return statement.options(*options).limit(per_page).offset((page - 1) * per_page)
