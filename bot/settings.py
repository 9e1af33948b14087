"""Settings read once from the environment, with embedded defaults for a laptop.

Every variable is listed with its purpose and default in `.env.example`.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TWILIO_API_BASE_URL = "https://api.twilio.com"
RULE_SETS = ("hpsm-2022", "dhcs-2024")


def _var_dir() -> Path:
    return Path(os.environ.get("VAR_DIR", PROJECT_ROOT / "var"))


def _load_or_create_secret(path: Path) -> str:
    """Return the development secret kept at `path`, creating it on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    path.write_text(value)
    path.chmod(0o600)
    return value


def _split(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _port(env, name: str, default: int) -> int:
    value = env.get(name) or str(default)
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError(f"{name}={value!r} is invalid; use a TCP port number")
    return int(value)


def _positive_int(env, name: str, default: int) -> int:
    value = env.get(name) or str(default)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name}={value!r} is invalid; use a whole number above 0")
    return int(value)


def _flag(env, name: str, default: bool) -> bool:
    value = (env.get(name) or "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}={value!r} is invalid; use true or false")


def _default_origins(web_port: int) -> tuple[str, ...]:
    """Return the demo page's origins, the default of ALLOWED_ORIGINS."""
    return (f"http://127.0.0.1:{web_port}", f"http://localhost:{web_port}")


@dataclass(frozen=True)
class Settings:
    """The product's configuration; build it with `get_settings()`."""

    var_dir: Path
    database_url: str
    redis_url: str | None
    app_secret: str
    rasa_auth_token: str | None
    twilio_account_sid: str | None
    twilio_auth_token: str | None
    twilio_from_number: str | None
    twilio_api_base_url: str
    public_base_url: str | None
    eligibility_rule_set: str
    allowed_origins: tuple[str, ...]
    retention_days: int
    log_level: str
    rasa_port: int = 5005
    action_server_port: int = 5055
    # Inbound SMS from one number over this many per window get no dialogue
    # turn, only one notice per window. Crisis and opt-out messages are exempt.
    sms_rate_limit_messages: int = 20
    sms_rate_limit_window_seconds: int = 60
    # Seconds before the first retry of a failed SMS send; each retry doubles it.
    outbox_retry_base_seconds: int = 30
    # A warning is logged while more SMS rows wait to be sent, or the oldest
    # waits longer, than these limits.
    outbox_backlog_warn_rows: int = 100
    outbox_backlog_warn_seconds: int = 300
    # The product's own web server: coordinator workspace, its API, the web
    # chat widget's files and the demo page.
    web_port: int = 8080
    web_interface: str = "127.0.0.1"
    # The web server's address as other hosts reach it (behind a proxy, the
    # proxy's), for absolute links such as the webhook's link to the API.
    web_public_url: str | None = None
    # Minutes without a request before a workspace sign-in ends.
    workspace_session_minutes: int = 30
    # Failed sign-ins in a row that lock an account, and for how long.
    workspace_max_failed_logins: int = 5
    workspace_lockout_minutes: int = 15
    # Send the workspace cookie only over HTTPS; on by default when
    # PUBLIC_BASE_URL is an https address.
    workspace_cookie_secure: bool = False
    # Optional signed notice of each new ticket to HPSM's systems.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    # Hours a web chat session id stays valid after the member's last reload
    # or reconnection, when the server issues a fresh one.
    webchat_session_hours: int = 2

    @property
    def twilio_configured(self) -> bool:
        """Whether all three Twilio credentials are set, so SMS is really sent."""
        return bool(
            self.twilio_account_sid
            and self.twilio_auth_token
            and self.twilio_from_number
        )


def load_settings(environ: dict | None = None) -> Settings:
    """Build settings from `environ` (default: the process environment)."""
    env = os.environ if environ is None else environ
    var_dir = Path(env.get("VAR_DIR", _var_dir()))
    database_url = env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'hpsm.db'}"
    app_secret = env.get("APP_SECRET") or _load_or_create_secret(
        var_dir / "app_secret"
    )
    rule_set = env.get("ELIGIBILITY_RULE_SET") or "hpsm-2022"
    if rule_set not in RULE_SETS:
        raise ValueError(
            f"ELIGIBILITY_RULE_SET={rule_set!r} is invalid; use one of {RULE_SETS}"
        )
    retention = env.get("RETENTION_DAYS") or "365"
    if not retention.isdigit() or int(retention) < 1:
        raise ValueError(
            f"RETENTION_DAYS={retention!r} is invalid; use a whole number of days"
        )
    return Settings(
        var_dir=var_dir,
        database_url=database_url,
        redis_url=env.get("REDIS_URL") or None,
        app_secret=app_secret,
        rasa_auth_token=env.get("RASA_AUTH_TOKEN") or None,
        twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or None,
        twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or None,
        twilio_from_number=env.get("TWILIO_FROM_NUMBER") or None,
        twilio_api_base_url=(
            env.get("TWILIO_API_BASE_URL") or DEFAULT_TWILIO_API_BASE_URL
        ).rstrip("/"),
        public_base_url=(env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
        eligibility_rule_set=rule_set,
        allowed_origins=_split(env.get("ALLOWED_ORIGINS", ""))
        or _default_origins(_port(env, "WEB_PORT", 8080)),
        retention_days=int(retention),
        log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
        rasa_port=_port(env, "RASA_PORT", 5005),
        action_server_port=_port(env, "ACTION_SERVER_PORT", 5055),
        sms_rate_limit_messages=_positive_int(env, "SMS_RATE_LIMIT_MESSAGES", 20),
        sms_rate_limit_window_seconds=_positive_int(
            env, "SMS_RATE_LIMIT_WINDOW_SECONDS", 60
        ),
        outbox_retry_base_seconds=_positive_int(env, "OUTBOX_RETRY_BASE_SECONDS", 30),
        outbox_backlog_warn_rows=_positive_int(env, "OUTBOX_BACKLOG_WARN_ROWS", 100),
        outbox_backlog_warn_seconds=_positive_int(
            env, "OUTBOX_BACKLOG_WARN_SECONDS", 300
        ),
        web_port=_port(env, "WEB_PORT", 8080),
        web_interface=env.get("WEB_INTERFACE") or "127.0.0.1",
        web_public_url=(env.get("WEB_PUBLIC_URL") or "").rstrip("/") or None,
        workspace_session_minutes=_positive_int(env, "WORKSPACE_SESSION_MINUTES", 30),
        workspace_max_failed_logins=_positive_int(
            env, "WORKSPACE_MAX_FAILED_LOGINS", 5
        ),
        workspace_lockout_minutes=_positive_int(env, "WORKSPACE_LOCKOUT_MINUTES", 15),
        workspace_cookie_secure=_flag(
            env,
            "WORKSPACE_COOKIE_SECURE",
            (env.get("PUBLIC_BASE_URL") or "").startswith("https://"),
        ),
        webhook_url=env.get("WEBHOOK_URL") or None,
        webhook_secret=env.get("WEBHOOK_SECRET") or None,
        webchat_session_hours=_positive_int(env, "WEBCHAT_SESSION_HOURS", 2),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read from the environment once."""
    return load_settings()
