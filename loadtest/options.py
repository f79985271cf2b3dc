"""The load test's own command-line options, and reading them back."""

from __future__ import annotations

import os
from typing import Any

from locust.argument_parser import LocustArgumentParser
from locust.env import Environment


def add_options(parser: LocustArgumentParser) -> None:
    """The options, for locust's init_command_line_parser event."""
    # On the parser itself: locust's extras (is_secret) are not known to argument groups.
    parser.add_argument(
        "--database-url",
        env_var="LOCUST_DATABASE_URL",
        default="",
        help="the service's database, to draw seeded ids from (default: TR_DATABASE_URL, "
        "else the embedded PostgreSQL under the data directory)",
    )
    parser.add_argument(
        "--data-dir",
        env_var="LOCUST_DATA_DIR",
        default=os.environ.get("TR_DATA_DIR", ".data"),
        help="the service's data directory (embedded PostgreSQL, demo-credentials.json)",
    )
    parser.add_argument("--admin-username", env_var="LOCUST_ADMIN_USERNAME", default="")
    parser.add_argument(
        "--admin-password", env_var="LOCUST_ADMIN_PASSWORD", default="", is_secret=True
    )
    parser.add_argument(
        "--admin-token",
        env_var="LOCUST_ADMIN_TOKEN",
        default="",
        is_secret=True,
        help="a ready admin access token (not renewed: it must outlive the run)",
    )
    parser.add_argument(
        "--rider-accounts",
        env_var="LOCUST_RIDER_ACCOUNTS",
        type=int,
        default=100,
        help="at most this many rider accounts (mobile app users share them beyond it)",
    )
    parser.add_argument(
        "--think-time",
        env_var="LOCUST_THINK_TIME",
        type=float,
        default=1.0,
        help="multiplies every persona's pause between tasks (0: no pause)",
    )
    parser.add_argument(
        "--recharge-retry-share",
        env_var="LOCUST_RECHARGE_RETRY_SHARE",
        type=float,
        default=0.2,
        help="the share of recharges a point of sale sends again with the same key",
    )


def option(environment: Environment, name: str) -> Any:
    """The value of one of locust's options (None when it has no such option)."""
    return getattr(environment.parsed_options, name, None)
