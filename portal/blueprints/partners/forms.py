from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class NewClientForm(FlaskForm):
    name = StringField("Client name", validators=[DataRequired(), Length(max=200)])
    billing_cycle = SelectField("Billing cycle", choices=[SelectChoice("monthly", "Monthly"), SelectChoice("annual", "Annual")])
    trial_days = IntegerField("Trial (days, optional)", validators=[Optional(), NumberRange(min=1, max=365)])
