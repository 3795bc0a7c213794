"""Mistakes operators make, as ``pop3srv serve`` meets them at start-up (ops-6): each ends in
one line naming the key and what to do, never a traceback."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pop3srv.statedir import cannot
from tests.e2e.process import child_env, run_pop3srv


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


def test_a_state_dir_below_a_file_names_the_path_and_what_to_do(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    state_dir = blocker / "sub" / "var"
    result = run_pop3srv(tmp_path, "serve", POP3_STATE_DIR=str(state_dir))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "state-dir" in line]
    assert f"{state_dir}: Not a directory; choose another state-dir" in line


@pytest.mark.parametrize("code", [errno.EACCES, errno.EPERM, errno.EROFS])
def test_a_state_dir_the_system_refuses_says_as_which_user(code: int) -> None:
    """A volume the server's user cannot write (a root-owned bind mount under a container's
    uid 10001; tests run as root, who is never refused, so the error is made here)."""
    error = cannot("create", Path("/var/lib/pop3srv/tls"), OSError(code, os.strerror(code)))
    message = str(error)
    assert message.startswith("state-dir: cannot create /var/lib/pop3srv/tls: ")
    assert f"runs as uid {os.geteuid()}: make it (or its parent) writable" in message
    assert message.endswith("or choose another state-dir")


def _no_file_writes() -> None:
    """In the child: every write to a file fails (EFBIG, as a full disk fails with ENOSPC;
    Python ignores SIGXFSZ)."""
    import resource  # noqa: PLC0415 - in the child only

    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def test_a_state_dir_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    """ops-7: a full disk under state-dir at start-up (the generated jwt-secret cannot be
    written) was a traceback; now one line naming state-dir and what to do, exit 1."""
    state = tmp_path / "state"
    result = subprocess.run(
        [sys.executable, "-m", "pop3srv", "serve", "--any-free-port"],
        cwd=tmp_path,
        env=child_env(tmp_path, POP3_STATE_DIR=str(state)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=_no_file_writes,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("pop3srv: ")]
    assert "(state-dir)" in line and str(state) in line
    assert "File too large" in line and "free space on its disk" in line
