"""Static credentials: exact match of user and password; the default password stays local."""

from __future__ import annotations

from pathlib import Path

import pytest

from pop3srv.auth.base import AuthFailed, LoginContext, secrets_equal
from pop3srv.auth.static import StaticAuthenticator, StaticEntry
from pop3srv.storage.base import FolderLocation

LOCAL = LoginContext(peer="127.0.0.1:5000", loopback=True)
REMOTE = LoginContext(peer="192.0.2.1:5000", loopback=False, secure=True)


def _auth() -> StaticAuthenticator:
    return StaticAuthenticator(
        (
            StaticEntry("jane", "pa ss\u00e9", FolderLocation(Path("/m"))),
            StaticEntry("bob", "bobs-password", FolderLocation(Path("/m"), "bob")),
            StaticEntry("user", "changeit", FolderLocation(Path("/m"), "default")),
        )
    )


async def test_each_entry_gets_its_own_mailbox() -> None:
    jane = await _auth().authenticate("jane", "pa ss\u00e9", REMOTE)
    bob = await _auth().authenticate("bob", "bobs-password", REMOTE)
    assert jane.mailbox == "folder:/m"
    assert bob.mailbox == "folder:/m/bob"


@pytest.mark.parametrize(
    ("user", "password"),
    [
        ("jane", "pa ss"),
        ("Jane", "pa ss\u00e9"),
        ("", ""),
        ("jane", ""),
        ("jane", "pa ss\u00e9 "),
        ("jane", "bobs-password"),
    ],
)
async def test_anything_else_fails(user: str, password: str) -> None:
    with pytest.raises(AuthFailed):
        await _auth().authenticate(user, password, LOCAL)


async def test_default_password_only_from_loopback() -> None:
    assert (await _auth().authenticate("user", "changeit", LOCAL)).user == "user"
    with pytest.raises(AuthFailed, match="invalid user name or password"):
        await _auth().authenticate("user", "changeit", REMOTE)


def test_secret_compare_handles_non_ascii_and_surrogates() -> None:
    assert secrets_equal("\udcff", "\udcff")
    assert not secrets_equal("\udcff", "\udcfe")


def test_repr_hides_the_passwords() -> None:
    assert "pa ss" not in repr(_auth())
    assert "bobs-password" not in repr(_auth())
