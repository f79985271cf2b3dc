"""`travel-recharge simulate`: a remote control of a server's simulator.

It signs in as an operator (password grant), asks the server to start a run, prints its
progress every few seconds until the run ends, and asks the server to stop it on Ctrl-C.
The simulated traffic comes from the server itself; this command only watches.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx

from travel_recharge.security.access import TOKEN_PATH
from travel_recharge.simulator.schemas import SimulatorStatus

STATUS_PATH = "/api/v1/simulator"
START_PATH = "/api/v1/simulator/start"
STOP_PATH = "/api/v1/simulator/stop"
TIMEOUT_S = 15.0
# A first start makes the simulator's riders (about 13 ms each) before it answers.
START_TIMEOUT_S = 120.0
# Sign in again this long before the operator's token expires (a run lasts up to 4 hours).
RENEW_BEFORE_S = 60.0
# After Ctrl-C, how long to wait for the server to report the run stopped.
STOP_WAIT_S = 20.0

EXIT_FINISHED = 0
EXIT_ENDED_EARLY = 1  # stopped by someone else, lost its lease, or failed on the server
EXIT_REFUSED = 2  # bad credentials, already running, bad input, server unreachable
EXIT_INTERRUPTED = 130  # Ctrl-C: the run was asked to stop


class Refused(Exception):
    """The server cannot be reached or said no: the message says what to do."""


@dataclass(frozen=True)
class RemoteOptions:
    url: str
    rate: float
    minutes: float
    login: str | None
    secret: str | None
    credentials: Path
    every_s: float = 3.0


def operator_credentials(options: RemoteOptions) -> tuple[str, str]:
    """--login/--secret, else the operator entry of the demo credentials file."""
    if options.login or options.secret:
        if not (options.login and options.secret):
            raise Refused("give both --login and --secret")
        return options.login, options.secret
    path = options.credentials
    try:
        accounts = json.loads(path.read_text())["accounts"]
        entry = next(a for a in accounts if a.get("role") == "operator")
        return str(entry["username"]), str(entry["password"])
    except (OSError, ValueError, KeyError, TypeError, StopIteration) as exc:
        raise Refused(
            f"no operator credentials in {path} (the demo mode writes it): give --login and "
            "--secret of an operator or admin, or --credentials FILE"
        ) from exc


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
        return str(body.get("detail") or body.get("error_description") or body)
    except ValueError:
        return response.text[:200] or response.reason_phrase


class Remote:
    def __init__(self, client: httpx.Client, login: str, secret: str) -> None:
        self._client = client
        self._login, self._secret = login, secret
        self._headers: dict[str, str] = {}
        self._renew_at = 0.0

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise Refused(f"cannot reach {self._client.base_url}: {exc}") from exc

    def _auth(self) -> dict[str, str]:
        if time.monotonic() < self._renew_at:
            return self._headers
        form = {"grant_type": "password", "username": self._login, "password": self._secret}
        response = self._request("POST", TOKEN_PATH, data=form)
        if response.status_code != 200:
            raise Refused(
                f"sign-in as {self._login!r} refused ({response.status_code}): {_problem(response)}"
            )
        answer = response.json()
        self._headers = {"Authorization": f"Bearer {answer['access_token']}"}
        expires_in = float(answer["expires_in"])
        self._renew_at = time.monotonic() + max(expires_in - RENEW_BEFORE_S, expires_in / 2)
        return self._headers

    def call(self, method: str, path: str, ok: int, **kwargs: Any) -> SimulatorStatus:
        response = self._request(method, path, headers=self._auth(), **kwargs)
        if response.status_code != ok:
            raise Refused(f"{method} {path} refused ({response.status_code}): {_problem(response)}")
        return SimulatorStatus.model_validate(response.json())


def progress_line(status: SimulatorStatus) -> str:
    c = status.counters
    latency = (
        f", p50 {status.latency_p50_ms:.0f} ms, p95 {status.latency_p95_ms:.0f} ms"
        if status.latency_p50_ms is not None and status.latency_p95_ms is not None
        else ""
    )
    return (
        f"{status.state}: taps {c.taps_sent} (charged {c.taps_charged}, transfers "
        f"{c.transfers}, credit {c.credit_trips}, no balance {c.taps_refused_no_balance}), "
        f"recharges {c.recharges} ({c.recharged_amount:,} pesos), errors {c.errors}, "
        f"skipped {c.skipped}, {status.achieved_rate:.1f} events/s{latency}"
    )


def summary(status: SimulatorStatus) -> str:
    return f"run {status.run_id} ended ({status.end_reason}): {progress_line(status)}"


def _watch(remote: Remote, run_id: str, every_s: float, out: TextIO) -> SimulatorStatus:
    started = time.monotonic()
    while True:
        time.sleep(every_s)
        status = remote.call("GET", STATUS_PATH, 200)
        if status.run_id != run_id or status.state == "stopped":
            return status
        print(f"[{time.monotonic() - started:6.0f}s] {progress_line(status)}", file=out, flush=True)


def _stop(remote: Remote, run_id: str, out: TextIO) -> SimulatorStatus:
    print("stopping the run...", file=out, flush=True)
    status = remote.call("POST", STOP_PATH, 200)
    deadline = time.monotonic() + STOP_WAIT_S
    while status.run_id == run_id and status.state != "stopped" and time.monotonic() < deadline:
        time.sleep(0.5)
        status = remote.call("GET", STATUS_PATH, 200)
    return status


def run_remote(options: RemoteOptions, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Start a run on the server, watch it to its end (Ctrl-C stops it); the exit code."""
    # Looked up now, not at import: tests and tools may have replaced them since.
    out, err = out or sys.stdout, err or sys.stderr
    # httpx logs every request at INFO; the progress lines say what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        login, secret = operator_credentials(options)
        with httpx.Client(base_url=options.url, timeout=TIMEOUT_S) as client:
            remote = Remote(client, login, secret)
            body = {"rate": options.rate, "minutes": options.minutes}
            started = remote.call("POST", START_PATH, 202, json=body, timeout=START_TIMEOUT_S)
            run_id = started.run_id or ""
            print(
                f"run {run_id} started at {options.url}: {options.rate:g} events/s for "
                f"{options.minutes:g} min with {started.validators} validators and "
                f"{started.recharge_points} recharge points, riding its {started.riders} own "
                f"cards ({started.new_riders} new) (Ctrl-C stops it)",
                file=out,
                flush=True,
            )
            try:
                status = _watch(remote, run_id, options.every_s, out)
            except KeyboardInterrupt:
                print(summary(_stop(remote, run_id, out)), file=out, flush=True)
                return EXIT_INTERRUPTED
    except Refused as exc:
        print(f"travel-recharge simulate: {exc}", file=err, flush=True)
        return EXIT_REFUSED
    if status.run_id != run_id:
        print(
            f"travel-recharge simulate: run {run_id} was replaced by run {status.run_id}", file=err
        )
        return EXIT_ENDED_EARLY
    print(summary(status), file=out, flush=True)
    if status.end_reason != "finished":
        print(f"travel-recharge simulate: the run ended early ({status.end_reason})", file=err)
        return EXIT_ENDED_EARLY
    return EXIT_FINISHED
