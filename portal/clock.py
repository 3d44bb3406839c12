"""Today's date for business rules; one place so tests can move time."""
from datetime import date, datetime, timezone


def today() -> date:
    return datetime.now(timezone.utc).date()
