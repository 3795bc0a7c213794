"""The schema is the single source: the README's key table and settings.toml are derived from
it and compared here; a table test per kind of value (good, bad and boundary values, from a
file and from the environment)."""

from __future__ import annotations

import runpy
import tomllib
from collections.abc import Mapping
from pathlib import Path

import pytest

from pop3srv.config import Settings, flat
from pop3srv.config.schema import KEYS
from pop3srv.config.sources import schema_defaults
from tests.config.test_load import Dirs, dirs, one

__all__ = ["dirs"]  # the fixture, re-used

ROOT = Path(__file__).resolve().parent.parent.parent
key_table = runpy.run_path(str(ROOT / "scripts" / "config-table"))["key_table"]


def test_the_documented_key_table_is_derived_from_the_schema() -> None:
    table = "\n".join(key_table())
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    holding = [p for p in pages if "| key | environment | default |" in p.read_text("utf-8")]
    assert holding, "no page carries the configuration key table"
    for page in holding:
        assert table in page.read_text("utf-8"), (
            f"{page.name}: paste the output of `.venv/bin/python scripts/config-table` over it"
        )
    assert len(key_table()) == 2 + len(KEYS)


def test_settings_toml_writes_out_the_schema_defaults() -> None:
    text = (ROOT / "pop3srv" / "settings.toml").read_text(encoding="utf-8")
    written = {k.replace("_", "-"): v for k, v in tomllib.loads(text).items()}
    assert written == schema_defaults()


def test_every_key_is_declared_completely() -> None:
    envs = [key.env for key in KEYS.values()]
    assert len(set(envs)) == len(envs)
    for name, key in KEYS.items():
        assert key.doc and name == name.lower() and "_" not in name, name
    assert set(flat(Settings())) == set(KEYS) - {"port"}


def test_secret_keys_never_appear_in_repr() -> None:
    secrets = [key for key in KEYS.values() if key.secret and key.path[-1] not in ("users",)]
    assert {k.name for k in secrets} >= {"password", "jwt-secret", "tls-key", "admin-token"}
    text = repr(Settings())
    for key in secrets:
        assert f"{key.path[-1]}=" not in text, key.name


SAME = object()


def case(name: str, yaml: str, env: str, expected: object, from_env: object = SAME) -> object:
    """One row: the value written in YAML and in ``POP3_*``, and what each gives (the typed
    value, or a needle of the problem line)."""
    return pytest.param(name, yaml, env, expected, expected if from_env is SAME else from_env)


