"""Configuration: where settings come from, what they mean, and checking them.

Sources, later wins (the same order as aws-ses-pop3-server, plus the first and the fifth):

1. the packaged ``pop3srv/settings.toml`` (the defaults; source name ``default``);
2. ``/etc/aws-ses-pop3-server/config.yaml``;
3. ``~/.aws-ses-pop3-server/config.yaml``;
4. ``./config.yaml`` in the working directory (parent folders are not searched);
5. the file named by ``POP3_CONFIG`` (TOML if it ends in ``.toml``, else YAML); it must exist;
6. environment variables: key ``some-key`` is ``POP3_SOME_KEY``.

Files use the original's dash keys (``jwt-secret``); underscores are accepted too. An empty
environment variable counts as unset (as with the original's viper). Environment values of text
and path keys are taken verbatim; the others are parsed as TOML by dynaconf (``2110``, ``true``,
``@int 5``). Relative paths and ``~`` are resolved against the working directory and home.

``port`` keeps its original meaning as an alias: with a certificate configured it sets
``tls-port``, without one ``plain-port``. If ``tls-port``/``plain-port`` is set in the same
source as ``port`` or a later one, that explicit key wins and ``port`` is ignored (with a warning).

A later source replaces a key's whole value: tables (``users``, ``mailboxes``, ``jwt-secrets``)
and lists are not merged across sources.

dynaconf is imported by ``config_sources`` and nowhere else in the project. Each ``load_settings``
call makes one ``Dynaconf`` instance (never a global one) and feeds it the sources above in order,
one layer per source named by its source; each key's raw value and the source that set it last
come back from that instance (its history). ``config_sources`` reads the files itself (YAML through
dynaconf's vendored ruamel) and takes the environment from the mapping given to ``load_settings``,
rather than letting dynaconf find them, so that every problem is reported at once naming its
source, dash keys become underscores before dynaconf sees them, no parent folder, ``*.local.yaml``
or ``dynaconf_hooks.py`` is looked at, and tests can pass their own environment and folders; the
instance ignores ``os.environ``, dynaconf's own ``*_FOR_DYNACONF`` options included. Typing and
the checks are this project's (``config_keys``, ``config_rules``, ``config_tables``), so that
every problem names the key, the value and its source.

Helpers: ``config_keys`` (the keys and their types), ``config_sources`` (reading), ``config_rules``
(checks across keys, warnings).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from pop3srv import config_rules, config_tables
from pop3srv.config_keys import KEYS, Places, dash
from pop3srv.config_model import (
    AdminSettings,
    AuthSettings,
    LimitsSettings,
    ListenSettings,
    MailboxEntry,
    PenaltySettings,
    S3Settings,
    Settings,
    StoreSettings,
    TlsSettings,
    UserEntry,
)
from pop3srv.config_report import redacted, render
from pop3srv.config_sources import read_defaults, read_layers
from pop3srv.config_values import apply_port_alias, typed_values

__all__ = [
    "DEFAULT_ETC_DIR",
    "AdminSettings",
    "AuthSettings",
    "ConfigError",
    "LimitsSettings",
    "ListenSettings",
    "MailboxEntry",
    "PenaltySettings",
    "S3Settings",
    "Settings",
    "StoreSettings",
    "TlsSettings",
    "UserEntry",
    "load_settings",
    "main_check_config",
    "redacted",
]

DEFAULT_ETC_DIR = Path("/etc/aws-ses-pop3-server")
ENDPOINT_DEFAULT_REGION = "us-east-1"


class ConfigError(Exception):
    """The configuration is invalid; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_settings(
    env: Mapping[str, str] | None = None,
    *,
    cwd: Path | None = None,
    home: Path | None = None,
    etc_dir: Path = DEFAULT_ETC_DIR,
) -> Settings:
    """Read every source, check everything, and return the settings or raise
    :class:`ConfigError` listing all problems found."""
    env = os.environ if env is None else env
    places = Places(
        cwd=Path.cwd() if cwd is None else cwd, home=Path.home() if home is None else home
    )
    problems: list[str] = []
    defaults = read_defaults(problems)
    layers = read_layers(env, defaults, places, etc_dir, problems)
    values = typed_values(layers, defaults, places, problems)
    sources = {key: layers[key].source if key in layers else "default" for key in KEYS}
    notes = [note] if (note := apply_port_alias(values, layers, sources)) else []
    if values["aws_s3_region"] is None and values["aws_s3_endpoint_url"] is not None:
        values["aws_s3_region"] = ENDPOINT_DEFAULT_REGION
        sources["aws_s3_region"] = "default (aws-s3-endpoint-url is set)"
    problems += config_rules.cross_problems(values, sources)
    problems += config_tables.list_problems(values, sources)
    tables = _tables(values, sources, problems)
    if problems:
        raise ConfigError(problems)
    notes += config_rules.warnings(values, sources)
    return _build(_Values(values), {dash(k): v for k, v in sources.items()}, notes, tables)


