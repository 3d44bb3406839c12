"""Forms of a user's seat life on the client page: move, reactivate, invite an administrator (rules 27, 27b, 28)."""
from flask_wtf import FlaskForm
from wtforms import EmailField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from portal.blueprints.clients.forms import SeatChoiceForm
from portal.i18n import _l


class SeatForm(SeatChoiceForm):
    """The seat a user moves to, or takes back when reactivated: site and type, starting on their own."""

    def __init__(self, user, sites, types, *args, **kwargs):
        if user.site_id is not None:  # what a field missing from the submitted data starts on
            kwargs.setdefault("data", {"site_id": user.site_id, "subscription_type": user.subscription_type.code})
        super().__init__(sites, types, *args, **kwargs)


class InviteAdministratorForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    send_invitation = RadioField(_l("Invitation e-mail"), default="now", choices=[
        SelectChoice("now", _l("Send it now")), SelectChoice("later", _l("Send it later"))])
