"""How pop3srv.config.sources uses dynaconf: one sealed instance per load, fed the sources in order.

The behaviour itself is the contract of test_load.py and test_tables.py; these tests pin
what dynaconf must not add (the process environment, merging, ``@`` tokens in files, files and
hooks it would find by itself) and that the values and sources really come from the instance.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pop3srv.config import sources as config_sources
from tests.config.test_load import Dirs, dirs, one

__all__ = ["dirs"]  # the fixture, re-used


def _capture(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    made: list[Any] = []
    new = config_sources._new_dynaconf

    def recording() -> Any:
        made.append(new())
        return made[-1]

    monkeypatch.setattr(config_sources, "_new_dynaconf", recording)
    return made


def _identifiers(instance: Any, name: str) -> list[str]:
    """The sources that set ``name`` in a dynaconf instance, in the order they were fed."""
    return [
        str(metadata.identifier)
        for metadata, data in instance.loaded_by_loaders.items()
        if name in data and metadata.loader in ("toml", "yaml", "env")
    ]


def test_each_load_feeds_a_new_dynaconf_the_sources_in_order(
    dirs: Dirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _capture(monkeypatch)
    dirs.write(dirs.etc_yaml, "user: from-etc\n")
    dirs.write(dirs.cwd_yaml, "user: from-cwd\njwt-secret: from-cwd\n")
    custom = dirs.write(dirs.home / "custom.toml", 'user = "from-pop3-config"\n')
    env = {"POP3_CONFIG": str(custom), "POP3_USER": "from-env"}

    s = dirs.load(env)
    dirs.load(env)
    assert len(made) == 2 and made[0] is not made[1]
    instance = made[0]
    assert _identifiers(instance, "USER") == [
        "default",
        str(dirs.etc_yaml),
        str(dirs.cwd_yaml),
        str(custom),
        "env POP3_USER",
    ]
    assert instance.get("USER") == s.auth.user == "from-env"
    assert _identifiers(instance, "JWT_SECRET") == [str(dirs.cwd_yaml)]  # no default: unset
    assert instance.get("JWT_SECRET") == s.auth.jwt_secret == "from-cwd"
    assert s.sources["jwt-secret"] == str(dirs.cwd_yaml)


def test_the_process_environment_is_not_read(
    dirs: Dirs, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    evil = tmp_path / "evil.toml"
    evil.write_text('user = "evil"\nUSERS = {evil = {password = "p"}}\n', encoding="utf-8")
    for name, value in {
        "POP3_USER": "from-os-environ",
        "DYNACONF_USER": "from-os-environ",
        "SETTINGS_FILE_FOR_DYNACONF": str(evil),
        "INCLUDES_FOR_DYNACONF": str(evil),
        "PRELOAD_FOR_DYNACONF": str(evil),
        "CORE_LOADERS_FOR_DYNACONF": '["TOML"]',
        "MERGE_ENABLED_FOR_DYNACONF": "true",
        "AUTO_CAST_FOR_DYNACONF": "true",
        "NESTED_SEPARATOR_FOR_DYNACONF": "_",
        "DOTTED_LOOKUP_FOR_DYNACONF": "true",
    }.items():
        monkeypatch.setenv(name, value)
    dirs.write(dirs.etc_yaml, "users: {a: {password: pa}}\n")
    dirs.write(dirs.cwd_yaml, "users: {b: {password: pb}}\npassword: '@int 5'\n")

    s = dirs.load({"POP3_PLAIN_PORT": "2111"})
    assert (s.auth.user, s.sources["user"]) == ("user", "default")
    assert list(s.auth.users) == ["b"]
    assert s.auth.password == "@int 5"
    assert (s.listen.plain_port, s.sources["plain-port"]) == (2111, "env POP3_PLAIN_PORT")


def test_tables_and_lists_are_replaced_per_source_not_merged(dirs: Dirs) -> None:
    dirs.write(
        dirs.etc_yaml,
        "mailboxes: {a: {folder: a}, b: {folder: b}}\n"
        "users: {ann: {password: pa, mailbox: a}}\n"
        "jwt-secrets: {k1: 'a-secret-of-sixteen+'}\n"
        "jwt-algorithms: [HS384, HS512]\n",
    )
    dirs.write(
        dirs.cwd_yaml,
        "mailboxes: {b: {folder: bee}}\nusers: {bob: {password: pb}}\njwt-algorithms: [HS256]\n",
    )
    env = {"POP3_JWT_SECRETS": json.dumps({"k2": "another-secret-16+"})}
    s = dirs.load(env)
    assert list(s.auth.mailboxes) == ["b"] and s.auth.mailboxes["b"].folder == "bee"
    assert list(s.auth.users) == ["bob"]
    assert s.auth.jwt_secrets == {"k2": "another-secret-16+"}
    assert s.auth.jwt_algorithms == ("HS256",)
    assert s.sources["mailboxes"] == s.sources["users"] == str(dirs.cwd_yaml)
    assert s.sources["jwt-secrets"] == "env POP3_JWT_SECRETS"


def test_dynaconf_merge_markers_are_not_obeyed(dirs: Dirs) -> None:
    dirs.write(dirs.etc_yaml, "mailboxes: {a: {folder: a}}\njwt-algorithms: [HS384]\n")
    dirs.write(
        dirs.cwd_yaml,
        "mailboxes: {dynaconf_merge: true, b: {folder: b}}\n"
        "jwt-algorithms: [dynaconf_merge, HS512]\n",
    )
    problems = dirs.problems()
    one(problems, "mailboxes.dynaconf_merge: is not a table", str(dirs.cwd_yaml))
    one(problems, "jwt-algorithms: 'dynaconf_merge' is not allowed", str(dirs.cwd_yaml))


@pytest.mark.parametrize(
    "text", ["@format {this.HOST}", "@jinja {{ this.HOST }}", "@int 5", "@del"]
)
def test_dynaconf_tokens_in_files_stay_text(dirs: Dirs, text: str) -> None:
    dirs.write(dirs.cwd_yaml, f"user: '{text}'\nusers: {{u: {{password: '{text}'}}}}\n")
    s = dirs.load()
    assert s.auth.user == text and s.sources["user"] == str(dirs.cwd_yaml)
    assert s.auth.users["u"].password == text


def test_files_dynaconf_would_find_by_itself_are_ignored(dirs: Dirs) -> None:
    marker = dirs.cwd / "hook-ran"
    dirs.write(dirs.cwd_yaml, "user: from-cwd\n")
    dirs.write(dirs.cwd / "config.local.yaml", "user: from-local\n")
    dirs.write(dirs.etc / "config.local.yaml", "password: from-local\n")
    dirs.write(dirs.cwd / "settings.toml", 'user = "from-settings-toml"\n')
    dirs.write(dirs.cwd / ".env", "POP3_USER=from-dotenv\nDYNACONF_USER=from-dotenv\n")
    hook = f"def post(settings):\n    open({str(marker)!r}, 'w').close()\n    return {{}}\n"
    dirs.write(dirs.cwd / "dynaconf_hooks.py", hook)
    s = dirs.load()
    assert (s.auth.user, s.auth.password) == ("from-cwd", "changeit")
    assert not marker.exists()


def test_config_yaml_in_a_parent_folder_is_not_read(dirs: Dirs) -> None:
    dirs.write(dirs.cwd_yaml, "user: from-parent\n")
    child = dirs.cwd / "child"
    child.mkdir()
    s = Dirs(child, dirs.home, dirs.etc).load()
    assert (s.auth.user, s.sources["user"]) == ("user", "default")
