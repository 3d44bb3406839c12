"""The client's legal and tax details form (docs/rules.md rule 25), the partner's form and a billing e-mail."""
from wtforms import EmailField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from portal.blueprints.partners.forms import PartnerLegalForm
from portal.i18n import _l


class ClientLegalForm(PartnerLegalForm):
    """Shape only: the service checks the values (an empty tax rate follows the partner's)."""

    address = TextAreaField(_l("Billing address"), validators=[Optional(), Length(max=1000)])
    billing_email = EmailField(_l("Billing e-mail"), validators=[Optional(), Length(max=254)],
                               description=_l("Where the client's invoices are meant to go."))
    tax_rate = StringField(_l("Tax rate (%)"), validators=[Optional(), Length(max=10)])
