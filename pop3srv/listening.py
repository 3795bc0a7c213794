"""A listener that cannot be bound, said in one line: ``cannot listen on 127.0.0.1:8080
(admin-port): address already in use``. The service raises ``ListenError``; the command line
prints it and exits 1."""

from __future__ import annotations

import socket

from pop3srv.netaddr import hostport


class ListenError(Exception):
    """A listener could not be bound; the message names the address, the key and the cause."""


def listen_error(
    error: OSError | BaseExceptionGroup[OSError], host: str | None, port: int, key: str
) -> ListenError:
    """The one-line error for ``error`` (or the first ``OSError`` in it), raised binding ``key``."""
    cause = _first(error)
    return ListenError(f"cannot listen on {_address(host, port)} ({key}): {_reason(cause)}")


def find_listen_error(exc: BaseException) -> ListenError | None:
    """The ``ListenError`` in ``exc`` or in any exception group nested in it."""
    if isinstance(exc, ListenError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = find_listen_error(inner)
            if found is not None:
                return found
    return None


def _first(error: OSError | BaseExceptionGroup[OSError]) -> OSError:
    inner: BaseException = error
    while isinstance(inner, BaseExceptionGroup):
        inner = inner.exceptions[0]
    assert isinstance(inner, OSError)
    return inner


def _address(host: str | None, port: int) -> str:
    return hostport(host or "*", port)


def _reason(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host ({exc.strerror or exc})"
    text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]
