"""Security probe 4: a refused connection costs the failure log a constant amount of work.

Each ``connection refused`` (PROXY protocol: an untrusted peer) went through every window of
the log's table (up to 4,096 keys, one per address): ~2 ms of the trio thread per refusal once
the table was full. A flood of connections from many addresses (any IPv6 /64 has enough) to a
listener with ``proxy-protocol`` then held the event loop: on a running server, 7,755 refusals
in 8.5 s took 99 % of a core and a legitimate session through the balancer waited 8 s."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import pytest

from pop3srv.failures import FailureLog


class _CountingTable(OrderedDict[Any, Any]):
    """The log's window table, counting the entries any scan of it visits."""

    visited = 0

    def items(self) -> Any:
        table = self

        class _Items:
            def __iter__(self) -> Iterator[tuple[Any, Any]]:
                for item in OrderedDict.items(table):
                    _CountingTable.visited += 1
                    yield item

        return _Items()


def test_each_refusal_visits_a_bounded_number_of_windows() -> None:
    now = [0.0]
    failures = FailureLog(clock=lambda: now[0])
    failures._seen = _CountingTable()
    for index in range(4096):
        failures.connection_refused(f"10.0.{index >> 8}.{index & 255}:1", "not a trusted proxy")
    _CountingTable.visited = 0
    for index in range(200):
        failures.connection_refused(f"10.1.{index >> 8}.{index & 255}:1", "not a trusted proxy")
    assert _CountingTable.visited <= 2 * 200  # before the fix: 200 x 4,096


def test_windows_still_end_in_order_and_report_their_repeats(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    failures = FailureLog(window=60, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="pop3srv.failures"):
        failures.connection_refused("192.0.2.1:1", "bad header")
        now[0] = 30
        failures.connection_refused("192.0.2.2:1", "bad header")
        failures.connection_refused("192.0.2.1:2", "bad header")  # a repeat of the first
        now[0] = 61
        failures.flush()  # the first window ended, the second has not
        messages = [r.getMessage() for r in caplog.records]
        assert messages[-1] == "connection refused repeated 1 more times in 61 s"
        failures.connection_refused("192.0.2.2:3", "bad header")  # still in its window
        now[0] = 95
        failures.flush()
    assert [r.getMessage() for r in caplog.records][-1] == (
        "connection refused repeated 1 more times in 65 s"
    )
