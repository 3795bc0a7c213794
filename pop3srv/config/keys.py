"""Every configuration key as the schema declares it (:data:`KEYS`, walked from
:class:`~pop3srv.config.schema.Settings`), their names, and where relative paths point. Part of
:mod:`pop3srv.config`."""

from __future__ import annotations

import dataclasses
import difflib
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pop3srv.config.schema import Settings

#: The original's single port is not a setting of its own (see pop3srv.config.load.route_port).
PORT_DOC = (
    "the original's single port: sets `tls-port` when a certificate is configured (a "
    "plaintext listener left on that port by default is turned off), else `plain-port`; an "
    "explicit `tls-port`/`plain-port` from the same or a later source wins"
)


@dataclass(frozen=True)
class Key:
    name: str  # dash form: ``jwt-secret``
    path: tuple[str, ...]  # attribute path in Settings; () for the ``port`` alias
    default: object  # None: unset
    doc: str
    secret: bool
    original: bool  # a key of aws-ses-pop3-server
    verbatim: bool  # text or path: an environment value is taken as typed, never parsed

    @property
    def env(self) -> str:
        return "POP3_" + self.name.upper().replace("-", "_")


def _verbatim(annotation: Any) -> bool:
    """Text or path (or unset): ``Annotated[str, ...] | None`` -> {str, NoneType}."""
    union = get_origin(annotation) in (Union, UnionType)
    types = get_args(annotation) if union else (annotation,)
    return {getattr(a, "__origin__", a) for a in types} <= {str, Path, type(None)}


def _walk(cls: Any, path: tuple[str, ...]) -> Iterator[Key]:
    for name, info in cls.__pydantic_fields__.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and "key" in extra:
            doc = " ".join((info.description or "").split())
            k = Key(str(extra["key"]), (*path, name), info.default, doc, bool(extra["secret"]),
                    bool(extra["original"]), _verbatim(info.annotation))  # fmt: skip
            yield k
            if k.name == "host":
                yield Key("port", (), None, PORT_DOC, False, True, False)
        elif dataclasses.is_dataclass(info.annotation):
            yield from _walk(info.annotation, (*path, name))


#: Every key by its dash name, in the schema's order.
KEYS = {k.name: k for k in _walk(Settings, ())}


def flat(settings: Settings) -> dict[str, object]:
    """Every key (dash form; not the ``port`` alias) -> its value in ``settings``."""
    return {name: functools.reduce(getattr, k.path, settings) for name, k in KEYS.items() if k.path}


def nested(values: Mapping[str, object]) -> dict[str, Any]:
    """Dash key -> value, as the nested mapping the settings classes are validated from."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        *groups, attribute = KEYS[name].path
        target = out
        for group in groups:
            target = target.setdefault(group, {})
        target[attribute] = value
    return out


def normalise(name: str) -> str:
    """A key as written in a file or after ``POP3_`` -> dash form."""
    return name.strip().lower().replace("_", "-")


def suggestion(name: str, *, in_env: bool = False) -> str:
    """``; did you mean `tls-port`?``-style hint for an unknown key, or ""."""
    close = difflib.get_close_matches(normalise(name), KEYS, n=1, cutoff=0.6)
    if not close:
        return ""
    return f"; did you mean `{close[0]}`" + (f" ({KEYS[close[0]].env})?" if in_env else "?")


@dataclass(frozen=True)
class Places:
    """Where relative paths and ``~`` point."""

    cwd: Path
    home: Path

    def path(self, text: str) -> Path:
        if text == "~" or text.startswith("~/"):
            return self.home / text[2:]
        return self.cwd / text
