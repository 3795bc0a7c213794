"""The lock-free counters and histograms export exactly what prometheus-client's own do."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values

from pop3srv.loopmetrics import LoopCounter, LoopHistogram, LoopValue
from pop3srv.metrics import create_metrics


def _exported(registry: CollectorRegistry) -> list[str]:
    """The exposition text without the ``_created`` timestamps (they differ by creation)."""
    return [
        line for line in generate_latest(registry).decode().splitlines() if "_created" not in line
    ]


def test_a_loop_counter_exports_what_a_counter_does() -> None:
    plain, loop = CollectorRegistry(), CollectorRegistry()
    counters = [
        Counter("c", "Help.", ["kind"], registry=plain),
        LoopCounter("c", "Help.", ["kind"], registry=loop),
    ]
    for counter in counters:
        counter.labels("a").inc()
        counter.labels("a").inc(2.5)
        counter.labels("b").inc(0)
    assert _exported(plain) == _exported(loop)
    assert loop.get_sample_value("c_total", {"kind": "a"}) == 3.5


def test_a_loop_histogram_exports_what_a_histogram_does() -> None:
    plain, loop = CollectorRegistry(), CollectorRegistry()
    histograms = [
        Histogram("h", "Help.", ["op"], registry=plain),
        LoopHistogram("h", "Help.", ["op"], registry=loop),
    ]
    for histogram in histograms:
        for seconds in (0.001, 0.02, 0.02, 3.0, 100.0):
            histogram.labels("get").observe(seconds)
    assert _exported(plain) == _exported(loop)
    assert loop.get_sample_value("h_count", {"op": "get"}) == 5
    assert loop.get_sample_value("h_bucket", {"op": "get", "le": "0.025"}) == 3


def test_a_negative_increment_is_refused_as_by_a_counter() -> None:
    counter = LoopCounter("c", "Help.", registry=CollectorRegistry())
    with pytest.raises(ValueError, match="non-negative"):
        counter.inc(-1)
    assert counter._value.get() == 0


def test_the_per_command_metrics_are_lock_free_and_scraped_at_once() -> None:
    registry = CollectorRegistry()
    metrics = create_metrics(registry)
    retr = metrics.commands_total.labels("RETR", "ok")
    assert isinstance(retr._value, LoopValue)
    retr.inc()
    metrics.bytes_sent_total.inc(1500)
    metrics.s3_request_duration_seconds.labels("get_object").observe(0.004)
    assert (
        registry.get_sample_value("pop3_commands_total", {"command": "RETR", "outcome": "ok"}) == 1
    )
    assert registry.get_sample_value("pop3_bytes_sent_total") == 1500
    labels = {"operation": "get_object"}
    assert registry.get_sample_value("s3_request_duration_seconds_count", labels) == 1


def test_the_loop_values_are_the_ones_changed_and_exported() -> None:
    """The prometheus-client internals relied on (``_metric_init``, ``_value``, ``_sum``,
    ``_buckets``; checked on 0.20 to 0.26): should a release rename one, the lock-free value
    would sit unused while the metric kept working, silently slower. This fails instead."""
    registry = CollectorRegistry()
    counter = LoopCounter("c", "Help.", registry=registry)
    counter.inc(2)
    assert isinstance(counter._value, LoopValue) and counter._value.get() == 2  # inc() wrote it
    counter._value.inc(5)
    assert registry.get_sample_value("c_total") == 7  # and the scrape reads it
    histogram = LoopHistogram("h", "Help.", buckets=(1.0,), registry=registry)
    histogram.observe(0.5)
    histogram.observe(3)
    parts = [histogram._sum, *histogram._buckets]
    assert all(isinstance(part, LoopValue) for part in parts)
    assert [part.get() for part in parts] == [3.5, 1, 1]
    histogram._sum.inc(1)
    histogram._buckets[0].inc(1)
    assert registry.get_sample_value("h_sum") == 4.5
    assert registry.get_sample_value("h_count") == 3


def test_multiprocess_mode_keeps_its_own_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``PROMETHEUS_MULTIPROC_DIR`` set, values live in shared files: not replaced."""

    class SharedValue(values.MutexValue):
        pass

    monkeypatch.setattr(values, "ValueClass", SharedValue)
    counter = LoopCounter("c", "Help.", registry=CollectorRegistry())
    histogram = LoopHistogram("h", "Help.", registry=CollectorRegistry())
    assert isinstance(counter._value, SharedValue)
    assert all(isinstance(part, SharedValue) for part in [histogram._sum, *histogram._buckets])
