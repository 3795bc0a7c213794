"""Why a login or a store operation failed, told to the operator in one line each.

* a store failure: one WARNING with the session, peer, user, mailbox (bucket, prefix, region,
  endpoint or folder), the store operation, the S3 error code and HTTP status and, for the
  codes an operator can act on, a ``hint`` naming the key or policy to check (``hints``); identical
  failures (same mailbox, operation, error) within ``window`` seconds are counted and reported
  in one ``repeated`` line instead;
* a failed login: one INFO with the peer, user, POP3 method and the reason class;
* an address whose logins start being delayed: one WARNING.

Passwords, tokens, keys and mail never reach these lines: store errors carry only operation
names, codes and statuses (``storage.s3errors``), locations are described without credentials.
The details come from the store errors, not from a store, so any store implementation works;
``loggedstore.LoggedStore`` is the store wrapper that reports them. Repeats are counted, not
written, in ``repeats.RepeatWindows``.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass

from pop3srv.hints import store_hint, tls_hint
from pop3srv.logsetup import FieldValue, event
from pop3srv.netaddr import host_of, safe_url
from pop3srv.repeats import MAX_REASONS, RepeatWindows
from pop3srv.storage.base import (
    DeleteResult,
    FolderLocation,
    Location,
    MessageGone,
    S3Location,
    StoreError,
)

__all__ = [
    "MAX_REASONS",
    "FailureLog",
    "Who",
    "describe_location",
    "login_line",
    "safe_user",
    "tls_reason",
]

log = logging.getLogger("pop3srv.failures")
MAX_USER_LENGTH = 100


@dataclass(frozen=True)
class Who:
    """The session a failure belongs to."""

    session: str
    peer: str
    user: str | None = None


class FailureLog(RepeatWindows):
    """Writes the failure lines; one per process, shared by every session (its repeats are
    counted in ``RepeatWindows``)."""

    logger = log

    def store_failed(
        self, exc: StoreError, action: str, who: Who, location: Location | None
    ) -> None:
        """A store operation failed in a session (``action``: open, list, retr, delete, ...)."""
        where = describe_location(location) if location is not None else {}
        detail = {
            "operation": getattr(exc, "operation", None),
            "code": getattr(exc, "code", None),
            "status": getattr(exc, "status", None),
        }
        kind = type(exc).__name__
        key = (kind, action, *where.values(), *detail.values())
        fields: dict[str, FieldValue] = {"action": action, "error": kind, **where, **detail}
        level = logging.INFO if isinstance(exc, MessageGone) else logging.WARNING
        if not self._admit(key, "store failure", fields, level=level):
            return
        event(
            log,
            level,
            f"store failure: {exc}",
            session=who.session,
            peer=who.peer,
            user=safe_user(who.user),
            **fields,
            hint=store_hint(detail["code"], detail["status"]),  # what to do (hints.py)
        )

    def delete_incomplete(self, result: DeleteResult, who: Who, location: Location) -> None:
        """Some messages marked in a QUIT could not be removed."""
        event(
            log,
            logging.WARNING,
            f"store failure: {len(result.failed)} of "
            f"{len(result.failed) + len(result.deleted)} messages not deleted",
            session=who.session,
            peer=who.peer,
            user=safe_user(who.user),
            action="delete",
            **describe_location(location),
            operation="delete_objects" if result.codes else None,
            code=",".join(result.codes) or None,
        )

    def connection_refused(self, peer: str, reason: str, hint: str | None = None) -> None:
        """A connection ended before its session (PROXY protocol: untrusted, bad header); the
        same refusal from the same address (IPv6: network) is counted, not repeated, within a
        window; the first line names the exact peer."""
        address, counted_as, counted = self._address("refused", host_of(peer), reason)
        fields: dict[str, FieldValue] = {"address": address, "reason": counted_as}
        key = ("refused", *fields.values())
        if self._admit(key, "connection refused", fields, counted, level=logging.INFO):
            event(log, logging.INFO, "connection refused", peer=peer, reason=reason, hint=hint)

    def tls_failed(self, peer: str, listener: str, exc: BaseException) -> None:
        """A TLS handshake failed (Dovecot's "TLS handshaking: SSL_accept() failed"): the
        client refused the certificate, spoke plaintext, offered only old versions. One line
        per address, reason and window, with what to do (an address's reasons and a /48's
        /64s are bounded: ``_address``); a client that closed or went quiet
        before saying anything (a TCP health check, a scanner) gets none."""
        reason = tls_reason(exc)
        if reason is None:
            return
        address, counted_as, counted = self._address("tls", host_of(peer), reason)
        fields: dict[str, FieldValue] = {"address": address, "reason": counted_as}
        key = ("tls", *fields.values())
        if self._admit(key, "TLS handshake failed", fields, counted, level=logging.INFO):
            event(
                log,
                logging.INFO,
                "TLS handshake failed",
                peer=peer,
                listener=listener,
                reason=reason,
                hint=tls_hint(reason),
            )

    def login_failed(self, who: Who, user: str, method: str, reason: str) -> None:
        login_line(log, "login failed", who, user, method, reason=reason)

    def address_delayed(self, address: str, delay: float) -> None:
        event(
            log,
            logging.WARNING,
            "repeated login failures: further logins from this address are delayed",
            address=address,
            delay=delay,
        )


def tls_reason(exc: BaseException) -> str | None:
    """OpenSSL's reason for the handshake failure behind ``exc`` (``TLSV1_ALERT_UNKNOWN_CA``,
    ``HTTP_REQUEST``...), None when the client just closed or timed out."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) and not isinstance(
            seen, ssl.SSLEOFError | ssl.SSLZeroReturnError
        ):
            return str(seen.reason or type(seen).__name__)
        seen = seen.__cause__ or seen.__context__
    return None


def describe_location(location: Location) -> dict[str, FieldValue]:
    """Where a mailbox is, for a log line: never its credentials."""
    match location:
        case S3Location():
            return {
                "bucket": location.bucket,
                "prefix": location.prefix,
                "region": location.region,
                "endpoint": safe_url(location.endpoint_url) if location.endpoint_url else "aws",
            }
        case FolderLocation():
            return {"folder": str(location.root / location.prefix)}
    return {"mailbox": location.lock_key}


def login_line(
    logger: logging.Logger, message: str, who: Who, user: str, method: str, **more: FieldValue
) -> None:
    """An INFO line about a login (``login failed`` here, ``login`` in ``login.py``): the
    session, peer, user name (``safe_user``) and POP3 method, then ``more``."""
    event(
        logger,
        logging.INFO,
        message,
        session=who.session,
        peer=who.peer,
        user=safe_user(user),
        method=method,
        **more,
    )


def safe_user(user: str | None) -> str | None:
    """A user name fit for a log line: a token pasted as the name is not written out."""
    if user is None:
        return None
    if user.startswith("eyJ") and user.count(".") == 2:
        return "<a JWT>"
    return user if len(user) <= MAX_USER_LENGTH else user[:MAX_USER_LENGTH] + "..."
