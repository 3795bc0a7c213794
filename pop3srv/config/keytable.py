"""The configuration key table of docs/configuration.md, derived from the schema
(``scripts/config-table`` prints it; tests compare it with the page). Part of
:mod:`pop3srv.config`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from pop3srv.config.keys import KEYS


def render_default(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{'true' if value else 'false'}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    if isinstance(value, Path):
        value = f"./{value}" if not value.is_absolute() else str(value)
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, Mapping):
        value = dict(value)
    return f"`{json.dumps(value)}`" if not isinstance(value, int) else f"`{value}`"


def key_table() -> list[str]:
    """One Markdown row per key: name, environment variable, default, origin, meaning."""
    lines = [
        "| key | environment | default | from | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, key in KEYS.items():
        origin = "original" if key.original else "pop3srv"
        meaning = key.doc.replace("|", "\\|")
        lines.append(
            f"| `{name}` | `{key.env}` | {render_default(key.default)} | {origin} | {meaning} |"
        )
    return lines
