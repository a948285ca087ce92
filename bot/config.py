"""Configuration from a mapping (the environment, merged with an optional .env file)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from commands.text import MATRIX_USER

KNOWN = (
    "CASUSBOT_HOMESERVER", "CASUSBOT_USER_ID", "CASUSBOT_PASSWORD", "CASUSBOT_ACCESS_TOKEN",
    "CASUSBOT_DEVICE_ID", "CASUSBOT_STORE_PATH", "CASUSBOT_DATABASE_URL", "CASUSBOT_ADMINS",
    "CASUSBOT_REF_KEY", "CASUSBOT_TIMEZONE", "CASUSBOT_LOCALE", "CASUSBOT_PREFIX",
    "CASUSBOT_LOG_LEVEL", "CASUSBOT_DEVICE_NAME", "CASUSBOT_REQUIRE_E2EE",
    "CASUSBOT_SIGN_VERIFIED_ADMINS", "CASUSBOT_REDACT_PII", "CASUSBOT_REF_KEY_PREVIOUS",
    "CASUSBOT_GUIDE_URL",
    "CASUSBOT_RATE_LIMIT", "CASUSBOT_METRICS_PORT", "CASUSBOT_AGENDA_DAYS",
    "CASUSBOT_NUDGE_DAYS", "CASUSBOT_TEAMS_APP_ID", "CASUSBOT_TEAMS_APP_PASSWORD",
    "CASUSBOT_TEAMS_TENANT_ID", "CASUSBOT_TEAMS_PORT", "CASUSBOT_TEAMS_HOST",
    "CASUSBOT_TEAMS_ANONYMOUS", "CASUSBOT_TRANSPORT",
)
PLATFORMS = ("matrix", "teams")
LOCALES = ("nl", "en")
TEAMS_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,250}$", re.ASCII)
"""A user ID as a Bot Connector names it: ``29:1AbC…`` from Teams, ``8:orgid:…`` in some
channel data, ``user-id-0`` from the Agents Playground's default tenant. Not a Matrix ID
(``@…``), not an e-mail address or display name (no ``@``, no spaces)."""
MIN_REF_KEY = 16


class ConfigError(Exception):
    """A missing or invalid setting; the message is one line a person can act on."""


@dataclass(frozen=True)
class Config:
    homeserver: str
    user_id: str
    password: str | None
    access_token: str | None
    device_id: str | None
    store_path: Path
    database_url: str
    admins: frozenset[str]
    ref_key: bytes
    previous_ref_keys: tuple[bytes, ...] = ()
    timezone: str = "Europe/Amsterdam"
    locale: str = "nl"
    prefix: str = "!"
    log_level: str = "INFO"
    device_name: str = "casusbot"
    require_e2ee: bool = True
    # An administrator who verified the bot (issue 22) gets their master key signed with
    # the bot's user-signing key (CASUSBOT_SIGN_VERIFIED_ADMINS; Matrix only).
    sign_verified_admins: bool = False
    redact_pii: bool = True
    guide_url: str = ""
    rate_limit: int = 30
    metrics_port: int | None = None
    agenda_days: int = 5
    nudge_days: int = 2
    platform: str = "matrix"  # matrix | teams (casusbot run --transport)
    teams: TeamsConfig | None = None


@dataclass(frozen=True)
class TeamsConfig:
    """The Teams endpoint: an Azure Bot registration, or anonymous for local tests only."""

    app_id: str = ""
    app_password: str = ""
    tenant_id: str = ""
    host: str = "127.0.0.1"
    port: int = 3978
    anonymous: bool = False  # accept unauthenticated requests: tests and local trials only


def _required(env: Mapping[str, str], name: str, hint: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is required: {hint}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().casefold()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on", "ja"):
        return True
    if raw in ("0", "false", "no", "off", "nee"):
        return False
    raise ConfigError(f"{name} must be true or false (got {raw!r})")


def _days(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ConfigError(f"{name} must be a number of days from {low} to {high} (got {raw!r})")
    return int(raw)


def _port(raw: str, name: str = "CASUSBOT_METRICS_PORT") -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ConfigError(f"{name} must be a port number (got {raw!r})")
    return int(raw)


def _teams(env: Mapping[str, str]) -> TeamsConfig:
    def get(name: str) -> str:
        return env.get(f"CASUSBOT_TEAMS_{name}", "").strip()

    anonymous = _flag(env, "CASUSBOT_TEAMS_ANONYMOUS", False)
    app_id, password, tenant = get("APP_ID"), get("APP_PASSWORD"), get("TENANT_ID")
    if not anonymous:
        for name, value, hint in (
                ("APP_ID", app_id, "the Microsoft App ID of the Azure Bot registration"),
                ("APP_PASSWORD", password, "a client secret of that app registration"),
                ("TENANT_ID", tenant, "your Entra ID tenant (single-tenant bot)")):
            if not value:
                raise ConfigError(f"CASUSBOT_TEAMS_{name} is required for Teams: {hint} "
                                  f"(or CASUSBOT_TEAMS_ANONYMOUS=true for a local test "
                                  f"without Azure)")
    elif app_id:
        raise ConfigError("CASUSBOT_TEAMS_ANONYMOUS=true accepts unauthenticated requests and "
                          "is for local tests only; leave CASUSBOT_TEAMS_APP_ID empty with it")
    return TeamsConfig(app_id=app_id, app_password=password, tenant_id=tenant,
                       host=get("HOST") or "127.0.0.1",
                       port=_port(get("PORT"), "CASUSBOT_TEAMS_PORT") or 3978,
                       anonymous=anonymous)


def _rate(raw: str) -> int:
    if not raw:
        return 30
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        raise ConfigError(f"CASUSBOT_RATE_LIMIT must be commands per minute per person, "
                          f"1 to 10000 (got {raw!r})")
    return int(raw)


def _guide_url(url: str) -> str:
    if url and not re.match(r"^https?://\S+$", url):
        raise ConfigError(f"CASUSBOT_GUIDE_URL must be an http(s) URL (got {url!r})")
    return url


def load(env: Mapping[str, str], platform: str | None = None) -> Config:
    """Build a ``Config`` from ``env``; raises ``ConfigError`` naming the bad variable.

    ``platform`` (matrix or teams) comes from ``--transport``, else CASUSBOT_TRANSPORT.
    """
    for name in env:
        if name.startswith("CASUSBOT_") and name not in KNOWN:
            close = difflib.get_close_matches(name, KNOWN, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigError(f"{name} is not a casusbot setting{hint}")
    platform = platform or env.get("CASUSBOT_TRANSPORT", "").strip().casefold() or "matrix"
    if platform not in PLATFORMS:
        raise ConfigError(f"CASUSBOT_TRANSPORT (or --transport) must be one of "
                          f"{', '.join(PLATFORMS)} (got {platform!r})")
    if platform == "teams":
        return _common(env, platform="teams", homeserver="", user_id="", password=None,
                       token=None, admins=_admins(env, TEAMS_ID, "29:1AbC…",
                                                  "find yours with !setup, which answers "
                                                  "with your ID"),
                       teams=_teams(env))
    homeserver = _required(env, "CASUSBOT_HOMESERVER", "the homeserver URL, e.g. "
                           "https://matrix.example.org").rstrip("/")
    if not re.match(r"^https?://[^\s/]+", homeserver):
        raise ConfigError(f"CASUSBOT_HOMESERVER must be an http(s) URL, e.g. "
                          f"https://matrix.example.org (got {homeserver!r})")
    user_id = _required(env, "CASUSBOT_USER_ID", "the bot's Matrix ID, e.g. "
                        "@casusbot:example.org")
    if not MATRIX_USER.match(user_id):
        raise ConfigError(f"CASUSBOT_USER_ID must look like @casusbot:example.org "
                          f"(got {user_id!r})")
    password = env.get("CASUSBOT_PASSWORD", "").strip() or None
    token = env.get("CASUSBOT_ACCESS_TOKEN", "").strip() or None
    if not password and not token:
        raise ConfigError("CASUSBOT_PASSWORD or CASUSBOT_ACCESS_TOKEN is required to log in")
    return _common(env, platform="matrix", homeserver=homeserver, user_id=user_id,
                   password=password, token=token,
                   admins=_admins(env, MATRIX_USER, "@beheer:example.org,@fb:example.org",
                                  "Matrix IDs"))


def _admins(env: Mapping[str, str], pattern: re.Pattern[str], example: str,
            what: str) -> frozenset[str]:
    admins_raw = _required(env, "CASUSBOT_ADMINS", f"comma-separated user IDs allowed to "
                           f"!setup, e.g. {example} ({what})")
    admins = frozenset(a.strip() for a in admins_raw.split(",") if a.strip())
    bad = sorted(a for a in admins if not pattern.match(a))
    if bad or not admins:
        raise ConfigError(f"CASUSBOT_ADMINS holds an invalid user ID: {', '.join(bad)}; "
                          f"write e.g. {example}")
    return admins


def _common(env: Mapping[str, str], *, platform: str, homeserver: str, user_id: str,
            password: str | None, token: str | None, admins: frozenset[str],
            teams: TeamsConfig | None = None) -> Config:
    ref_key = _required(env, "CASUSBOT_REF_KEY", "a long random secret, e.g. the output of "
                        "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`")
    if len(ref_key) < MIN_REF_KEY:
        raise ConfigError(f"CASUSBOT_REF_KEY is too short ({len(ref_key)} characters); "
                          f"use at least {MIN_REF_KEY} random characters")
    timezone = env.get("CASUSBOT_TIMEZONE", "").strip() or "Europe/Amsterdam"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"CASUSBOT_TIMEZONE is not a known time zone: {timezone!r}; "
                          f"e.g. Europe/Amsterdam") from None
    locale = env.get("CASUSBOT_LOCALE", "").strip() or "nl"
    if locale not in LOCALES:
        raise ConfigError(f"CASUSBOT_LOCALE must be one of {', '.join(LOCALES)} "
                          f"(got {locale!r})")
    prefix = env.get("CASUSBOT_PREFIX", "").strip() or "!"
    if any(c.isspace() for c in prefix) or len(prefix) > 5:
        raise ConfigError(f"CASUSBOT_PREFIX must be 1-5 characters without spaces "
                          f"(got {prefix!r})")
    log_level = (env.get("CASUSBOT_LOG_LEVEL", "").strip() or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"CASUSBOT_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR "
                          f"(got {log_level!r})")
    return Config(
        homeserver=homeserver,
        user_id=user_id,
        password=password,
        access_token=token,
        device_id=env.get("CASUSBOT_DEVICE_ID", "").strip() or None,
        store_path=Path(env.get("CASUSBOT_STORE_PATH", "").strip() or "./casusbot-store"),
        database_url=env.get("CASUSBOT_DATABASE_URL", "").strip() or "sqlite:///casusbot.db",
        admins=admins,
        ref_key=ref_key.encode(),
        previous_ref_keys=tuple(k.strip().encode() for k in
                                env.get("CASUSBOT_REF_KEY_PREVIOUS", "").split(",") if k.strip()),
        timezone=timezone,
        locale=locale,
        prefix=prefix,
        log_level=log_level,
        device_name=env.get("CASUSBOT_DEVICE_NAME", "").strip() or "casusbot",
        # Teams has no end-to-end encryption to require, and a bot cannot delete a person's
        # message there: both are Matrix settings.
        require_e2ee=platform == "matrix" and _flag(env, "CASUSBOT_REQUIRE_E2EE", True),
        redact_pii=platform == "matrix" and _flag(env, "CASUSBOT_REDACT_PII", True),
        sign_verified_admins=platform == "matrix"
        and _flag(env, "CASUSBOT_SIGN_VERIFIED_ADMINS", False),
        guide_url=_guide_url(env.get("CASUSBOT_GUIDE_URL", "").strip()),
        rate_limit=_rate(env.get("CASUSBOT_RATE_LIMIT", "").strip()),
        metrics_port=_port(env.get("CASUSBOT_METRICS_PORT", "").strip()),
        agenda_days=_days(env, "CASUSBOT_AGENDA_DAYS", 5, 1, 30),
        nudge_days=_days(env, "CASUSBOT_NUDGE_DAYS", 2, 0, 30),
        platform=platform,
        teams=teams,
    )
