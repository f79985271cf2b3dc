"""Reading a feed's files: the zip, CSV rows with their line numbers, GTFS times and dates.

Files are read as streams (csv over a zip member), row by row: a Bogotá-sized stop_times.txt
has millions of rows and is never held as text or as dicts.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

from travel_recharge.network.gtfs.errors import FeedProblem, FeedRefused, Problems

# H:MM:SS or HH:MM:SS; hours may pass 23 (a trip after midnight of its service day).
_TIME = re.compile(r"^(\d{1,3}):([0-5]\d):([0-5]\d)$")


class FeedArchive:
    """The files of a GTFS zip (at its root, or in the one folder a zip tool wrapped it in)."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self._archive = archive
        self._members: dict[str, str] = {}
        for name in archive.namelist():
            base = name.rsplit("/", 1)[-1]
            if base.endswith(".txt"):
                self._members.setdefault(base, name)

    def has(self, file: str) -> bool:
        return file in self._members

    def rows(self, file: str, required: tuple[str, ...], problems: Problems) -> Iterator[Row]:
        """The rows of `file`; a missing required column is a problem and yields nothing."""
        with self._archive.open(self._members[file]) as raw:
            # utf-8-sig: many feeds start with a byte order mark, which is not part of a name.
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            reader = csv.reader(text)
            header = [name.strip() for name in next(reader, [])]
            missing = [name for name in required if name not in header]
            if missing:
                problems.add(file, 1, f"missing required column {', '.join(missing)}")
                return
            columns = {name: i for i, name in enumerate(header)}
            try:
                for values in reader:
                    if not values or values == [""]:
                        continue  # a blank line (often the last)
                    yield Row(file, reader.line_num, columns, values)
            except (csv.Error, UnicodeDecodeError) as exc:
                problems.add(file, reader.line_num, f"unreadable CSV ({exc})")


class Row:
    """One CSV row: values by column name, "" when the column is absent or the row short."""

    __slots__ = ("_columns", "_values", "file", "line")

    def __init__(self, file: str, line: int, columns: dict[str, int], values: list[str]):
        self.file, self.line, self._columns, self._values = file, line, columns, values

    def __getitem__(self, column: str) -> str:
        index = self._columns.get(column)
        if index is None or index >= len(self._values):
            return ""
        return self._values[index].strip()


@contextmanager
def open_feed(path: Path) -> Iterator[FeedArchive]:
    try:
        with zipfile.ZipFile(path) as archive:
            yield FeedArchive(archive)
    except FileNotFoundError:
        raise FeedRefused([FeedProblem(str(path), None, "no such file")]) from None
    except zipfile.BadZipFile:
        raise FeedRefused([FeedProblem(str(path), None, "not a zip archive")]) from None


def parse_time(text: str) -> int | None:
    """Seconds after the service day's start ("25:10:00" is 90600), None if malformed."""
    match = _TIME.match(text)
    if match is None:
        return None
    hours, minutes, seconds = (int(part) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def format_time(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def parse_date(text: str) -> date | None:
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None
