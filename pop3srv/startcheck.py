"""The S3 check at start-up: once the listeners are up, each configured S3 mailbox (the
default ``aws-s3-bucket`` one and each S3 entry of ``mailboxes``) is listed once, as
``check-config --probe`` lists it (``probe.list_one``: one ``ListObjectsV2`` of one key, with
the keys logins would use, no retries), and the log says what it found: one INFO line per
mailbox that answered, one WARNING line per problem (mailbox, bucket, prefix, endpoint, the
S3 code and a ``hint`` from ``hints``), so a missing bucket, wrong keys or an endpoint that
is down show at start, not at the first failed login.

It never delays or fails start-up: it runs in the background after the listeners are bound,
in a worker thread, within ``CHECK_TIMEOUT`` in all (what is not checked by then is said in
one line), and ends at once when the server shuts down; a check that cannot run at all is
one WARNING line. Readiness stays about the listeners: S3 may recover on its own.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import partial
from typing import Any

import trio

from pop3srv.config import Settings
from pop3srv.hints import store_hint
from pop3srv.logsetup import event
from pop3srv.probe import PROBE_POOL, endpoint_name, list_one, s3_mailboxes
from pop3srv.storage.base import S3Location

log = logging.getLogger(__name__)

#: all mailboxes together; each request also has the probe's connect/read timeouts
CHECK_TIMEOUT = 30.0
#: one request per mailbox: the start-up check tells, clients retry
CHECK_POOL = replace(PROBE_POOL, max_attempts=1)


async def check_s3(settings: Settings, shutdown: trio.Event) -> None:
    """Check each S3 mailbox once, logging what was found; returns early at ``shutdown``."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_cancel_at, shutdown, nursery.cancel_scope)
        try:
            await _check_all(settings)
        except Exception as exc:  # never a reason to stop serving
            log.warning("S3 check at start-up could not run: %s: %s", type(exc).__name__, exc)
        nursery.cancel_scope.cancel()


async def _cancel_at(shutdown: trio.Event, scope: trio.CancelScope) -> None:
    await shutdown.wait()
    scope.cancel()


async def _check_all(settings: Settings) -> None:
    mailboxes = s3_mailboxes(settings)
    if not mailboxes:
        return
    session = await trio.to_thread.run_sync(_boto_session)
    left = list(mailboxes)
    with trio.move_on_after(CHECK_TIMEOUT):
        for name, location in mailboxes.items():
            check = partial(list_one, session, name, location, CHECK_POOL)
            result = await trio.to_thread.run_sync(check, abandon_on_cancel=True)
            left.remove(name)
            _log_result(name, location, result.level, result.message, result.code)
    if left:
        log.warning(
            "S3 check at start-up: no answer within %g seconds; not checked: %s",
            CHECK_TIMEOUT,
            ", ".join(left),
        )


def _boto_session() -> Any:
    import boto3  # noqa: PLC0415 - already loaded by the S3 store; here off the trio thread

    return boto3.session.Session()


def _log_result(
    name: str, location: S3Location, level: str, message: str, code: str | None
) -> None:
    fields: dict[str, str | None] = {
        "mailbox": name,
        "bucket": location.bucket,
        "prefix": location.prefix,
        "endpoint": endpoint_name(location),
        "region": location.region,
    }
    if level == "ok":
        event(log, logging.INFO, "S3 mailbox reachable", **fields, found=message)
        return
    event(
        log,
        logging.WARNING,
        "S3 mailbox check at start-up failed",
        **fields,
        problem=message,
        code=code,
        hint=store_hint(code),
    )