@dataclass(frozen=True)
class _Tables:
    mailboxes: Mapping[str, MailboxEntry]
    users: Mapping[str, UserEntry]
    jwt_secrets: Mapping[str, str]
    providers: tuple[str, ...]


def _tables(
    values: Mapping[str, object], sources: Mapping[str, str], problems: list[str]
) -> _Tables:
    def table(key: str) -> Mapping[str, object]:
        value = values.get(key)
        return value if isinstance(value, dict) else {}

    mailboxes = config_tables.parse_mailboxes(table("mailboxes"), sources["mailboxes"], problems)
    return _Tables(
        mailboxes=MappingProxyType(mailboxes),
        users=MappingProxyType(
            config_tables.parse_users(table("users"), sources["users"], mailboxes, problems)
        ),
        jwt_secrets=MappingProxyType(
            config_tables.parse_secrets(table("jwt_secrets"), sources["jwt_secrets"], problems)
        ),
        providers=config_tables.effective_providers(values),
    )


class _Values:
    """Typed access to the checked values (a wrong type here is a bug, hence assert)."""

    def __init__(self, values: Mapping[str, object]) -> None:
        self._values = values

    def text(self, key: str) -> str:
        value = self._values[key]
        assert isinstance(value, str), key
        return value

    def opt_text(self, key: str) -> str | None:
        value = self._values[key]
        return None if value is None else self.text(key)

    def path(self, key: str) -> Path:
        value = self._values[key]
        assert isinstance(value, Path), key
        return value

    def opt_path(self, key: str) -> Path | None:
        value = self._values[key]
        return None if value is None else self.path(key)

    def int(self, key: str) -> int:
        value = self._values[key]
        assert isinstance(value, int) and not isinstance(value, bool), key
        return value

    def float(self, key: str) -> float:
        value = self._values[key]
        assert isinstance(value, float), key
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        value = self._values[key]
        assert isinstance(value, tuple), key
        return value

    def bool(self, key: str) -> bool:
        value = self._values[key]
        assert isinstance(value, bool), key
        return value


