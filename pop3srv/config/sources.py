"""Reading the sources into one ``dynaconf.Dynaconf`` per load, layer by layer. Part of
:mod:`pop3srv.config` (see its docstring for the order); the only module importing dynaconf.

:func:`read_layers` feeds a new, sealed ``Dynaconf`` the sources in order with ``Settings.set``
and a ``SourceMetadata`` naming each: the schema's defaults, the three ``config.yaml`` files, the
``POP3_CONFIG`` file, then one layer per ``POP3_*`` variable. dynaconf holds the layered values
(a later source replaces a key, tables included) and each key's history, from which its source
comes back; it parses YAML (vendored ruamel) and typed environment values (TOML, ``@int 5``).

Done here rather than by dynaconf's loaders, so that every problem is collected naming its file
and line, dash keys become underscores before dynaconf sees them (else ``POP3_JWT_SECRET`` would
not override ``jwt-secret``), relative paths follow ``Places`` (no search up parent folders), and
dynaconf's extras stay off (``*.local.yaml``, includes, ``dynaconf_hooks.py``, ``.env``). The
environment is the ``env`` mapping given, never ``os.environ``; dynaconf's own options in the
process environment are ignored (the instance sees an empty one); ``auto_cast`` is off so that
``"@int 5"`` in a file stays text; a table is unset before a later source sets it, so that a
``dynaconf_merge`` marker is reported rather than obeyed.
"""

from __future__ import annotations

import copy
import functools
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from pop3srv.config.keys import KEYS, Places, normalise, suggestion
from pop3srv.config.servicelinks import service_links

HOME_DIR_NAME = ".aws-ses-pop3-server"
CONFIG_ENV = "POP3_CONFIG"
#: ``POP3_*`` variables that are not settings and so are not "unknown keys".
IGNORED_ENV = frozenset({CONFIG_ENV})
DEFAULT_RANK = 1
ENV_RANK = 6

#: The ``Dynaconf`` options: dynaconf loads nothing itself, merges nothing, converts nothing.
_DYNACONF_OPTIONS: dict[str, object] = {
    "settings_files": [], "core_loaders": [], "loaders": [], "includes": [], "preload": [],
    "secrets": None, "environments": False, "load_dotenv": False, "envvar_prefix": None,
    "redis_enabled": False, "vault_enabled": False, "merge_enabled": False, "auto_cast": False,
    "dotted_lookup": False, "nested_separator": "__", "index_separator": None,
    "sysenv_fallback": False, "validate_on_update": False, "apply_default_on_none": False,
}  # fmt: skip
#: For :func:`dynaconf.utils.parse_conf.parse_conf_data` on typed environment values: the
#: converters on, whatever ``AUTO_CAST_FOR_DYNACONF`` says in the process environment.
_ENV_PARSING = {"AUTO_CAST_FOR_DYNACONF": True}


@dataclass(frozen=True)
class Raw:
    value: object
    source: str
    rank: int  # position of the source in the order above; later wins
    line: int | None = None  # where in a file the key is set

    @property
    def origin(self) -> str:
        """``(from SOURCE)``, with the file's line when known."""
        return f"(from {self.source})" + (f", line {self.line}" if self.line else "")


@dataclass(frozen=True)
class _Layer:
    """One source's values (underscore keys), as fed to dynaconf."""

    source: str  # "default", a file's absolute path, or "env POP3_X"
    loader: str  # "toml", "yaml" or "env": SourceMetadata.loader
    rank: int
    values: dict[str, object]
    lines: dict[str, int] = field(default_factory=dict)  # a file's keys -> their line


def _dynaconf_yaml(text: str) -> object:
    # via dynaconf's loader module: mypy cannot check the vendored ruamel package itself
    from dynaconf.loaders.yaml_loader import yaml  # noqa: PLC0415 - only when a YAML file exists

    return cast(object, yaml.safe_load(text))


def _dynaconf_env_value(text: str) -> object:
    from dynaconf.utils.parse_conf import parse_conf_data  # noqa: PLC0415

    return cast(object, parse_conf_data(text, tomlfy=True, box_settings=_ENV_PARSING))


@functools.cache
def _sealed_settings_class() -> type:
    """dynaconf's ``Settings`` with an empty environment (see the module docstring)."""
    from dynaconf.base import Settings  # noqa: PLC0415 - dynaconf costs ~0.2 s to import

    class SealedSettings(Settings):  # type: ignore[misc]  # dynaconf is untyped
        @property
        def environ(self) -> Mapping[str, str]:
            return {}

    return SealedSettings


def _new_dynaconf() -> Any:
    from dynaconf import Dynaconf  # noqa: PLC0415

    return Dynaconf(_wrapper_class=_sealed_settings_class(), **_DYNACONF_OPTIONS)


def _feed(settings: Any, layer: _Layer) -> None:
    from dynaconf.loaders.base import SourceMetadata  # noqa: PLC0415

    metadata = SourceMetadata(loader=layer.loader, identifier=layer.source, env="global")
    for key, value in layer.values.items():
        name = _name(key)
        if isinstance(value, dict | list):  # replaced, never merged (see the module docstring)
            settings.unset(name, force=True)
        # a copy: dynaconf turns nested tables into its own nodes in place
        settings.set(name, copy.deepcopy(value), loader_identifier=metadata)


def _layered(settings: Any, layers: list[_Layer]) -> dict[str, Raw]:
    """Each key that some layer set -> its value in dynaconf and the last source that set it."""
    from dynaconf import get_history  # noqa: PLC0415

    order = {layer.source: (i, layer) for i, layer in enumerate(layers)}
    stored: dict[str, object] = settings.as_dict()
    out: dict[str, Raw] = {}
    for key in KEYS:
        name = _name(key)
        if name not in stored:
            continue
        history = get_history(settings, name, filter_callable=lambda m: m.identifier in order)
        _, last = max((order[entry["identifier"]] for entry in history), key=lambda o: o[0])
        out[key] = Raw(stored[name], last.source, last.rank, last.lines.get(key))
    return out


