"""The GTFS-Fares v2 files we write and their columns, in the reference's order
(gtfs.org/documentation/schedule/reference). Columns we never fill are left out, as the
reference allows for optional fields."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

FARE_MEDIA = "fare_media.txt"
RIDER_CATEGORIES = "rider_categories.txt"
NETWORKS = "networks.txt"
FARE_PRODUCTS = "fare_products.txt"
FARE_LEG_RULES = "fare_leg_rules.txt"
FARE_TRANSFER_RULES = "fare_transfer_rules.txt"

COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        FARE_MEDIA: ("fare_media_id", "fare_media_name", "fare_media_type"),
        RIDER_CATEGORIES: ("rider_category_id", "rider_category_name", "is_default_fare_category"),
        NETWORKS: ("network_id", "network_name"),
        FARE_PRODUCTS: (
            "fare_product_id",
            "fare_product_name",
            "rider_category_id",
            "fare_media_id",
            "amount",
            "currency",
        ),
        FARE_LEG_RULES: ("leg_group_id", "network_id", "fare_product_id"),
        FARE_TRANSFER_RULES: (
            "from_leg_group_id",
            "to_leg_group_id",
            "transfer_count",
            "duration_limit",
            "duration_limit_type",
            "fare_transfer_type",
            "fare_product_id",
        ),
    }
)

# fare_media_type 2: a physical transit card holding stored value.
TRANSIT_CARD = 2
# duration_limit_type 1: from the first leg's boarding validation to the last leg's: the
# window counts from the tap that paid the full fare to the boarding that transfers.
FROM_FIRST_BOARDING_TO_LAST_BOARDING = 1
# fare_transfer_type 0: the first leg's product plus the transfer's (A + AB).
FIRST_LEG_PLUS_TRANSFER = 0

Row = dict[str, str]
Tables = dict[str, list[Row]]
