"""The effective configuration as ``pop3srv check-config`` shows it: every key in dash form
with its value and source, secrets redacted. Part of :mod:`pop3srv.config`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pop3srv import config_rules
from pop3srv.config_keys import KEYS, dash
from pop3srv.config_model import Settings


def _effective(settings: Settings) -> dict[str, object]:
    """Underscore key -> effective value, read back from the settings objects."""
    s = settings
    return {
        "host": s.listen.host,
        "tls_port": s.listen.tls_port,
        "plain_port": s.listen.plain_port,
        "tls_cert": s.tls.cert_pem,
        "tls_key": s.tls.key_pem,
        "tls_cert_path": s.tls.cert_path,
        "tls_key_path": s.tls.key_path,
        "tls_self_signed": s.tls.self_signed,
        "verbose": s.verbose,
        "jwt_secret": s.auth.jwt_secret,
        "http_basic_auth_url": s.auth.http_basic_auth_url,
        "http_basic_auth_url_insecure": s.auth.http_basic_auth_url_insecure,
        "user": s.auth.user,
        "password": s.auth.password,
        "allow_insecure_auth": s.auth.allow_insecure_auth,
        "aws_access_key_id": s.s3.access_key_id,
        "aws_secret_access_key": s.s3.secret_access_key,
        "aws_session_token": s.s3.session_token,
        "aws_s3_region": s.s3.region,
        "aws_s3_bucket": s.s3.bucket,
        "aws_s3_prefix": s.s3.prefix,
        "aws_s3_endpoint_url": s.s3.endpoint_url,
        "mail_dir": s.store.mail_dir,
        "state_dir": s.store.state_dir,
        "admin_host": s.admin.host,
        "admin_port": s.admin.port,
        "admin_token": s.admin.token,
        "idle_timeout": s.limits.idle_timeout,
        "login_timeout": s.limits.login_timeout,
        "max_connections": s.limits.max_connections,
        "max_connections_per_ip": s.limits.max_connections_per_ip,
        "max_bad_commands": s.limits.max_bad_commands,
        "shutdown_timeout": s.limits.shutdown_timeout,
        "jwt_secrets": s.auth.jwt_secrets,
        "jwt_algorithms": s.auth.jwt_algorithms,
        "jwt_leeway": s.auth.jwt_leeway,
        "auth_providers": s.auth.providers,
        "users": s.auth.users,
        "mailboxes": s.auth.mailboxes,
        "app_password_secret": s.auth.app_password_secret,
        "login_penalty_free": s.auth.penalty.free_failures,
        "login_penalty_start": s.auth.penalty.start,
        "login_penalty_max": s.auth.penalty.maximum,
        "max_auth_failures": s.auth.penalty.max_auth_failures,
        "max_logins_per_user": s.auth.penalty.max_logins_per_user,
        "delete_mode": s.s3.delete_mode,
        "trash_prefix": s.s3.trash_prefix,
        "lock": s.s3.lock,
        "lock_lease": s.s3.lock_lease,
        "lock_prefix": s.s3.lock_prefix,
    }


def redacted(settings: Settings) -> dict[str, object]:
    """Dash key -> ``{"value": ..., "source": ...}`` with secrets as ``"***"`` (or
    ``"(unset)"``), paths as text, inline certificates summarised and URL passwords hidden."""
    out: dict[str, object] = {}
    for key, value in _effective(settings).items():
        shown: object = value
        if isinstance(value, Mapping):
            shown = f"({len(value)} entries: {', '.join(sorted(value))})" if value else "(none)"
        elif isinstance(value, tuple):
            shown = ", ".join(value) or "(default)"
        elif KEYS[key].secret:
            shown = "(unset)" if value is None else "***"
        elif isinstance(value, Path):
            shown = str(value)
        elif key == "tls_cert" and isinstance(value, str):
            shown = f"(inline PEM, {len(value)} characters)"
        elif key.endswith("_url") and isinstance(value, str):
            shown = config_rules.safe_url(value)
        out[dash(key)] = {"value": shown, "source": settings.sources.get(dash(key), "default")}
    return out


def render(key: str, value: object) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str) and not KEYS[key.replace("-", "_")].secret and key != "tls-cert":
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)
