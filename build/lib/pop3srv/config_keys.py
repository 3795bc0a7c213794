"""The configuration keys, their kinds, and how a raw value becomes a typed one.

Part of :mod:`pop3srv.config`; nothing here reads files or the environment. Keys are held in
underscore form (``jwt_secret``); users see the dash form (``jwt-secret``) and ``POP3_JWT_SECRET``.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path


class Kind(Enum):
    TEXT = "text"  # str, required (may be "" only where noted in TEXT_MAY_BE_EMPTY)
    OPT_TEXT = "optional text"  # str | None; "" means unset
    PATH = "path"  # Path, resolved against the working directory
    OPT_PATH = "optional path"
    PORT = "port"  # int 0-65535
    BOOL = "bool"
    SECONDS = "seconds"  # float > 0
    COUNT = "count"  # int >= 1
    WHOLE = "whole number"  # int >= 0
    DURATION = "duration"  # float >= 0
    LIST = "list"  # tuple[str, ...]; from the environment: comma-separated or a TOML/JSON list
    TABLE = "table"  # dict; from the environment: a TOML inline table or JSON object


@dataclass(frozen=True)
class Key:
    kind: Kind
    secret: bool = False


KEYS: dict[str, Key] = {
    # the original aws-ses-pop3-server keys
    "host": Key(Kind.TEXT),
    "port": Key(Kind.PORT),  # alias of tls_port or plain_port, see config.py
    "tls_cert": Key(Kind.OPT_TEXT),
    "tls_key": Key(Kind.OPT_TEXT, secret=True),
    "tls_cert_path": Key(Kind.OPT_PATH),
    "tls_key_path": Key(Kind.OPT_PATH),
    "verbose": Key(Kind.BOOL),
    "jwt_secret": Key(Kind.OPT_TEXT, secret=True),
    "http_basic_auth_url": Key(Kind.OPT_TEXT),
    "http_basic_auth_url_insecure": Key(Kind.BOOL),
    "user": Key(Kind.TEXT),
    "password": Key(Kind.TEXT, secret=True),
    "aws_access_key_id": Key(Kind.OPT_TEXT),
    "aws_secret_access_key": Key(Kind.OPT_TEXT, secret=True),
    "aws_session_token": Key(Kind.OPT_TEXT, secret=True),
    "aws_s3_region": Key(Kind.OPT_TEXT),
    "aws_s3_bucket": Key(Kind.OPT_TEXT),
    "aws_s3_prefix": Key(Kind.TEXT),
    # keys this project adds
    "tls_port": Key(Kind.PORT),
    "plain_port": Key(Kind.PORT),
    "tls_self_signed": Key(Kind.BOOL),
    "allow_insecure_auth": Key(Kind.BOOL),
    "aws_s3_endpoint_url": Key(Kind.OPT_TEXT),
    "mail_dir": Key(Kind.PATH),
    "state_dir": Key(Kind.PATH),
    "admin_host": Key(Kind.TEXT),
    "admin_port": Key(Kind.PORT),
    "admin_token": Key(Kind.OPT_TEXT, secret=True),
    "idle_timeout": Key(Kind.SECONDS),
    "login_timeout": Key(Kind.SECONDS),
    "max_connections": Key(Kind.COUNT),
    "max_connections_per_ip": Key(Kind.COUNT),
    "max_bad_commands": Key(Kind.COUNT),
    "shutdown_timeout": Key(Kind.SECONDS),
    # logins (see config_tables for the tables' shapes)
    "jwt_secrets": Key(Kind.TABLE, secret=True),
    "jwt_algorithms": Key(Kind.LIST),
    "jwt_leeway": Key(Kind.DURATION),
    "auth_providers": Key(Kind.LIST),
    "users": Key(Kind.TABLE, secret=True),
    "mailboxes": Key(Kind.TABLE, secret=True),
    "app_password_secret": Key(Kind.OPT_TEXT, secret=True),
    "login_penalty_free": Key(Kind.WHOLE),
    "login_penalty_start": Key(Kind.DURATION),
    "login_penalty_max": Key(Kind.DURATION),
    "max_auth_failures": Key(Kind.COUNT),
    "max_logins_per_user": Key(Kind.COUNT),
    # deleting from S3
    "delete_mode": Key(Kind.TEXT),
    # maildrop locks across replicas
    "lock": Key(Kind.TEXT),
    "lock_lease": Key(Kind.SECONDS),
    "lock_prefix": Key(Kind.TEXT),
    "trash_prefix": Key(Kind.TEXT),
    "lock_takeover": Key(Kind.BOOL),
    # SES mail encrypted with KMS
    "aws_kms_endpoint_url": Key(Kind.OPT_TEXT),
    # running behind balancers and relays
    "proxy_protocol": Key(Kind.BOOL),
    "proxy_trusted": Key(Kind.LIST),
    "trust_loopback": Key(Kind.BOOL),
    "ipv6_prefix_length": Key(Kind.WHOLE),
    "log_format": Key(Kind.TEXT),
    # what the admin app tells users and which Host headers it answers
    "public_host": Key(Kind.OPT_TEXT),
    "public_tls_port": Key(Kind.PORT),
    "public_plain_port": Key(Kind.PORT),
    "admin_allowed_hosts": Key(Kind.LIST),
    "require_jti": Key(Kind.BOOL),
}

#: Required text keys for which "" is a meaningful value.
TEXT_MAY_BE_EMPTY = frozenset({"host", "aws_s3_prefix", "admin_host"})

#: Keys whose environment value is taken verbatim (never parsed as TOML), so that a numeric-looking
#: password, user or secret stays exactly what was typed.
VERBATIM_KINDS = frozenset({Kind.TEXT, Kind.OPT_TEXT, Kind.PATH, Kind.OPT_PATH})

_DIGITS = re.compile(r"[0-9]{1,9}")
_TRUE = frozenset({"true", "t", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "off", "0"})


def dash(key: str) -> str:
    """``jwt_secret`` -> ``jwt-secret``."""
    return key.replace("_", "-")


def env_name(key: str) -> str:
    """``jwt_secret`` -> ``POP3_JWT_SECRET``."""
    return "POP3_" + key.upper()


def normalise(key: str) -> str:
    """A key as written in a file or after ``POP3_`` -> underscore form."""
    return key.strip().lower().replace("-", "_")


def suggestion(key: str, *, in_env: bool = False) -> str:
    """``; did you mean `tls-port`?``-style hint for an unknown key, or ""."""
    close = difflib.get_close_matches(normalise(key), KEYS, n=1, cutoff=0.6)
    if not close:
        return ""
    return f"; did you mean `{dash(close[0])}`" + (f" ({env_name(close[0])})?" if in_env else "?")


def show(value: object, *, secret: bool = False, limit: int = 60) -> str:
    """How a bad value appears in a problem line; a secret's value never appears."""
    if secret:
        return f"the {_type_name(value)} given"
    text = json.dumps(value) if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list | tuple | set):
        return "list"
    return type(value).__name__


