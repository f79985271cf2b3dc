"""Limit/offset pagination shared by every list endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query
from pydantic import BaseModel

# The pages a cached list view keeps in Redis: the page sizes clients use, and the first
# CACHED_PAGES pages of each (offsets that are multiples of the size). Any other limit/offset
# pair is answered from PostgreSQL without a cache key: otherwise an anonymous caller could
# make one key per pair (500 limits x 10M offsets) and fill Redis. The bound is
# len(CACHED_PAGE_SIZES) * CACHED_PAGES keys per list and filter; the web pages' 16 pages of
# 500 stations and the API's default page stay cached.
CACHED_PAGE_SIZES = frozenset({10, 20, 25, 50, 100, 200, 500})
CACHED_PAGES = 20


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int

    @property
    def cacheable(self) -> bool:
        """Whether this page may have a cache key of its own (see CACHED_PAGE_SIZES)."""
        return (
            self.limit in CACHED_PAGE_SIZES
            and self.offset % self.limit == 0
            and self.offset // self.limit < CACHED_PAGES
        )

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
