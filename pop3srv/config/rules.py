"""Checks across keys: :func:`problems` (invalid) and :func:`warnings` (allowed, but probably not
meant); both read the typed values by dash key (a bad value holds its default)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pop3srv.config.kinds import INSIDE_MAIL_DIR, inside_mail_dir
from pop3srv.config.schema import DEFAULT_PASSWORD
from pop3srv.netaddr import is_loopback_host, safe_url
from pop3srv.storage.base import within_folder

MIN_ADMIN_TOKEN = 20  # a generated one has 43 characters
MIN_HMAC_KEY = 32
STATE_FOLDERS = ("", "tls", "spool")  # where pop3srv writes into state-dir
ALL_INTERFACES = ("", "0.0.0.0", "::", "[::]")
_PAIRS = [
    ("tls-cert", "tls-key"),
    ("tls-cert-path", "tls-key-path"),
    ("aws-access-key-id", "aws-secret-access-key"),
]
#: ``./var`` is ``/var`` when the working directory is ``/`` (systemd without WorkingDirectory=)
_SYSTEM_DIRS = """/ /bin /boot /dev /etc /home /lib /opt /proc /root /run /sbin /srv /sys /tmp
/usr /var /var/lib /var/log /var/mail /var/spool /var/spool/mail /var/tmp /var/cache"""
SYSTEM_DIRS = frozenset(Path(p) for p in _SYSTEM_DIRS.split())


def _at(sources: Mapping[str, str], *keys: str) -> str:
    """``(from SOURCE)`` of each key, a source shared by several named once."""
    named = dict.fromkeys(sources.get(key, "default") for key in keys)
    return " ".join(f"(from {source})" for source in named)


def problems(v: Mapping[str, Any], sources: Mapping[str, str]) -> Iterator[str]:
    at = functools.partial(_at, sources)
    for a, b in _PAIRS + [(b, a) for a, b in _PAIRS]:
        if v[a] is not None and v[b] is None:
            yield f"{a}: set without {b} {at(a)}"
    yield from _tls_problems(v, at)
    if v["aws-session-token"] is not None and v["aws-access-key-id"] is None:
        yield (
            "aws-session-token: set without aws-access-key-id and aws-secret-access-key "
            + at("aws-session-token")
        )
    if v["aws-access-key-id"] is not None and v["aws-s3-bucket"] is None:
        yield f"aws-s3-bucket: not set, but aws-access-key-id is {at('aws-access-key-id')}"
    if v["aws-s3-bucket"] is not None and not (v["aws-s3-region"] or v["aws-s3-endpoint-url"]):
        yield (
            f"aws-s3-region: not set, but aws-s3-bucket is {at('aws-s3-bucket')}; set "
            "aws-s3-region (or aws-s3-endpoint-url)"
        )
    yield from _url_problems(v, at)
    yield from _served_secrets(v, at)
    yield from _served_s3_objects(v, at)
    yield from _port_problems(v, at)
    for provider in v["auth-providers"]:
        if need := _needs(provider, v):
            yield f"auth-providers: {provider} needs {need} {at('auth-providers')}"
    for name, user in v["users"].items():
        if user.mailbox is not None and user.mailbox not in v["mailboxes"]:
            yield f"users.{name}.mailbox: no such entry in mailboxes {at('users')}"
    if v["aws-s3-bucket"] is None and not inside_mail_dir(v["aws-s3-prefix"]):  # folder store
        yield f"aws-s3-prefix: {INSIDE_MAIL_DIR} {at('aws-s3-prefix')}"
    if v["admin-token"] and len(v["admin-token"].strip()) < MIN_ADMIN_TOKEN:
        yield (
            f"admin-token: shorter than {MIN_ADMIN_TOKEN} characters {at('admin-token')}; "
            "leave it unset to have one generated into state-dir"
        )


def _tls_problems(v: Mapping[str, Any], at: Callable[..., str]) -> Iterator[str]:
    """An inline certificate or key that is not PEM; a certificate or key file not readable."""
    for key, what in (("tls-cert", "certificate"), ("tls-key", "private key")):
        if v[key] is not None and "-----BEGIN" not in v[key]:
            yield (
                f"{key}: is not an inline PEM {what} (no -----BEGIN line) {at(key)}; a file "
                f"name goes in {key}-path"
            )
    inline = v["tls-cert"] is not None and v["tls-key"] is not None  # the files are not read
    for key in () if inline else ("tls-cert-path", "tls-key-path"):
        if v[key] is not None and (trouble := _unreadable(v[key])):
            yield f"{key}: {v[key]} {trouble} {at(key)}"


def _port_problems(v: Mapping[str, Any], at: Callable[..., str]) -> Iterator[str]:
    """No POP3 listener, or two listeners on one port."""
    tls, plain, admin = v["tls-port"], v["plain-port"], v["admin-port"]
    if tls == 0 and plain == 0:
        yield f"tls-port: 0 and plain-port: 0 leave no POP3 listener {at('tls-port', 'plain-port')}"
    if tls and tls == plain:
        yield f"tls-port: {tls} is also plain-port {at('tls-port', 'plain-port')}"
    hosts = v["host"], v["admin-host"]
    for key, port in ("tls-port", tls), ("plain-port", plain):
        if admin and admin == port and (hosts[0] == hosts[1] or set(hosts) & {*ALL_INTERFACES}):
            yield f"admin-port: {admin} is also {key} {at('admin-port', key)}"


def _served_secrets(v: Mapping[str, Any], at: Callable[..., str]) -> Iterator[str]:
    """State or a private key in a folder served as a mailbox: every file there is a message
    its users can RETR (the generated jwt-secret, admin-token, TLS key)."""
    served = {}  # folder -> whose
    if v["aws-s3-bucket"] is None:
        served[(v["mail-dir"] / v["aws-s3-prefix"]).resolve()] = "the default mailbox"
    for name, entry in v["mailboxes"].items():
        if entry.folder is not None:
            served.setdefault((v["mail-dir"] / entry.folder).resolve(), f"mailboxes.{name}")
    for folder in (v["state-dir"] / sub for sub in STATE_FOLDERS):
        if whose := served.get(folder.resolve()):
            yield (
                f"state-dir: {folder} is also the folder of {whose}, served to its POP3 users "
                f"{at('state-dir', 'mail-dir')}; give state-dir a folder of its own"
            )
    key = v["tls-key-path"]
    if key is not None and (whose := served.get(key.resolve().parent)):
        yield (
            f"tls-key-path: {key} is in the folder of {whose}, served to its POP3 users "
            f"{at('tls-key-path', 'mail-dir')}; keep the key elsewhere"
        )


def _served_s3_objects(v: Mapping[str, Any], at: Callable[..., str]) -> Iterator[str]:
    """An S3 mailbox whose prefix holds the locks and token registry (``lock-prefix``, with
    ``lock: s3``) or the trash of deleted mail: its users would read (and delete) them."""
    # whose -> (its prefix, the key that set it)
    prefixes = {"the default mailbox": (v["aws-s3-prefix"], "aws-s3-prefix")}
    prefixes = prefixes if v["aws-s3-bucket"] else {}
    prefixes |= {
        f"mailboxes.{n}": (e.prefix, "mailboxes") for n, e in v["mailboxes"].items() if e.bucket
    }
    used = {"lock-prefix": v["lock"] == "s3", "trash-prefix": v["delete-mode"] == "trash"}
    for key, what in ("lock-prefix", "S3 locks and token registry"), ("trash-prefix", "trash"):
        for whose, (prefix, source) in prefixes.items() if used[key] else ():
            if within_folder(prefix, v[key]):
                yield (
                    f'{key}: "{v[key]}" holds the {what}, and {whose} (prefix "{prefix}") '
                    f"serves it to its POP3 users {at(key, source)}; give that mailbox a "
                    f"prefix outside {key}"
                )


def _unreadable(path: Path) -> str:
    if not path.exists():
        return "does not exist"
    if not path.is_file():
        return "is not a file"
    return "" if os.access(path, os.R_OK) else "is not readable"


def _url_problems(v: Mapping[str, Any], at: Callable[..., str]) -> Iterator[str]:
    for key in "http-basic-auth-url", "aws-s3-endpoint-url":
        if (url := v[key]) is None:
            continue
        try:
            parts = urlsplit(url)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
            _ = parts.port  # raises ValueError on a bad port
        except ValueError:
            ok = False
        if not ok:
            yield f'{key}: "{safe_url(url)}" is not an http(s) URL {at(key)}'
        elif key == "http-basic-auth-url" and _remote_http(url) and not v[f"{key}-insecure"]:
            yield (
                f'{key}: "{safe_url(url)}" sends passwords over plain http to a host that is '
                f"not loopback {at(key)}; use https or set http-basic-auth-url-insecure: true"
            )


def _remote_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and not is_loopback_host(parts.hostname)


def _needs(provider: str, v: Mapping[str, Any]) -> str | None:
    if provider == "jwt" and not (v["jwt-secret"] or v["jwt-secrets"]):
        return "jwt-secret or jwt-secrets"
    if provider == "http" and not v["http-basic-auth-url"]:
        return "http-basic-auth-url"
    if provider == "app-password" and not (v["app-password-secret"] or v["jwt-secret"]):
        return "app-password-secret (or jwt-secret)"
    return "mailboxes" if provider == "app-password" and not v["mailboxes"] else None


def effective_providers(v: Mapping[str, Any]) -> tuple[str, ...]:
    """The chain: as configured, else the original's precedence (jwt, http, static) plus
    app passwords when mailboxes and a secret for them exist."""
    if v["auth-providers"]:
        return tuple(v["auth-providers"])
    jwt, http = v["jwt-secret"] or v["jwt-secrets"], v["http-basic-auth-url"]
    chain = "jwt" if jwt else "http" if http else "static"
    return (chain, "app-password") if _needs("app-password", v) is None else (chain,)


def warnings(v: Mapping[str, Any], sources: Mapping[str, str]) -> Iterator[str]:
    """Things that are allowed but probably not meant."""
    static = v["jwt-secret"] is None and v["http-basic-auth-url"] is None
    if static and v["password"] == DEFAULT_PASSWORD:
        yield (
            f'password: still the default "{DEFAULT_PASSWORD}"; set password '
            "(or jwt-secret or http-basic-auth-url)"
        )
    if v["idle-timeout"] < 600:
        yield (
            f"idle-timeout: {v['idle-timeout']:g} is below the 600 seconds RFC 1939 "
            f"asks of an autologout timer {_at(sources, 'idle-timeout')}"
        )
    if v["jwt-secret"] is not None and len(v["jwt-secret"].encode()) < MIN_HMAC_KEY:
        yield (
            f"jwt-secret: shorter than {MIN_HMAC_KEY} bytes (RFC 7518 asks for at least "
            f"as long as the HS256 hash); tokens still work {_at(sources, 'jwt-secret')}"
        )
    url = v["http-basic-auth-url"]
    if url is not None and v["http-basic-auth-url-insecure"] and _remote_http(url):
        yield (
            f'http-basic-auth-url: "{safe_url(url)}" is plain http to a non-loopback '
            "host (allowed by http-basic-auth-url-insecure)"
        )
    for key in "state-dir", "mail-dir":
        if (path := v[key].resolve()) in SYSTEM_DIRS:
            yield (
                f"{key}: {path} is a system directory {_at(sources, key)} (a relative default "
                f"resolves against the working directory, / under systemd); set {key} "
                f"(POP3_{key.upper().replace('-', '_')}), e.g. /var/lib/pop3srv"
                + ("/mail" if key == "mail-dir" else "")
            )
