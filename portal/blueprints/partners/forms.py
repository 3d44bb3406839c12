from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.i18n import LANGUAGE_NAMES, LANGUAGES, _l
from portal.models import BILLING_CYCLES
from portal.web.labels import BILLING_CYCLE_LABELS

# docs/rules.md rule 37: the language of an organisation's invitations. Each language is named in its own
# words (a French reader looks for "Français"); the values are the stored codes. The service checks the value.
LANGUAGE_CHOICES = [SelectChoice(code, LANGUAGE_NAMES[code]) for code in LANGUAGES]


def language_field() -> SelectField:
    return SelectField(_l("Language of invitations"), choices=LANGUAGE_CHOICES, default="en", validate_choice=False,
                       description=_l("Invitation e-mails to its people are written in this language."))


class NewClientForm(FlaskForm):
    name = StringField(_l("Client name"), validators=[DataRequired(), Length(max=200)])
    billing_cycle = SelectField(_l("Billing cycle"),
                                choices=[SelectChoice(cycle, BILLING_CYCLE_LABELS[cycle]) for cycle in BILLING_CYCLES])
    trial_days = IntegerField(_l("Trial (days, optional)"), validators=[Optional(), NumberRange(min=1, max=365)])
    language = language_field()