def _build(v: _Values, sources: dict[str, str], notes: list[str], tables: _Tables) -> Settings:
    return Settings(
        listen=ListenSettings(
            v.text("host"),
            v.int("tls_port"),
            v.int("plain_port"),
            proxy_protocol=v.bool("proxy_protocol"),
            proxy_trusted=v.texts("proxy_trusted"),
        ),
        tls=TlsSettings(
            cert_pem=v.opt_text("tls_cert"),
            key_pem=v.opt_text("tls_key"),
            cert_path=v.opt_path("tls_cert_path"),
            key_path=v.opt_path("tls_key_path"),
            self_signed=v.bool("tls_self_signed"),
        ),
        auth=AuthSettings(
            jwt_secret=v.opt_text("jwt_secret"),
            http_basic_auth_url=v.opt_text("http_basic_auth_url"),
            http_basic_auth_url_insecure=v.bool("http_basic_auth_url_insecure"),
            user=v.text("user"),
            password=v.text("password"),
            allow_insecure_auth=v.bool("allow_insecure_auth"),
            jwt_secrets=tables.jwt_secrets,
            jwt_algorithms=v.texts("jwt_algorithms"),
            jwt_leeway=v.float("jwt_leeway"),
            providers=tables.providers,
            users=tables.users,
            mailboxes=tables.mailboxes,
            app_password_secret=v.opt_text("app_password_secret"),
            penalty=PenaltySettings(
                free_failures=v.int("login_penalty_free"),
                start=v.float("login_penalty_start"),
                maximum=v.float("login_penalty_max"),
                max_auth_failures=v.int("max_auth_failures"),
                max_logins_per_user=v.int("max_logins_per_user"),
            ),
            trust_loopback=v.bool("trust_loopback"),
            require_jti=v.bool("require_jti"),
        ),
        s3=S3Settings(
            access_key_id=v.opt_text("aws_access_key_id"),
            secret_access_key=v.opt_text("aws_secret_access_key"),
            session_token=v.opt_text("aws_session_token"),
            region=v.opt_text("aws_s3_region"),
            bucket=v.opt_text("aws_s3_bucket"),
            prefix=v.text("aws_s3_prefix"),
            endpoint_url=v.opt_text("aws_s3_endpoint_url"),
            delete_mode=v.text("delete_mode"),
            trash_prefix=v.text("trash_prefix"),
            lock=v.text("lock"),
            lock_lease=v.float("lock_lease"),
            lock_prefix=v.text("lock_prefix"),
            lock_takeover=v.bool("lock_takeover"),
            kms_endpoint_url=v.opt_text("aws_kms_endpoint_url"),
        ),
        store=StoreSettings(mail_dir=v.path("mail_dir"), state_dir=v.path("state_dir")),
        admin=AdminSettings(
            v.text("admin_host"),
            v.int("admin_port"),
            v.opt_text("admin_token"),
            public_host=v.opt_text("public_host"),
            public_tls_port=v.int("public_tls_port"),
            public_plain_port=v.int("public_plain_port"),
            allowed_hosts=v.texts("admin_allowed_hosts"),
        ),
        limits=LimitsSettings(
            idle_timeout=v.float("idle_timeout"),
            login_timeout=v.float("login_timeout"),
            max_connections=v.int("max_connections"),
            max_connections_per_ip=v.int("max_connections_per_ip"),
            max_bad_commands=v.int("max_bad_commands"),
            shutdown_timeout=v.float("shutdown_timeout"),
            ipv6_prefix_length=v.int("ipv6_prefix_length"),
        ),
        verbose=v.bool("verbose"),
        log_format=v.text("log_format"),
        sources=MappingProxyType(sources),
        warnings=tuple(notes),
    )


EXIT_INVALID = 2


def report_problems(problems: Sequence[str]) -> int:
    """Print each problem as one ``config error:`` line on stderr; returns the exit status."""
    for problem in problems:
        print(f"config error: {problem}", file=sys.stderr)
    return EXIT_INVALID


def main_check_config(
    env: Mapping[str, str] | None = None,
    *,
    cwd: Path | None = None,
    home: Path | None = None,
    etc_dir: Path = DEFAULT_ETC_DIR,
) -> int:
    """``pop3srv check-config``: print the effective configuration (``key = value  # source``,
    secrets redacted) and return 0, or print each problem to stderr and return 2."""
    try:
        settings = load_settings(env, cwd=cwd, home=home, etc_dir=etc_dir)
    except ConfigError as e:
        return report_problems(e.problems)
    for key, entry in redacted(settings).items():
        assert isinstance(entry, dict)
        print(f"{key} = {render(key, entry['value'])}  # {entry['source']}")
    for warning in settings.warnings:
        print(f"config warning: {warning}", file=sys.stderr)
    return 0