CASES = [
    # ports 0-65535
    case("tls-port", "995", "995", 995),
    case("tls-port", "0", "0", 0),
    case("admin-port", "65535", "65535", 65535),
    case("admin-port", "65536", "65536", "65536 is not a port (0-65535)"),
    case("admin-port", "-1", "-1", "-1 is not a port"),
    case("admin-port", "true", "true", "True is not a port"),
    case("admin-port", "http", "http", '"http" is not a port'),
    case("admin-port", "2.5", "2.5", "2.5 is not a port"),
    # counts >= 1, whole numbers >= 0, prefix lengths 0-128
    case("max-connections", "1", "1", 1),
    case("max-connections", "0", "0", "0 is not a whole number >= 1"),
    case("login-penalty-free", "0", "0", 0),
    case("login-penalty-free", "-1", "-1", "-1 is not a whole number >= 0"),
    case("ipv6-prefix-length", "128", "128", 128),
    case("ipv6-prefix-length", "129", "129", "129 is not a prefix length (0-128)"),
    # seconds > 0, durations >= 0
    case("idle-timeout", "0.001", "0.001", 0.001),
    case("idle-timeout", "0", "0", "0 is not a number of seconds > 0"),
    case("idle-timeout", ".inf", "inf", "inf is not a number of seconds > 0"),
    case("jwt-leeway", "0", "0", 0.0),
    case("jwt-leeway", "-0.5", "-0.5", "-0.5 is not a number of seconds >= 0"),
    # booleans
    case("verbose", "yes", "yes", True),
    case("verbose", "off", "OFF", False),
    case("verbose", "1", "1", True),
    case("verbose", "maybe", "maybe", '"maybe" is not a boolean (true or false)'),
    case("verbose", "2", "2", "2 is not a boolean"),
    # text: required, may be empty, optional ("" = unset), choices; an empty variable is unset
    case("user", "jane", "jane", "jane"),
    case("user", "''", "", "must not be empty", "user"),
    case("host", "''", "::1", "", "::1"),
    case("jwt-secret", "''", "x" * 32, None, "x" * 32),
    case("lock", "s3", "s3", "s3"),
    case("lock", "nfs", "nfs", "lock: must be local or s3"),
    case("log-format", "xml", "xml", "log-format: must be text or json"),
    # paths: relative to the working directory, ~ to home
    case("state-dir", "'~/state'", "~/state", "HOME/state"),
    case("state-dir", "state", "state", "CWD/state"),
    case("state-dir", "''", "/abs", "must not be empty", Path("/abs")),
    # lists
    case("admin-allowed-hosts", "[a, b]", "a, b", ("a", "b")),
    case("admin-allowed-hosts", "[]", '["a"]', (), ("a",)),
    case("admin-allowed-hosts", "[a, [b]]", "[1]", "is not a list of texts"),
    case(
        "proxy-trusted", "['10.0.0.0/8']", "10.0.0.0/8,::1", ("10.0.0.0/8",), ("10.0.0.0/8", "::1")
    ),
    case("proxy-trusted", "[nowhere]", "nowhere", "'nowhere' is not an address or CIDR network"),
    case("jwt-algorithms", "[HS512]", "HS512", ("HS512",)),
    case("jwt-algorithms", "[]", "[]", "must name at least one algorithm"),
    # S3 names: they go into the store client's request lines and headers (good ones: test_load)
    case(
        "aws-s3-bucket",
        "'my bucket'",
        "a/b",
        "'my bucket' is not an S3 bucket name",
        "'a/b' is not an S3",
    ),
    case(
        "aws-s3-region",
        "'eu west'",
        "eu_west",
        "'eu west' is not an AWS region",
        "'eu_west' is not an",
    ),
    case("aws-secret-access-key", "'a b'", "a\tb", "is not an AWS key (printable ASCII"),
    # tables
    case(
        "jwt-secrets",
        "{k: sixteen-chars-ok}",
        '{"k": "sixteen-chars-ok"}',
        {"k": "sixteen-chars-ok"},
    ),
    case(
        "jwt-secrets",
        "{k: short}",
        '{"k": "short"}',
        "jwt-secrets.k: the text given is not text of 16+",
    ),
    case("jwt-secrets", "[a]", "[a]", "jwt-secrets: is not a table"),
]


def _value(settings: Settings, name: str) -> object:
    value: object = settings
    for attribute in KEYS[name].path:
        value = getattr(value, attribute)
    return dict(value) if isinstance(value, Mapping) else value


def _problem(expected: object) -> bool:
    return isinstance(expected, str) and (" not " in expected or "must" in expected)


@pytest.mark.parametrize("where", ["file", "env"])
@pytest.mark.parametrize(("name", "yaml", "env", "from_file", "from_env"), CASES)
def test_kinds(
    dirs: Dirs, where: str, name: str, yaml: str, env: str, from_file: object, from_env: object
) -> None:
    if where == "file":
        dirs.write(dirs.cwd_yaml, f"{name}: {yaml}\n")
        environment, source, expected = {}, str(dirs.cwd_yaml), from_file
        where = f"(from {source}), line 1"
    else:
        environment, source, expected = {KEYS[name].env: env}, f"env {KEYS[name].env}", from_env
        where = f"(from {source})"
    if _problem(expected):
        line = one(dirs.problems(environment), f"{name}", str(expected))
        assert line.endswith(where)
        return
    if isinstance(expected, str) and expected.startswith(("HOME/", "CWD/")):
        base = dirs.home if expected.startswith("HOME/") else dirs.cwd
        expected = base / expected.split("/", 1)[1]
    s = dirs.load(environment)
    assert _value(s, name) == expected
    if environment.get(KEYS[name].env, "x") != "":
        assert s.sources[name] == source
