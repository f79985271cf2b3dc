"""`travel-recharge simulate` against a real server: start, progress, the end, refusals."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.simulator.conftest import START, STATUS, LiveServer, Riders
from travel_recharge.accounts import service as accounts
from travel_recharge.accounts.schemas import AccountCreate
from travel_recharge.cli import build_parser, serving_url
from travel_recharge.kit.audit import SystemActor
from travel_recharge.kit.embedded import free_port

# `python -m travel_recharge.cli` with Ctrl-C as in a terminal: a suite started in the
# background (`&` in a script, nohup, some CI runners) ignores SIGINT, a child inherits that,
# and Python then installs no KeyboardInterrupt handler, so the signal would do nothing.
WITH_CTRL_C = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler);"
    " runpy.run_module('travel_recharge.cli', run_name='__main__', alter_sys=True)"
)


@dataclass(frozen=True)
class Credentials:
    path: Path
    login: str


@pytest.fixture
async def credentials(app: FastAPI, tmp_path: Path) -> Credentials:
    """An operator account, written to a file shaped like the demo's credentials."""
    login = f"sim-cli-{uuid.uuid4().hex[:8]}"
    async with app.state.database.write_sessions() as session, session.begin():
        made = await accounts.create(
            session, AccountCreate(login=login, role="operator"), actor=SystemActor("test")
        )
    path = tmp_path / "demo-credentials.json"
    entry = {"role": "operator", "grant_type": "password", "username": login}
    content = json.dumps({"accounts": [{**entry, "password": made.secret}]})
    await asyncio.to_thread(path.write_text, content)
    return Credentials(path, login)


async def _simulate(*args: str) -> int:
    """The command's handler, as `travel-recharge simulate ...` runs it (in a thread: it
    blocks, and the server it watches runs in this process)."""
    parsed = build_parser().parse_args(["simulate", *args])
    code: int = await asyncio.to_thread(parsed.handler, parsed)
    return code


async def _trips(app: FastAPI) -> int:
    async with app.state.database.primary.connect() as connection:
        return int((await connection.exec_driver_sql("SELECT count(*) FROM trips")).scalar_one())


async def test_it_starts_a_run_prints_progress_and_a_summary_and_exits_0(
    app: FastAPI,
    live_server: LiveServer,
    live: httpx.AsyncClient,
    riders: Riders,
    credentials: Credentials,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = await _simulate(
        "--rate", "20", "--minutes", "0.06", "--url", live_server.url,
        "--credentials", str(credentials.path), "--every", "1",
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("run ")
    assert "started at" in lines[0]
    assert "20 events/s for 0.06 min with 87 validators and 1 recharge points" in lines[0]
    assert "riding its 40 own cards (40 new)" in lines[0]
    # Progress every second of a 3.6 s run: how many lines a loaded machine prints varies,
    # so at least one (the summary line is checked apart).
    progress = [line for line in lines if "] running: taps " in line]
    assert len(progress) >= 1
    status = (await live.get(STATUS)).json()
    assert lines[-1].startswith(f"run {status['run_id']} ended (finished): stopped: taps ")
    assert f"charged {status['counters']['taps_charged']}," in lines[-1]
    assert status["started_by"] == credentials.login
    assert status["counters"]["taps_charged"] == await _trips(app) > 0


async def test_it_refuses_while_a_run_is_going(
    live_server: LiveServer,
    live: httpx.AsyncClient,
    riders: Riders,
    credentials: Credentials,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = await live.post(START, json={"rate": 5, "minutes": 1})
    assert started.status_code == 202
    code = await _simulate(
        "--rate", "5", "--minutes", "1", "--url", live_server.url,
        "--credentials", str(credentials.path),
    )  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 2
    assert "refused (409)" in err
    assert f"a simulation is already running (run {started.json()['run_id']}" in err


async def test_it_refuses_bad_credentials_and_starts_nothing(
    live_server: LiveServer, live: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await _simulate(
        "--rate", "5", "--minutes", "1", "--url", live_server.url,
        "--login", "nobody-here", "--secret", "wrong",
    )  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 2
    assert "sign-in as 'nobody-here' refused (400): username or password is wrong" in err
    assert (await live.get(STATUS)).json()["state"] == "stopped"


async def test_it_says_when_it_has_no_credentials(
    live_server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await _simulate(
        "--rate", "5", "--minutes", "1", "--url", live_server.url,
        "--credentials", str(tmp_path / "missing.json"),
    )  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 2
    assert f"no operator credentials in {tmp_path / 'missing.json'}" in err


async def test_it_says_when_the_server_cannot_be_reached(
    credentials: Credentials, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code = await _simulate("--rate", "5", "--minutes", "1", "--url", url,
                           "--credentials", str(credentials.path))  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 2
    assert f"cannot reach {url}" in err


async def test_it_refuses_a_rate_out_of_bounds_naming_it(
    live_server: LiveServer, credentials: Credentials, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await _simulate(
        "--rate", "501", "--minutes", "1", "--url", live_server.url,
        "--credentials", str(credentials.path),
    )  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 2
    assert "refused (422): rate: Input should be less than or equal to 500" in err


async def test_ctrl_c_stops_the_run_and_prints_a_summary(
    app: FastAPI,
    live_server: LiveServer,
    live: httpx.AsyncClient,
    riders: Riders,
    credentials: Credentials,
) -> None:
    command = [
        sys.executable, "-c", WITH_CTRL_C, "simulate", "--rate", "10",
        "--minutes", "5", "--url", live_server.url, "--credentials", str(credentials.path),
        "--every", "0.5",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("TR_")}
    remote = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    try:
        assert remote.stdout is not None
        first = await asyncio.wait_for(remote.stdout.readline(), timeout=30)
        assert b"started at" in first, first
        progress = await asyncio.wait_for(remote.stdout.readline(), timeout=10)
        assert b"] running: taps " in progress, progress
        remote.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(remote.communicate(), timeout=30)
    finally:
        if remote.returncode is None:
            remote.kill()
    assert remote.returncode == 130, err
    assert b"stopping the run..." in out
    status = (await live.get(STATUS)).json()
    assert status["state"] == "stopped"
    assert status["end_reason"] == "stopped"
    assert f"run {status['run_id']} ended (stopped): stopped: taps ".encode() in out
    assert status["counters"]["taps_charged"] == await _trips(app)


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("0.0.0.0", "http://127.0.0.1:8000"),
        ("127.0.0.1", "http://127.0.0.1:8000"),
        ("localhost", "http://127.0.0.1:8000"),
        ("::", "http://127.0.0.1:8000"),
        ("10.0.0.7", "http://10.0.0.7:8000"),
        ("api.internal", "http://api.internal:8000"),
        ("fd00::7", "http://[fd00::7]:8000"),
    ],
)
def test_serve_tells_its_workers_the_url_they_serve_on(host: str, url: str) -> None:
    assert serving_url(host, 8000) == url
