"""Streamed CSV downloads: rows go out as they are read, so memory stays flat."""
import csv
import io
from collections.abc import Iterable

from flask import Response, stream_with_context

CHUNK = 64 * 1024


def safe_cell(value) -> str:
    """Text a spreadsheet will not run as a formula (names and e-mails come from users)."""
    value = "" if value is None else str(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_response(filename: str, header: list[str], rows: Iterable[list]) -> Response:
    """A CSV attachment written from ``rows`` in chunks of about 64 kB.

    ``rows`` is consumed while the response is sent (keep it lazy, e.g. a
    generator over a ``yield_per`` query); the request context stays open.
    """

    def chunks():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            if buffer.tell() > CHUNK:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(chunks()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
