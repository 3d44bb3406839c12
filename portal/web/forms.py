"""Submitting a form to a service: validation, the service's refusal on its field, the status."""
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wtforms import SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

from portal.domain.errors import DomainError


class CheckboxesField(SelectMultipleField):
    """Several values under one name, chosen with checkboxes (no JavaScript, no Ctrl-click multi-select)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def add_error(form, error: DomainError, default_field: str) -> None:
    """Show ``error`` under the field it names, or under ``default_field`` if the form has no such field."""
    field = getattr(form, error.field or "", None) or getattr(form, default_field)
    field.errors = [*field.errors, error.message]


@dataclass
class Submission:
    """What became of a form: ``done`` with the service's ``result``, or the ``status`` to answer with.

    ``status`` is 200 for a form not submitted yet (a GET), 422 for an
    invalid one, the refusal's own status (``error``) when the service said no.
    """

    done: bool = False
    result: Any = None
    status: int = 200
    error: DomainError | None = None


def submit(form, action: Callable[[], Any], default_field: str | None) -> Submission:
    """Validate ``form`` and, if it is valid, run ``action()`` (the service call).

    A ``DomainError`` from the service goes under the field it names (else
    ``default_field``; ``None``: on no field, the view shows ``error`` itself).
    """
    if not form.validate_on_submit():
        return Submission(status=422 if form.is_submitted() else 200)
    try:
        result = action()
    except DomainError as error:
        if default_field is not None:
            add_error(form, error, default_field)
        return Submission(status=error.status, error=error)
    return Submission(done=True, result=result)
