"""The fare policy in force as GTFS-Fares v2 tables, and the files that carry them.

What the tables say, from one FarePolicy:
- one fare medium, the transit card;
- a rider category per profile of the policy, plus the default one;
- a network per service kind (trunk, cable, zonal, feeder): legs are priced by kind;
- a fare product per full-fare amount (kinds that cost the same share it), a free one for
  each profile whose benefit is unlimited free trips, and one per paid transfer direction;
- the transfer rule: up to `max_transfers` transfers within `transfer_window` of the
  boarding that paid. When every transfer costs the same (0 since 2024), the paid legs form
  one leg group and that is one rule; when a direction costs more (zonal to trunk, 200, in
  2023), each paid kind is a leg group with a rule per pair. Free kinds (feeders) are a leg
  group with no transfer rule: a free ride neither opens nor continues a transfer window, so
  the paid boarding after it is a full fare.
What they cannot say (monthly quotas, credit trips, cards without transfers, the same route
again) is in the README's section on exports.
"""

from __future__ import annotations

import asyncio
import csv
from datetime import datetime
from itertools import product
from pathlib import Path

from travel_recharge.fares import service as fares
from travel_recharge.fares.gtfs.schemas import (
    COLUMNS,
    FARE_LEG_RULES,
    FARE_MEDIA,
    FARE_PRODUCTS,
    FARE_TRANSFER_RULES,
    FIRST_LEG_PLUS_TRANSFER,
    FROM_FIRST_BOARDING_TO_LAST_BOARDING,
    NETWORKS,
    RIDER_CATEGORIES,
    TRANSIT_CARD,
    Row,
    Tables,
)
from travel_recharge.fares.policy import (
    CURRENCY,
    CURRENCY_DECIMALS,
    BenefitKind,
    FarePolicy,
    ServiceKind,
)
from travel_recharge.kit.db import ReadSession

CARD_MEDIUM = "transit_card"
PAID_LEGS = "paid"
FREE_LEGS = "free"


def gtfs_amount(amount: int) -> str:
    """Whole units of the currency with the decimal places ISO 4217 gives it (none: COP)."""
    return f"{amount}.{'0' * CURRENCY_DECIMALS}" if CURRENCY_DECIMALS else str(amount)


def fare_product_id(kinds: list[ServiceKind]) -> str:
    return "fare_" + "_".join(kind.value for kind in kinds)


def fare_tables(policy: FarePolicy, default_rider_category: str) -> Tables:
    """The GTFS-Fares v2 rows of `policy`, by file name."""
    by_amount: dict[int, list[ServiceKind]] = {}
    for kind in ServiceKind:
        by_amount.setdefault(policy.full_fare(kind), []).append(kind)
    product_of = {kind: fare_product_id(kinds) for kinds in by_amount.values() for kind in kinds}
    free_profiles = [
        profile
        for profile, benefit in policy.profile_benefits.items()
        if benefit.kind is BenefitKind.FREE_TRIPS and benefit.trips_per_month is None
    ]
    products = []
    for amount, kinds in by_amount.items():
        name = f"Full fare: {', '.join(kind.value for kind in kinds)}"
        products.append(_product(fare_product_id(kinds), name, amount))
        products += [
            _product(fare_product_id(kinds), f"{name} ({profile})", 0, profile)
            for profile in free_profiles
        ]
    paid_transfers = {pair: cost for pair, cost in policy.transfer_costs.items() if cost > 0}
    products += [
        _product(_transfer_product(a, b), f"Transfer {a.value} to {b.value}", cost)
        for (a, b), cost in paid_transfers.items()
    ]
    one_group = not paid_transfers
    paid_kinds = [kind for kind in ServiceKind if policy.full_fare(kind) > 0]
    return {
        FARE_MEDIA: [
            {
                "fare_media_id": CARD_MEDIUM,
                "fare_media_name": "Transit card",
                "fare_media_type": str(TRANSIT_CARD),
            }
        ],
        RIDER_CATEGORIES: [
            {
                "rider_category_id": category,
                "rider_category_name": category.replace("_", " "),
                "is_default_fare_category": "1" if category == default_rider_category else "0",
            }
            for category in [default_rider_category, *policy.profile_benefits]
        ],
        NETWORKS: [{"network_id": k.value, "network_name": k.value.title()} for k in ServiceKind],
        FARE_PRODUCTS: products,
        FARE_LEG_RULES: [
            {
                "leg_group_id": _leg_group(kind, paid_kinds, one_group),
                "network_id": kind.value,
                "fare_product_id": product_of[kind],
            }
            for kind in ServiceKind
        ],
        FARE_TRANSFER_RULES: _transfer_rules(policy, paid_kinds, one_group),
    }


def _product(product_id: str, name: str, amount: int, category: str = "") -> Row:
    return {
        "fare_product_id": product_id,
        "fare_product_name": name,
        "rider_category_id": category,
        "fare_media_id": CARD_MEDIUM,
        "amount": gtfs_amount(amount),
        "currency": CURRENCY,
    }


def _transfer_product(from_kind: ServiceKind, to_kind: ServiceKind) -> str:
    return f"transfer_{from_kind.value}_{to_kind.value}"


def _leg_group(kind: ServiceKind, paid_kinds: list[ServiceKind], one_group: bool) -> str:
    if kind not in paid_kinds:
        return FREE_LEGS
    return PAID_LEGS if one_group else kind.value


def _transfer_rules(
    policy: FarePolicy, paid_kinds: list[ServiceKind], one_group: bool
) -> list[Row]:
    window = str(int(policy.transfer_window.total_seconds()))
    pairs = [(PAID_LEGS, PAID_LEGS, "")] if one_group else []
    if not one_group:
        for a, b in product(paid_kinds, repeat=2):
            cost = policy.transfer_cost(a, b)
            pairs.append((a.value, b.value, _transfer_product(a, b) if cost else ""))
    return [
        {
            "from_leg_group_id": from_group,
            "to_leg_group_id": to_group,
            # The reference forbids a count between two different groups.
            "transfer_count": str(policy.max_transfers) if from_group == to_group else "",
            "duration_limit": window,
            "duration_limit_type": str(FROM_FIRST_BOARDING_TO_LAST_BOARDING),
            "fare_transfer_type": str(FIRST_LEG_PLUS_TRANSFER),
            "fare_product_id": transfer_product,
        }
        for from_group, to_group, transfer_product in pairs
    ]


def write_tables(tables: Tables, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        with (directory / name).open("w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=COLUMNS[name], lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)


async def export_gtfs_fares(
    session: ReadSession, at: datetime, default_rider_category: str, directory: Path
) -> FarePolicy:
    """Write the files of the policy in force at `at`; returns that policy."""
    policy = (await fares.policy_at(session, at)).policy
    await asyncio.to_thread(write_tables, fare_tables(policy, default_rider_category), directory)
    return policy
