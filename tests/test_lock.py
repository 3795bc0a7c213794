"""requirements.lock: the image's dependencies, pinned with hashes, made from pyproject.toml.

``make lock`` regenerates it (pip-compile with hashes, for the image's Python). These tests fail
when pyproject.toml's runtime dependencies (or the build backend) change without a new lock, when
a pin no longer satisfies pyproject's range, or when the lock loses a hash or a dependency path.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
RUNTIME_ROOT = "pop3srv (pyproject.toml)"
BUILD_ROOT = "pop3srv (pyproject.toml::build-system.requires)"


@dataclass
class Pin:
    version: str
    hashes: list[str] = field(default_factory=list)
    via: set[str] = field(default_factory=set)


@cache
def pins() -> dict[str, Pin]:
    """Package name (canonical) -> its pin, hashes and the ``# via`` annotation's names."""
    found: dict[str, Pin] = {}
    current: Pin | None = None
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line):
            current = found[canonicalize_name(match[1])] = Pin(match[2])
        elif current and (match := re.search(r"--hash=(sha256:[0-9a-f]{64})", line)):
            current.hashes.append(match[1])
        elif current and (match := re.match(r"^\s+# via (.+)$", line)):
            current.via = {
                name if name.startswith("pop3srv (") else canonicalize_name(name)
                for name in (part.strip() for part in match[1].split(", "))
            }
    return found


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _requirements(section: str) -> list[Requirement]:
    project = _pyproject()
    table = project["project" if section == RUNTIME_ROOT else "build-system"]
    assert isinstance(table, dict)
    key = "dependencies" if section == RUNTIME_ROOT else "requires"
    return [Requirement(text) for text in table[key]]


def test_every_runtime_and_build_requirement_is_pinned_inside_its_range() -> None:
    for root in (RUNTIME_ROOT, BUILD_ROOT):
        for requirement in _requirements(root):
            pin = pins().get(canonicalize_name(requirement.name))
            assert pin is not None, f"{requirement.name} is not in requirements.lock: make lock"
            assert requirement.specifier.contains(pin.version, prereleases=True), (
                f"requirements.lock pins {requirement.name}=={pin.version}, outside "
                f"pyproject.toml's {requirement.specifier}: make lock"
            )
            assert root in pin.via, f"{requirement.name}: not locked as a requirement of {root}"


def test_the_lock_has_no_top_level_package_pyproject_does_not_ask_for() -> None:
    for root in (RUNTIME_ROOT, BUILD_ROOT):
        wanted = {canonicalize_name(r.name) for r in _requirements(root)}
        locked = {name for name, pin in pins().items() if root in pin.via}
        assert locked == wanted, f"{root}: regenerate with make lock"


def test_every_pin_has_hashes_and_a_path_from_pyproject() -> None:
    assert len(pins()) >= 20
    reached = {RUNTIME_ROOT, BUILD_ROOT}
    changed = True
    while changed:  # a pin is reached when something that wants it is reached
        fresh = {name for name, pin in pins().items() if pin.via & reached} - reached
        reached |= fresh
        changed = bool(fresh)
    orphans = sorted(set(pins()) - reached)
    assert not orphans, f"locked but wanted by nothing from pyproject.toml: {orphans}"
    unhashed = sorted(name for name, pin in pins().items() if not pin.hashes)
    assert not unhashed


def test_the_lock_was_made_for_the_images_python() -> None:
    header = LOCK.read_text(encoding="utf-8").split("\n", 3)[:3]
    made_with = re.search(r"with Python (\d+\.\d+)", " ".join(header))
    assert made_with, header
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    bases = set(re.findall(r"^FROM python:(\d+\.\d+)-", dockerfile, flags=re.MULTILINE))
    assert bases == {made_with[1]}, "the lock's markers were evaluated for another Python"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--generate-hashes" in makefile and "requirements.lock" in makefile
