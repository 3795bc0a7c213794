"""The structured login settings: the ``mailboxes`` and ``users`` tables, JWT secrets by key
id, the algorithm list and the provider chain. Part of :mod:`pop3srv.config`.

Shapes (YAML shown; TOML tables or JSON in an environment variable work the same)::

    mailboxes:
      work: {bucket: ses-mail, prefix: work/, region: eu-west-1}   # S3 (default credentials)
      local: {folder: jane}                                         # under mail-dir
    users:
      jane: {password: "...", mailbox: work}
    jwt-secrets: {"2026-11": "..."}          # kid -> secret, for rotation
    auth-providers: [jwt, app-password]       # default: jwt, else http, else static
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from pop3srv.config_keys import dash, normalise
from pop3srv.config_model import MailboxEntry, UserEntry

PROVIDERS = ("jwt", "http", "static", "app-password")
ALGORITHMS = ("HS256", "HS384", "HS512")
DELETE_MODES = ("delete", "trash")
LOCK_KINDS = ("local", "s3")
LOG_FORMATS = ("text", "json")
MAX_IPV6_PREFIX = 128

_MAILBOX_TEXT = (
    "bucket",
    "prefix",
    "region",
    "endpoint_url",
    "kms_endpoint_url",
    "access_key_id",
    "secret_access_key",
    "session_token",
    "folder",
)
_ALIASES = {  # the original's key names are accepted inside a mailbox too
    "aws_access_key_id": "access_key_id",
    "aws_secret_access_key": "secret_access_key",
    "aws_session_token": "session_token",
    "aws_s3_region": "region",
    "aws_s3_bucket": "bucket",
    "aws_s3_prefix": "prefix",
    "aws_s3_endpoint_url": "endpoint_url",
    "aws_kms_endpoint_url": "kms_endpoint_url",
}


def _fields(raw: object, where: str, source: str, problems: list[str]) -> dict[str, object]:
    if not isinstance(raw, dict):
        problems.append(f"{where}: is not a table (from {source})")
        return {}
    return {_ALIASES.get(normalise(str(k)), normalise(str(k))): v for k, v in raw.items()}


def parse_mailboxes(
    table: Mapping[str, object], source: str, problems: list[str]
) -> dict[str, MailboxEntry]:
    out: dict[str, MailboxEntry] = {}
    for name, raw in table.items():
        where = f"mailboxes.{name}"
        fields = _fields(raw, where, source, problems)
        text: dict[str, str] = {}
        for key, value in fields.items():
            if key in _MAILBOX_TEXT and isinstance(value, str):
                text[key] = value
            elif key not in (*_MAILBOX_TEXT, "app_password_version"):
                problems.append(f"{where}.{dash(key)}: unknown field (from {source})")
            elif key in _MAILBOX_TEXT:
                problems.append(f"{where}.{dash(key)}: is not text (from {source})")
        version = fields.get("app_password_version", 1)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            problems.append(f"{where}.app-password-version: not a whole number >= 1 ({source})")
            version = 1
        if ("bucket" in text) == ("folder" in text):
            problems.append(f"{where}: needs exactly one of bucket or folder (from {source})")
        if ("access_key_id" in text) != ("secret_access_key" in text):
            problems.append(
                f"{where}: aws-access-key-id and aws-secret-access-key go together ({source})"
            )
        if ".." in text.get("folder", "").split("/"):
            problems.append(f"{where}.folder: must stay inside mail-dir (from {source})")
        out[name] = MailboxEntry(
            name=name,
            bucket=text.get("bucket"),
            prefix=text.get("prefix", ""),
            region=text.get("region"),
            endpoint_url=text.get("endpoint_url"),
            kms_endpoint_url=text.get("kms_endpoint_url"),
            access_key_id=text.get("access_key_id"),
            secret_access_key=text.get("secret_access_key"),
            session_token=text.get("session_token"),
            folder=text.get("folder", "").strip("/") if "folder" in text else None,
            app_password_version=version,
        )
    return out


def parse_users(
    table: Mapping[str, object],
    source: str,
    mailboxes: Mapping[str, MailboxEntry],
    problems: list[str],
) -> dict[str, UserEntry]:
    out: dict[str, UserEntry] = {}
    for name, raw in table.items():
        where = f"users.{name}"
        fields = _fields(raw, where, source, problems)
        password, mailbox = fields.get("password"), fields.get("mailbox")
        unknown = sorted(set(fields) - {"password", "mailbox"})
        problems += [f"{where}.{dash(k)}: unknown field (from {source})" for k in unknown]
        if not isinstance(password, str) or not password:
            problems.append(f"{where}.password: missing or not text (from {source})")
            continue
        if mailbox is not None and (not isinstance(mailbox, str) or mailbox not in mailboxes):
            problems.append(f"{where}.mailbox: no such entry in mailboxes (from {source})")
            continue
        out[name] = UserEntry(name=name, password=password, mailbox=mailbox)
    return out


def parse_secrets(table: Mapping[str, object], source: str, problems: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for kid, secret in table.items():
        if not isinstance(secret, str) or len(secret) < 16:
            problems.append(f"jwt-secrets.{kid}: must be text of 16+ characters (from {source})")
        else:
            out[kid] = secret
    return out


def list_problems(values: Mapping[str, object], sources: Mapping[str, str]) -> list[str]:
    """Choices in ``jwt-algorithms``, ``auth-providers`` and ``delete-mode``, and what each
    chosen provider needs."""
    problems: list[str] = []

    def src(key: str) -> str:
        return f"(from {sources.get(key, 'default')})"

    algorithms = _texts(values.get("jwt_algorithms"))
    for algorithm in algorithms:
        if algorithm not in ALGORITHMS:
            problems.append(
                f"jwt-algorithms: {algorithm!r} is not allowed; use {', '.join(ALGORITHMS)} "
                f"{src('jwt_algorithms')}"
            )
    if not algorithms:
        problems.append(f"jwt-algorithms: must name at least one algorithm {src('jwt_algorithms')}")
    for provider in _texts(values.get("auth_providers")):
        if provider not in PROVIDERS:
            problems.append(
                f"auth-providers: unknown provider {provider!r}; use {', '.join(PROVIDERS)} "
                f"{src('auth_providers')}"
            )
        elif (need := _needs(provider, values)) is not None:
            problems.append(f"auth-providers: {provider} needs {need} {src('auth_providers')}")
    if values.get("delete_mode") not in DELETE_MODES:
        problems.append(f"delete-mode: must be delete or trash {src('delete_mode')}")
    if values.get("lock") not in LOCK_KINDS:
        problems.append(f"lock: must be local or s3 {src('lock')}")
    if values.get("log_format") not in LOG_FORMATS:
        problems.append(f"log-format: must be text or json {src('log_format')}")
    prefix_length = values.get("ipv6_prefix_length")
    if isinstance(prefix_length, int) and prefix_length > MAX_IPV6_PREFIX:
        problems.append(f"ipv6-prefix-length: must be 0-128 {src('ipv6_prefix_length')}")
    for cidr in _texts(values.get("proxy_trusted")):
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            problems.append(
                f"proxy-trusted: {cidr!r} is not an address or CIDR network {src('proxy_trusted')}"
            )
    return problems


def _texts(value: object) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else ()


def _needs(provider: str, values: Mapping[str, object]) -> str | None:
    if provider == "jwt" and not (values.get("jwt_secret") or values.get("jwt_secrets")):
        return "jwt-secret or jwt-secrets"
    if provider == "http" and not values.get("http_basic_auth_url"):
        return "http-basic-auth-url"
    if provider == "app-password":
        if not (values.get("app_password_secret") or values.get("jwt_secret")):
            return "app-password-secret (or jwt-secret)"
        if not values.get("mailboxes"):
            return "mailboxes"
    return None


def effective_providers(values: Mapping[str, object]) -> tuple[str, ...]:
    """The chain: as configured, else the original's precedence (jwt, http, static) plus
    app passwords when mailboxes and a secret for them exist."""
    configured = _texts(values.get("auth_providers"))
    if configured:
        return configured
    if values.get("jwt_secret") or values.get("jwt_secrets"):
        chain = ["jwt"]
    elif values.get("http_basic_auth_url"):
        chain = ["http"]
    else:
        chain = ["static"]
    if _needs("app-password", values) is None:
        chain.append("app-password")
    return tuple(chain)
