"""Settings read from the environment (docs/rules.md section 6)."""
import os

# Placeholder used only in debug and testing; create_app refuses it otherwise.
DEV_SECRET_KEY = "dev-only-not-secret"


class Config:
    SECRET_KEY = DEV_SECRET_KEY  # SECRET_KEY from the environment, read by from_environment()
    SQLALCHEMY_DATABASE_URI = None  # DATABASE_URL, else a SQLite file in the instance folder
    # Recycle instead of pinging before each checkout: the ping is a round trip
    # on every request, and the overview must stay near the login page's cost.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_recycle": 1800}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    # Argon2 parameters; tests lower them (hashing 30 users must not take seconds).
    PASSWORD_HASH_TIME_COST = 3
    PASSWORD_HASH_MEMORY_COST = 65536
    # Hosts the portal answers to (Flask refuses others with 400), so a forged
    # Host header cannot poison the links in invitation e-mails. None = any
    # (the local demo); set PORTAL_TRUSTED_HOSTS='["portal.example.com"]'.
    TRUSTED_HOSTS = None
    RATELIMIT_STORAGE_URI = "memory://"
    # Per address: offices share one address, so these stay generous (rule 20).
    LOGIN_RATE_LIMIT = "120 per minute"
    INVITATION_RATE_LIMIT = "30 per minute"
    CLIENTS_PER_PAGE = 25
    USERS_PER_PAGE = 50


class TestingConfig(Config):
    TESTING = True
    # The whole suite logs in from one address; the throttling tests lower these.
    LOGIN_RATE_LIMIT = "100000 per minute"
    INVITATION_RATE_LIMIT = "100000 per minute"
    SECRET_KEY = "testing-secret"
    WTF_CSRF_ENABLED = False
    PASSWORD_HASH_TIME_COST = 1
    PASSWORD_HASH_MEMORY_COST = 256


def from_environment() -> dict:
    """The two unprefixed settings, read when the app is built (not at import)."""
    settings = {}
    if os.environ.get("SECRET_KEY"):
        settings["SECRET_KEY"] = os.environ["SECRET_KEY"]
    if os.environ.get("DATABASE_URL"):
        settings["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    return settings
