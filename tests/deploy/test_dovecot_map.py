"""docs/admin.md's "Coming from Dovecot" tables (ops-6): every ``pop3srv`` command in them
parses with the real command line, every key they name exists, every route is in the admin
API's route table."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from pop3srv import cli
from pop3srv.config.schema import KEYS

ROOT = Path(__file__).resolve().parents[2]
ADMIN_MD = (ROOT / "docs" / "admin.md").read_text()
SECTION = ADMIN_MD.split("## Coming from Dovecot", 1)[1].split("\n## ", 1)[0]
ROWS = [line for line in SECTION.splitlines() if line.startswith("| ") and "---" not in line]
OURS = [line.rsplit(" | ", 1)[1] for line in ROWS[1:] if not line.startswith("| Dovecot")]
SPANS = [span for cell in OURS for span in re.findall(r"`([^`]+)`", cell)]
COMMANDS = [span.split(" \\|")[0] for span in SPANS if span.startswith("pop3srv ")]
KEY_LIKE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)+$")
#: spans that look like keys but are values of one (reasons and outcomes, a group name)
NOT_KEYS = {"bad-password", "unknown-user", "taken_over"}


def test_the_section_has_both_tables() -> None:
    assert len(COMMANDS) >= 6
    assert sum(1 for span in SPANS if KEY_LIKE.match(span)) >= 15


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_parses(command: str) -> None:
    placeholders = {"NAME": "work", "ID": "s1"}
    words = [placeholders.get(word, word) for word in shlex.split(command)[1:]]
    cli._parser().parse_args(words)  # SystemExit on an unknown command or option


@pytest.mark.parametrize("key", sorted({s for s in SPANS if KEY_LIKE.match(s)} - NOT_KEYS))
def test_each_key_exists(key: str) -> None:
    assert key in KEYS


@pytest.mark.parametrize(
    "route", sorted({s for s in SPANS if re.match(r"^(GET|DELETE|POST) /", s)})
)
def test_each_route_is_the_admin_apis(route: str) -> None:
    method, path = route.split(" ", 1)
    table = (ROOT / "docs" / "admin.md").read_text().split("## Coming from Dovecot")[0]
    assert f"`{method} {path}`" in table or f"`{route}`" in (ROOT / "README.md").read_text()
