"""Issue 13, item 9: a state-dir (or a secret in it) that another user could have planted."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from admin.tokenfile import ensure_admin_token
from pop3srv.statedir import StateDirError
from pop3srv.tls import ensure_self_signed
from tests.e2e.process import run_pop3srv

OTHER_UID = 65534  # nobody


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create another user's directory")
def test_i09_state_dir_of_another_user_is_refused(tmp_path: Path) -> None:
    """Started as root where another user created ``var/`` with a token and a TLS key in it:
    refused with one line (before: that user's token was accepted and its key served)."""
    planted = tmp_path / "var"
    (planted / "tls").mkdir(parents=True)
    (planted / "admin-token").write_text("planted-token-of-another-user\n")
    for path in (planted, planted / "tls", planted / "admin-token"):
        os.chown(path, OTHER_UID, OTHER_UID)
    with pytest.raises(StateDirError, match="not by this server's user"):
        ensure_admin_token(None, planted)
    with pytest.raises(StateDirError):
        ensure_self_signed(planted)
    done = run_pop3srv(
        tmp_path, "serve", "--any-free-port", POP3_STATE_DIR=str(planted), POP3_ADMIN_PORT="8080"
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if "var" in line]
    assert len(lines) == 1 and "owned by uid 65534" in lines[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr


def test_i09_state_dir_created_private_whatever_the_umask(tmp_path: Path) -> None:
    """Created 0700 even under umask 0; a world-writable one is refused; secrets are written
    to a new file and renamed (a symlink planted at the key's name is replaced, not followed)."""
    old = os.umask(0)
    try:
        ensure_admin_token(None, tmp_path / "state")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "state" / "admin-token").stat().st_mode) == 0o600

    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    with pytest.raises(StateDirError, match="writable by other users"):
        ensure_admin_token(None, open_dir)

    state = tmp_path / "state2"
    (state / "tls").mkdir(parents=True, mode=0o700)
    state.chmod(0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("not a key\n")
    (state / "tls" / "self-signed.key").symlink_to(victim)
    with pytest.raises(StateDirError, match="not a regular file"):
        ensure_self_signed(state)
    assert victim.read_text() == "not a key\n"
    (state / "tls" / "self-signed.key").unlink()
    (state / "tls" / "self-signed.key").write_text("stale key\n")
    before = (state / "tls" / "self-signed.key").stat().st_ino
    ensure_self_signed(state)  # no certificate yet: a new pair, renamed into place
    assert (state / "tls" / "self-signed.key").stat().st_ino != before