class BadValue(Exception):
    """Raised by :func:`coerce`; the message names the problem with the value, not the key."""


@dataclass(frozen=True)
class Places:
    """Where relative paths and ``~`` point."""

    cwd: Path
    home: Path

    def path(self, text: str) -> Path:
        if text == "~" or text.startswith("~/"):
            return self.home / text[2:]
        return self.cwd / text


def coerce(key: str, value: object, places: Places) -> object:
    """Turn a raw value (from TOML, YAML or a typed env value) into the key's Python type."""
    spec = KEYS[key]
    kind = spec.kind
    if kind in (Kind.TEXT, Kind.OPT_TEXT, Kind.PATH, Kind.OPT_PATH):
        return _coerce_text(key, spec, value, places)
    if kind in (Kind.PORT, Kind.COUNT, Kind.WHOLE):
        return _coerce_whole(kind, value)
    if kind in (Kind.SECONDS, Kind.DURATION):
        return _coerce_seconds(kind, value)
    if kind is Kind.LIST:
        return _list(value)
    if kind is Kind.TABLE:
        return _table(value, spec.secret)
    return _bool(value)


def _coerce_text(key: str, spec: Key, value: object, places: Places) -> object:
    text = _text(value, spec.secret)
    if text == "" and spec.kind in (Kind.OPT_TEXT, Kind.OPT_PATH):
        return None  # an empty optional value means unset
    if text == "" and key not in TEXT_MAY_BE_EMPTY:
        raise BadValue("must not be empty")
    return places.path(text) if spec.kind in (Kind.PATH, Kind.OPT_PATH) else text


_WHOLE_RULES = {
    Kind.PORT: (0, 65535, "is not a port (0-65535)"),
    Kind.COUNT: (1, None, "is not a whole number >= 1"),
    Kind.WHOLE: (0, None, "is not a whole number >= 0"),
}


def _coerce_whole(kind: Kind, value: object) -> int:
    low, high, complaint = _WHOLE_RULES[kind]
    number = _whole(value)
    if number is None or number < low or (high is not None and number > high):
        raise BadValue(f"{show(value)} {complaint}")
    return number


def _coerce_seconds(kind: Kind, value: object) -> float:
    seconds = _number(value)
    zero_ok = kind is Kind.DURATION
    if (
        seconds is None
        or not math.isfinite(seconds)
        or seconds < 0
        or (seconds == 0 and not zero_ok)
    ):
        raise BadValue(f"{show(value)} is not a number of seconds {'>= 0' if zero_ok else '> 0'}")
    return seconds


def _list(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError as exc:
                raise BadValue(f"{show(value)} is not a list") from exc
        else:
            return tuple(item.strip() for item in text.split(",") if item.strip())
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return tuple(item.strip() for item in value)
    raise BadValue(f"{show(value)} is not a list of texts")


def _table(value: object, secret: bool) -> dict[str, object]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise BadValue(f"{show(value, secret=secret)} is not a table (JSON or TOML)") from exc
    if isinstance(value, dict):
        return {str(name): item for name, item in value.items()}
    raise BadValue(f"{show(value, secret=secret)} is not a table")


def _text(value: object, secret: bool) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):  # YAML `password: true` -> "true", as Go's viper would
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise BadValue(f"{show(value, secret=secret)} is not text")


def _whole(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return int(value.strip())
    return None


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise BadValue(f"{show(value)} is not a boolean (true or false)")
