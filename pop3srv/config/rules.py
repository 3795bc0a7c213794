"""Checks that involve more than one key (warnings: :mod:`pop3srv.config.advice`). Part of
:mod:`pop3srv.config`.

Each check reads the already-typed values (by dash key; a key whose own value was bad holds its
default) and their sources, and returns problem lines.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from pop3srv.netaddr import is_loopback_host

MIN_ADMIN_TOKEN = 20  # a generated one has 43 characters
ALL_INTERFACES = frozenset({"", "0.0.0.0", "::", "[::]"})

_PAIRS = (
    ("tls-cert", "tls-key"),
    ("tls-cert-path", "tls-key-path"),
    ("aws-access-key-id", "aws-secret-access-key"),
)


def _from(sources: Mapping[str, str], key: str) -> str:
    return f"(from {sources.get(key, 'default')})"


def cross_problems(values: Mapping[str, object], sources: Mapping[str, str]) -> list[str]:
    problems = _pair_problems(values, sources)
    problems += _tls_problems(values, sources)
    problems += _aws_problems(values, sources)
    problems += _url_problems(values, sources)
    problems += _port_problems(values, sources)
    problems += _login_problems(values, sources)
    prefix = values.get("aws-s3-prefix")
    folder_store = values.get("aws-s3-bucket") is None  # the prefix is a path below mail-dir
    if folder_store and isinstance(prefix, str) and ".." in prefix.split("/"):
        problems.append(
            f"aws-s3-prefix: must stay inside mail-dir {_from(sources, 'aws-s3-prefix')}"
        )
    token = values.get("admin-token")
    if isinstance(token, str) and token and len(token.strip()) < MIN_ADMIN_TOKEN:
        problems.append(
            f"admin-token: shorter than {MIN_ADMIN_TOKEN} characters "
            f"{_from(sources, 'admin-token')}; leave it unset to have one generated into state-dir"
        )
    return problems


def _login_problems(values: Mapping[str, object], sources: Mapping[str, str]) -> list[str]:
    """What each chosen provider needs, and users naming a mailbox that does not exist."""
    problems = []
    for provider in _texts(values.get("auth-providers")):
        if (need := _needs(provider, values)) is not None:
            problems.append(
                f"auth-providers: {provider} needs {need} {_from(sources, 'auth-providers')}"
            )
    mailboxes = values.get("mailboxes")
    users = values.get("users")
    for name, user in users.items() if isinstance(users, Mapping) else ():
        if user.mailbox is not None and (
            not isinstance(mailboxes, Mapping) or user.mailbox not in mailboxes
        ):
            problems.append(
                f"users.{name}.mailbox: no such entry in mailboxes {_from(sources, 'users')}"
            )
    return problems


def _texts(value: object) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else ()


def _needs(provider: str, values: Mapping[str, object]) -> str | None:
    if provider == "jwt" and not (values.get("jwt-secret") or values.get("jwt-secrets")):
        return "jwt-secret or jwt-secrets"
    if provider == "http" and not values.get("http-basic-auth-url"):
        return "http-basic-auth-url"
    if provider == "app-password":
        if not (values.get("app-password-secret") or values.get("jwt-secret")):
            return "app-password-secret (or jwt-secret)"
        if not values.get("mailboxes"):
            return "mailboxes"
    return None


def effective_providers(values: Mapping[str, object]) -> tuple[str, ...]:
    """The chain: as configured, else the original's precedence (jwt, http, static) plus
    app passwords when mailboxes and a secret for them exist."""
    configured = _texts(values.get("auth-providers"))
    if configured:
        return configured
    if values.get("jwt-secret") or values.get("jwt-secrets"):
        chain = ["jwt"]
    elif values.get("http-basic-auth-url"):
        chain = ["http"]
    else:
        chain = ["static"]
    if _needs("app-password", values) is None:
        chain.append("app-password")
    return tuple(chain)


def _pair_problems(values: Mapping[str, object], sources: Mapping[str, str]) -> list[str]:
    problems = []
    for a, b in _PAIRS:
        for one, other in ((a, b), (b, a)):
            if values.get(one) is not None and values.get(other) is None:
                problems.append(f"{one}: set without {other} {_from(sources, one)}")
    return problems


def inline_pair(values: Mapping[str, object]) -> bool:
    return values.get("tls-cert") is not None and values.get("tls-key") is not None


def path_pair(values: Mapping[str, object]) -> bool:
    return values.get("tls-cert-path") is not None and values.get("tls-key-path") is not None


def _tls_problems(values: Mapping[str, object], sources: Mapping[str, str]) -> list[str]:
    problems = []
    for key, what in (("tls-cert", "certificate"), ("tls-key", "private key")):
        text = values.get(key)
        if isinstance(text, str) and "-----BEGIN" not in text:
            problems.append(
                f"{key}: is not an inline PEM {what} (no -----BEGIN line) "
                f"{_from(sources, key)}; a file name goes in {key}-path"
            )
    if not inline_pair(values):  # inline PEM wins; then the paths are unused
        for key in ("tls-cert-path", "tls-key-path"):
            path = values.get(key)
            if not isinstance(path, Path):
                continue
            if not path.exists():
                trouble = "does not exist"
            elif not path.is_file():
                trouble = "is not a file"
            elif not os.access(path, os.R_OK):
                trouble = "is not readable"
            else:
                continue
            problems.append(f"{key}: {path} {trouble} {_from(sources, key)}")
    return problems


def _aws_problems(values: Mapping[str, object], sources: Mapping[str, str]) -> list[str]:
    problems = []
    if values.get("aws-session-token") is not None and values.get("aws-access-key-id") is None:
        problems.append(
            "aws-session-token: set without aws-access-key-id and aws-secret-access-key "
            + _from(sources, "aws-session-token")
        )
    if values.get("aws-access-key-id") is not None and values.get("aws-s3-bucket") is None:
        problems.append(
            "aws-s3-bucket: not set, but aws-access-key-id is "
            + _from(sources, "aws-access-key-id")
        )
    bucket, region = values.get("aws-s3-bucket"), values.get("aws-s3-region")
    if bucket is not None and region is None and values.get("aws-s3-endpoint-url") is None:
        problems.append(
            "aws-s3-region: not set, but aws-s3-bucket is "
            f"{_from(sources, 'aws-s3-bucket')}; set aws-s3-region (or aws-s3-endpoint-url)"
        )
    return problems


def safe_url(url: str) -> str:
    """The URL for logs and messages: a password is replaced by ``***`` (user-info without a
    password entirely) and the query and fragment (where API keys tend to live) by ``?***``."""
    try:
        parts = urlsplit(url)
        user = parts.username or ""
        has_password = parts.password is not None
    except ValueError:  # unparsable: hide whatever precedes an "@" and follows a "?"
        shown = "***@" + url.rpartition("@")[2] if "@" in url else url
        return shown.split("?")[0].split("#")[0] + ("?***" if "?" in url or "#" in url else "")
    host = parts.netloc.rpartition("@")[2]
    if has_password:
        netloc = f"{user}:***@{host}"
    elif "@" in parts.netloc:  # user-info alone is often a token (https://TOKEN@host/)
        netloc = f"***@{host}"
    else:
        netloc = parts.netloc
    hidden = "***" if parts.query or parts.fragment else ""
    return SplitResult(parts.scheme, netloc, parts.path, hidden, "").geturl()


def is_loopback(host: str) -> bool:
    return is_loopback_host(host)


def _url_problems(values: Mapping[str, object], sources: Mapping[str, str]) -> list[str]:
    problems = []
    for key in ("http-basic-auth-url", "aws-s3-endpoint-url"):
        url = values.get(key)
        if not isinstance(url, str):
            continue
        parts: SplitResult | None
        try:
            parts = urlsplit(url)
            hostname = parts.hostname
            _ = parts.port  # raises ValueError on a bad port
        except ValueError:
            parts, hostname = None, None
        if parts is None or parts.scheme not in ("http", "https") or not hostname:
            problems.append(f'{key}: "{safe_url(url)}" is not an http(s) URL {_from(sources, key)}')
            continue
        insecure_ok = values.get("http-basic-auth-url-insecure") is True
        plain = key == "http-basic-auth-url" and parts.scheme == "http"
        if plain and not is_loopback(hostname) and not insecure_ok:
            problems.append(
                f'{key}: "{safe_url(url)}" sends passwords over plain http to a host '
                f"that is not loopback {_from(sources, key)}; use https or set "
                "http-basic-auth-url-insecure: true"
            )
    return problems


def _port_problems(values: Mapping[str, object], sources: Mapping[str, str]) -> list[str]:
    problems = []
    tls, plain, admin = values.get("tls-port"), values.get("plain-port"), values.get("admin-port")
    if tls == 0 and plain == 0:
        problems.append(
            f"tls-port: 0 and plain-port: 0 leave no POP3 listener {_from(sources, 'tls-port')} "
            f"{_from(sources, 'plain-port')}"
        )
    if tls and tls == plain:
        problems.append(
            f"tls-port: {tls} is also plain-port {_from(sources, 'tls-port')} "
            f"{_from(sources, 'plain-port')}"
        )
    host, admin_host = values.get("host"), values.get("admin-host")
    same_host = host == admin_host or host in ALL_INTERFACES or admin_host in ALL_INTERFACES
    for key, port in (("tls-port", tls), ("plain-port", plain)):
        if admin and admin == port and same_host:
            problems.append(
                f"admin-port: {admin} is also {key} {_from(sources, 'admin-port')} "
                f"{_from(sources, key)}"
            )
    return problems
