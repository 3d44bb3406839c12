"""A client's legal and tax details (docs/rules.md rule 25): the partner's administrators set them."""
from flask import flash, g, redirect, url_for
from flask_login import current_user

from portal.blueprints.clients import bp
from portal.blueprints.clients.legal_forms import ClientLegalForm
from portal.domain.billing.prices import percent_text
from portal.domain.orgs import legal
from portal.i18n import gettext as _
from portal.rbac import permissions
from portal.rbac.decorators import require
from portal.web.forms import submit
from portal.web.rendering import render


@bp.route("/legal", methods=["GET", "POST"])
def legal_details():
    """GET: the form, filled with the details as set; POST: save them (nothing is written on bad input)."""
    client = g.client
    require(permissions.manage_client(client))
    form = ClientLegalForm(data=dict(
        legal_name=client.legal_name, address=client.address, vat_number=client.vat_number,
        billing_email=client.billing_email, tax_note=client.tax_note,
        tax_rate=percent_text(client.tax_rate_bp) if client.tax_rate_bp is not None else ""))
    submission = submit(form, lambda: legal.update_client_legal(
        current_user, client, form.legal_name.data, form.address.data, form.vat_number.data,
        form.billing_email.data, form.tax_rate.data, form.tax_note.data), "legal_name")
    if submission.done:
        flash(_("The legal and tax details of %(client)s were saved. Invoices issued from now on carry them.",
                client=client.name), "success")
        return redirect(url_for("clients.detail", client_id=client.id), 303)
    return render("clients/legal.html", submission.status, client=client, form=form,
                  partner_rate=client.parent.tax_rate_bp or 0)