def _name(key: str) -> str:
    return key.upper().replace("-", "_")


def _parse(text: str, path: Path, label: str) -> tuple[object, str | None]:
    """(data, problem) for a file's text; TOML if it ends in .toml, else YAML."""
    if path.suffix.lower() == ".toml":
        try:
            return tomllib.loads(text), None
        except tomllib.TOMLDecodeError as e:
            return None, f"{label}: not valid TOML ({e})"
    try:
        return _dynaconf_yaml(text), None
    except Exception as e:  # ruamel's YAMLError and friends
        mark: Any = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        detail = getattr(e, "problem", None) or type(e).__name__
        return None, f"{label}: not valid YAML ({detail}{where})"


_TOP_LEVEL_KEY = re.compile(r"""(["']?)([A-Za-z0-9_-]+)\1[ \t]*[:=]""")


def key_lines(text: str) -> dict[str, int]:
    """The line (1-based) of each top-level key of a YAML or TOML text, by its first match."""
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if match := _TOP_LEVEL_KEY.match(line):
            lines.setdefault(normalise(match[2]), number)
    return lines


def _read(
    path: Path, label: str, *, required: bool, problems: list[str]
) -> tuple[dict[str, object], dict[str, int]]:
    """A config file's keys (normalised) -> values, and -> their lines; ({}, {}) if an optional
    file is missing."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            problems.append(f"config: {path} does not exist (from env {CONFIG_ENV})")
        return {}, {}
    except UnicodeDecodeError:
        problems.append(f"{label}: is not UTF-8 text")
        return {}, {}
    except OSError as e:
        problems.append(f"{label}: cannot be read ({e.strerror or e})")
        return {}, {}
    data, problem = _parse(text, path, label)
    if problem:
        problems.append(problem)
        return {}, {}
    if data is None:  # an empty YAML file
        return {}, {}
    if not isinstance(data, dict):
        problems.append(f"{label}: is not a mapping of keys to values")
        return {}, {}
    out: dict[str, object] = {}
    lines = key_lines(text)
    for name, value in data.items():
        key = normalise(str(name))
        if key not in KEYS:
            where = Raw(None, label, 0, lines.get(key)).origin
            problems.append(f"{key}: unknown key {where}{suggestion(key)}")
        elif value is not None:  # `key:` with no value leaves the key as it was
            out[key] = value
    return out, lines


def _file_layers(
    env: Mapping[str, str], places: Places, etc_dir: Path, problems: list[str]
) -> list[_Layer]:
    files: list[tuple[Path, bool]] = [
        (etc_dir / "config.yaml", False),
        (places.home / HOME_DIR_NAME / "config.yaml", False),
        (places.cwd / "config.yaml", False),
    ]
    if env.get(CONFIG_ENV):
        files.append((places.path(env[CONFIG_ENV]), True))
    layers: list[_Layer] = []
    for rank, (path, required) in enumerate(files, start=DEFAULT_RANK + 1):
        label = str(path.absolute())
        if any(layer.source == label for layer in layers):  # e.g. run from /etc/aws-ses-...
            continue
        values, lines = _read(path, label, required=required, problems=problems)
        loader = "toml" if path.suffix.lower() == ".toml" else "yaml"
        layers.append(_Layer(label, loader, rank, values, lines))
    return layers


def _env_layers(env: Mapping[str, str], problems: list[str]) -> list[_Layer]:
    """One layer per ``POP3_*`` variable (each is its own source), in name order."""
    layers: list[_Layer] = []
    links = set(service_links(env))
    for name in sorted(env):
        if not name.startswith("POP3_") or name in IGNORED_ENV or name in links:
            continue
        key, label = normalise(name[len("POP3_") :]), f"env {name}"
        if key not in KEYS:
            problems.append(f"{key}: unknown key (from {label}){suggestion(key, in_env=True)}")
            continue
        text = env[name]
        if text == "":  # like viper without AllowEmptyEnv: an empty variable is unset
            continue
        value: object = text
        if not KEYS[key].verbatim:
            try:
                value = _dynaconf_env_value(text)
            except Exception as e:  # dynaconf's DynaconfParseError, e.g. "@int abc"
                problems.append(f"{key}: {e} (from {label})")
                continue
        if value is not None:  # "@none" leaves the key as it was
            layers.append(_Layer(label, "env", ENV_RANK, {key: value}))
    return layers


def _plain(value: object) -> object:
    """A schema default as a file would give it (dynaconf stores lists and text)."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Path):
        return f"./{value}" if not value.is_absolute() else str(value)
    return dict(value) if isinstance(value, Mapping) else value


def schema_defaults() -> dict[str, object]:
    """The first source: every key's default as the schema declares it (None = unset)."""
    return {name: _plain(k.default) for name, k in KEYS.items() if k.default is not None}


def read_layers(
    env: Mapping[str, str],
    places: Places,
    etc_dir: Path,
    problems: list[str],
) -> dict[str, Raw]:
    """Feed every source, in order, to a new ``Dynaconf``; each key set -> value and source."""
    layers = [
        _Layer("default", "toml", DEFAULT_RANK, schema_defaults()),
        *_file_layers(env, places, etc_dir, problems),
        *_env_layers(env, problems),
    ]
    settings = _new_dynaconf()
    for layer in layers:
        _feed(settings, layer)
    return _layered(settings, layers)
