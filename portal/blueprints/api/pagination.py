"""``?page=&per_page=`` → ``{"items", "page", "per_page", "total"}``.

A page past the end is empty (never the last page again), so a client that
pages until it gets no items stops; ``total`` still counts every row.
"""
from portal.domain.pages import Page, paginate


def page_of(statement, params, *, options=()) -> Page:
    """One page of a select (ordered by the caller) and the total count: two statements."""
    return paginate(statement, params.page, params.per_page, clamp_to_last=False, options=options)


def slice_of(rows: list, params) -> Page:
    """One page of a short list already in memory (the catalogue, a client's sites)."""
    start = (params.page - 1) * params.per_page
    return Page(rows[start:start + params.per_page], len(rows), params.page, params.per_page)


def page_body(items: list, page: Page) -> dict:
    """The JSON shape of every list: the page's ``items`` (its rows, rendered) and where it sits."""
    return {"items": items, "page": page.page, "per_page": page.per_page, "total": page.total}
