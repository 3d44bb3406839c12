"""Shape only: the catalogue and partner services check codes, prices, prefixes and e-mails."""
from flask_wtf import FlaskForm
from wtforms import EmailField, StringField
from wtforms.validators import DataRequired, Length


class SubscriptionTypeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=100)],
                       description="2 to 40 characters: a-z, 0-9, '-' or '_'. It cannot change later.")
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    monthly_price = StringField("Monthly price per seat", validators=[DataRequired(), Length(max=40)],
                                description="In major units with at most two decimals, e.g. 15.00.")
    annual_price = StringField("Annual price per seat", validators=[DataRequired(), Length(max=40)])
    currency = StringField("Currency", default="EUR", validators=[DataRequired(), Length(max=10)],
                           description="ISO 4217, three upper-case letters.")


class PricesForm(FlaskForm):
    monthly_price = StringField("Monthly price per seat", validators=[DataRequired(), Length(max=40)])
    annual_price = StringField("Annual price per seat", validators=[DataRequired(), Length(max=40)])


class AdministratorForm(FlaskForm):
    admin_name = StringField("Administrator's name", validators=[DataRequired(), Length(max=400)])
    admin_email = EmailField("Administrator's e-mail", validators=[DataRequired(), Length(max=400)])


class NewPartnerForm(AdministratorForm):
    name = StringField("Partner name", validators=[DataRequired(), Length(max=400)])
    invoice_prefix = StringField("Invoice prefix", validators=[DataRequired(), Length(max=20)],
                                 description="2 to 6 upper-case letters; invoice numbers look like NW-000042.")
