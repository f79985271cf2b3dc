"""`travel-recharge export gtfs-fares`: the policy in force as GTFS-Fares v2 files whose
columns and values follow the reference, for 2026 (one fare, free transfers) and 2023 (a
cheaper zonal fare and a paid zonal-to-trunk transfer)."""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ServerUrls

# The GTFS Schedule reference's fields of each file (gtfs.org/documentation/schedule/
# reference), in its order, and whether it requires them (conditional ones: False here,
# their conditions are checked below).
REFERENCE = {
    "fare_media.txt": [
        ("fare_media_id", True),
        ("fare_media_name", False),
        ("fare_media_type", True),
    ],
    "rider_categories.txt": [
        ("rider_category_id", True),
        ("rider_category_name", True),
        ("is_default_fare_category", True),
        ("eligibility_url", False),
    ],
    "networks.txt": [("network_id", True), ("network_name", False)],
    "fare_products.txt": [
        ("fare_product_id", True),
        ("fare_product_name", False),
        ("rider_category_id", False),
        ("fare_media_id", False),
        ("amount", True),
        ("currency", True),
    ],
    "fare_leg_rules.txt": [
        ("leg_group_id", False),
        ("network_id", False),
        ("from_area_id", False),
        ("to_area_id", False),
        ("from_timeframe_group_id", False),
        ("to_timeframe_group_id", False),
        ("fare_product_id", True),
        ("rule_priority", False),
    ],
    "fare_transfer_rules.txt": [
        ("from_leg_group_id", False),
        ("to_leg_group_id", False),
        ("transfer_count", False),
        ("duration_limit", False),
        ("duration_limit_type", False),
        ("fare_transfer_type", True),
        ("fare_product_id", False),
    ],
}
# Enumerations of the reference.
FARE_MEDIA_TYPES = {"0", "1", "2", "3", "4"}
DEFAULT_CATEGORY = {"", "0", "1"}
DURATION_LIMIT_TYPES = {"0", "1", "2", "3"}
FARE_TRANSFER_TYPES = {"0", "1", "2"}

Feed = dict[str, list[dict[str, str]]]


