"""``load_settings``: the sources validated by pydantic into one frozen :class:`Settings` and
checked across keys, or a :class:`ConfigError` listing every problem, one line each."""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import TypeAdapter, ValidationError

from pop3srv.config import rules
from pop3srv.config.kinds import Port
from pop3srv.config.schema import KEYS, Settings, flat, nested
from pop3srv.config.sources import DEFAULT_RANK, Layer, read_layers

DEFAULT_ETC_DIR = Path("/etc/aws-ses-pop3-server")
_PATHS = {k.path: k for k in KEYS.values() if k.path}
_TYPE_NAMES = {bool: "boolean", int | float: "number", str: "text", dict: "mapping",
               list | tuple | set: "list"}  # fmt: skip
_MESSAGES = dict.fromkeys(("unexpected_keyword_argument", "extra_forbidden"), "unknown field")
_MESSAGES |= dict.fromkeys(("missing", "missing_argument"), "missing")
_MESSAGES |= dict.fromkeys(("dataclass_type", "dataclass_arguments_type", "dict_type",
                            "mapping_type"), "is not a table")  # fmt: skip


class ConfigError(Exception):
    """The configuration is invalid; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_settings(
    env: Mapping[str, str] | None = None,
    *,
    cwd: Path | None = None,
    home: Path | None = None,
    etc_dir: Path = DEFAULT_ETC_DIR,
) -> Settings:
    """Read every source, check everything, and return the settings or raise
    :class:`ConfigError` listing all problems found."""
    env = os.environ if env is None else env
    cwd, home = cwd or Path.cwd(), home or Path.home()
    problems: list[str] = []
    notes: list[str] = []
    values, layers = read_layers(env, cwd, home, etc_dir, problems=problems, notes=notes)
    sources = {name: layers[name].source if name in layers else "default" for name in KEYS}
    notes += route_port(values, layers, sources, problems)
    if not values.get("aws-s3-region") and values.get("aws-s3-endpoint-url"):
        values["aws-s3-region"] = "us-east-1"
        sources["aws-s3-region"] = "default (aws-s3-endpoint-url is set)"
    settings, bad = _validate(values, layers, {"cwd": cwd, "home": home}, problems)
    typed = flat(settings)
    cross = [p for p in rules.problems(typed, sources) if not _follow_on(p, bad)]
    if problems + cross:
        raise ConfigError(problems + cross)
    notes += rules.warnings(typed, sources)
    auth = replace(settings.auth, providers=rules.effective_providers(typed))
    return replace(settings, auth=auth, sources=MappingProxyType(sources), warnings=tuple(notes))


@functools.cache
def _adapter() -> TypeAdapter[Settings]:
    return TypeAdapter(Settings)


def _validate(
    values: dict[str, object],
    layers: Mapping[str, Layer],
    context: dict[str, Path],  # where relative paths point: cwd and home
    problems: list[str],
) -> tuple[Settings, set[str]]:
    """A key whose value is bad is reported, then validated again with its default, so that the
    checks across keys still run and every problem is reported at once; returns the settings
    and the bad keys."""
    try:
        return _adapter().validate_python(nested(values), context=context), set()
    except ValidationError as e:
        bad = {_problem(error, layers, problems) for error in e.errors()}
    defaults = {name: KEYS[name].default for name in bad if KEYS[name].default is not None}
    values = {k: v for k, v in values.items() if k not in bad} | defaults
    return _adapter().validate_python(nested(values), context=context), bad


def _follow_on(problem: str, bad: set[str]) -> bool:
    """Whether a check across keys involves a bad key, which holds its default: the problem
    would be about that default. A dashed key counts wherever it is named; one-word keys
    (``host``, ``users``) only as the subject, or ``mailboxes`` as a user's mailbox table."""
    subject = re.match(r"[a-z0-9-]+", problem)
    named = set(re.findall(r"(?<![\w.])[a-z0-9]+(?:-[a-z0-9]+)+(?![\w-])", problem))
    if "mailboxes" in bad and "no such entry in mailboxes" in problem:
        return True
    return bool(bad & named) or (subject is not None and subject[0] in bad)


def show(value: object, *, secret: bool = False, limit: int = 60) -> str:
    """How a bad value appears in a problem line; a secret's value never appears."""
    if secret:
        name = next((n for t, n in _TYPE_NAMES.items() if isinstance(value, t)), None)
        return f"the {name or type(value).__name__} given"
    text = json.dumps(value) if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _problem(error: Any, layers: Mapping[str, Layer], problems: list[str]) -> str:
    """Appends the problem line of one pydantic error; returns the key's name."""
    loc = tuple(error["loc"])
    depth = next(i for i in range(len(loc), 0, -1) if loc[:i] in _PATHS)
    key = _PATHS[loc[:depth]]
    rest = [str(part) for part in loc[depth:]]  # a table entry's name, then its field
    where = ".".join([key.name, *rest[:1], *(part.replace("_", "-") for part in rest[1:])])
    kind, message = error["type"], str(error["msg"]).removeprefix("Value error, ")
    if kind == "bad_value":
        message = f"{show(error['input'], secret=key.secret)} {message}"
    elif kind == "literal_error":  # one of the choices: "'a' or 'b'"
        message = "must be " + error["ctx"]["expected"].replace("'", "")
    message = _MESSAGES.get(kind, message)
    origin = layer.origin(key.name) if (layer := layers.get(key.name)) else "(from default)"
    problems.append(f"{where}: {message} {origin}")
    return key.name


def route_port(
    values: dict[str, object],
    layers: dict[str, Layer],
    sources: dict[str, str],
    problems: list[str],
) -> list[str]:
    """``port`` sets tls-port with a certificate configured (a plaintext listener left on the
    same port by default is turned off), else plain-port; an explicit key from the same or a
    later source wins. Returns the warnings."""
    raw, layer = values.pop("port", None), layers.pop("port", None)
    sources.pop("port", None)
    if layer is None:
        return []
    try:
        port = TypeAdapter(Port).validate_python(raw)
    except ValidationError:
        problems.append(f"port: {show(raw)} is not a port (0-65535) {layer.origin('port')}")
        return []
    given = {name for name, value in values.items() if value not in (None, "")}
    certificate = {"tls-cert", "tls-key"} <= given or {"tls-cert-path", "tls-key-path"} <= given
    target = "tls-port" if certificate else "plain-port"
    if (explicit := layers[target]).rank > DEFAULT_RANK and explicit.rank >= layer.rank:
        ignored = f"port: {port} ignored (from {layer.source})"
        return [f"{ignored}: {target} is set (from {explicit.source})"]
    values[target], sources[target] = port, f"{layer.source} (via port)"
    if not certificate or layers["plain-port"].rank > DEFAULT_RANK or values["plain-port"] != port:
        return []  # an explicit plain-port keeps its listener (a clash is a problem)
    values["plain-port"], sources["plain-port"] = 0, f"{layer.source} (via port)"
    return [
        f"port: {port} with a certificate moves the TLS listener to {port}, as in "
        f"aws-ses-pop3-server (from {layer.source}); the plaintext listener (default "
        f"plain-port {port}) is off: set plain-port to keep one"
    ]
