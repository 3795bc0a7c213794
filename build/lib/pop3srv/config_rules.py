"""Checks that involve more than one key, and the warnings. Part of :mod:`pop3srv.config`.

Each check reads the already-typed values (underscore keys; a key whose own value was bad holds
its packaged default or None) and their sources, and returns problem lines.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from pop3srv.config_keys import dash
from pop3srv.netaddr import is_loopback_host

DEFAULT_PASSWORD = "changeit"  # noqa: S105 - the original's documented default
RFC1939_IDLE_TIMEOUT = 600.0
MIN_HMAC_KEY = 32
ALL_INTERFACES = frozenset({"", "0.0.0.0", "::", "[::]"})

_PAIRS = (
    ("tls_cert", "tls_key"),
    ("tls_cert_path", "tls_key_path"),
    ("aws_access_key_id", "aws_secret_access_key"),
)


def _from(sources: Mapping[str, str], key: str) -> str:
    return f"(from {sources.get(key, 'default')})"


def cross_problems(values: Mapping[str, object], sources: Mapping[str, str]) -> list[str]:
    problems = _pair_problems(values, sources)
    problems += _tls_problems(values, sources)
    problems += _aws_problems(values, sources)
    problems += _url_problems(values, sources)
    problems += _port_problems(values, sources)
    return problems


def _pair_problems(values: Mapping[str, object], sources: Mapping[str, str]) -> list[str]:
    problems = []
    for a, b in _PAIRS:
        for one, other in ((a, b), (b, a)):
            if values.get(one) is not None and values.get(other) is None:
                problems.append(f"{dash(one)}: set without {dash(other)} {_from(sources, one)}")
    return problems


def inline_pair(values: Mapping[str, object]) -> bool:
    return values.get("tls_cert") is not None and values.get("tls_key") is not None


def path_pair(values: Mapping[str, object]) -> bool:
    return values.get("tls_cert_path") is not None and values.get("tls_key_path") is not None


def _tls_problems(values: Mapping[str, object], sources: Mapping[str, str]) -> list[str]:
    problems = []
    for key, what in (("tls_cert", "certificate"), ("tls_key", "private key")):
        text = values.get(key)
        if isinstance(text, str) and "-----BEGIN" not in text:
            problems.append(
                f"{dash(key)}: is not an inline PEM {what} (no -----BEGIN line) "
                f"{_from(sources, key)}; a file name goes in {dash(key)}-path"
            )
    if not inline_pair(values):  # inline PEM wins; then the paths are unused
        for key in ("tls_cert_path", "tls_key_path"):
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
            problems.append(f"{dash(key)}: {path} {trouble} {_from(sources, key)}")
    return problems


def _aws_problems(values: Mapping[str, object], sources: Mapping[str, str]) -> list[str]:
    problems = []
    if values.get("aws_session_token") is not None and values.get("aws_access_key_id") is None:
        problems.append(
            "aws-session-token: set without aws-access-key-id and aws-secret-access-key "
            + _from(sources, "aws_session_token")
        )
    if values.get("aws_access_key_id") is not None and values.get("aws_s3_bucket") is None:
        problems.append(
            "aws-s3-bucket: not set, but aws-access-key-id is "
            + _from(sources, "aws_access_key_id")
        )
    bucket, region = values.get("aws_s3_bucket"), values.get("aws_s3_region")
    if bucket is not None and region is None and values.get("aws_s3_endpoint_url") is None:
        problems.append(
            "aws-s3-region: not set, but aws-s3-bucket is "
            f"{_from(sources, 'aws_s3_bucket')}; set aws-s3-region (or aws-s3-endpoint-url)"
        )
    return problems


def safe_url(url: str) -> str:
    """The URL for logs and messages: a password is replaced by ``***`` and the query and
    fragment (where API keys tend to live) by ``?***``."""
    try:
        parts = urlsplit(url)
        user = parts.username or ""
        has_password = parts.password is not None
    except ValueError:  # unparsable: hide whatever precedes an "@" and follows a "?"
        shown = "***@" + url.rpartition("@")[2] if "@" in url else url
        return shown.split("?")[0].split("#")[0] + ("?***" if "?" in url or "#" in url else "")
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{user}:***@{host}" if has_password else parts.netloc
    hidden = "***" if parts.query or parts.fragment else ""
    return SplitResult(parts.scheme, netloc, parts.path, hidden, "").geturl()


def is_loopback(host: str) -> bool:
    return is_loopback_host(host)


def _url_problems(values: Mapping[str, object], sources: Mapping[str, str]) -> list[str]:
    problems = []
    for key in ("http_basic_auth_url", "aws_s3_endpoint_url"):
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
            problems.append(
                f'{dash(key)}: "{safe_url(url)}" is not an http(s) URL {_from(sources, key)}'
            )
            continue
        insecure_ok = values.get("http_basic_auth_url_insecure") is True
        plain = key == "http_basic_auth_url" and parts.scheme == "http"
        if plain and not is_loopback(hostname) and not insecure_ok:
            problems.append(
                f'{dash(key)}: "{safe_url(url)}" sends passwords over plain http to a host '
                f"that is not loopback {_from(sources, key)}; use https or set "
                "http-basic-auth-url-insecure: true"
            )
    return problems


def _port_problems(values: Mapping[str, object], sources: Mapping[str, str]) -> list[str]:
    problems = []
    tls, plain, admin = values.get("tls_port"), values.get("plain_port"), values.get("admin_port")
    if tls == 0 and plain == 0:
        problems.append(
            f"tls-port: 0 and plain-port: 0 leave no POP3 listener {_from(sources, 'tls_port')} "
            f"{_from(sources, 'plain_port')}"
        )
    if tls and tls == plain:
        problems.append(
            f"tls-port: {tls} is also plain-port {_from(sources, 'tls_port')} "
            f"{_from(sources, 'plain_port')}"
        )
    host, admin_host = values.get("host"), values.get("admin_host")
    same_host = host == admin_host or host in ALL_INTERFACES or admin_host in ALL_INTERFACES
    for key, port in (("tls_port", tls), ("plain_port", plain)):
        if admin and admin == port and same_host:
            problems.append(
                f"admin-port: {admin} is also {dash(key)} {_from(sources, 'admin_port')} "
                f"{_from(sources, key)}"
            )
    return problems


def warnings(values: Mapping[str, object], sources: Mapping[str, str]) -> list[str]:
    """Things that are allowed but probably not meant."""
    found = []
    static = values.get("jwt_secret") is None and values.get("http_basic_auth_url") is None
    if static and values.get("password") == DEFAULT_PASSWORD:
        found.append(
            f'password: still the default "{DEFAULT_PASSWORD}"; set password '
            "(or jwt-secret or http-basic-auth-url)"
        )
    idle = values.get("idle_timeout")
    if isinstance(idle, float) and idle < RFC1939_IDLE_TIMEOUT:
        found.append(
            f"idle-timeout: {idle:g} is below the 600 seconds RFC 1939 asks of an autologout "
            f"timer {_from(sources, 'idle_timeout')}"
        )
    secret = values.get("jwt_secret")
    if isinstance(secret, str) and len(secret.encode()) < MIN_HMAC_KEY:
        found.append(
            f"jwt-secret: shorter than {MIN_HMAC_KEY} bytes (RFC 7518 asks for at least as "
            f"long as the HS256 hash); tokens still work {_from(sources, 'jwt_secret')}"
        )
    url = values.get("http_basic_auth_url")
    if isinstance(url, str) and values.get("http_basic_auth_url_insecure") is True:
        parts = urlsplit(url)
        if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
            found.append(
                f'http-basic-auth-url: "{safe_url(url)}" is plain http to a non-loopback host '
                "(allowed by http-basic-auth-url-insecure)"
            )
    return found
