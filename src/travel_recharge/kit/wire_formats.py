"""Dates and times as they travel: parsed only from the spelling the OpenAPI document states.

Pydantic's `date` also takes a number as a Unix timestamp (`date_to=0` would be 1970-01-01)
and JSON Schema's `format: time` requires a UTC offset that a local time of day does not
carry. These types accept and document one spelling each, so a client reading the document
and the service reading the request agree.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, WithJsonSchema

# ECMA-262 and Python read these patterns alike (the document's readers use the former).
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
LOCAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?$"
# An instant written in the years 2000-2099 (its local year, as written with its offset).
YEARS_2000S_PATTERN = r"^20[0-9]{2}-"
FIRST_YEAR, LAST_YEAR = 2000, 2099


def _date_spelled_out(value: object) -> object:
    # Only text reaches the parser: a number is never read as a timestamp.
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not re.fullmatch(DATE_PATTERN, value):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


IsoDate = Annotated[
    date,
    BeforeValidator(_date_spelled_out),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN}),
]

# A time of day on the city's clock, answered as HH:MM:SS: no offset, so no `format: time`.
LocalTime = Annotated[time, WithJsonSchema({"type": "string", "pattern": LOCAL_TIME_PATTERN})]


def _in_supported_years(value: datetime) -> datetime:
    # The year as written, the one the pattern reads. Past these years Python's datetime
    # arithmetic (and the database driver) can overflow, and no timetable means anything.
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must fall in the years {FIRST_YEAR} to {LAST_YEAR}")
    return value


Instant = Annotated[
    AwareDatetime,
    AfterValidator(_in_supported_years),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": YEARS_2000S_PATTERN}),
]
