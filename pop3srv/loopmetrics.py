"""Prometheus counters and histograms without a lock per change, for the metrics pop3srv
changes per command, per message or per S3 GET (``metrics.py`` chooses which).

prometheus-client keeps each value in a ``MutexValue``: a ``threading.Lock`` taken on every
``inc`` and ``get``. The metrics using these classes are changed only by code running on the
trio thread (the transport, the session, the S3 GET path: never inside ``trio.to_thread``), so
there is one writer and the lock guards nothing; a scrape (on the trio thread too, from the admin
app, or from any thread) reads a float, which is atomic. Values are never stale: every change
is visible to the next scrape, as before. The lock and its ``with`` were ~4 % of the server's
samples per command (py-spy, ``bench.one_session``).

In prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set) its own values are
kept: they live in shared files, not in this process.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram, values
from prometheus_client.samples import Exemplar

__all__ = ["LoopCounter", "LoopHistogram", "LoopValue"]


class LoopValue:
    """A metric's float, changed by one thread only (the trio thread): no lock. The interface
    of prometheus-client's ``MutexValue``."""

    __slots__ = ("_exemplar", "_value")
    _multiprocess = False

    def __init__(self) -> None:
        self._value = 0.0
        self._exemplar: Exemplar | None = None

    def inc(self, amount: float) -> None:
        self._value += amount

    def set(self, value: float, timestamp: float | None = None) -> None:
        self._value = value

    def set_exemplar(self, exemplar: Exemplar) -> None:
        self._exemplar = exemplar

    def get(self) -> float:
        return self._value

    def get_exemplar(self) -> Exemplar | None:
        return self._exemplar


def _lock_free() -> bool:
    """Whether prometheus-client keeps values in this process (not in multiprocess mode)."""
    return values.ValueClass is values.MutexValue


class LoopCounter(Counter):
    """A ``Counter`` whose values are ``LoopValue``: increment it on the trio thread only."""

    def _metric_init(self) -> None:
        super()._metric_init()
        if _lock_free():
            self._value = LoopValue()


class LoopHistogram(Histogram):
    """A ``Histogram`` whose sum and buckets are ``LoopValue``: observe on the trio thread
    only."""

    def _metric_init(self) -> None:
        super()._metric_init()
        if _lock_free():
            self._sum = LoopValue()
            self._buckets = [LoopValue() for _ in self._buckets]
