"""Authentication (Flask-Login) and authorisation (Flask-Principal), in one place."""
from flask_login import current_user
from flask_principal import AnonymousIdentity

from portal.extensions import login_manager, principal
from portal.rbac import navigation, permissions
from portal.rbac.needs import identity_for
from portal.rbac.sessions import load_session_user


def init_app(app):
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = None  # sessions are server-side rows already
    login_manager.user_loader(load_session_user)
    principal.init_app(app)
    principal.identity_loader(_identity_from_login)
    app.context_processor(lambda: dict(permissions.TEMPLATE_HELPERS))
    app.add_template_global(navigation.sections, "navigation_sections")


def _identity_from_login():
    if current_user.is_authenticated:
        return identity_for(current_user._get_current_object())
    return AnonymousIdentity()

