"""The kinds of configuration value (port, seconds, list ...): each an ``Annotated`` type that
pydantic validates, with the one complaint a bad value earns. Part of :mod:`pop3srv.config`.

A kind turns what YAML, TOML or a typed ``POP3_*`` variable gives into the Python type, and any
failure into ``PydanticCustomError("bad_value", complaint)``; :mod:`pop3srv.config.validate`
prefixes the value shown (never a secret's) and names key and source.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    WrapValidator,
)
from pydantic_core import PydanticCustomError


def complaint(text: str) -> WrapValidator:
    """Any failure of the validators inside becomes one ``bad_value`` error saying ``text``."""

    def wrap(value: object, handler: Callable[[object], object]) -> object:
        try:
            return handler(value)
        except (ValidationError, ValueError, TypeError):
            raise PydanticCustomError("bad_value", text) from None

    return WrapValidator(wrap)


def plain_error(text: str) -> PydanticCustomError:
    """An error shown as ``key: text``, without the value."""
    return PydanticCustomError("plain", text)


def _number(value: object) -> object:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    return value


def _text(value: object) -> object:
    if isinstance(value, bool):  # YAML `password: true` -> "true", as Go's viper would
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else value


def _unset_if_empty(value: object) -> object:
    return None if value == "" else value  # an empty optional value means unset


def _reject_empty(value: object) -> object:
    if value == "":
        raise plain_error("must not be empty")
    return value


def _resolve(value: object, info: ValidationInfo) -> object:
    """Relative paths against the working directory, ``~`` against home (``places``)."""
    places = (info.context or {}).get("places")
    if not isinstance(value, str | Path) or places is None:
        return value
    return places.path(str(value))


def _split(value: object) -> object:
    """From the environment: ``a, b`` or a JSON list."""
    if not isinstance(value, str):
        return value
    if value.strip().startswith("["):
        return json.loads(value)
    return [item.strip() for item in value.split(",") if item.strip()]


def _strip_items(value: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(item.strip() for item in value)


def json_table(value: object) -> object:
    """From the environment: a JSON object (TOML inline tables arrive parsed already)."""
    return json.loads(value) if isinstance(value, str) else value


Port = Annotated[
    int, BeforeValidator(_number), Field(ge=0, le=65535), complaint("is not a port (0-65535)")
]
Count = Annotated[
    int, BeforeValidator(_number), Field(ge=1), complaint("is not a whole number >= 1")
]
Whole = Annotated[
    int, BeforeValidator(_number), Field(ge=0), complaint("is not a whole number >= 0")
]
Seconds = Annotated[
    float,
    BeforeValidator(_number),
    Field(gt=0, allow_inf_nan=False),
    complaint("is not a number of seconds > 0"),
]
Duration = Annotated[
    float,
    BeforeValidator(_number),
    Field(ge=0, allow_inf_nan=False),
    complaint("is not a number of seconds >= 0"),
]
Flag = Annotated[bool, complaint("is not a boolean (true or false)")]
AnyText = Annotated[str, BeforeValidator(_text), complaint("is not text")]  # "" allowed
Text = Annotated[AnyText, BeforeValidator(_reject_empty)]
OptText = Annotated[AnyText | None, BeforeValidator(_unset_if_empty)]
FsPath = Annotated[
    Path, BeforeValidator(_resolve), complaint("is not text"), BeforeValidator(_reject_empty)
]
OptPath = Annotated[FsPath | None, BeforeValidator(_unset_if_empty)]
Texts = Annotated[
    tuple[str, ...],
    BeforeValidator(_split),
    AfterValidator(_strip_items),
    complaint("is not a list of texts"),
]


def choice(*options: str) -> Any:
    """Text that must be one of ``options``."""

    def check(value: str) -> str:
        if value not in options:
            raise plain_error(f"must be {' or '.join(options)}")
        return value

    return Annotated[AnyText, AfterValidator(check)]
