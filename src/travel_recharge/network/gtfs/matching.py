"""Which row each imported station and route becomes: the same row as last time, or a new one.

A feed entity matches the row holding its GTFS id; failing that, a row with its code that no
other entity of the feed claims (so the reference network's stations are taken over by a
Bogotá feed using their codes). A matched row keeps its id and its code: riders, trips and
alerts know it by them. A new station takes the feed's five-digit code when no row holds
it, else the lowest free code; a new route takes its feed code, which must be free.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from travel_recharge.network.gtfs.errors import FeedProblem, FeedRefused
from travel_recharge.network.gtfs.repository import Existing

CODE_SPACE = 100_000  # five digits


@dataclass(frozen=True, slots=True)
class Placed:
    id: int
    code: str


def _match(
    wanted: Sequence[tuple[str, str | None]], existing: Iterable[Existing]
) -> dict[str, Existing]:
    """(gtfs id, code or None) of each imported entity -> the row it updates."""
    rows = list(existing)
    by_gtfs = {row.gtfs_id: row for row in rows if row.gtfs_id is not None}
    matched: dict[str, Existing] = {}
    taken: set[int] = set()
    for gtfs_id, _ in wanted:
        row = by_gtfs.get(gtfs_id)
        if row is not None:
            matched[gtfs_id] = row
            taken.add(row.id)
    feed_ids = {gtfs_id for gtfs_id, _ in wanted}
    by_code = {row.code: row for row in rows}
    for gtfs_id, code in wanted:
        row = by_code.get(code) if code is not None and gtfs_id not in matched else None
        if row is not None and row.id not in taken and row.gtfs_id not in feed_ids:
            matched[gtfs_id] = row
            taken.add(row.id)
    return matched


def place_stations(
    wanted: Sequence[tuple[str, str | None]], existing: Sequence[Existing]
) -> dict[str, Placed]:
    matched = _match(wanted, existing)
    used = {row.code for row in existing}
    next_id = max((row.id for row in existing), default=0) + 1
    placed = {gtfs_id: Placed(row.id, row.code) for gtfs_id, row in matched.items()}
    needing_code: list[str] = []
    for gtfs_id, code in wanted:
        if gtfs_id in placed:
            continue
        if code is not None and code not in used:
            placed[gtfs_id] = Placed(next_id, code)
            used.add(code)
            next_id += 1
        else:
            needing_code.append(gtfs_id)
    free = (f"{n:05d}" for n in range(1, CODE_SPACE) if f"{n:05d}" not in used)
    for gtfs_id in needing_code:
        code = next(free, None)
        if code is None:
            raise FeedRefused([FeedProblem("stops.txt", None, "more stations than codes")])
        placed[gtfs_id] = Placed(next_id, code)
        next_id += 1
    return placed


def place_routes(
    wanted: Sequence[tuple[str, str]], existing: Sequence[Existing]
) -> dict[str, Placed]:
    matched = _match(wanted, existing)
    holders = {row.code: row for row in existing}
    next_id = max((row.id for row in existing), default=0) + 1
    placed = {gtfs_id: Placed(row.id, row.code) for gtfs_id, row in matched.items()}
    problems: list[FeedProblem] = []
    for gtfs_id, code in wanted:
        if gtfs_id in placed:
            continue
        holder = holders.get(code)
        if holder is not None:
            problems.append(
                FeedProblem(
                    "routes.txt",
                    None,
                    f"route_id {gtfs_id!r}: code {code!r} belongs to another route in the database"
                    f" (GTFS id {holder.gtfs_id!r}), which this feed also names",
                )
            )
            continue
        placed[gtfs_id] = Placed(next_id, code)
        next_id += 1
    if problems:
        raise FeedRefused(problems)
    return placed
