"""A partner's own legal and tax details (docs/rules.md rule 25): the seller on every invoice to its clients.

Its administrators set them at ``/partner/legal``; the operator sets any of its
partners' at ``/operator/partners/<id>/legal``.
"""
from flask import abort, flash, redirect, url_for
from flask_login import current_user

from portal.blueprints.partners import bp
from portal.blueprints.partners.forms import PartnerLegalForm
from portal.domain.billing.prices import percent_text
from portal.domain.orgs import legal
from portal.i18n import gettext as _
from portal.rbac import permissions
from portal.rbac.decorators import login_required, require
from portal.rbac.scoping import get_partner_or_404
from portal.web.forms import submit
from portal.web.rendering import render


@bp.route("/partner/legal", methods=["GET", "POST"])
@login_required
def legal_details():
    """The caller's own partner's details."""
    partner = current_user.organisation
    if partner.kind != "partner":
        abort(404)
    return _legal_page(partner, url_for("partners.overview"))


@bp.route("/operator/partners/<id:partner_id>/legal", methods=["GET", "POST"])
@login_required
def partner_legal_details(partner_id):
    """The operator's view of one partner's details (another operator's partner: 404)."""
    require(permissions.manage_partners())
    partner = get_partner_or_404(partner_id)
    return _legal_page(partner, url_for("operator.partner_detail", partner_id=partner.id))


def _legal_page(partner, back: str):
    require(permissions.manage_partner_details(partner))
    form = PartnerLegalForm(data=dict(
        legal_name=partner.legal_name, address=partner.address, vat_number=partner.vat_number,
        tax_note=partner.tax_note, tax_rate=percent_text(partner.tax_rate_bp or 0)))
    submission = submit(form, lambda: legal.update_partner_legal(
        current_user, partner, form.legal_name.data, form.address.data, form.vat_number.data, form.tax_rate.data,
        form.tax_note.data), "legal_name")
    if submission.done:
        flash(_("The legal and tax details of %(partner)s were saved. Invoices issued from now on carry them.",
                partner=partner.name), "success")
        return redirect(back, 303)
    return render("partners/legal.html", submission.status, partner=partner, form=form, back=back)
