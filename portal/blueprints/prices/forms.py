from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from portal.i18n import _l


class PriceForm(FlaskForm):
    """A monthly and an annual price per seat, typed in major units ("18" or "18.00")."""

    monthly = StringField(_l("Monthly price per seat"), validators=[DataRequired(), Length(max=40)])
    annual = StringField(_l("Annual price per seat"), validators=[DataRequired(), Length(max=40)])


class ConfirmForm(FlaskForm):
    """A button that confirms (its CSRF token only)."""
