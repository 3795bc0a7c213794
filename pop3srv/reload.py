"""SIGHUP: the TLS certificate and key, and the ``users``, ``mailboxes`` and ``jwt-secrets``
tables, re-read without dropping a session.

The configuration is read again from the same sources. A new certificate pair that loads
replaces the listeners' TLS context: connections accepted from then on (and STLS upgrades)
use it, sessions already running keep theirs. A pair that fails to load, or a configuration
with problems, changes nothing and the log says why. Every other key is read only at start-up:
changes to them are named in one warning.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace

from pop3srv.auth.factory import build_authenticator
from pop3srv.auth.generated import keep_generated_secret
from pop3srv.config import ConfigError, Settings, flat
from pop3srv.config.schema import KEYS
from pop3srv.logsetup import event
from pop3srv.runtime import Runtime, default_location, tls_context
from pop3srv.tls import TlsSetupError, describe_certificate

log = logging.getLogger("pop3srv.reload")

#: the ``auth`` fields a reload applies, and their keys
TABLES = ("users", "mailboxes", "jwt_secrets")
APPLIED_KEYS = frozenset(name.replace("_", "-") for name in TABLES)


def reload(runtime: Runtime, load: Callable[[], Settings]) -> bool:
    """Apply what a reload may change; False if nothing could be (the reason is logged)."""
    try:
        new = load()
    except ConfigError as exc:
        log.error("reload refused, configuration unchanged: %s", "; ".join(exc.problems))
        return False
    old = runtime.settings
    if runtime.generated_jwt_secret is not None and old.auth.jwt_secret:
        new = keep_generated_secret(new, old.auth.jwt_secret)
    _reload_tls(runtime, new)
    auth = replace(old.auth, **{name: getattr(new.auth, name) for name in TABLES})
    settings = replace(old, auth=auth)
    runtime.authenticator.current = build_authenticator(
        settings, default_location(settings), runtime.http_client, runtime.ledger
    )
    runtime.settings = settings
    event(
        log,
        logging.INFO,
        "reloaded login tables",
        users=len(auth.users),
        mailboxes=len(auth.mailboxes),
        jwt_secrets=len(auth.jwt_secrets),
    )
    if ignored := restart_only_changes(old, new):
        log.warning("reload: changes to %s take effect only after a restart", ", ".join(ignored))
    return True


def _reload_tls(runtime: Runtime, new: Settings) -> None:
    target = runtime.tls_target
    if target is None or target.tls_context is None:
        if new.tls.configured:
            log.warning("reload: TLS was off at start-up; turning it on needs a restart")
        return
    try:
        context, _self_signed = tls_context(new)
    except TlsSetupError as exc:
        log.error("reload: keeping the current TLS certificate: %s", exc)
        return
    if context is None:
        log.error("reload: no TLS certificate configured any more; keeping the current one")
        return
    target.tls_context = context
    tls = new.tls
    pem = tls.cert_pem.encode() if tls.cert_pem else None
    if pem is None and tls.cert_path is not None:
        with contextlib.suppress(OSError):
            pem = tls.cert_path.read_bytes()
    log.info("reload: new connections use %s", describe_certificate(pem))


def restart_only_changes(old: Settings, new: Settings) -> list[str]:
    """The keys whose value differs and that a reload does not apply (in the schema's order;
    the ``tls`` keys and the tables are applied)."""
    before, after = flat(old), flat(new)
    return [
        name
        for name, value in before.items()
        if name not in APPLIED_KEYS and KEYS[name].path[0] != "tls" and after[name] != value
    ]
