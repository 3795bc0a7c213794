"""Drop-in fixes: the original's example config.yaml starts as it is (the ``port`` alias moves
the TLS listener, the plaintext one gets out of the way), Kubernetes service-link variables are
ignored, and state/mail folders that resolve to system directories are warned about."""

from __future__ import annotations

import json
import os
import poplib
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trustme

from pop3srv.config import Settings, load_settings, main_check_config
from tests.config.test_load import Dirs, dirs, one

__all__ = ["dirs"]  # the fixture, re-used

EXAMPLE = Path(__file__).parent.parent / "data" / "aws-ses-pop3-server-example.yaml"


def _pem_pair(tmp: Path) -> tuple[str, str]:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost")
    cert = leaf.cert_chain_pems[0].bytes().decode()
    key = leaf.private_key_pem.bytes().decode()
    (tmp / "tls.crt").write_text(cert)
    (tmp / "tls.key").write_text(key)
    return cert, key


def _indented(pem: str) -> str:
    return "".join(f"  {line}\n" for line in pem.strip().splitlines())


def original_example(tmp: Path) -> str:
    """The original README's example, verbatim but for real certificates and their paths."""
    cert, key = _pem_pair(tmp)
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace(
        "  -----BEGIN CERTIFICATE-----\n  [ ... ]\n  -----END CERTIFICATE-----\n", _indented(cert)
    )
    text = text.replace(
        "  -----BEGIN PRIVATE KEY-----\n  [ ... ]\n  -----END PRIVATE KEY-----\n", _indented(key)
    )
    text = text.replace('"etc/aws-ses-pop3-server/tls.crt"', f'"{tmp / "tls.crt"}"')
    text = text.replace('"etc/aws-ses-pop3-server/tls"', f'"{tmp / "tls.key"}"')
    assert "[ ... ]" not in text and "etc/aws-ses" not in text
    return text


def test_the_example_is_the_original_readme_verbatim() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert text.startswith("# GENERAL SETTINGS\n") and "port: 2110 # optional" in text
    assert 'aws-s3-bucket: "aws-ses-pop3-server"' in text


def _moved(s: Settings) -> None:
    assert (s.listen.tls_port, s.listen.plain_port) == (2110, 0)
    assert s.tls.configured
    assert len([w for w in s.warnings if w.startswith("port: 2110")]) == 1


def test_original_example_config_loads(dirs: Dirs) -> None:
    dirs.write(dirs.cwd_yaml, original_example(dirs.cwd))
    s = dirs.load()
    _moved(s)
    assert s.sources["plain-port"] == f"{dirs.cwd_yaml} (via port)"
    assert s.auth.jwt_secret == "k2ya2iTNRdlsixVuTi00" and s.s3.region == "eu-central-1"
    warning = one(list(s.warnings), "port: 2110")
    assert "plain-port" in warning and "plaintext listener" in warning


def test_original_example_passes_check_config(
    dirs: Dirs, capsys: pytest.CaptureFixture[str]
) -> None:
    dirs.write(dirs.cwd_yaml, original_example(dirs.cwd))
    assert dirs.check() == 0
    out, err = capsys.readouterr()
    assert "tls-port = 2110" in out and "plain-port = 0" in out
    assert "config error" not in err and err.count("config warning: port: 2110") == 1


def test_the_same_through_environment_variables(dirs: Dirs) -> None:
    _pem_pair(dirs.cwd)
    env = {"POP3_PORT": "2110", "POP3_TLS_CERT_PATH": "tls.crt", "POP3_TLS_KEY_PATH": "tls.key"}
    _moved(dirs.load(env))
    # an explicit plain-port keeps its listener; a clash with it is still an error
    s = dirs.load(env | {"POP3_PLAIN_PORT": "1110"})
    assert (s.listen.tls_port, s.listen.plain_port) == (2110, 1110)
    assert not any(w.startswith("port:") for w in s.warnings)
    one(dirs.problems(env | {"POP3_PLAIN_PORT": "2110"}), "tls-port: 2110 is also plain-port")


