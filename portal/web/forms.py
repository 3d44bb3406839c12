"""Putting a service's refusal on the form field it names."""
from portal.domain.errors import DomainError


def add_error(form, error: DomainError, default_field: str) -> None:
    """Show ``error`` under the field it names, or under ``default_field`` if the form has no such field."""
    field = getattr(form, error.field or "", None) or getattr(form, default_field)
    field.errors = [*field.errors, error.message]
