"""The page a list request asks for, read the same way on every screen."""
import re

from flask import request

_PAGE = re.compile(r"[1-9][0-9]{0,5}")  # ASCII digits only: "²".isdigit() is True, int("²") fails


def requested_page(name: str = "page") -> int:
    """The ``?page=`` asked for, or 1 when it is missing or not a plain positive number."""
    value = request.args.get(name, "")
    return int(value) if _PAGE.fullmatch(value) else 1


def page_window(total: int, per_page: int) -> tuple[int, int]:
    """``(page, pages)``: the requested page, clamped to the last one (at least 1)."""
    pages = max(1, -(-total // per_page))
    return min(requested_page(), pages), pages
