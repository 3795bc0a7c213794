"""pop3srv.config: sources and their order, types, the ``port`` alias, validation, redaction.

Every test passes its own environment and folders; none reads os.environ, ~ or /etc.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pop3srv.config import (
    ConfigError,
    Settings,
    load_settings,
    main_check_config,
    redacted,
)

CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nkey-material-zz9\n-----END PRIVATE KEY-----\n"
REPO = Path(__file__).resolve().parent.parent.parent


@dataclass
class Dirs:
    cwd: Path
    home: Path
    etc: Path

    @property
    def etc_yaml(self) -> Path:
        return self.etc / "config.yaml"

    @property
    def home_yaml(self) -> Path:
        return self.home / ".aws-ses-pop3-server" / "config.yaml"

    @property
    def cwd_yaml(self) -> Path:
        return self.cwd / "config.yaml"

    def write(self, path: Path, text: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def load(self, env: dict[str, str] | None = None) -> Settings:
        return load_settings(env or {}, cwd=self.cwd, home=self.home, etc_dir=self.etc)

    def problems(self, env: dict[str, str] | None = None) -> list[str]:
        with pytest.raises(ConfigError) as info:
            self.load(env)
        return info.value.problems

    def check(self, env: dict[str, str] | None = None) -> int:
        return main_check_config(env or {}, cwd=self.cwd, home=self.home, etc_dir=self.etc)


@pytest.fixture
def dirs(tmp_path: Path) -> Dirs:
    made = Dirs(tmp_path / "work", tmp_path / "home", tmp_path / "etc")
    for path in (made.cwd, made.home, made.etc):
        path.mkdir()
    return made


def one(problems: list[str], *needles: str) -> str:
    """The single problem line containing every needle."""
    found = [p for p in problems if all(n in p for n in needles)]
    assert len(found) == 1, (needles, problems)
    return found[0]


# --- defaults and files -------------------------------------------------------------------


def test_defaults(dirs: Dirs) -> None:
    s = dirs.load()
    assert (s.listen.host, s.listen.tls_port, s.listen.plain_port) == ("", 2995, 2110)
    assert s.tls.self_signed and not s.tls.configured and s.tls.cert_pem is None
    assert (s.auth.user, s.auth.password, s.auth.default_password) == ("user", "changeit", True)
    assert s.auth.jwt_secret is None and s.auth.http_basic_auth_url is None
    assert not s.auth.allow_insecure_auth and not s.auth.http_basic_auth_url_insecure
    assert not s.s3.enabled and s.s3.prefix == "" and s.s3.region is None
    assert s.store.mail_dir == dirs.cwd / "var" / "mail"
    assert s.store.state_dir == dirs.cwd / "var"
    assert (s.admin.host, s.admin.port, s.admin.token) == ("127.0.0.1", 8080, None)
    assert s.limits.idle_timeout == 600.0 and s.limits.login_timeout == 60.0
    assert (s.limits.max_connections, s.limits.max_bad_commands) == (1000, 10)
    assert s.limits.shutdown_timeout == 10.0 and s.verbose is False
    assert set(s.sources.values()) == {"default"}
    assert "tls-port" in s.sources and "jwt-secret" in s.sources
    assert any("changeit" in w for w in s.warnings)


def test_top_level_settings_toml_is_the_packaged_defaults() -> None:
    top = REPO / "settings.toml"
    assert top.is_symlink()
    assert top.resolve() == (REPO / "pop3srv" / "settings.toml").resolve()


def test_sources_in_order_later_wins(dirs: Dirs) -> None:
    custom = dirs.write(dirs.cwd / "custom.toml", 'user = "from-pop3-config"\n')
    env = {"POP3_CONFIG": str(custom), "POP3_USER": "from-env"}
    dirs.write(dirs.etc_yaml, "user: from-etc\nhost: etc-host\n")
    dirs.write(dirs.home_yaml, "user: from-home\nverbose: true\n")
    dirs.write(dirs.cwd_yaml, "user: from-cwd\naws-s3-prefix: cwd/\n")

    s = dirs.load(env)
    assert s.auth.user == "from-env"
    assert s.sources["user"] == "env POP3_USER"
    # each key keeps the source that set it last
    assert (s.listen.host, s.sources["host"]) == ("etc-host", str(dirs.etc_yaml))
    assert (s.verbose, s.sources["verbose"]) == (True, str(dirs.home_yaml))
    assert (s.s3.prefix, s.sources["aws-s3-prefix"]) == ("cwd/", str(dirs.cwd_yaml))

    expected = [
        ("from-pop3-config", str(custom)),
        ("from-cwd", str(dirs.cwd_yaml)),
        ("from-home", str(dirs.home_yaml)),
        ("from-etc", str(dirs.etc_yaml)),
    ]
    remove: list[Callable[[], object]] = [
        lambda: env.pop("POP3_USER"),
        lambda: env.pop("POP3_CONFIG"),
        dirs.cwd_yaml.unlink,
        dirs.home_yaml.unlink,
    ]
    for undo, (user, source) in zip(remove, expected, strict=True):
        undo()
        s = dirs.load(env)
        assert (s.auth.user, s.sources["user"]) == (user, source)
    dirs.etc_yaml.unlink()
    assert (dirs.load(env).auth.user, dirs.load(env).sources["user"]) == ("user", "default")


def test_yaml_dash_keys_overridden_by_env(dirs: Dirs) -> None:
    dirs.write(dirs.etc_yaml, "jwt-secret: from-file\nhttp-basic-auth-url-insecure: true\n")
    s = dirs.load({"POP3_JWT_SECRET": "from-env"})
    assert s.auth.jwt_secret == "from-env"
    assert s.sources["jwt-secret"] == "env POP3_JWT_SECRET"
    assert s.auth.http_basic_auth_url_insecure is True


def test_underscore_keys_accepted_in_files(dirs: Dirs) -> None:
    dirs.write(dirs.cwd_yaml, "tls_port: 995\nPLAIN-PORT: 110\n")
    s = dirs.load()
    assert (s.listen.tls_port, s.listen.plain_port) == (995, 110)


@pytest.mark.parametrize("value", ["123456", "0123", "1e3", "true", "1_000", "[1]", "@int 5"])
def test_numeric_looking_text_from_env_stays_verbatim(dirs: Dirs, value: str) -> None:
    env = {"POP3_PASSWORD": value, "POP3_USER": value, "POP3_JWT_SECRET": value}
    s = dirs.load(env)
    assert (s.auth.password, s.auth.user, s.auth.jwt_secret) == (value, value, value)


def test_numbers_in_yaml_text_keys_become_text(dirs: Dirs) -> None:
    dirs.write(dirs.cwd_yaml, "password: 123456\nuser: 42\naws-s3-prefix: true\n")
    s = dirs.load()
    assert (s.auth.password, s.auth.user, s.s3.prefix) == ("123456", "42", "true")


def test_typed_env_values(dirs: Dirs) -> None:
    env = {
        "POP3_PLAIN_PORT": "2111",
        "POP3_VERBOSE": "yes",
        "POP3_TLS_SELF_SIGNED": "0",
        "POP3_IDLE_TIMEOUT": "0.5",
        "POP3_MAX_CONNECTIONS": "@int 7",
        "POP3_ALLOW_INSECURE_AUTH": "True",
    }
    s = dirs.load(env)
    assert s.listen.plain_port == 2111 and s.verbose is True and s.tls.self_signed is False
    assert s.limits.idle_timeout == 0.5 and s.limits.max_connections == 7
    assert s.auth.allow_insecure_auth is True
    assert any("idle-timeout" in w and "600" in w for w in s.warnings)


def test_empty_env_var_is_unset_and_empty_file_value_clears(dirs: Dirs) -> None:
    dirs.write(dirs.etc_yaml, "jwt-secret: from-etc\naws-s3-bucket: b\naws-s3-region: r\n")
    dirs.write(dirs.cwd_yaml, 'aws-s3-bucket: ""\naws-s3-region:\n')
    s = dirs.load({"POP3_JWT_SECRET": "", "POP3_PLAIN_PORT": ""})
    assert s.auth.jwt_secret == "from-etc"
    assert s.s3.bucket is None and s.s3.region == "r"  # `key:` with no value changes nothing
    assert s.listen.plain_port == 2110


def test_paths_resolve_against_cwd_and_home(dirs: Dirs) -> None:
    s = dirs.load({"POP3_MAIL_DIR": "~/mail", "POP3_STATE_DIR": "state"})
    assert s.store.mail_dir == dirs.home / "mail"
    assert s.store.state_dir == dirs.cwd / "state"


def test_unrelated_env_vars_and_pop3_config_are_not_keys(dirs: Dirs) -> None:
    s = dirs.load({"PATH": "/bin", "POP3": "x", "POP3_CONFIG": "", "pop3_port": "1"})
    assert s.listen.plain_port == 2110


def test_etc_dir_used_as_working_directory_is_read_once(dirs: Dirs) -> None:
    dirs.write(dirs.etc_yaml, "user: once\n")
    s = load_settings({}, cwd=dirs.etc, home=dirs.home, etc_dir=dirs.etc)
    assert s.sources["user"] == str(dirs.etc_yaml)


# --- POP3_CONFIG -----------------------------------------------------------------------------


def test_pop3_config_toml(dirs: Dirs) -> None:
    path = dirs.write(dirs.cwd / "pop3.toml", 'tls-port = 995\nuser = "toml"\nverbose = true\n')
    s = dirs.load({"POP3_CONFIG": "pop3.toml"})  # relative to the working directory
    assert (s.listen.tls_port, s.auth.user, s.verbose) == (995, "toml", True)
    assert s.sources["tls-port"] == str(path)


@pytest.mark.parametrize("name", ["pop3.yaml", "pop3.yml"])
def test_pop3_config_yaml(dirs: Dirs, name: str) -> None:
    path = dirs.write(dirs.home / name, "tls-port: 995\nuser: yaml\n")
    dirs.write(dirs.cwd_yaml, "user: cwd\nhost: cwd-host\n")
    s = dirs.load({"POP3_CONFIG": str(path)})
    assert (s.listen.tls_port, s.auth.user, s.listen.host) == (995, "yaml", "cwd-host")


def test_missing_pop3_config_is_an_error(dirs: Dirs) -> None:
    problems = dirs.problems({"POP3_CONFIG": str(dirs.cwd / "nope.toml")})
    line = one(problems, "nope.toml")
    assert "does not exist" in line and "POP3_CONFIG" in line


def test_missing_optional_files_are_skipped(dirs: Dirs) -> None:
    dirs.write(dirs.home_yaml, "")  # an empty file is fine too
    assert dirs.load().auth.user == "user"


# --- the port alias --------------------------------------------------------------------------


def test_port_without_certificate_sets_plain_port(dirs: Dirs) -> None:
    s = dirs.load({"POP3_PORT": "110"})
    assert (s.listen.plain_port, s.listen.tls_port) == (110, 2995)
    assert s.sources["plain-port"] == "env POP3_PORT (via port)"


def test_port_with_inline_certificate_sets_tls_port(dirs: Dirs) -> None:
    dirs.write(dirs.cwd_yaml, f"port: 995\ntls-cert: |\n{_indent(CERT)}tls-key: |\n{_indent(KEY)}")
    s = dirs.load()
    assert (s.listen.tls_port, s.listen.plain_port) == (995, 2110)
    assert s.tls.configured and s.tls.cert_pem == CERT and s.tls.key_pem == KEY
    assert s.sources["tls-port"] == f"{dirs.cwd_yaml} (via port)"


def test_port_with_certificate_paths_sets_tls_port(dirs: Dirs) -> None:
    env = _cert_files(dirs) | {"POP3_PORT": "995"}
    s = dirs.load(env)
    assert s.listen.tls_port == 995 and s.tls.cert_path == dirs.cwd / "tls.crt"


def test_explicit_key_in_same_source_wins_over_port(dirs: Dirs) -> None:
    s = dirs.load({"POP3_PORT": "110", "POP3_PLAIN_PORT": "1110"})
    assert s.listen.plain_port == 1110 and s.sources["plain-port"] == "env POP3_PLAIN_PORT"
    assert any(w.startswith("port: 110 ignored") for w in s.warnings)


def test_port_in_later_source_wins_over_explicit_key(dirs: Dirs) -> None:
    dirs.write(dirs.etc_yaml, "plain-port: 1110\n")
    assert dirs.load({"POP3_PORT": "110"}).listen.plain_port == 110
    dirs.write(dirs.etc_yaml, "port: 110\n")
    assert dirs.load({"POP3_PLAIN_PORT": "1110"}).listen.plain_port == 1110


def _indent(text: str) -> str:
    return "".join(f"  {line}\n" for line in text.splitlines())


def _cert_files(dirs: Dirs) -> dict[str, str]:
    dirs.write(dirs.cwd / "tls.crt", CERT)
    dirs.write(dirs.cwd / "tls.key", KEY)
    return {"POP3_TLS_CERT_PATH": "tls.crt", "POP3_TLS_KEY_PATH": "tls.key"}


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "needles"),
    [
        ({"POP3_PLAIN_PORT": "70000"}, ["plain-port: 70000 is not a port (0-65535)"]),
        ({"POP3_TLS_PORT": "-1"}, ["tls-port: -1 is not a port"]),
        ({"POP3_ADMIN_PORT": "http"}, ['admin-port: "http" is not a port']),
        ({"POP3_PORT": "2.5"}, ["port: 2.5 is not a port"]),
        ({"POP3_VERBOSE": "maybe"}, ['verbose: "maybe" is not a boolean']),
        ({"POP3_TLS_SELF_SIGNED": "2"}, ["tls-self-signed: 2 is not a boolean"]),
        ({"POP3_IDLE_TIMEOUT": "0"}, ["idle-timeout: 0 is not a number of seconds > 0"]),
        ({"POP3_LOGIN_TIMEOUT": "-5"}, ["login-timeout: -5 is not a number of seconds"]),
        ({"POP3_SHUTDOWN_TIMEOUT": "inf"}, ["shutdown-timeout: inf is not a number"]),
        ({"POP3_MAX_CONNECTIONS": "0"}, ["max-connections: 0 is not a whole number >= 1"]),
        ({"POP3_MAX_BAD_COMMANDS": "x"}, ["max-bad-commands:", "is not a whole number"]),
        ({"POP3_PLAIN_PORT": "@int x"}, ["plain-port: Cannot convert"]),
    ],
)
def test_bad_env_values_name_key_value_and_source(
    dirs: Dirs, env: dict[str, str], needles: list[str]
) -> None:
    name = next(iter(env))
    assert one(dirs.problems(env), *needles).endswith(f"(from env {name})")


def test_bad_file_values_name_the_file(dirs: Dirs) -> None:
    dirs.write(dirs.home_yaml, "tls-port: 99999\nverbose: sometimes\nmail-dir: ''\nhost: [a]\n")
    problems = dirs.problems()
    source = f"(from {dirs.home_yaml})"
    assert one(problems, "tls-port: 99999 is not a port", source)
    assert one(problems, 'verbose: "sometimes" is not a boolean', source)
    assert one(problems, "mail-dir: must not be empty", source)
    assert one(problems, "host: ['a'] is not text", source)


def test_unknown_keys_with_suggestions(dirs: Dirs) -> None:
    dirs.write(dirs.cwd_yaml, "tls-prot: 995\nfavourite-colour: blue\n")
    problems = dirs.problems({"POP3_JWT_SECRT": "x", "POP3_PLAIN_PROT": "1"})
    assert one(problems, "tls-prot: unknown key", str(dirs.cwd_yaml), "did you mean `tls-port`?")
    assert "did you mean" not in one(problems, "favourite-colour: unknown key")
    assert one(
        problems,
        "jwt-secrt: unknown key (from env POP3_JWT_SECRT)",
        "did you mean `jwt-secret` (POP3_JWT_SECRET)?",
    )
    assert one(problems, "plain-prot: unknown key", "`plain-port`")


@pytest.mark.parametrize(
    ("env", "key", "other"),
    [
        ({"POP3_TLS_CERT": CERT}, "tls-cert", "tls-key"),
        ({"POP3_TLS_KEY": KEY}, "tls-key", "tls-cert"),
        ({"POP3_AWS_ACCESS_KEY_ID": "AKIA"}, "aws-access-key-id", "aws-secret-access-key"),
        ({"POP3_AWS_SECRET_ACCESS_KEY": "s"}, "aws-secret-access-key", "aws-access-key-id"),
    ],
)
def test_half_pairs(dirs: Dirs, env: dict[str, str], key: str, other: str) -> None:
    line = one(dirs.problems(env), f"{key}: set without {other}")
    assert line.endswith(f"(from env {next(iter(env))})")


@pytest.mark.parametrize(("given", "missing"), [("cert", "key"), ("key", "cert")])
def test_half_path_pairs(dirs: Dirs, given: str, missing: str) -> None:
    env = {f"POP3_TLS_{given.upper()}_PATH": "tls.pem"}
    dirs.write(dirs.cwd / "tls.pem", CERT)
    one(dirs.problems(env), f"tls-{given}-path: set without tls-{missing}-path", "(from env")


def test_certificate_paths_must_exist_and_be_files(dirs: Dirs) -> None:
    (dirs.cwd / "dir.key").mkdir()
    env = {"POP3_TLS_CERT_PATH": "missing.crt", "POP3_TLS_KEY_PATH": "dir.key"}
    problems = dirs.problems(env)
    one(problems, f"tls-cert-path: {dirs.cwd / 'missing.crt'} does not exist (from env")
    one(problems, f"tls-key-path: {dirs.cwd / 'dir.key'} is not a file")


def test_certificate_paths_must_be_readable(dirs: Dirs, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _cert_files(dirs)
    key = dirs.cwd / "tls.key"
    real_access = os.access
    # chmod alone proves nothing when the tests run as root
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != key and real_access(p, mode))
    one(dirs.problems(env), f"tls-key-path: {key} is not readable (from env POP3_TLS_KEY_PATH)")


def test_inline_pem_wins_over_paths_and_paths_are_not_checked(dirs: Dirs) -> None:
    env = {
        "POP3_TLS_CERT": CERT,
        "POP3_TLS_KEY": KEY,
        "POP3_TLS_CERT_PATH": "missing.crt",
        "POP3_TLS_KEY_PATH": "missing.key",
    }
    s = dirs.load(env)
    assert s.tls.cert_pem == CERT and s.tls.configured


def test_inline_pem_must_look_like_pem(dirs: Dirs) -> None:
    problems = dirs.problems({"POP3_TLS_CERT": "/etc/tls.crt", "POP3_TLS_KEY": "not-pem-zz9"})
    one(problems, "tls-cert: is not an inline PEM certificate", "tls-cert-path")
    one(problems, "tls-key: is not an inline PEM private key")
    assert not any("not-pem-zz9" in p for p in problems)


def test_s3_rules(dirs: Dirs) -> None:
    line = one(dirs.problems({"POP3_AWS_S3_BUCKET": "mail"}), "aws-s3-region: not set")
    assert "(from env POP3_AWS_S3_BUCKET)" in line
    keys = {"POP3_AWS_ACCESS_KEY_ID": "AKIA", "POP3_AWS_SECRET_ACCESS_KEY": "sekrit"}
    one(dirs.problems(keys), "aws-s3-bucket: not set, but aws-access-key-id is")
    one(dirs.problems({"POP3_AWS_SESSION_TOKEN": "t"}), "aws-session-token: set without")
    for prefix in ("/srv/a", "../a", "a/../../b"):  # the folder store's sub-folder of mail-dir
        one(dirs.problems({"POP3_AWS_S3_PREFIX": prefix}), "aws-s3-prefix: must stay inside")
    s = dirs.load(
        {"POP3_AWS_S3_BUCKET": "b", "POP3_AWS_S3_REGION": "r", "POP3_AWS_S3_PREFIX": "/a"}
    )
    assert s.s3.prefix == "/a"  # an S3 key prefix may begin with /

    s = dirs.load({"POP3_AWS_S3_BUCKET": "mail", "POP3_AWS_S3_REGION": "eu-west-1"} | keys)
    assert s.s3.enabled and (s.s3.region, s.s3.secret_access_key) == ("eu-west-1", "sekrit")
    names = {"POP3_AWS_S3_BUCKET": "Old_Bucket.example-1", "POP3_AWS_S3_REGION": "us-gov-west-1"}
    s = dirs.load(names | keys | {"POP3_AWS_SECRET_ACCESS_KEY": "wJal/K7+MDENG=bPx!~"})
    assert (s.s3.bucket, s.s3.secret_access_key) == ("Old_Bucket.example-1", "wJal/K7+MDENG=bPx!~")
    # a bad bucket holds its default (unset): no follow-on "not set, but aws-access-key-id is"
    bad = dirs.problems({"POP3_AWS_S3_BUCKET": "my bucket", "POP3_AWS_S3_REGION": "r"} | keys)
    assert [line.split(":")[0] for line in bad] == ["aws-s3-bucket"]
    s = dirs.load({"POP3_AWS_S3_BUCKET": "mail", "POP3_AWS_S3_ENDPOINT_URL": "http://h:9000"})
    assert s.s3.region == "us-east-1" and s.s3.endpoint_url == "http://h:9000"
    assert s.sources["aws-s3-region"].startswith("default")


@pytest.mark.parametrize(
    "url",
    [
        "https://auth.example.com/check",
        "http://localhost:8000/",
        "http://127.0.0.5/",
        "http://[::1]:80/",
        "http://LOCALHOST/",
    ],
)
def test_basic_auth_url_accepted(dirs: Dirs, url: str) -> None:
    assert dirs.load({"POP3_HTTP_BASIC_AUTH_URL": url}).auth.http_basic_auth_url == url


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("ftp://example.com/", "is not an http(s) URL"),
        ("example.com/auth", "is not an http(s) URL"),
        ("http://", "is not an http(s) URL"),
        ("http://[::1/", "is not an http(s) URL"),
        ("http://auth.example.com/", "plain http to a host that is not loopback"),
        ("http://10.0.0.1/", "plain http to a host that is not loopback"),
    ],
)
def test_basic_auth_url_rejected(dirs: Dirs, url: str, needle: str) -> None:
    line = one(dirs.problems({"POP3_HTTP_BASIC_AUTH_URL": url}), "http-basic-auth-url:", needle)
    assert line.count("(from env POP3_HTTP_BASIC_AUTH_URL)") == 1


def test_basic_auth_url_insecure_allows_plain_http_with_a_warning(dirs: Dirs) -> None:
    env = {"POP3_HTTP_BASIC_AUTH_URL": "http://auth.example.com/"}
    dirs.write(dirs.etc_yaml, "http-basic-auth-url-insecure: true\n")
    s = dirs.load(env)
    assert s.auth.http_basic_auth_url_insecure
    assert any(w.startswith("http-basic-auth-url:") for w in s.warnings)


def test_endpoint_url_must_be_http(dirs: Dirs) -> None:
    env = {"POP3_AWS_S3_ENDPOINT_URL": "s3.example.com", "POP3_AWS_S3_BUCKET": "b"}
    one(dirs.problems(env), "aws-s3-endpoint-url:", "is not an http(s) URL")


def test_port_collisions(dirs: Dirs) -> None:
    one(dirs.problems({"POP3_TLS_PORT": "0", "POP3_PLAIN_PORT": "0"}), "no POP3 listener")
    one(dirs.problems({"POP3_TLS_PORT": "2110"}), "tls-port: 2110 is also plain-port")
    one(dirs.problems({"POP3_ADMIN_PORT": "2110"}), "admin-port: 2110 is also plain-port")
    s = dirs.load({"POP3_HOST": "192.0.2.1", "POP3_ADMIN_PORT": "2110"})  # different hosts
    assert s.admin.port == 2110


@pytest.mark.parametrize(
    ("env", "needles"),
    [
        ({"POP3_MAIL_DIR": "./var"}, ("state-dir: ", "the default mailbox")),  # ./var both
        ({"POP3_MAIL_DIR": "./var", "POP3_AWS_S3_PREFIX": "tls"}, ("var/tls is also",)),
        (
            {
                "POP3_MAIL_DIR": "./var",
                "POP3_AWS_S3_PREFIX": "inbox",
                "POP3_MAILBOXES": '{"jane": {"folder": "spool"}}',
            },
            ("var/spool is also", "mailboxes.jane"),
        ),
        (
            {"POP3_TLS_KEY_PATH": "./var/mail/k.pem", "POP3_TLS_CERT_PATH": "./c.pem"},
            ("tls-key-path: ", "k.pem is in the folder of the default mailbox"),
        ),
    ],
)
def test_state_and_keys_are_never_in_a_served_folder(
    dirs: Dirs, env: dict[str, str], needles: tuple[str, ...]
) -> None:
    for name in ("c.pem", "var/mail/k.pem"):
        dirs.write(dirs.cwd / name, "-----BEGIN X-----\n")
    one(dirs.problems(env), *needles, "served to its POP3 users")


S3 = {"POP3_AWS_S3_BUCKET": "mail", "POP3_AWS_S3_REGION": "eu-west-1"}
LOCK = {"POP3_LOCK": "s3"}


@pytest.mark.parametrize(
    ("env", "needles"),
    [
        (S3 | LOCK | {"POP3_AWS_S3_PREFIX": ".pop3srv-locks"}, ('lock-prefix: ".pop3srv-locks/"',)),
        (S3 | LOCK | {"POP3_LOCK_PREFIX": "/", "POP3_AWS_S3_PREFIX": ""}, ("the default mailbox",)),
        (
            {"POP3_MAILBOXES": '{"b": {"bucket": "x", "prefix": "locks/in", "region": "r"}}',
             "POP3_LOCK_PREFIX": "locks", **LOCK},
            ("mailboxes.b", '(prefix "locks/in")', "(from env POP3_MAILBOXES)"),
        ),
        (
            S3 | {"POP3_DELETE_MODE": "trash", "POP3_AWS_S3_PREFIX": "trash/inbox"},
            ('trash-prefix: "trash/" holds the trash',),
        ),
    ],
)  # fmt: skip
def test_s3_mailboxes_never_serve_locks_registry_or_trash(
    dirs: Dirs, env: dict[str, str], needles: tuple[str, ...]
) -> None:
    one(dirs.problems(env), *needles, "serves it to its POP3 users")


def test_a_served_lock_prefix_names_the_key_that_set_the_mailbox_prefix(dirs: Dirs) -> None:
    env = S3 | LOCK | {"POP3_AWS_S3_PREFIX": ".pop3srv-locks"}
    one(dirs.problems(env), "the default mailbox", "(from env POP3_AWS_S3_PREFIX)")


def test_s3_prefixes_apart_from_locks_and_trash_are_fine(dirs: Dirs) -> None:
    dirs.load(S3 | {"POP3_AWS_S3_PREFIX": "trash/inbox"})  # no trash kept: delete-mode delete
    dirs.load(S3 | LOCK | {"POP3_LOCK_PREFIX": "/", "POP3_AWS_S3_PREFIX": "inbox"})
    dirs.load(S3 | {"POP3_AWS_S3_PREFIX": ".pop3srv-locks"})  # lock: local keeps no S3 objects
    dirs.load(S3 | {"POP3_DELETE_MODE": "trash", "POP3_AWS_S3_PREFIX": "inbox"})


def test_the_default_layout_serves_no_state(dirs: Dirs) -> None:
    s = dirs.load({"POP3_MAILBOXES": '{"jane": {"folder": "jane"}}'})
    assert s.store.mail_dir == s.store.state_dir / "mail"  # below state-dir, not state-dir


def test_unparsable_files_are_named(dirs: Dirs) -> None:
    dirs.write(dirs.etc_yaml, "user: [unclosed\n")
    toml = dirs.write(dirs.cwd / "bad.toml", "user = \n")
    problems = dirs.problems({"POP3_CONFIG": str(toml)})
    line = one(problems, str(dirs.etc_yaml), "not valid YAML")
    assert "line" in line
    one(problems, str(toml), "not valid TOML")


def test_yaml_that_is_not_a_mapping(dirs: Dirs) -> None:
    dirs.write(dirs.cwd_yaml, "- a\n- b\n")
    one(dirs.problems(), str(dirs.cwd_yaml), "is not a mapping")


def test_all_problems_are_reported_together(dirs: Dirs) -> None:
    dirs.write(dirs.etc_yaml, "tls-prot: 1\nverbose: perhaps\n")
    env = {
        "POP3_PLAIN_PORT": "70000",
        "POP3_TLS_CERT_PATH": "missing.crt",
        "POP3_AWS_S3_BUCKET": "mail",
        "POP3_HTTP_BASIC_AUTH_URL": "http://auth.example.com",
    }
    with pytest.raises(ConfigError) as info:
        dirs.load(env)
    problems = info.value.problems
    assert len(problems) == 7, problems
    for key in ("tls-prot", "verbose", "plain-port", "tls-cert-path", "aws-s3-region"):
        assert any(p.startswith(f"{key}:") for p in problems), key
    assert str(info.value) == "\n".join(problems)


# --- secrets ---------------------------------------------------------------------------------

SECRETS = {
    "POP3_PASSWORD": "pw-zz9-secret",
    "POP3_JWT_SECRET": "jwt-zz9-secret",
    "POP3_TLS_CERT": CERT,
    "POP3_TLS_KEY": KEY,
    "POP3_AWS_ACCESS_KEY_ID": "AKIAZZ9",
    "POP3_AWS_SECRET_ACCESS_KEY": "aws-zz9-secret",
    "POP3_AWS_SESSION_TOKEN": "token-zz9-secret",
    "POP3_AWS_S3_BUCKET": "mail",
    "POP3_AWS_S3_REGION": "eu-west-1",
    "POP3_ADMIN_TOKEN": "admin-zz9-secret-long-enough",
    "POP3_HTTP_BASIC_AUTH_URL": "https://me:url-zz9-secret@auth.example.com/",
}
SECRET_TEXTS = [v for v in SECRETS.values() if "zz9-secret" in v] + ["key-material-zz9"]


def test_check_config_prints_values_not_secrets(
    dirs: Dirs, capsys: pytest.CaptureFixture[str]
) -> None:
    assert dirs.check(SECRETS) == 0
    out, err = capsys.readouterr()
    for secret in [*SECRET_TEXTS, "url-zz9-secret"]:
        assert secret not in out + err
    lines = out.splitlines()
    assert "password = ***  # env POP3_PASSWORD" in lines
    assert "admin-token = ***  # env POP3_ADMIN_TOKEN" in lines
    assert 'aws-access-key-id = "AKIAZZ9"  # env POP3_AWS_ACCESS_KEY_ID' in lines
    assert 'http-basic-auth-url = "https://me:***@auth.example.com/"' in out
    assert "plain-port = 2110  # default" in lines
    assert "verbose = false  # default" in lines
    assert f'mail-dir = "{dirs.cwd / "var" / "mail"}"  # default' in lines


def test_check_config_errors_go_to_stderr_with_exit_2(
    dirs: Dirs, capsys: pytest.CaptureFixture[str]
) -> None:
    dirs.write(dirs.cwd_yaml, "password: [pw-zz9-secret]\njwt-secret: {a: jwt-zz9-secret}\n")
    assert dirs.check({"POP3_PLAIN_PORT": "70000"}) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert all(line.startswith("config error: ") for line in lines)
    assert (
        "config error: plain-port: 70000 is not a port (0-65535) (from env POP3_PLAIN_PORT)"
        in lines
    )
    assert any(
        line.startswith("config error: password: the list given is not text") for line in lines
    )
    assert "pw-zz9-secret" not in err and "jwt-zz9-secret" not in err


def test_redacted(dirs: Dirs) -> None:
    r = redacted(dirs.load(SECRETS))
    assert r["password"] == {"value": "***", "source": "env POP3_PASSWORD"}
    assert r["tls-key"] == {"value": "***", "source": "env POP3_TLS_KEY"}
    assert r["tls-cert"] == {
        "value": f"(inline PEM, {len(CERT)} characters)",
        "source": "env POP3_TLS_CERT",
    }
    r = redacted(dirs.load())
    assert r["jwt-secret"] == {"value": "(unset)", "source": "default"}
    assert r["tls-cert-path"] == {"value": None, "source": "default"}
    assert r["state-dir"] == {"value": str(dirs.cwd / "var"), "source": "default"}
    assert "port" not in r


def test_repr_never_shows_secrets(dirs: Dirs) -> None:
    text = repr(dirs.load(SECRETS))
    for secret in SECRET_TEXTS:
        assert secret not in text
    assert "AKIAZZ9" in text  # the key id is not a secret


def test_problems_in_files_name_the_line(dirs: Dirs) -> None:
    dirs.write(
        dirs.home_yaml,
        "# pop3srv\nuser: jane\n\ntls-port: 99999\nmailboxes:\n  a: {}\n'verbos': true\n",
    )
    toml = dirs.write(dirs.cwd / "pop3.toml", 'user = "x"\nidle_timeout = 0\n')
    problems = dirs.problems({"POP3_CONFIG": str(toml)})
    assert f"tls-port: 99999 is not a port (0-65535) (from {dirs.home_yaml}), line 4" in problems
    assert (
        f"mailboxes.a: needs exactly one of bucket or folder (from {dirs.home_yaml}), line 5"
        in (problems)
    )
    one(problems, f"verbos: unknown key (from {dirs.home_yaml}), line 7", "did you mean `verbose`?")
    assert f"idle-timeout: 0 is not a number of seconds > 0 (from {toml}), line 2" in problems
