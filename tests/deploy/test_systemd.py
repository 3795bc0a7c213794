"""deploy/pop3srv.service: systemd accepts it without a warning, its hardening scores as systemd
rates it, and what it sets is what pop3srv needs.

``systemd-analyze verify`` checks that every ``Exec*`` program exists, so it runs with
``--root`` on a folder holding the unit as shipped, this host's systemd units, and the programs
it names: ``/opt/pop3srv/bin/pop3srv`` is this checkout's installed ``pop3srv`` script.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pop3srv.config import ConfigError, load_settings
from pop3srv.config.schema import KEYS

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "pop3srv.service"
INSTALL_PREFIX = "/opt/pop3srv/"
MAX_EXPOSURE = "20"  # systemd-analyze security's 0-100 scale: 2.0 of 10 ("OK")


def _systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail("systemd-analyze not found: `make test` installs Debian's systemd")
    return found


def _directives(text: str) -> dict[str, list[str]]:
    """``Section.Key`` -> its values in order (systemd keys repeat)."""
    found: dict[str, list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.setdefault(f"{section}.{key}", []).append(value)
    return found


def _one(directives: dict[str, list[str]], key: str) -> str:
    values = directives.get(key, [])
    assert len(values) == 1, f"{key}: {values}"
    return values[0]


def _environment(directives: dict[str, list[str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in directives.get("Service.Environment", []):
        for item in value.split():
            name, _, setting = item.partition("=")
            env[name] = setting
    return env


def _root_with(tmp_path: Path, unit_text: str, name: str = "pop3srv.service") -> Path:
    root = tmp_path / "root"
    if not root.exists():
        shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
        for key, values in _directives(unit_text).items():
            if not key.startswith("Service.Exec"):
                continue
            for value in values:
                program = value.lstrip("-@:+!").split()[0]
                if program.startswith(INSTALL_PREFIX):
                    source = Path(sys.executable).parent / program.rsplit("/", 1)[1]
                else:
                    source = Path(program)
                target = root / program.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
    units = root / "etc/systemd/system"
    units.mkdir(parents=True, exist_ok=True)
    (units / name).write_text(unit_text, encoding="utf-8")
    return root


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_systemd_analyze(), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_systemd_analyze_verify_accepts_the_unit_without_a_warning(tmp_path: Path) -> None:
    root = _root_with(tmp_path, UNIT.read_text(encoding="utf-8"))
    done = _analyze("verify", f"--root={root}", "pop3srv.service")
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("NoNewPrivileges=yes", "NoNewPrivilege=yes"),  # a misspelt key is ignored with a warning
        ("Type=exec", "Type=exex"),
        ("ExecStart=/opt/pop3srv/bin/pop3srv", "ExecStart=/opt/pop3srv/bin/pop3srvd"),
    ],
)
def test_verify_as_used_above_catches_a_broken_unit(tmp_path: Path, old: str, new: str) -> None:
    text = UNIT.read_text(encoding="utf-8")
    assert old in text
    root = _root_with(tmp_path, text)
    _root_with(tmp_path, text.replace(old, new), name="broken.service")
    done = _analyze("verify", f"--root={root}", "broken.service")
    assert (done.returncode, done.stdout + done.stderr) != (0, "")


def test_hardening_exposure_stays_low(tmp_path: Path) -> None:
    root = _root_with(tmp_path, UNIT.read_text(encoding="utf-8"))
    done = _analyze(
        "security", "--offline=yes", f"--root={root}", f"--threshold={MAX_EXPOSURE}",
        "pop3srv.service",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr


def test_unit_runs_unprivileged_with_only_the_low_port_capability() -> None:
    unit = _directives(UNIT.read_text(encoding="utf-8"))
    user = unit.get("Service.User", ["root"])[0]
    assert user != "root" or _one(unit, "Service.DynamicUser") == "yes"
    assert _one(unit, "Service.AmbientCapabilities") == "CAP_NET_BIND_SERVICE"
    assert _one(unit, "Service.CapabilityBoundingSet") == "CAP_NET_BIND_SERVICE"
    assert _one(unit, "Service.NoNewPrivileges") == "yes"
    assert _one(unit, "Service.ProtectSystem") == "strict"
    assert _one(unit, "Service.StateDirectory").split()[0] == "pop3srv"
    reload = _one(unit, "Service.ExecReload")
    assert re.fullmatch(r"\S*kill -(HUP|SIGHUP|s HUP) \$MAINPID", reload), reload
    start = _one(unit, "Service.ExecStart")
    assert start == f"{INSTALL_PREFIX}bin/pop3srv serve"


def test_unit_environment_is_a_valid_configuration_with_explicit_paths(tmp_path: Path) -> None:
    unit = _directives(UNIT.read_text(encoding="utf-8"))
    env = _environment(unit)
    assert set(env) - {"POP3_CONFIG"} <= {key.env for key in KEYS.values()}, "configuration keys"
    made = ["/var/lib/" + name for name in _one(unit, "Service.StateDirectory").split()]
    state = made[0]
    assert env["POP3_STATE_DIR"] == state and env["POP3_MAIL_DIR"] in made, "systemd makes both"
    assert _one(unit, "Service.WorkingDirectory") == state
    assert env["POP3_CONFIG"].startswith("/etc/pop3srv/")
    assert int(env["POP3_TLS_PORT"]) < 1024 and int(env["POP3_PLAIN_PORT"]) < 1024
    defaults = tomllib.loads((ROOT / "pop3srv" / "settings.toml").read_text(encoding="utf-8"))
    stop = _one(unit, "Service.TimeoutStopSec")
    assert int(stop) > defaults["shutdown_timeout"], "SIGKILL only after the drain"
    (tmp_path / "config.yaml").write_text("password: a-real-password\n")
    moved = {
        **env,
        "POP3_CONFIG": str(tmp_path / "config.yaml"),
        "POP3_STATE_DIR": str(tmp_path / "state"),
        "POP3_MAIL_DIR": str(tmp_path / "state" / "mail"),
    }
    try:
        settings = load_settings(moved, cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc")
    except ConfigError as exc:
        pytest.fail(f"{exc.problems}")
    assert (settings.listen.tls_port, settings.listen.plain_port) == (995, 110)
