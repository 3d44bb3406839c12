"""Domain errors raised by services before anything is written.

Views turn them into field errors, the API into its error shape, the CLI into
a message. ``code`` and ``status`` follow docs/rules.md, API conventions.
"""


class DomainError(Exception):
    code = "conflict"
    status = 409

    def __init__(self, message: str, *, field: str | None = None, **extra):
        # A lazily translated message (portal.i18n._l) is read now, in the request's language;
        # the API's requests are English (portal.web.locale), so its messages stay as they were.
        message = str(message)
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra


class NoFreeSeat(DomainError):
    code = "no_free_seat"


class BelowConsumed(DomainError):
    code = "below_consumed"


class Conflict(DomainError):
    code = "conflict"


class Invalid(DomainError):
    code = "validation_error"
    status = 422


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


class NotFound(DomainError):
    code = "not_found"
    status = 404
