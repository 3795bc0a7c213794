"""Reading the configuration sources into one ``dynaconf.Dynaconf`` instance, then typing them.

Part of :mod:`pop3srv.config` (see its docstring for the order of sources). The only module that
imports dynaconf.

How dynaconf is used. :func:`read_layers` makes one ``Dynaconf`` per ``load_settings`` call (never
a global one) and feeds it the sources in order, one layer each, with ``Settings.set`` and a
``SourceMetadata`` naming the source: the packaged defaults, the three ``config.yaml`` files, the
``POP3_CONFIG`` file, then one layer per ``POP3_*`` variable of the ``env`` mapping given to
``load_settings``. dynaconf holds the layered values (a later source replaces a key, tables
included: merging is off) and the history of the sources that set each key; each key's value is
read back from the instance, and its source and rank from ``dynaconf.get_history``. dynaconf
also parses: YAML files with its vendored ruamel, and the environment values of keys that are
not text or paths as TOML with its converters (``2110``, ``true``, ``@int 5``).

What is done here rather than by dynaconf's own loaders, and why:

* The files are read and parsed here, not named in ``settings_files``: so that every problem is
  collected (a broken file names the file and the line, a missing ``POP3_CONFIG`` file is an
  error, unknown keys get suggestions), dash keys become underscores before dynaconf sees them
  (else ``POP3_JWT_SECRET`` would not override ``jwt-secret``), ``~`` and relative paths follow
  ``Places`` (dynaconf would search a relative ``config.yaml`` up the parent folders), and
  dynaconf's extras stay off (``*.local.yaml`` files, includes, ``dynaconf_hooks.py`` run from
  the folders of loaded files).
* The environment comes from the ``env`` mapping, never ``os.environ`` (tests pass their own).
  Text and path values are taken verbatim (a password ``0123`` stays ``0123``).
* The instance is sealed from the process environment: dynaconf reads its own options
  (``SETTINGS_FILE_FOR_DYNACONF``, ``MERGE_ENABLED_FOR_DYNACONF``, ``DYNACONF_*`` ...) from
  ``os.environ`` over the constructor's; here it sees an empty environment instead.
* ``auto_cast`` is off, so a file value such as ``"@format {this.X}"`` or ``"@int 5"`` stays the
  text written; only the typed environment values go through dynaconf's converters.
* A table or list is unset before a later source sets it, so that a ``dynaconf_merge`` marker
  inside a user's table is an unknown entry (reported) rather than a silent merge.
"""

from __future__ import annotations

import copy
import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, cast

from pop3srv.config_keys import (
    KEYS,
    VERBATIM_KINDS,
    Places,
    dash,
    normalise,
    suggestion,
)

HOME_DIR_NAME = ".aws-ses-pop3-server"
CONFIG_ENV = "POP3_CONFIG"
#: ``POP3_*`` variables that are not settings and so are not "unknown keys".
IGNORED_ENV = frozenset({CONFIG_ENV})
DEFAULT_RANK = 1
ENV_RANK = 6

#: The ``Dynaconf`` options: nothing is loaded by dynaconf itself (no settings files, no
#: environment loader, no .env, includes or external stores), no merging, no ``@`` converters
#: on stored values, no dotted or nested keys.
_DYNACONF_OPTIONS: dict[str, object] = {
    "settings_files": [],
    "core_loaders": [],
    "loaders": [],
    "includes": [],
    "preload": [],
    "secrets": None,
    "environments": False,
    "load_dotenv": False,
    "envvar_prefix": None,
    "redis_enabled": False,
    "vault_enabled": False,
    "merge_enabled": False,
    "auto_cast": False,
    "dotted_lookup": False,
    "nested_separator": "__",
    "index_separator": None,
    "sysenv_fallback": False,
    "validate_on_update": False,
    "apply_default_on_none": False,
}
#: For :func:`dynaconf.utils.parse_conf.parse_conf_data` on typed environment values: the
#: converters on, whatever ``AUTO_CAST_FOR_DYNACONF`` says in the process environment.
_ENV_PARSING = {"AUTO_CAST_FOR_DYNACONF": True}


@dataclass(frozen=True)
class Raw:
    value: object
    source: str
    rank: int  # position of the source in the order above; later wins


