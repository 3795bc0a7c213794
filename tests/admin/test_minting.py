"""Minting against the server's own authenticators (what is minted logs in), secret choice and
rotation, and the generated admin token file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
import pytest
import trio

from admin.minting import FieldError, MintingUnavailable, TokenMinter, UnknownMailbox
from admin.tokenfile import admin_token_path, ensure_admin_token, read_admin_token
from pop3srv.auth.base import AuthFailed, LoginContext
from pop3srv.auth.factory import build_authenticator
from pop3srv.config import Settings
from pop3srv.service import default_location
from pop3srv.storage.base import DemoLocation, FolderLocation, S3Credentials, S3Location
from tests.admin.conftest import load


def _authenticate(settings: Settings, user: str, password: str) -> object:
    async def run() -> object:
        async with httpx.AsyncClient() as client:
            authenticator = build_authenticator(settings, default_location(settings), client)
            principal = await authenticator.authenticate(user, password, LoginContext())
            return principal.location

    return trio.run(run)


def test_minted_tokens_log_in_to_the_described_mailbox(tmp_path: Path) -> None:
    settings = load(tmp_path)
    minter = TokenMinter.from_settings(settings)
    cases = [
        ({"mailbox": "work"}, FolderLocation(settings.store.mail_dir, "work")),
        ({"provider": "DEMO"}, DemoLocation()),
        (
            {
                "bucket": "b",
                "prefix": "in/",
                "region": "eu-west-1",
                "awsAccessKeyID": "AK",
                "awsSecretAccessKey": "SK",
                "awsSessionToken": "ST",
            },
            S3Location("b", "in/", "eu-west-1", None, S3Credentials("AK", "SK", "ST")),
        ),
    ]
    for body, location in cases:
        token = minter.mint(minter.parse({**body, "ttl": 60})).token
        assert _authenticate(settings, "anyone", token) == location


def test_expired_token_is_refused(tmp_path: Path) -> None:
    settings = load(tmp_path, POP3_JWT_LEEWAY="0")
    minter = TokenMinter.from_settings(settings)
    token = minter.mint(minter.parse({"provider": "demo", "ttl": 1}), now=1_000_000).token
    with pytest.raises(AuthFailed):
        _authenticate(settings, "anyone", token)


def test_rotation_signs_with_the_last_kid_and_logs_in(tmp_path: Path) -> None:
    secrets = {"old": "o" * 32, "new": "n" * 32}
    settings = load(
        tmp_path,
        POP3_JWT_SECRET="",
        POP3_JWT_SECRETS=json.dumps(secrets),
        POP3_AUTH_PROVIDERS='["jwt"]',
    )
    minter = TokenMinter.from_settings(settings)
    assert minter.kid == "new"
    token = minter.mint(minter.parse({"provider": "demo"})).token
    assert _authenticate(settings, "x", token) == DemoLocation()


def test_app_password_logs_in_as_the_mailbox(tmp_path: Path) -> None:
    settings = load(tmp_path)
    minter = TokenMinter.from_settings(settings)
    password = minter.app_password("work")
    assert _authenticate(settings, "work", password) == FolderLocation(
        settings.store.mail_dir, "work"
    )
    with pytest.raises(UnknownMailbox):
        minter.app_password("nope")


def test_jwt_provider_off_is_explained(tmp_path: Path) -> None:
    settings = load(tmp_path, POP3_AUTH_PROVIDERS='["static"]')
    minter = TokenMinter.from_settings(settings)
    with pytest.raises(MintingUnavailable, match="auth-providers does not list jwt"):
        minter.mint(minter.parse({"provider": "demo"}))
    with pytest.raises(MintingUnavailable, match="app passwords are off"):
        minter.app_password("work")


def test_field_error_names_the_field() -> None:
    error = FieldError("bucket", "must be text")
    assert (error.field, str(error)) == ("bucket", "bucket: must be text")


def test_admin_token_generated_once_with_mode_0600(tmp_path: Path) -> None:
    state = tmp_path / "state"
    token, path = ensure_admin_token(None, state)
    assert path == admin_token_path(state)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(token) >= 40
    assert ensure_admin_token(None, state) == (token, path)
    assert read_admin_token(None, state) == token
    assert read_admin_token("configured", state) == "configured"


def test_admin_token_configured_wins_and_writes_nothing(tmp_path: Path) -> None:
    assert ensure_admin_token("configured", tmp_path) == ("configured", None)
    assert not admin_token_path(tmp_path).exists()
    assert read_admin_token(None, tmp_path) is None


def test_admin_token_file_with_loose_mode_is_tightened(tmp_path: Path) -> None:
    path = admin_token_path(tmp_path)
    path.write_text("existing-token\n")
    path.chmod(0o644)
    assert ensure_admin_token(None, tmp_path) == ("existing-token", path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_empty_admin_token_file_is_replaced(tmp_path: Path) -> None:
    admin_token_path(tmp_path).write_text("\n")
    token, _ = ensure_admin_token(None, tmp_path)
    assert token
    assert read_admin_token(None, tmp_path) == token
