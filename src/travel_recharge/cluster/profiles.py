"""The two sets of timings and rules a cluster is rendered with: the lab's and production's.

The lab fails over in seconds on one machine and trusts loopback connections; production
keeps Patroni's and Sentinel's usual timings and asks for passwords. Everything else about a
server's configuration is the same for both (render.py, haproxy.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    # Patroni: the leader key lives `ttl` s; each node loops every `loop_wait` s; a DCS or
    # PostgreSQL call is retried for `retry_timeout` s. Patroni's rule: loop_wait +
    # 2 * retry_timeout <= ttl, or a healthy leader may lose its key between two loops.
    ttl: int
    loop_wait: int
    retry_timeout: int
    # pg_hba's method for every client, replication included.
    auth_method: str
    # HAProxy's health checks: every `check_inter_ms`; down after `check_fall` failures,
    # up after `check_rise` successes.
    check_inter_ms: int
    check_fall: int
    check_rise: int
    # Sentinel: a master silent this long is subjectively down.
    sentinel_down_after_ms: int
    sentinel_failover_timeout_ms: int
    # Patroni's watchdog: a lab has no /dev/watchdog; real hosts use it when present.
    watchdog: str

    def __post_init__(self) -> None:
        if self.loop_wait + 2 * self.retry_timeout > self.ttl:
            raise ValueError(f"{self.name}: loop_wait + 2 * retry_timeout must be <= ttl")


# Failover in seconds on one machine. The loopback network is trusted because every "host"
# of the lab is this machine: anyone who can reach 127.0.0.0/8 already runs here.
LAB = Profile(
    name="lab",
    ttl=10,
    loop_wait=1,
    retry_timeout=4,
    auth_method="trust",
    check_inter_ms=1000,
    check_fall=2,
    check_rise=1,
    sentinel_down_after_ms=2000,
    sentinel_failover_timeout_ms=10_000,
    watchdog="off",
)
# Patroni's defaults (ttl 30, loop_wait 10, retry_timeout 10): a real network has pauses a
# loopback does not, and a needless failover costs more than a few seconds of waiting.
PRODUCTION = Profile(
    name="production",
    ttl=30,
    loop_wait=10,
    retry_timeout=10,
    auth_method="scram-sha-256",
    check_inter_ms=2000,
    check_fall=3,
    check_rise=2,
    sentinel_down_after_ms=5000,
    sentinel_failover_timeout_ms=60_000,
    watchdog="automatic",
)


def generated_header(profile: Profile, what: str) -> str:
    return (
        f"# {what} configuration written by `travel-recharge cluster` ({profile.name} profile).\n"
        "# Generated: edit the renderer (travel_recharge/cluster/), not this file.\n"
    )
