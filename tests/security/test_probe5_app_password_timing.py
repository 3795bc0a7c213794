"""Probe 5: a wrong app password cost more for a known mailbox with a bumped version.

To log a refused password as ``revoked``, it was compared with the MACs of up to 16 earlier
versions, but only for a name of the ``mailboxes`` table: a mailbox at version 17 answered a
wrong password ~16 HMACs (~180 us) later than an unknown name, so timing told which USER
names are mailboxes, while the static provider is careful to cost the same either way. Now
every refusal computes the same number of MACs."""

from __future__ import annotations

from pathlib import Path

import pytest

from pop3srv.auth import apppassword
from pop3srv.auth.apppassword import AppPasswordAuthenticator
from pop3srv.auth.base import AuthFailed, LoginContext
from pop3srv.auth.claims import MailboxResolver
from pop3srv.auth.tokens import app_password
from pop3srv.config import MailboxEntry

KEY = b"app-password-secret-for-tests"


async def _macs_for_a_refusal(monkeypatch: pytest.MonkeyPatch, user: str, version: int) -> int:
    mailboxes = {"work": MailboxEntry("work", folder="work", app_password_version=version)}
    authenticator = AppPasswordAuthenticator(KEY, MailboxResolver(mailboxes, Path("/mail")))
    calls = []

    def counting(key: bytes, mailbox: str, at: int) -> str:
        calls.append(at)
        return app_password(key, mailbox, at)

    monkeypatch.setattr(apppassword, "app_password", counting)
    with pytest.raises(AuthFailed):
        await authenticator.authenticate(user, "wrong-password-wrong-pass", LoginContext())
    return len(calls)


async def test_a_refusal_costs_the_same_for_known_and_unknown_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    costs = {
        (user, version): await _macs_for_a_refusal(monkeypatch, user, version)
        for user in ("work", "nosuch")
        for version in (1, 2, 17, 40)
    }
    assert len(set(costs.values())) == 1, costs


async def test_a_revoked_password_is_still_told_apart_in_the_log(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mailboxes = {"work": MailboxEntry("work", folder="work", app_password_version=5)}
    authenticator = AppPasswordAuthenticator(KEY, MailboxResolver(mailboxes, Path("/mail")))
    with pytest.raises(AuthFailed) as refused:
        await authenticator.authenticate("work", app_password(KEY, "work", 4), LoginContext())
    assert refused.value.reason == "revoked"
    with pytest.raises(AuthFailed) as refused:
        await authenticator.authenticate("work", "nope", LoginContext())
    assert refused.value.reason == "bad-password"
    with pytest.raises(AuthFailed) as refused:
        await authenticator.authenticate("other", "nope", LoginContext())
    assert refused.value.reason == "unknown-user"
