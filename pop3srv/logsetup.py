"""Operator log lines: how they are written (``log-format``: ``text`` or ``json``), the
structured fields a line carries, and the quieting of chatty third-party loggers.

A line with fields is logged with ``event(logger, level, message, **fields)``; the text format
appends them as ``key=value`` (values quoted when needed, control characters escaped, so a
client-chosen user name cannot forge a line), the JSON format writes one object per line with
the same fields next to ``time``, ``level``, ``logger`` and ``message``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Mapping
from typing import TextIO

#: Third-party loggers whose INFO/DEBUG lines would show callback URLs (with their query),
#: S3 request headers or bodies.
QUIET_LOGGERS = ("httpx", "httpcore", "botocore", "boto3", "urllib3", "s3transfer")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FIELDS = "pop3srv_fields"

FieldValue = str | int | float | bool | None


def event(logger: logging.Logger, level: int, message: str, /, **fields: FieldValue) -> None:
    """Log ``message`` with structured ``fields`` (None values are left out)."""
    if logger.isEnabledFor(level):
        present = {k: v for k, v in fields.items() if v is not None}
        logger.log(level, "%s", message, extra={FIELDS: present})


def fields_of(record: logging.LogRecord) -> Mapping[str, FieldValue]:
    value = getattr(record, FIELDS, None)
    return value if isinstance(value, dict) else {}


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message key=value ...``"""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        pairs = " ".join(f"{key}={_text_value(value)}" for key, value in fields_of(record).items())
        return f"{line} {pairs}" if pairs else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message``, the fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in fields_of(record).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(
    log_format: str, *, verbose: bool = False, stream: TextIO | None = None
) -> None:
    """Send every log line to stderr (or ``stream``) in ``log_format``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for chatty in QUIET_LOGGERS:  # they log request URLs, headers or bodies: never secrets
        logging.getLogger(chatty).setLevel(logging.WARNING)


def printable(text: str) -> str:
    """``text`` for a log message: as it is when every character is printable, else quoted
    with the control, format and separator characters escaped (an S3 key, or metadata of a
    stored object, cannot end the line or colour the operator's terminal)."""
    return text if text.isprintable() else json.dumps(text)


def _text_value(value: FieldValue) -> str:
    text = str(value)
    if text and all(c.isprintable() and c not in ' "=' for c in text):
        return text
    return json.dumps(text)  # quoted, with control characters escaped
