"""Why a login was refused, as the operator's log names it (``AuthFailed.reason``); the client
always gets the same text."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest

from pop3srv.auth.apppassword import AppPasswordAuthenticator
from pop3srv.auth.base import Authenticator, AuthFailed, LoginContext
from pop3srv.auth.chain import ChainAuthenticator
from pop3srv.auth.claims import MailboxResolver
from pop3srv.auth.jwt import JwtAuthenticator
from pop3srv.auth.static import StaticAuthenticator, StaticEntry
from pop3srv.auth.tokens import app_password
from pop3srv.config import MailboxEntry
from pop3srv.storage.base import FolderLocation

SECRET = "a-secret-for-the-reason-tests-0001-" + "z" * 30
KEY = b"app-password-key-for-reasons"
RESOLVER = MailboxResolver(
    {"work": MailboxEntry("work", folder="work", app_password_version=3)}, Path("/mail")
)
JWT = JwtAuthenticator(RESOLVER, secret=SECRET, secrets={"2026": SECRET + "-2026"})
APP = AppPasswordAuthenticator(KEY, RESOLVER)
STATIC = StaticAuthenticator(
    (StaticEntry("jane", "janes password", FolderLocation(Path("/mail"))),)
)
NOW = int(time.time())


def token(key: str = SECRET, algorithm: str = "HS256", **claims: object) -> str:
    payload = {"mailbox": "work", **claims}
    return jwt.encode(payload, key, algorithm=algorithm)


CASES: list[tuple[str, Authenticator, str, str, str]] = [
    ("static unknown user", STATIC, "john", "janes password", "unknown-user"),
    ("static wrong password", STATIC, "jane", "wrong", "bad-password"),
    ("jwt expired", JWT, "jwt", token(exp=NOW - 3600), "expired"),
    ("jwt not yet valid", JWT, "jwt", token(nbf=NOW + 3600), "not-yet-valid"),
    ("jwt wrong key", JWT, "jwt", token(key="another-" + "k" * 60), "bad-signature"),
    ("jwt HS512 not allowed", JWT, "jwt", token(algorithm="HS512"), "bad-algorithm"),
    ("jwt unknown kid", JWT, "jwt", jwt.encode({}, SECRET, headers={"kid": "x"}), "unknown-key"),
    ("jwt not a token", JWT, "jwt", "hunter2", "not-a-token"),
    ("jwt bad claims", JWT, "jwt", token(mailbox="nope"), "unknown-mailbox"),
    ("app password revoked", APP, "work", app_password(KEY, "work", 2), "revoked"),
    ("app password wrong", APP, "work", "abcd-efgh-ijkl-mnop-qrst-uvwx", "bad-password"),
    ("app password unknown mailbox", APP, "play", app_password(KEY, "play", 1), "unknown-user"),
    (
        "chain: the provider that knew the credentials says why",
        ChainAuthenticator([STATIC, JWT, APP]),
        "jwt",
        token(exp=NOW - 3600),
        "expired",
    ),
    (
        "chain: nobody knew them",
        ChainAuthenticator([JWT, STATIC]),
        "john",
        "whatever",
        "unknown-user",
    ),
    (
        "chain: a wrong static password beats not-a-token",
        ChainAuthenticator([JWT, STATIC]),
        "jane",
        "wrong",
        "bad-password",
    ),
]


@pytest.mark.parametrize(
    ("name", "provider", "user", "password", "reason"), CASES, ids=[c[0] for c in CASES]
)
async def test_the_reason_class(
    name: str, provider: Authenticator, user: str, password: str, reason: str
) -> None:
    with pytest.raises(AuthFailed) as info:
        await provider.authenticate(user, password, LoginContext())
    assert info.value.reason == reason
    assert str(info.value) == "invalid user name or password"
