"""Text PostgreSQL can store: a request string with NUL or an unpaired surrogate is refused.

PostgreSQL's text types cannot hold U+0000, and asyncpg cannot encode an unpaired surrogate
(which a JSON escape such as "\\ud800" produces) as UTF-8. Either one used to reach the
driver and come back as a 500 with a long traceback in the log, without authentication (a
username on the token endpoint). hardening.StrictJSONRoute has each route's TextGuard check
the request before the route validates anything, so every string a route reads (path, query,
declared headers, form fields, JSON values and keys at any depth) is checked in this one
place, whatever its declared type or pattern, and refused with a 422 that names the field.
"""

from __future__ import annotations

import email.message
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

from fastapi import Request
from fastapi.dependencies.utils import get_flat_params
from fastapi.exceptions import RequestValidationError
from fastapi.params import Form, Header
from fastapi.routing import APIRoute

NUL = "must not contain the NUL character (U+0000), which PostgreSQL cannot store"
SURROGATE = (
    "must not contain an unpaired surrogate (U+D800 to U+DFFF), which is not valid Unicode text"
)

Location = tuple[str | int, ...]


def text_problem(text: str) -> str | None:
    """Why PostgreSQL could not store `text`, or None when it can."""
    if "\x00" in text:
        return NUL
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE
    return None


def json_problems(document: object, root: Location = ("body",)) -> Iterator[tuple[Location, str]]:
    """Each unstorable string of a parsed JSON document (values and keys), with its location.

    Iterative: json.loads accepts nesting as deep as the recursion limit, which a recursive
    walk on top of the request's own stack could exceed."""
    pending: list[tuple[Location, object]] = [(root, document)]
    while pending:
        location, value = pending.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                yield location, problem
        elif isinstance(value, dict):
            for key, item in value.items():
                key_problem = text_problem(key)
                if key_problem is not None:
                    # The key itself is not echoed in the answer: it is the hostile part.
                    yield location, f"has a key that {key_problem}"
                else:
                    pending.append(((*location, key), item))
        elif isinstance(value, list):
            pending.extend(((*location, index), item) for index, item in enumerate(value))


def _strings(pairs: Iterable[tuple[str, object]], kind: str) -> Iterator[tuple[Location, str]]:
    for name, value in pairs:
        name_problem = text_problem(name)
        if name_problem is not None:
            # A name the client made up is not echoed either when it is the hostile part.
            yield (kind,), f"has a {kind} parameter name that {name_problem}"
        elif isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                yield (kind, name), problem


def is_json(content_type: str | None) -> bool:
    # The same test FastAPI applies before it parses a body as JSON.
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


async def _body_problems(request: Request, is_form: bool) -> list[tuple[Location, str]]:
    try:
        # Kept by the request: the route reads the same bytes (and parsed form or JSON) again.
        await request.body()
        if is_form:
            form = await request.form()
            return list(_strings(form.multi_items(), "body"))
        if is_json(request.headers.get("content-type")):
            return list(json_problems(await request.json()))
    except Exception:
        # A body that cannot be read or parsed: the route's own reading fails the same way
        # and answers for it (400, 413 or invalid JSON), as it would without this check.
        return []
    return []


@dataclass(frozen=True)
class TextGuard:
    """What one route reads besides its path and query: its declared headers and its body."""

    headers: tuple[tuple[str, str], ...]  # (the name the client sees, the header looked up)
    has_body: bool
    form_body: bool

    @classmethod
    def of(cls, route: APIRoute) -> TextGuard:
        headers = []
        for field in get_flat_params(route.dependant):
            if isinstance(field.field_info, Header):
                looked_up = field.alias
                if field.field_info.convert_underscores:
                    looked_up = looked_up.replace("_", "-")
                headers.append((field.alias, looked_up))
        body = route.body_field
        return cls(
            tuple(headers), body is not None, isinstance(getattr(body, "field_info", None), Form)
        )

    async def refuse_unstorable_text(self, request: Request) -> None:
        """RequestValidationError (422, each field named) when a string of the request holds
        text PostgreSQL cannot store; nothing otherwise."""
        problems = [
            *_strings(request.path_params.items(), "path"),
            # Every query parameter, declared or not: this is the backstop for all of them.
            *_strings(request.query_params.multi_items(), "query"),
        ]
        for name, looked_up in self.headers:
            problems += _strings(((name, v) for v in request.headers.getlist(looked_up)), "header")
        if self.has_body:
            problems += await _body_problems(request, self.form_body)
        if problems:
            _refuse(problems)


def refuse_field(field: str, value: str) -> None:
    """The same refusal for a string a route takes apart itself (HTTP Basic credentials)."""
    problem = text_problem(value)
    if problem is not None:
        _refuse([(("header", field), problem)])


def _refuse(problems: list[tuple[Location, str]]) -> NoReturn:
    # The input is not echoed back: it is exactly the part that cannot be shown safely.
    raise RequestValidationError(
        [
            {"type": "unstorable_text", "loc": location, "msg": problem}
            for location, problem in problems
        ]
    )


# The document's spelling of the rule for a string with no pattern, format or enum of its own
# (those already exclude NUL). ECMA-262, Rust's regex and Python read it alike. Unpaired
# surrogates need no pattern: JSON Schema strings are Unicode text, which cannot hold them.
STORABLE_TEXT_PATTERN = r"^[^\x00]*$"


def state_storable_text(document: dict[str, Any]) -> None:
    """Write the NUL rule into every free-text string schema of an OpenAPI document, so
    clients (and fuzzers) read from the document what TextGuard refuses."""
    pending: list[object] = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, dict):
            if node.get("type") == "string" and not {"pattern", "format", "enum", "const"} & set(
                node
            ):
                node["pattern"] = STORABLE_TEXT_PATTERN
            pending.extend(node.values())
