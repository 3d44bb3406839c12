from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from portal.i18n import _l


class SeatChoiceForm(FlaskForm):
    """A site and a subscription type, offered from scoped queries only.

    Shape only: the seat rules are the seat service's. A tampered site id or
    type code fails ``validate_choice``.
    """

    site_id = SelectField(_l("Site"), coerce=int, validate_choice=True)
    subscription_type = SelectField(_l("Subscription type"), validate_choice=True)

    def __init__(self, sites, types, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sites, self._types = sites, types
        self.site_id.choices = [SelectChoice(site.id, site.name) for site in sites]
        self.subscription_type.choices = [SelectChoice(t.code, t.name) for t in types]

    def chosen_site(self):
        """The site picked (once validated), else the first one offered, else None."""
        return next((s for s in self._sites if s.id == self.site_id.data), self._sites[0] if self._sites else None)

    def chosen_type(self):
        return next((t for t in self._types if t.code == self.subscription_type.data), None)


class NewUserForm(SeatChoiceForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    add_seat = BooleanField(_l("Add a seat if none is free"))
    send_invitation = RadioField(_l("Invitation e-mail"), default="now", choices=[
        SelectChoice("now", _l("Send it now")), SelectChoice("later", _l("Send it later"))])


class NewSiteForm(FlaskForm):
    name = StringField(_l("Site name"), validators=[DataRequired(), Length(max=200)])


class BulkInviteForm(SeatChoiceForm):
    """Several e-mails, one site, one type (the CoVet flow)."""

    emails = TextAreaField(_l("E-mail addresses (one per line)"), validators=[DataRequired(), Length(max=30_000)])
    add_seats = BooleanField(_l("Add the missing seats"))
    send_invitation = RadioField(_l("Invitation e-mails"), default="now", choices=[
        SelectChoice("now", _l("Send them now")), SelectChoice("later", _l("Send them later"))])