async def export(
    servers: ServerUrls, directory: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TR_")}
    env |= {"TR_DATABASE_URL": servers.database_url, "TR_REDIS_URL": servers.redis_url}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    command = [sys.executable, "-m", "travel_recharge.cli", "export", "gtfs-fares", *extra]
    return await asyncio.to_thread(
        subprocess.run,
        [*command, str(directory)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def read_feed(directory: Path) -> Feed:
    """Every file, checked against the reference's columns, as rows."""
    feed: Feed = {}
    assert sorted(p.name for p in directory.iterdir()) == sorted(REFERENCE)
    for name, fields in REFERENCE.items():
        with (directory / name).open(newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            columns = list(reader.fieldnames or [])
            rows = list(reader)
        known = [field for field, _ in fields]
        assert set(columns) <= set(known), name
        assert columns == sorted(columns, key=known.index), name
        for field, required in fields:
            if required:
                assert field in columns, (name, field)
                assert all(row[field] != "" for row in rows), (name, field)
        assert rows, name
        feed[name] = rows
    return feed


def check_references(feed: Feed) -> None:
    """Enumerations, foreign ids and the conditional fields, as the reference states them."""
    media = {row["fare_media_id"] for row in feed["fare_media.txt"]}
    categories = {row["rider_category_id"] for row in feed["rider_categories.txt"]}
    networks = {row["network_id"] for row in feed["networks.txt"]}
    products = {row["fare_product_id"] for row in feed["fare_products.txt"]}
    groups = {row["leg_group_id"] for row in feed["fare_leg_rules.txt"]}
    assert {row["fare_media_type"] for row in feed["fare_media.txt"]} <= FARE_MEDIA_TYPES
    defaults = [r["is_default_fare_category"] for r in feed["rider_categories.txt"]]
    assert set(defaults) <= DEFAULT_CATEGORY
    assert defaults.count("1") == 1
    for row in feed["fare_products.txt"]:
        assert row["fare_media_id"] in media | {""}
        assert row["rider_category_id"] in categories | {""}
        # COP has no decimal places (ISO 4217): whole pesos, written without a point.
        assert row["currency"] == "COP"
        assert row["amount"].isdigit(), row
    # A product's rows differ by medium or rider category.
    keys = [
        (row["fare_product_id"], row["rider_category_id"], row["fare_media_id"])
        for row in feed["fare_products.txt"]
    ]
    assert len(keys) == len(set(keys))
    for row in feed["fare_leg_rules.txt"]:
        assert row["fare_product_id"] in products
        assert row["network_id"] in networks
    for row in feed["fare_transfer_rules.txt"]:
        assert {row["from_leg_group_id"], row["to_leg_group_id"]} <= groups
        assert row["fare_product_id"] in products | {""}
        assert row["fare_transfer_type"] in FARE_TRANSFER_TYPES
        same_group = row["from_leg_group_id"] == row["to_leg_group_id"]
        # transfer_count: required within one leg group, forbidden between two.
        assert (row["transfer_count"] != "") == same_group, row
        assert (row["duration_limit_type"] != "") == (row["duration_limit"] != "")
        assert row["duration_limit_type"] in DURATION_LIMIT_TYPES | {""}


def amounts(feed: Feed) -> dict[tuple[str, str], str]:
    return {
        (row["fare_product_id"], row["rider_category_id"]): row["amount"]
        for row in feed["fare_products.txt"]
    }


def leg_products(feed: Feed) -> dict[str, tuple[str, str]]:
    return {
        row["network_id"]: (row["leg_group_id"], row["fare_product_id"])
        for row in feed["fare_leg_rules.txt"]
    }


def transfer_rules(feed: Feed) -> dict[tuple[str, str], tuple[str, str, str, str, str]]:
    return {
        (r["from_leg_group_id"], r["to_leg_group_id"]): (
            r["transfer_count"],
            r["duration_limit"],
            r["duration_limit_type"],
            r["fare_transfer_type"],
            r["fare_product_id"],
        )
        for r in feed["fare_transfer_rules.txt"]
    }


async def test_the_2026_policy_is_one_fare_and_one_free_transfer_rule(
    test_servers: ServerUrls, tmp_path: Path
) -> None:
    done = await export(test_servers, tmp_path, "--at", "2026-03-01")
    assert done.returncode == 0, done.stderr
    assert "in force from 2026-01-14T00:00:00-05:00" in done.stdout
    feed = read_feed(tmp_path)
    check_references(feed)
    assert amounts(feed) == {
        ("fare_trunk_cable_zonal", ""): "3550",
        ("fare_trunk_cable_zonal", "child_under_2"): "0",
        ("fare_feeder", ""): "0",
        ("fare_feeder", "child_under_2"): "0",
    }
    assert leg_products(feed) == {
        "trunk": ("paid", "fare_trunk_cable_zonal"),
        "cable": ("paid", "fare_trunk_cable_zonal"),
        "zonal": ("paid", "fare_trunk_cable_zonal"),
        "feeder": ("free", "fare_feeder"),
    }
    # Two transfers within 7,500 s of the boarding that paid, at no cost (no product).
    assert transfer_rules(feed) == {("paid", "paid"): ("2", "7500", "1", "0", "")}
    categories = {r["rider_category_id"]: r for r in feed["rider_categories.txt"]}
    assert set(categories) == {
        "regular",
        "disability",
        "elderly",
        "student_jovenes_e",
        "child_under_2",
    }
    assert categories["regular"]["is_default_fare_category"] == "1"
    assert feed["fare_media.txt"] == [
        {"fare_media_id": "transit_card", "fare_media_name": "Transit card", "fare_media_type": "2"}
    ]


async def test_the_2023_policy_charges_200_from_zonal_to_trunk(
    test_servers: ServerUrls, tmp_path: Path
) -> None:
    done = await export(test_servers, tmp_path, "--at", "2023-06-01")
    assert done.returncode == 0, done.stderr
    feed = read_feed(tmp_path)
    check_references(feed)
    products = amounts(feed)
    assert products[("fare_trunk_cable", "")] == "2950"
    assert products[("fare_zonal", "")] == "2750"
    assert products[("transfer_zonal_trunk", "")] == "200"
    assert leg_products(feed)["zonal"] == ("zonal", "fare_zonal")
    rules = transfer_rules(feed)
    # Zonal to trunk pays the 200 product on top of the zonal fare (A + AB); the other
    # directions are free; 6,600 s (110 minutes) before 2025.
    assert rules[("zonal", "trunk")] == ("", "6600", "1", "0", "transfer_zonal_trunk")
    assert rules[("trunk", "zonal")] == ("", "6600", "1", "0", "")
    assert rules[("trunk", "trunk")] == ("2", "6600", "1", "0", "")
    assert all(group != "feeder" for pair in rules for group in pair)
    assert {r["rider_category_id"] for r in feed["rider_categories.txt"]} == {
        "regular",
        "elderly",
        "sisben",
        "child_under_2",
    }


async def test_a_date_before_every_policy_is_refused(
    test_servers: ServerUrls, tmp_path: Path
) -> None:
    done = await export(test_servers, tmp_path / "out", "--at", "2001-01-01")
    assert done.returncode == 2
    assert "fare policy" in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("at", ["2026-13-01", "yesterday"])
async def test_a_date_that_is_not_one_is_refused(
    test_servers: ServerUrls, tmp_path: Path, at: str
) -> None:
    done = await export(test_servers, tmp_path, "--at", at)
    assert done.returncode == 2
    assert "invalid fromisoformat value" in done.stderr
