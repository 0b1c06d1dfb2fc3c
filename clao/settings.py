"""ClaO settings: one module, configured only through environment variables."""

import json
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str = "0") -> bool:
    return os.getenv(name, default).strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: str) -> int:
    return int(os.getenv(name, default))


def envstr(name: str, default: str = "") -> str:
    return os.getenv(name, default)


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


def database_from_url(url: str, connect_timeout: int | None = None) -> dict:
    """Reads postgres://user:pass@host:port/name or sqlite:///path (relative to BASE_DIR)."""
    parts = urlparse(url)
    if parts.scheme in ("postgres", "postgresql"):
        return {
            # Django's, with a health check without a round trip (clao/backends/postgresql).
            "ENGINE": "clao.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": envint("DB_CONN_MAX_AGE", "60"),
            "CONN_HEALTH_CHECKS": True,
            # PgBouncer in transaction pooling hands each transaction to any server connection:
            # a named (server-side) cursor would not survive between two of them. Prepared
            # statements, the other thing such a pooler breaks, are already off in Django.
            "DISABLE_SERVER_SIDE_CURSORS": envbool("DB_TRANSACTION_POOLING"),
            "OPTIONS": {"connect_timeout": connect_timeout or envint("DB_CONNECT_TIMEOUT", "5")},
        }
    if parts.scheme == "sqlite":
        path = BASE_DIR / parts.path.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        # Writers queue at BEGIN rather than fail half-way: two tabs sending the same link
        # (employers/links.py) wait for each other instead of both reading a waiting recipient.
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path,
            "OPTIONS": {"transaction_mode": "IMMEDIATE"},
        }
    raise ImproperlyConfigured(f"DATABASE_URL scheme {parts.scheme!r} is not supported")


DEBUG = envbool("DEBUG")
SECRET_KEY = envstr("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-for-DEBUG"  # noqa: S105

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
SITE_ROOT = envstr("SITE_ROOT", "http://127.0.0.1:8000").rstrip("/")
# Where generated keys (SP and development IdP) live; never committed.
VAR_DIR = Path(envstr("CLAO_VAR_DIR", str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_ratelimit",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.saml",
    "accounts",
    "employers",
    "geo",
    "checkins",
    "api",
    "employer_space",
    "inspection",
]

# The demo app (demo/: development IdP, demo people, streets and `loaddemo`) exists only here:
# no product module imports it, and it plugs its IdP's metadata into accounts.saml itself.
CLAO_DEV_IDP = envbool("CLAO_DEV_IDP")
if CLAO_DEV_IDP:
    if not DEBUG:
        raise ImproperlyConfigured("CLAO_DEV_IDP=1 is refused when DEBUG is off")
    INSTALLED_APPS.append("demo")

MIDDLEWARE = [
    # First: probes get their answer before the HTTPS redirect, host checks and sessions.
    "clao.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "clao.db_router.ReadYourWritesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "clao.middleware.MalformedSessionCookieMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before the login expiry check, which answers htmx requests with HX-Redirect.
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.LoginExpiryMiddleware",
    "accounts.middleware.WorkerLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # After the CSP middleware in this list, so that it runs before it on the response.
    "accounts.middleware.IdpFormActionMiddleware",
    "clao.middleware.SecurityHeadersMiddleware",
    # Turns a view's Ratelimited exception into clao.errors.rate_limited (429).
    "django_ratelimit.middleware.RatelimitMiddleware",
]
if CLAO_DEV_IDP:
    # Opened on another port than SITE_ROOT's, the login would go astray: say what to do.
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.locale.LocaleMiddleware") + 1,
        "demo.middleware.SiteRootPortMiddleware",
    )

ROOT_URLCONF = "clao.urls"
WSGI_APPLICATION = "clao.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # {% per_language %}: constant parts of a page rendered once per language.
            "libraries": {"fragments": "clao.templatetags.fragments"},
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.spaces",
            ],
        },
    },
]

# Django's, with the plainest widget templates rendered in Python (the same HTML, less CPU).
FORM_RENDERER = "clao.form_renderer.FormRenderer"

