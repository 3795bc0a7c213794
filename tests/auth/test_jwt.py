"""JWT mailbox passwords: the original's claims, pinned algorithms, times, rotation, bad input."""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.warnings import InsecureKeyLengthWarning

from pop3srv.auth.base import AuthFailed, LoginContext
from pop3srv.auth.claims import MailboxResolver
from pop3srv.auth.jwt import JwtAuthenticator
from pop3srv.config import MailboxEntry
from pop3srv.storage.base import (
    DemoLocation,
    EmptyLocation,
    FolderLocation,
    S3Credentials,
    S3Location,
)

SECRET = "k2ya2iTNRdlsixVuTi00"  # the original README's example secret
NEW_SECRET = "a-newer-secret-of-some-length-2026"
CTX = LoginContext()
ORIGINAL = {
    "awsAccessKeyID": "AKIAIOSFODNN7EXAMPLE",
    "awsSecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "region": "eu-central-1",
    "bucket": "aws-ses-pop3-server",
    "prefix": "",
}


def _auth(**changes: object) -> JwtAuthenticator:
    resolver = MailboxResolver(
        mailboxes={"work": MailboxEntry("work", folder="work")},
        mail_dir=Path("/mail"),
        default_endpoint="http://127.0.0.1:9000",
    )
    base: dict[str, object] = {"secret": SECRET, "secrets": {"2026": NEW_SECRET}}
    base.update(changes)
    return JwtAuthenticator(resolver, **base)  # type: ignore[arg-type]


def _token(claims: Mapping[str, object], key: str = SECRET, **kw: object) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(dict(claims), key, **kw)  # type: ignore[arg-type]


async def test_original_s3_claims_keep_working() -> None:
    principal = await _auth().authenticate("jwt", _token(ORIGINAL), CTX)
    assert principal.location == S3Location(
        bucket="aws-ses-pop3-server",
        prefix="",
        region="eu-central-1",
        endpoint_url="http://127.0.0.1:9000",
        credentials=S3Credentials(ORIGINAL["awsAccessKeyID"], ORIGINAL["awsSecretAccessKey"]),
    )
    assert principal.method == "jwt"


@pytest.mark.parametrize(
    ("claims", "location"),
    [
        ({"provider": "none"}, EmptyLocation()),
        ({"provider": "demo"}, DemoLocation()),
        ({"provider": "NONE"}, EmptyLocation()),
        ({"mailbox": "work"}, FolderLocation(Path("/mail"), "work")),
    ],
)
async def test_providers_and_mailbox_references(
    claims: dict[str, object], location: object
) -> None:
    principal = await _auth().authenticate("anyone@example.com", _token(claims), CTX)
    assert principal.location == location
    assert principal.user == "anyone@example.com"  # USER is free-form


async def test_user_jwt_takes_the_subject_as_name() -> None:
    principal = await _auth().authenticate("jwt", _token({"provider": "none", "sub": "jane"}), CTX)
    assert principal.user == "jane"


async def test_token_with_kid_uses_that_rotation_secret() -> None:
    token = _token({"provider": "none"}, NEW_SECRET, headers={"kid": "2026"})
    assert (await _auth().authenticate("u", token, CTX)).location == EmptyLocation()


def _rs256_token() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode({"provider": "none"}, key, algorithm="RS256")


def _alg_none_token() -> str:
    return jwt.encode({"provider": "none"}, None, algorithm="none")  # type: ignore[arg-type]


BAD_TOKENS = {
    "bad signature": _token({"provider": "none"}, "some-other-secret-entirely"),
    "malformed": "this.is.not-a-jwt",
    "empty": "",
    "random 16 KiB": "x" * 16384,
    "expired": _token({"provider": "none", "exp": int(time.time()) - 3600}),
    "not yet valid": _token({"provider": "none", "nbf": int(time.time()) + 3600}),
    "alg none": _alg_none_token(),
    "HS512 when only HS256": _token({"provider": "none"}, algorithm="HS512"),
    "RS256": _rs256_token(),
    "rotated-out kid": _token(
        {"provider": "none"}, "old-secret-gone-0123", headers={"kid": "2025"}
    ),
    "kid secret used without kid": _token({"provider": "none"}, NEW_SECRET),
    "unknown provider": _token({"provider": "ftp"}),
    "no bucket": _token({"provider": "s3"}),
    "bucket of wrong type": _token({"bucket": 123}),
    "unknown mailbox": _token({"mailbox": "nope"}),
    "prefix of wrong type": _token({"bucket": "b", "prefix": ["x"]}),
}


@pytest.mark.parametrize("token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
async def test_bad_tokens_are_refused(token: str) -> None:
    with pytest.raises(AuthFailed):
        await _auth().authenticate("jwt", token, CTX)


async def test_expiry_within_leeway_is_accepted() -> None:
    token = _token({"provider": "none", "exp": int(time.time()) - 5})
    assert (await _auth(leeway=30).authenticate("u", token, CTX)).location == EmptyLocation()


async def test_hs512_accepted_when_configured() -> None:
    token = _token({"provider": "none"}, algorithm="HS512")
    auth = _auth(algorithms=("HS256", "HS512"))
    assert (await auth.authenticate("u", token, CTX)).location == EmptyLocation()


def test_non_hmac_algorithms_cannot_be_configured() -> None:
    with pytest.raises(ValueError, match="HMAC"):
        _auth(algorithms=("RS256",))
