"""The S3 check at start-up: once the listeners are up, each configured S3 mailbox (the
default ``aws-s3-bucket`` one and each S3 entry of ``mailboxes``) is listed once, as
``check-config --probe`` lists it (``probe.list_one``: one ``ListObjectsV2`` of one key), with
the client logins use: the runtime's shared pool's (its keys, timeouts and retries; the pool
keeps it for the first login), and the log says what it found: one INFO line per mailbox
that answered, one WARNING line per problem (mailbox, bucket, prefix, endpoint, the
S3 code and a ``hint`` from ``hints``), so a missing bucket, wrong keys or an endpoint that
is down show at start, not at the first failed login.

It never delays or fails start-up: it runs in the background after the listeners are bound,
in a worker thread (under the pool's limiter), within ``CHECK_TIMEOUT`` in all (what is not
checked by then is said in one line), and ends at once when the server shuts down; a check
that cannot run at all is one WARNING line. Readiness stays about the listeners: S3 may
recover on its own.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import trio

from pop3srv.failures import describe_location
from pop3srv.hints import store_hint
from pop3srv.logsetup import event
from pop3srv.netaddr import redact_urls
from pop3srv.probe import list_one, s3_mailboxes
from pop3srv.runtime import Runtime
from pop3srv.storage.base import S3Location, StoreError

log = logging.getLogger(__name__)

#: all mailboxes together; each request also has the pool's connect/read timeouts
CHECK_TIMEOUT = 30.0


async def check_s3(runtime: Runtime, shutdown: trio.Event) -> None:
    """Check each S3 mailbox once, logging what was found; returns early at ``shutdown``."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_cancel_at, shutdown, nursery.cancel_scope)
        try:
            await _check_all(runtime)
        except Exception as exc:  # never a reason to stop serving
            problem = redact_urls(str(exc))  # a library's message may quote a URL whole
            log.warning("S3 check at start-up could not run: %s: %s", type(exc).__name__, problem)
        nursery.cancel_scope.cancel()


async def _cancel_at(shutdown: trio.Event, scope: trio.CancelScope) -> None:
    await shutdown.wait()
    scope.cancel()


async def _check_all(runtime: Runtime) -> None:
    mailboxes = s3_mailboxes(runtime.settings)
    pool = runtime.pool
    left = list(mailboxes)
    with trio.move_on_after(CHECK_TIMEOUT):
        for name, location in mailboxes.items():
            try:
                client = await pool.client(location)
            except StoreError as exc:  # no client (a malformed endpoint): said as a failure
                _log_result(name, location, "error", str(exc), exc.code)
            else:
                check = partial(list_one, name, location, partial(_given, client))
                result = await trio.to_thread.run_sync(
                    check, limiter=pool.limiter, abandon_on_cancel=True
                )
                _log_result(name, location, result.level, result.message, result.code)
            left.remove(name)
    if left:
        log.warning(
            "S3 check at start-up: no answer within %g seconds; not checked: %s",
            CHECK_TIMEOUT,
            ", ".join(left),
        )


def _given(client: Any) -> Any:
    return client


def _log_result(
    name: str, location: S3Location, level: str, message: str, code: str | None
) -> None:
    """The mailbox's fields as the start-up summary and store failure lines write them."""
    fields = {"mailbox": name, **describe_location(location)}
    if level == "ok":
        event(log, logging.INFO, "S3 mailbox reachable", **fields, found=message)
        return
    event(
        log,
        logging.WARNING,
        "S3 mailbox check at start-up failed",
        **fields,
        problem=redact_urls(message),  # the probe's, but a URL's password never gets out
        code=code,
        hint=store_hint(code),
    )
