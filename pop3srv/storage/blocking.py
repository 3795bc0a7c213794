"""Blocking boto3 calls (delete, copy, lock objects, KMS) in worker threads: one shared
``CapacityLimiter`` for the process, ``abandon_on_cancel=False`` (a cancelled caller waits for
its thread, so no thread outlives the task that started it), every request counted in
``s3_requests_total{operation,outcome}``, timed in ``s3_request_duration_seconds``, and its
failures mapped to store errors by ``s3errors``."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any, Generic, TypeVar

import trio
import urllib3.exceptions
from botocore.exceptions import BotoCoreError, ClientError

from pop3srv.metrics import Metrics
from pop3srv.storage.base import StoreError
from pop3srv.storage.s3errors import map_error, outcome

T = TypeVar("T")

#: What a blocking S3 call may raise that we translate (anything else is a bug and propagates).
S3_FAILURES = (BotoCoreError, ClientError, OSError, urllib3.exceptions.HTTPError)


class Timed(Generic[T]):
    """``fn`` run once in a worker thread, and the ``seconds`` it took (None: it never ran,
    the caller was cancelled while waiting for a thread)."""

    __slots__ = ("_fn", "seconds")

    def __init__(self, fn: Callable[[], T]) -> None:
        self._fn = fn
        self.seconds: float | None = None

    async def in_thread(self, limiter: trio.CapacityLimiter) -> T:
        """Run ``fn`` in a worker thread under ``limiter``; a cancelled caller waits for its
        thread (``abandon_on_cancel=False``), so no thread outlives the task."""
        return await trio.to_thread.run_sync(self._run, limiter=limiter, abandon_on_cancel=False)

    def _run(self) -> T:
        start = time.perf_counter()
        try:
            return self._fn()
        finally:
            self.seconds = time.perf_counter() - start


class BlockingCalls:
    """Runs blocking S3/KMS requests in worker threads, at most ``threads`` at once."""

    def __init__(self, metrics: Metrics, threads: int) -> None:
        self._metrics = metrics
        self.limiter = trio.CapacityLimiter(threads)

    async def call(self, client: Any, operation: str, /, **params: Any) -> Any:
        """Run the request ``client.<operation>(**params)`` in a worker thread."""
        return await self.run(operation, getattr(client, operation), **params)

    async def run(self, operation: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` (which makes the request ``operation``) in a worker thread: counted,
        timed, and with its failures mapped to store errors."""
        timed = Timed(partial(fn, *args, **kwargs))
        error: StoreError | None = None
        try:
            return await timed.in_thread(self.limiter)
        except S3_FAILURES as exc:
            error = map_error(exc, operation)
            raise error from exc
        finally:
            if timed.seconds is not None:  # the request ran (not cancelled waiting for a thread)
                self._metrics.s3_requests_total.labels(operation, outcome(error)).inc()
                self._metrics.s3_request_duration_seconds.labels(operation).observe(timed.seconds)
