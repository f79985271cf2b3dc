"""Learned answers generalised to every path of one route (a card's balance, for any card).

A route with path parameters is asked for many values, and its view's key is made from them
(`/cards/12/balance` reads `cards:12` / `balance`). When two answers of the same route, for
the same caller and query, read views whose keys differ exactly where their paths do, the
worker takes it that the route makes its key from the parameters that way, and replays any
path of that route with the path's values put into the key. Two samples, not one: with one,
a value that only happened to equal a part of the key would be taken for its source.

Nothing is trusted beyond that: the key is only looked up, never trusted to exist. A value
the route would refuse, or would write differently (`0012` for card 12), names a key that no
route ever fills, so it misses in Redis and the route answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A key or path, part by part: a literal, or (None, name) for a parameter's value.
Parts = tuple[tuple[str | None, str], ...]


@dataclass(frozen=True)
class PathTemplate:
    path: str  # "/api/v1/cards/{card_id}/balance"
    pattern: re.Pattern[str]
    group: Parts
    field: Parts

    def key_of(self, path: str) -> tuple[str, str, dict[str, str]] | None:
        """The view key and parameters of `path`, if it is a path of this template."""
        match = self.pattern.fullmatch(path)
        if match is None:
            return None
        values = match.groupdict()
        return _filled(self.group, values), _filled(self.field, values), values


def template_of(path: str, params: dict[str, str], group: str, field: str) -> PathTemplate | None:
    """The template a path and its view key suggest; None when the parameters do not each
    name one whole segment of the path, or the key uses none."""
    names = {value: name for name, value in params.items()}
    segments = path.split("/")
    if not params or len(names) != len(params) or "" in names:
        return None  # two parameters with one value: which one made the key is unknown
    in_path = [names[segment] for segment in segments if segment in names]
    if sorted(in_path) != sorted(params):
        return None  # a value in no segment, or in several
    group_parts, field_parts = _parts(group, names), _parts(field, names)
    if all(literal is not None for literal, _ in (*group_parts, *field_parts)):
        return None  # the key is the same for every value: not a key made from the path
    pattern = "/".join(
        f"(?P<{names[segment]}>[^/]+)" if segment in names else re.escape(segment)
        for segment in segments
    )
    shown = "/".join(f"{{{names[s]}}}" if s in names else s for s in segments)
    return PathTemplate(shown, re.compile(pattern), group_parts, field_parts)


def _parts(key: str, names: dict[str, str]) -> Parts:
    return tuple((None, names[part]) if part in names else (part, "") for part in key.split(":"))


def _filled(parts: Parts, values: dict[str, str]) -> str:
    return ":".join(values[name] if literal is None else literal for literal, name in parts)
