"""The audit trail of the admin app: admin logins (success and failure), mints (never the
password), revocations, kicks and forgives, each with time, the admin's address and the target.

Every entry goes three ways: the log (logger ``pop3srv.audit``), a bounded ring in memory (the
UI and ``GET /api/audit``, newest first), and one JSON line appended to ``state-dir/audit.log``
(mode 0600, rotated by size, a few old files kept).
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

log = logging.getLogger("pop3srv.audit")

AUDIT_FILE = "audit.log"
MAX_ENTRIES = 1000
FILE_BYTES = 1024 * 1024
FILE_BACKUPS = 5
MAX_TEXT = 200


@dataclass(frozen=True)
class AuditEntry:
    time: float
    #: admin-login, mint, revoke, app-password, app-password-revoke, kick, forgive
    action: str
    #: the admin's address (as the admin app saw it)
    admin: str
    target: str
    outcome: str = "ok"
    detail: str = ""

    def public(self) -> dict[str, Any]:
        return asdict(self)


class AuditLog:
    def __init__(
        self,
        path: Path | None = None,
        *,
        size: int = MAX_ENTRIES,
        max_bytes: int = FILE_BYTES,
        backups: int = FILE_BACKUPS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self._max_bytes = max_bytes
        self._backups = backups
        self._ring: deque[AuditEntry] = deque(maxlen=size)
        self._clock = clock
        self._file: RotatingFileHandler | None = None

    def record(
        self, action: str, admin: str | None, target: str, *, outcome: str = "ok", detail: str = ""
    ) -> AuditEntry:
        entry = AuditEntry(
            self._clock(),
            _clip(action),
            _clip(admin or "unknown"),
            _clip(target),
            _clip(outcome),
            _clip(detail),
        )
        self._ring.append(entry)
        level = logging.INFO if outcome == "ok" else logging.WARNING
        # every part as cleaned: a client-chosen mailbox or label must not forge a log line
        log.log(
            level,
            "%s %s by %s: %s %s",
            entry.action,
            entry.outcome,
            entry.admin,
            entry.target,
            entry.detail,
        )
        self._append(entry)
        return entry

    def entries(self, limit: int = MAX_ENTRIES) -> list[AuditEntry]:
        """Newest first."""
        return list(reversed(self._ring))[:limit]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _append(self, entry: AuditEntry) -> None:
        if self.path is None:
            return
        try:
            if self._file is None:
                self._file = _open(self.path, self._max_bytes, self._backups)
            line = json.dumps(entry.public(), ensure_ascii=False, sort_keys=True)
            self._file.handle(logging.makeLogRecord({"msg": line, "levelno": logging.INFO}))
        except OSError as exc:  # a full disk must not stop the admin app
            log.warning("audit entry not written to %s: %s", self.path, exc)


class _PrivateRotatingFile(RotatingFileHandler):
    """Every file it opens (the first and each after a rotation) is mode 0600."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return io.TextIOWrapper(io.FileIO(fd, "a"), encoding=self.encoding or "utf-8")

    def handleError(self, record: logging.LogRecord) -> None:
        """Re-raise (called inside ``emit``'s except): ``AuditLog._append`` logs one line for
        a failed write (a full disk) instead of logging's traceback on stderr."""
        raise  # noqa: PLE0704 - the exception being handled


def _open(path: Path, max_bytes: int, backups: int) -> RotatingFileHandler:
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = _PrivateRotatingFile(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    return handler


def _clip(text: str) -> str:
    """Targets and details can be client-chosen (labels, mailbox names, addresses): short
    and without control characters (CR/LF, ANSI escapes, bidi overrides)."""
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
