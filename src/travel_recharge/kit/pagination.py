"""Limit/offset pagination shared by every list endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query
from pydantic import BaseModel


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int

    @property
    def cache_field(self) -> str:
        return f"{self.limit}:{self.offset}"

    def info(self, returned: int) -> PageInfo:
        """The page block of an answer that holds `returned` items."""
        return PageInfo(limit=self.limit, offset=self.offset, returned=returned)


async def _page(
    limit: Annotated[int, Query(ge=1, le=500, description="items per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="items to skip")] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(_page)]


class PageInfo(BaseModel):
    limit: int
    offset: int
    returned: int
