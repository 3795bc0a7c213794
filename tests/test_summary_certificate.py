"""Start-up lines an operator needs (ops-6): the configured certificate, and a warning when it
has expired or is about to (before, only a reload said which certificate was served, and an
expired one was served without a word); a warning for a missing or non-directory mail folder."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
import trustme

from pop3srv.config import Settings, load_settings
from pop3srv.summary import configured_certificate, folder_warning
from tests.conftest import server_env

NOW = dt.datetime(2030, 6, 1, tzinfo=dt.UTC)


def settings_with(tmp_path: Path, not_after: dt.datetime, inline: bool = False) -> Settings:
    cert = trustme.CA().issue_cert("mail.example.test", not_after=not_after)
    crt, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    cert.cert_chain_pems[0].write_to_path(str(crt))
    cert.private_key_pem.write_to_path(str(key))
    if inline:
        extra = {"POP3_TLS_CERT": crt.read_text(), "POP3_TLS_KEY": key.read_text()}
    else:
        extra = {"POP3_TLS_CERT_PATH": str(crt), "POP3_TLS_KEY_PATH": str(key)}
    env = server_env(tmp_path, **extra)
    return load_settings(env, cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc")


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "pop3srv"]


def test_a_valid_certificate_is_named_with_its_end(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    configured_certificate(settings_with(tmp_path, NOW + dt.timedelta(days=60)), NOW)
    ((level, message),) = lines(caplog)
    assert level == logging.INFO
    assert message.startswith("TLS certificate: certificate ")
    assert "valid until 2030-07-31" in message
    assert message.endswith(f"from {tmp_path / 'fullchain.pem'}")


@pytest.mark.parametrize(
    ("days", "says"), [(5, "expires on 2030-06-06 (in 5 days)"), (-1, "expired on 2030-05-31")]
)
def test_an_expiring_or_expired_certificate_is_a_warning_saying_what_to_do(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, days: int, says: str
) -> None:
    caplog.set_level(logging.INFO)
    not_after = NOW + dt.timedelta(days=days, hours=1)
    configured_certificate(settings_with(tmp_path, not_after, inline=True), NOW)
    info, warning = lines(caplog)
    assert info[1].endswith("from tls-cert")
    assert warning[0] == logging.WARNING
    assert says in warning[1]
    assert "renew it, then reload" in warning[1]
    assert "PRIVATE KEY" not in caplog.text


def test_a_missing_or_non_directory_mail_folder_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A typo in mail-dir served an empty mailbox without a word (ops-6)."""
    caplog.set_level(logging.INFO)
    folder_warning("default mailbox", tmp_path / "mial")
    (tmp_path / "file").write_text("")
    folder_warning("mailbox 'work'", tmp_path / "file")
    (tmp_path / "mail").mkdir()
    folder_warning("default mailbox", tmp_path / "mail")
    missing, not_dir = lines(caplog)
    assert missing == (
        logging.WARNING,
        f"default mailbox: {tmp_path / 'mial'} does not exist: logins see an empty mailbox "
        "until it is created; check mail-dir",
    )
    assert not_dir[0] == logging.WARNING
    assert "is not a directory: logins fail with -ERR [SYS/PERM]" in not_dir[1]
