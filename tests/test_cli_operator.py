"""Mistakes operators make, as ``pop3srv serve`` meets them at start-up (ops-6): each ends in
one line naming the key and what to do, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.process import run_pop3srv


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_state_dir_that_is_a_file_is_one_line_naming_the_key(
    tmp_path: Path, log_format: str
) -> None:
    not_a_dir = tmp_path / "state"
    not_a_dir.write_text("a file where a directory belongs\n")
    result = run_pop3srv(
        tmp_path, "serve", POP3_STATE_DIR=str(not_a_dir), POP3_LOG_FORMAT=log_format
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "state-dir" in line]
    assert len(lines) == 1, result.stderr
    assert str(not_a_dir) in lines[0]
    assert "not a directory" in lines[0]
    if log_format == "json":  # like every other line of a JSON log
        line = json.loads(lines[0])
        assert line["level"] == "CRITICAL"
        assert line["message"].startswith("config error: state-dir:")
