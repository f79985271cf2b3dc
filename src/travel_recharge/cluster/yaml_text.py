"""YAML text for Patroni's configuration from plain dicts, lists and scalars.

Patroni reads YAML. PyYAML is only a transitive dependency here (through uvicorn) and has
no type stubs in our toolchain, and we write a handful of config files of a known shape, so
this emits the block style people read and edit. Every string is written double-quoted the
JSON way (a JSON string is a valid YAML double-quoted scalar): no value can turn into a
number, a boolean or a comment by accident.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

Scalar = str | int | float | bool | None
YamlValue = Scalar | Sequence["YamlValue"] | Mapping[str, "YamlValue"]

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def to_yaml(document: Mapping[str, YamlValue]) -> str:
    return "".join(_mapping(document, 0))


def _scalar(value: Scalar) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def _key(key: str) -> str:
    return key if _PLAIN_KEY.match(key) else json.dumps(key)


def _is_scalar(value: YamlValue) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _mapping(mapping: Mapping[str, YamlValue], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for key, value in mapping.items():
        if _is_scalar(value):
            lines.append(f"{pad}{_key(key)}: {_scalar(value)}\n")  # type: ignore[arg-type]
        elif not value:
            lines.append(f"{pad}{_key(key)}: {'{}' if isinstance(value, Mapping) else '[]'}\n")
        else:
            lines.append(f"{pad}{_key(key)}:\n")
            lines.extend(_block(value, indent + 2))
    return lines


def _sequence(items: Sequence[YamlValue], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for item in items:
        if _is_scalar(item):
            lines.append(f"{pad}- {_scalar(item)}\n")  # type: ignore[arg-type]
        else:
            # The item's first line goes after the dash, the rest under it.
            inner = _block(item, indent + 2)
            lines.append(f"{pad}- {inner[0].lstrip()}")
            lines.extend(inner[1:])
    return lines


def _block(value: YamlValue, indent: int) -> list[str]:
    if isinstance(value, Mapping):
        return _mapping(value, indent)
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(f"not a YAML block: {value!r}")
    return _sequence(value, indent)
