"""Probe 7b: one IPv6 /48 rotating through its /64s cannot flood the log with failed-TLS or
refused-connection lines. Each /64 is its own address for these lines (one per address,
reason and minute), so a site's 65,536 /64s were 65,536 lines a minute per reason; now a /48
gets ``NETWORK_SHARE`` lines of their own per reason and window, then its /64s share one
window (one more line, and a ``repeated`` count when it ends). IPv4 and separate /48s keep
their own lines."""

from __future__ import annotations

import logging
import ssl

import pytest

from pop3srv.failures import MAX_REASONS, FailureLog
from pop3srv.logsetup import fields_of
from pop3srv.netaddr import NETWORK_SHARE


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def handshake_error(reason: str = "WRONG_VERSION_NUMBER") -> ssl.SSLError:
    exc = ssl.SSLError(1, f"[SSL: {reason}] {reason.lower()}")
    exc.reason = reason
    return exc


def messages(caplog: pytest.LogCaptureFixture, start: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith(start)]


def test_a_48_rotating_its_64s_writes_a_bounded_number_of_tls_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "pop3srv.failures")
    clock = Clock()
    failures = FailureLog(window=60, clock=clock)
    for n in range(1000):
        failures.tls_failed(f"[2001:db8:7:{n:x}::1]:40000", "tls", handshake_error())
    assert len(messages(caplog, "TLS handshake failed")) == NETWORK_SHARE + 1
    clock.now += 61
    failures.flush()
    repeated = messages(caplog, "TLS handshake failed repeated")
    assert len(repeated) == 1
    assert fields_of(repeated[0])["address"] == "2001:db8:7::/48"
    assert "repeated 991 more times" in repeated[0].getMessage()


def test_other_48s_and_ipv4_keep_their_own_tls_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "pop3srv.failures")
    failures = FailureLog(window=60, clock=Clock())
    for n in range(100):
        failures.tls_failed(f"[2001:db8:7:{n:x}::1]:40000", "tls", handshake_error())
    failures.tls_failed("[2001:db8:8::1]:40000", "tls", handshake_error())
    failures.tls_failed("192.0.2.1:40000", "tls", handshake_error())
    failures.tls_failed("192.0.2.2:40000", "tls", handshake_error())
    assert len(messages(caplog, "TLS handshake failed")) == NETWORK_SHARE + 1 + 3


def test_the_window_ends_and_the_48_gets_its_lines_again(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "pop3srv.failures")
    clock = Clock()
    failures = FailureLog(window=60, clock=clock)
    for n in range(50):
        failures.tls_failed(f"[2001:db8:7:{n:x}::1]:40000", "tls", handshake_error())
    clock.now += 61
    caplog.clear()
    failures.tls_failed("[2001:db8:7:ffff::1]:40000", "tls", handshake_error())
    lines = [r for r in caplog.records if r.getMessage() == "TLS handshake failed"]
    assert len(lines) == 1
    assert fields_of(lines[0]).get("peer") == "[2001:db8:7:ffff::1]:40000"
    assert not failures._networks or max(failures._networks.values()) == 1


def test_a_48_rotating_its_64s_writes_a_bounded_number_of_refusal_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "pop3srv.failures")
    failures = FailureLog(window=60, clock=Clock())
    for n in range(1000):
        failures.connection_refused(f"[2001:db8:7:{n:x}::1]:40000", "untrusted PROXY header")
    assert len(messages(caplog, "connection refused")) == NETWORK_SHARE + 1


def test_the_table_stays_bounded_under_rotation() -> None:
    failures = FailureLog(window=60, max_keys=64, clock=Clock())
    for n in range(5000):
        failures.tls_failed(f"[2001:db8:{n:x}:{n:x}::1]:40000", "tls", handshake_error())
    assert len(failures._seen) <= 64
    assert len(failures._networks) <= 2 * 64  # per network and reason, per address


def test_one_address_cycling_reasons_writes_a_bounded_number_of_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A client can pick its failure's reason: each TLS alert code it sends is one (31 of
    them from one address against ``serve``, each a line of its own before)."""
    caplog.set_level(logging.INFO, "pop3srv.failures")
    clock = Clock()
    failures = FailureLog(window=60, clock=clock)
    for n in range(31):
        failures.tls_failed("192.0.2.7:40000", "tls", handshake_error(f"TLSV1_ALERT_{n}"))
    failures.tls_failed("192.0.2.7:40000", "tls", handshake_error("TLSV1_ALERT_0"))
    assert len(messages(caplog, "TLS handshake failed")) == MAX_REASONS + 1
    clock.now += 61
    failures.flush()
    repeated = {
        fields_of(r)["reason"]: fields_of(r)["repeats"]
        for r in messages(caplog, "TLS handshake failed repeated")
    }
    assert repeated == {"various": 31 - MAX_REASONS - 1, "TLSV1_ALERT_0": 1}
