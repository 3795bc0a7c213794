"""Log output: text with key=value fields, or one JSON object per line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from pop3srv.logsetup import configure_logging, event


@pytest.fixture
def output() -> Iterator[tuple[io.StringIO, logging.Logger]]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    yield stream, logging.getLogger("pop3srv.test")
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_text_lines_carry_fields_quoted_when_needed(
    output: tuple[io.StringIO, logging.Logger],
) -> None:
    stream, log = output
    configure_logging("text", stream=stream)
    event(log, logging.INFO, "login failed", user='a "b"=c', peer="1.2.3.4:5", empty=None, n=3)
    line = stream.getvalue().rstrip("\n")
    assert line.endswith(' INFO pop3srv.test: login failed user="a \\"b\\"=c" peer=1.2.3.4:5 n=3')


def test_control_characters_cannot_start_a_new_line(
    output: tuple[io.StringIO, logging.Logger],
) -> None:
    stream, log = output
    configure_logging("text", stream=stream)
    event(log, logging.WARNING, "x", user="evil\n2026-01-01 INFO forged")
    assert stream.getvalue().count("\n") == 1
    assert 'user="evil\\n2026-01-01 INFO forged"' in stream.getvalue()


def test_json_lines_have_the_same_fields(output: tuple[io.StringIO, logging.Logger]) -> None:
    stream, log = output
    configure_logging("json", stream=stream)
    event(log, logging.WARNING, "store failure: x", bucket="b", status=403)
    log.info("plain %s", "line")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    first, second, third = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "WARNING"
    assert first["logger"] == "pop3srv.test"
    assert (first["message"], first["bucket"], first["status"]) == ("store failure: x", "b", 403)
    assert first["time"].endswith("+00:00")
    assert second["message"] == "plain line"
    assert "ValueError: boom" in third["exception"]


def test_a_field_cannot_overwrite_the_message(output: tuple[io.StringIO, logging.Logger]) -> None:
    stream, log = output
    configure_logging("json", stream=stream)
    event(log, logging.INFO, "real", level="forged")
    line = json.loads(stream.getvalue())
    assert (line["message"], line["level"]) == ("real", "INFO")


def test_chatty_libraries_are_quieted(output: tuple[io.StringIO, logging.Logger]) -> None:
    stream, _log = output
    configure_logging("text", verbose=True, stream=stream)
    logging.getLogger("botocore").info("request headers")
    assert stream.getvalue() == ""
