"""The page a list request asks for, read the same way on every screen."""
import re

from flask import request

from portal.domain.pages import Page, paginate

_PAGE = re.compile(r"[1-9][0-9]{0,5}")  # ASCII digits only: "²".isdigit() is True, int("²") fails


def requested_page(name: str = "page") -> int:
    """The ``?page=`` asked for, or 1 when it is missing or not a plain positive number."""
    value = request.args.get(name, "")
    return int(value) if _PAGE.fullmatch(value) else 1


def requested(statement, per_page: int, *, query: dict | None = None, **options) -> Page:
    """The page of ``statement`` that ``?page=`` asks for, clamped to the last one.

    ``query`` is what the list was asked for (search, filters), kept on the
    page for its pager; ``options`` go to ``portal.domain.pages.paginate``.
    """
    page = paginate(statement, requested_page(), per_page, **options)
    page.query = query or {}
    return page


def page_numbers(page: int, pages: int, around: int = 1) -> list[int | None]:
    """The pages a numbered pager links (docs/rules.md screen 15i): the first, the last, and
    ``around`` neighbours each side of ``page``; ``None`` marks a gap ("…"). A gap of one page
    shows that page instead: 1 2 3 rather than 1 … 3.
    """
    wanted = {1, pages, *range(max(1, page - around), min(pages, page + around) + 1)}
    numbers: list[int | None] = []
    for number in sorted(wanted):
        if numbers and number - numbers[-1] == 2:
            numbers.append(number - 1)
        elif numbers and number - numbers[-1] > 2:
            numbers.append(None)
        numbers.append(number)
    return numbers
