"""Django settings, built from :mod:`casegate.config`."""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from casegate.config import get_config, secret_key
from casegate.maillog import logging_settings
from casegate.web_security import web_settings

CONFIG = get_config()

SECRET_KEY = secret_key(CONFIG)
DEBUG = False
# ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS, secure cookies, HSTS and the proxy's scheme header
globals().update(web_settings(CONFIG))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "casegate.directory",
    "casegate.routing",
    "casegate.gateway",
    "casegate.delivery",
    "casegate.desk",
    "casegate.mailboxes",
    "casegate.api",
    "casegate.console",
    "auditlog",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "casegate.console.middleware.AuditContext",
    "casegate.console.middleware.ReadersTimeZone",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "casegate.console.middleware.ContentSecurityPolicy",
]

EMAIL_BACKEND = "casegate.console.mail.QueueBackend"
DEFAULT_FROM_EMAIL = f"casegate <noreply@{CONFIG.hostname}>"
LOGIN_URL = "/console/login/"
LOGIN_REDIRECT_URL = "/console/"
LOGOUT_REDIRECT_URL = "/console/login/"
# One rule for every password: `casegate user add` and a reset link's form both apply it.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 10}},
]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

ROOT_URLCONF = "casegate.urls"
WSGI_APPLICATION = "casegate.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if CONFIG.database_url:
    DATABASES = {"default": dj_database_url.parse(CONFIG.database_url, conn_max_age=None)}
    # A commit answered 250 must outlive the server's crash whatever the server's or the
    # role's default (synchronous_commit=off is a common tuning); a URL that names a level
    # of its own (remote_apply, say) keeps it.
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    if "synchronous_commit" not in _options.get("options", ""):
        _options["options"] = f"{_options.get('options', '')} -c synchronous_commit=on".strip()
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(CONFIG.sqlite_path),
            "OPTIONS": {
                # WAL lets readers run beside the one writer; synchronous=FULL makes a
                # commit durable before the SMTP client is told 250.
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
# English and the five languages of the article; the console follows the browser's
# Accept-Language until the user picks another (kept in a cookie).
LANGUAGES = [("en", "English"), ("fr", "Français"), ("pt", "Português"), ("id", "Bahasa Indonesia"),
             ("he", "עברית"), ("ar", "العربية")]
USE_I18N = True
# One catalog per language for the whole product: the console and the messages of the
# services it shows (rule validation, the simulator, verify).
LOCALE_PATHS = [Path(__file__).resolve().parent / "locale"]
STATIC_URL = "static/"

LOGGING = logging_settings(CONFIG.log_format, CONFIG.log_level, CONFIG.log_file)
