"""``GET /api/overview``: version, uptime, listeners, store health, sessions now, and short
histories (logins and failures per minute, bytes sent per second, sessions) for the UI's
charts, all from the server's own Prometheus registry: no external service.

A ``Sampler`` reads the counters every ``sample_interval`` seconds (in the app's background
nursery while it serves, and on demand when a request finds the last sample stale) and keeps
the differences in a ring.
Store health is the last S3 request that ended ``denied`` or ``unavailable``, and when.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import trio
from prometheus_client import CollectorRegistry
from quart import Response, jsonify
from quart_trio import QuartTrio

from admin.deps import AdminContext
from admin.guards import api_denied
from pop3srv.registry import SessionRegistry

HISTORY = 120  # samples kept (10 minutes at 5 s)
STORE_ERRORS = ("denied", "unavailable")


@dataclass(frozen=True)
class Totals:
    """Counter values at one moment."""

    logins: float
    failures: float
    bytes_sent: float
    store_errors: dict[str, float]


@dataclass(frozen=True)
class Point:
    time: float
    sessions: int
    logins_per_minute: float
    failures_per_minute: float
    bytes_per_second: float


def read_totals(samples: Iterable[tuple[str, dict[str, str], float]]) -> Totals:
    logins = failures = sent = 0.0
    errors: dict[str, float] = {}
    for name, labels, value in samples:
        if name == "pop3_auth_attempts_total":
            if labels.get("outcome") == "success":
                logins += value
            elif labels.get("outcome") in ("failure", "limited"):
                failures += value
        elif name == "pop3_bytes_sent_total":
            sent += value
        elif name == "s3_requests_total" and labels.get("outcome") in STORE_ERRORS and value:
            # series exist at 0 from the first scrape (metrics.LABEL_VALUES): only real errors
            errors[f"{labels.get('operation')} {labels.get('outcome')}"] = value
    return Totals(logins, failures, sent, errors)


class Sampler:
    def __init__(
        self,
        prometheus: CollectorRegistry,
        registry: SessionRegistry,
        interval: float,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._prometheus = prometheus
        self._registry = registry
        self.interval = interval
        self._clock = clock
        self.points: deque[Point] = deque(maxlen=HISTORY)
        self._last: tuple[float, Totals] | None = None
        self.last_store_error: str | None = None
        self.last_store_error_at: float | None = None

    def _samples(self) -> Iterable[tuple[str, dict[str, str], float]]:
        for family in self._prometheus.collect():
            for sample in family.samples:
                yield sample.name, sample.labels, sample.value

    def sample(self) -> None:
        now, totals = self._clock(), read_totals(self._samples())
        if self._last is not None:
            then, before = self._last
            elapsed = max(now - then, 1e-6)
            self.points.append(
                Point(
                    time=now,
                    sessions=len(self._registry),
                    logins_per_minute=(totals.logins - before.logins) * 60 / elapsed,
                    failures_per_minute=(totals.failures - before.failures) * 60 / elapsed,
                    bytes_per_second=(totals.bytes_sent - before.bytes_sent) / elapsed,
                )
            )
            self._note_store_errors(now, before.store_errors, totals.store_errors)
        elif totals.store_errors:
            self.last_store_error = max(totals.store_errors, key=totals.store_errors.__getitem__)
            self.last_store_error_at = now
        self._last = (now, totals)

    def sample_if_due(self) -> None:
        if self._last is None or self._clock() - self._last[0] >= self.interval:
            self.sample()

    async def run(self) -> None:
        while True:
            self.sample_if_due()
            await trio.sleep(self.interval)

    def _note_store_errors(
        self, now: float, before: dict[str, float], after: dict[str, float]
    ) -> None:
        grown = [kind for kind, value in after.items() if value > before.get(kind, 0.0)]
        if grown:
            self.last_store_error, self.last_store_error_at = grown[0], now


def register(app: QuartTrio, ctx: AdminContext) -> None:
    deps = ctx.deps
    sampler = ctx.sampler = Sampler(deps.prometheus, deps.registry, deps.sample_interval)
    running = trio.CancelScope()

    @app.before_serving
    async def start_sampling() -> None:
        async def sample() -> None:
            with running:
                await sampler.run()

        app.nursery.start_soon(sample)

    @app.after_serving
    async def stop_sampling() -> None:
        running.cancel()

    @app.get("/api/overview")
    async def overview() -> Response:
        if (denied := api_denied(ctx, unsafe=False)) is not None:
            return denied
        sampler.sample_if_due()
        server = deps.server()
        return jsonify(
            {
                "version": server.version,
                "started_at": server.started_at,
                "uptime_seconds": max(0.0, time.time() - server.started_at),
                "listeners": server.listeners,
                "sessions": len(deps.registry),
                "store": {
                    "last_error": sampler.last_store_error,
                    "last_error_at": sampler.last_store_error_at,
                },
                "interval_seconds": sampler.interval,
                "history": [asdict(point) for point in sampler.points],
            }
        )
