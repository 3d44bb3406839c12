"""The audit log (``permissions.view_audit``): filters, pages newest first, and a streamed CSV export.

A partner reads its own events and its clients', a client only its own
(``scoping.audit_filter``). Dates are calendar days in UTC, the time zone
the events are stored in. Each event reads as a sentence with names
(``portal.web.audit_sentences``, docs/rules.md screen 15d); the raw details
are one click away. Successful logins are left out unless asked for.
"""
import json
import re
from datetime import date, datetime, time, timedelta, timezone

from flask import current_app, request
from flask_login import current_user

from portal.blueprints.audit import bp
from portal.domain import audit_log
from portal.domain.audit_log import OWNER
from portal.extensions import db
from portal.i18n import gettext as _
from portal.models import AuditEvent
from portal.rbac import permissions
from portal.rbac.decorators import login_required, require
from portal.web import csv_export
from portal.web.audit_sentences import (ACTION_GROUPS, ACTION_LABELS, EXACT_ACTIONS, action_label, sentence,
                                        target_type_name)
from portal.web.csv_export import safe_cell
from portal.web.dates import day_arg
from portal.web.errors import render_error
from portal.web.pagination import requested
from portal.web.rendering import is_htmx, render

CSV_COLUMNS = ["at", "organisation", "actor_email", "action", "target_type", "target_id", "before", "after", "ip"]
TARGET_TYPES = ("user", "client", "site", "partner", "subscription_type", "invoice")
_ACTION = re.compile(r"[a-z0-9_.]{1,60}")
_TARGET_TYPE = re.compile(r"[a-z_]{1,40}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _filters():
    """The filters from the query string, and a message per malformed one (that filter is then ignored)."""
    args, errors = request.args, {}
    action = args.get("action", "").strip()
    actor = args.get("actor", "").strip()
    target_type = args.get("target_type", "").strip()
    target_id = args.get("target_id", "").strip()
    if action and not _ACTION.fullmatch(action):
        errors["action"], action = _("Choose an action from the list."), ""
    if actor and (len(actor) > 254 or _CONTROL.search(actor)):
        errors["actor"], actor = _("Enter an e-mail address, or part of one, to filter by actor."), ""
    if target_type and not _TARGET_TYPE.fullmatch(target_type):
        errors["target_type"], target_type = _("Choose a target type from the list."), ""
    if target_id and not (target_id.isascii() and target_id.isdigit() and len(target_id) <= 18):
        errors["target_id"], target_id = _("Enter the target id as a whole number."), ""
    since, since_text = day_arg("from", errors)
    until, until_text = day_arg("to", errors)
    if since and until and since > until:
        errors["to"], until, until_text = _("The end date is before the start date."), None, ""
    include_logins = args.get("include_logins", "") == "1"
    filters = dict(action=action, actor=actor, target_type=target_type, target_id=target_id,
                   since=since, until=until, include_logins=include_logins)
    form = dict(filters, since=since_text, until=until_text)
    return filters, form, errors


def _query_args(form) -> dict:
    """The valid filters as query parameters, for the pager and the export link."""
    names = (("action", "action"), ("actor", "actor"), ("target_type", "target_type"),
             ("target_id", "target_id"), ("from", "since"), ("to", "until"))
    query = {param: form[key] for param, key in names if form[key]}
    if form["include_logins"]:
        query["include_logins"] = "1"
    return query


def _query_filters(filters) -> dict:
    """The filters as ``portal.domain.audit_log`` takes them.

    An action of the list is matched exactly ("auth.login" must not find "auth.login_failed");
    anything else (a group such as "role.", or an older link's "client") as a prefix.
    """
    action, until = filters["action"], filters["until"]
    exact = action in EXACT_ACTIONS
    return dict(action=action if exact else None, action_prefix=None if exact else action,
                actor_email=filters["actor"], target_type=filters["target_type"],
                target_id=int(filters["target_id"]) if filters["target_id"] else None,
                since=filters["since"] and _midnight(filters["since"]),
                until=until and _midnight(until + timedelta(days=1)))


def _events(filters, *columns):
    """Select ``columns`` of the events in reach that match the filters, newest first.

    The export is the complete record: logins are in it whether or not the screen shows them.
    """
    return audit_log.events_query(current_user, *columns, **_query_filters(filters))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone.utc)


def utc(moment: datetime | None) -> str:
    """A stored timestamp as UTC text for the CSV export, a machine format (PostgreSQL gives it back in the
    session's zone). The screen shows it with ``|moment``, in the reader's language."""
    if moment is None:
        return ""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") + " UTC"


def changes(value) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


@bp.before_request
@login_required
def _require_audit_view():
    require(permissions.view_audit(current_user.organisation))


@bp.route("")
def index():
    filters, form, errors = _filters()
    query = audit_log.readable_events_query(current_user, include_logins=filters["include_logins"],
                                            **_query_filters(filters))
    listing = requested(query, current_app.config["USERS_PER_PAGE"], query=_query_args(form), scalars=False)
    # A page costs the same statements at any length: names are joined, codes and ids looked up once.
    rows = audit_log.event_rows(listing.rows)
    names = audit_log.names_for(rows)
    events = [(row, sentence(row, names)) for row in rows]
    table = dict(events=events, total=listing.total, page=listing.page, pages=listing.pages, errors=errors,
                 export_args=listing.query, changes=changes, target_type_name=target_type_name)
    if is_htmx():
        return render("audit/_table.html", 422 if errors else 200, **table)
    action = form["action"]
    return render("audit/index.html", 422 if errors else 200, filters=form, action_groups=ACTION_GROUPS,
                  # An action typed in an older link (a prefix such as "client") stays chosen, in words.
                  other_action=action if action and action not in ACTION_LABELS else "",
                  other_action_label=action_label(action.rstrip(".")) if action else "",
                  target_types=TARGET_TYPES, **table)


@bp.route("/export.csv")
def export():
    """The filtered events as CSV, newest first, streamed: memory stays flat at any size."""
    filters, _form, errors = _filters()
    if errors:  # never export more than was asked for
        return render_error(422, " ".join(errors.values()))
    query = _events(
        filters, AuditEvent.at, OWNER.name, AuditEvent.actor_email, AuditEvent.action,
        AuditEvent.target_type, AuditEvent.target_id, AuditEvent.before, AuditEvent.after, AuditEvent.ip,
    )

    def rows():
        for at, organisation, actor, action, target_type, target_id, before, after, ip in db.session.execute(
                query.execution_options(yield_per=csv_export.BATCH)):
            yield [utc(at), safe_cell(organisation), safe_cell(actor), action, target_type,
                   "" if target_id is None else target_id, safe_cell(changes(before)), safe_cell(changes(after)),
                   ip or ""]

    return csv_export.csv_response("audit-log.csv", CSV_COLUMNS, rows)


