"""Every configuration key as the schema declares it (:data:`KEYS`, walked from
:class:`~pop3srv.config.schema.Settings`), the names users see, and where relative paths point.
Part of :mod:`pop3srv.config`."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pop3srv.config.schema import PORT_DOC, Settings


@dataclass(frozen=True)
class Key:
    """One configuration key as the schema declares it."""

    name: str  # dash form: ``jwt-secret``
    path: tuple[str, ...]  # attribute path in Settings; () for the ``port`` alias
    default: object  # None: unset
    doc: str
    secret: bool
    original: bool
    verbatim: bool  # text or path: an environment value is taken as typed, never parsed

    @property
    def env(self) -> str:
        return "POP3_" + self.name.upper().replace("-", "_")


_VERBATIM = {str, Path, type(None)}


def _bases(annotation: Any) -> set[Any]:
    """``Annotated[str, ...] | None`` -> ``{str, NoneType}``."""
    args = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else ()
    return {get_args(a)[0] if get_origin(a) is Annotated else a for a in args or (annotation,)}


def _walk(cls: Any, path: tuple[str, ...]) -> Iterator[Key]:
    for f in dataclasses.fields(cls):
        info = cls.__pydantic_fields__[f.name]
        extra = info.json_schema_extra
        if isinstance(extra, dict) and "key" in extra:
            default = info.default_factory() if info.default_factory else info.default
            verbatim = _bases(info.annotation) <= _VERBATIM
            doc = " ".join((info.description or "").split())
            yield Key(
                str(extra["key"]), (*path, f.name), default, doc, bool(extra["secret"]),
                bool(extra["original"]), verbatim
            )  # fmt: skip
            if extra["key"] == "host":
                yield Key("port", (), None, PORT_DOC, False, True, False)
        elif dataclasses.is_dataclass(info.annotation):
            yield from _walk(info.annotation, (*path, f.name))


#: Every key by its dash name, in the schema's order.
KEYS = {k.name: k for k in _walk(Settings, ())}


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
