"""The sources, in order, fed to one sealed dynaconf instance per load: each key's layered value,
its source and file line; Kubernetes service-link variables ignored (why the files are read here
and not by dynaconf's loaders: docs/architecture.md)."""

from __future__ import annotations

import copy
import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pop3srv.config.kinds import resolve
from pop3srv.config.schema import KEYS

HOME_DIR_NAME = ".aws-ses-pop3-server"
CONFIG_ENV = "POP3_CONFIG"
IGNORED_ENV = frozenset({CONFIG_ENV})  # ``POP3_*`` variables that are not keys
DEFAULT_RANK, ENV_RANK = 1, 6  # a source's place in the order; later wins
#: dynaconf loads nothing itself, merges nothing, converts nothing, whatever the environment says
_OPTIONS: dict[str, object] = {
    "settings_files": [], "core_loaders": [], "loaders": [], "includes": [], "preload": [],
    "secrets": None, "environments": False, "load_dotenv": False, "envvar_prefix": None,
    "redis_enabled": False, "vault_enabled": False, "merge_enabled": False, "auto_cast": False,
    "dotted_lookup": False, "nested_separator": "__", "index_separator": None,
    "sysenv_fallback": False, "validate_on_update": False, "apply_default_on_none": False,
}  # fmt: skip
_LINK_NAME = re.compile(
    r"POP3_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT_[0-9]+_(TCP|UDP|SCTP)(_(ADDR|PORT|PROTO))?)"
)
_LINK_VALUE = re.compile(r"(tcp|udp|sctp)://", re.IGNORECASE)
_TOP_LEVEL_KEY = re.compile(r"""(["']?)([A-Za-z0-9_-]+)\1[ \t]*[:=]""")


@dataclass(frozen=True)
class Layer:
    """One source's keys; ``source`` is "default", a file's absolute path, or "env POP3_X"."""

    source: str
    loader: str  # "toml", "yaml" or "env": SourceMetadata.loader
    rank: int
    values: dict[str, object]  # dash keys
    lines: dict[str, int] = field(default_factory=dict)  # where in a file each key is set

    def origin(self, key: str) -> str:
        """``(from SOURCE)``, with the file's line when known."""
        line = self.lines.get(key)
        return f"(from {self.source})" + (f", line {line}" if line else "")


def normalise(name: str) -> str:
    """A key as written in a file or after ``POP3_`` -> dash form."""
    return name.strip().lower().replace("_", "-")


def suggestion(name: str, *, in_env: bool = False) -> str:
    """``; did you mean `tls-port`?``-style hint for an unknown key, or ""."""
    close = difflib.get_close_matches(normalise(name), KEYS, n=1, cutoff=0.6)
    if not close:
        return ""
    return f"; did you mean `{close[0]}`" + (f" ({KEYS[close[0]].env})?" if in_env else "?")


def _new_dynaconf() -> Any:
    """A new ``Dynaconf`` whose settings see an empty process environment."""
    from dynaconf import Dynaconf  # noqa: PLC0415 - dynaconf costs ~0.2 s to import
    from dynaconf.base import Settings  # noqa: PLC0415

    class SealedSettings(Settings):  # type: ignore[misc]  # dynaconf is untyped
        environ = property(lambda self: {})  # the process environment is never read

    return Dynaconf(_wrapper_class=SealedSettings, **_OPTIONS)


def _name(key: str) -> str:
    return key.upper().replace("-", "_")


def _parse(text: str, toml: bool) -> object:
    """A file's data; raises ValueError naming the fault."""
    if toml:
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"not valid TOML ({e})") from None
    from dynaconf.loaders.yaml_loader import yaml  # noqa: PLC0415 - vendored ruamel

    try:
        return yaml.safe_load(text)
    except Exception as e:  # ruamel's YAMLError and friends
        mark: Any = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        detail = getattr(e, "problem", None) or type(e).__name__
        raise ValueError(f"not valid YAML ({detail}{where})") from None


def _read(path: Path, rank: int, required: bool, problems: list[str]) -> Layer:
    """A file's layer; a file that is missing (unless ``required``), unreadable, or not a
    mapping of keys adds one problem and no keys."""
    label, toml = str(path.absolute()), path.suffix.lower() == ".toml"
    layer = Layer(label, "toml" if toml else "yaml", rank, {})
    try:
        text = path.read_text(encoding="utf-8")
        data = _parse(text, toml)
        if not isinstance(data, dict | None):
            raise ValueError("is not a mapping of keys to values")
    except FileNotFoundError:
        if required:
            problems.append(f"config: {path} does not exist (from env {CONFIG_ENV})")
    except UnicodeDecodeError:
        problems.append(f"{label}: is not UTF-8 text")
    except OSError as e:
        problems.append(f"{label}: cannot be read ({e.strerror or e})")
    except ValueError as e:  # not parsed, or not a mapping
        problems.append(f"{label}: {e}")
    else:
        for number, line in enumerate(text.splitlines(), start=1):
            if match := _TOP_LEVEL_KEY.match(line):
                layer.lines.setdefault(normalise(match[2]), number)
        for name, value in (data or {}).items():
            key = normalise(str(name))
            if key not in KEYS:
                problems.append(f"{key}: unknown key {layer.origin(key)}{suggestion(key)}")
            elif value is not None:  # `key:` with no value leaves the key as it was
                layer.values[key] = value
    return layer


