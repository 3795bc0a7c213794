"""The warnings: things a configuration allows but probably does not mean (the default
password, a short JWT secret, plain http to a remote callback, state in a system directory ...).
Part of :mod:`pop3srv.config`; each names the key and, where it helps, its source."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from pop3srv.config.rules import is_loopback, safe_url

DEFAULT_PASSWORD = "changeit"  # noqa: S105 - the original's documented default
RFC1939_IDLE_TIMEOUT = 600.0
MIN_HMAC_KEY = 32


def _from(sources: Mapping[str, str], key: str) -> str:
    return f"(from {sources.get(key, 'default')})"


def warnings(values: Mapping[str, object], sources: Mapping[str, str]) -> list[str]:
    """Things that are allowed but probably not meant."""
    found = []
    static = values.get("jwt-secret") is None and values.get("http-basic-auth-url") is None
    if static and values.get("password") == DEFAULT_PASSWORD:
        found.append(
            f'password: still the default "{DEFAULT_PASSWORD}"; set password '
            "(or jwt-secret or http-basic-auth-url)"
        )
    idle = values.get("idle-timeout")
    if isinstance(idle, float) and idle < RFC1939_IDLE_TIMEOUT:
        found.append(
            f"idle-timeout: {idle:g} is below the 600 seconds RFC 1939 asks of an autologout "
            f"timer {_from(sources, 'idle-timeout')}"
        )
    secret = values.get("jwt-secret")
    if isinstance(secret, str) and len(secret.encode()) < MIN_HMAC_KEY:
        found.append(
            f"jwt-secret: shorter than {MIN_HMAC_KEY} bytes (RFC 7518 asks for at least as "
            f"long as the HS256 hash); tokens still work {_from(sources, 'jwt-secret')}"
        )
    url = values.get("http-basic-auth-url")
    if isinstance(url, str) and values.get("http-basic-auth-url-insecure") is True:
        parts = urlsplit(url)
        if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
            found.append(
                f'http-basic-auth-url: "{safe_url(url)}" is plain http to a non-loopback host '
                "(allowed by http-basic-auth-url-insecure)"
            )
    found += _system_dir_warnings(values, sources)
    return found


#: Directories of the system itself: ``./var`` is ``/var`` when the working directory is ``/``
#: (as under systemd without WorkingDirectory=).
_SYSTEM_DIRS = (
    "/ /bin /boot /dev /etc /home /lib /opt /proc /root /run /sbin /srv /sys /tmp /usr /var "
    "/var/lib /var/log /var/mail /var/spool /var/spool/mail /var/tmp /var/cache"
)
SYSTEM_DIRS = frozenset(Path(p) for p in _SYSTEM_DIRS.split())


def _system_dir_warnings(values: Mapping[str, object], sources: Mapping[str, str]) -> list[str]:
    found = []
    for key in ("state-dir", "mail-dir"):
        path = values.get(key)
        if isinstance(path, Path) and path.resolve() in SYSTEM_DIRS:
            found.append(
                f"{key}: {path.resolve()} is a system directory {_from(sources, key)} "
                f"(a relative default resolves against the working directory, / under systemd); "
                f"set {key} (POP3_{key.upper().replace('-', '_')}), e.g. /var/lib/pop3srv"
                + ("/mail" if key == "mail-dir" else "")
            )
    return found
