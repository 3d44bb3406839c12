"""Streamed CSV downloads: rows go out as they are read, so memory stays flat."""
import csv
import io
from collections.abc import Callable, Iterable

from flask import Response, stream_with_context

CHUNK = 64 * 1024
# Rows fetched per round trip; the database streams them (a server-side cursor on PostgreSQL).
BATCH = 1000


def safe_cell(value) -> str:
    """Text a spreadsheet will not run as a formula (names and e-mails come from users)."""
    value = "" if value is None else str(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_response(filename: str, header: list[str], rows: Callable[[], Iterable[list]]) -> Response:
    """A CSV attachment written from ``rows()`` in chunks of about 64 kB.

    ``rows`` is called only once the body is being sent, so its query runs in
    the session that streams it: a query started in the view would belong to
    the view's session, which is closed (and its cursor gone) before the first
    byte is sent.
    """

    def chunks():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for row in rows():
            writer.writerow(row)
            if buffer.tell() > CHUNK:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(chunks()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
