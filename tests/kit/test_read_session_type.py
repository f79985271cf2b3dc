"""mypy refuses a write through a read session (kit.db.ReadSession), and accepts a read.

Type checks are the guard here: read paths (cached views, the replica) are typed with
ReadSession, so a write slipped into one fails `make lint` before it can reach a replica.
One mypy run checks a module holding every case, each in a function of its own.
"""

from __future__ import annotations

import pytest
from mypy import api as mypy_api

HEADER = """
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.kit.db import ReadSession
from travel_recharge.models import Card


async def needs_write_session(session: AsyncSession) -> None:
    await session.flush()
"""

CASES = {
    "select": ("await session.scalar(select(Card.balance).where(Card.id == 1))", None),
    "get": ("await session.get(Card, 1)", None),
    "add": ("session.add(Card())", 'has no attribute "add"'),
    "flush": ("await session.flush()", 'has no attribute "flush"'),
    "commit": ("await session.commit()", 'has no attribute "commit"'),
    "update": (
        "await session.execute(update(Card).values(balance=0))",
        'incompatible type "Update"',
    ),
    "write helper": ("await needs_write_session(session)", 'incompatible type "ReadSession"'),
}


@pytest.fixture(scope="module")
def errors_by_case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    folder = tmp_path_factory.mktemp("read_session")
    lines = HEADER.splitlines()
    line_of: dict[int, str] = {}
    for number, (case, (statement, _)) in enumerate(CASES.items()):
        lines += ["", "", f"async def case_{number}(session: ReadSession) -> None:"]
        lines.append(f"    {statement}")
        line_of[len(lines)] = case
    module = folder / "read_paths.py"
    module.write_text("\n".join(lines) + "\n")
    report, _, _ = mypy_api.run(["--strict", "--cache-dir", str(folder / "cache"), str(module)])
    found: dict[str, list[str]] = {case: [] for case in CASES}
    for line in report.splitlines():
        if ": error:" in line:
            number = int(line.split(":")[1])
            found.setdefault(line_of.get(number, "elsewhere"), []).append(line)
    return found


@pytest.mark.parametrize("case", list(CASES))
def test_mypy_refuses_writes_through_a_read_session(
    errors_by_case: dict[str, list[str]], case: str
) -> None:
    expected = CASES[case][1]
    assert errors_by_case.get("elsewhere", []) == []
    if expected is None:
        assert errors_by_case[case] == []
    else:
        assert any(expected in line for line in errors_by_case[case]), errors_by_case[case]
