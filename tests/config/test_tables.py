"""The login tables and lists: mailboxes, users, jwt-secrets, jwt-algorithms, auth-providers."""

from __future__ import annotations

import json

import pytest

from tests.config.test_load import Dirs, dirs, one

__all__ = ["dirs"]  # the fixture, re-used


def test_yaml_tables_with_dash_fields_and_original_key_names(dirs: Dirs) -> None:
    dirs.write(
        dirs.cwd / "config.yaml",
        "mailboxes:\n"
        "  work: {bucket: mail, prefix: work/, aws-s3-region: eu-west-1,"
        " aws-access-key-id: AK, aws-secret-access-key: SK, app-password-version: 3}\n"
        "  local: {folder: jane/}\n"
        "users:\n"
        "  jane: {password: pw-jane, mailbox: local}\n"
        "jwt-secrets: {'2026': 'a-secret-of-sixteen+'}\n",
    )
    s = dirs.load()
    work = s.auth.mailboxes["work"]
    assert (work.bucket, work.prefix, work.region, work.app_password_version) == (
        "mail",
        "work/",
        "eu-west-1",
        3,
    )
    assert (work.access_key_id, work.secret_access_key) == ("AK", "SK")
    assert s.auth.mailboxes["local"].folder == "jane"
    assert s.auth.users["jane"].mailbox == "local"
    assert s.auth.jwt_secrets == {"2026": "a-secret-of-sixteen+"}
    assert "SK" not in repr(s) and "pw-jane" not in repr(s)


def test_tables_from_env_as_json(dirs: Dirs) -> None:
    env = {"POP3_MAILBOXES": json.dumps({"a": {"folder": "a"}}), "POP3_JWT_SECRET": "x" * 32}
    s = dirs.load(env)
    assert list(s.auth.mailboxes) == ["a"]
    assert s.auth.providers == ("jwt", "app-password")


@pytest.mark.parametrize(
    ("env", "needles"),
    [
        ({"POP3_MAILBOXES": '{"a": {}}'}, ("mailboxes.a:", "exactly one of bucket or folder")),
        ({"POP3_MAILBOXES": '{"a": {"bucket": "b", "folder": "f"}}'}, ("exactly one",)),
        ({"POP3_MAILBOXES": '{"a": {"folder": "../x"}}'}, ("inside mail-dir",)),
        ({"POP3_MAILBOXES": '{"a": {"folder": "/srv/a"}}'}, ("a.folder", "inside mail-dir")),
        ({"POP3_MAILBOXES": '{"a": {"bukket": "b"}}'}, ("mailboxes.a.bukket", "unknown field")),
        ({"POP3_MAILBOXES": '{"a": {"bucket": "b c"}}'}, ("a.bucket: 'b c' is not an S3 bucket",)),
        ({"POP3_MAILBOXES": '{"a": {"bucket": "b", "region": "r?"}}'}, ("a.region: 'r?' is not",)),
        (
            {"POP3_MAILBOXES": json.dumps({"a": {"bucket": "b", "access-key-id": "k\r"}})},
            ("a.access-key-id: is not an AWS key",),
        ),
        ({"POP3_MAILBOXES": '{"a": {"folder": "f", "app-password-version": 0}}'}, (">= 1",)),
        ({"POP3_MAILBOXES": "not json"}, ("mailboxes:", "not a table")),
        ({"POP3_USERS": '{"u": {"mailbox": "none"}}'}, ("users.u.password",)),
        ({"POP3_USERS": '{"u": {"password": "p", "mailbox": "none"}}'}, ("users.u.mailbox",)),
        ({"POP3_JWT_SECRETS": '{"k": "short"}'}, ("jwt-secrets.k", "16+")),
        ({"POP3_JWT_ALGORITHMS": "none"}, ("jwt-algorithms", "'none' is not allowed")),
        ({"POP3_JWT_ALGORITHMS": "HS256,RS256"}, ("'RS256' is not allowed",)),
        ({"POP3_AUTH_PROVIDERS": "jwt"}, ("auth-providers: jwt needs jwt-secret",)),
        ({"POP3_AUTH_PROVIDERS": "ldap"}, ("unknown provider 'ldap'",)),
        ({"POP3_AUTH_PROVIDERS": "app-password"}, ("app-password needs",)),
        ({"POP3_DELETE_MODE": "shred"}, ("delete-mode: must be delete or trash",)),
    ],
)
def test_bad_tables_and_lists_name_the_field(
    dirs: Dirs, env: dict[str, str], needles: tuple[str, ...]
) -> None:
    one(dirs.problems(env), *needles)


@pytest.mark.parametrize(
    ("env", "chain"),
    [
        ({}, ("static",)),
        ({"POP3_JWT_SECRET": "s" * 32}, ("jwt",)),
        ({"POP3_HTTP_BASIC_AUTH_URL": "http://127.0.0.1/"}, ("http",)),
        ({"POP3_JWT_SECRET": "s" * 32, "POP3_HTTP_BASIC_AUTH_URL": "https://a/"}, ("jwt",)),
        (
            {"POP3_AUTH_PROVIDERS": "static, http", "POP3_HTTP_BASIC_AUTH_URL": "https://a/"},
            ("static", "http"),
        ),
    ],
)
def test_provider_chain_follows_the_original_precedence(
    dirs: Dirs, env: dict[str, str], chain: tuple[str, ...]
) -> None:
    assert dirs.load(env).auth.providers == chain


def test_short_jwt_secret_warns(dirs: Dirs) -> None:
    s = dirs.load({"POP3_JWT_SECRET": "k2ya2iTNRdlsixVuTi00"})
    assert any(w.startswith("jwt-secret: shorter than 32") for w in s.warnings)


def test_check_config_summarises_tables_without_secrets(
    dirs: Dirs, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"POP3_USERS": '{"jane": {"password": "pw-secret-jane"}}'}
    assert dirs.check(env) == 0
    out = capsys.readouterr().out
    # tables print as tables (issue 11: no longer summarised as text), secrets redacted
    assert 'users = {"jane": {"password": "***"}}' in out
    assert "pw-secret-jane" not in out


def test_a_bad_mailboxes_table_is_one_problem_not_one_per_user(dirs: Dirs) -> None:
    env = {
        "POP3_MAILBOXES": '{"a": {}}',
        "POP3_USERS": '{"u": {"password": "p", "mailbox": "a"}}',
    }
    problems = dirs.problems(env)
    assert problems == [
        "mailboxes.a: needs exactly one of bucket or folder (from env POP3_MAILBOXES)"
    ], problems
