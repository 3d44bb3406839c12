from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField
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


class PartnerLegalForm(FlaskForm):
    """A partner's legal and tax details (docs/rules.md rule 25): shape only, the service checks the values."""

    legal_name = StringField(_l("Legal name"), validators=[Optional(), Length(max=200)],
                             description=_l("As registered; invoices show the name in the portal when empty."))
    address = TextAreaField(_l("Address"), validators=[Optional(), Length(max=1000)])
    vat_number = StringField(_l("VAT number"), validators=[Optional(), Length(max=40)])
    tax_rate = StringField(_l("Tax rate (%)"), validators=[Length(max=10)],
                           description=_l("Charged on every invoice to your clients, unless a client has its own "
                                          "rate. 0 with a note for reverse charge."))
    tax_note = StringField(_l("Tax note"), validators=[Optional(), Length(max=200)],
                           description=_l("Printed under the totals, e.g. “VAT reverse charge — Article 196, "
                                          "Directive 2006/112/EC”."))
