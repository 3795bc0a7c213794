"""Static credentials: exact match of user and password, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from pop3srv.auth.base import AuthFailed, secrets_equal
from pop3srv.auth.static import StaticAuthenticator
from pop3srv.storage.base import FolderLocation


def _auth() -> StaticAuthenticator:
    return StaticAuthenticator("jane", "pa ss\u00e9", FolderLocation(Path("/m")))


async def test_correct_credentials_give_the_configured_mailbox() -> None:
    principal = await _auth().authenticate("jane", "pa ss\u00e9")
    assert principal.user == "jane"
    assert principal.mailbox == "folder:/m"


@pytest.mark.parametrize(
    ("user", "password"),
    [("jane", "pa ss"), ("Jane", "pa ss\u00e9"), ("", ""), ("jane", ""), ("jane", "pa ss\u00e9 ")],
)
async def test_anything_else_fails(user: str, password: str) -> None:
    with pytest.raises(AuthFailed):
        await _auth().authenticate(user, password)


def test_secret_compare_handles_non_ascii_and_surrogates() -> None:
    assert secrets_equal("\udcff", "\udcff")
    assert not secrets_equal("\udcff", "\udcfe")


def test_repr_hides_the_password() -> None:
    assert "pa ss" not in repr(_auth())
