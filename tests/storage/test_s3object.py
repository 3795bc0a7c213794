"""The pool's open-bodies count and its gauge (read when scraped)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from pop3srv.metrics import create_metrics
from pop3srv.storage.s3object import BodyCounter


def test_the_open_bodies_gauge_follows_the_count() -> None:
    registry = CollectorRegistry()
    bodies = BodyCounter(create_metrics(registry))

    def gauge() -> float | None:
        return registry.get_sample_value("s3_open_bodies")

    assert gauge() == 0
    bodies.opened()
    bodies.opened()
    assert (bodies.open, gauge()) == (2, 2)
    bodies.closed()
    assert (bodies.open, gauge()) == (1, 1)
    bodies.closed()
    assert (bodies.open, gauge()) == (0, 0)
