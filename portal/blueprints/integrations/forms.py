from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from portal.domain.events import EVENT_TYPES
from portal.i18n import _l
from portal.models.webhooks import MAX_DESCRIPTION_LENGTH, MAX_URL_LENGTH
from portal.web.forms import CheckboxesField


# The event types in words (docs/rules.md rule 37); the API and the payloads name them by their codes.
EVENT_LABELS = {
    "client.created": _l("A client is created"),
    "client.updated": _l("A client is changed"),
    "allocation.changed": _l("A site's seats change"),
    "user.created": _l("A user is created or invited"),
    "user.updated": _l("A user is changed"),
    "user.deactivated": _l("A user is deactivated"),
    "invoice.issued": _l("An invoice is issued"),
    "credit_note.issued": _l("A credit note is issued"),
    "seat_request.created": _l("Seats are requested"),
    "seat_request.decided": _l("A seat request is decided"),
}


class WebhookForm(FlaskForm):
    """A new endpoint: its URL, the event types it receives and an optional description."""

    url = StringField(_l("Receiver URL"), validators=[DataRequired(), Length(max=MAX_URL_LENGTH)],
                      description=_l("https only; the receiver must be on a public address."))
    events = CheckboxesField(_l("Events to send"), choices=[SelectChoice(kind, EVENT_LABELS.get(kind, kind)) for kind in EVENT_TYPES],
                             validators=[DataRequired(message=_l("Choose at least one event type."))])
    description = StringField(_l("Description (optional)"),
                              validators=[Optional(), Length(max=MAX_DESCRIPTION_LENGTH)])


class ConfirmForm(FlaskForm):
    """A button that confirms (its CSRF token only)."""
