"""A refused feed: every problem found, each naming its file, line and what is wrong."""

from __future__ import annotations

from dataclasses import dataclass

# Enough to fix a feed in a few rounds without flooding a terminal with one repeated mistake.
MAX_PROBLEMS = 50


@dataclass(frozen=True, slots=True)
class FeedProblem:
    file: str
    line: int | None  # the line in the file (the header is line 1); None: the whole file
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file} line {self.line}"
        return f"{where}: {self.message}"


class FeedRefused(Exception):
    """The feed cannot be imported; nothing was written."""

    def __init__(self, problems: list[FeedProblem]) -> None:
        self.problems = problems
        listed = "\n".join(f"  {problem}" for problem in problems)
        count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
        super().__init__(f"the feed is refused ({count}):\n{listed}")


class Problems:
    """Collects problems; stops the read early once there are too many to be useful."""

    def __init__(self) -> None:
        self.found: list[FeedProblem] = []

    def add(self, file: str, line: int | None, message: str) -> None:
        self.found.append(FeedProblem(file, line, message))
        if len(self.found) >= MAX_PROBLEMS:
            raise FeedRefused(self.found)

    def raise_any(self) -> None:
        if self.found:
            raise FeedRefused(self.found)
