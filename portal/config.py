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
    # Cookies only over HTTPS (SESSION_ and REMEMBER_COOKIE_SECURE, docs/rules.md rule 41b).
    # None: true outside debug and testing (load_config decides);
    # PORTAL_SESSION_COOKIE_SECURE=false for a plain-HTTP test server.
    SESSION_COOKIE_SECURE = None
    # A login session ends after this long without a request, and this long after
    # its login whatever happens (docs/rules.md rule 41b).
    SESSION_IDLE_SECONDS = 12 * 3600
    SESSION_MAX_SECONDS = 7 * 24 * 3600
    # The number of proxies in front of the portal whose X-Forwarded-For and
    # X-Forwarded-Proto are trusted (Werkzeug's ProxyFix). 0: none, the client
    # address is the socket's peer, so a forged header cannot dodge the lockout
    # or the rate limits (docs/rules.md rule 41b).
    PROXY_FIX = 0
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    # Argon2 parameters; tests lower them (hashing 30 users must not take seconds).
    PASSWORD_HASH_TIME_COST = 3
    PASSWORD_HASH_MEMORY_COST = 65536
    # Hosts the portal answers to (Flask refuses others with 400), so a forged
    # Host header cannot poison the links in invitation e-mails. None = any:
    # only in debug and testing, or with PORTAL_SERVER_NAME (the links' host) set;
    # create_app refuses to start otherwise (docs/rules.md rule 41b). Set
    # PORTAL_TRUSTED_HOSTS='["portal.example.com"]'.
    TRUSTED_HOSTS = None
    # None: in PORTAL_REDIS_URL's Redis when it is set, across every app server (docs/rules.md rule 44),
    # else memory:// (per process). If the store stops answering, each server counts on its own
    # meanwhile rather than refusing every request.
    RATELIMIT_STORAGE_URI = None
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    # Per address: offices share one address, so these stay generous (rule 20).
    LOGIN_RATE_LIMIT = "120 per minute"
    INVITATION_RATE_LIMIT = "30 per minute"
    # Password reset (docs/rules.md rule 39): a link lives PORTAL_PASSWORD_RESET_MAX_AGE
    # seconds. The forgot form is limited per client address and per e-mail address
    # (the latter so nobody can flood someone's mailbox; unknown addresses count the
    # same, so the limit reveals nothing); the reset link per client address (guessing).
    PASSWORD_RESET_MAX_AGE = 3600
    PASSWORD_FORGOT_RATE_LIMIT = "30 per minute"
    PASSWORD_FORGOT_EMAIL_RATE_LIMIT = "5 per hour"
    PASSWORD_RESET_RATE_LIMIT = "30 per minute"
    # Two-step verification (rule 38): the TOTP secrets are encrypted with a key
    # derived from PORTAL_TWO_STEP_KEY, or from SECRET_KEY when it is not set.
    # Changing it turns every authenticator app off: its users log in with a
    # recovery code and enrol again. Set it to rotate SECRET_KEY without that.
    TWO_STEP_KEY = None
    CLIENTS_PER_PAGE = 25
    USERS_PER_PAGE = 50
    # The task queue (docs/rules.md rule 31): Huey on a SQLite file (PORTAL_JOBS_SQLITE_PATH,
    # default instance/jobs.sqlite), or on Redis with PORTAL_REDIS_URL=redis://host:6379/0.
    REDIS_URL = None
    JOBS_SQLITE_PATH = None
    JOBS_QUEUE_NAME = "portal"
    # A failed e-mail is tried again after each of these delays (seconds), then marked failed;
    # each SMTP step waits at most PORTAL_MAIL_TIMEOUT seconds.
    MAIL_RETRY_SECONDS = "60,300,1800,7200,21600,86400"
    MAIL_TIMEOUT = 10
    # Webhooks (docs/rules.md rule 32): retries after each delay (seconds), then failed; at most
    # PORTAL_WEBHOOK_TIMEOUT seconds and PORTAL_WEBHOOK_MAX_RESPONSE_BYTES read per attempt; receivers on
    # private, loopback or link-local addresses (and plain http) only with PORTAL_WEBHOOK_ALLOW_PRIVATE=true;
    # an endpoint failing for PORTAL_WEBHOOK_DISABLE_AFTER_SECONDS (3 days) is disabled. Secrets are
    # encrypted with PORTAL_WEBHOOK_KEY (default: derived from SECRET_KEY).
    WEBHOOK_RETRY_SECONDS = "60,300,1800,7200,21600,86400"
    WEBHOOK_TIMEOUT = 10
    WEBHOOK_MAX_RESPONSE_BYTES = 65536
    WEBHOOK_ALLOW_PRIVATE = False
    WEBHOOK_DISABLE_AFTER_SECONDS = 259200
    WEBHOOK_KEY = None


class TestingConfig(Config):
    TESTING = True
    # The whole suite logs in from one address; the throttling tests lower these.
    LOGIN_RATE_LIMIT = "100000 per minute"
    INVITATION_RATE_LIMIT = "100000 per minute"
    PASSWORD_FORGOT_RATE_LIMIT = "100000 per minute"
    PASSWORD_RESET_RATE_LIMIT = "100000 per minute"
    SECRET_KEY = "testing-secret"
    SESSION_COOKIE_SECURE = False  # the test client speaks plain HTTP
    WTF_CSRF_ENABLED = False
    PASSWORD_HASH_TIME_COST = 1
    PASSWORD_HASH_MEMORY_COST = 256
    MAIL_RETRY_SECONDS = "0,0,0"
    WEBHOOK_RETRY_SECONDS = "0,0,0"


def from_environment() -> dict:
    """The two unprefixed settings, read when the app is built (not at import)."""
    settings = {}
    if os.environ.get("SECRET_KEY"):
        settings["SECRET_KEY"] = os.environ["SECRET_KEY"]
    if os.environ.get("DATABASE_URL"):
        settings["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    return settings


def flag(value, name: str) -> bool:
    """A yes/no setting given as a boolean, 0/1 or text (``true``, ``false``, ``yes``, ``off``…)."""
    if isinstance(value, bool) or value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise RuntimeError(f"PORTAL_{name} must be true or false, not {value!r}.")


def proxy_count(value) -> int:
    """PORTAL_PROXY_FIX: how many proxies in front of the portal are trusted, a whole number from 0 to 10."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) > 10:
        raise RuntimeError(f"PORTAL_PROXY_FIX must be the number of trusted proxies (0 to 10), not {value!r}.")
    return int(text)
