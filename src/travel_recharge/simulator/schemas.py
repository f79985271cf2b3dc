"""Simulator requests and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# The bounds of a run. 500 events/s is about what this service sustains on a 2-core machine
# (the tap benchmark); 4 hours covers a morning peak.
MIN_RATE = 0.1
MAX_RATE = 500.0
MAX_MINUTES = 240.0

SimulatorState = Literal["running", "stopping", "stopped"]


class SimulationStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate: float = Field(
        ge=MIN_RATE,
        le=MAX_RATE,
        allow_inf_nan=False,
        description="events (taps and recharges) per second",
    )
    minutes: float = Field(
        gt=0,
        le=MAX_MINUTES,
        allow_inf_nan=False,
        description="how long the run lasts unless stopped",
    )


class SimulatorCounters(BaseModel):
    """What the current (or last) run did, counted by the worker running it."""

    taps_sent: int = Field(default=0, description="tap requests sent")
    taps_charged: int = Field(default=0, description="taps that created a trip (201)")
    taps_duplicate: int = Field(default=0, description="taps answered as a double tap (200)")
    transfers: int = Field(default=0, description="charged taps priced as a transfer")
    credit_trips: int = Field(default=0, description="charged taps that used a credit trip")
    taps_refused_no_balance: int = Field(default=0, description="taps refused with 402")
    recharges_sent: int = Field(default=0, description="recharge requests sent")
    recharges: int = Field(default=0, description="recharges credited (201)")
    recharged_amount: int = Field(default=0, description="pesos credited by those recharges")
    errors: int = Field(default=0, description="any other status, or no answer at all")
    skipped: int = Field(
        default=0, description="events not sent because the bound of requests in flight was reached"
    )


class SimulatorStatus(BaseModel):
    state: SimulatorState
    run_id: str | None = Field(default=None, description="the current or last run")
    rate: float | None = Field(default=None, description="events per second asked for")
    minutes: float | None = None
    started_at: datetime | None = None
    ends_at: datetime | None = Field(default=None, description="when the run stops by itself")
    ended_at: datetime | None = None
    end_reason: str | None = Field(
        default=None,
        description="finished, stopped, lease_lost, shutdown, operator_deactivated, "
        "operator_unverified or error: ...",
    )
    started_by: str | None = Field(default=None, description="login of who started it")
    validators: int = Field(default=0, description="validator accounts the run taps with")
    recharge_points: int = Field(default=0, description="recharge point accounts it uses")
    riders: int = Field(default=0, description="the simulator's own cards the run rides")
    new_riders: int = Field(
        default=0, description="of them, made and funded (one recharge each) by this start"
    )
    counters: SimulatorCounters = Field(default_factory=SimulatorCounters)
    achieved_rate: float = Field(default=0.0, description="events sent per second so far")
    latency_p50_ms: float | None = Field(
        default=None, description="median latency of the run's recent requests"
    )
    latency_p95_ms: float | None = None
    detail: str | None = Field(default=None, description="what a stop request did")


class SimulatedDataRemoved(BaseModel):
    """What a clean-up deleted: the simulator's own rows and everything their cards caused."""

    users: int
    cards: int
    trips: int
    recharges: int
    ledger_entries: int
    recharge_points: int
    accounts: int = Field(description="the simulator's device accounts (and its riders')")
    idempotency_records: int = Field(description="stored answers of simulated recharges")
    rollup_rows: int = Field(description="rows of simulated taps in the analytics rollups")
