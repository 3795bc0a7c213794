"""The process-wide runtime: what the admin app calls a login's mailbox."""

from __future__ import annotations

from pathlib import Path

import trio

from pop3srv.auth.factory import mailbox_resolver
from pop3srv.config import load_settings
from pop3srv.runtime import build_runtime
from pop3srv.storage.base import FolderLocation, S3Location

TABLE = (
    '{"work": {"bucket": "b", "prefix": "w/", "region": "eu-west-1"},'
    ' "alias": {"bucket": "b", "prefix": "w", "region": "eu-west-1"},'
    ' "home": {"folder": "jane"}}'
)


async def test_mailbox_names_follow_the_table_and_its_reloads(tmp_path: Path) -> None:
    env = {"POP3_STATE_DIR": str(tmp_path / "state"), "POP3_MAIL_DIR": str(tmp_path / "mail")}
    settings = load_settings({**env, "POP3_MAILBOXES": TABLE}, cwd=tmp_path, home=tmp_path)
    runtime = build_runtime(settings)
    try:
        entries = settings.auth.mailboxes
        resolve = mailbox_resolver(settings).from_entry
        assert runtime.mailbox_name(resolve(entries["work"])) == "work"  # the first of two names
        assert runtime.mailbox_name(resolve(entries["home"])) == "home"
        other = S3Location(bucket="b", prefix="x/", region="eu-west-1")
        assert runtime.mailbox_name(other) == "s3://b/x/"
        runtime.settings = load_settings(env, cwd=tmp_path, home=tmp_path)  # a reload
        folder = resolve(entries["home"])
        assert isinstance(folder, FolderLocation)
        assert runtime.mailbox_name(folder) == f"folder:{folder.prefix}"
    finally:
        await runtime.http_client.aclose()
        runtime.pool.close()
        await trio.lowlevel.checkpoint()
