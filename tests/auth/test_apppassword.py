"""Short app passwords: <= 32 characters, bound to a mailbox, revoked by a version bump."""

from __future__ import annotations

from pathlib import Path

import pytest

from pop3srv.auth.apppassword import AppPasswordAuthenticator
from pop3srv.auth.base import AuthFailed, LoginContext
from pop3srv.auth.claims import MailboxResolver
from pop3srv.auth.tokens import app_password, app_password_key
from pop3srv.config import MailboxEntry
from pop3srv.storage.base import FolderLocation

KEY = b"app-password-secret-for-tests"


def _auth(version: int = 1) -> AppPasswordAuthenticator:
    mailboxes = {
        "work": MailboxEntry("work", folder="work", app_password_version=version),
        "home": MailboxEntry("home", folder="home"),
    }
    return AppPasswordAuthenticator(KEY, MailboxResolver(mailboxes, Path("/mail")))


def test_app_password_is_short_and_stable() -> None:
    password = app_password(KEY, "work", 1)
    assert len(password) <= 32
    assert password == app_password(KEY, "work", 1)
    assert password != app_password(KEY, "work", 2)
    assert password != app_password(KEY, "home", 1)


async def test_login_with_app_password_opens_that_mailbox() -> None:
    principal = await _auth().authenticate("work", app_password(KEY, "work", 1), LoginContext())
    assert principal.location == FolderLocation(Path("/mail"), "work")
    assert principal.method == "app-password"


@pytest.mark.parametrize(
    "retype", [str.upper, lambda p: p.replace("-", " "), lambda p: p.replace("-", "")]
)
async def test_retyped_with_capitals_spaces_or_no_dashes_still_works(retype: object) -> None:
    typed = retype(app_password(KEY, "work", 1))  # type: ignore[operator]
    assert (await _auth().authenticate("work", typed, LoginContext())).user == "work"


@pytest.mark.parametrize(
    ("user", "password"),
    [
        ("home", app_password(KEY, "work", 1)),  # another mailbox's password
        ("nope", app_password(KEY, "nope", 1)),  # not a configured mailbox
        ("work", app_password(b"other key", "work", 1)),
        ("work", ""),
    ],
)
async def test_wrong_pairs_fail(user: str, password: str) -> None:
    with pytest.raises(AuthFailed):
        await _auth().authenticate(user, password, LoginContext())


async def test_bumping_the_version_revokes() -> None:
    old = app_password(KEY, "work", 1)
    with pytest.raises(AuthFailed):
        await _auth(version=2).authenticate("work", old, LoginContext())


def test_key_derivation() -> None:
    assert app_password_key("explicit", "jwt") == b"explicit"
    derived = app_password_key(None, "jwt-secret")
    assert derived is not None and derived != b"jwt-secret"
    assert app_password_key(None, None) is None
