"""Security probe 4: the audit trail's log line carries the cleaned ``detail`` (a mailbox name
from a login's claims, a token label) like its ring and file, so it cannot forge log lines or
send terminal escapes to an operator's console."""

from __future__ import annotations

import json
import logging

import pytest

from admin.audit import AuditLog
from tests.admin.conftest import BEARER, Harness

FORGED = "box\r\n2026-11-30 16:00:00,000 INFO pop3srv.audit: forgive ok by 10.0.0.1\x1b[2J\u202e"


def _clean(text: str) -> bool:
    return not any(char in text for char in "\r\n\x1b\u202e")


def test_logged_detail_is_cleaned(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="pop3srv.audit"):
        entry = AuditLog().record("kick", "192.0.2.1\n", "s1", detail=FORGED)
    message = caplog.records[0].getMessage()
    assert _clean(message), message
    assert entry.detail in message and entry.admin in message
    assert "forgive ok by 10.0.0.1" in message  # kept, visibly, on the same line


async def test_kick_of_a_session_with_a_forged_mailbox_logs_one_clean_line(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """End to end through the API: the held mailbox's name becomes the entry's detail."""
    with harness.registry.session("192.0.2.7:4000", "plain") as record:
        harness.registry.update(record, mailbox=FORGED)
        with caplog.at_level(logging.INFO, logger="pop3srv.audit"):
            response = await harness.client().delete(f"/api/sessions/{record.id}", headers=BEARER)
        assert response.status_code == 200
    [line] = [r.getMessage() for r in caplog.records if r.name == "pop3srv.audit"]
    assert _clean(line), line
    harness.audit.close()
    path = harness.audit.path
    assert path is not None
    [stored] = [json.loads(text) for text in path.read_text().splitlines()]
    assert stored["detail"] in line
