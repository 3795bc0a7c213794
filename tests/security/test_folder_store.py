"""Issue 13, item 8: the folder store's mailbox directory swapped for a symlink mid-session."""

from __future__ import annotations

from pathlib import Path

import pytest

from pop3srv.storage.base import FolderLocation, MessageGone
from pop3srv.storage.folder import FolderStore


async def _read(store: FolderStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.stream(key)])


async def test_i08_mailbox_swapped_for_a_symlink_is_not_followed(tmp_path: Path) -> None:
    """RETR and DELE stay in the directory the session opened (before: RETR served the link
    target's file and DELE+QUIT deleted it)."""
    root, elsewhere = tmp_path / "mail", tmp_path / "elsewhere"
    (root / "box").mkdir(parents=True)
    elsewhere.mkdir()
    (root / "box" / "m1").write_bytes(b"Subject: mine\r\n\r\nbody\r\n")
    (elsewhere / "m1").write_bytes(b"Subject: someone else's\r\n\r\nsecret\r\n")
    store = FolderStore(FolderLocation(root, "box"))
    await store.check_access()
    assert [m.key for m in await store.list_messages()] == ["m1"]

    (root / "box").rename(root / "box.old")
    (root / "box").symlink_to(elsewhere)

    assert b"secret" not in await _read(store, "m1")
    result = await store.delete(["m1"])
    assert result.deleted == ("m1",)
    assert (elsewhere / "m1").exists()  # the link target is untouched
    assert not (root / "box.old" / "m1").exists()  # the session's own message is gone

    fresh = FolderStore(FolderLocation(root, "box"))  # a new session refuses the symlink
    with pytest.raises(Exception, match="symlink"):
        await fresh.check_access()
    with pytest.raises(MessageGone):
        await _read(store, "m1")
