"""Learned answers: which cached view a request's answer is, and how to answer it again."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace

from starlette.types import Scope

from travel_recharge.kit.http_cache import etag_of, if_none_match_matches
from travel_recharge.kit.replay.record import AnswerRecord
from travel_recharge.kit.replay.templates import PathTemplate

# The same request: path, query string and Authorization header (so an answer is only ever
# replayed to a caller with the very same credentials).
RequestKey = tuple[str, bytes, bytes | None]
Headers = list[tuple[bytes, bytes]]

# What routing writes into the scope, and the edge's metrics read (the route's template).
_ROUTING_KEYS = ("route", "endpoint", "path_params")
# The only answer headers a view's answer may have: anything else (a Location, a cookie, a
# header computed by the route) is not the view's, and the route keeps answering.
_CONTENT_TYPE, _ETAG, _CACHE_CONTROL = b"content-type", b"etag", b"cache-control"
_REPLAYABLE_HEADERS = frozenset({_CONTENT_TYPE, b"content-length", _ETAG, _CACHE_CONTROL})


@dataclass(frozen=True)
class LearnedAnswer:
    group: str
    field: str
    admission: object  # what security needs to admit the caller again
    routing: dict[str, object]
    content_type: bytes
    cache_control: bytes | None
    etag: bool  # the route sent an ETag of the body (kit.http_cache): so does the replay
    expires: float  # time.monotonic()

    def answer(self, payload: bytes, if_none_match: bytes | None) -> tuple[int, Headers, bytes]:
        """Status, headers and body of the answer the route would give for `payload`."""
        headers: Headers = [(_CONTENT_TYPE, self.content_type)]
        if self.cache_control is not None:
            headers.append((_CACHE_CONTROL, self.cache_control))
        if self.etag:
            etag = etag_of(payload)
            headers.append((_ETAG, etag.encode()))
            if if_none_match is not None and if_none_match_matches(if_none_match.decode(), etag):
                return 304, [h for h in headers if h[0] != _CONTENT_TYPE], b""
        headers.append((b"content-length", str(len(payload)).encode()))
        return 200, headers, payload


def learn(
    record: AnswerRecord,
    scope: Scope,
    status: int | None,
    headers: Iterable[tuple[bytes, bytes]],
    body: bytes | None,
    lifetime_s: float,
) -> LearnedAnswer | None:
    """The answer to remember, if the route's answer was a cached view's bytes as they are,
    admitted by exactly one access rule; None otherwise."""
    if status != 200 or body is None or len(record.admissions) != 1:
        return None
    view = record.view_answered(body)
    if view is None:
        return None
    found: dict[bytes, bytes] = {}
    for name, value in headers:
        name = name.lower()
        if name not in _REPLAYABLE_HEADERS or name in found:
            return None
        found[name] = value
    etag = found.get(_ETAG)
    if etag is not None and etag.decode() != etag_of(body):
        return None  # a tag of something else than these bytes
    return LearnedAnswer(
        group=view.group,
        field=view.field,
        admission=record.admissions[0],
        routing={key: scope[key] for key in _ROUTING_KEYS if key in scope},
        content_type=found.get(_CONTENT_TYPE, b"application/json"),
        cache_control=found.get(_CACHE_CONTROL),
        etag=etag is not None,
        expires=time.monotonic() + lifetime_s,
    )


class LearnedAnswers:
    """The worker's learned answers, the least recently used dropped past `capacity`."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._answers: OrderedDict[RequestKey, LearnedAnswer] = OrderedDict()

    def get(self, key: RequestKey) -> LearnedAnswer | None:
        answer = self._answers.get(key)
        if answer is None:
            return None
        if answer.expires <= time.monotonic():
            del self._answers[key]
            return None
        self._answers.move_to_end(key)
        return answer

    def put(self, key: RequestKey, answer: LearnedAnswer) -> None:
        self._answers[key] = answer
        self._answers.move_to_end(key)
        if len(self._answers) > self._capacity:
            self._answers.popitem(last=False)


@dataclass
class _Candidate:
    template: PathTemplate
    values: dict[str, str]  # the first sample's
    answer: LearnedAnswer | None = None  # once a second sample agreed


class LearnedTemplates:
    """Each caller's route templates (kit.replay.templates), per query string: a template is
    used once a second answer, for other values of every parameter, agreed with the first."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._callers: OrderedDict[tuple[bytes, bytes | None], dict[str, _Candidate]] = (
            OrderedDict()
        )

    def learn(
        self,
        key: RequestKey,
        template: PathTemplate,
        values: dict[str, str],
        answer: LearnedAnswer,
    ) -> None:
        caller = (key[1], key[2])
        candidates = self._callers.setdefault(caller, {})
        self._callers.move_to_end(caller)
        if len(self._callers) > self._capacity:
            self._callers.popitem(last=False)
        known = candidates.get(template.path)
        if known is not None and known.template == template:
            if all(values[name] != value for name, value in known.values.items()):
                known.answer = answer
            return
        candidates[template.path] = _Candidate(template, values)

    def get(self, key: RequestKey) -> LearnedAnswer | None:
        candidates = self._callers.get((key[1], key[2]))
        if not candidates:
            return None
        now = time.monotonic()
        for candidate in candidates.values():
            answer = candidate.answer
            if answer is None or answer.expires <= now:
                continue
            found = candidate.template.key_of(key[0])
            if found is not None:
                group, field, values = found
                routing = {**answer.routing, "path_params": values}
                return replace(answer, group=group, field=field, routing=routing)
        return None
