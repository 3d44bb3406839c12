from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length


class NewUserForm(FlaskForm):
    """Shape only; seat rules are the seat service's. Choices come from scoped queries."""

    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    site_id = SelectField("Site", coerce=int, validate_choice=True)
    subscription_type = SelectField("Subscription type", validate_choice=True)
    add_seat = BooleanField("Add a seat if none is free")
    send_invitation = RadioField("Invitation e-mail", default="now", choices=[
        SelectChoice("now", "Send it now"), SelectChoice("later", "Send it later")])

    def __init__(self, sites, types, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.site_id.choices = [SelectChoice(site.id, site.name) for site in sites]
        self.subscription_type.choices = [SelectChoice(t.code, t.name) for t in types]


class NewSiteForm(FlaskForm):
    name = StringField("Site name", validators=[DataRequired(), Length(max=200)])


class BulkInviteForm(FlaskForm):
    """Several e-mails, one site, one type (the CoVet flow)."""

    emails = TextAreaField("E-mail addresses (one per line)", validators=[DataRequired(), Length(max=30_000)])
    site_id = SelectField("Site", coerce=int, validate_choice=True)
    subscription_type = SelectField("Subscription type", validate_choice=True)
    add_seats = BooleanField("Add the missing seats")
    send_invitation = RadioField("Invitation e-mails", default="now", choices=[
        SelectChoice("now", "Send them now"), SelectChoice("later", "Send them later")])

    def __init__(self, sites, types, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.site_id.choices = [SelectChoice(site.id, site.name) for site in sites]
        self.subscription_type.choices = [SelectChoice(t.code, t.name) for t in types]
