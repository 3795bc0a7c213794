"""Reading the configuration sources into one layer of raw values per key, then typing them.

Part of :mod:`pop3srv.config` (see its docstring for the order of sources). The only place
dynaconf is imported: it parses YAML (its vendored ruamel) and typed environment values.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, cast

from pop3srv.config_keys import (
    KEYS,
    VERBATIM_KINDS,
    BadValue,
    Kind,
    Places,
    coerce,
    dash,
    normalise,
    suggestion,
)
from pop3srv.config_rules import inline_pair, path_pair

HOME_DIR_NAME = ".aws-ses-pop3-server"
CONFIG_ENV = "POP3_CONFIG"
#: ``POP3_*`` variables that are not settings and so are not "unknown keys".
IGNORED_ENV = frozenset({CONFIG_ENV})
DEFAULT_RANK = 1
ENV_RANK = 6


@dataclass(frozen=True)
class Raw:
    value: object
    source: str
    rank: int  # position of the source in the order above; later wins


def _dynaconf_yaml(text: str) -> object:
    # via dynaconf's loader module: mypy cannot check the vendored ruamel package itself
    from dynaconf.loaders.yaml_loader import yaml  # noqa: PLC0415 - only when a YAML file exists

    return cast(object, yaml.safe_load(text))


def _dynaconf_env_value(text: str) -> object:
    from dynaconf.utils.parse_conf import parse_conf_data  # noqa: PLC0415

    return cast(object, parse_conf_data(text, tomlfy=True))


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


def _read_env(env: Mapping[str, str], problems: list[str]) -> dict[str, Raw]:
    out: dict[str, Raw] = {}
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
            out[key] = Raw(value, label, ENV_RANK)
    return out


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
    layers = {
        key: Raw(value, "default", DEFAULT_RANK) for key, value in defaults.items() if key in KEYS
    }
    files: list[tuple[Path, bool]] = [
        (etc_dir / "config.yaml", False),
        (places.home / HOME_DIR_NAME / "config.yaml", False),
        (places.cwd / "config.yaml", False),
    ]
    if env.get(CONFIG_ENV):
        files.append((places.path(env[CONFIG_ENV]), True))
    seen: set[Path] = set()
    for rank, (path, required) in enumerate(files, start=2):
        if path.absolute() in seen:  # e.g. run from /etc/aws-ses-pop3-server
            continue
        seen.add(path.absolute())
        label = str(path.absolute())
        for key, value in _read(path, label, required=required, problems=problems).items():
            layers[key] = Raw(value, label, rank)
    layers.update(_read_env(env, problems))
    return layers


def typed_values(
    layers: Mapping[str, Raw],
    defaults: Mapping[str, object],
    places: Places,
    problems: list[str],
) -> dict[str, object]:
    """Every key -> its typed value (None if unset); a bad value is reported and replaced by
    its default so that the checks across keys can still run."""
    values: dict[str, object] = {}
    for key, spec in KEYS.items():
        raw, value, bad = layers.get(key), None, False
        if raw is not None:
            try:
                value = coerce(key, raw.value, places)
            except BadValue as e:
                problems.append(f"{dash(key)}: {e} (from {raw.source})")
                bad = True
        optional = spec.kind in (Kind.OPT_TEXT, Kind.OPT_PATH) or key == "port"
        if value is None and not optional:
            try:
                value = coerce(key, defaults[key], places)
            except (KeyError, BadValue):
                if not bad:
                    problems.append(f"{dash(key)}: no value (the packaged settings.toml lacks it)")
        values[key] = value
    return values


def apply_port_alias(
    values: dict[str, object], layers: Mapping[str, Raw], sources: dict[str, str]
) -> str | None:
    """Route ``port`` to tls_port or plain_port; returns a warning if ``port`` was ignored."""
    port, raw = values.pop("port"), layers.get("port")
    sources.pop("port", None)
    if port is None or raw is None:
        return None
    target = "tls_port" if inline_pair(values) or path_pair(values) else "plain_port"
    explicit = layers.get(target)
    if explicit is not None and explicit.rank > DEFAULT_RANK and explicit.rank >= raw.rank:
        return (
            f"port: {port} ignored (from {raw.source}): {dash(target)} is set "
            f"(from {explicit.source})"
        )
    values[target] = port
    sources[target] = f"{raw.source} (via port)"
    return None
