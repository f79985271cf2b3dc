"""Property-based fuzzing of the whole HTTP API against its own OpenAPI document.

schemathesis takes every operation of the app's OpenAPI document (one test item each) and
sends generated requests to a real server as an admin, so access checks let them through to
the code behind: the document's examples, coverage cases (boundaries, valid and invalid
values, other methods), then `MAX_EXAMPLES` random cases (valid and invalid). Each response
must not be a server error (no 5xx) and must conform to the document: a documented status
code, a documented content type and a body matching the schema. After each operation the
ledger must still verify (`clean`): the fuzzer may not lose a peso.

The budget is fixed (`MAX_EXAMPLES` random cases per operation) and so is the seed (`SEED`,
from which schemathesis derives one per operation), with no example database, so every run
of the same code sends the same requests (Hypothesis also draws on literals of the project's
source) and a failure found once is found again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis import Case

from tests.conftest import Network, ServerUrls, bearer, make_settings
from tests.money import new_card, recharge, tap
from tests.threaded_server import threaded_server
from travel_recharge.app import create_app
from travel_recharge.kit.bulk import continue_id_sequences
from travel_recharge.kit.embedded import free_port
from travel_recharge.security.roles import Role

SEED = 20_240_611
MAX_EXAMPLES = 20

# Built-ins only, named: the defaults also re-send requests (ignored_auth, use_after_free,
# ...) or judge which inputs should be accepted, which are other tests' business; this one
# is about 5xx and the responses matching the document.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


def _openapi_document() -> dict[str, Any]:
    """The document, from an app that is never started (no lifespan: nothing connects).

    It must exist at collection time to make one test item per operation; it depends on the
    routes and settings, not on the servers, and `live_server` checks the served one is
    identical. (schemathesis' fixture-based loader, `schemathesis.pytest.from_fixture`,
    would avoid this, but in 4.32.5 it sets `node._nodeid`, which pytest 9.2 no longer has.)
    """
    # The test settings matter (the rate limit groups, for one, add 429 responses); the
    # servers' addresses do not.
    unused = ServerUrls(
        "postgresql://unused/unused", "postgresql://unused/unused", "redis://unused", "unused"
    )
    return create_app(make_settings(unused)).openapi()


DOCUMENT = _openapi_document()
schema = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "operations": [
                {
                    # Each valid request times `samples` cold and warm reads of several
                    # endpoints: ~2 s at random sizes, ~55 s for this operation's budget
                    # alone. The smallest allowed size keeps it (and its card_id) fuzzed.
                    "include-path": "/api/v1/cache/performance-test",
                    "parameters": {"samples": 5},
                },
                {
                    # This server has no TR_SELF_URL, so the fuzzer never starts simulated
                    # traffic under the other operations: a valid start is the documented 503.
                    "include-path": "/api/v1/simulator/start",
                    "checks": {
                        "not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]}
                    },
                },
            ],
        }
    ),
)


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    admin_headers: dict[str, str]


@pytest.fixture(scope="module")
def live_server(test_servers: ServerUrls) -> Iterator[LiveServer]:
    """A real uvicorn server in a thread of this process, with its own app and pools.

    schemathesis calls the app synchronously; its in-process ASGI transport would run it on
    another event loop than the one the session app's asyncpg and Redis pools are bound to.
    A socket and an app whose lifespan runs on the server's own loop avoid that. It shares
    the session's database and cache namespace, so it serves each test's `world` and `clean`
    empties both after each operation.
    """
    app = create_app(make_settings(test_servers))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with threaded_server(app, port, "fuzz server"):
        served = httpx.get(f"{base_url}/openapi.json", timeout=10).json()
        assert served == DOCUMENT, "the served OpenAPI document is not the one being fuzzed"
        # Tokens live 15 minutes by default: far longer than the whole module takes.
        yield LiveServer(base_url, bearer(app, Role.admin))


@pytest.fixture
async def world(app: FastAPI, client: httpx.AsyncClient, network: Network) -> None:
    """Rows for the generated ids to name, so money moves and success bodies get checked.

    Generated ids are mostly small and 1 is the boundary every integer id is tried at, but
    the id sequences run on across the session's tests (TRUNCATE keeps them). On the empty
    tables `clean` leaves they restart, so there are user 1, a funded basic card 1, a
    personalized card 2, trip 1 (open, on card 1) and alert 1, besides `network`'s
    stations 1-3 and recharge points 1-2.
    """
    async with app.state.database.primary.begin() as connection:
        raw = await connection.get_raw_connection()
        await continue_id_sequences(raw.driver_connection, ("users", "cards", "trips", "alerts"))
    funded = await new_card(client)
    await new_card(client, "personalized")
    assert (await recharge(client, funded, 20_000, point=network.counter)).status_code == 201
    assert (await tap(client, funded, station_id=network.trunk_station)).status_code in (200, 201)
    alert = await client.post(
        "/api/v1/alerts",
        json={
            "station_id": network.trunk_station,
            "severity": "warning",
            "cause": "CONSTRUCTION",
            "effect": "STOP_MOVED",
            "message": "Entrada norte cerrada por obras",
        },
    )
    assert alert.status_code == 201, alert.text


@pytest.mark.usefixtures("world")
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    database=None,
    # `world` (and `network`, `clean` under it) run once per operation, not per generated
    # case: the cases of one operation share those rows, as the clients of a server would.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_operation_answers_within_its_schema(case: Case, live_server: LiveServer) -> None:
    # The admin header goes with every request, the token operation's too (it ignores it).
    case.call_and_validate(base_url=live_server.base_url, headers=live_server.admin_headers)
