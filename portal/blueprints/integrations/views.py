"""The Webhooks page: add, ping, pause, resume and delete endpoints, and read each one's delivery log.

Every page works without JavaScript: each action is a plain form POST
answered with a redirect (303) back to the page, except adding an endpoint,
whose answer shows the secret, once. The endpoints are the caller's own
organisation's (another's: 404); integrations.manage is required.
"""
from flask import abort, flash, redirect, url_for
from flask_login import current_user

from portal.blueprints.integrations import bp
from portal.blueprints.integrations.forms import ConfirmForm, WebhookForm
from portal.domain.events import EVENT_TYPES
from portal.domain.webhooks import delivery, endpoints
from portal.i18n import gettext as _
from portal.rbac import permissions
from portal.rbac.decorators import login_required, require
from portal.rbac.scoping import get_webhook_delivery_or_404, get_webhook_or_404
from portal.web.forms import submit
from portal.web.pagination import requested
from portal.web.rendering import render

DELIVERIES_PER_PAGE = 50


def _own():
    organisation = current_user.organisation
    if organisation.kind not in ("partner", "operator"):
        abort(404)
    require(permissions.manage_integrations(organisation))
    return organisation


def _load(webhook_id: int):
    endpoint = get_webhook_or_404(webhook_id)
    require(permissions.manage_integrations(endpoint.organisation))
    return endpoint


@bp.route("/webhooks", methods=["GET", "POST"])
@login_required
def webhooks():
    """The organisation's endpoints and the form that adds one."""
    organisation = _own()
    form = WebhookForm()
    submission = submit(form, lambda: endpoints.create(current_user, organisation, form.url.data, form.events.data,
                                                       form.description.data), "url")
    if submission.done:
        # The secret is shown on this answer only: no redirect, and nothing stores it for later.
        return render("integrations/created.html", 201, endpoint=submission.result.endpoint,
                      secret=submission.result.secret)
    return render("integrations/webhooks.html", submission.status, organisation=organisation, form=form,
                  endpoints=endpoints.endpoints_of(organisation), event_types=EVENT_TYPES)


@bp.route("/webhooks/<id:webhook_id>")
@login_required
def webhook(webhook_id):
    """One endpoint and its delivery log, newest first."""
    endpoint = _load(webhook_id)
    page = requested(delivery.deliveries_of(endpoint), DELIVERIES_PER_PAGE)
    return render("integrations/webhook.html", endpoint=endpoint, page=page, form=ConfirmForm())


@bp.route("/webhooks/<id:webhook_id>/ping", methods=["POST"])
@login_required
def ping(webhook_id):
    endpoint = _load(webhook_id)
    if ConfirmForm().validate_on_submit():
        delivery.ping(current_user, endpoint)
        flash(_("A ping is on its way; its outcome appears in the delivery log."), "success")
    return redirect(url_for("integrations.webhook", webhook_id=endpoint.id), 303)


@bp.route("/webhooks/<id:webhook_id>/pause", methods=["POST"])
@login_required
def pause(webhook_id):
    return _set_active(webhook_id, False, _("The endpoint is paused: no event is sent to it until it is resumed."))


@bp.route("/webhooks/<id:webhook_id>/resume", methods=["POST"])
@login_required
def resume(webhook_id):
    return _set_active(webhook_id, True, _("The endpoint is active again."))


def _set_active(webhook_id: int, active: bool, message: str):
    endpoint = _load(webhook_id)
    if ConfirmForm().validate_on_submit():
        endpoints.update(current_user, endpoint, active=active)
        flash(message, "success")
    return redirect(url_for("integrations.webhook", webhook_id=endpoint.id), 303)


@bp.route("/webhooks/<id:webhook_id>/delete", methods=["GET", "POST"])
@login_required
def delete(webhook_id):
    """A confirmation page, then the deletion (its delivery log goes with it)."""
    endpoint = _load(webhook_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        endpoints.delete(current_user, endpoint)
        flash(_("The endpoint %(url)s was deleted.", url=endpoint.url), "success")
        return redirect(url_for("integrations.webhooks"), 303)
    return render("integrations/confirm_delete.html", 422 if form.is_submitted() else 200, endpoint=endpoint,
                  form=form)


@bp.route("/webhooks/<id:webhook_id>/deliveries/<id:delivery_id>/retry", methods=["POST"])
@login_required
def retry(webhook_id, delivery_id):
    """"Send again": the event of that delivery, to this endpoint, now."""
    endpoint = _load(webhook_id)
    attempt = get_webhook_delivery_or_404(endpoint, delivery_id)
    if ConfirmForm().validate_on_submit():
        delivery.retry(current_user, attempt)
        flash(_("The event is queued to be sent again; its outcome appears in the delivery log."), "success")
    return redirect(url_for("integrations.webhook", webhook_id=endpoint.id), 303)
