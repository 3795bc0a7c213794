"""From layered raw values to the typed settings: the ``port`` alias routed, then the schema
validated by pydantic, each failure turned into one line naming key, value and source. Part of
:mod:`pop3srv.config`.

A key whose value is bad is reported and validated again with its default, so that the checks
across keys (:mod:`pop3srv.config.rules`) still run and every problem is reported at once.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from pop3srv.config.keys import KEYS, Key, Places
from pop3srv.config.kinds import Port
from pop3srv.config.schema import Settings
from pop3srv.config.sources import DEFAULT_RANK, Raw

_PATHS = {k.path: k for k in KEYS.values() if k.path}
_FIELD_MESSAGES = {
    "unexpected_keyword_argument": "unknown field",
    "extra_forbidden": "unknown field",
    "missing_argument": "missing",
    "missing": "missing",
    "dataclass_type": "is not a table",
    "dataclass_arguments_type": "is not a table",
    "dict_type": "is not a table",
    "mapping_type": "is not a table",
}


@functools.cache
def _adapter() -> TypeAdapter[Settings]:
    return TypeAdapter(Settings)


def show(value: object, *, secret: bool = False, limit: int = 60) -> str:
    """How a bad value appears in a problem line; a secret's value never appears."""
    if secret:
        return f"the {_type_name(value)} given"
    text = json.dumps(value) if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(value: object) -> str:
    for types, name in ((bool, "boolean"), (int | float, "number"), (str, "text")):
        if isinstance(value, types):
            return name
    if isinstance(value, dict):
        return "mapping"
    return "list" if isinstance(value, list | tuple | set) else type(value).__name__


def typed_settings(
    layers: Mapping[str, Raw], places: Places, problems: list[str]
) -> tuple[Settings, dict[str, str], list[str]]:
    """The validated settings (bad values replaced by defaults and reported), each key's
    source, and the notes of the ``port`` alias."""
    values = {name: raw.value for name, raw in layers.items()}
    sources = {name: layers[name].source if name in layers else "default" for name in KEYS}
    notes = route_port(values, layers, sources, problems)
    context = {"places": places}
    try:
        return _adapter().validate_python(_nested(values), context=context), sources, notes
    except ValidationError as e:
        origins = {name: raw.origin for name, raw in layers.items()}
        bad = {_problem(error, origins, problems) for error in e.errors()}
    for name in bad:
        values.pop(name, None)
        if KEYS[name].default is not None:
            values[name] = KEYS[name].default
    return _adapter().validate_python(_nested(values), context=context), sources, notes


def _nested(values: Mapping[str, object]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        *groups, attribute = KEYS[name].path
        target = out
        for group in groups:
            target = target.setdefault(group, {})
        target[attribute] = value
    return out


def _problem(error: Any, origins: Mapping[str, str], problems: list[str]) -> str:
    """Appends the problem line of one pydantic error; returns the key's name."""
    loc = tuple(error["loc"])
    depth = next(i for i in range(len(loc), 0, -1) if loc[:i] in _PATHS)
    key: Key = _PATHS[loc[:depth]]
    rest = [str(part) for part in loc[depth:]]
    where = key.name + "".join(
        f".{part if i == 0 else part.replace('_', '-')}" for i, part in enumerate(rest)
    )
    kind = error["type"]
    if kind == "bad_value":
        message = f"{show(error['input'], secret=key.secret)} {error['msg']}"
    elif kind in _FIELD_MESSAGES:
        message = _FIELD_MESSAGES[kind]
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
    problems.append(f"{where}: {message} {origins.get(key.name, '(from default)')}")
    return key.name


def route_port(
    values: dict[str, object],
    layers: Mapping[str, Raw],
    sources: dict[str, str],
    problems: list[str],
) -> list[str]:
    """``port`` sets tls-port with a certificate configured (a plaintext listener left on the
    same port by default is turned off), else plain-port; an explicit key from the same or a
    later source wins. Returns the warnings."""
    raw = layers.get("port")
    values.pop("port", None)
    sources.pop("port", None)
    if raw is None:
        return []
    try:
        port = TypeAdapter(Port).validate_python(raw.value)
    except ValidationError:
        problems.append(f"port: {show(raw.value)} is not a port (0-65535) {raw.origin}")
        return []
    target = "tls-port" if _certificate(values) else "plain-port"
    explicit = layers.get(target)
    if explicit is not None and explicit.rank > DEFAULT_RANK and explicit.rank >= raw.rank:
        return [
            f"port: {port} ignored (from {raw.source}): {target} is set (from {explicit.source})"
        ]
    values[target], sources[target] = port, f"{raw.source} (via port)"
    plain = layers.get("plain-port")
    if target == "plain-port" or (plain is not None and plain.rank > DEFAULT_RANK):
        return []
    if values.get("plain-port") not in (port, str(port)):
        return []
    values["plain-port"], sources["plain-port"] = 0, f"{raw.source} (via port)"
    return [
        f"port: {port} with a certificate moves the TLS listener to {port}, as in "
        f"aws-ses-pop3-server (from {raw.source}); the plaintext listener (default "
        f"plain-port {port}) is off: set plain-port to keep one"
    ]


def _certificate(values: Mapping[str, object]) -> bool:
    def given(name: str) -> bool:
        return values.get(name) not in (None, "")

    inline = given("tls-cert") and given("tls-key")
    return inline or (given("tls-cert-path") and given("tls-key-path"))