DATABASE_URL = envstr("DATABASE_URL", "sqlite:///var/demo.sqlite3")
DATABASES = {"default": database_from_url(DATABASE_URL)}
# Two roles on PostgreSQL (docs/security.md): DATABASE_URL is the application's, which may only
# read and append registrations; DATABASE_OWNER_URL owns the tables and is used by the commands
# that change the schema or load history (manage.py OWNER_COMMANDS set CLAO_DATABASE_AS=owner).
# Unset, DATABASE_URL does everything (the embedded demo, the test suite).
DATABASE_OWNER_URL = envstr("DATABASE_OWNER_URL")
CLAO_DATABASE_AS = envstr("CLAO_DATABASE_AS", "app")
if CLAO_DATABASE_AS not in ("app", "owner", "retention"):
    raise ImproperlyConfigured("CLAO_DATABASE_AS must be app, owner or retention")
# Only the retention command drops a month of registrations, with its own role (docs/security.md).
DATABASE_RETENTION_URL = envstr("DATABASE_RETENTION_URL")
# Registrations are kept this many years (the function that drops them refuses fewer than 7).
CLAO_RETENTION_YEARS = envint("CLAO_RETENTION_YEARS", "7")
# The role `migrate` grants the application's privileges to: DATABASE_URL's user, when the
# owner connects separately.
CLAO_DB_APP_ROLE = envstr("CLAO_DB_APP_ROLE") or (
    unquote(urlparse(DATABASE_URL).username or "")
    if DATABASE_OWNER_URL
    and urlparse(DATABASE_URL).username != urlparse(DATABASE_OWNER_URL).username
    else ""
)
CLAO_DB_RETENTION_ROLE = envstr("CLAO_DB_RETENTION_ROLE") or (
    unquote(urlparse(DATABASE_RETENTION_URL).username or "") if DATABASE_RETENTION_URL else ""
)
# The application's role may not supply recorded_at: register() leaves it to the database's
# clock. With one role for everything (the embedded demo, the tests) it sends the server's.
CLAO_DB_CLOCK = envbool(
    "CLAO_DB_CLOCK", "1" if DATABASE_OWNER_URL and CLAO_DATABASE_AS != "owner" else "0"
)
if CLAO_DATABASE_AS == "owner" and DATABASE_OWNER_URL:
    DATABASES["default"] = database_from_url(DATABASE_OWNER_URL)
elif CLAO_DATABASE_AS == "retention" and DATABASE_RETENTION_URL:
    DATABASES["default"] = database_from_url(DATABASE_RETENTION_URL)
# A streaming replica for the reads an entry point declares lag-tolerant (clao/db_router.py);
# without it every query goes to DATABASE_URL. Tests mirror it onto the default database.
DATABASE_REPLICA_URL = envstr("DATABASE_REPLICA_URL")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = database_from_url(
        DATABASE_REPLICA_URL, connect_timeout=envint("DB_REPLICA_CONNECT_TIMEOUT", "2")
    ) | {"TEST": {"MIRROR": "default"}}
DATABASE_ROUTERS = ["clao.db_router.PrimaryReplicaRouter"]
# After a write, the same browser reads from the primary for this long: a replica that lags
# never hides the registration just made.
CLAO_READ_YOUR_WRITES_SECONDS = envint("CLAO_READ_YOUR_WRITES_SECONDS", "60")


def cache_from_url(url: str) -> dict:
    """redis://host:port/db (rediss:// with TLS), or locmem:// for one process only."""
    parts = urlparse(url)
    if parts.scheme in ("redis", "rediss"):
        return {
            # Django's, with one client per connection pool and incr() in one round trip.
            "BACKEND": "clao.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": envstr("CACHE_KEY_PREFIX", "clao"),
        }
    if parts.scheme == "locmem":
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    raise ImproperlyConfigured(f"CACHE_URL scheme {parts.scheme!r} is not supported")


