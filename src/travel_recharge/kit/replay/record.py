"""What the route did for one request, as the edge's replay needs to know it.

The replay layer puts a fresh record in a context variable around each request it may learn
from; kit.views notes the views read and security notes the access rule that admitted the
caller. Outside such a request the notes go nowhere.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass, field

from starlette.types import Scope

# Set in the scope's state by the replay layer (never by a client) when it has already
# counted the request in its rate limits: the route's access rule must not count it again.
ADMITTED_AT_EDGE = "travel_recharge_admitted_at_edge"


@dataclass(frozen=True)
class ViewRead:
    group: str
    field: str
    payload: bytes


@dataclass
class AnswerRecord:
    views: list[ViewRead] = field(default_factory=list)
    # What each access rule that ran would need to admit the caller again (security's own).
    admissions: list[object] = field(default_factory=list)

    def view_answered(self, body: bytes) -> ViewRead | None:
        """The view whose bytes are the answer itself (the same object, not a copy or a
        transformation of them)."""
        return next((view for view in self.views if view.payload is body), None)


_record: ContextVar[AnswerRecord | None] = ContextVar("travel_recharge_answer_record", default=None)


def recording() -> tuple[AnswerRecord, Token[AnswerRecord | None]]:
    """A fresh record for the current request, and the token to end it with."""
    record = AnswerRecord()
    return record, _record.set(record)


def stop_recording(token: Token[AnswerRecord | None]) -> None:
    _record.reset(token)


def note_view(group: str, field: str, payload: bytes) -> None:
    record = _record.get()
    if record is not None:
        record.views.append(ViewRead(group, field, payload))


def note_admission(admission: object) -> None:
    record = _record.get()
    if record is not None:
        record.admissions.append(admission)


def mark_admitted(scope: Scope) -> None:
    scope.setdefault("state", {})[ADMITTED_AT_EDGE] = True


def admitted_at_edge(scope: Scope) -> bool:
    return bool(scope.get("state", {}).get(ADMITTED_AT_EDGE))
