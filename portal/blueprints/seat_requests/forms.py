from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.i18n import _l
from portal.models.seat_request import MAX_NOTE_LENGTH, MAX_REQUESTED_SEATS


class SeatRequestForm(FlaskForm):
    """Ask for seats of a type at a site, maybe carrying the user being created.

    The carried user's fields are called ``name`` and ``email``, as on the
    new-user form, so that form's "Request seats" button posts straight here.
    """

    subscription_type = SelectField(_l("Subscription type"), validate_choice=True)
    quantity = IntegerField(_l("Number of seats"), default=1,
                            validators=[DataRequired(), NumberRange(min=1, max=MAX_REQUESTED_SEATS)])
    note = TextAreaField(_l("Note for finance (optional)"), validators=[Optional(), Length(max=MAX_NOTE_LENGTH)])
    name = StringField(_l("Name of the user to create (optional)"), validators=[Optional(), Length(max=200)])
    email = EmailField(_l("E-mail of the user to create (optional)"), validators=[Optional(), Length(max=254)])
    send_invitation = RadioField(_l("Invitation e-mail, once approved"), default="now", choices=[
        SelectChoice("now", _l("Send it at once")), SelectChoice("later", _l("I will send it later"))])

    def __init__(self, types, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.subscription_type.choices = [SelectChoice(t.code, t.name) for t in types]

    def carried_user(self) -> dict | None:
        """The user to create on approval, or None when neither field is filled."""
        if not (self.name.data or "").strip() and not (self.email.data or "").strip():
            return None
        return {"name": self.name.data, "email": self.email.data, "send_invitation": self.send_invitation.data}


class DeclineForm(FlaskForm):
    reason = TextAreaField(_l("Reason (the requester reads it)"),
                           validators=[DataRequired(), Length(max=MAX_NOTE_LENGTH)])
