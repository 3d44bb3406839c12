"""Operator screens (``partners.manage``): the subscription-type catalogue and the partners."""
from flask import abort, current_app, flash, redirect, url_for
from flask_login import current_user
from sqlalchemy import select

from portal.blueprints.operator import bp
from portal.blueprints.operator.forms import AdministratorForm, NewPartnerForm, PricesForm, SubscriptionTypeForm
from portal.domain.billing import catalogue
from portal.domain.errors import DomainError
from portal.domain.orgs import partners
from portal.domain.seats import counters as seats
from portal.extensions import db
from portal.models import Organisation, SubscriptionType
from portal.rbac import permissions
from portal.rbac.decorators import login_required, require
from portal.web.forms import add_error
from portal.web.pagination import requested_page
from portal.web.rendering import render_page_or_partial


@bp.before_request
@login_required
def _require_partners_manage():
    # 403, not 404: the operator area is no tenant's object, so there is nothing to hide.
    require(permissions.manage_partners())


def _submit(form, action, default_field: str):
    """Validate the form and run ``action``; a domain error goes on its field. → (result, status)."""
    if not form.validate_on_submit():
        return None, 422 if form.is_submitted() else 200
    try:
        return action(), 200
    except DomainError as error:
        add_error(form, error, default_field)
        return None, error.status


@bp.route("")
def index():
    return redirect(url_for("operator.partner_list"))


@bp.route("/catalogue")
def catalogue_list():
    return render_page_or_partial("operator/catalogue.html", "operator/catalogue.html", types=seats.catalogue(),
                                  tab="catalogue")


@bp.route("/catalogue/new", methods=["GET", "POST"])
def new_subscription_type():
    form = SubscriptionTypeForm()
    created, status = _submit(form, lambda: catalogue.create_subscription_type(
        current_user, form.code.data, form.name.data, form.monthly_price.data, form.annual_price.data,
        form.currency.data), "code")
    if created is not None:
        flash(f"{created.name} ({created.code}) was added to the catalogue.", "success")
        return redirect(url_for("operator.catalogue_list"), 303)
    return render_page_or_partial("operator/type_form.html", "operator/type_form.html", status, form=form,
                                  subscription_type=None, tab="catalogue")


@bp.route("/catalogue/<id:type_id>/prices", methods=["GET", "POST"])
def edit_prices(type_id):
    """New prices apply to invoices issued from now on; issued invoices keep theirs."""
    subscription_type = db.session.get(SubscriptionType, type_id) or abort(404)
    form = PricesForm(data=dict(monthly_price=catalogue.format_price(subscription_type.monthly_price),
                                annual_price=catalogue.format_price(subscription_type.annual_price)))
    changed, status = _submit(form, lambda: catalogue.change_prices(
        current_user, subscription_type, form.monthly_price.data, form.annual_price.data), "monthly_price")
    if changed is not None:
        flash(f"Prices of {changed.name} saved; they apply to invoices issued from now on.", "success")
        return redirect(url_for("operator.catalogue_list"), 303)
    return render_page_or_partial("operator/type_form.html", "operator/type_form.html", status, form=form,
                                  subscription_type=subscription_type, tab="catalogue")


@bp.route("/partners")
def partner_list():
    page = requested_page()
    listing = partners.partner_page(current_user, page=page, per_page=current_app.config["CLIENTS_PER_PAGE"])
    return render_page_or_partial("operator/partners.html", "operator/_partner_table.html", listing=listing,
                                  tab="partners")


@bp.route("/partners/new", methods=["GET", "POST"])
def new_partner():
    form = NewPartnerForm()
    created, status = _submit(form, lambda: partners.create_partner(
        current_user, form.name.data, form.invoice_prefix.data, form.admin_name.data, form.admin_email.data),
        "name")
    if created is not None:
        flash(f"{created.name} was created; {form.admin_email.data.strip().lower()} was invited as its "
              "administrator.", "success")
        return redirect(url_for("operator.partner_list"), 303)
    return render_page_or_partial("operator/new_partner.html", "operator/new_partner.html", status, form=form,
                                  tab="partners")


@bp.route("/partners/<id:partner_id>/administrators/new", methods=["GET", "POST"])
def invite_administrator(partner_id):
    """Invite another administrator, e.g. when the first invitation could not go out."""
    partner = db.session.scalar(select(Organisation).where(
        Organisation.id == partner_id, Organisation.kind == "partner",
        Organisation.parent_id == current_user.organisation_id)) or abort(404)
    form = AdministratorForm()
    invited, status = _submit(form, lambda: partners.invite_administrator(
        current_user, partner, form.admin_email.data, form.admin_name.data), "admin_email")
    if invited is not None:
        flash(f"{invited.email} was invited as an administrator of {partner.name}.", "success")
        return redirect(url_for("operator.partner_list"), 303)
    return render_page_or_partial("operator/invite_administrator.html", "operator/invite_administrator.html",
                                  status, form=form, partner=partner, tab="partners")