@dataclass(frozen=True)
class _Layer:
    """One source's values (underscore keys), as fed to dynaconf."""

    source: str  # "default", a file's absolute path, or "env POP3_X"
    loader: str  # "toml", "yaml" or "env": SourceMetadata.loader
    rank: int
    values: dict[str, object]


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
        name = key.upper()
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
        name = key.upper()
        if name not in stored:
            continue
        history = get_history(settings, name, filter_callable=lambda m: m.identifier in order)
        _, last = max((order[entry["identifier"]] for entry in history), key=lambda o: o[0])
        out[key] = Raw(stored[name], last.source, last.rank)
    return out


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


def _read(path: Path, label: str, *, required: bool, problems: list[str]) -> dict[str, object]:
    """A config file's keys (normalised) -> values; {} if an optional file is missing."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            problems.append(f"config: {path} does not exist (from env {CONFIG_ENV})")
        return {}
    except UnicodeDecodeError:
        problems.append(f"{label}: is not UTF-8 text")
        return {}
    except OSError as e:
        problems.append(f"{label}: cannot be read ({e.strerror or e})")
        return {}
    data, problem = _parse(text, path, label)
    if problem:
        problems.append(problem)
        return {}
    if data is None:  # an empty YAML file
        return {}
    if not isinstance(data, dict):
        problems.append(f"{label}: is not a mapping of keys to values")
        return {}
    out: dict[str, object] = {}
    for name, value in data.items():
        key = normalise(str(name))
        if key not in KEYS:
            problems.append(f"{dash(key)}: unknown key (from {label}){suggestion(key)}")
        elif value is not None:  # `key:` with no value leaves the key as it was
            out[key] = value
    return out


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
        values = _read(path, label, required=required, problems=problems)
        loader = "toml" if path.suffix.lower() == ".toml" else "yaml"
        layers.append(_Layer(label, loader, rank, values))
    return layers


def _env_layers(env: Mapping[str, str], problems: list[str]) -> list[_Layer]:
    """One layer per ``POP3_*`` variable (each is its own source), in name order."""
    layers: list[_Layer] = []
    for name in sorted(env):
        if not name.startswith("POP3_") or name in IGNORED_ENV:
            continue
        key, label = normalise(name[len("POP3_") :]), f"env {name}"
        if key not in KEYS:
            problems.append(
                f"{dash(key)}: unknown key (from {label}){suggestion(key, in_env=True)}"
            )
            continue
        text = env[name]
        if text == "":  # like viper without AllowEmptyEnv: an empty variable is unset
            continue
        value: object = text
        if KEYS[key].kind not in VERBATIM_KINDS:
            try:
                value = _dynaconf_env_value(text)
            except Exception as e:  # dynaconf's DynaconfParseError, e.g. "@int abc"
                problems.append(f"{dash(key)}: {e} (from {label})")
                continue
        if value is not None:  # "@none" leaves the key as it was
            layers.append(_Layer(label, "env", ENV_RANK, {key: value}))
    return layers


def read_defaults(problems: list[str]) -> dict[str, object]:
    text = resources.files("pop3srv").joinpath("settings.toml").read_text(encoding="utf-8")
    data, problem = _parse(text, Path("settings.toml"), "packaged settings.toml")
    if problem or not isinstance(data, dict):
        problems.append(problem or "packaged settings.toml: not a table")
        return {}
    unknown = sorted(set(map(normalise, data)) - set(KEYS))
    problems.extend(f"{dash(key)}: unknown key (from packaged settings.toml)" for key in unknown)
    return {normalise(k): v for k, v in data.items()}


def read_layers(
    env: Mapping[str, str],
    defaults: Mapping[str, object],
    places: Places,
    etc_dir: Path,
    problems: list[str],
) -> dict[str, Raw]:
    """Feed every source, in order, to a new ``Dynaconf``; each key set -> value and source."""
    layers = [
        _Layer("default", "toml", DEFAULT_RANK, {k: v for k, v in defaults.items() if k in KEYS}),
        *_file_layers(env, places, etc_dir, problems),
        *_env_layers(env, problems),
    ]
    settings = _new_dynaconf()
    for layer in layers:
        _feed(settings, layer)
    return _layered(settings, layers)
