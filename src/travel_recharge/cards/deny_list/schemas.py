"""The deny list's answer."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class DenyListOut(BaseModel):
    kind: Literal["snapshot", "delta"] = Field(
        description="snapshot: `added` is the whole list, replacing the validator's; "
        "delta: apply `added` and `removed` to the list held at version `since`"
    )
    version: int = Field(description="the list's version after this answer: ask since it next")
    since: int | None = Field(description="the version a delta starts from; null for a snapshot")
    added: list[int] = Field(description="card ids to refuse, in increasing order")
    removed: list[int] = Field(description="card ids usable again, in increasing order")
