"""Shape only: the catalogue and partner services check codes, prices, prefixes, e-mails and languages."""
from flask_wtf import FlaskForm
from wtforms import EmailField, StringField
from wtforms.validators import DataRequired, Length

from portal.blueprints.partners.forms import language_field
from portal.i18n import _l


class SubscriptionTypeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=100)],
                       description=_l("2 to 40 characters: a-z, 0-9, '-' or '_'. It cannot change later."))
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    monthly_price = StringField(_l("Monthly price per seat"), validators=[DataRequired(), Length(max=40)],
                                description=_l("In major units with at most two decimals, e.g. 15.00."))
    annual_price = StringField(_l("Annual price per seat"), validators=[DataRequired(), Length(max=40)])
    currency = StringField(_l("Currency"), default="EUR", validators=[DataRequired(), Length(max=10)],
                           description=_l("ISO 4217, three upper-case letters."))


class PricesForm(FlaskForm):
    monthly_price = StringField(_l("Monthly price per seat"), validators=[DataRequired(), Length(max=40)])
    annual_price = StringField(_l("Annual price per seat"), validators=[DataRequired(), Length(max=40)])


class AdministratorForm(FlaskForm):
    admin_name = StringField(_l("Administrator's name"), validators=[DataRequired(), Length(max=400)])
    admin_email = EmailField(_l("Administrator's e-mail"), validators=[DataRequired(), Length(max=400)])


class NewPartnerForm(AdministratorForm):
    name = StringField(_l("Partner name"), validators=[DataRequired(), Length(max=400)])
    invoice_prefix = StringField(_l("Invoice prefix"), validators=[DataRequired(), Length(max=20)],
                                 description=_l("2 to 6 upper-case letters; invoice numbers look like NW-000042."))
    # docs/rules.md rule 37: the partner's staff are invited in this language.
    language = language_field()


class DiscountForm(FlaskForm):
    # A percentage, as the operator reads it; the service stores basis points (docs/rules.md section 8).
    discount_percent = StringField(_l("Discount (%)"), validators=[DataRequired(), Length(max=20)],
                                   description=_l("Off the list price, from 0 to 100 with at most two decimals, "
                                                  "e.g. 20 or 12.5. It applies to invoices issued from now on."))
