"""Guards that answer a browser, an htmx request and a refused user differently."""
from functools import wraps

from flask import abort, redirect, request, url_for
from flask_login import current_user

from portal.extensions import htmx
from portal.rbac.needs import has_any_role


def login_redirect():
    """Send an anonymous caller to the login page (htmx: ``HX-Redirect``)."""
    target = url_for("auth.login", next=request.full_path.rstrip("?"))
    if htmx:
        return "", 204, {"HX-Redirect": target}
    return redirect(target)


def require(permission):
    """Abort with 403 unless the current identity holds ``permission``."""
    if not permission.can():
        abort(403)


def login_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        return guard_request() or view(*args, **kwargs)

    return wrapped


def guard_request():
    """For blueprint ``before_request`` hooks: the response to send instead, or None."""
    if not current_user.is_authenticated:
        return login_redirect()
    if not has_any_role(current_user):
        return redirect(url_for("auth.no_access"))
    return None