def _env_layer(name: str, text: str, problems: list[str]) -> Layer | None:
    """A ``POP3_*`` variable's layer (None: not set, or a problem); text and paths verbatim."""
    key, label = normalise(name[len("POP3_") :]), f"env {name}"
    if key not in KEYS:
        problems.append(f"{key}: unknown key (from {label}){suggestion(key, in_env=True)}")
        return None
    value: object = text
    if text and not KEYS[key].verbatim:
        from dynaconf.utils.parse_conf import parse_conf_data  # noqa: PLC0415

        try:  # the converters on, whatever AUTO_CAST_FOR_DYNACONF says in the environment
            value = parse_conf_data(
                text, tomlfy=True, box_settings={"AUTO_CAST_FOR_DYNACONF": True}
            )
        except Exception as e:  # dynaconf's DynaconfParseError, e.g. "@int abc"
            problems.append(f"{key}: {e} (from {label})")
            return None
    # like viper without AllowEmptyEnv, an empty variable is unset; "@none" leaves the key as is
    return None if value in ("", None) else Layer(label, "env", ENV_RANK, {key: value})


def service_links(env: Mapping[str, str]) -> list[str]:
    """The Kubernetes service-link variables of a Service named ``pop3``, by their shape."""
    return sorted(
        name
        for name, value in env.items()
        if _LINK_NAME.fullmatch(name) or (name == "POP3_PORT" and _LINK_VALUE.match(value.strip()))
    )


def schema_defaults() -> dict[str, object]:
    """The first source: every key's default as a file would give it (None = unset)."""
    out: dict[str, object] = {}
    for name, key in KEYS.items():
        value = key.default
        if isinstance(value, Path):
            value = str(value) if value.is_absolute() else f"./{value}"
        if isinstance(value, tuple | Mapping):
            value = dict(value) if isinstance(value, Mapping) else list(value)
        if value is not None:
            out[name] = value
    return out


def read_layers(
    env: Mapping[str, str],
    cwd: Path,
    home: Path,
    etc_dir: Path,
    *,
    problems: list[str],
    notes: list[str],
) -> tuple[dict[str, object], dict[str, Layer]]:
    """Every source in order (later wins: defaults, the three ``config.yaml``, the file named by
    ``POP3_CONFIG``, ``POP3_*``) fed to a new ``Dynaconf``; each key set -> its value, its layer."""
    files = [d / "config.yaml" for d in (etc_dir, home / HOME_DIR_NAME, cwd)]
    if env.get(CONFIG_ENV):
        files.append(resolve(env[CONFIG_ENV], cwd, home))
    layers = [Layer("default", "toml", DEFAULT_RANK, schema_defaults())]
    for rank, path in enumerate(files, start=DEFAULT_RANK + 1):
        if str(path.absolute()) not in (layer.source for layer in layers):  # run from /etc/...
            layers.append(_read(path, rank, rank == DEFAULT_RANK + 4, problems))
    if links := service_links(env):
        shown = ", ".join(links[:4]) + (", ..." if len(links) > 4 else "")
        notes.append(
            f"ignored {len(links)} Kubernetes service-link variable(s) of a Service named pop3 "
            f"({shown}); set enableServiceLinks: false in the pod spec to stop them"
        )
    for name in sorted(set(env) - IGNORED_ENV - set(links)):
        if name.startswith("POP3_") and (layer := _env_layer(name, env[name], problems)):
            layers.append(layer)
    return _layered(layers)


def _layered(layers: list[Layer]) -> tuple[dict[str, object], dict[str, Layer]]:
    from dynaconf import get_history  # noqa: PLC0415
    from dynaconf.loaders.base import SourceMetadata  # noqa: PLC0415

    settings = _new_dynaconf()
    for layer in layers:
        metadata = SourceMetadata(loader=layer.loader, identifier=layer.source, env="global")
        for key, value in layer.values.items():
            if isinstance(value, dict | list):  # replaced, never merged
                settings.unset(_name(key), force=True)
            # a copy: dynaconf turns nested tables into its own nodes in place
            settings.set(_name(key), copy.deepcopy(value), loader_identifier=metadata)
    by_source = {layer.source: layer for layer in layers}
    stored = settings.as_dict()
    values = {key: stored[_name(key)] for key in KEYS if _name(key) in stored}
    last = {
        key: get_history(settings, _name(key), filter_callable=lambda m: m.identifier in by_source)
        for key in values
    }
    return values, {key: by_source[history[-1]["identifier"]] for key, history in last.items()}