def test_port_without_certificate_keeps_both_listeners(dirs: Dirs) -> None:
    s = dirs.load({"POP3_PORT": "2110"})
    assert (s.listen.tls_port, s.listen.plain_port) == (2995, 2110)
    assert not any(w.startswith("port:") for w in s.warnings)


def test_original_example_serves(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(original_example(tmp_path), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("POP3_")}
    env["HOME"] = str(tmp_path)
    ports_file = tmp_path / "ports.json"
    command = [sys.executable, "-m", "pop3srv", "serve", "--any-free-port"]
    process = subprocess.Popen(
        [*command, "--ports-file", str(ports_file)],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not ports_file.exists() or not ports_file.read_text():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        ports = json.loads(ports_file.read_text())
        assert ports["plain"] == [] and ports["tls"]
        context = ssl.create_default_context(cafile=None)
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        host, port = ports["tls"][0]
        client = poplib.POP3_SSL(host, port, context=context, timeout=10)
        assert client.getwelcome().startswith(b"+OK")
        client.quit()
        process.terminate()
        _out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert err.count("config: port: 2110 with a certificate moves the TLS listener") == 1


# --- Kubernetes service links ------------------------------------------------------------------

SERVICE_LINKS = {
    "POP3_PORT": "tcp://10.96.12.34:995",
    "POP3_SERVICE_HOST": "10.96.12.34",
    "POP3_SERVICE_PORT": "995",
    "POP3_SERVICE_PORT_POP3S": "995",
    "POP3_PORT_995_TCP": "tcp://10.96.12.34:995",
    "POP3_PORT_995_TCP_ADDR": "10.96.12.34",
    "POP3_PORT_995_TCP_PORT": "995",
    "POP3_PORT_995_TCP_PROTO": "tcp",
}


def test_service_link_variables_are_ignored_with_one_warning(dirs: Dirs) -> None:
    s = dirs.load(SERVICE_LINKS)
    assert (s.listen.tls_port, s.listen.plain_port) == (2995, 2110)
    assert set(s.sources.values()) == {"default"}
    warning = one(list(s.warnings), "service-link")
    assert "enableServiceLinks: false" in warning and "8 " in warning


def test_a_real_pop3_port_still_works_next_to_service_links(dirs: Dirs) -> None:
    env = SERVICE_LINKS | {"POP3_PORT": "995"}
    s = dirs.load(env)
    assert s.listen.plain_port == 995 and s.sources["plain-port"] == "env POP3_PORT (via port)"
    assert "7 " in one(list(s.warnings), "service-link")
    assert not any("service-link" in w for w in dirs.load({"POP3_PORT": "995"}).warnings)


def test_service_link_shaped_names_are_the_only_ones_ignored(dirs: Dirs) -> None:
    one(dirs.problems({"POP3_SERVICE_HOSTS": "x"}), "service-hosts: unknown key")
    one(dirs.problems({"POP3_PORT": "udp-ish"}), "port:", "is not a port")


# --- system directories -----------------------------------------------------------------------


def test_state_and_mail_dir_resolving_to_system_directories_warn(dirs: Dirs) -> None:
    s = load_settings({}, cwd=Path("/"), home=dirs.home, etc_dir=dirs.etc)
    assert s.store.state_dir == Path("/var") and s.store.mail_dir == Path("/var/mail")
    state = one(list(s.warnings), "state-dir: /var is a system directory")
    assert "POP3_STATE_DIR" in state and "systemd" in state
    one(list(s.warnings), "mail-dir: /var/mail is a system directory")
    assert not any("system directory" in w for w in dirs.load().warnings)
    s = dirs.load({"POP3_STATE_DIR": "/var/lib", "POP3_MAIL_DIR": "/srv/mail"})
    one(list(s.warnings), "state-dir: /var/lib is a system directory", "(from env POP3_STATE_DIR)")
    assert not any(w.startswith("mail-dir") for w in s.warnings)


def test_check_config_prints_the_warning(capsys: pytest.CaptureFixture[str], dirs: Dirs) -> None:
    assert main_check_config({}, cwd=Path("/"), home=dirs.home, etc_dir=dirs.etc) == 0
    assert "config warning: state-dir: /var is a system directory" in capsys.readouterr().err
