from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.models import BILLING_CYCLES


class NewClientForm(FlaskForm):
    name = StringField("Client name", validators=[DataRequired(), Length(max=200)])
    billing_cycle = SelectField("Billing cycle", choices=[SelectChoice(cycle, cycle.title()) for cycle in BILLING_CYCLES])
    trial_days = IntegerField("Trial (days, optional)", validators=[Optional(), NumberRange(min=1, max=365)])