# Shared by every app node when it is Redis; the default local memory suits one process (the
# demo on SQLite needs no Redis).
CACHE_URL = envstr("CACHE_URL", "locmem://")
CACHES = {"default": cache_from_url(CACHE_URL)}
SESSION_BACKENDS = {
    "db": "django.contrib.sessions.backends.db",
    "cache": "django.contrib.sessions.backends.cache",
    "cached_db": "django.contrib.sessions.backends.cached_db",
}
_session_store = envstr("SESSION_ENGINE", "db")
if _session_store not in SESSION_BACKENDS:
    raise ImproperlyConfigured(f"SESSION_ENGINE must be one of {', '.join(SESSION_BACKENDS)}")
if _session_store == "cache" and CACHES["default"]["BACKEND"].endswith("LocMemCache"):
    # Every process would have its own sessions: a login would hold on one node only.
    raise ImproperlyConfigured("SESSION_ENGINE=cache needs a shared CACHE_URL (redis://...)")
SESSION_ENGINE = SESSION_BACKENDS[_session_store]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.Person"
AUTHENTICATION_BACKENDS = [
    # allauth's, reading the person of each request with a query compiled once.
    "accounts.backends.AuthenticationBackend",
    # Sessions opened before it existed name allauth's own: they stay valid until they end.
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"

# The login lasts 6 hours from authentication (the itsme validity in the manual).
CLAO_LOGIN_MAX_AGE = envint("CLAO_LOGIN_MAX_AGE", str(6 * 3600))
# The session outlives the login so that a form posted after expiry can be kept for later.
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", str(24 * 3600))
# The SAML ACS POST arrives cross-site from the IdP: Strict would drop the session cookie.
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True

LANGUAGE_CODE = "fr"
LANGUAGES = [
    ("fr", "Français"),
    ("nl", "Nederlands"),
    ("de", "Deutsch"),
    ("en", "English"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["clao.formats"]
USE_I18N = True
TIME_ZONE = "Europe/Brussels"
USE_TZ = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
    # Proofs joined to ONSS corrections: private (no base_url, never under MEDIA), served
    # only to inspectors by inspection.views.proof. Another backend (S3...) by
    # CLAO_PROOF_STORAGE_BACKEND and its options as JSON in CLAO_PROOF_STORAGE_OPTIONS.
    "proofs": {
        "BACKEND": envstr(
            "CLAO_PROOF_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"
        ),
        "OPTIONS": json.loads(envstr("CLAO_PROOF_STORAGE_OPTIONS"))
        if envstr("CLAO_PROOF_STORAGE_OPTIONS")
        else {"location": str(VAR_DIR / "proofs"), "base_url": None},
    },
}

# The ONSS inspector space (inspection/).
# Corrections are accepted this many days after the registration they correct.
CLAO_CORRECTION_WINDOW_DAYS = envint("CLAO_CORRECTION_WINDOW_DAYS", "30")
CLAO_PROOF_MAX_BYTES = envint("CLAO_PROOF_MAX_BYTES", str(5 * 1024 * 1024))
# The worker's page of inspector accesses shows the inspector's name only if policy allows.
CLAO_SHOW_INSPECTOR_NAMES = envbool("CLAO_SHOW_INSPECTOR_NAMES")

# allauth: workers never have a password; the only way in is the SAML provider below.
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_USER_MODEL_USERNAME_FIELD = "niss"
ACCOUNT_USER_MODEL_EMAIL_FIELD = None
ACCOUNT_SIGNUP_FIELDS = ["username*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGOUT_REDIRECT_URL = "logged_out"
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
SOCIALACCOUNT_LOGIN_ON_GET = True
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_STORE_TOKENS = False

# SAML identity provider (CSAM in production). Its metadata alone configures it.
CLAO_SAML_IDP_METADATA_URL = envstr("CLAO_SAML_IDP_METADATA_URL")
CLAO_SAML_SP_ENTITY_ID = envstr("CLAO_SAML_SP_ENTITY_ID")
CLAO_SAML_SP_CERT_FILE = envstr("CLAO_SAML_SP_CERT_FILE")
CLAO_SAML_SP_KEY_FILE = envstr("CLAO_SAML_SP_KEY_FILE")
CLAO_SAML_ATTR_NISS = envstr("CLAO_SAML_ATTR_NISS", "egovNRN")
CLAO_SAML_ATTR_GIVEN_NAME = envstr("CLAO_SAML_ATTR_GIVEN_NAME", "givenName")
CLAO_SAML_ATTR_SURNAME = envstr("CLAO_SAML_ATTR_SURNAME", "surname")
CLAO_SAML_ATTR_LANGUAGE = envstr("CLAO_SAML_ATTR_LANGUAGE", "PrefLanguage")
# Optional: the attribute carrying an inspector's office; empty = roles by command only.
CLAO_SAML_ATTR_INSPECTOR_OFFICE = envstr("CLAO_SAML_ATTR_INSPECTOR_OFFICE")
CLAO_SAML_METADATA_CACHE_SECONDS = envint("CLAO_SAML_METADATA_CACHE_SECONDS", "14400")
# The largest SAML answer the ACS accepts (a signed CSAM answer is a few KB); also the most a
# logout message may inflate to.
CLAO_SAML_ACS_MAX_BYTES = envint("CLAO_SAML_ACS_MAX_BYTES", "100000")

# Content Security Policy: only our own origin, scripts only with the per-response nonce.
# form-action must also allow the IdP: logging out posts a form that redirects there.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF, *envlist("CLAO_CSP_FORM_ACTION")],
}
if CLAO_SAML_IDP_METADATA_URL.startswith(("http://", "https://")):
    _idp = urlparse(CLAO_SAML_IDP_METADATA_URL)
    SECURE_CSP["form-action"].append(f"{_idp.scheme}://{_idp.netloc}")

SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "0" if DEBUG else "1")
CLAO_BEHIND_PROXY = envbool("CLAO_BEHIND_PROXY")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if CLAO_BEHIND_PROXY else None
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000")
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
# preload is a commitment (browsers ship the host as HTTPS-only for months): opt in only.
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD")
# check --deploy warns about preload being off (security.W021): that is the choice above.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# django-ratelimit knows neither ClaO's Redis backend (clao/cache.py; atomic incr: fine, W001)
# nor a local-memory cache as enough (E003: counts per process, which the README says).
SILENCED_SYSTEM_CHECKS += ["django_ratelimit.W001", "django_ratelimit.E003"]
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
LANGUAGE_COOKIE_SECURE = not DEBUG
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
X_FRAME_OPTIONS = "DENY"
# The position of the phone (registration.js) is the one browser feature ClaO uses.
CLAO_PERMISSIONS_POLICY = envstr(
    "CLAO_PERMISSIONS_POLICY",
    "geolocation=(self), camera=(), microphone=(), payment=(), usb=(), serial=(), hid=(), "
    "bluetooth=(), midi=(), display-capture=(), screen-wake-lock=(), xr-spatial-tracking=(), "
    "accelerometer=(), gyroscope=(), magnetometer=(), publickey-credentials-get=(), "
    "idle-detection=(), local-fonts=(), browsing-topics=()",
)
CSRF_FAILURE_VIEW = "clao.errors.csrf_failure"

# Rate limits, "<count>/<period>" with s, m, h or d: per person when logged in, else per
# client address. A request over its limit gets clao.errors.rate_limited (429). The counters
# live in Django's cache: per process with the local-memory default, shared by every process
# and node with CACHE_URL=redis://...
RATE_LIMIT = re.compile(r"[0-9]+/[0-9]*[smhd]")
CLAO_RATE_LIMITS = {
    "login": envstr("CLAO_RATE_LOGIN", "30/m"),  # starting a login (per address)
    "acs": envstr("CLAO_RATE_ACS", "30/m"),  # answers posted by the IdP (per address)
    "registration": envstr("CLAO_RATE_REGISTRATION", "20/m"),  # the form's submissions
    "quick_out": envstr("CLAO_RATE_QUICK_OUT", "10/m"),  # the one-tap OUT
    "suggestions": envstr("CLAO_RATE_SUGGESTIONS", "120/m"),  # /geo/ while typing
    "employer_name": envstr("CLAO_RATE_EMPLOYER_NAME", "60/m"),  # while typing a number
}
for _group, _rate in CLAO_RATE_LIMITS.items():
    if not RATE_LIMIT.fullmatch(_rate):
        raise ImproperlyConfigured(f"CLAO_RATE_{_group.upper()}={_rate!r} is not like 30/m")
# A street typed by workers is suggested to all once this many different workers typed it in
# that municipality (geo.addresses.learn_street); before, only to those who typed it.
CLAO_STREET_LEARNERS = envint("CLAO_STREET_LEARNERS", "3")
RATELIMIT_VIEW = "clao.errors.rate_limited"
RATELIMIT_IP_META_KEY = "clao.ratelimits.client_ip"
# The presence-registration web service (api/): requests per device credential and period
# ("<count>/<period>", s m h or d; counters in Django's cache, shared through CACHE_URL=redis://),
# and the largest body a batch may have (200 items take about 100 KB).
CLAO_API_RATE = envstr("CLAO_API_RATE", "120/m")
if not RATE_LIMIT.fullmatch(CLAO_API_RATE):
    raise ImproperlyConfigured(f"CLAO_API_RATE={CLAO_API_RATE!r} is not like 120/m")
CLAO_API_MAX_BODY_BYTES = envint("CLAO_API_MAX_BODY_BYTES", str(512 * 1024))

# E-mail (the personalised links), as Django 6.1's MAILERS: the console in development, SMTP by
# default in production; any e-mail backend by its dotted path (e.g. django-anymail's).
_EMAIL_BACKEND = envstr(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
_EMAIL_OPTIONS = {}
if _EMAIL_BACKEND.endswith(".smtp.EmailBackend"):
    _EMAIL_OPTIONS = {
        "host": envstr("EMAIL_HOST", "localhost"),
        "port": envint("EMAIL_PORT", "25"),
        "username": envstr("EMAIL_HOST_USER"),
        "password": envstr("EMAIL_HOST_PASSWORD"),
        "use_tls": envbool("EMAIL_USE_TLS"),
        "use_ssl": envbool("EMAIL_USE_SSL"),
        "timeout": envint("EMAIL_TIMEOUT", "10"),
    }
elif _EMAIL_BACKEND.endswith(".filebased.EmailBackend"):
    _EMAIL_OPTIONS = {"file_path": envstr("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))}
MAILERS = {"default": {"BACKEND": _EMAIL_BACKEND, "OPTIONS": _EMAIL_OPTIONS}}
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "ClaO <no-reply@localhost>")
# SMS (the personalised links): console | twilio (employers/sms.py).
CLAO_SMS_BACKEND = envstr("CLAO_SMS_BACKEND", "console" if DEBUG else "twilio")
CLAO_SMS_TWILIO_ACCOUNT_SID = envstr("CLAO_SMS_TWILIO_ACCOUNT_SID")
CLAO_SMS_TWILIO_AUTH_TOKEN = envstr("CLAO_SMS_TWILIO_AUTH_TOKEN")
CLAO_SMS_FROM = envstr("CLAO_SMS_FROM")
if CLAO_SMS_BACKEND not in ("console", "locmem", "twilio"):
    raise ImproperlyConfigured("CLAO_SMS_BACKEND: console, locmem or twilio")
# Sending the link to many workers (employers/links.py): each request about a sending (its
# page's progress requests, the form) sends at most this many recipients, started within this
# many seconds (a slow SMS provider must not hold a request past gunicorn's timeout);
# `manage.py send_pending_links` sends what nobody's page sends.
CLAO_LINK_SEND_CHUNK = envint("CLAO_LINK_SEND_CHUNK", "10")
CLAO_LINK_SEND_SECONDS = envint("CLAO_LINK_SEND_SECONDS", "5")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"one_line": {"()": "clao.logging.OneLineFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "one_line"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # fpdf2's font subsetting (the DDT poster) logs every table it prunes at INFO.
        "fontTools": {"level": "WARNING"},
    },
}
