"""Operator screens (``permissions.manage_partners``): the subscription-type catalogue and the partners."""
from flask import abort, current_app, flash, redirect, url_for
from flask_login import current_user

from portal import jobs as task_queue
from portal.blueprints.operator import bp
from portal.blueprints.operator.forms import (AdministratorForm, DiscountForm, NewPartnerForm, PricesForm,
                                             SubscriptionTypeForm)
from portal.domain import queue_status
from portal.domain.billing import catalogue, prices
from portal.domain.billing.money import decimal_text
from portal.domain.orgs import partners
from portal.domain.seats import queries
from portal.extensions import db
from portal.i18n import format_basis_points
from portal.i18n import gettext as _
from portal.models import SubscriptionType
from portal.rbac import permissions
from portal.rbac.decorators import login_required, require
from portal.rbac.scoping import get_partner_or_404
from portal.web.forms import submit
from portal.web.pagination import requested_page
from portal.web.rendering import render, render_page_or_partial


@bp.before_request
@login_required
def _require_partners_manage():
    # 403, not 404: the operator area is no tenant's object, so there is nothing to hide.
    require(permissions.manage_partners())


@bp.route("")
def index():
    return redirect(url_for("operator.partner_list"))


@bp.route("/catalogue")
def catalogue_list():
    return render("operator/catalogue.html", types=queries.catalogue(), tab="catalogue")


@bp.route("/catalogue/new", methods=["GET", "POST"])
def new_subscription_type():
    form = SubscriptionTypeForm()
    submission = submit(form, lambda: catalogue.create_subscription_type(
        current_user, form.code.data, form.name.data, form.monthly_price.data, form.annual_price.data,
        form.currency.data), "code")
    if submission.done:
        created = submission.result
        flash(_("%(name)s (%(code)s) was added to the catalogue.", name=created.name, code=created.code), "success")
        return redirect(url_for("operator.catalogue_list"), 303)
    return render("operator/type_form.html", submission.status, form=form, subscription_type=None,
                  tab="catalogue")


@bp.route("/catalogue/<id:type_id>/prices", methods=["GET", "POST"])
def edit_prices(type_id):
    """New list prices reach each client at its next period (rule 22); issued invoices keep theirs."""
    subscription_type = db.session.get(SubscriptionType, type_id) or abort(404)
    form = PricesForm(data=dict(monthly_price=decimal_text(subscription_type.monthly_price),
                                annual_price=decimal_text(subscription_type.annual_price)))
    submission = submit(form, lambda: catalogue.change_prices(
        current_user, subscription_type, form.monthly_price.data, form.annual_price.data), "monthly_price")
    if submission.done:
        flash(_("Prices of %(name)s saved; they reach each client at the start of its next period.",
                name=submission.result.name),
              "success")
        return redirect(url_for("operator.catalogue_list"), 303)
    return render("operator/type_form.html", submission.status, form=form, subscription_type=subscription_type,
                  tab="catalogue")


@bp.route("/jobs")
def jobs():
    """What waits in the task queue and what failed (rules 30-32): e-mails, webhook deliveries, events."""
    return render("operator/jobs.html", report=queue_status.queue_status(), queue=task_queue.jobs_of().waiting(),
                  tab="jobs")


@bp.route("/partners")
def partner_list():
    page = requested_page()
    listing = partners.partner_page(current_user, page=page, per_page=current_app.config["CLIENTS_PER_PAGE"])
    return render_page_or_partial("operator/partners.html", "operator/_partner_table.html", listing=listing,
                                  revenue_days=partners.REVENUE_DAYS, tab="partners")


@bp.route("/partners/<id:partner_id>")
def partner_detail(partner_id):
    """One partner: its clients, its seats (from its totals counters), its revenue and its discount."""
    partner = get_partner_or_404(partner_id)
    return _partner_page(partner, DiscountForm(data=dict(discount_percent=prices.percent_text(partner.discount_bp))))


def _partner_page(partner, discount_form, status=200):
    return render("operator/partner.html", status, summary=partners.partner_summary(current_user, partner),
                  revenue_days=partners.REVENUE_DAYS, discount_form=discount_form, tab="partners")


@bp.route("/partners/<id:partner_id>/discount", methods=["POST"])
def set_discount(partner_id):
    """The partner's discount, typed as a percentage; it applies to invoices issued from now on."""
    partner = get_partner_or_404(partner_id)
    form = DiscountForm()

    def change():
        return partners.set_discount(current_user, partner, prices.discount_from_percent(form.discount_percent.data))

    submission = submit(form, change, "discount_percent")
    if submission.done:
        flash(_("The discount of %(partner)s is now %(discount)s; it applies to invoices issued from now on.",
                partner=partner.name, discount=format_basis_points(submission.result.discount_bp)), "success")
        return redirect(url_for("operator.partner_detail", partner_id=partner.id), 303)
    return _partner_page(partner, form, submission.status)


@bp.route("/partners/new", methods=["GET", "POST"])
def new_partner():
    form = NewPartnerForm()
    submission = submit(form, lambda: partners.create_partner(
        current_user, form.name.data, form.invoice_prefix.data, form.admin_name.data, form.admin_email.data,
        language=form.language.data), "name")
    if submission.done:
        flash(_("%(partner)s was created; %(email)s was invited as its administrator.",
                partner=submission.result.name, email=form.admin_email.data.strip().lower()), "success")
        return redirect(url_for("operator.partner_list"), 303)
    return render("operator/new_partner.html", submission.status, form=form, tab="partners")


@bp.route("/partners/<id:partner_id>/administrators/new", methods=["GET", "POST"])
def invite_administrator(partner_id):
    """Invite another administrator, e.g. when the first invitation could not go out."""
    partner = get_partner_or_404(partner_id)
    form = AdministratorForm()
    submission = submit(form, lambda: partners.invite_administrator(
        current_user, partner, form.admin_email.data, form.admin_name.data), "admin_email")
    if submission.done:
        flash(_("%(email)s was invited as an administrator of %(partner)s.", email=submission.result.email,
                partner=partner.name), "success")
        return redirect(url_for("operator.partner_list"), 303)
    return render("operator/invite_administrator.html", submission.status, form=form, partner=partner,
                  tab="partners")
