"""The TIDES tables we write, described as Frictionless Table Schemas of our own.

TIDES (github.com/TIDES-transit/TIDES, spec/*.schema.json) defines each table as a Table
Schema. We emit a subset of its fields, in its order, with its names, types, required flags
and enumerations; these descriptions say only what we write, so a consumer (and our tests)
can validate the CSV with any Frictionless tool. Written against the spec as of commit
67bca7c (2026).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

FARE_TRANSACTIONS_FILE = "fare_transactions.csv"
DEVICES_FILE = "devices.csv"
DATA_PACKAGE_FILE = "datapackage.json"

# TIDES's own missing values; COPY writes a null as an empty unquoted field.
MISSING_VALUES = ["", "NA", "NaN"]

FARE_ACTIONS = (
    "Unknown action type",
    "Purchase",
    "Enter",
    "Exit",
    "Transfer entrance",
    "Transfer exit",
    "Add",
    "New",
    "Capture",
    "Extend",
    "Combine",
    "Void",
    "Activate",
    "Adjust",
    "Other",
)
FARE_MEDIA = (
    "Cash or coins",
    "Smart card or ticket",
    "Magnetic-stripe card or ticket",
    "Bank card",
    "Mobile NFC",
    "Optical scan",
    "Button pressed by driver or operator to indicate a boarding or alighting passenger.",
    "Other type",
)
DEVICE_TYPES = (
    "Farebox",
    "Fare gate",
    "Fare vending machine",
    "Passenger counter",
    "Vehicle location",
    "Other",
)


def _field(
    name: str,
    type_: str,
    description: str,
    *,
    required: bool = False,
    unique: bool = False,
    enum: tuple[str, ...] | None = None,
    minimum: int | None = None,
) -> dict[str, Any]:
    constraints: dict[str, Any] = {}
    if required:
        constraints["required"] = True
    if unique:
        constraints["unique"] = True
    if enum is not None:
        constraints["enum"] = list(enum)
    if minimum is not None:
        constraints["minimum"] = minimum
    field: dict[str, Any] = {"name": name, "type": type_, "description": description}
    if constraints:
        field["constraints"] = constraints
    return field


FARE_TRANSACTIONS_SCHEMA: dict[str, Any] = {
    "primaryKey": "transaction_id",
    "missingValues": MISSING_VALUES,
    "fields": [
        _field(
            "transaction_id",
            "string",
            "A tap's tap_id (the validator's own id), or 'ledger-' and the ledger entry's id",
            required=True,
            unique=True,
        ),
        _field("service_date", "date", "Local date of the event in the city", required=True),
        _field("event_timestamp", "datetime", "When it happened, UTC", required=True),
        _field(
            "amount",
            "number",
            "Signed, whole units of currency_type: charges negative, credits positive",
            required=True,
        ),
        _field("currency_type", "string", "ISO 4217 code"),
        _field(
            "fare_action",
            "string",
            "Enter (a fare), Transfer entrance, Add (a recharge), Adjust (credit repaid, "
            "balance moved between cards, operator adjustment)",
            required=True,
            enum=FARE_ACTIONS,
        ),
        _field("device_id", "string", "The validator, or 'recharge-point-' and its id"),
        _field("stop_id", "string", "The station's code, as in our GTFS stops"),
        _field("num_riders", "integer", "1 on a boarding", minimum=0),
        _field("fare_media_id", "string", "Always a smart card", enum=FARE_MEDIA),
        _field("rider_category", "string", "The card's profile, or the default category"),
        _field(
            "fare_product",
            "string",
            "How a boarding was priced (full, transfer, credit, free_trip, reduced_fare) or "
            "the ledger entry's kind",
        ),
        _field("fare_capped", "boolean", "Always false: no fare capping", required=True),
        _field("token_id", "string", "The card's id (never its number)"),
        _field("balance", "number", "The card's balance after the transaction"),
    ],
    "foreignKeys": [
        {"fields": "device_id", "reference": {"resource": "devices", "fields": "device_id"}}
    ],
}

DEVICES_SCHEMA: dict[str, Any] = {
    "primaryKey": "device_id",
    "missingValues": MISSING_VALUES,
    "fields": [
        _field("device_id", "string", "As in fare_transactions", required=True, unique=True),
        _field("stop_id", "string", "A gate's station code; empty on a vehicle"),
        _field(
            "device_type",
            "string",
            "Fare gate at stations, Farebox on buses, recharge points",
            enum=DEVICE_TYPES,
        ),
        _field("device_location", "string", "Where a gate stands"),
    ],
}


def data_package(name: str) -> dict[str, Any]:
    """The datapackage.json that names both files and their schemas."""
    return {
        "name": name,
        "profile": "tabular-data-package",
        "resources": [
            {
                "name": "fare_transactions",
                "path": FARE_TRANSACTIONS_FILE,
                "profile": "tabular-data-resource",
                "format": "csv",
                "schema": FARE_TRANSACTIONS_SCHEMA,
            },
            {
                "name": "devices",
                "path": DEVICES_FILE,
                "profile": "tabular-data-resource",
                "format": "csv",
                "schema": DEVICES_SCHEMA,
            },
        ],
    }


@dataclass(frozen=True)
class TidesRequest:
    """What to export: events in [start, end), dated in `timezone`."""

    start: datetime
    end: datetime
    timezone: str
    currency: str  # of every amount (the fare policy's)
    default_rider_category: str  # of a card without a profile
    include_simulated: bool = False  # the traffic simulator's cards are not real riders


@dataclass(frozen=True)
class TidesExport:
    fare_transactions: int
    devices: int
