"""The audit trail on its own: ring order and bound, the log line, the JSON-lines file in
state-dir (0600, rotated by size), control characters and long targets clipped, and a file that
cannot be written never stops the app."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from admin.audit import AuditLog


def test_ring_is_bounded_and_newest_first() -> None:
    audit = AuditLog(size=3, clock=iter(range(100)).__next__)
    for n in range(5):
        audit.record("kick", "192.0.2.1", f"s{n}")
    assert [e.target for e in audit.entries()] == ["s4", "s3", "s2"]
    assert audit.entries(limit=1)[0].time == 4


def test_entries_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    audit = AuditLog()
    with caplog.at_level(logging.INFO, logger="pop3srv.audit"):
        audit.record("forgive", "192.0.2.1", "198.51.100.7")
        audit.record("admin-login", "203.0.113.9", "ui", outcome="failed")
    assert [r.levelno for r in caplog.records] == [logging.INFO, logging.WARNING]
    assert "forgive ok by 192.0.2.1: 198.51.100.7" in caplog.records[0].getMessage()


def test_file_is_private_json_lines_and_rotates(tmp_path: Path) -> None:
    path = tmp_path / "state" / "audit.log"
    audit = AuditLog(path, max_bytes=400, backups=2)
    for n in range(12):
        audit.record("mint", "127.0.0.1", "work", detail=f"jti {n:04d}")
    audit.close()
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["audit.log", "audit.log.1", "audit.log.2"]
    for name in files:
        assert (path.parent / name).stat().st_mode & 0o777 == 0o600
    newest = [json.loads(line) for line in path.read_text().splitlines()]
    assert newest[-1]["detail"] == "jti 0011"
    assert set(newest[-1]) == {"time", "action", "admin", "target", "outcome", "detail"}


def test_targets_are_clipped_and_made_printable() -> None:
    entry = AuditLog().record("kick", None, "mailbox \x1b[31mred\n" + "x" * 500)
    assert entry.admin == "unknown"
    assert "\x1b" not in entry.target and "\n" not in entry.target
    assert len(entry.target) == 200


def test_unwritable_file_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    audit = AuditLog(blocker / "audit.log")
    entry = audit.record("kick", "127.0.0.1", "s1")
    assert audit.entries() == [entry]
    assert "not written" in caplog.text


def test_a_full_disk_is_one_warning_line_not_a_traceback(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """ops-7: with state-dir's disk full (``/dev/full`` answers every write with ENOSPC) the
    entry is still logged and kept in memory; the file's failure is one WARNING line, not
    logging's "--- Logging error ---" traceback of ~70 lines on stderr."""
    audit = AuditLog(Path("/dev/full"))
    with caplog.at_level(logging.INFO, logger="pop3srv.audit"):
        audit.record("mint", "127.0.0.1", "demo", outcome="failed")
    audit.close()
    assert "Logging error" not in capsys.readouterr().err
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("audit entry not written" in m and "No space left" in m for m in warnings)
    assert audit.entries()[0].action == "mint"
