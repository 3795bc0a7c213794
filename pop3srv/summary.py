"""The start-up summary: which login methods are active and which configured keys they leave
unused (one warning), where each mailbox is stored, the listeners and the admin URL."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from pathlib import Path

from cryptography import x509

from pop3srv.auth.factory import mailbox_resolver
from pop3srv.config import Settings
from pop3srv.failures import describe_location
from pop3srv.logsetup import event
from pop3srv.netaddr import hostport
from pop3srv.runtime import Bound, default_location
from pop3srv.storage.base import FolderLocation, Location
from pop3srv.tls import EXPIRY_WARNING, describe_certificate

log = logging.getLogger("pop3srv")

#: the keys each login method reads (a key read by any active method is in use)
METHOD_KEYS = {
    "static": ("user", "password", "users"),
    "jwt": ("jwt-secret", "jwt-secrets", "jwt-algorithms", "jwt-leeway"),
    "http": ("http-basic-auth-url",),
    "app-password": ("app-password-secret", "jwt-secret"),
}


def unused_keys(settings: Settings) -> list[str]:
    """Keys set (not defaults) that no active login method reads."""
    active = set(settings.auth.providers)
    used = {key for method in active for key in METHOD_KEYS.get(method, ())}
    configured = {key for key, source in settings.sources.items() if source != "default"}
    every = {key for keys in METHOD_KEYS.values() for key in keys}
    return sorted((every & configured) - used)


def announce(settings: Settings, bound: Bound, generated_secret: Path | None = None) -> None:
    """Log the summary, one line per fact (``generated_secret``: where the jwt-secret generated
    for want of a configured one is)."""
    providers = settings.auth.providers
    log.info("login methods: %s", ", ".join(providers))
    if generated_secret is not None:
        log.info(
            "jwt-secret: none configured, generated into %s; the admin app mints mailbox "
            "passwords with it",
            generated_secret,
        )
    if unused := unused_keys(settings):
        log.warning(
            "configured but unused by the active login methods (%s): %s; "
            "set auth-providers to use them",
            ", ".join(providers),
            ", ".join(unused),
        )
    if "static" in providers:
        users = [settings.auth.user, *(u.name for u in settings.auth.users.values())]
        log.info("static logins: %s", ", ".join(repr(u) for u in users))
    static = "static" in providers
    _mailbox(
        "default mailbox" if static else "default mailbox (static logins only)",
        default_location(settings),
        check=static,  # no static logins: nobody reads it, a missing folder is no matter
    )
    resolver = mailbox_resolver(settings)
    for name, entry in settings.auth.mailboxes.items():
        _mailbox(f"mailbox {name!r}", resolver.from_entry(entry))
    _listeners(settings, bound)


def _mailbox(what: str, location: Location, *, check: bool = True) -> None:
    where = describe_location(location)
    kind = "S3" if "bucket" in where else "local folder"
    event(log, logging.INFO, f"{what}: {kind}", **where)
    if check and isinstance(location, FolderLocation):
        folder_warning(what, location.directory)


def folder_warning(what: str, folder: Path) -> None:
    """A local mail folder that is missing (a typo in ``mail-dir`` serves an empty mailbox
    without a word) or not a directory (every login fails): one WARNING each."""
    if not folder.exists():
        log.warning(
            "%s: %s does not exist: logins see an empty mailbox until it is created; "
            "check mail-dir",
            what,
            folder,
        )
    elif not folder.is_dir():
        log.warning(
            "%s: %s is not a directory: logins fail with -ERR [SYS/PERM]; check mail-dir",
            what,
            folder,
        )


def _listeners(settings: Settings, bound: Bound) -> None:
    proxy = settings.listen.proxy_protocol
    via = f", PROXY protocol from {', '.join(settings.listen.proxy_trusted) or 'nobody'}"
    suffix = via if proxy else ""
    for host, port in bound.plain:
        log.info("POP3 (plain, STLS) on %s%s", hostport(host, port), suffix)
    for host, port in bound.tls:
        log.info("POP3S (implicit TLS) on %s%s", hostport(host, port), suffix)
    if proxy and not settings.listen.proxy_trusted:
        log.warning("proxy-protocol is on but proxy-trusted is empty: every connection is refused")
    for host, port in bound.admin:
        url = f"http://{hostport(host, port)}/"
        log.info("admin app on %s (metrics on %smetrics)", url, url)
    if not bound.admin:
        log.info("admin app off (admin-port 0)")
    if bound.self_signed_cert:
        log.info("TLS certificate (self-signed): %s", bound.self_signed_cert)
    elif settings.tls.configured and (bound.tls or bound.plain):
        configured_certificate(settings)


def configured_certificate(settings: Settings, now: dt.datetime | None = None) -> None:
    """Which configured certificate is served (as a reload says it), and a warning when it
    has expired or expires within ``EXPIRY_WARNING``: clients refuse it then."""
    tls = settings.tls
    where = "tls-cert" if tls.cert_pem is not None else str(tls.cert_path)
    pem = tls.cert_pem.encode() if tls.cert_pem is not None else None
    if pem is None and tls.cert_path is not None:
        with contextlib.suppress(OSError):
            pem = tls.cert_path.read_bytes()
    log.info("TLS certificate: %s from %s", describe_certificate(pem), where)
    try:
        until = x509.load_pem_x509_certificate(pem or b"").not_valid_after_utc
    except ValueError:
        return
    left = until - (now or dt.datetime.now(dt.UTC))
    if left < EXPIRY_WARNING:
        when = f"expired on {until:%Y-%m-%d}" if left.total_seconds() <= 0 else (
            f"expires on {until:%Y-%m-%d} (in {left.days} days)")  # fmt: skip
        log.warning(
            "TLS certificate %s %s: mail clients refuse it; renew it, then reload "
            "(systemctl reload pop3srv, or SIGHUP)",
            where,
            when,
        )
