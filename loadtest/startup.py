"""The set-up before the run: the admin, the fare policy, the database's ids, the accounts."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import uuid
from collections import deque
from typing import Any

import asyncpg
from accounts import admin_auth, device_account, make_accounts, person_account
from api import SetupError
from back_office import Admin, DataAnalyst
from dataset import database_url, fare_limits, read_dataset
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner
from options import option
from riders import MobileAppRider, RiderAtDevices
from run import CARDS_PER_DEVICE_USER, Run

logger = logging.getLogger("loadtest")

# Caps on the accounts one run makes (each costs the server an argon2 hash).
MAX_ANALYST_ACCOUNTS = 3
MAX_DEVICE_ACCOUNTS = 4
# A validator account is bound to one validator, and a card read twice by one validator
# within a minute is one tap: the riders' cards go round this many (see CardState).
VALIDATOR_ACCOUNTS = 16
TOTAL_WEIGHT = sum(p.weight for p in (MobileAppRider, RiderAtDevices, DataAnalyst, Admin))


def share(users: int, weight: int) -> int:
    """How many of `users` simulated users a persona of this weight gets (at least one)."""
    return max(1, math.ceil(users * weight / TOTAL_WEIGHT))


def set_up(environment: Environment) -> Run:
    if isinstance(environment.runner, MasterRunner | WorkerRunner):
        raise SetupError("run locust as one process: tap cards' balances are tracked in it")
    host = environment.host
    if not host:
        raise SetupError("no --host: the service's base URL, e.g. http://127.0.0.1:8000")
    users = int(option(environment, "num_users") or 1)
    admin = admin_auth(environment, host)
    admin.header()  # fails early on a wrong password
    fares = fare_limits(host)
    riders = min(
        int(option(environment, "rider_accounts") or 1), share(users, MobileAppRider.weight)
    )
    device_users = share(users, RiderAtDevices.weight)
    try:
        dataset = asyncio.run(
            read_dataset(
                database_url(environment),
                riders=max(1, riders),
                # Twice what the users take: cards are drawn at random, not all may qualify.
                tap_cards=max(200, 2 * CARDS_PER_DEVICE_USER * device_users),
                fares=fares,
            )
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise SetupError(f"cannot read the database: {exc}") from exc
    devices = min(device_users, MAX_DEVICE_ACCOUNTS)
    run_id = uuid.uuid4().hex[:8]
    requests: list[dict[str, Any]] = [
        {"login": f"locust-{run_id}-rider-{i}", "role": "rider", "user_id": user_id}
        for i, user_id in enumerate(dataset.rider_user_ids)
    ]
    analysts = min(share(users, DataAnalyst.weight), MAX_ANALYST_ACCOUNTS)
    requests += [
        {"login": f"locust-{run_id}-analyst-{i}", "role": "analyst"} for i in range(analysts)
    ]
    requests += [
        {
            "login": f"locust-{run_id}-validator-{i}",
            "role": "validator",
            "validator_id": f"LOCUST-{run_id}-V{i:02d}",
        }
        for i in range(VALIDATOR_ACCOUNTS)
    ]
    # Each point-of-sale account sells at one point: a few of the network's, at random.
    shuffled = random.sample(dataset.network.recharge_points, len(dataset.network.recharge_points))
    points = [shuffled[i % len(shuffled)] for i in range(devices)]
    requests += [
        {
            "login": f"locust-{run_id}-recharge_point-{i}",
            "role": "recharge_point",
            "recharge_point_id": point,
        }
        for i, point in enumerate(points)
    ]
    made = make_accounts(host, admin, requests)
    by_role: dict[str, list[dict[str, Any]]] = {}
    for account in made:
        by_role.setdefault(account["role"], []).append(account)
    logger.info(
        "loadtest.ready run=%s accounts=%d tap_cards=%d stations=%d",
        run_id,
        len(made),
        len(dataset.tap_cards),
        len(dataset.network.stations),
    )
    return Run(
        run_id=run_id,
        admin=admin,
        fares=fares,
        network=dataset.network,
        riders=[person_account(a) for a in by_role["rider"]],
        analysts=[person_account(a) for a in by_role["analyst"]],
        validators=[device_account(a) for a in by_role["validator"]],
        recharge_point_accounts=[device_account(a) for a in by_role["recharge_point"]],
        tap_cards=deque(dataset.tap_cards),
        created_logins=[a["login"] for a in made],
    )
